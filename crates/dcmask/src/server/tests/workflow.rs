//! The token and Host guards, and a session's way: open, apply, edit, undo, export.

use super::support::{node, with_ids};
use super::*;

#[tokio::test]
async fn api_calls_need_the_token_and_our_host() {
    let t = start(&[], None);
    assert_eq!(t.bare("/api/profiles", &[]).await.status, 401);
    let wrong = [("x-dcmask-token", "wrong")];
    assert_eq!(t.bare("/api/profiles", &wrong).await.status, 401);
    let right = [("x-dcmask-token", TOKEN)];
    assert_eq!(t.bare("/api/profiles", &right).await.status, 200);
    let q = format!("/api/profiles?token={TOKEN}");
    assert_eq!(t.bare(&q, &[]).await.status, 200);
    let evil = [("host", "attacker.example:80")];
    assert_eq!(
        t.call("GET", "/api/profiles", &evil, Body::empty())
            .await
            .status,
        403
    );
    // The page itself needs no token but still checks the host.
    assert_eq!(t.bare("/", &[]).await.status, 200);
    let r = t.json("GET", "/api/sessions/nope/state", "").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"], "session not found");
}

#[tokio::test]
async fn open_apply_undo_edit_export() {
    let t = start(&[], None);
    let sid = t.session().await;
    let opened = t
        .upload_named(
            &sid,
            &[
                ("a.dcm", with_ids(&[])),
                ("notes.txt", b"hello, not DICOM".to_vec()),
            ],
        )
        .await;
    // The answer lists what changed: the file opened and the one refused.
    assert_eq!(opened["files"].as_array().unwrap().len(), 1);
    assert!(opened.get("state").is_none());
    assert_eq!(opened["rejected"][0]["name"], "notes.txt");
    assert!(opened["rejected"][0]["error"]
        .as_str()
        .unwrap()
        .starts_with("not a DICOM file"));

    // A bad plan is refused with a reason.
    let apply = format!("/api/sessions/{sid}/apply");
    let r = t
        .json(
            "POST",
            &apply,
            r#"{"profile":"custom","custom_rules":[{"id":"(0008,103E)","act":"explode"}]}"#,
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("rule 1"));

    let plan = r#"{"profile":"custom","custom_rules":[{"id":"(0008,103E)","act":"remove"},{"id":"(0010,0010)","act":"keep"}]}"#;
    let r = t.json("POST", &apply, plan).await;
    let applied = r.json();
    assert_eq!(r.status, 200, "{applied}");
    assert!(applied["state"]["modified"].as_u64().unwrap() > 3);
    assert_eq!(applied["state"]["can_undo"], true);

    let tree = t
        .json("GET", &format!("/api/sessions/{sid}/files/f1/tree"), "")
        .await
        .json();
    assert_eq!(node(&tree, "(0008,103E)")["status"], "removed");
    assert_eq!(node(&tree, "(0010,0010)")["status"], "unchanged");
    assert_eq!(node(&tree, "(0010,0010)")["value"], "Quimby^Harriet");
    assert_eq!(node(&tree, "(0010,0020)")["status"], "modified");
    assert!(node(&tree, "(0020,000D)")["value"]
        .as_str()
        .unwrap()
        .starts_with("2.25."));

    // Edits are validated and undoable.
    let element = format!("/api/sessions/{sid}/files/f1/element");
    let r = t
        .json("PUT", &element, r#"{"path":"0008,0018","value":""}"#)
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["error"],
        "SOP Instance UID is required and cannot be emptied"
    );
    let r = t
        .json("PUT", &element, r#"{"path":"0008,0060","value":"CT"}"#)
        .await;
    assert_eq!(r.status, 200);
    let undo = format!("/api/sessions/{sid}/undo");
    let undone = t.json("POST", &undo, "").await.json();
    assert_eq!(undone["applied"], "custom");
    let undone = t.json("POST", &undo, "").await.json();
    assert_eq!(undone["modified"], 0);
    assert_eq!(undone["can_redo"], true);
    let redone = t
        .json("POST", &format!("/api/sessions/{sid}/redo"), "")
        .await
        .json();
    assert_eq!(redone["applied"], "custom");

    // The exported file is the staged one.
    let dcm = t
        .bare(
            &format!("/api/sessions/{sid}/files/f1/export?token={TOKEN}"),
            &[],
        )
        .await;
    assert_eq!(dcm.status, 200);
    let dcm = &dcm.body;
    assert_eq!(&dcm[128..132], b"DICM");
    assert!(!dcm.windows(10).any(|w| w == b"PID-778899"));
    assert!(!dcm.windows(11).any(|w| w == b"HEAD SERIES"));
    let html = t
        .bare(
            &format!("/api/sessions/{sid}/report.html?token={TOKEN}"),
            &[],
        )
        .await;
    assert_eq!(html.status, 200);
    let html = String::from_utf8(html.body.to_vec()).unwrap();
    assert!(html.contains("(0008,103E)") && html.contains("custom rule: remove"));
    assert!(!html.contains("Quimby") && !html.contains("PID-778899"));
}

/// A rule file with `generalize` goes through the page's load and save unchanged, and
/// its rule applies; the Add-rule list does not offer it (no field for `to` yet).
#[tokio::test]
async fn generalize_rules_round_trip_through_the_workbench() {
    let t = start(&[], None);
    let file = r#"[{"id":"(0010,1010)","act":"generalize","to":"10y","note":"bands"},{"id":"(0008,103E)","act":"remove"}]"#;
    let r = t.json("POST", "/api/rules/parse", file).await;
    let parsed = r.json();
    assert_eq!(r.status, 200, "{parsed}");
    assert_eq!(parsed["rules"][0]["to"], "10y");
    let body = serde_json::json!({ "rules": parsed["rules"] }).to_string();
    let saved = t.json("POST", "/api/rules/serialize", &body).await;
    assert_eq!(saved.status, 200);
    assert_eq!(String::from_utf8(saved.body.to_vec()).unwrap(), file);
    let profiles = t.json("GET", "/api/profiles", "").await.json();
    let actions: Vec<&str> = profiles["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "keep",
            "remove",
            "empty",
            "replace",
            "pseudonymize",
            "generalize"
        ]
    );
    assert_eq!(profiles["actions"][5]["needs_to"], true);

    let sid = t.session().await;
    let age = dicom_core::DataElement::new(
        dicom_dictionary_std::tags::PATIENT_AGE,
        dicom_core::VR::AS,
        "047Y",
    );
    t.upload_named(&sid, &[("a.dcm", with_ids(&[age]))]).await;
    let plan = format!(r#"{{"profile":"custom","custom_rules":{file}}}"#);
    let r = t
        .json("POST", &format!("/api/sessions/{sid}/apply"), &plan)
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let tree = t
        .json("GET", &format!("/api/sessions/{sid}/files/f1/tree"), "")
        .await
        .json();
    let age = node(&tree, "(0010,1010)");
    assert_eq!(age["value"], "040Y", "{age}");
}

/// The server's private folders under `tmp`.
fn private_folders(tmp: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(tmp)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("dcmask-serve-"))
        })
        .collect()
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            out.extend(files_under(&e.path()));
        } else if e.file_name() != ".lock" {
            out.push(e.path());
        }
    }
    out
}

/// Files open when the server stops: tests/server.rs (a real process, stopped).
#[tokio::test]
async fn uploads_are_private_files_deleted_with_the_session() {
    use std::os::unix::fs::PermissionsExt;
    let t = start(&[], None);
    let folders = private_folders(t._tmp.path());
    assert_eq!(folders, [t.app.store.root()], "{folders:?}");
    let root = folders[0].clone();
    assert_eq!(
        std::fs::metadata(&root).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let sid = t.session().await;
    t.upload_named(&sid, &[("Quimby Harriet.dcm", with_ids(&[]))])
        .await;
    let files = files_under(&root);
    assert_eq!(files.len(), 1, "{files:?}");
    // Named by a counter, never by what was sent.
    let name = files[0].file_name().unwrap().to_str().unwrap().to_string();
    assert!(
        name.starts_with('u') && name[1..].bytes().all(|b| b.is_ascii_digit()),
        "{name}"
    );
    let session_dir = files[0].parent().unwrap().to_path_buf();
    assert_eq!(
        std::fs::metadata(&session_dir)
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    let r = t.json("DELETE", &format!("/api/sessions/{sid}"), "").await;
    assert_eq!(r.status, 200);
    let mut gone = false;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        if !session_dir.exists() {
            gone = true;
            break;
        }
    }
    assert!(gone, "the session's folder outlives it");
}
