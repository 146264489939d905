//! The HIPAA Safe Harbor layer: which identifier type each attribute carries,
//! from the embedded mapping of 45 CFR 164.514(b)(2)(i) to DICOM attributes.

use dicom_core::Tag;
use std::sync::OnceLock;

const CSV: &str = include_str!("../../data/hipaa-safe-harbor.csv");

/// The Safe Harbor identifier types (A to R) of each mapped attribute.
pub struct SafeHarbor {
    by_tag: crate::profile::tag::TagMap<Vec<char>>,
    categories: Vec<Category>,
}

/// One of the 18 identifier types of 45 CFR 164.514(b)(2)(i), as the mapping gives it.
#[derive(Debug, Clone)]
pub struct Category {
    /// `A` to `R`.
    pub id: char,
    pub name: String,
    /// The attributes that carry it, in the mapping's order.
    pub tags: Vec<Tag>,
    /// Whether private attributes carry it (the `gggg,eeee` row).
    pub private: bool,
    /// Where it may sit beyond those attributes (free text, pixels), from the mapping's notes.
    pub notes: Vec<String>,
}

impl SafeHarbor {
    fn load() -> SafeHarbor {
        let mut by_tag: crate::profile::tag::TagMap<Vec<char>> = Default::default();
        let mut categories: Vec<Category> = Vec::new();
        let mut reader = csv::Reader::from_reader(CSV.as_bytes());
        for rec in reader.records() {
            let rec = rec.expect("embedded Safe Harbor mapping is valid CSV");
            let id = rec[0].chars().next().expect("identifier letter");
            if categories.last().is_none_or(|c| c.id != id) {
                categories.push(Category {
                    id,
                    name: rec[1].to_string(),
                    tags: Vec::new(),
                    private: false,
                    notes: Vec::new(),
                });
            }
            let category = categories.last_mut().expect("pushed above");
            if rec[2].is_empty() && !rec[5].is_empty() {
                category.notes.push(rec[5].to_string());
            }
            if &rec[2] == "gggg,eeee" {
                category.private = true;
            }
            let Some(tag) = parse(&rec[2]) else { continue };
            if !category.tags.contains(&tag) {
                category.tags.push(tag);
            }
            let ids = by_tag.entry(tag).or_default();
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        SafeHarbor { by_tag, categories }
    }

    /// The 18 categories, `A` to `R`.
    pub fn categories(&self) -> &[Category] {
        &self.categories
    }

    /// Identifier types of a tag (`C` = dates, `B` = geography, ...).
    pub fn types(&self, tag: Tag) -> &[char] {
        self.by_tag.get(&tag).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Number of attributes the mapping covers (for the tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.by_tag.len()
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
        let c = s.categories();
        assert_eq!(
            c.iter().map(|c| c.id).collect::<String>(),
            "ABCDEFGHIJKLMNOPQR"
        );
        assert!(c[0].tags.contains(&Tag(0x0010, 0x0010)));
        assert!(
            c[4].tags.is_empty() && !c[4].notes.is_empty(),
            "fax: a note only"
        );
        assert!(c[17].private);
    }
}
