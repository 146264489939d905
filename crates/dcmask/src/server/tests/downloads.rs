//! What leaves the workbench: the export zip (safe to share), the linkage (apart, with
//! the original identifiers), and the audit trail both are written to.

use super::support::{contains, with_ids, zip_entries, ORIGINAL_IDS};
use super::*;

#[tokio::test]
async fn export_zip_is_safe_to_share_and_linkage_is_apart() {
    let t = start(&[], None);
    let sid = t.session().await;
    t.upload_named(&sid, &[("a.dcm", with_ids(&[])), ("b.dcm", with_ids(&[]))])
        .await;
    let linkage = format!("/api/sessions/{sid}/linkage.zip?token={TOKEN}");
    let r = t.json("GET", &linkage, "").await;
    assert_eq!(r.status, 400, "no linkage before Apply: {}", r.json());
    let r = t.apply(&sid, r#"{"profile":"basic"}"#).await;
    assert_eq!(r.status, 200);

    let r = t.export(&sid).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), "no-store");
    // The raw archive and every entry decompressed: no original identifier anywhere.
    for id in ORIGINAL_IDS {
        assert!(!contains(&r.body, id), "{id} in the zip bytes");
    }
    let entries = zip_entries(&r.body);
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["file-1.dcm", "file-2.dcm", "report.json", "report.html"]
    );
    for (name, content) in &entries {
        for id in ORIGINAL_IDS {
            assert!(!contains(content, id), "{id} in {name}");
        }
    }
    let report: Value = serde_json::from_slice(&entries[2].1).unwrap();
    assert_eq!(report["files"], 2);
    assert_eq!(report["profile"], "Basic");

    // The linkage: its own download, token-protected, not cached.
    let refused = t
        .bare(&format!("/api/sessions/{sid}/linkage.zip"), &[])
        .await;
    assert_eq!(refused.status, 401, "the linkage needs the token");
    assert!(!contains(&refused.body, "PID-778899"));
    let r = t.bare(&linkage, &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), "no-store");
    let disposition = r.header("content-disposition");
    assert!(
        disposition.contains("filename=\"dcmask-linkage.zip\""),
        "{disposition}"
    );
    let entries = zip_entries(&r.body);
    let file = |n: &str| {
        String::from_utf8(
            entries
                .iter()
                .find(|(name, _)| name == n)
                .unwrap()
                .1
                .clone(),
        )
        .unwrap()
    };
    assert!(file("README.txt").contains("CONTAINS ORIGINAL IDENTIFIERS"));
    assert!(file("README.txt").contains("Keep it apart from the data"));
    let pat = file("patid_mapping.csv");
    assert!(pat.starts_with("id_old,id_new\nPID-778899,"), "{pat}");
    let uids = file("uid_mapping.csv");
    assert!(uids.starts_with("id_old,id_new\n"), "{uids}");
    assert!(
        uids.contains("\n1.2.3.4.5,2.25.") && uids.contains("\n1.2.3.4.5.6.7,2.25."),
        "{uids}"
    );
}

#[tokio::test]
async fn the_guard_knows_what_other_files_of_the_patient_say() {
    use dicom_core::value::DataSetSequence;
    use dicom_core::{DataElement, VR};
    use dicom_dictionary_std::tags;
    use dicom_object::InMemDicomObject;
    let t = start(&[], None);
    let sid = t.session().await;
    // Only the first file names the patient's birth name; the second repeats it in a code
    // the Basic Profile keeps.
    let first = with_ids(&[DataElement::new(
        tags::PATIENT_BIRTH_NAME,
        VR::PN,
        "Fairweather^Harriet",
    )]);
    let mut item = InMemDicomObject::new_empty();
    item.put_str(tags::CODE_VALUE, VR::SH, "P1");
    item.put_str(tags::CODING_SCHEME_DESIGNATOR, VR::SH, "99LOCAL");
    item.put_str(tags::CODE_MEANING, VR::LO, "CT for Mrs Fairweather");
    let second = with_ids(&[
        DataElement::new(tags::SOP_INSTANCE_UID, VR::UI, "1.2.3.4.5.6.8"),
        DataElement::new(
            tags::PROCEDURE_CODE_SEQUENCE,
            VR::SQ,
            DataSetSequence::from(vec![item]),
        ),
    ]);
    t.upload_named(&sid, &[("a.dcm", first), ("b.dcm", second)])
        .await;
    let r = t.apply(&sid, r#"{"profile":"basic"}"#).await;
    assert_eq!(r.status, 200);
    let zip = t.export(&sid).await;
    assert_eq!(zip.status, 200);
    for (name, content) in zip_entries(&zip.body) {
        assert!(!contains(&content, "Fairweather"), "in {name}");
        if name == "file-2.dcm" {
            let obj = dcmask_engine::io::read_object(&content).unwrap();
            let item = &obj
                .get(tags::PROCEDURE_CODE_SEQUENCE)
                .unwrap()
                .items()
                .unwrap()[0];
            let meaning = item.get(tags::CODE_MEANING).unwrap().to_str().unwrap();
            assert_eq!(meaning, "CT for Mrs");
        }
    }
}

#[tokio::test]
async fn apply_edit_and_export_are_in_the_audit_trail_the_report_cites() {
    let t = start(&[], None);
    let sid = t.session().await;
    t.upload_named(&sid, &[("a.dcm", with_ids(&[]))]).await;
    let r = t.apply(&sid, r#"{"profile":"basic"}"#).await;
    assert_eq!(r.status, 200);
    let r = t
        .json(
            "PUT",
            &format!("/api/sessions/{sid}/files/f1/element"),
            r#"{"path":"0008,0060","value":"CT"}"#,
        )
        .await;
    assert_eq!(r.status, 200);
    let zip = t.export(&sid).await;
    assert_eq!(zip.status, 200);
    let log_path = t.audit_log();
    let log = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let actions: Vec<&str> = lines
        .iter()
        .map(|l| l["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["apply", "edit", "export"]);
    for (a, b) in lines.iter().zip(&lines[1..]) {
        assert_eq!(b["prev"], a["hash"]);
    }
    assert_eq!(lines[0]["config"], lines[2]["config"], "one configuration");
    assert_ne!(
        lines[0]["outputs"], lines[1]["outputs"],
        "the edit changed a header"
    );
    // Never the session id (it grants access) nor a value of the file.
    for v in [
        sid.as_str(),
        "Quimby",
        "PID-778899",
        "20051130",
        "1.2.3.4.5",
    ] {
        assert!(!log.contains(v), "{v} in the audit log");
    }
    // The report in the export zip cites the export entry as the head.
    let entries = zip_entries(&zip.body);
    let (_, report) = entries.iter().find(|(n, _)| n == "report.json").unwrap();
    let report: Value = serde_json::from_slice(report).unwrap();
    assert_eq!(report["audit"]["head"], lines[2]["hash"]);
    assert_eq!(report["audit"]["entries"], 3);
    assert_eq!(report["dataset"]["content_digest"], lines[2]["outputs"]);
    assert!(
        !entries.iter().any(|(n, _)| n.contains("audit")),
        "the log stays apart"
    );
    // `dcmask audit verify` agrees.
    let verify = crate::audit::AuditArgs {
        action: crate::audit::AuditAction::Verify {
            log: log_path,
            head: None,
        },
    };
    assert_eq!(
        crate::audit::run(verify).unwrap(),
        std::process::ExitCode::SUCCESS
    );
}
