//! `dcmask risk` and `dcmask anonymize --risk` through the built binary, on generated
//! originals and their batch output (ages generalised to bands of 10 years by a rule
//! file), with figures computed by hand; and on the shared corpus.

#[path = "../../../tests/support/cli.rs"]
mod cli;
#[path = "../../../tests/support/corpus.rs"]
mod corpus;

use dcmask_engine::io;
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::InMemDicomObject;
use serde_json::Value;
use std::path::Path;
use std::process::Output;

const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const CT: &str = "1.2.840.10008.5.1.4.1.1.2";
const QIS: &str = "PatientAge,PatientSex,Modality";
const RULES: &str =
    r#"[{"id":"(0010,1010)","act":"generalize","to":"10y"},{"id":"(0010,0040)","act":"keep"}]"#;

/// Six patients (P1 with two files); ages all different, bands of ten years shared.
const PATIENTS: [(&str, &str, &str, &str, u8); 6] = [
    ("RISKP1", "045Y", "M", "CT", 2),
    ("RISKP2", "047Y", "M", "CT", 1),
    ("RISKP3", "041Y", "F", "CT", 1),
    ("RISKP4", "063Y", "F", "MR", 1),
    ("RISKP5", "068Y", "F", "MR", 1),
    ("RISKP6", "072Y", "M", "MR", 1),
];

fn file(patient: &str, age: &str, sex: &str, modality: &str, n: usize, i: u8) -> Vec<u8> {
    let sop = format!("1.2.826.0.1.3680043.2.1125.9.{n}.{i}");
    let mut ds = InMemDicomObject::new_empty();
    ds.put_str(tags::SOP_CLASS_UID, VR::UI, CT);
    ds.put_str(tags::SOP_INSTANCE_UID, VR::UI, &sop);
    ds.put_str(
        tags::STUDY_INSTANCE_UID,
        VR::UI,
        format!("1.2.826.0.1.3680043.2.1125.9.{n}"),
    );
    ds.put_str(
        tags::SERIES_INSTANCE_UID,
        VR::UI,
        format!("1.2.826.0.1.3680043.2.1125.9.{n}.0"),
    );
    ds.put_str(tags::PATIENT_NAME, VR::PN, format!("Doe^{patient}"));
    ds.put_str(tags::PATIENT_ID, VR::LO, patient);
    ds.put_str(tags::PATIENT_AGE, VR::AS, age);
    ds.put_str(tags::PATIENT_SEX, VR::CS, sex);
    ds.put_str(tags::MODALITY, VR::CS, modality);
    for (t, v) in [
        (tags::ROWS, 2u16),
        (tags::COLUMNS, 2),
        (tags::BITS_ALLOCATED, 8),
    ] {
        ds.put(DataElement::new(t, VR::US, PrimitiveValue::from(v)));
    }
    ds.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        PrimitiveValue::U8(vec![n as u8; 4].into()),
    ));
    let meta = FileMetaTableBuilder::new()
        .transfer_syntax("1.2.840.10008.1.2.1")
        .media_storage_sop_class_uid(CT)
        .media_storage_sop_instance_uid(&sop)
        .build()
        .unwrap();
    io::to_bytes(&ds.with_exact_meta(meta)).unwrap()
}

/// A sandbox with a key, the rules file and the generated patients' files in `in/`
/// (plus a file that is not DICOM).
fn sandbox() -> cli::Sandbox {
    let sandbox = cli::Sandbox::new();
    sandbox.write("key.hex", KEY_HEX);
    sandbox.write("rules.json", RULES);
    for (n, (p, age, sex, modality, files)) in PATIENTS.iter().enumerate() {
        for i in 0..*files {
            sandbox.write(
                &format!("in/{p}/{i}.dcm"),
                file(p, age, sex, modality, n, i),
            );
        }
    }
    sandbox.write("in/notes.txt", "not DICOM");
    sandbox
}

/// `anonymize` of the sandbox's inputs with its rules file.
fn anonymize(env: &cli::Sandbox, extra: &[&str]) -> Output {
    let rules = env.path("rules.json");
    env.anonymize(&[&["--rules", rules.to_str().unwrap()], extra].concat())
}

/// `dcmask risk DIR --json EXTRA`, which must succeed.
fn risk_json(env: &cli::Sandbox, dir: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["risk", dir.to_str().unwrap(), "--json"];
    args.extend(extra);
    serde_json::from_slice(&env.ok(&args).stdout).unwrap()
}

fn qi<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["quasi_identifiers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["id"] == id)
        .unwrap_or_else(|| panic!("{id} in {report}"))
}

#[test]
fn risk_of_originals_and_of_their_batch_output() {
    let env = sandbox();
    let before = risk_json(&env, &env.path("in"), &["--quasi-identifiers", QIS]);
    assert_eq!(before["files"]["not_dicom"], 1);
    assert_eq!(before["instances"], 7);
    assert_eq!(before["records"], 6);
    assert_eq!(before["unique_records"], 6);
    assert_eq!(before["prosecutor_risk_avg"], 1.0);

    let r = anonymize(
        &env,
        &["--risk", "--quasi-identifiers", QIS, "--population", "60"],
    );
    assert_eq!(
        r.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let after = risk_json(
        &env,
        &env.path("out"),
        &["--quasi-identifiers", QIS, "--population", "60"],
    );
    // Bands: (040Y M CT) P1 P2 · (040Y F CT) P3 · (060Y F MR) P4 P5 · (070Y M MR) P6.
    for (k, v) in [
        ("records", 6.0),
        ("classes", 4.0),
        ("k_min", 1.0),
        ("unique_records", 2.0),
        ("records_below_k5", 6.0),
        ("records_below_k11", 6.0),
        ("prosecutor_risk_max", 1.0),
        ("records_without_id", 0.0),
    ] {
        assert_eq!(after[k].as_f64(), Some(v), "{k}: {after}");
    }
    assert!((after["prosecutor_risk_avg"].as_f64().unwrap() - 4.0 / 6.0).abs() < 1e-12);
    let (j, m) = (
        after["journalist_risk_max"].as_f64().unwrap(),
        after["marketer_risk"].as_f64().unwrap(),
    );
    // π = 1/10: E[1/F | f = 1] = π ln(1/π) / (1 - π).
    assert!((j - 0.1 * 10f64.ln() / 0.9).abs() < 1e-12, "{j}");
    assert!(m > 0.0 && m < j, "{m}");
    assert!(after["population_model"]
        .as_str()
        .unwrap()
        .contains("Benedetti"));
    // Sex alone makes P3 unique (040Y CT has three patients without it); age and
    // modality make no one unique that the others do not.
    assert_eq!(after["quasi_identifiers"][0]["id"], "PatientSex");
    assert_eq!(qi(&after, "PatientSex")["unique_because"], 1);
    assert_eq!(qi(&after, "PatientSex")["without"]["unique_records"], 1);
    assert_eq!(qi(&after, "PatientAge")["unique_because"], 0);
    assert_eq!(qi(&after, "PatientAge")["distinct_values"], 3);
    assert_eq!(qi(&after, "PatientAge")["generalized"]["to"], "10y");
    assert_eq!(qi(&after, "Modality")["unique_because"], 0);
    // Before, the exact ages are what make every record unique.
    assert_eq!(qi(&before, "PatientAge")["unique_because"], 4);

    // The run's report carries the same block, over the outputs it wrote.
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(env.path("out/report.json")).unwrap())
            .unwrap();
    let mut block = report["risk"].clone();
    let mut cli = after.clone();
    assert_eq!(block["files"]["dicom"], 7);
    // `dcmask risk` also saw report.json.
    assert_eq!(cli["files"]["not_dicom"], 1);
    block.as_object_mut().unwrap().remove("files");
    cli.as_object_mut().unwrap().remove("files");
    assert_eq!(block, cli);

    // Figures and names only: no value of any file.
    let text = env.dcmask(&[
        "risk",
        env.path("in").to_str().unwrap(),
        "--quasi-identifiers",
        QIS,
    ]);
    let stdout = String::from_utf8(text.stdout).unwrap();
    assert!(
        stdout.contains("records with k = 1: 6 (100.0%)"),
        "{stdout}"
    );
    for p in PATIENTS {
        assert!(!stdout.contains(p.0) && !stdout.contains(p.1), "{stdout}");
    }
    let json = serde_json::to_string(&before).unwrap();
    assert!(!json.contains("RISKP") && !json.contains("045Y"), "{json}");
}

#[test]
fn studies_as_records_and_the_default_list() {
    let env = sandbox();
    let r = risk_json(&env, &env.path("in"), &["--record", "study"]);
    assert_eq!(r["record"], "study");
    assert_eq!(r["records"], 6);
    let ids: Vec<&str> = r["quasi_identifiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 22);
    assert!(ids.contains(&"StudyInterval") && ids.contains(&"PrivateElements"));
    let changed = risk_json(
        &env,
        &env.path("in"),
        &["--quasi-identifiers", "-PatientSex,+(0018,0050)"],
    );
    let ids: Vec<&str> = changed["quasi_identifiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["id"].as_str().unwrap())
        .collect();
    assert!(
        !ids.contains(&"PatientSex") && ids.contains(&"SliceThickness"),
        "{ids:?}"
    );
}

#[test]
fn bad_options_are_refused_before_anything_is_read_or_written() {
    let env = sandbox();
    let input = env.path("in");
    let input = input.to_str().unwrap();
    for (args, says) in [
        (
            vec!["risk", input, "--quasi-identifiers", "Nonsense"],
            "--quasi-identifiers",
        ),
        (
            vec!["risk", input, "--population", "3"],
            "smaller than the number of records",
        ),
        (vec!["risk", input, "--population", "0"], "at least 1"),
        (vec!["risk", "/nonexistent/risk"], "does not exist"),
    ] {
        let r = env.dcmask(&args);
        assert_eq!(r.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    let r = anonymize(&env, &["--population", "100"]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("go with --risk"));
    let r = anonymize(&env, &["--risk", "--quasi-identifiers", "Nonsense"]);
    assert_eq!(r.status.code(), Some(2));
    assert!(!env.path("out").exists(), "nothing written");
}

/// The corpus before and after Basic: figures for the record, and the checks that
/// hold whatever the corpus holds.
#[test]
fn corpus_before_and_after_basic() {
    let Some(dir) = corpus::dir() else {
        return;
    };
    let env = sandbox();
    let before = env.dcmask(&["risk", dir.to_str().unwrap(), "--json"]);
    // The corpus holds deliberately broken files: exit 1, figures over the others.
    assert_eq!(before.status.code(), Some(1));
    let before: Value = serde_json::from_slice(&before.stdout).unwrap();
    let out = env.path("basic");
    let r = env.dcmask(&[
        "anonymize",
        dir.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--quiet",
        "--key-file",
        env.path("key.hex").to_str().unwrap(),
        "--risk",
    ]);
    assert!(matches!(r.status.code(), Some(0 | 1)), "{r:?}");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let after = &report["risk"];
    eprintln!(
        "corpus: before {} records, {} unique, k<5 {}; after Basic {} records, {} unique, k<5 {}",
        before["records"],
        before["unique_records"],
        before["records_below_k5"],
        after["records"],
        after["unique_records"],
        after["records_below_k5"]
    );
    assert!(after["records"].as_u64().unwrap() > 20, "{after}");
    // Basic removes age, sex, size, weight and descriptions: they single out no one.
    for id in [
        "PatientAge",
        "PatientSex",
        "PatientWeight",
        "StudyDescription",
        "SeriesDescription",
    ] {
        assert_eq!(qi(after, id)["unique_because"], 0, "{id}");
        assert_eq!(qi(after, id)["distinct_values"], 1, "{id}");
    }
    assert!(
        after["unique_records"].as_u64() <= before["unique_records"].as_u64(),
        "{after}"
    );
}
