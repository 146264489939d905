//! Small cohorts computed by hand: ties, empty and absent values, multi-valued records,
//! studies as records, intervals, records without a Patient ID.

use super::*;
use crate::actions::generalize::Generalization;
use dicom_core::{DataElement, Tag, VR};

fn object(patient: &str, study: &str, sop: &str, values: &[(Tag, VR, &str)]) -> InMemDicomObject {
    let mut o = InMemDicomObject::new_empty();
    for (t, v) in [
        (tags::PATIENT_ID, patient),
        (tags::STUDY_INSTANCE_UID, study),
        (tags::SOP_INSTANCE_UID, sop),
    ] {
        if !v.is_empty() {
            o.put(DataElement::new(
                t,
                if t == tags::PATIENT_ID {
                    VR::LO
                } else {
                    VR::UI
                },
                v,
            ));
        }
    }
    for (t, vr, v) in values {
        o.put(DataElement::new(*t, *vr, *v));
    }
    o
}

fn age_sex<'a>(age: Option<&'a str>, sex: &'a str) -> Vec<(Tag, VR, &'a str)> {
    let mut v = vec![(tags::PATIENT_SEX, VR::CS, sex)];
    if let Some(a) = age {
        v.push((tags::PATIENT_AGE, VR::AS, a));
    }
    v
}

fn qis(list: &str) -> Vec<QuasiIdentifier> {
    select(list).unwrap()
}

/// Eight patients on age and sex (classes by hand):
/// (045Y,M) P1 P2 P7 · (047Y,F) P3 · (043Y,F) P8 · (050Y\051Y,F) P4 · ("",F) P5 P6.
fn cohort() -> Vec<InMemDicomObject> {
    vec![
        object("P1", "1.1", "1.1.1", &age_sex(Some("045Y"), "M")),
        object("P1", "1.1", "1.1.2", &age_sex(Some("045Y"), "M")),
        object("P2", "1.2", "1.2.1", &age_sex(Some("045Y"), "M")),
        object("P3", "1.3", "1.3.1", &age_sex(Some("047Y"), "F")),
        // Two ages over one patient's objects: the record's value is both.
        object("P4", "1.4", "1.4.1", &age_sex(Some("051Y"), "F")),
        object("P4", "1.4", "1.4.2", &age_sex(Some("050Y"), "F")),
        // Absent and empty are the same value.
        object("P5", "1.5", "1.5.1", &age_sex(None, "F")),
        object("P6", "1.6", "1.6.1", &age_sex(Some(""), "F")),
        // Padding does not make a value of its own.
        object("P7", "1.7", "1.7.1", &age_sex(Some("045Y "), "M ")),
        object("P8", "1.8", "1.8.1", &age_sex(Some("043Y"), "F")),
    ]
}

fn analyse(objects: &[InMemDicomObject], list: &str, kind: RecordKind) -> Analysis {
    let mut b = Builder::new(qis(list), kind);
    for o in objects {
        b.add_object(o);
    }
    b.finish()
}

#[test]
fn every_figure_of_a_hand_computed_cohort() {
    let a = analyse(&cohort(), "PatientAge,PatientSex", RecordKind::Patient);
    let r = a.report(None).unwrap();
    assert_eq!((r.instances, r.records_without_id), (10, 0));
    let f = &r.figures;
    assert_eq!((f.records, f.classes, f.k_min), (8, 5, 1));
    assert_eq!(
        (f.unique_records, f.records_below_k5, f.records_below_k11),
        (3, 8, 8)
    );
    assert_eq!(f.prosecutor_risk_max, 1.0);
    assert!((f.prosecutor_risk_avg - 5.0 / 8.0).abs() < 1e-15);
    assert_eq!(f.journalist_risk_max, None);

    // Age makes all three unique: by sex alone classes are M 3, F 5.
    let age = &r.quasi_identifiers[0];
    assert_eq!(age.id, "PatientAge");
    assert_eq!((age.unique_because, age.distinct_values), (3, 5));
    assert_eq!(
        (
            age.without.classes,
            age.without.k_min,
            age.without.unique_records
        ),
        (2, 3, 0)
    );
    // In bands of ten years P3 and P8 share 040Y; P4's 050Y and 051Y become one 050Y.
    let g = age.generalized.as_ref().unwrap();
    assert_eq!(g.to, "10y");
    assert_eq!(
        (g.figures.classes, g.figures.unique_records, g.figures.k_min),
        (4, 1, 1)
    );
    // Sex makes no one unique: P3, P4, P8 are unique by age alone.
    let sex = &r.quasi_identifiers[1];
    assert_eq!((sex.id.as_str(), sex.unique_because), ("PatientSex", 0));
    assert_eq!(sex.without.unique_records, 3);
    assert!(sex.generalized.is_none());

    let counts = a.value_counts();
    assert_eq!(
        counts[0],
        [
            ("045Y", 3),
            ("", 2),
            ("043Y", 1),
            ("047Y", 1),
            ("050Y\\051Y", 1)
        ]
    );
    assert_eq!(counts[1], [("F", 5), ("M", 3)]);
    let (header, rows) = a.table();
    assert_eq!(header, ["PatientAge", "PatientSex"]);
    assert!(rows.contains(&vec!["050Y\\051Y", "F"]));
    assert_eq!(rows.iter().filter(|r| *r == &vec!["", "F"]).count(), 2);
    assert_eq!(rows.iter().filter(|r| *r == &vec!["045Y", "M"]).count(), 3);
}

#[test]
fn ties_keep_the_table_order_and_the_order_of_objects_does_not_matter() {
    // Sex and age each make one record unique: P3 by sex (045Y F), P9 by age (070Y M).
    let objects = vec![
        object("P1", "1", "1.1", &age_sex(Some("045Y"), "M")),
        object("P2", "2", "2.1", &age_sex(Some("045Y"), "M")),
        object("P3", "3", "3.1", &age_sex(Some("045Y"), "F")),
        object("P9", "9", "9.1", &age_sex(Some("070Y"), "M")),
    ];
    let a = analyse(&objects, "PatientSex,PatientAge", RecordKind::Patient);
    let r = a.report(None).unwrap();
    assert_eq!(r.figures.unique_records, 2);
    let order: Vec<(&str, u64)> = r
        .quasi_identifiers
        .iter()
        .map(|q| (q.id.as_str(), q.unique_because))
        .collect();
    assert_eq!(order, [("PatientSex", 1), ("PatientAge", 1)]);
    let reversed: Vec<InMemDicomObject> = objects.into_iter().rev().collect();
    let b = analyse(&reversed, "PatientSex,PatientAge", RecordKind::Patient);
    assert_eq!(
        serde_json::to_value(b.report(Some(100)).unwrap()).unwrap(),
        serde_json::to_value(a.report(Some(100)).unwrap()).unwrap()
    );
}

#[test]
fn population_figures_and_their_limit() {
    let a = analyse(&cohort(), "PatientAge,PatientSex", RecordKind::Patient);
    let e = a.report(Some(7)).unwrap_err();
    assert!(e.contains("smaller than the number of records (8)"), "{e}");
    // The population is the data: journalist = prosecutor.
    let r = a.report(Some(8)).unwrap();
    assert!((r.figures.journalist_risk_max.unwrap() - 1.0).abs() < 1e-12);
    assert!((r.figures.marketer_risk.unwrap() - 5.0 / 8.0).abs() < 1e-12);
    assert_eq!(r.population_model, Some(POPULATION_MODEL));
    // Drawn from 800: classes of 1 (3 records), 2 (2) and 3 (3) at π = 1/100.
    let r = a.report(Some(800)).unwrap();
    let e = |f| figures::expected_inverse(f, 0.01);
    assert!((r.figures.journalist_risk_max.unwrap() - e(1)).abs() < 1e-15);
    let marketer = (3.0 * e(1) + 2.0 * e(2) + 3.0 * e(3)) / 8.0;
    assert!((r.figures.marketer_risk.unwrap() - marketer).abs() < 1e-15);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["population"], 800);
    assert_eq!(json["records"], 8);
    assert!(json["quasi_identifiers"][0]["without"]["marketer_risk"].is_number());
}

#[test]
fn studies_as_records_and_the_intervals_between_them() {
    let d = |date| vec![(tags::STUDY_DATE, VR::DA, date)];
    let objects = vec![
        object("A", "S1", "1", &d("20200101")),
        object("A", "S2", "2", &d("20200131")),
        object("A", "S2", "3", &d("20200131")),
        object("A", "S3", "4", &d("20200301")),
        object("B", "S5", "5", &d("20200131")),
        object("B", "S4", "6", &d("20200101")),
        object("C", "S6", "7", &d("20200101")),
        // No Patient ID: its study is its record.
        object("", "S7", "8", &d("20200101")),
        // Neither: the object is.
        object("", "", "9", &d("")),
    ];
    let a = analyse(&objects, "StudyInterval", RecordKind::Patient);
    let r = a.report(None).unwrap();
    assert_eq!((r.records_without_id, r.figures.records), (2, 5));
    let (_, rows) = a.table();
    let mut values: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    values.sort();
    // A: 30 days then 30 (2020 is a leap year); B: 30; C, S7 and the lone object: none.
    assert_eq!(values, ["", "", "", "30", "30\\30"]);
    assert_eq!((r.figures.classes, r.figures.unique_records), (3, 2));

    let a = analyse(&objects, "StudyInterval,StudyDate", RecordKind::Study);
    let r = a.report(None).unwrap();
    assert_eq!((r.records_without_id, r.figures.records), (1, 8));
    let (_, rows) = a.table();
    let mut pairs: Vec<(&str, &str)> = rows.iter().map(|r| (r[0], r[1])).collect();
    pairs.sort();
    assert_eq!(
        pairs,
        [
            ("", ""),
            ("", "20200101"),
            ("", "20200101"),
            ("", "20200101"),
            ("", "20200101"),
            ("30", "20200131"),
            ("30", "20200131"),
            ("30", "20200301"),
        ]
    );
    // StudyDate to the year merges 2020-01-31 and 2020-03-01 (both "30" since the last).
    let date = r
        .quasi_identifiers
        .iter()
        .find(|q| q.id == "StudyDate")
        .unwrap();
    let g = date.generalized.as_ref().unwrap();
    assert_eq!(g.to, "year");
    assert_eq!(g.figures.unique_records, 1);
    assert_eq!(r.figures.unique_records, 2);
}

#[test]
fn derived_values_birth_year_and_private_elements() {
    let mut o = object(
        "P",
        "1",
        "1.1",
        &[
            (tags::PATIENT_BIRTH_DATE, VR::DA, "19650317"),
            (Tag(0x0019, 0x0010), VR::LO, "GEMS_ACQU_01 "),
            (Tag(0x0019, 0x100C), VR::DS, "12"),
            (Tag(0x0019, 0x1011), VR::DS, "3"),
        ],
    );
    let list = "BirthYear,PrivateElements,(0019,100C)";
    let obs = Observation::of(&o, &qis(list), RecordKind::Patient);
    assert_eq!(obs.values[0], ["1965"]);
    assert_eq!(
        obs.values[1],
        ["GEMS_ACQU_01:0019xx0C", "GEMS_ACQU_01:0019xx11"]
    );
    assert_eq!(obs.values[2], ["12"]);
    o.remove_element(tags::PATIENT_BIRTH_DATE);
    let a = analyse(&[o], list, RecordKind::Patient);
    let (_, rows) = a.table();
    assert_eq!(rows[0][0], "");
    assert_eq!(rows[0][1], "GEMS_ACQU_01:0019xx0C\\GEMS_ACQU_01:0019xx11");
    let birth = defaults().iter().find(|q| q.id == "BirthYear").unwrap();
    assert_eq!(
        birth.generalize,
        Some(Generalization::Multiple {
            units: 10,
            scale: 0
        })
    );
    assert_eq!(
        coarsen(&birth.generalize.unwrap(), "1965\\1962"),
        "1970\\1960"
    );
}

#[test]
fn no_records_no_figures() {
    let r = analyse(&[], "PatientAge", RecordKind::Patient)
        .report(Some(10))
        .unwrap();
    assert_eq!((r.figures.records, r.figures.k_min), (0, 0));
    assert_eq!(r.quasi_identifiers[0].unique_because, 0);
}
