//! Parallel clients against the built server on loopback: uploading, applying (Basic,
//! then +Pixel with a drawn box), viewing and exporting, one of them uploading a file
//! over the limit per file. Checks that every answer is the expected one and that the
//! server's peak memory (VmHWM) stays within its memory budget plus a fixed allowance.
//!
//! The small run is part of the suite; the large ones are ignored by default:
//! `cargo test -p dcmask --test server_load -- --ignored --nocapture`
//! (`DCMASK_LOAD_CLIENTS`, `DCMASK_LOAD_MB`, `DCMASK_LOAD_MEMORY` and
//! `DCMASK_LOAD_LARGE_MB` change their size; `DCMASK_LOAD_BIN` runs another binary, such
//! as a release build).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MIB: u64 = 1 << 20;

struct Server {
    child: Child,
    addr: String,
    token: String,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str]) -> Server {
    let data = tempfile::tempdir().unwrap();
    let bin = std::env::var("DCMASK_LOAD_BIN").unwrap_or(env!("CARGO_BIN_EXE_dcmask").into());
    let mut child = Command::new(bin)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .args(args)
        .env("DCMASK_DATA_DIR", data.path())
        .env("TMPDIR", data.path())
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
        addr: addr.into(),
        token: token.into(),
        _data: data,
    }
}

/// A square 8-bit CT image of about `bytes` pixel bytes, with a patient name; no
/// burned-in text (text detection is not what is measured).
fn dicom(bytes: u64) -> Vec<u8> {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::tags;
    use dicom_object::{meta::FileMetaTableBuilder, InMemDicomObject};
    let side = ((bytes as f64).sqrt() as u16).max(2);
    let us = |t, v: u16| DataElement::new(t, VR::US, PrimitiveValue::from(v));
    let pixels: Vec<u8> = (0..usize::from(side) * usize::from(side))
        .map(|i| (i % 251) as u8)
        .collect();
    let obj = InMemDicomObject::from_element_iter([
        DataElement::new(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.2"),
        DataElement::new(tags::SOP_INSTANCE_UID, VR::UI, "1.2.3.4.5.6.7"),
        DataElement::new(tags::MODALITY, VR::CS, "CT"),
        DataElement::new(tags::BURNED_IN_ANNOTATION, VR::CS, "NO"),
        DataElement::new(tags::PATIENT_NAME, VR::PN, "Quimby^Harriet"),
        DataElement::new(tags::PATIENT_ID, VR::LO, "PID-778899"),
        DataElement::new(tags::STUDY_INSTANCE_UID, VR::UI, "1.2.3.4.5"),
        DataElement::new(tags::SERIES_INSTANCE_UID, VR::UI, "1.2.3.4.5.6"),
        us(tags::ROWS, side),
        us(tags::COLUMNS, side),
        us(tags::BITS_ALLOCATED, 8),
        us(tags::BITS_STORED, 8),
        us(tags::HIGH_BIT, 7),
        us(tags::SAMPLES_PER_PIXEL, 1),
        us(tags::PIXEL_REPRESENTATION, 0),
        DataElement::new(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
        DataElement::new(tags::PIXEL_DATA, VR::OB, PrimitiveValue::from(pixels)),
    ]);
    let obj = obj
        .with_meta(FileMetaTableBuilder::new().transfer_syntax("1.2.840.10008.1.2.1"))
        .unwrap();
    let mut out = Vec::new();
    obj.write_all(&mut out).unwrap();
    out
}

/// A piece of a request body: bytes repeated some times, or a file's content.
enum Part<'a> {
    Bytes(&'a [u8], u64),
    File(&'a std::path::Path),
}

impl Part<'_> {
    fn len(&self) -> u64 {
        match self {
            Part::Bytes(b, n) => b.len() as u64 * n,
            Part::File(p) => std::fs::metadata(p).unwrap().len(),
        }
    }

    fn write(&self, to: &mut TcpStream) -> std::io::Result<()> {
        match self {
            Part::Bytes(b, n) => (0..*n).try_for_each(|_| to.write_all(b)),
            Part::File(p) => std::io::copy(&mut std::fs::File::open(p)?, to).map(|_| ()),
        }
    }
}

/// One request; the body is written from `parts`, the answer's body read and counted,
/// not kept beyond `keep` bytes. Returns (status, body kept, bytes).
fn call(
    s: &Server,
    method: &str,
    path: &str,
    ctype: Option<&str>,
    parts: &[Part],
    keep: usize,
) -> (u16, Vec<u8>, u64) {
    let mut stream = TcpStream::connect(&s.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(900)))
        .unwrap();
    let len: u64 = parts.iter().map(Part::len).sum();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nX-Dcmask-Token: {}\r\nConnection: close\r\nContent-Length: {len}\r\n",
        s.addr, s.token
    );
    if let Some(c) = ctype {
        head.push_str(&format!("Content-Type: {c}\r\n"));
    }
    head.push_str("\r\n");
    if stream.write_all(head.as_bytes()).is_err() {
        return (0, Vec::new(), 0);
    }
    for p in parts {
        if p.write(&mut stream).is_err() {
            return (0, Vec::new(), 0);
        }
    }
    let mut r = BufReader::new(stream);
    let mut status_line = String::new();
    if r.read_line(&mut status_line).is_err() || status_line.len() < 12 {
        return (0, Vec::new(), 0);
    }
    let status = status_line[9..12].parse().unwrap_or(0);
    let mut chunked = false;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        chunked |= h
            .to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked");
    }
    let mut kept = Vec::new();
    let mut total = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match r.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                total += n as u64;
                if kept.len() < keep {
                    kept.extend_from_slice(&buf[..n.min(keep - kept.len())]);
                }
            }
        }
    }
    if chunked && kept.len() < keep {
        // Only small JSON answers are parsed; they come whole in one chunk.
        if let Some(i) = kept.windows(2).position(|w| w == b"\r\n") {
            kept = kept[i + 2..].to_vec();
        }
    }
    (status, kept, total)
}

fn multipart(files: &[&[u8]]) -> (Vec<Vec<u8>>, String) {
    let b = "dcmaskloadboundary";
    let mut parts = Vec::new();
    for (i, f) in files.iter().enumerate() {
        parts.push(
            format!("--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f{i}.dcm\"\r\n\r\n")
                .into_bytes(),
        );
        parts.push(f.to_vec());
        parts.push(b"\r\n".to_vec());
    }
    parts.push(format!("--{b}--\r\n").into_bytes());
    (parts, format!("multipart/form-data; boundary={b}"))
}

/// Samples the server's resident memory until stopped; `peak` keeps the highest.
fn monitor(pid: u32, done: Arc<AtomicBool>, peak: Arc<AtomicU64>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !done.load(Ordering::Relaxed) {
            peak.fetch_max(status_of(pid, "VmRSS:"), Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(20));
        }
    })
}

fn status_of(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))?
                .split_whitespace()
                .nth(1)?
                .parse::<u64>()
                .ok()
        })
        .unwrap_or(0)
        * 1024
}

#[derive(Default)]
struct Tally(Mutex<BTreeMap<(String, u16), u64>>);

impl Tally {
    fn add(&self, what: &str, status: u16) {
        *self
            .0
            .lock()
            .unwrap()
            .entry((what.to_string(), status))
            .or_default() += 1;
    }
}

/// Runs the load; returns (tally, peak RSS in bytes, seconds).
fn load(clients: usize, file_bytes: u64, memory: u64) -> (BTreeMap<(String, u16), u64>, u64, f64) {
    let memory_arg = format!("{}M", memory / MIB);
    let s = Arc::new(start(&["--max-memory", &memory_arg]));
    let pid = s.child.id();
    let max_upload = memory / 3;
    let file = Arc::new(dicom(file_bytes));
    let tally = Arc::new(Tally::default());
    let done = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let monitor = monitor(pid, done.clone(), peak.clone());
    let t0 = Instant::now();
    let mut threads = Vec::new();
    for c in 0..clients {
        let (s, file, tally) = (s.clone(), file.clone(), tally.clone());
        threads.push(std::thread::spawn(move || {
            let (st, body, _) = call(&s, "POST", "/api/sessions", None, &[], 4096);
            tally.add("session", st);
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let Some(sid) = v["id"].as_str().map(str::to_string) else {
                return;
            };
            let base = format!("/api/sessions/{sid}");
            if c == 0 {
                // Over the limit per file, streamed without being built in memory.
                let head = b"--dcmaskloadboundary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.dcm\"\r\n\r\n";
                let chunk = vec![0u8; MIB as usize];
                let tail = b"\r\n--dcmaskloadboundary--\r\n";
                let n = max_upload / MIB + 16;
                let parts = [Part::Bytes(head, 1), Part::Bytes(&chunk, n), Part::Bytes(tail, 1)];
                let ct = "multipart/form-data; boundary=dcmaskloadboundary";
                let (st, _, _) = call(&s, "POST", &format!("{base}/files"), Some(ct), &parts, 0);
                tally.add("upload over the limit", st);
            }
            let (parts, ct) = multipart(&[&file, &file]);
            let parts: Vec<Part> = parts.iter().map(|p| Part::Bytes(p, 1)).collect();
            let (st, _, _) = call(&s, "POST", &format!("{base}/files"), Some(&ct), &parts, 0);
            tally.add("upload", st);
            let json = |path: &str, method: &str, body: &str| {
                let parts = [Part::Bytes(body.as_bytes(), 1)];
                call(&s, method, path, Some("application/json"), &parts, 0).0
            };
            tally.add("apply basic", json(&format!("{base}/apply"), "POST", r#"{"profile":"basic"}"#));
            tally.add("frame", call(&s, "GET", &format!("{base}/files/f1/frame/0.png"), None, &[], 0).0);
            tally.add(
                "boxes",
                json(&format!("{base}/files/f1/boxes"), "PUT", r#"{"manual":[{"x0":0,"y0":0,"x1":8,"y1":8}]}"#),
            );
            tally.add("apply pixel", json(&format!("{base}/apply"), "POST", r#"{"profile":"pixel"}"#));
            let (st, _, bytes) = call(&s, "GET", &format!("{base}/export.zip"), None, &[], 0);
            tally.add("export", st);
            if st == 200 {
                assert!(bytes > 2 * file.len() as u64, "export of {bytes} bytes");
            }
            tally.add("close", call(&s, "DELETE", &base, None, &[], 0).0);
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    let secs = t0.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    monitor.join().unwrap();
    let hwm = status_of(pid, "VmHWM:").max(peak.load(Ordering::Relaxed));
    let tally = std::mem::take(&mut *tally.0.lock().unwrap());
    (tally, hwm, secs)
}

fn check(clients: usize, file_bytes: u64, memory: u64) {
    let (tally, peak, secs) = load(clients, file_bytes, memory);
    let mut errors = 0;
    for ((what, status), n) in &tally {
        let expected = match what.as_str() {
            "upload over the limit" => 413,
            _ => 200,
        };
        if *status != expected {
            errors += n;
        }
        eprintln!("  {what:>22}: {n} × {status}");
    }
    eprintln!(
        "{clients} clients, 2 files of {} MiB each: {:.1} s, peak RSS {} MiB (memory budget {} MiB), {errors} unexpected answers",
        file_bytes / MIB,
        secs,
        peak / MIB,
        memory / MIB
    );
    assert_eq!(errors, 0, "{tally:?}");
    assert_eq!(tally.get(&("export".into(), 200)), Some(&(clients as u64)));
    // The budget, plus the program itself and per-connection buffers.
    let allowance = 160 * MIB + clients as u64 * 4 * MIB;
    assert!(
        peak <= memory + allowance,
        "peak RSS {} MiB over {} MiB",
        peak / MIB,
        (memory + allowance) / MIB
    );
}

#[test]
fn parallel_clients_stay_within_the_memory_budget() {
    check(6, MIB, 128 * MIB);
}

#[test]
#[ignore = "large: run with --ignored --nocapture"]
fn fifty_clients_with_large_files_stay_within_the_memory_budget() {
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    check(
        env("DCMASK_LOAD_CLIENTS", 50) as usize,
        env("DCMASK_LOAD_MB", 40) * MIB,
        env("DCMASK_LOAD_MEMORY", 1024) * MIB,
    );
}

#[test]
#[ignore = "large: run with --ignored --nocapture"]
fn a_large_file_is_in_memory_only_while_exported() {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    let mb = std::env::var("DCMASK_LOAD_LARGE_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(900u64);
    // Written to disk once, then streamed from there.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("large.dcm");
    {
        let mut obj = dcmask_engine::io::read_object(&dicom(4096)).unwrap();
        let side = ((mb * MIB) as f64).sqrt() as u16;
        let pixels = vec![9u8; usize::from(side) * usize::from(side)];
        for (t, v) in [
            (dicom_dictionary_std::tags::ROWS, side),
            (dicom_dictionary_std::tags::COLUMNS, side),
        ] {
            obj.put(DataElement::new(t, VR::US, PrimitiveValue::from(v)));
        }
        obj.put(DataElement::new(
            dicom_dictionary_std::tags::PIXEL_DATA,
            VR::OB,
            PrimitiveValue::from(pixels),
        ));
        obj.write_to_file(&path).unwrap();
    }
    let size = std::fs::metadata(&path).unwrap().len();
    let s = start(&[]);
    let pid = s.child.id();
    let (done, peak) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let watch = monitor(pid, done.clone(), peak.clone());
    let t0 = Instant::now();
    let mut statuses = Vec::new();
    let (_, body, _) = call(&s, "POST", "/api/sessions", None, &[], 4096);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let base = format!("/api/sessions/{}", v["id"].as_str().unwrap());
    let b = "dcmaskloadboundary";
    let head = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"large.dcm\"\r\n\r\n"
    );
    let tail = format!("\r\n--{b}--\r\n");
    let parts = [
        Part::Bytes(head.as_bytes(), 1),
        Part::File(&path),
        Part::Bytes(tail.as_bytes(), 1),
    ];
    let ct = format!("multipart/form-data; boundary={b}");
    let steps: [(&str, String, Option<&str>, &[Part]); 5] = [
        ("upload", format!("{base}/files"), Some(&ct), &parts),
        (
            "apply basic",
            format!("{base}/apply"),
            Some("application/json"),
            &[Part::Bytes(br#"{"profile":"basic"}"#, 1)],
        ),
        ("export file", format!("{base}/files/f1/export"), None, &[]),
        ("export zip", format!("{base}/export.zip"), None, &[]),
        ("close", base.clone(), None, &[]),
    ];
    for (what, path, ctype, parts) in steps {
        let method = match what {
            "upload" | "apply basic" => "POST",
            "close" => "DELETE",
            _ => "GET",
        };
        let (status, _, bytes) = call(&s, method, &path, ctype, parts, 0);
        eprintln!(
            "  {what}: {status} ({} MiB answered) at {:.1} s, peak so far {} MiB",
            bytes / MIB,
            t0.elapsed().as_secs_f64(),
            peak.load(Ordering::Relaxed).max(status_of(pid, "VmHWM:")) / MIB
        );
        statuses.push(status);
    }
    done.store(true, Ordering::Relaxed);
    watch.join().unwrap();
    let hwm = status_of(pid, "VmHWM:").max(peak.load(Ordering::Relaxed));
    eprintln!("a file of {} MiB: peak RSS {} MiB", size / MIB, hwm / MIB);
    assert_eq!(statuses, [200; 5]);
    // Upload and Apply hold the header only; Export holds the object read back, and
    // dicom-object writes from a copy of each value: twice the file, once.
    assert!(hwm <= 2 * size + 256 * MIB, "peak RSS {} MiB", hwm / MIB);
}
