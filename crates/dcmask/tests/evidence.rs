//! The evidence of a batch run through the built binary: `dcmask report OUT` (HTML and
//! JSON) on generated originals carrying identifying values, checked for its parts and
//! for holding none of those values; the run's audit log in the linkage folder, and
//! `dcmask audit verify` finding a changed, removed or reordered entry.

#[path = "../../../tests/support/cli.rs"]
mod cli;

use dcmask_engine::io;
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::InMemDicomObject;
use serde_json::Value;
use std::path::PathBuf;

const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const CT: &str = "1.2.840.10008.5.1.4.1.1.2";

/// Identifying values of the originals: none may be in a report.
fn phi(n: usize) -> Vec<(dicom_core::Tag, VR, String)> {
    vec![
        (tags::PATIENT_NAME, VR::PN, format!("Zebulon^Quaintance{n}")),
        (tags::PATIENT_ID, VR::LO, format!("MRN77{n}431")),
        (tags::PATIENT_BIRTH_DATE, VR::DA, format!("1951031{n}")),
        (tags::ACCESSION_NUMBER, VR::SH, format!("ACC9{n}8812")),
        (
            tags::INSTITUTION_NAME,
            VR::LO,
            "Saint Wilhelmina Hospital".into(),
        ),
        (
            tags::REFERRING_PHYSICIAN_NAME,
            VR::PN,
            "Oxley^Bartholomew".into(),
        ),
        (tags::STUDY_DATE, VR::DA, format!("2019071{n}")),
        (
            tags::STUDY_INSTANCE_UID,
            VR::UI,
            format!("1.2.826.0.1.3680043.2.1125.77.{n}"),
        ),
        (
            tags::SERIES_INSTANCE_UID,
            VR::UI,
            format!("1.2.826.0.1.3680043.2.1125.77.{n}.1"),
        ),
        (
            tags::SOP_INSTANCE_UID,
            VR::UI,
            format!("1.2.826.0.1.3680043.2.1125.77.{n}.1.1"),
        ),
    ]
}

fn file(n: usize) -> Vec<u8> {
    let mut ds = InMemDicomObject::new_empty();
    ds.put_str(tags::SOP_CLASS_UID, VR::UI, CT);
    for (t, vr, v) in phi(n) {
        ds.put_str(t, vr, v);
    }
    ds.put_str(
        tags::PATIENT_SEX,
        VR::CS,
        if n.is_multiple_of(2) { "F" } else { "M" },
    );
    ds.put_str(tags::PATIENT_AGE, VR::AS, format!("0{}Y", 40 + n));
    ds.put_str(tags::MODALITY, VR::CS, "CT");
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
    let sop = format!("1.2.826.0.1.3680043.2.1125.77.{n}.1.1");
    let meta = FileMetaTableBuilder::new()
        .transfer_syntax("1.2.840.10008.1.2.1")
        .media_storage_sop_class_uid(CT)
        .media_storage_sop_instance_uid(&sop)
        .build()
        .unwrap();
    io::to_bytes(&ds.with_exact_meta(meta)).unwrap()
}

/// A sandbox with a key and `files` generated CT files in `in/`.
fn sandbox(files: usize) -> cli::Sandbox {
    let sandbox = cli::Sandbox::new();
    sandbox.write("key.hex", KEY_HEX);
    for n in 0..files {
        sandbox.write(&format!("in/{n}.dcm"), file(n));
    }
    sandbox
}

/// `anonymize` of the sandbox's inputs, which must succeed.
fn anonymize(env: &cli::Sandbox) {
    let r = env.anonymize(&[]);
    assert_eq!(
        r.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
}

/// The run's audit log, in the linkage folder.
fn log(env: &cli::Sandbox) -> PathBuf {
    env.path("out.linkage/audit.log")
}

/// `dcmask audit verify` of the run's log: exit code and what it said.
fn verify_log(env: &cli::Sandbox) -> (Option<i32>, String) {
    let r = env.dcmask(&["audit", "verify", log(env).to_str().unwrap()]);
    (
        r.status.code(),
        String::from_utf8_lossy(&r.stdout).into_owned(),
    )
}

#[test]
fn the_report_of_a_run_has_its_evidence_and_no_original_value() {
    let env = sandbox(6);
    anonymize(&env);
    let (out, input) = (env.path("out"), env.path("in"));
    let release = env.path("release.json");
    std::fs::write(
        &release,
        r#"{"recipient":"Trial office","purpose":"model training","agreement":"DUA-2026-7","valid_until":"2027-12-31","expert":"Dr. A. Expert, PhD"}"#,
    )
    .unwrap();
    let common = [
        out.to_str().unwrap(),
        "--originals",
        input.to_str().unwrap(),
        "--release",
        release.to_str().unwrap(),
        "--quasi-identifiers",
        "PatientAge,PatientSex",
    ];
    let html = String::from_utf8(env.ok(&[&["report"], &common[..]].concat()).stdout).unwrap();
    let json_text = String::from_utf8(
        env.ok(&[&["report", "--json"], &common[..]].concat())
            .stdout,
    )
    .unwrap();
    let json: Value = serde_json::from_str(&json_text).unwrap();

    // Dataset identity: six patients, studies, series and instances, CT.
    let d = &json["dataset"];
    assert_eq!(
        (&d["patients"], &d["studies"], &d["series"], &d["instances"]),
        (&6.into(), &6.into(), &6.into(), &6.into())
    );
    assert_eq!(d["modalities"]["CT"], 6);
    assert_eq!(d["sop_classes"][0]["name"], "CT Image Storage");
    // The content digest is the run's audit entry's digest of its outputs.
    let log = std::fs::read_to_string(log(&env)).unwrap();
    let entry: Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(entry["action"], "batch");
    assert_eq!(d["content_digest"], entry["outputs"]);
    assert_eq!(json["configuration_digest"], entry["config"]);
    assert_eq!(json["audit"]["head"], entry["hash"]);
    assert!(json["audit"]["entry"].as_str().unwrap().contains("matches"));
    // Release, decisions with rationale and source, the 18 categories.
    assert_eq!(json["release"]["agreement"], "DUA-2026-7");
    let rows = json["rows"].as_array().unwrap();
    let name = rows.iter().find(|r| r["tag"] == "(0010,0010)").unwrap();
    assert_eq!(name["rule"]["source"], "table");
    assert!(!name["rule"]["explanation"].as_str().unwrap().is_empty());
    assert_eq!(json["safe_harbor"].as_array().unwrap().len(), 18);
    let names = &json["safe_harbor"][0];
    assert_eq!(names["id"], "A");
    assert!(names["done"]
        .as_object()
        .unwrap()
        .values()
        .any(|n| n.as_u64() > Some(0)));
    // Risk before and after on the chosen quasi-identifiers; the check ran and is clean.
    let risk = &json["risk"];
    assert_eq!(risk["before"]["records"], 6);
    assert_eq!(risk["after"]["records"], 6);
    assert_eq!(risk["quasi_identifiers"].as_array().unwrap().len(), 2);
    assert_eq!(json["verify"]["ran"], true);
    assert_eq!(json["verify"]["findings"], 0, "{}", json["verify"]);
    assert_eq!(json["verify"]["originals"], 6);

    // The page: summary, Safe Harbor matrix, risk figures, check, signature block.
    for part in [
        "id=summary",
        "id=safe-harbor",
        "id=risk",
        "id=verify-result",
        "id=signature",
        "id=decisions",
        "<details",
        "@media print",
        "Trial office",
        "Prosecutor risk, maximum",
    ] {
        assert!(html.contains(part), "{part} missing");
    }
    assert_eq!(html.matches("data-category=").count(), 18);

    // No original value, in either form.
    for n in 0..6 {
        for (tag, _, v) in phi(n) {
            assert!(!html.contains(&v), "{tag}: an original value in the HTML");
            assert!(
                !json_text.contains(&v),
                "{tag}: an original value in the JSON"
            );
        }
    }
    for v in ["Quaintance", "Wilhelmina", "Bartholomew", "MRN77"] {
        assert!(!html.contains(v) && !json_text.contains(v), "{v}");
    }

    // Written to a file: the same page.
    let to = env.path("determination.html");
    env.ok(&[&["report", "-o", to.to_str().unwrap()], &common[..]].concat());
    let written = std::fs::read_to_string(&to).unwrap();
    assert!(written.contains("id=signature"));

    // A leaked name in OUT: the check finds it, the report says where (not what), exit 1.
    std::fs::write(out.join("notes.txt"), "seen: Quaintance3 Zebulon").unwrap();
    let r = env.dcmask(&[&["report", "--json"], &common[..]].concat());
    assert_eq!(r.status.code(), Some(1));
    let text = String::from_utf8(r.stdout).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    assert!(json["verify"]["findings"].as_u64().unwrap() >= 1);
    assert_eq!(json["verify"]["listed"][0]["file"], "notes.txt");
    assert!(!text.contains("Quaintance") && !text.contains("Zebulon"));
}

#[test]
fn without_originals_the_check_and_risk_before_say_they_were_not_run() {
    let env = sandbox(2);
    anonymize(&env);
    let out = env.path("out");
    let r = env.ok(&["report", out.to_str().unwrap(), "--json"]);
    let json: Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(json["verify"]["ran"], false);
    assert!(json["verify"]["not_run"]
        .as_str()
        .unwrap()
        .contains("--originals"));
    assert!(json["risk"].get("before").is_none());
    assert!(json["risk"]["before_note"]
        .as_str()
        .unwrap()
        .contains("originals"));
    assert_eq!(json["risk"]["after"]["records"], 2);
    // A changed output no longer matches the run's entry.
    let report: Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let file = out.join(report["files"][0]["output"].as_str().unwrap());
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&file, bytes).unwrap();
    let r = env.ok(&["report", out.to_str().unwrap(), "--json"]);
    let json: Value = serde_json::from_slice(&r.stdout).unwrap();
    assert!(json["audit"]["entry"]
        .as_str()
        .unwrap()
        .contains("does NOT match"));
}

#[test]
fn audit_verify_finds_a_changed_removed_or_reordered_entry() {
    let env = sandbox(1);
    // Three runs into the same output: three entries in one log.
    for _ in 0..3 {
        anonymize(&env);
    }
    let (code, said) = verify_log(&env);
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("3 entries, intact"), "{said}");
    let intact = std::fs::read_to_string(log(&env)).unwrap();
    let lines: Vec<&str> = intact.lines().collect();
    let head: Value = serde_json::from_str(lines[2]).unwrap();
    let write = |lines: &[String]| {
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(log(&env), text).unwrap();
    };
    let owned = || lines.iter().map(|l| l.to_string()).collect::<Vec<_>>();

    // Changed: a count edited.
    let mut changed = owned();
    changed[1] = changed[1].replace("\"ok\":1", "\"ok\":2");
    assert_ne!(changed[1], lines[1]);
    write(&changed);
    let (code, said) = verify_log(&env);
    assert_eq!(code, Some(1));
    assert!(
        said.contains("entry 2") && said.contains("changed"),
        "{said}"
    );

    // Removed.
    let mut removed = owned();
    removed.remove(1);
    write(&removed);
    let (code, said) = verify_log(&env);
    assert_eq!(code, Some(1));
    assert!(said.contains("entry 2"), "{said}");

    // Reordered.
    let mut reordered = owned();
    reordered.swap(0, 1);
    write(&reordered);
    let (code, said) = verify_log(&env);
    assert_eq!(code, Some(1));
    assert!(said.contains("entry 1"), "{said}");

    // The last one removed: only the head a report cited shows it.
    write(&owned()[..2]);
    assert_eq!(verify_log(&env).0, Some(0));
    let r = env.dcmask(&[
        "audit",
        "verify",
        log(&env).to_str().unwrap(),
        "--head",
        head["hash"].as_str().unwrap(),
    ]);
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stdout).contains("not in the log"));

    // A log whose last entry is damaged is not appended to: the next run says so and
    // exits 1.
    let mut damaged = owned();
    damaged[2] = damaged[2].replace("\"ok\":1", "\"ok\":2");
    write(&damaged);
    let r = env.anonymize(&[]);
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("audit log"));
    assert_eq!(
        std::fs::read_to_string(log(&env)).unwrap().lines().count(),
        3
    );
}
