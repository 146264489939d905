//! Action codes exactly as Table E.1-1 writes them (Table E.1-1a).

use serde::Serialize;

/// A cell of Table E.1-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Code {
    D,
    Z,
    X,
    K,
    C,
    U,
    #[serde(rename = "Z/D")]
    ZD,
    #[serde(rename = "X/Z")]
    XZ,
    #[serde(rename = "X/D")]
    XD,
    #[serde(rename = "X/Z/D")]
    XZD,
    #[serde(rename = "X/Z/U*")]
    XZU,
}

impl Code {
    pub fn parse(s: &str) -> Option<Code> {
        Some(match s {
            "D" => Code::D,
            "Z" => Code::Z,
            "X" => Code::X,
            "K" => Code::K,
            "C" => Code::C,
            "U" => Code::U,
            "Z/D" => Code::ZD,
            "X/Z" => Code::XZ,
            "X/D" => Code::XD,
            "X/Z/D" => Code::XZD,
            "X/Z/U*" => Code::XZU,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Code::D => "D",
            Code::Z => "Z",
            Code::X => "X",
            Code::K => "K",
            Code::C => "C",
            Code::U => "U",
            Code::ZD => "Z/D",
            Code::XZ => "X/Z",
            Code::XD => "X/D",
            Code::XZD => "X/Z/D",
            Code::XZU => "X/Z/U*",
        }
    }
}
