//! Action codes exactly as Table E.1-1 writes them (Table E.1-1a).

use serde::Serialize;

/// A cell of Table E.1-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Code {
    /// D: a dummy value of the same VR.
    D,
    /// Z: a zero-length value, or a dummy.
    Z,
    /// X: removed.
    X,
    /// K: kept (unchanged for a non-sequence attribute, cleaned for a sequence).
    K,
    /// C: cleaned: kept in meaning, identifying information replaced.
    C,
    /// U: replaced by a consistent non-identifying UID.
    U,
    /// Z unless D is needed for the IOD (Type 2 or Type 1).
    #[serde(rename = "Z/D")]
    ZD,
    /// X unless Z is needed for the IOD (Type 3 or Type 2).
    #[serde(rename = "X/Z")]
    XZ,
    /// X unless D is needed for the IOD (Type 3 or Type 1).
    #[serde(rename = "X/D")]
    XD,
    /// X unless Z or D is needed for the IOD.
    #[serde(rename = "X/Z/D")]
    XZD,
    /// X unless Z, or U of the UIDs it contains, is needed (sequences).
    #[serde(rename = "X/Z/U*")]
    XZU,
}

impl Code {
    /// The code as the table spells it (`X/Z/U*`), or `None` for anything else.
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

    /// The code as the table spells it.
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
