//! The workbench server's guards and API, over real HTTP against the built binary.

#[path = "../../../tests/support/corpus.rs"]
mod corpus;
mod hostile;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

struct Server {
    child: Child,
    addr: String,
    token: String,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn start() -> Server {
    start_with(&[])
}

fn start_with(extra: &[&str]) -> Server {
    start_in(extra, None)
}

/// A server whose temporary directory is `tmp` (by default its own data folder, removed
/// with the test's folder even when the server is killed).
fn start_in(extra: &[&str], tmp: Option<&std::path::Path>) -> Server {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_dcmask"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .args(extra)
        .env("DCMASK_DATA_DIR", data.path())
        .env("TMPDIR", tmp.unwrap_or(data.path()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("dcmask workbench: http://")
        .expect("URL line")
        .to_string();
    let (addr, token) = url.split_once("/?token=").unwrap();
    Server {
        child,
        addr: addr.to_string(),
        token: token.to_string(),
        _data: data,
    }
}

/// One HTTP/1.1 request; returns (status, body).
fn request(
    s: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<u8>) {
    let (status, _, body) = request_head(s, method, path, headers, body);
    (status, body)
}

/// One HTTP/1.1 request; returns (status, response head in lower case, body).
fn request_head(
    s: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let mut stream = TcpStream::connect(&s.addr).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        head.push_str(&format!("Host: {}\r\n", s.addr));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let status = head[9..12].parse().unwrap();
    let mut body = raw[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    (status, head, body)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let n = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
        b = &b[eol + 4 + n..];
    }
}

fn json(s: &Server, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
    let (status, body) = request(
        s,
        method,
        path,
        &[
            ("X-Dcmask-Token", &s.token),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    );
    (
        status,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}

/// A small secondary capture with PHI, built in memory (modality OT, Burned In
/// Annotation absent: pixels that may carry text).
fn sample() -> Vec<u8> {
    sample_with(&[])
}

/// [`sample`] with more elements (or replacements).
fn sample_with(extra: &[dicom_core::DataElement<dicom_object::InMemDicomObject>]) -> Vec<u8> {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::tags;
    use dicom_object::{meta::FileMetaTableBuilder, InMemDicomObject};
    let obj = InMemDicomObject::from_element_iter([
        DataElement::new(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.7"),
        DataElement::new(tags::SOP_INSTANCE_UID, VR::UI, "1.2.3.4.5.6.7"),
        DataElement::new(tags::STUDY_DATE, VR::DA, "20051130"),
        DataElement::new(tags::MODALITY, VR::CS, "OT"),
        DataElement::new(tags::SERIES_DESCRIPTION, VR::LO, "HEAD SERIES"),
        DataElement::new(tags::PATIENT_NAME, VR::PN, "Quimby^Harriet"),
        DataElement::new(tags::PATIENT_ID, VR::LO, "PID-778899"),
        DataElement::new(tags::STUDY_INSTANCE_UID, VR::UI, "1.2.3.4.5"),
        DataElement::new(tags::SERIES_INSTANCE_UID, VR::UI, "1.2.3.4.5.6"),
        DataElement::new(tags::ROWS, VR::US, PrimitiveValue::from(2u16)),
        DataElement::new(tags::COLUMNS, VR::US, PrimitiveValue::from(2u16)),
        DataElement::new(tags::BITS_ALLOCATED, VR::US, PrimitiveValue::from(8u16)),
        DataElement::new(tags::BITS_STORED, VR::US, PrimitiveValue::from(8u16)),
        DataElement::new(tags::HIGH_BIT, VR::US, PrimitiveValue::from(7u16)),
        DataElement::new(tags::SAMPLES_PER_PIXEL, VR::US, PrimitiveValue::from(1u16)),
        DataElement::new(
            tags::PIXEL_REPRESENTATION,
            VR::US,
            PrimitiveValue::from(0u16),
        ),
        DataElement::new(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
        DataElement::new(
            tags::PIXEL_DATA,
            VR::OB,
            PrimitiveValue::from(vec![1u8, 2, 3, 4]),
        ),
    ]);
    let mut obj = obj;
    for e in extra {
        obj.put(e.clone());
    }
    let obj = obj
        .with_meta(FileMetaTableBuilder::new().transfer_syntax("1.2.840.10008.1.2.1"))
        .unwrap();
    let mut out = Vec::new();
    obj.write_all(&mut out).unwrap();
    out
}

fn upload(s: &Server, sid: &str, files: &[(&str, Vec<u8>)]) -> serde_json::Value {
    let boundary = "dcmaskboundary7";
    let mut body = Vec::new();
    for (name, bytes) in files {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let ctype = format!("multipart/form-data; boundary={boundary}");
    let (status, body) = request(
        s,
        "POST",
        &format!("/api/sessions/{sid}/files"),
        &[("X-Dcmask-Token", &s.token), ("Content-Type", &ctype)],
        &body,
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

#[test]
fn api_calls_need_the_token_and_our_host() {
    let s = start();
    assert_eq!(request(&s, "GET", "/api/profiles", &[], b"").0, 401);
    assert_eq!(
        request(
            &s,
            "GET",
            "/api/profiles",
            &[("X-Dcmask-Token", "wrong")],
            b""
        )
        .0,
        401
    );
    assert_eq!(
        request(
            &s,
            "GET",
            "/api/profiles",
            &[("X-Dcmask-Token", &s.token)],
            b""
        )
        .0,
        200
    );
    let q = format!("/api/profiles?token={}", s.token);
    assert_eq!(request(&s, "GET", &q, &[], b"").0, 200);
    let evil = [
        ("X-Dcmask-Token", s.token.as_str()),
        ("Host", "attacker.example:80"),
    ];
    assert_eq!(request(&s, "GET", "/api/profiles", &evil, b"").0, 403);
    // The page itself needs no token but still checks the host.
    assert_eq!(request(&s, "GET", "/", &[], b"").0, 200);
    let (status, body) = json(&s, "GET", "/api/sessions/nope/state", "");
    assert_eq!(status, 404);
    assert_eq!(body["error"], "session not found");
}

#[test]
fn open_apply_undo_edit_export() {
    let s = start();
    let (_, created) = json(&s, "POST", "/api/sessions", "");
    let sid = created["id"].as_str().unwrap().to_string();
    let opened = upload(
        &s,
        &sid,
        &[
            ("a.dcm", sample()),
            ("notes.txt", b"hello, not DICOM".to_vec()),
        ],
    );
    // The answer lists what changed: the file opened and the one refused.
    assert_eq!(opened["files"].as_array().unwrap().len(), 1);
    assert!(opened.get("state").is_none());
    assert_eq!(opened["rejected"][0]["name"], "notes.txt");
    assert!(opened["rejected"][0]["error"]
        .as_str()
        .unwrap()
        .starts_with("not a DICOM file"));

    // A bad plan is refused with a reason.
    let (status, body) = json(
        &s,
        "POST",
        &format!("/api/sessions/{sid}/apply"),
        r#"{"profile":"custom","custom_rules":[{"id":"(0008,103E)","act":"explode"}]}"#,
    );
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("rule 1"));

    let plan = r#"{"profile":"custom","custom_rules":[{"id":"(0008,103E)","act":"remove"},{"id":"(0010,0010)","act":"keep"}]}"#;
    let (status, applied) = json(&s, "POST", &format!("/api/sessions/{sid}/apply"), plan);
    assert_eq!(status, 200, "{applied}");
    assert!(applied["state"]["modified"].as_u64().unwrap() > 3);
    assert_eq!(applied["state"]["can_undo"], true);

    let (_, tree) = json(&s, "GET", &format!("/api/sessions/{sid}/files/f1/tree"), "");
    let node = |tag: &str| {
        tree["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["tag"] == tag)
            .cloned()
            .unwrap()
    };
    assert_eq!(node("(0008,103E)")["status"], "removed");
    assert_eq!(node("(0010,0010)")["status"], "unchanged");
    assert_eq!(node("(0010,0010)")["value"], "Quimby^Harriet");
    assert_eq!(node("(0010,0020)")["status"], "modified");
    assert!(node("(0020,000D)")["value"]
        .as_str()
        .unwrap()
        .starts_with("2.25."));

    // Edits are validated and undoable.
    let (status, err) = json(
        &s,
        "PUT",
        &format!("/api/sessions/{sid}/files/f1/element"),
        r#"{"path":"0008,0018","value":""}"#,
    );
    assert_eq!(status, 400);
    assert_eq!(
        err["error"],
        "SOP Instance UID is required and cannot be emptied"
    );
    let (status, _) = json(
        &s,
        "PUT",
        &format!("/api/sessions/{sid}/files/f1/element"),
        r#"{"path":"0008,0060","value":"CT"}"#,
    );
    assert_eq!(status, 200);
    let (_, undone) = json(&s, "POST", &format!("/api/sessions/{sid}/undo"), "");
    assert_eq!(undone["applied"], "custom");
    let (_, undone) = json(&s, "POST", &format!("/api/sessions/{sid}/undo"), "");
    assert_eq!(undone["modified"], 0);
    assert_eq!(undone["can_redo"], true);
    let (_, redone) = json(&s, "POST", &format!("/api/sessions/{sid}/redo"), "");
    assert_eq!(redone["applied"], "custom");

    // The exported file is the staged one.
    let (status, dcm) = request(
        &s,
        "GET",
        &format!("/api/sessions/{sid}/files/f1/export?token={}", s.token),
        &[],
        b"",
    );
    assert_eq!(status, 200);
    assert_eq!(&dcm[128..132], b"DICM");
    assert!(!dcm.windows(10).any(|w| w == b"PID-778899"));
    assert!(!dcm.windows(11).any(|w| w == b"HEAD SERIES"));
    let (status, html) = request(
        &s,
        "GET",
        &format!("/api/sessions/{sid}/report.html?token={}", s.token),
        &[],
        b"",
    );
    assert_eq!(status, 200);
    let html = String::from_utf8(html).unwrap();
    assert!(html.contains("(0008,103E)") && html.contains("custom rule: remove"));
    assert!(!html.contains("Quimby") && !html.contains("PID-778899"));
}

#[test]
fn region_rules_file_adds_boxes_to_the_proposal() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("regions.csv");
    std::fs::write(
        &rules,
        "label,condition,x0,y0,x1,y1\nsite banner,\"equals(Modality,\"\"OT\"\")\",0,0,2,1\n",
    )
    .unwrap();
    let s = start_with(&["--region-rules", rules.to_str().unwrap()]);
    let (_, created) = json(&s, "POST", "/api/sessions", "");
    let sid = created["id"].as_str().unwrap().to_string();
    let opened = upload(&s, &sid, &[("a.dcm", sample())]);
    let fid = opened["files"][0]["id"].as_str().unwrap().to_string();
    let (status, boxes) = json(
        &s,
        "GET",
        &format!("/api/sessions/{sid}/files/{fid}/boxes"),
        "",
    );
    assert_eq!(status, 200, "{boxes}");
    let found = boxes["boxes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|b| b["x0"] == 0 && b["y0"] == 0 && b["x1"] == 2 && b["y1"] == 1);
    assert!(found, "the user's rule is not proposed: {boxes}");
    // The +Pixel rule count the workbench shows includes the user's rule.
    let (_, profiles) = json(&s, "GET", "/api/profiles", "");
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

    // A broken file stops the server before it listens, naming the file's problem.
    std::fs::write(&rules, "x0,y0\n1,2\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dcmask"))
        .args(["serve", "--bind", "127.0.0.1:0", "--region-rules"])
        .arg(&rules)
        .env("DCMASK_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid region rules"));
}

fn new_session(s: &Server) -> String {
    let (_, created) = json(s, "POST", "/api/sessions", "");
    created["id"].as_str().unwrap().to_string()
}

/// Every entry of a zip, decompressed: (name, bytes).
fn zip_entries(bytes: Vec<u8>) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut f = archive.by_index(i).unwrap();
            let mut content = Vec::new();
            f.read_to_end(&mut content).unwrap();
            (f.name().unwrap().to_string(), content)
        })
        .collect()
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The identifiers of [`sample`]; none may be in what the export zip shares.
const ORIGINAL_IDS: [&str; 6] = [
    "PID-778899",
    "Quimby",
    "1.2.3.4.5.6.7",
    "1.2.3.4.5.6",
    "1.2.3.4.5",
    "HEAD SERIES",
];

#[test]
fn export_zip_is_safe_to_share_and_linkage_is_apart() {
    let s = start();
    let sid = new_session(&s);
    upload(&s, &sid, &[("a.dcm", sample()), ("b.dcm", sample())]);
    let linkage = format!("/api/sessions/{sid}/linkage.zip?token={}", s.token);
    let (status, err) = json(&s, "GET", &linkage, "");
    assert_eq!(status, 400, "no linkage before Apply: {err}");
    let (status, _) = json(
        &s,
        "POST",
        &format!("/api/sessions/{sid}/apply"),
        r#"{"profile":"basic"}"#,
    );
    assert_eq!(status, 200);

    let (status, head, zip) = request_head(
        &s,
        "GET",
        &format!("/api/sessions/{sid}/export.zip?token={}", s.token),
        &[],
        b"",
    );
    assert_eq!(status, 200);
    assert!(head.contains("cache-control: no-store"), "{head}");
    // The raw archive and every entry decompressed: no original identifier anywhere.
    for id in ORIGINAL_IDS {
        assert!(!contains(&zip, id), "{id} in the zip bytes");
    }
    let entries = zip_entries(zip);
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
    let report: serde_json::Value = serde_json::from_slice(&entries[2].1).unwrap();
    assert_eq!(report["files"], 2);
    assert_eq!(report["profile"], "Basic");

    // The linkage: its own download, token-protected, not cached.
    let (status, refused) = request(
        &s,
        "GET",
        &format!("/api/sessions/{sid}/linkage.zip"),
        &[],
        b"",
    );
    assert_eq!(status, 401, "the linkage needs the token");
    assert!(!contains(&refused, "PID-778899"));
    let (status, head, bytes) = request_head(&s, "GET", &linkage, &[], b"");
    assert_eq!(status, 200);
    assert!(head.contains("cache-control: no-store"), "{head}");
    assert!(head.contains("filename=\"dcmask-linkage.zip\""), "{head}");
    let entries = zip_entries(bytes);
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

#[test]
fn apply_names_files_whose_pixels_may_carry_burned_in_text() {
    use dicom_core::{DataElement, VR};
    use dicom_dictionary_std::tags;
    let s = start();
    let sid = new_session(&s);
    let us = sample_with(&[
        DataElement::new(tags::MODALITY, VR::CS, "US"),
        DataElement::new(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.6.1"),
        DataElement::new(tags::BURNED_IN_ANNOTATION, VR::CS, "YES"),
    ]);
    let ct = sample_with(&[
        DataElement::new(tags::MODALITY, VR::CS, "CT"),
        DataElement::new(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.2"),
        DataElement::new(tags::BURNED_IN_ANNOTATION, VR::CS, "NO"),
    ]);
    upload(&s, &sid, &[("us.dcm", us), ("ct.dcm", ct)]);
    let apply = |plan: &str| {
        let (status, r) = json(&s, "POST", &format!("/api/sessions/{sid}/apply"), plan);
        assert_eq!(status, 200, "{r}");
        r
    };
    let r = apply(r#"{"profile":"basic"}"#);
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
    let (_, report) = json(&s, "GET", &format!("/api/sessions/{sid}/report.json"), "");
    assert_eq!(report["burned_in"][0]["file"], "file-1.dcm");
    assert_eq!(report["burned_in"][0]["reason"], reason);
    // +Pixel cleans pixels: nothing to warn about from the header.
    let r = apply(r#"{"profile":"pixel"}"#);
    assert_eq!(r["burned_in"], serde_json::json!([]), "{r}");
    assert!(r["state"]["files"][0].get("burned_in").is_none());
    // Undo brings back the Basic result and its warning.
    let (_, undone) = json(&s, "POST", &format!("/api/sessions/{sid}/undo"), "");
    assert_eq!(undone["files"][0]["burned_in"], reason);
}

#[test]
fn changes_by_hand_are_decisions_in_the_report() {
    use dicom_core::{DataElement, VR};
    let s = start();
    let sid = new_session(&s);
    let series_number = DataElement::new(dicom_dictionary_std::tags::SERIES_NUMBER, VR::IS, "3");
    upload(&s, &sid, &[("a.dcm", sample_with(&[series_number]))]);
    let element = format!("/api/sessions/{sid}/files/f1/element");
    // Before Apply: carried into what Apply starts from, and into its report.
    let (status, state) = json(
        &s,
        "PUT",
        &element,
        r#"{"path":"0008,0060","value":"CT","note":"modality was mislabelled"}"#,
    );
    assert_eq!(status, 200, "{state}");
    assert_eq!(state["modified"], 1);
    assert_eq!(
        state["modified_by"],
        serde_json::json!({"profile": 0, "hand": 1})
    );
    let (status, applied) = json(
        &s,
        "POST",
        &format!("/api/sessions/{sid}/apply"),
        r#"{"profile":"basic"}"#,
    );
    assert_eq!(status, 200);
    let by = &applied["changed_by"];
    assert_eq!(by["hand"], 1, "{applied}");
    assert_eq!(
        applied["changed"],
        by["profile"].as_u64().unwrap() + 1,
        "one count: {applied}"
    );
    assert_eq!(applied["changed"], applied["state"]["modified"]);
    // After Apply: a removal with a reason.
    let (status, state) = json(
        &s,
        "POST",
        &format!("{element}/remove"),
        r#"{"path":"0028,0301","note":""}"#,
    );
    assert_eq!(status, 404, "absent element: {state}");
    let (status, state) = json(
        &s,
        "POST",
        &format!("{element}/remove"),
        r#"{"path":"0020,0011","note":"series number not needed"}"#,
    );
    assert_eq!(status, 200, "{state}");
    assert_eq!(state["undo_label"], "Remove ((0020,0011))");
    let (status, err) = json(
        &s,
        "POST",
        &format!("{element}/remove"),
        r#"{"path":"0008,0018"}"#,
    );
    assert_eq!(status, 400);
    assert_eq!(
        err["error"],
        "SOP Instance UID is required and cannot be removed"
    );

    let (_, tree) = json(&s, "GET", &format!("/api/sessions/{sid}/files/f1/tree"), "");
    assert_eq!(
        tree["modified"], state["modified"],
        "Edit mode counts the same"
    );
    assert_eq!(tree["modified_by"], state["modified_by"]);
    let node = |tag: &str| {
        tree["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["tag"] == tag)
            .cloned()
            .unwrap()
    };
    assert_eq!(node("(0008,0060)")["by"], "hand");
    assert_eq!(node("(0020,0011)")["by"], "hand");
    assert_eq!(node("(0020,0011)")["status"], "removed");
    assert_eq!(node("(0010,0020)")["by"], "profile");
    assert!(node("(0008,0016)").get("by").is_none());

    let (status, report) = json(&s, "GET", &format!("/api/sessions/{sid}/report.json"), "");
    assert_eq!(status, 200);
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
    assert!(!report.to_string().contains("\"CT\""), "never the value");
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
    let (_, html) = request(
        &s,
        "GET",
        &format!("/api/sessions/{sid}/report.html?token={}", s.token),
        &[],
        b"",
    );
    let html = String::from_utf8(html).unwrap();
    assert!(html.contains("series number not needed"));
    assert!(html.contains(manual[1]["time"].as_str().unwrap()));

    // Undo takes the decision with the change.
    json(&s, "POST", &format!("/api/sessions/{sid}/undo"), "");
    let (_, report) = json(&s, "GET", &format!("/api/sessions/{sid}/report.json"), "");
    assert_eq!(report["manual"].as_array().unwrap().len(), 1);
    assert_eq!(report["changed"]["by_hand"], 1);
}

#[test]
fn boxes_drawn_or_switched_off_are_decisions_of_the_apply_that_cleans_pixels() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("regions.csv");
    std::fs::write(
        &rules,
        "label,condition,x0,y0,x1,y1\nsite banner,\"equals(Modality,\"\"OT\"\")\",0,0,2,1\n",
    )
    .unwrap();
    let s = start_with(&["--region-rules", rules.to_str().unwrap()]);
    let sid = new_session(&s);
    upload(&s, &sid, &[("a.dcm", sample())]);
    let (status, r) = json(
        &s,
        "PUT",
        &format!("/api/sessions/{sid}/files/f1/boxes"),
        r#"{"manual":[{"x0":1,"y0":1,"x1":2,"y1":2}],"disabled":["rule-0"],"note":"banner holds no name"}"#,
    );
    assert_eq!(status, 200, "{r}");
    let apply = |plan: &str| {
        let (status, r) = json(&s, "POST", &format!("/api/sessions/{sid}/apply"), plan);
        assert_eq!(status, 200, "{r}");
        let (_, report) = json(&s, "GET", &format!("/api/sessions/{sid}/report.json"), "");
        report
    };
    // Basic leaves the pixels alone: the boxes decided nothing.
    let report = apply(r#"{"profile":"basic"}"#);
    assert_eq!(report["manual"], serde_json::json!([]), "{report}");
    let report = apply(r#"{"profile":"pixel"}"#);
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
    let (_, state) = json(&s, "GET", &format!("/api/sessions/{sid}/state"), "");
    assert_eq!(report["changed"]["by_hand"], 1, "{report}");
    assert_eq!(state["modified_by"]["hand"], 1);
}

#[test]
fn removing_a_sequence_item_is_one_decision_for_all_it_shifts() {
    use dicom_core::value::DataSetSequence;
    use dicom_core::{DataElement, Length, VR};
    use dicom_dictionary_std::tags;
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
    let s = start();
    let sid = new_session(&s);
    upload(&s, &sid, &[("a.dcm", sample_with(&[seq]))]);
    let (status, state) = json(
        &s,
        "POST",
        &format!("/api/sessions/{sid}/files/f1/element/remove"),
        r#"{"path":"0008,1115/0","note":"other patient's series"}"#,
    );
    assert_eq!(status, 200, "{state}");
    assert_eq!(state["undo_label"], "Remove item ((0008,1115))");
    // Item 0 now holds the old item 1 (one value differs), item 1 is gone.
    assert_eq!(state["modified"], 2);
    assert_eq!(state["modified_by"]["hand"], 2);
    let (_, tree) = json(&s, "GET", &format!("/api/sessions/{sid}/files/f1/tree"), "");
    let node = tree["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["tag"] == "(0008,1115)")
        .cloned()
        .unwrap();
    assert_eq!(node["status"], "modified");
    assert_eq!(node["items"][1][0]["status"], "removed");
    let (status, report) = json(&s, "GET", &format!("/api/sessions/{sid}/report.json"), "");
    assert_eq!(status, 200, "edits alone make a report: {report}");
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

/// A rule file with `generalize` goes through the page's load and save unchanged, and
/// its rule applies; the Add-rule list does not offer it (no field for `to` yet).
#[test]
fn generalize_rules_round_trip_through_the_workbench() {
    let s = start();
    let file = r#"[{"id":"(0010,1010)","act":"generalize","to":"10y","note":"bands"},{"id":"(0008,103E)","act":"remove"}]"#;
    let (status, parsed) = json(&s, "POST", "/api/rules/parse", file);
    assert_eq!(status, 200, "{parsed}");
    assert_eq!(parsed["rules"][0]["to"], "10y");
    let body = serde_json::json!({ "rules": parsed["rules"] }).to_string();
    let (status, saved) = request(
        &s,
        "POST",
        "/api/rules/serialize",
        &[
            ("X-Dcmask-Token", &s.token),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    );
    assert_eq!(status, 200);
    assert_eq!(String::from_utf8(saved).unwrap(), file);
    let (_, profiles) = json(&s, "GET", "/api/profiles", "");
    let actions: Vec<&str> = profiles["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["keep", "remove", "empty", "replace", "pseudonymize"]
    );

    let sid = new_session(&s);
    upload(
        &s,
        &sid,
        &[(
            "a.dcm",
            sample_with(&[dicom_core::DataElement::new(
                dicom_dictionary_std::tags::PATIENT_AGE,
                dicom_core::VR::AS,
                "047Y",
            )]),
        )],
    );
    let plan = format!(r#"{{"profile":"custom","custom_rules":{file}}}"#);
    let (status, applied) = json(&s, "POST", &format!("/api/sessions/{sid}/apply"), &plan);
    assert_eq!(status, 200, "{applied}");
    let (_, tree) = json(&s, "GET", &format!("/api/sessions/{sid}/files/f1/tree"), "");
    let age = tree["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["tag"] == "(0010,1010)")
        .unwrap();
    assert_eq!(age["value"], "040Y", "{age}");
}

#[test]
fn the_guard_knows_what_other_files_of_the_patient_say() {
    use dicom_core::value::DataSetSequence;
    use dicom_core::{DataElement, VR};
    use dicom_dictionary_std::tags;
    use dicom_object::InMemDicomObject;
    let s = start();
    let sid = new_session(&s);
    // Only the first file names the patient's birth name; the second repeats it in a code
    // the Basic Profile keeps.
    let first = sample_with(&[DataElement::new(
        tags::PATIENT_BIRTH_NAME,
        VR::PN,
        "Fairweather^Harriet",
    )]);
    let mut item = InMemDicomObject::new_empty();
    item.put_str(tags::CODE_VALUE, VR::SH, "P1");
    item.put_str(tags::CODING_SCHEME_DESIGNATOR, VR::SH, "99LOCAL");
    item.put_str(tags::CODE_MEANING, VR::LO, "CT for Mrs Fairweather");
    let second = sample_with(&[
        DataElement::new(tags::SOP_INSTANCE_UID, VR::UI, "1.2.3.4.5.6.8"),
        DataElement::new(
            tags::PROCEDURE_CODE_SEQUENCE,
            VR::SQ,
            DataSetSequence::from(vec![item]),
        ),
    ]);
    upload(&s, &sid, &[("a.dcm", first), ("b.dcm", second)]);
    let (status, _) = json(
        &s,
        "POST",
        &format!("/api/sessions/{sid}/apply"),
        r#"{"profile":"basic"}"#,
    );
    assert_eq!(status, 200);
    let (status, _, zip) = request_head(
        &s,
        "GET",
        &format!("/api/sessions/{sid}/export.zip?token={}", s.token),
        &[],
        b"",
    );
    assert_eq!(status, 200);
    for (name, content) in zip_entries(zip) {
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

/// Reads from `stream` until the server closes it; returns what came and how long the
/// server took to close (None if it did not within `wait`).
fn until_closed(
    stream: &mut TcpStream,
    wait: std::time::Duration,
) -> (Vec<u8>, Option<std::time::Duration>) {
    let start = std::time::Instant::now();
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (got, Some(start.elapsed())),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            // Reset by the server: closed too.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (got, Some(start.elapsed()))
            }
            Err(_) => return (got, None),
        }
    }
}

#[test]
fn idle_and_slow_connections_are_closed_and_cannot_starve_the_server() {
    use std::time::Duration;
    let s = start_with(&[
        "--header-timeout",
        "1s",
        "--body-timeout",
        "1s",
        "--max-connections",
        "16",
    ]);
    let long = Duration::from_secs(10);
    let profiles = || {
        let t0 = std::time::Instant::now();
        let (status, _) = request(
            &s,
            "GET",
            "/api/profiles",
            &[("X-Dcmask-Token", &s.token)],
            b"",
        );
        assert_eq!(status, 200);
        t0.elapsed()
    };
    // Idle connections, none sending a byte: below the cap they delay nothing.
    let mut idle: Vec<TcpStream> = (0..10)
        .map(|_| TcpStream::connect(&s.addr).unwrap())
        .collect();
    let took = profiles();
    assert!(took < Duration::from_millis(900), "{took:?}");
    let (_, closed) = until_closed(&mut idle[0], long);
    let closed = closed.expect("an idle connection stays open");
    assert!(closed < Duration::from_secs(5), "{closed:?}");
    drop(idle);
    // Far more than the cap: each round of them is closed after the header timeout, and
    // a real request gets its turn.
    let idle: Vec<TcpStream> = (0..40)
        .map(|_| TcpStream::connect(&s.addr).unwrap())
        .collect();
    let took = profiles();
    assert!(took < Duration::from_secs(8), "{took:?}");
    drop(idle);

    // Headers that never end.
    let mut half = TcpStream::connect(&s.addr).unwrap();
    half.write_all(b"GET /api/profiles HTTP/1.1\r\nHost: ")
        .unwrap();
    let (_, closed) = until_closed(&mut half, long);
    let closed = closed.expect("a half-sent request stays open");
    assert!(closed < Duration::from_secs(5), "{closed:?}");

    // A keep-alive connection idle after its answer.
    let mut kept = TcpStream::connect(&s.addr).unwrap();
    let req = format!(
        "GET /api/profiles HTTP/1.1\r\nHost: {}\r\nX-Dcmask-Token: {}\r\n\r\n",
        s.addr, s.token
    );
    kept.write_all(req.as_bytes()).unwrap();
    let (got, closed) = until_closed(&mut kept, long);
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got[..40])
    );
    assert!(closed.is_some(), "an idle keep-alive connection stays open");

    // A body that stops coming: answered 408.
    let sid = new_session(&s);
    let mut slow = TcpStream::connect(&s.addr).unwrap();
    let head = format!(
        "POST /api/sessions/{sid}/files HTTP/1.1\r\nHost: {}\r\nX-Dcmask-Token: {}\r\n\
         Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n\
         --b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.dcm\"\r\n\r\nDICM",
        s.addr, s.token
    );
    slow.write_all(head.as_bytes()).unwrap();
    let (got, closed) = until_closed(&mut slow, long);
    assert!(closed.is_some());
    let got = String::from_utf8_lossy(&got);
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    assert!(
        got.contains("the upload arrived too slowly or stopped"),
        "{got}"
    );
}

#[test]
fn an_upload_over_the_limit_is_answered_413_not_reset() {
    let s = start_with(&["--max-upload", "1M"]);
    let sid = new_session(&s);
    let big = vec![7u8; 3 << 20];
    let boundary = "dcmaskboundary7";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.dcm\"\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&big);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let ctype = format!("multipart/form-data; boundary={boundary}");
    let (status, body) = request(
        &s,
        "POST",
        &format!("/api/sessions/{sid}/files"),
        &[("X-Dcmask-Token", &s.token), ("Content-Type", &ctype)],
        &body,
    );
    assert_eq!(status, 413);
    let err: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        err["error"],
        "a file is larger than the limit of 1 MiB per file; nothing was opened"
    );
    // The session and server go on.
    let opened = upload(&s, &sid, &[("a.dcm", sample())]);
    assert_eq!(opened["files"][0]["id"], "f1");
}

/// The server's private folders under the test's temporary directory.
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

#[test]
fn uploads_are_private_files_deleted_with_the_session_and_on_shutdown() {
    use std::os::unix::fs::PermissionsExt;
    let mut s = start();
    let folders = private_folders(s._data.path());
    assert_eq!(folders.len(), 1, "{folders:?}");
    let root = folders[0].clone();
    assert_eq!(
        std::fs::metadata(&root).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let sid = new_session(&s);
    upload(&s, &sid, &[("Quimby Harriet.dcm", sample())]);
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
    let (status, _) = json(&s, "DELETE", &format!("/api/sessions/{sid}"), "");
    assert_eq!(status, 200);
    let gone = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(20));
        !session_dir.exists()
    });
    assert!(gone, "the session's folder outlives it");
    // Files open at shutdown go with the server's folder.
    let sid = new_session(&s);
    upload(&s, &sid, &[("a.dcm", sample())]);
    assert_eq!(files_under(&root).len(), 1);
    let pid = s.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = s.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(!root.exists(), "the private folder outlives the server");
}

#[test]
fn the_folder_of_a_killed_server_is_removed_by_the_next_one() {
    let tmp = tempfile::tempdir().unwrap();
    let mut killed = start_in(&[], Some(tmp.path()));
    let sid = new_session(&killed);
    upload(&killed, &sid, &[("a.dcm", sample())]);
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();
    let left = private_folders(tmp.path());
    assert_eq!(left.len(), 1);
    assert_eq!(
        files_under(&left[0]).len(),
        1,
        "the killed server left its upload"
    );
    // A running server's folder is left alone.
    let running = start_in(&[], Some(tmp.path()));
    let next = start_in(&[], Some(tmp.path()));
    let now = private_folders(tmp.path());
    assert_eq!(now.len(), 2, "{now:?}");
    assert!(!now.contains(&left[0]));
    drop((running, next));
}

/// Peak resident memory of a process, from /proc (kB).
fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap()
}

/// The hostile inputs of the batch's fuzz test, uploaded to one server session after
/// another, each applied under Basic and +Pixel and exported: the server answers every
/// request (a 4xx for what it refuses, never a 5xx: that would be a caught panic), keeps
/// serving, and stays within its memory budget.
#[test]
fn the_server_survives_hostile_uploads() {
    let Some(corpus) = corpus::dir() else {
        return;
    };
    let mut s = start_with(&["--max-memory", "256M"]);
    let mutants = hostile::mutants(&corpus, 0);
    let (mut uploaded, mut refused, mut answers) = (0, 0, 0);
    for chunk in mutants.chunks(24) {
        let sid = new_session(&s);
        let files: Vec<(String, Vec<u8>)> = chunk
            .iter()
            .enumerate()
            .map(|(i, m)| (format!("m{i}.dcm"), m.bytes.clone()))
            .collect();
        let named: Vec<(&str, Vec<u8>)> =
            files.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
        let v = upload(&s, &sid, &named);
        uploaded += v["files"].as_array().map_or(0, |a| a.len());
        refused += v["rejected"].as_array().map_or(0, |a| a.len());
        for profile in ["basic", "pixel"] {
            let (status, body) = json(
                &s,
                "POST",
                &format!("/api/sessions/{sid}/apply"),
                &format!(r#"{{"profile":"{profile}"}}"#),
            );
            assert!(status < 500, "apply {profile}: {status} {body}");
            let (status, _, _) = request_head(
                &s,
                "GET",
                &format!("/api/sessions/{sid}/export.zip?token={}", s.token),
                &[],
                b"",
            );
            assert!(status < 500, "export after {profile}: {status}");
            answers += 2;
        }
        let (status, _) = json(&s, "DELETE", &format!("/api/sessions/{sid}"), "");
        assert!(status < 500);
        assert!(s.child.try_wait().unwrap().is_none(), "the server died");
    }
    let (status, _) = json(&s, "GET", "/api/profiles", "");
    assert_eq!(status, 200, "the server still serves");
    let peak = peak_rss_kb(s.child.id());
    eprintln!(
        "server fuzz: {} inputs, {uploaded} opened, {refused} refused, {answers} applies and exports, peak {} MiB",
        mutants.len(),
        peak / 1024
    );
    // The work budget (256 MiB) and the program itself.
    assert!(peak < 400 * 1024, "peak RSS {} MiB", peak / 1024);
}
