//! Safe private attributes (PS3.15 Table E.3.10-1), matched by creator, group and element byte.

use dicom_core::Tag;
use std::collections::HashSet;
use std::sync::OnceLock;

const CSV: &str = include_str!("../../data/ps3.15-table-e3.10-1.csv");

/// The safe private elements, keyed by (group, creator, low element byte).
pub struct SafePrivate(HashSet<(u16, String, u8)>);

impl SafePrivate {
    fn load() -> SafePrivate {
        let mut set = HashSet::new();
        let mut reader = csv::Reader::from_reader(CSV.as_bytes());
        for rec in reader.records() {
            let rec = rec.expect("embedded Table E.3.10-1 is valid CSV");
            let (g, e) = rec[0].split_once(',').expect("tag gggg,xxee");
            let group = u16::from_str_radix(g, 16).expect("hex group");
            let low = u8::from_str_radix(&e[2..], 16).expect("hex element");
            set.insert((group, normalise_creator(&rec[1]), low));
        }
        SafePrivate(set)
    }

    /// Whether a private data element is safe, given its block's creator.
    pub fn is_safe(&self, tag: Tag, creator: &str) -> bool {
        self.0
            .contains(&(tag.0, normalise_creator(creator), (tag.1 & 0xFF) as u8))
    }

    /// Number of safe private attributes (for the tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// Creators are compared trimmed and case-insensitively (writers pad and vary case).
pub fn normalise_creator(s: &str) -> String {
    s.trim_matches(|c: char| c == ' ' || c == '\0')
        .to_uppercase()
}

/// The block (xx of gggg,xxee) a private data element belongs to, if it is one.
pub fn block_of(tag: Tag) -> Option<u16> {
    (tag.0 % 2 == 1 && tag.1 >= 0x1000).then_some(tag.1 >> 8)
}

/// Whether the tag is a private creator element (gggg,0010-00FF).
pub fn is_creator(tag: Tag) -> bool {
    tag.0 % 2 == 1 && (0x0010..=0x00FF).contains(&tag.1)
}

pub fn safe_private() -> &'static SafePrivate {
    static S: OnceLock<SafePrivate> = OnceLock::new();
    S.get_or_init(SafePrivate::load)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creator_aware_matching() {
        let s = safe_private();
        assert!(s.len() > 400);
        assert!(s.is_safe(Tag(0x0019, 0x100C), "SIEMENS MR HEADER "));
        assert!(s.is_safe(Tag(0x0019, 0x110C), "siemens mr header"));
        assert!(!s.is_safe(Tag(0x0019, 0x100C), "GEMS_ACQU_01"));
        assert_eq!(block_of(Tag(0x0019, 0x1023)), Some(0x10));
        assert!(is_creator(Tag(0x0029, 0x0011)));
    }
}
