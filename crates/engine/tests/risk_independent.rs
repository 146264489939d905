//! The risk figures of a generated cohort of a few hundred patients checked against an
//! independent implementation: `risk_check.py` builds the records with pandas from the
//! values the generator wrote, groups them with pycanon (PyPI) and computes the risk
//! measures from their definitions. Needs python3 with pycanon (`scripts/test-all.sh`
//! installs it); under CI its absence is a failure.

mod common;

use common::skip_or_fail;
use dcmask_engine::risk::{select, Builder, RecordKind, Report};
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use std::path::Path;
use std::process::Command;

const QIS: &str =
    "PatientAge,PatientSex,PatientWeight,Modality,BodyPartExamined,StudyDate,StudyInterval";
const COLUMNS: [&str; 6] = [
    "PatientAge",
    "PatientSex",
    "PatientWeight",
    "Modality",
    "BodyPartExamined",
    "StudyDate",
];

/// A small deterministic generator (64-bit LCG).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len() as u64) as usize]
    }
}

/// One object: identifiers and the quasi-identifiers' values as written (`None`: absent).
struct Obj {
    patient: String,
    study: String,
    sop: String,
    values: [Option<String>; 6],
}

fn cohort(patients: usize) -> Vec<Obj> {
    let mut rng = Rng(20_240_517);
    let mut out = Vec::new();
    for p in 0..patients {
        // A few patients without an ID: their studies are their records.
        let patient = if rng.below(50) == 0 {
            String::new()
        } else {
            format!("PAT{p:04}")
        };
        let age = 40 + rng.below(6) * 5;
        let age_text = match rng.below(40) {
            0 => None,
            1 => Some(String::new()),
            _ => Some(format!("{age:03}Y")),
        };
        let sex = match rng.below(40) {
            0 => None,
            1 => Some("O".to_string()),
            n if n % 2 == 0 => Some("M".into()),
            _ => Some("F".into()),
        };
        let weight = (rng.below(8) != 0).then(|| format!("{}", 60 + rng.below(3) * 10));
        // Dates on a few days, so that records share them.
        let mut day = rng.below(3) as i64 * 30;
        let studies = [0, 0, 0, 1, 2][rng.below(5) as usize];
        for s in 0..=studies {
            let study = format!("1.2.826.0.1.3680043.8.498.{p}.{s}");
            let date =
                chrono::NaiveDate::from_ymd_opt(2019, 1, 1).unwrap() + chrono::Duration::days(day);
            day += 30 * (1 + rng.below(2) as i64);
            let date = (rng.below(30) != 0).then(|| date.format("%Y%m%d").to_string());
            let modality = rng.pick(&["CT", "CT", "MR"]).to_string();
            let body = rng.pick(&["CHEST", "CHEST", "HEAD", ""]);
            for i in 0..=rng.below(3) {
                // Some patients' later objects say they are a year older: multi-valued.
                let age = if s > 0
                    && rng.below(4) == 0
                    && age_text.as_deref().is_some_and(|a| !a.is_empty())
                {
                    Some(format!("{:03}Y", age + 1))
                } else {
                    age_text.clone()
                };
                // Padding differs between objects; values compare trimmed.
                let sex = match &sex {
                    Some(v) if rng.below(2) == 0 => Some(format!("{v} ")),
                    other => other.clone(),
                };
                out.push(Obj {
                    patient: patient.clone(),
                    study: study.clone(),
                    sop: format!("{study}.{i}"),
                    values: [
                        age,
                        sex,
                        weight.clone(),
                        Some(modality.clone()),
                        (!body.is_empty()).then(|| body.to_string()),
                        date.clone(),
                    ],
                });
            }
        }
    }
    out
}

fn dicom(o: &Obj) -> InMemDicomObject {
    let mut d = InMemDicomObject::new_empty();
    let put = |d: &mut InMemDicomObject, t: Tag, vr: VR, v: &str| {
        d.put(DataElement::new(t, vr, PrimitiveValue::from(v)))
    };
    if !o.patient.is_empty() {
        put(&mut d, tags::PATIENT_ID, VR::LO, &o.patient);
    }
    put(&mut d, tags::STUDY_INSTANCE_UID, VR::UI, &o.study);
    put(&mut d, tags::SOP_INSTANCE_UID, VR::UI, &o.sop);
    let elements = [
        (tags::PATIENT_AGE, VR::AS),
        (tags::PATIENT_SEX, VR::CS),
        (tags::PATIENT_WEIGHT, VR::DS),
        (tags::MODALITY, VR::CS),
        (tags::BODY_PART_EXAMINED, VR::CS),
        (tags::STUDY_DATE, VR::DA),
    ];
    for ((t, vr), v) in elements.iter().zip(&o.values) {
        if let Some(v) = v {
            put(&mut d, *t, *vr, v);
        }
    }
    d
}

fn csv_of(objects: &[Obj], path: &Path) {
    let mut w = csv::Writer::from_path(path).unwrap();
    let mut header = vec!["patient", "study", "sop", "study_date"];
    header.extend(COLUMNS);
    w.write_record(&header).unwrap();
    for o in objects {
        let mut row = vec![
            o.patient.clone(),
            o.study.clone(),
            o.sop.clone(),
            o.values[5].clone().unwrap_or_default(),
        ];
        row.extend(o.values.iter().map(|v| v.clone().unwrap_or_default()));
        w.write_record(&row).unwrap();
    }
    w.flush().unwrap();
}

fn python_with_pycanon() -> bool {
    Command::new("python3")
        .args(["-c", "import pycanon, pandas"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-9 * b.abs().max(1e-6),
        "{what}: dcmask {a}, check {b}"
    );
}

fn compare_figures(ours: &serde_json::Value, theirs: &serde_json::Value, what: &str) {
    for k in [
        "records",
        "classes",
        "k_min",
        "unique_records",
        "records_below_k5",
        "records_below_k11",
    ] {
        assert_eq!(ours[k], theirs[k], "{what}: {k}");
    }
    for k in [
        "prosecutor_risk_max",
        "prosecutor_risk_avg",
        "journalist_risk_max",
        "marketer_risk",
    ] {
        close(
            ours[k].as_f64().unwrap(),
            theirs[k].as_f64().unwrap(),
            &format!("{what}: {k}"),
        );
    }
}

fn check(kind: RecordKind, population: u64, qis: &str) -> Report {
    if !python_with_pycanon() {
        skip_or_fail("python3 with pycanon and pandas is not installed (pip install pycanon)");
        return analyse(kind, population, qis);
    }
    let objects = cohort(400);
    let report = analyse(kind, population, qis);
    let ours = serde_json::to_value(&report).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("objects.csv");
    csv_of(&objects, &csv);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/risk_check.py");
    let kind_arg = match kind {
        RecordKind::Patient => "patient",
        RecordKind::Study => "study",
    };
    let out = Command::new("python3")
        .arg(&script)
        .arg(&csv)
        .args([kind_arg, &population.to_string(), qis])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "risk_check.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    assert!(report.figures.records > 300, "{:?}", report.figures);
    assert_eq!(ours["k_min"], theirs["k_pycanon"], "k-anonymity (pycanon)");
    compare_figures(&ours, &theirs, "all");
    for q in report.quasi_identifiers.iter() {
        let t = &theirs["contributions"][&q.id];
        assert_eq!(
            q.distinct_values,
            t["distinct_values"].as_u64().unwrap(),
            "{}",
            q.id
        );
        assert_eq!(
            q.unique_because,
            t["unique_because"].as_u64().unwrap(),
            "{}",
            q.id
        );
        compare_figures(
            &serde_json::to_value(&q.without).unwrap(),
            &t["without"],
            &format!("without {}", q.id),
        );
    }
    if let Some(age) = report
        .quasi_identifiers
        .iter()
        .find(|q| q.id == "PatientAge")
    {
        compare_figures(
            &serde_json::to_value(&age.generalized.as_ref().unwrap().figures).unwrap(),
            &theirs["generalized_age"],
            "age in bands of 10 years",
        );
    }
    report
}

fn analyse(kind: RecordKind, population: u64, qis: &str) -> Report {
    let mut b = Builder::new(select(qis).unwrap(), kind);
    for o in &cohort(400) {
        b.add_object(&dicom(o));
    }
    b.finish().report(Some(population)).unwrap()
}

#[test]
fn patients_match_pycanon_and_the_definitions() {
    let r = check(RecordKind::Patient, 4000, QIS);
    // A cohort worth checking: uniques, small classes, and attributes that drive them.
    let f = &r.figures;
    assert!(f.unique_records > 10 && f.classes < f.records, "{f:?}");
    assert!(
        r.quasi_identifiers
            .iter()
            .filter(|q| q.unique_because > 0)
            .count()
            >= 4
    );
}

#[test]
fn studies_match_pycanon_and_the_definitions() {
    let r = check(RecordKind::Study, 1000, QIS);
    assert!(r.figures.unique_records > 10, "{:?}", r.figures);
}

#[test]
fn coarse_attributes_give_larger_classes_and_match_too() {
    let r = check(RecordKind::Study, 2000, "PatientSex,Modality");
    let f = &r.figures;
    assert!(f.k_min > 1 && f.records_below_k11 < f.records, "{f:?}");
}
