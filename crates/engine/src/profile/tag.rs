//! Tag notation: parsing every spelling users type, and one canonical way to print a tag.

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;

/// Why a tag id could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagParseError {
    /// Nothing was given.
    #[error("empty tag id")]
    Empty,
    /// Neither a tag notation nor a dictionary keyword (what was given).
    #[error("`{0}` is not a tag: expected (GGGG,EEEE), GGGG,EEEE, GGGGEEEE or a keyword such as SeriesDescription")]
    Unrecognised(String),
}

/// Parses `(0008,103e)`, `(0008,103E)`, `0008,103E`, `0008103E` or a dictionary keyword.
pub fn parse_tag(text: &str) -> Result<Tag, TagParseError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(TagParseError::Empty);
    }
    let inner = t
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or(t);
    let hex: String = match inner.split_once(',') {
        Some((g, e)) if g.trim().len() == 4 && e.trim().len() == 4 => {
            format!("{}{}", g.trim(), e.trim())
        }
        Some(_) => return Err(TagParseError::Unrecognised(short(t))),
        None => inner.to_string(),
    };
    if hex.len() == 8 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        let v = u32::from_str_radix(&hex, 16).expect("checked hex");
        return Ok(Tag((v >> 16) as u16, (v & 0xFFFF) as u16));
    }
    if inner.bytes().all(|b| b.is_ascii_alphanumeric()) {
        if let Some(entry) = StandardDataDictionary.by_name(inner) {
            if let dicom_core::dictionary::TagRange::Single(tag) = entry.tag_range() {
                return Ok(tag);
            }
        }
    }
    Err(TagParseError::Unrecognised(short(t)))
}

/// Keeps user input out of long error messages.
fn short(s: &str) -> String {
    s.chars().take(40).collect()
}

/// The canonical spelling: `(GGGG,EEEE)` in upper case.
pub fn tag_id(tag: Tag) -> String {
    let mut s = String::with_capacity(11);
    s.push('(');
    push_tag_digits(&mut s, tag);
    s.push(')');
    s
}

/// Appends `GGGG,EEEE` (upper-case hex) without going through `format!`: records build
/// one per recorded element, on the batch hot path.
pub fn push_tag_digits(s: &mut String, tag: Tag) {
    fn push_hex(s: &mut String, v: u16) {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        for shift in [12, 8, 4, 0] {
            s.push(char::from(HEX[usize::from((v >> shift) & 0xF)]));
        }
    }
    push_hex(s, tag.0);
    s.push(',');
    push_hex(s, tag.1);
}

/// The dictionary keyword of a standard tag, `""` when unknown.
pub fn keyword(tag: Tag) -> &'static str {
    if tag.0 % 2 == 1 {
        return "";
    }
    StandardDataDictionary
        .by_tag(tag)
        .map(|e| e.alias())
        .unwrap_or("")
}

/// The dictionary VR of a standard tag.
pub fn dictionary_vr(tag: Tag) -> Option<VR> {
    if tag.0 % 2 == 1 {
        return None;
    }
    StandardDataDictionary.by_tag(tag).map(|e| e.vr().relaxed())
}

/// A readable attribute name: "SeriesDescription" becomes "Series Description".
pub fn display_name(tag: Tag) -> String {
    if tag.0 % 2 == 1 {
        return if tag.1 >= 0x0010 && tag.1 <= 0x00FF {
            "Private Creator".into()
        } else {
            "Private Attribute".into()
        };
    }
    let kw = keyword(tag);
    if kw.is_empty() {
        return "Unknown Attribute".into();
    }
    let mut out = String::with_capacity(kw.len() + 8);
    let chars: Vec<char> = kw.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
        let prev = if i > 0 { Some(chars[i - 1]) } else { None };
        // "IDs" and "UIDs" are plurals, not a word boundary before the s.
        let plural =
            chars.get(i + 1) == Some(&'s') && chars.get(i + 2).is_none_or(|c| c.is_uppercase());
        let boundary = c.is_uppercase()
            && prev
                .is_some_and(|p| p.is_lowercase() || (p.is_uppercase() && next_lower && !plural));
        if boundary {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// A hasher for tags, for the engine's per-element table lookups (Table E.1-1, the
/// Safe Harbor layer, presence rules, custom rules). A tag is four bytes and the tables
/// are built from the engine's own data: SipHash's defence against chosen collisions buys
/// nothing there and costs more than the lookup itself, once per element of every file.
#[derive(Default, Clone, Copy)]
pub struct TagHasher(u64);

impl std::hash::Hasher for TagHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u8(b);
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.write_u64(n as u64);
    }

    fn write_u16(&mut self, n: u16) {
        self.write_u64(n as u64);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map keyed by tag, hashed with [`TagHasher`].
pub type TagMap<V> = std::collections::HashMap<Tag, V, std::hash::BuildHasherDefault<TagHasher>>;

/// Whether values of this VR are numbers or bytes rather than text.
pub fn is_binary(vr: VR) -> bool {
    matches!(
        vr,
        VR::OB
            | VR::OW
            | VR::OF
            | VR::OD
            | VR::OL
            | VR::OV
            | VR::UN
            | VR::US
            | VR::SS
            | VR::UL
            | VR::SL
            | VR::FL
            | VR::FD
            | VR::UV
            | VR::SV
            | VR::AT
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_notation_normalises_to_the_same_id() {
        for s in [
            "(0008,103e)",
            "(0008,103E)",
            "0008,103E",
            "0008103E",
            "0008103e",
            " SeriesDescription ",
        ] {
            assert_eq!(tag_id(parse_tag(s).unwrap()), "(0008,103E)", "{s}");
        }
        assert_eq!(tag_id(parse_tag("00100010").unwrap()), "(0010,0010)");
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_tag("(0008,zzzz)").is_err());
        assert!(parse_tag("").is_err());
        assert!(parse_tag("NotAKeyword").is_err());
        assert!(parse_tag("0008,103").is_err());
    }

    #[test]
    fn names_read_well() {
        assert_eq!(display_name(Tag(0x0008, 0x103E)), "Series Description");
        assert_eq!(display_name(Tag(0x0020, 0x000D)), "Study Instance UID");
        assert_eq!(display_name(Tag(0x0029, 0x0010)), "Private Creator");
        assert_eq!(display_name(Tag(0x0010, 0x1000)), "Other Patient IDs");
    }
}
