//! The workbench server as a process over real sockets: what only a socket or a process
//! shows. Connections idle, half-sent or slow, a body left unread (answered, not reset),
//! a process stopped or killed with files open, a broken startup file, and a process
//! that stays up and within its memory under hostile uploads. Everything the
//! application answers (sessions, upload, apply, edit, export, linkage, risk, report,
//! audit, headers, caps, errors) is tested in process, with the router called through
//! `oneshot`: src/server/tests.rs and src/server/tests/.

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

/// One HTTP/1.1 request, the connection closed after it; returns (status, body as sent,
/// not de-chunked: the bodies read here are JSON answers, which have a length).
fn request(
    s: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(&s.addr).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\nHost: {}\r\n",
        body.len(),
        s.addr
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let status = std::str::from_utf8(&raw[9..12]).unwrap().parse().unwrap();
    (status, raw[split + 4..].to_vec())
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

/// A small secondary capture with PHI, built in memory.
fn sample() -> Vec<u8> {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::tags;
    use dicom_object::{meta::FileMetaTableBuilder, InMemDicomObject};
    let us = |t, v: u16| DataElement::new(t, VR::US, PrimitiveValue::from(v));
    let obj = InMemDicomObject::from_element_iter([
        DataElement::new(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.7"),
        DataElement::new(tags::SOP_INSTANCE_UID, VR::UI, "1.2.3.4.5.6.7"),
        DataElement::new(tags::MODALITY, VR::CS, "OT"),
        DataElement::new(tags::PATIENT_NAME, VR::PN, "Quimby^Harriet"),
        DataElement::new(tags::PATIENT_ID, VR::LO, "PID-778899"),
        DataElement::new(tags::STUDY_INSTANCE_UID, VR::UI, "1.2.3.4.5"),
        DataElement::new(tags::SERIES_INSTANCE_UID, VR::UI, "1.2.3.4.5.6"),
        us(tags::ROWS, 2),
        us(tags::COLUMNS, 2),
        us(tags::BITS_ALLOCATED, 8),
        us(tags::BITS_STORED, 8),
        us(tags::HIGH_BIT, 7),
        us(tags::SAMPLES_PER_PIXEL, 1),
        us(tags::PIXEL_REPRESENTATION, 0),
        DataElement::new(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
        DataElement::new(
            tags::PIXEL_DATA,
            VR::OB,
            PrimitiveValue::from(vec![1u8, 2, 3, 4]),
        ),
    ]);
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

fn new_session(s: &Server) -> String {
    let (_, created) = json(s, "POST", "/api/sessions", "");
    created["id"].as_str().unwrap().to_string()
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

/// Its folder's privacy and the files of a closed session: in process
/// (`workflow::uploads_are_private_files_deleted_with_the_session`).
#[test]
fn files_open_at_shutdown_go_with_the_servers_folder() {
    let mut s = start();
    let folders = private_folders(s._data.path());
    assert_eq!(folders.len(), 1, "{folders:?}");
    let root = folders[0].clone();
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
            let (status, _) = request(
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

/// The boxes a good file adds: in process (`decisions::region_rules_file_adds_boxes_to_the_proposal`).
#[test]
fn a_broken_region_rules_file_stops_the_server_before_it_listens() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("regions.csv");
    std::fs::write(&rules, "x0,y0\n1,2\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dcmask"))
        .args(["serve", "--bind", "127.0.0.1:0", "--region-rules"])
        .arg(&rules)
        .env("DCMASK_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid region rules"));
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("dcmask workbench:"),
        "no URL of a server that is not there"
    );
}
