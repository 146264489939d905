//! Whether an object holds what its SOP class cannot do without
//! (`data/required-attributes.csv`). A file cut at an element boundary parses cleanly,
//! one element short: without this check it would be de-identified and written as if whole.

use crate::error::{Error, Missing};
use crate::profile::tag::parse_tag;
use crate::value::text;
use dicom_core::dictionary::UidDictionary;
use dicom_core::value::{PrimitiveValue, Value};
use dicom_core::Tag;
use dicom_dictionary_std::{tags, StandardSopClassDictionary};
use dicom_object::InMemDicomObject;
use serde::Deserialize;
use std::sync::OnceLock;

const TABLE_CSV: &str = include_str!("../../data/required-attributes.csv");

#[derive(Deserialize)]
struct Row {
    scope: String,
    attribute: String,
    name: String,
    #[allow(dead_code)] // for people reading the table
    reason: String,
}

/// A required attribute: any one of its tags (Pixel Data, or Float or Double Float Pixel
/// Data) will do.
struct Required {
    scope: Scope,
    tags: Vec<Tag>,
    name: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    Every,
    Storage,
    ImageStorage,
}

struct Table {
    required: Vec<Required>,
    /// Storage classes whose IODs hold no patient, study or series.
    not_patient: Vec<String>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = Table {
            required: Vec::new(),
            not_patient: Vec::new(),
        };
        for row in csv::Reader::from_reader(TABLE_CSV.as_bytes()).deserialize::<Row>() {
            let row = row.expect("data/required-attributes.csv is valid");
            let scope = match row.scope.as_str() {
                "every object" => Scope::Every,
                "storage" => Scope::Storage,
                "image storage" => Scope::ImageStorage,
                "not patient data" => {
                    t.not_patient.push(row.attribute);
                    continue;
                }
                other => panic!("data/required-attributes.csv: unknown scope {other}"),
            };
            let tags = row
                .attribute
                .split('|')
                .map(|a| parse_tag(a).expect("data/required-attributes.csv has valid tags"))
                .collect();
            t.required.push(Required {
                scope,
                tags,
                name: row.name,
            });
        }
        t
    })
}

/// What an object lacks of what its SOP class requires ([`Error::Incomplete`], naming
/// the SOP class and the attributes); `None` when nothing is missing. The SOP class
/// comes from the data set, else from the file meta group (`meta_class`).
pub fn missing(ds: &InMemDicomObject, meta_class: &str) -> Option<Error> {
    let class = text(ds, tags::SOP_CLASS_UID)
        .unwrap_or_else(|| meta_class.trim_end_matches(['\0', ' ']).to_string());
    let t = table();
    let name = StandardSopClassDictionary
        .by_uid(&class)
        .map(|e| e.name)
        .unwrap_or("");
    let storage = name.ends_with("Storage") && !t.not_patient.contains(&class);
    let image = storage && name.contains("Image Storage");
    let present = |tag: &Tag| {
        ds.get(*tag).is_some_and(|e| match e.value() {
            Value::Primitive(PrimitiveValue::Str(s)) => !s.trim_matches(['\0', ' ']).is_empty(),
            Value::Primitive(PrimitiveValue::Strs(v)) => {
                v.iter().any(|s| !s.trim_matches(['\0', ' ']).is_empty())
            }
            Value::Primitive(p) => p.multiplicity() > 0,
            Value::PixelSequence(s) => !s.fragments().is_empty(),
            Value::Sequence(_) => true,
        })
    };
    let lacking: Vec<Missing> = t
        .required
        .iter()
        .filter(|r| match r.scope {
            Scope::Every => true,
            Scope::Storage => storage,
            Scope::ImageStorage => image,
        })
        .filter(|r| !r.tags.iter().any(present))
        .map(|r| Missing {
            name: r.name.clone(),
            tag: r.tags[0],
        })
        .collect();
    (!lacking.is_empty()).then_some(Error::Incomplete {
        sop_class: class,
        missing: lacking,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::{DataElement, VR};

    const CT: &str = "1.2.840.10008.5.1.4.1.1.2";

    fn object(with: &[Tag]) -> InMemDicomObject {
        let mut ds = InMemDicomObject::new_empty();
        for &t in with {
            if t == tags::PIXEL_DATA {
                ds.put(DataElement::new(
                    t,
                    VR::OW,
                    PrimitiveValue::U16([0u16; 4][..].into()),
                ));
            } else {
                ds.put(DataElement::new(
                    t,
                    VR::UI,
                    if t == tags::SOP_CLASS_UID {
                        CT
                    } else {
                        "1.2.3"
                    },
                ));
            }
        }
        ds
    }

    #[test]
    fn a_ct_needs_its_uids_and_pixels() {
        let all = [
            tags::SOP_CLASS_UID,
            tags::SOP_INSTANCE_UID,
            tags::STUDY_INSTANCE_UID,
            tags::SERIES_INSTANCE_UID,
            tags::PIXEL_DATA,
        ];
        assert!(missing(&object(&all), "").is_none());
        assert_eq!(
            missing(&object(&all[..2]), "")
                .and_then(|e| e.missing_names())
                .as_deref(),
            Some(
                "Study Instance UID (0020,000D), Series Instance UID (0020,000E), \
                 Pixel Data (7FE0,0010)"
            )
        );
    }

    #[test]
    fn the_table_names_real_classes() {
        for uid in &table().not_patient {
            let e = StandardSopClassDictionary.by_uid(uid);
            assert!(e.is_some_and(|e| e.name.ends_with("Storage")), "{uid}");
        }
        // A hanging protocol has no study: only its SOP UIDs are required.
        let hanging = "1.2.840.10008.5.1.4.38.1";
        let mut ds = InMemDicomObject::new_empty();
        ds.put(DataElement::new(tags::SOP_INSTANCE_UID, VR::UI, "1.2.3"));
        assert_eq!(
            missing(&ds, hanging)
                .and_then(|e| e.missing_names())
                .as_deref(),
            Some("SOP Class UID (0008,0016)")
        );
        ds.put(DataElement::new(tags::SOP_CLASS_UID, VR::UI, hanging));
        assert!(missing(&ds, "").is_none());
    }
}
