//! The workbench server's guards and API, over real HTTP against the built binary.

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
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_dcmask"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .args(extra)
        .env("DCMASK_DATA_DIR", data.path())
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
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head[9..12].parse().unwrap();
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (status, body)
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

/// A small CT-like file with PHI, built in memory.
fn sample() -> Vec<u8> {
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
    ])
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
    assert_eq!(opened["state"]["files"].as_array().unwrap().len(), 1);
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

    // The exported file is the staged one; the zip carries the mapping files and report.
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
    let (status, zip) = request(
        &s,
        "GET",
        &format!("/api/sessions/{sid}/export.zip?token={}", s.token),
        &[],
        b"",
    );
    assert_eq!(status, 200);
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let mut pat = String::new();
    archive
        .by_name("patid_mapping.csv")
        .unwrap()
        .read_to_string(&mut pat)
        .unwrap();
    assert!(pat.starts_with("id_old,id_new\nPID-778899,ANON"), "{pat}");
    let mut uids = String::new();
    archive
        .by_name("uid_mapping.csv")
        .unwrap()
        .read_to_string(&mut uids)
        .unwrap();
    assert!(uids.contains("1.2.3.4.5,2.25."));
    assert!(archive.by_name("report.json").is_ok());

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
    let fid = opened["state"]["files"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
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
