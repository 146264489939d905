//! What the report says was decided: by the profile, by hand (edits, removals, boxes),
//! and the files whose pixels may carry text.

use super::support::{node, region_rules, with_ids};
use super::*;
use dicom_core::{DataElement, VR};
use dicom_dictionary_std::tags;

/// One rule of the shipped columns: a banner across the top of every OT image.
const BANNER: &str = "site banner,\"equals(Modality,\"\"OT\"\")\",0,0,2,1\n";

/// The broken file that stops `serve` before it listens: tests/server.rs.
#[tokio::test]
async fn region_rules_file_adds_boxes_to_the_proposal() {
    let dir = tempfile::tempdir().unwrap();
    let t = start_with(&[], None, region_rules(dir.path(), BANNER));
    let sid = t.session().await;
    let opened = t.upload_named(&sid, &[("a.dcm", with_ids(&[]))]).await;
    let fid = opened["files"][0]["id"].as_str().unwrap().to_string();
    let r = t
        .json("GET", &format!("/api/sessions/{sid}/files/{fid}/boxes"), "")
        .await;
    let boxes = r.json();
    assert_eq!(r.status, 200, "{boxes}");
    let found = boxes["boxes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|b| b["x0"] == 0 && b["y0"] == 0 && b["x1"] == 2 && b["y1"] == 1);
    assert!(found, "the user's rule is not proposed: {boxes}");
    // The +Pixel rule count the workbench shows includes the user's rule.
    let profiles = t.json("GET", "/api/profiles", "").await.json();
    let pixel = profiles["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "pixel")
        .unwrap()
        .clone();
    let shipped = dcmask_engine::rule_list(&dcmask_engine::Plan::builtin(
        dcmask_engine::ProfileId::Pixel,
    ))
    .len();
    assert_eq!(pixel["rule_count"], shipped + 1, "{pixel}");
}

#[tokio::test]
async fn apply_names_files_whose_pixels_may_carry_burned_in_text() {
    let t = start(&[], None);
    let sid = t.session().await;
    let us = with_ids(&[
        DataElement::new(tags::MODALITY, VR::CS, "US"),
        DataElement::new(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.6.1"),
        DataElement::new(tags::BURNED_IN_ANNOTATION, VR::CS, "YES"),
    ]);
    let ct = with_ids(&[
        DataElement::new(tags::MODALITY, VR::CS, "CT"),
        DataElement::new(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.2"),
        DataElement::new(tags::BURNED_IN_ANNOTATION, VR::CS, "NO"),
    ]);
    t.upload_named(&sid, &[("us.dcm", us), ("ct.dcm", ct)])
        .await;
    let apply = format!("/api/sessions/{sid}/apply");
    let r = t.json("POST", &apply, r#"{"profile":"basic"}"#).await;
    assert_eq!(r.status, 200, "{}", r.json());
    let r = r.json();
    let flagged = r["burned_in"].as_array().unwrap();
    assert_eq!(flagged.len(), 1, "{r}");
    assert_eq!(flagged[0]["id"], "f1");
    assert_eq!(flagged[0]["name"], "file-1.dcm");
    let reason = flagged[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("Burned In Annotation (0028,0301) is YES"),
        "{reason}"
    );
    assert_eq!(r["state"]["files"][0]["burned_in"], reason);
    assert!(r["state"]["files"][1].get("burned_in").is_none());
    // The report lists it too.
    let report = t
        .json("GET", &format!("/api/sessions/{sid}/report.json"), "")
        .await
        .json();
    assert_eq!(report["burned_in"][0]["file"], "file-1.dcm");
    assert_eq!(report["burned_in"][0]["reason"], reason);
    // +Pixel cleans pixels: nothing to warn about from the header.
    let p = t.json("POST", &apply, r#"{"profile":"pixel"}"#).await;
    assert_eq!(p.status, 200, "{}", p.json());
    let p = p.json();
    assert_eq!(p["burned_in"], serde_json::json!([]), "{p}");
    assert!(p["state"]["files"][0].get("burned_in").is_none());
    // Undo brings back the Basic result and its warning.
    let undone = t
        .json("POST", &format!("/api/sessions/{sid}/undo"), "")
        .await
        .json();
    assert_eq!(undone["files"][0]["burned_in"], reason);
}

#[tokio::test]
async fn changes_by_hand_are_decisions_in_the_report() {
    let t = start(&[], None);
    let sid = t.session().await;
    let series_number = DataElement::new(tags::SERIES_NUMBER, VR::IS, "3");
    t.upload_named(&sid, &[("a.dcm", with_ids(&[series_number]))])
        .await;
    let element = format!("/api/sessions/{sid}/files/f1/element");
    let report_json = format!("/api/sessions/{sid}/report.json");
    // Before Apply: carried into what Apply starts from, and into its report.
    let r = t
        .json(
            "PUT",
            &element,
            r#"{"path":"0008,0060","value":"CT","note":"modality was mislabelled"}"#,
        )
        .await;
    let state = r.json();
    assert_eq!(r.status, 200, "{state}");
    assert_eq!(state["modified"], 1);
    assert_eq!(
        state["modified_by"],
        serde_json::json!({"profile": 0, "hand": 1})
    );
    let r = t.apply(&sid, r#"{"profile":"basic"}"#).await;
    assert_eq!(r.status, 200);
    let applied = r.json();
    let by = &applied["changed_by"];
    assert_eq!(by["hand"], 1, "{applied}");
    assert_eq!(
        applied["changed"],
        by["profile"].as_u64().unwrap() + 1,
        "one count: {applied}"
    );
    assert_eq!(applied["changed"], applied["state"]["modified"]);
    // After Apply: a removal with a reason.
    let remove = format!("{element}/remove");
    let r = t
        .json("POST", &remove, r#"{"path":"0028,0301","note":""}"#)
        .await;
    assert_eq!(r.status, 404, "absent element: {}", r.json());
    let r = t
        .json(
            "POST",
            &remove,
            r#"{"path":"0020,0011","note":"series number not needed"}"#,
        )
        .await;
    let state = r.json();
    assert_eq!(r.status, 200, "{state}");
    assert_eq!(state["undo_label"], "Remove ((0020,0011))");
    let r = t.json("POST", &remove, r#"{"path":"0008,0018"}"#).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["error"],
        "SOP Instance UID is required and cannot be removed"
    );

    let tree = t
        .json("GET", &format!("/api/sessions/{sid}/files/f1/tree"), "")
        .await
        .json();
    assert_eq!(
        tree["modified"], state["modified"],
        "Edit mode counts the same"
    );
    assert_eq!(tree["modified_by"], state["modified_by"]);
    assert_eq!(node(&tree, "(0008,0060)")["by"], "hand");
    assert_eq!(node(&tree, "(0020,0011)")["by"], "hand");
    assert_eq!(node(&tree, "(0020,0011)")["status"], "removed");
    assert_eq!(node(&tree, "(0010,0020)")["by"], "profile");
    assert!(node(&tree, "(0008,0016)").get("by").is_none());

    let r = t.json("GET", &report_json, "").await;
    assert_eq!(r.status, 200);
    let report = r.json();
    let manual = report["manual"].as_array().unwrap();
    assert_eq!(manual.len(), 2, "{report}");
    assert_eq!(manual[0]["path"], "0008,0060");
    assert_eq!(manual[0]["action"], "edit");
    assert_eq!(manual[0]["file"], "file-1.dcm");
    assert_eq!(manual[0]["rule"]["source"], "manual");
    assert_eq!(manual[0]["rule"]["id"], "manual");
    assert_eq!(manual[0]["rule"]["note"], "modality was mislabelled");
    assert_eq!(manual[1]["path"], "0020,0011");
    assert_eq!(manual[1]["action"], "remove");
    for m in manual {
        let t = m["time"].as_str().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(t).is_ok(), "{t}");
    }
    // The decisions never hold the value typed; the dataset's modality counts are the
    // one place a modality code is (vocabulary of the output, not of the patient).
    for part in ["manual", "rows", "safe_harbor", "risk", "verify"] {
        assert!(
            !report[part].to_string().contains("\"CT\""),
            "{part}: never the value"
        );
    }
    assert_eq!(report["dataset"]["modalities"]["CT"], 1);
    let c = &report["changed"];
    assert_eq!(c["total"], state["modified"]);
    assert_eq!(c["by_hand"], 2);
    let rows: u64 = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["changed"].as_u64().unwrap())
        .sum();
    assert_eq!(
        rows + c["not_in_rows"].as_u64().unwrap(),
        c["total"].as_u64().unwrap()
    );
    let row = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["tag"] == "(0020,0011)" && r["rule"]["source"] == "manual")
        .cloned()
        .unwrap();
    assert_eq!(row["changed"], 1);
    let html = t
        .bare(
            &format!("/api/sessions/{sid}/report.html?token={TOKEN}"),
            &[],
        )
        .await;
    let html = String::from_utf8(html.body.to_vec()).unwrap();
    assert!(html.contains("series number not needed"));
    assert!(html.contains(manual[1]["time"].as_str().unwrap()));

    // Undo takes the decision with the change.
    t.json("POST", &format!("/api/sessions/{sid}/undo"), "")
        .await;
    let report = t.json("GET", &report_json, "").await.json();
    assert_eq!(report["manual"].as_array().unwrap().len(), 1);
    assert_eq!(report["changed"]["by_hand"], 1);
}

/// Applies `plan` (it must succeed) and returns the report.
async fn apply_then_report(t: &Test, sid: &str, plan: &str) -> Value {
    let r = t
        .json("POST", &format!("/api/sessions/{sid}/apply"), plan)
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    t.json("GET", &format!("/api/sessions/{sid}/report.json"), "")
        .await
        .json()
}

#[tokio::test]
async fn boxes_drawn_or_switched_off_are_decisions_of_the_apply_that_cleans_pixels() {
    let dir = tempfile::tempdir().unwrap();
    let t = start_with(&[], None, region_rules(dir.path(), BANNER));
    let sid = t.session().await;
    t.upload_named(&sid, &[("a.dcm", with_ids(&[]))]).await;
    let r = t
        .json(
            "PUT",
            &format!("/api/sessions/{sid}/files/f1/boxes"),
            r#"{"manual":[{"x0":1,"y0":1,"x1":2,"y1":2}],"disabled":["rule-0"],"note":"banner holds no name"}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    // Basic leaves the pixels alone: the boxes decided nothing.
    let report = apply_then_report(&t, &sid, r#"{"profile":"basic"}"#).await;
    assert_eq!(report["manual"], serde_json::json!([]), "{report}");
    let report = apply_then_report(&t, &sid, r#"{"profile":"pixel"}"#).await;
    let manual = report["manual"].as_array().unwrap();
    assert_eq!(manual.len(), 2, "{report}");
    let drawn = &manual[0];
    assert_eq!(drawn["action"], "blank_region");
    assert_eq!(drawn["path"], "7FE0,0010");
    assert_eq!(drawn["region"]["x0"], 1);
    assert_eq!(drawn["rule"]["note"], "banner holds no name");
    let kept = &manual[1];
    assert_eq!(kept["action"], "keep_region");
    assert_eq!(
        (kept["region"]["x1"].as_u64(), kept["region"]["y1"].as_u64()),
        (Some(2), Some(1))
    );
    // Pixel Data changed by the drawn box: counted by hand.
    let state = t
        .json("GET", &format!("/api/sessions/{sid}/state"), "")
        .await
        .json();
    assert_eq!(report["changed"]["by_hand"], 1, "{report}");
    assert_eq!(state["modified_by"]["hand"], 1);
}

#[tokio::test]
async fn removing_a_sequence_item_is_one_decision_for_all_it_shifts() {
    use dicom_core::value::DataSetSequence;
    use dicom_core::Length;
    use dicom_object::InMemDicomObject;
    let item = |uid: &str| {
        InMemDicomObject::from_element_iter([DataElement::new(
            tags::SERIES_INSTANCE_UID,
            VR::UI,
            uid,
        )])
    };
    let seq = DataElement::new(
        tags::REFERENCED_SERIES_SEQUENCE,
        VR::SQ,
        DataSetSequence::new(vec![item("1.2.9.1"), item("1.2.9.2")], Length::UNDEFINED),
    );
    let t = start(&[], None);
    let sid = t.session().await;
    t.upload_named(&sid, &[("a.dcm", with_ids(&[seq]))]).await;
    let r = t
        .json(
            "POST",
            &format!("/api/sessions/{sid}/files/f1/element/remove"),
            r#"{"path":"0008,1115/0","note":"other patient's series"}"#,
        )
        .await;
    let state = r.json();
    assert_eq!(r.status, 200, "{state}");
    assert_eq!(state["undo_label"], "Remove item ((0008,1115))");
    // Item 0 now holds the old item 1 (one value differs), item 1 is gone.
    assert_eq!(state["modified"], 2);
    assert_eq!(state["modified_by"]["hand"], 2);
    let tree = t
        .json("GET", &format!("/api/sessions/{sid}/files/f1/tree"), "")
        .await
        .json();
    let seq = node(&tree, "(0008,1115)");
    assert_eq!(seq["status"], "modified");
    assert_eq!(seq["items"][1][0]["status"], "removed");
    let r = t
        .json("GET", &format!("/api/sessions/{sid}/report.json"), "")
        .await;
    let report = r.json();
    assert_eq!(r.status, 200, "edits alone make a report: {report}");
    assert_eq!(report["manual"][0]["action"], "remove_item");
    assert_eq!(report["manual"][0]["path"], "0008,1115/0");
    let row = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"]["source"] == "manual")
        .cloned()
        .unwrap();
    assert_eq!(
        (row["tag"].as_str(), row["changed"].as_u64()),
        (Some("(0008,1115)"), Some(2))
    );
    assert_eq!(report["changed"]["not_in_rows"], 0);
}
