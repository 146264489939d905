//! The attributes that say an object was de-identified, and how (PS3.15 E.1.1, CID 7050).

use crate::decide::plan::Plan;
use crate::profile::options::ProfileOption;
use crate::profile::vocab::Action;
use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, Length, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

/// What happened to the object's dates (DA and DT present in the input), attribute by
/// attribute, for Longitudinal Temporal Information Modified and the date options' codes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Temporal {
    /// Some date was written as it was.
    pub kept: bool,
    /// Some date was shifted, reduced to its year or generalised.
    pub modified: bool,
    /// Some date was shifted by the patient's offset (Retain Modified Dates).
    pub shifted: bool,
    /// Some date was replaced by a value that is not a date of the patient but looks like
    /// one: a dummy, a user's replacement, the guard's dummy. (A date removed or emptied
    /// leaves nothing to take for real.)
    pub dummied: bool,
}

impl Temporal {
    /// Notes what an action did to one date; `None` when the leak guard replaced it.
    pub fn note(&mut self, action: Option<&Action>) {
        match action {
            Some(Action::Keep) => self.kept = true,
            Some(Action::ShiftDate) => {
                self.shifted = true;
                self.modified = true
            }
            Some(Action::YearOnly | Action::Generalize(_)) => self.modified = true,
            Some(Action::Remove | Action::Empty) => {}
            _ => self.dummied = true,
        }
    }

    /// PS3.3 C.12.1.1.7: UNMODIFIED only when every date left is as it was, REMOVED when
    /// no date of the patient is left (dummies only); real dates beside shifted or dummy
    /// ones were MODIFIED.
    fn term(self) -> &'static str {
        if self.modified || (self.kept && self.dummied) {
            "MODIFIED"
        } else if self.kept {
            "UNMODIFIED"
        } else {
            "REMOVED"
        }
    }

    /// Some dates are real and others are not: the one term cannot say which.
    fn mixed(self) -> bool {
        self.kept && (self.modified || self.dummied)
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
        crate::profile::table::EDITION.to_string(),
    ];
    if identity_kept {
        method.push("patient name or ID kept by a custom rule".into());
    }
    if temporal.mixed() {
        method.push("some dates kept as they were, others changed".into());
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
        // An option's code says what was done: not claimed when nothing it retains or
        // cleans was in this object.
        let done = match opt {
            ProfileOption::CleanPixelData => pixels_cleaned,
            ProfileOption::RetainLongModifiedDates => temporal.shifted,
            ProfileOption::RetainLongFullDates => temporal.kept,
            _ => true,
        };
        if !done {
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
