//! The HIPAA Safe Harbor layer: which identifier type each attribute carries,
//! from the embedded mapping of 45 CFR 164.514(b)(2)(i) to DICOM attributes.

use dicom_core::Tag;
use std::sync::OnceLock;

const CSV: &str = include_str!("../data/hipaa-safe-harbor.csv");

/// The Safe Harbor identifier types (A to R) of each mapped attribute.
pub struct SafeHarbor {
    by_tag: crate::tag::TagMap<Vec<char>>,
}

impl SafeHarbor {
    fn load() -> SafeHarbor {
        let mut by_tag: crate::tag::TagMap<Vec<char>> = Default::default();
        let mut reader = csv::Reader::from_reader(CSV.as_bytes());
        for rec in reader.records() {
            let rec = rec.expect("embedded Safe Harbor mapping is valid CSV");
            let Some(tag) = parse(&rec[2]) else { continue };
            let id = rec[0].chars().next().expect("identifier letter");
            let ids = by_tag.entry(tag).or_default();
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        SafeHarbor { by_tag }
    }

    /// Identifier types of a tag (`C` = dates, `B` = geography, ...).
    pub fn types(&self, tag: Tag) -> &[char] {
        self.by_tag.get(&tag).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Number of attributes the mapping covers.
    pub fn len(&self) -> usize {
        self.by_tag.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_tag.is_empty()
    }

    /// Attributes the HIPAA layer handles differently from the Basic Profile.
    pub fn overridden(&self) -> impl Iterator<Item = (Tag, char)> + '_ {
        let mut tags: Vec<_> = self
            .by_tag
            .iter()
            .filter_map(|(t, ids)| {
                let id = if ids.contains(&'C') {
                    'C'
                } else if ids.contains(&'B') || *t == DEVICE_SERIAL_NUMBER {
                    'B'
                } else {
                    return None;
                };
                Some((*t, id))
            })
            .collect();
        tags.sort();
        tags.into_iter()
    }
}

pub const DEVICE_SERIAL_NUMBER: Tag = Tag(0x0018, 0x1000);
pub const PATIENT_AGE: Tag = Tag(0x0010, 0x1010);
pub const PATIENT_BIRTH_DATE: Tag = Tag(0x0010, 0x0030);

fn parse(s: &str) -> Option<Tag> {
    let (g, e) = s.split_once(',')?;
    Some(Tag(
        u16::from_str_radix(g, 16).ok()?,
        u16::from_str_radix(e, 16).ok()?,
    ))
}

pub fn safe_harbor() -> &'static SafeHarbor {
    static S: OnceLock<SafeHarbor> = OnceLock::new();
    S.get_or_init(SafeHarbor::load)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_loads() {
        let s = safe_harbor();
        assert!(s.len() > 300);
        assert!(s.types(Tag(0x0008, 0x0081)).contains(&'B'));
        assert!(s.types(Tag(0x0008, 0x0020)).contains(&'C'));
        assert!(s.types(PATIENT_AGE).contains(&'C'));
    }
}
