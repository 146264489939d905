//! The HIPAA Safe Harbor matrix of a report: for each of the 18 identifier types of
//! 45 CFR 164.514(b)(2)(i), the attributes that carry it (`data/hipaa-safe-harbor.csv`),
//! what was done to them (elements per action, from the decisions), and how many of
//! their values the outputs still hold (read from the outputs, at every depth). Counts
//! and attribute names only.

use crate::profile::hipaa::safe_harbor;
use crate::profile::tag::{keyword, tag_id};
use dicom_core::header::Header;
use dicom_core::value::Value;
use dicom_core::Tag;
use dicom_object::InMemDicomObject;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// One identifier type.
#[derive(Debug, Clone, Serialize)]
pub struct HarborRow {
    /// `A` to `R`.
    pub id: String,
    /// The identifier type's name, from the mapping.
    pub name: String,
    /// Attributes of the mapping that carry it.
    pub attributes: usize,
    /// Whether private attributes carry it too.
    pub private: bool,
    /// Where else it may sit (free text, pixels), from the mapping.
    pub notes: Vec<String>,
    /// Elements of these attributes decided, per action (`remove`, `dummy`, `keep`, ...).
    pub done: BTreeMap<String, u64>,
    /// Of those, the ones kept as they were: a Safe Harbor release would have to justify each.
    pub kept: u64,
    /// Values of these attributes present in the outputs (not empty), at any depth:
    /// replacements (pseudonyms, dummies, shifted dates) and kept values alike.
    pub values_present: u64,
    /// Which attributes hold them.
    pub present: Vec<AttributeCount>,
}

/// How many values of one attribute are present in the outputs.
#[derive(Debug, Clone, Serialize)]
pub struct AttributeCount {
    /// `(GGGG,EEEE)`.
    pub tag: String,
    /// The attribute's keyword.
    pub keyword: &'static str,
    /// Values present (not empty), at any depth.
    pub values: u64,
}

/// Feeds decisions and outputs; [`HarborBuilder::finish`] makes the 18 rows.
#[derive(Default)]
pub struct HarborBuilder {
    done: HashMap<char, BTreeMap<String, u64>>,
    present: HashMap<char, BTreeMap<Tag, u64>>,
}

/// The categories an attribute carries: the mapping's, and `R` for private attributes.
fn categories_of(tag: Tag) -> Vec<char> {
    let mut c = safe_harbor().types(tag).to_vec();
    if tag.0 % 2 == 1 && tag.1 >= 0x0100 {
        for cat in safe_harbor().categories().iter().filter(|c| c.private) {
            if !c.contains(&cat.id) {
                c.push(cat.id);
            }
        }
    }
    c
}

impl HarborBuilder {
    /// `n` elements of `tag` got `action` (an action label).
    pub fn add_decision(&mut self, tag: Tag, action: &str, n: u64) {
        for c in categories_of(tag) {
            self.add_category_decision(c, action, n);
        }
    }

    /// `n` elements of attributes of category `id` got `action` (decisions counted by
    /// rule, e.g. the HIPAA layer's rules, which are named by category).
    pub fn add_category_decision(&mut self, id: char, action: &str, n: u64) {
        *self
            .done
            .entry(id)
            .or_default()
            .entry(action.to_string())
            .or_default() += n;
    }

    /// Counts the values an output holds, at every depth.
    pub fn add_output(&mut self, obj: &InMemDicomObject) {
        for e in obj.iter() {
            let tag = e.tag();
            let present = match e.value() {
                Value::Primitive(p) => !p.to_str().trim_matches([' ', '\0']).is_empty(),
                Value::Sequence(s) => {
                    for item in s.items() {
                        self.add_output(item);
                    }
                    !s.items().is_empty()
                }
                Value::PixelSequence(_) => true,
            };
            if !present {
                continue;
            }
            for c in categories_of(tag) {
                *self.present.entry(c).or_default().entry(tag).or_default() += 1;
            }
        }
    }

    /// The 18 rows, `A` to `R`, from what was fed.
    pub fn finish(self) -> Vec<HarborRow> {
        safe_harbor()
            .categories()
            .iter()
            .map(|c| {
                let done = self.done.get(&c.id).cloned().unwrap_or_default();
                let present: Vec<AttributeCount> = self
                    .present
                    .get(&c.id)
                    .map(|m| {
                        m.iter()
                            .map(|(t, n)| AttributeCount {
                                tag: tag_id(*t),
                                keyword: keyword(*t),
                                values: *n,
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                HarborRow {
                    id: c.id.to_string(),
                    name: c.name.clone(),
                    attributes: c.tags.len(),
                    private: c.private,
                    notes: c.notes.clone(),
                    kept: done.get("keep").copied().unwrap_or(0),
                    done,
                    values_present: present.iter().map(|a| a.values).sum(),
                    present,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::value::DataSetSequence;
    use dicom_core::{DataElement, VR};
    use dicom_dictionary_std::tags;

    #[test]
    fn decisions_and_values_fall_in_their_categories() {
        let mut b = HarborBuilder::default();
        b.add_decision(tags::PATIENT_NAME, "empty", 2);
        b.add_decision(tags::STUDY_DATE, "shift date", 2);
        b.add_decision(tags::PATIENT_AGE, "keep", 1);
        b.add_decision(Tag(0x0019, 0x100C), "remove", 3);
        b.add_category_decision('M', "remove", 1);
        let mut item = InMemDicomObject::new_empty();
        item.put(DataElement::new(tags::PERSON_NAME, VR::PN, "X^Y"));
        let mut o = InMemDicomObject::new_empty();
        o.put(DataElement::new(tags::PATIENT_NAME, VR::PN, ""));
        o.put(DataElement::new(tags::STUDY_DATE, VR::DA, "20200101"));
        o.put(DataElement::new(tags::PATIENT_AGE, VR::AS, "045Y"));
        o.put(DataElement::new(
            tags::CONTENT_SEQUENCE,
            VR::SQ,
            DataSetSequence::from(vec![item]),
        ));
        b.add_output(&o);
        let rows = b.finish();
        assert_eq!(rows.len(), 18);
        let row = |id: &str| rows.iter().find(|r| r.id == id).unwrap();
        let a = row("A");
        assert_eq!(a.done["empty"], 2);
        assert_eq!(
            a.values_present, 1,
            "the empty name is not a value; the nested one is"
        );
        assert_eq!(a.present[0].keyword, "PersonName");
        let c = row("C");
        assert_eq!((c.done["shift date"], c.kept), (2, 1));
        assert_eq!(c.values_present, 2);
        assert_eq!(row("R").done["remove"], 3, "private attributes are R");
        assert_eq!(row("M").done["remove"], 1);
        assert!(row("E").done.is_empty() && !row("E").notes.is_empty());
    }
}
