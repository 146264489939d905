//! The attributes that say an object was de-identified, and how (PS3.15 E.1.1, CID 7050).

use crate::options::ProfileOption;
use crate::plan::Plan;
use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, Length, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

/// What happened to the object's dates, for Longitudinal Temporal Information Modified.
#[derive(Debug, Clone, Copy, Default)]
pub struct Temporal {
    /// Some date was kept as it was.
    pub kept: bool,
    /// Some date was shifted or reduced.
    pub modified: bool,
}

impl Temporal {
    fn term(self) -> &'static str {
        if self.modified {
            "MODIFIED"
        } else if self.kept {
            "UNMODIFIED"
        } else {
            "REMOVED"
        }
    }
}

fn code_item(value: &str, meaning: &str) -> InMemDicomObject {
    InMemDicomObject::from_element_iter([
        DataElement::new(tags::CODE_VALUE, VR::SH, value),
        DataElement::new(tags::CODING_SCHEME_DESIGNATOR, VR::SH, "DCM"),
        DataElement::new(tags::CODE_MEANING, VR::LO, meaning),
    ])
}

/// Writes Patient Identity Removed, De-identification Method and its Code Sequence, and
/// Longitudinal Temporal Information Modified, each saying only what was actually done.
pub fn add_markers(
    out: &mut InMemDicomObject,
    plan: &Plan,
    temporal: Temporal,
    identity_kept: bool,
    pixels_cleaned: bool,
) {
    let removed = if identity_kept { "NO" } else { "YES" };
    out.put(DataElement::new(
        tags::PATIENT_IDENTITY_REMOVED,
        VR::CS,
        removed,
    ));
    let mut method = vec![
        format!("dcmask {}", env!("CARGO_PKG_VERSION")),
        plan.label(),
        crate::table::EDITION.to_string(),
    ];
    if identity_kept {
        method.push("patient name or ID kept by a custom rule".into());
    }
    let method: Vec<String> = method
        .into_iter()
        .map(|s| s.chars().take(64).collect())
        .collect();
    out.put(DataElement::new(
        tags::DEIDENTIFICATION_METHOD,
        VR::LO,
        dicom_core::PrimitiveValue::Strs(method.into()),
    ));
    let mut items = vec![code_item(
        "113100",
        "Basic Application Confidentiality Profile",
    )];
    for opt in plan.effective_options() {
        if opt == ProfileOption::CleanPixelData && !pixels_cleaned {
            continue;
        }
        let (value, meaning) = opt.code();
        items.push(code_item(value, meaning));
    }
    if plan.is_hipaa() && temporal.modified {
        let (value, meaning) = ProfileOption::RetainLongModifiedDates.code();
        items.push(code_item(value, meaning));
    }
    out.put(DataElement::new(
        tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE,
        VR::SQ,
        DataSetSequence::new(items, Length::UNDEFINED),
    ));
    out.put(DataElement::new(
        Tag(0x0028, 0x0303),
        VR::CS,
        temporal.term(),
    ));
    if pixels_cleaned {
        out.put(DataElement::new(tags::BURNED_IN_ANNOTATION, VR::CS, "NO"));
    }
}
