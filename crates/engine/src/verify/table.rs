//! The check's own tables: which attributes feed which category
//! (`data/verify-identifying.csv`) and which words are never identifying
//! (`data/verify-not-identifying.csv`), each row with its reason.

use super::Category;
use dicom_core::{Tag, VR};
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

const IDENTIFYING_CSV: &str = include_str!("../../data/verify-identifying.csv");
const NOT_IDENTIFYING_CSV: &str = include_str!("../../data/verify-not-identifying.csv");

/// What an attribute's value is to the dictionary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    Identifying(Category),
    /// Names a device maker, model or software: identifying values equal to such a value
    /// are left out.
    Maker,
}

pub(super) struct Tables {
    pub by_tag: HashMap<Tag, Source>,
    pub by_vr: HashMap<VR, Category>,
    /// Folded words that are never entered (placeholders, particles, clinical words).
    pub not_identifying: HashSet<String>,
}

#[derive(serde::Deserialize)]
struct Row {
    tag: String,
    keyword: String,
    category: String,
    #[allow(dead_code)] // read by people: why the attribute identifies
    reason: String,
}

#[derive(serde::Deserialize)]
struct Word {
    word: String,
    #[allow(dead_code)] // read by people: placeholder, stop or clinical
    kind: String,
    #[allow(dead_code)] // read by people
    reason: String,
}

fn load() -> Tables {
    let mut by_tag = HashMap::new();
    let mut by_vr = HashMap::new();
    for row in csv::Reader::from_reader(IDENTIFYING_CSV.as_bytes()).deserialize::<Row>() {
        let row = row.expect("data/verify-identifying.csv is valid");
        let source = match row.category.as_str() {
            "maker" => Source::Maker,
            c => Source::Identifying(
                Category::parse(c).unwrap_or_else(|| panic!("unknown category {c}")),
            ),
        };
        if let Ok(vr) = row.tag.parse::<VR>() {
            let Source::Identifying(c) = source else {
                panic!("a VR row must name a category: {}", row.keyword)
            };
            by_vr.insert(vr, c);
            continue;
        }
        let tag = crate::profile::tag::parse_tag(&row.tag)
            .unwrap_or_else(|_| panic!("bad tag in verify table: {}", row.keyword));
        by_tag.insert(tag, source);
    }
    let not_identifying = csv::Reader::from_reader(NOT_IDENTIFYING_CSV.as_bytes())
        .deserialize::<Word>()
        .map(|w| w.expect("data/verify-not-identifying.csv is valid").word)
        .collect();
    Tables {
        by_tag,
        by_vr,
        not_identifying,
    }
}

pub(super) fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(load)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_names_its_standard_attribute() {
        let mut rows = 0;
        for row in csv::Reader::from_reader(IDENTIFYING_CSV.as_bytes()).deserialize::<Row>() {
            let row = row.unwrap();
            rows += 1;
            if row.tag == "PN" {
                continue;
            }
            let tag = crate::profile::tag::parse_tag(&row.tag).unwrap();
            assert_eq!(
                crate::profile::tag::keyword(tag),
                row.keyword,
                "{}",
                row.tag
            );
        }
        let t = tables();
        assert_eq!(t.by_tag.len() + t.by_vr.len(), rows, "no tag listed twice");
        assert_eq!(t.by_vr.get(&VR::PN), Some(&Category::Name));
        for c in Category::ALL {
            assert!(
                t.by_tag.values().any(|s| *s == Source::Identifying(c))
                    || t.by_vr.values().any(|v| *v == c),
                "{c} has no attribute"
            );
        }
    }

    #[test]
    fn not_identifying_words_are_folded() {
        for w in &tables().not_identifying {
            assert_eq!(&super::super::fold::fold_str(w), w);
        }
    }
}
