//! The custom `generalize` action on a synthetic file: each value coarsened as its rule
//! says, valid for its VR after writing and re-reading, and recorded like any decision.

mod common;

use common::*;
use dcmask_engine::Generalization;
use dcmask_engine::Source;
use dcmask_engine::{parse_rules, Action, Plan, ProfileId};
use dicom_core::{PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

const RULES: &str = r#"[{"id":"(0010,1010)","act":"generalize","to":"10y","note":"age bands"},{"id":"(0008,0020)","act":"generalize","to":"month"},{"id":"(0008,0021)","act":"generalize","to":"year"},{"id":"(0010,1030)","act":"generalize","to":"5"},{"id":"(0010,1020)","act":"generalize","to":"0.1"},{"id":"(0028,0010)","act":"generalize","to":"100"}]"#;

fn run(subject: &Subject) -> (Run, InMemDicomObject) {
    let mut ds = synthetic_dataset(subject);
    ds.put(el(tags::PATIENT_WEIGHT, VR::DS, "72.4"));
    ds.put(el(tags::PATIENT_SIZE, VR::DS, "1.76"));
    ds.put(el(tags::SERIES_DATE, VR::DA, "20051130"));
    let mut plan = Plan::builtin(ProfileId::Custom);
    plan.custom_rules = parse_rules(RULES).unwrap();
    let bytes = file_of(ds, EXPLICIT_VR_LE);
    let run = deid_bytes(&bytes, &plan, &key()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = write_and_reread(&run.bytes, &dir.path().join("out.dcm")).unwrap();
    (run, out.into_inner())
}

#[test]
fn values_are_coarsened_and_recorded() {
    let s = Subject::first();
    assert_eq!((s.age, s.study_date), ("045Y", "20051130"));
    let (run, out) = run(&s);
    assert_eq!(text(&out, tags::PATIENT_AGE).as_deref(), Some("040Y"));
    assert_eq!(text(&out, tags::STUDY_DATE).as_deref(), Some("20051101"));
    assert_eq!(text(&out, tags::SERIES_DATE).as_deref(), Some("20050101"));
    assert_eq!(text(&out, tags::PATIENT_WEIGHT).as_deref(), Some("70"));
    assert_eq!(text(&out, tags::PATIENT_SIZE).as_deref(), Some("1.8"));
    let rows = out.get(tags::ROWS).unwrap();
    assert_eq!(rows.vr(), VR::US);
    let before = synthetic_dataset(&s)
        .get(tags::ROWS)
        .unwrap()
        .to_int::<u16>()
        .unwrap();
    assert_eq!(
        rows.value().primitive(),
        Some(&PrimitiveValue::from(
            ((f64::from(before) / 100.0).round() * 100.0) as u16
        ))
    );
    let entry = |tag: Tag| {
        run.record
            .entries
            .iter()
            .find(|e| e.path == format!("{:04X},{:04X}", tag.0, tag.1))
            .unwrap_or_else(|| panic!("{tag} recorded"))
    };
    let age = entry(tags::PATIENT_AGE);
    assert_eq!(age.action, Action::Generalize(Generalization::AgeBand(10)));
    assert_eq!(age.rule.source, Source::Custom);
    assert_eq!(age.rule.explanation, "custom rule: generalize to 10y");
    assert_eq!(age.rule.note.as_deref(), Some("age bands"));
    assert!(age.changed);
    assert_eq!(
        serde_json::to_value(&age.action).unwrap(),
        serde_json::json!({"kind": "generalize", "value": "10y"})
    );
    // A generalized date is a modified date: the marker says so.
    assert_eq!(
        text(&out, tags::LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED).as_deref(),
        Some("MODIFIED")
    );
}

#[test]
fn a_value_already_in_its_band_is_recorded_unchanged() {
    let mut s = Subject::first();
    s.age = "040Y";
    let (run, out) = run(&s);
    assert_eq!(text(&out, tags::PATIENT_AGE).as_deref(), Some("040Y"));
    let age = run
        .record
        .entries
        .iter()
        .find(|e| e.path == "0010,1010")
        .unwrap();
    assert!(!age.changed);
}
