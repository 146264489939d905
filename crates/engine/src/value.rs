//! Reading an element's value as text: one accessor and one notion of padding, so that
//! the decider's facts, the guard's grouping, the completeness check and the DICOMDIR
//! keys all see the same value.

use dicom_core::Tag;
use dicom_object::InMemDicomObject;

/// The value of `tag` in `ds` as text (several values joined by `\`), without DICOM
/// padding or surrounding white space (spaces, NULs); `None` when the element is
/// absent, holds no text, or nothing is left.
pub fn text(ds: &InMemDicomObject, tag: Tag) -> Option<String> {
    let e = ds.get(tag)?;
    let s = e.to_str().ok()?;
    let trimmed = s.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::{DataElement, VR};
    use dicom_dictionary_std::tags;

    #[test]
    fn padding_goes_and_empty_is_none() {
        let mut ds = InMemDicomObject::new_empty();
        ds.put(DataElement::new(tags::SOP_CLASS_UID, VR::UI, "1.2.3\0"));
        ds.put(DataElement::new(tags::PATIENT_ID, VR::LO, " ID 7 "));
        ds.put(DataElement::new(tags::STUDY_ID, VR::SH, "  "));
        ds.put(DataElement::new(
            tags::IMAGE_TYPE,
            VR::CS,
            "ORIGINAL\\PRIMARY ",
        ));
        assert_eq!(text(&ds, tags::SOP_CLASS_UID).as_deref(), Some("1.2.3"));
        assert_eq!(text(&ds, tags::PATIENT_ID).as_deref(), Some("ID 7"));
        assert_eq!(text(&ds, tags::STUDY_ID), None);
        assert_eq!(text(&ds, tags::ACCESSION_NUMBER), None);
        assert_eq!(
            text(&ds, tags::IMAGE_TYPE).as_deref(),
            Some("ORIGINAL\\PRIMARY")
        );
    }
}
