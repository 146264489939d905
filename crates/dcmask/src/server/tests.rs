//! The server in process: the whole router (middleware included) called with `oneshot`,
//! the app built as `dcmask serve` builds it, with small limits. The guards and limits
//! are here, the API's areas in `tests/`; tests/server.rs keeps what needs a socket.

use super::limits::{LimitFlags, Limits};
use super::session::lock;
use super::*;
use axum::body::{to_bytes, Body, Bytes};
use axum::http::{HeaderMap, Request as HttpRequest};
use dcmask_engine::pixel::{GrayImage, Read, Word};
use serde_json::Value;
use tower::ServiceExt;

const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const HOST: &str = "127.0.0.1:8484";

mod decisions;
mod downloads;
mod risk_view;
mod support;
mod workflow;

struct Test {
    app: Shared,
    router: Router,
    _tmp: tempfile::TempDir,
}

fn key() -> Key {
    Key::from_file_contents(b"00112233445566778899aabbccddeeff").unwrap()
}

fn limits(args: &[&str], dir: &std::path::Path) -> Limits {
    use clap::{Args as _, FromArgMatches as _};
    let cmd = LimitFlags::augment_args(clap::Command::new("serve"));
    let m = cmd.get_matches_from(std::iter::once("serve").chain(args.iter().copied()));
    Limits::from_flags(&LimitFlags::from_arg_matches(&m).unwrap(), dir)
}

fn start(args: &[&str], detector: Option<Arc<dyn TextDetector>>) -> Test {
    start_with(args, detector, RegionRules::shipped().clone())
}

/// [`start`] with the region rules `serve` loaded (the shipped ones and `--region-rules`).
fn start_with(
    args: &[&str],
    detector: Option<Arc<dyn TextDetector>>,
    regions: RegionRules,
) -> Test {
    let tmp = tempfile::tempdir().unwrap();
    let limits = limits(args, tmp.path());
    let store = disk::Store::create(tmp.path(), limits.max_storage).unwrap();
    let mut app = App::new(
        TOKEN.into(),
        key(),
        allowed_hosts(8484, None),
        detector,
        regions,
        store,
        limits,
    );
    // The test's own trail, not the user's data directory.
    app.audit = crate::audit::Log::at(tmp.path().join(crate::audit::NAME), "the test's audit log");
    let app = Arc::new(app);
    Test {
        router: router(app.clone()),
        app,
        _tmp: tmp,
    }
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

impl Test {
    /// A request as our page sends it (Host, token), with `extra` headers on top.
    async fn call(&self, method: &str, uri: &str, extra: &[(&str, &str)], body: Body) -> Answer {
        let mut req = HttpRequest::builder().method(method).uri(uri);
        for (k, v) in [("host", HOST), ("x-dcmask-token", TOKEN)] {
            if !extra.iter().any(|(e, _)| e.eq_ignore_ascii_case(k)) {
                req = req.header(k, v);
            }
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        self.send(req.body(body).unwrap()).await
    }

    /// `req` through the whole router, as it is.
    async fn send(&self, req: HttpRequest<Body>) -> Answer {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = to_bytes(res.into_body(), usize::MAX).await.unwrap();
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn json(&self, method: &str, uri: &str, body: &str) -> Answer {
        let ct = [("content-type", "application/json")];
        self.call(method, uri, &ct, Body::from(body.to_string()))
            .await
    }

    async fn session(&self) -> String {
        let r = self.call("POST", "/api/sessions", &[], Body::empty()).await;
        assert_eq!(r.status, 200);
        r.json()["id"].as_str().unwrap().to_string()
    }

    async fn upload(&self, sid: &str, files: &[Vec<u8>]) -> Answer {
        let boundary = "dcmaskboundary7";
        let mut body = Vec::new();
        for (i, bytes) in files.iter().enumerate() {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f{i}.dcm\"\r\n\r\n").as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let ct = format!("multipart/form-data; boundary={boundary}");
        self.call(
            "POST",
            &format!("/api/sessions/{sid}/files"),
            &[("content-type", &ct)],
            Body::from(body),
        )
        .await
    }

    /// Files in the server's private folder (all sessions).
    fn files_on_disk(&self) -> usize {
        walk(self.app.store.root())
    }
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|r| {
            r.flatten()
                .map(|e| match e.path().is_dir() {
                    true => walk(&e.path()),
                    // The run's lock is no patient file.
                    false => usize::from(e.file_name() != ".lock"),
                })
                .sum()
        })
        .unwrap_or(0)
}

/// A `cols`×`rows` 8-bit secondary capture with a patient name, modality OT (text may
/// be burned in, so the detector is asked).
fn sample(cols: u16, rows: u16) -> Vec<u8> {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::tags;
    use dicom_object::{meta::FileMetaTableBuilder, InMemDicomObject};
    let us = |t, v: u16| DataElement::new(t, VR::US, PrimitiveValue::from(v));
    let pixels: Vec<u8> = (0..usize::from(cols) * usize::from(rows))
        .map(|i| (i % 251) as u8)
        .collect();
    let obj = InMemDicomObject::from_element_iter([
        DataElement::new(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.7"),
        DataElement::new(tags::SOP_INSTANCE_UID, VR::UI, "1.2.3.4.5.6.7"),
        DataElement::new(tags::MODALITY, VR::CS, "OT"),
        DataElement::new(tags::PATIENT_NAME, VR::PN, "Quimby^Harriet"),
        DataElement::new(tags::PATIENT_ID, VR::LO, "PID-778899"),
        DataElement::new(tags::STUDY_INSTANCE_UID, VR::UI, "1.2.3.4.5"),
        DataElement::new(tags::SERIES_INSTANCE_UID, VR::UI, "1.2.3.4.5.6"),
        us(tags::ROWS, rows),
        us(tags::COLUMNS, cols),
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

#[tokio::test]
async fn pixel_rectangles_are_checked_without_overflow() {
    let t = start(&[], None);
    let sid = t.session().await;
    assert_eq!(t.upload(&sid, &[sample(4, 2)]).await.status, 200);
    let px = |q: &str| format!("/api/sessions/{sid}/files/f1/pixels?{q}");
    // x + w wraps around u32 to 1, inside the 4 columns if added unchecked.
    let r = t
        .call("GET", &px("x=4294967295&y=0&w=2&h=1"), &[], Body::empty())
        .await;
    assert_eq!(r.status, 400, "{:?}", r.json());
    assert_eq!(r.json()["error"], "the rectangle is outside the 4×2 image");
    let r = t
        .call("GET", &px("x=0&y=4294967295&w=1&h=2"), &[], Body::empty())
        .await;
    assert_eq!(r.status, 400);
    let r = t
        .call("GET", &px("x=0&y=0&w=1&h=1&frame=1"), &[], Body::empty())
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "the image has 1 frame(s)");
    let r = t
        .call("GET", &px("x=2&y=1&w=2&h=1"), &[], Body::empty())
        .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    // Pixels 6 and 7 of the ramp, read back from the file on disk.
    assert_eq!(r.json()["values"], serde_json::json!([[6, 7]]));
    let frame = format!("/api/sessions/{sid}/files/f1/frame/1.png");
    assert_eq!(t.call("GET", &frame, &[], Body::empty()).await.status, 400);
}

#[tokio::test]
async fn errors_quote_only_a_short_prefix_of_what_was_sent() {
    let t = start(&[], None);
    let sid = t.session().await;
    let long = "Q".repeat(1_900_000);
    let apply = format!("/api/sessions/{sid}/apply");
    let tries = [
        ("POST", apply.clone(), format!(r#"{{"profile":"{long}"}}"#)),
        (
            "POST",
            apply.clone(),
            format!(r#"{{"profile":"basic","private":"{long}"}}"#),
        ),
        (
            "POST",
            apply,
            format!(r#"{{"profile":"custom","custom_rules":[{{"id":"{long}","act":"remove"}}]}}"#),
        ),
        (
            "POST",
            "/api/rules/parse".into(),
            format!(r#"[{{"id":"(0010,0010)","act":"{long}"}}]"#),
        ),
        (
            "GET",
            format!("/api/tags/lookup?q={}", &long[..10_000]),
            String::new(),
        ),
    ];
    for (method, uri, body) in tries {
        let r = t.json(method, &uri, &body).await;
        assert_eq!(r.status, 400, "{uri}");
        let msg = r.json()["error"].as_str().unwrap().to_string();
        assert!(msg.len() < 400, "{} bytes: {}…", msg.len(), &msg[..200]);
        assert!(!msg.contains(&"Q".repeat(33)), "{msg}");
        assert!(msg.contains(&"Q".repeat(8)), "the prefix is quoted: {msg}");
    }
    // axum's own rejections (a body over 2 MiB, a query that is no number, a route
    // that is not there) are JSON like ours.
    let big = format!(r#"{{"profile":"{}"}}"#, "Q".repeat(3 << 20));
    let r = t
        .json("POST", &format!("/api/sessions/{sid}/apply"), &big)
        .await;
    assert_eq!(r.status, 413);
    assert!(r.json()["error"].is_string(), "{:?}", r.body);
    let r = t
        .call(
            "GET",
            &format!("/api/sessions/{sid}/files/f1/pixels?x=Q&y=0&w=1&h=1"),
            &[],
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"].as_str().unwrap().contains("query"),
        "{:?}",
        r.body
    );
    let r = t.call("GET", "/api/nope", &[], Body::empty()).await;
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (404, Some("not found"))
    );
    // Control characters are escaped, not sent raw.
    let r = t
        .json(
            "POST",
            "/api/rules/parse",
            "[{\"id\":\"(0010,0010)\",\"act\":\"a\\u001b[31m\"}]",
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(!r.json()["error"].as_str().unwrap().contains('\u{1b}'));
}

#[tokio::test]
async fn requests_from_another_origin_are_refused() {
    let t = start(&[], None);
    let refused = [
        vec![("origin", "http://attacker.example")],
        vec![("origin", "null")],
        // Another port of the same host is another origin.
        vec![("origin", "http://127.0.0.1:9999")],
        vec![("sec-fetch-site", "cross-site")],
        vec![("sec-fetch-site", "same-site")],
        vec![
            ("origin", "http://127.0.0.1:8484"),
            ("sec-fetch-site", "cross-site"),
        ],
    ];
    for headers in refused {
        let r = t
            .call("POST", "/api/sessions", &headers, Body::empty())
            .await;
        assert_eq!(r.status, 403, "{headers:?}");
        assert_eq!(
            r.json()["error"],
            "request from another site or origin refused"
        );
        assert!(r
            .header("content-security-policy")
            .contains("frame-ancestors 'none'"));
    }
    let sid = t.session().await;
    let delete = format!("/api/sessions/{sid}");
    let foreign = [("origin", "http://attacker.example")];
    assert_eq!(
        t.call("DELETE", &delete, &foreign, Body::empty())
            .await
            .status,
        403
    );
    // Our own page, and clients that send neither header, go through.
    let own = [
        ("origin", "http://127.0.0.1:8484"),
        ("sec-fetch-site", "same-origin"),
    ];
    assert_eq!(
        t.call("POST", "/api/sessions", &own, Body::empty())
            .await
            .status,
        200
    );
    let own = [("origin", "http://localhost:8484")];
    assert_eq!(
        t.call("POST", "/api/sessions", &own, Body::empty())
            .await
            .status,
        200
    );
    // Reads change nothing: the token guards them.
    assert_eq!(
        t.call("GET", "/api/profiles", &foreign, Body::empty())
            .await
            .status,
        200
    );
    assert_eq!(
        t.call("DELETE", &delete, &[], Body::empty()).await.status,
        200
    );
}

#[tokio::test]
async fn every_response_has_the_security_headers_and_patient_data_is_not_stored() {
    let t = start(&[], None);
    let sid = t.session().await;
    t.upload(&sid, &[sample(2, 2)]).await;
    let applied = t.apply(&sid, r#"{"profile":"basic"}"#).await;
    assert_eq!(applied.status, 200);
    let page = t.call("GET", "/", &[], Body::empty()).await;
    let csp = page.header("content-security-policy").to_string();
    for part in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    let s = format!("/api/sessions/{sid}");
    let with_data = [
        format!("{s}/state"),
        format!("{s}/files/f1/tree"),
        format!("{s}/files/f1/image"),
        format!("{s}/files/f1/frame/0.png"),
        format!("{s}/files/f1/pixels?x=0&y=0&w=1&h=1"),
        format!("{s}/files/f1/boxes"),
        format!("{s}/files/f1/export"),
        format!("{s}/export.zip"),
        format!("{s}/linkage.zip"),
        format!("{s}/report.json"),
        format!("{s}/report.html"),
    ];
    for uri in &with_data {
        let r = t.call("GET", uri, &[], Body::empty()).await;
        assert_eq!(r.status, 200, "{uri}: {:?}", r.json());
        assert_eq!(r.header("cache-control"), "no-store", "{uri}");
    }
    let refused = t
        .router
        .clone()
        .oneshot(
            HttpRequest::get("/api/profiles")
                .header("host", HOST)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let answers = [
        page,
        t.call("GET", "/assets/js/app.js", &[], Body::empty()).await,
        t.call("GET", &with_data[0], &[], Body::empty()).await,
        t.call("GET", "/nope", &[], Body::empty()).await,
        t.call("GET", "/", &[("host", "evil.example")], Body::empty())
            .await,
        Answer {
            status: 401,
            headers: refused.headers().clone(),
            body: Bytes::new(),
        },
    ];
    for r in &answers {
        assert!(r
            .header("content-security-policy")
            .contains("frame-ancestors 'none'"));
        assert_eq!(r.header("x-frame-options"), "DENY");
        assert_eq!(r.header("x-content-type-options"), "nosniff");
        assert_eq!(r.header("referrer-policy"), "no-referrer");
    }
    // The report page: its inline style, nothing to load or run.
    let report = t
        .call("GET", &format!("{s}/report.html"), &[], Body::empty())
        .await;
    let csp = report.header("content-security-policy");
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert!(
        csp.contains("frame-ancestors 'none'") && !csp.contains("script"),
        "{csp}"
    );
}

#[tokio::test]
async fn a_file_over_the_limit_is_413_and_leaves_nothing() {
    let t = start(&["--max-upload", "2K"], None);
    let sid = t.session().await;
    assert_eq!(
        t.call("POST", "/api/sessions", &[], Body::empty())
            .await
            .json()["limits"]["max_upload"],
        2048
    );
    // A small file first, then one over the limit in the same request.
    let r = t.upload(&sid, &[sample(2, 2), sample(64, 64)]).await;
    assert_eq!(r.status, 413, "{:?}", r.json());
    assert_eq!(
        r.json()["error"],
        "a file is larger than the limit of 2 KiB per file; nothing was opened"
    );
    let state = t
        .call(
            "GET",
            &format!("/api/sessions/{sid}/state"),
            &[],
            Body::empty(),
        )
        .await;
    assert_eq!(state.json()["files"], serde_json::json!([]));
    assert_eq!(t.files_on_disk(), 0);
    assert_eq!(t.app.store.used(), 0);
    // The same small file alone opens.
    let r = t.upload(&sid, &[sample(2, 2)]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["files"][0]["id"], "f1");
}

#[tokio::test]
async fn uploads_past_the_storage_of_all_sessions_are_503() {
    let one = sample(40, 40).len() as u64;
    let storage = (one * 3 / 2).to_string();
    let t = start(&["--max-storage", &storage], None);
    let (a, b) = (t.session().await, t.session().await);
    assert_eq!(t.upload(&a, &[sample(40, 40)]).await.status, 200);
    // Another session: the limit is across sessions.
    let r = t.upload(&b, &[sample(40, 40)]).await;
    assert_eq!(r.status, 503, "{:?}", r.json());
    assert_eq!(
        r.json()["error"],
        "the server's storage for open files is full: close files or sessions"
    );
    assert_eq!(t.app.store.used(), one);
    // Closing the first file gives its room back.
    let closed = t
        .call(
            "DELETE",
            &format!("/api/sessions/{a}/files/f1"),
            &[],
            Body::empty(),
        )
        .await;
    assert_eq!(closed.status, 200);
    assert_eq!(t.app.store.used(), 0);
    assert_eq!(t.upload(&b, &[sample(40, 40)]).await.status, 200);
    // Closing the session removes its folder and files (off the async threads).
    assert_eq!(t.files_on_disk(), 1);
    t.call("DELETE", &format!("/api/sessions/{b}"), &[], Body::empty())
        .await;
    for _ in 0..100 {
        if t.files_on_disk() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(t.files_on_disk(), 0);
    assert_eq!(t.app.store.used(), 0);
}

#[tokio::test]
async fn pixels_stay_in_one_file_until_an_apply_changes_them() {
    let t = start(&[], None);
    let sid = t.session().await;
    let bytes = sample(32, 32);
    let r = t.upload(&sid, &[bytes.clone(), bytes.clone()]).await;
    // Only the new files are in the answer.
    assert_eq!(r.json()["files"].as_array().unwrap().len(), 2);
    let r = t.upload(&sid, std::slice::from_ref(&bytes)).await;
    let files = r.json()["files"].clone();
    assert_eq!(files.as_array().unwrap().len(), 1, "{files}");
    assert_eq!(files[0]["id"], "f3");
    let uploaded = t.app.store.used();
    assert_eq!(uploaded, 3 * bytes.len() as u64);
    let apply = format!("/api/sessions/{sid}/apply");
    // Basic keeps the pixels: every snapshot shares the uploaded files.
    for _ in 0..3 {
        assert_eq!(
            t.json("POST", &apply, r#"{"profile":"basic"}"#)
                .await
                .status,
            200
        );
    }
    assert_eq!(t.app.store.used(), uploaded);
    assert_eq!(t.files_on_disk(), 3);
    let s = t.app.sessions.get(&sid).unwrap();
    {
        let s = lock(&s);
        let f = s.state("f1").unwrap();
        assert!(f.staged.object.pixels_on_disk());
        // Headers in memory do not hold the pixels.
        let px = f.staged.object.pixel_element().unwrap();
        assert!(px.value().primitive().unwrap().calculate_byte_len() < 64);
    }
    // A drawn box blanks pixels: that file's cleaned pixels get a file of their own.
    let boxes = format!("/api/sessions/{sid}/files/f1/boxes");
    let r = t
        .json(
            "PUT",
            &boxes,
            r#"{"manual":[{"x0":0,"y0":0,"x1":4,"y1":4}]}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(
        t.json("POST", &apply, r#"{"profile":"pixel"}"#)
            .await
            .status,
        200
    );
    assert_eq!(t.files_on_disk(), 4);
    let px = format!("/api/sessions/{sid}/files/f1/pixels?x=0&y=0&w=5&h=1");
    let r = t.call("GET", &px, &[], Body::empty()).await;
    assert_eq!(r.json()["values"], serde_json::json!([[0, 0, 0, 0, 4]]));
    let tree = t
        .call(
            "GET",
            &format!("/api/sessions/{sid}/files/f1/tree"),
            &[],
            Body::empty(),
        )
        .await
        .json();
    let node = tree["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["tag"] == "(7FE0,0010)")
        .unwrap()
        .clone();
    assert_eq!(node["status"], "modified");
    assert_eq!(node["value"], "(1024 bytes)");
    assert_eq!(node["original"], "(1024 bytes)");
    // The exported file holds the real, blanked pixels.
    let dcm = t
        .call(
            "GET",
            &format!("/api/sessions/{sid}/files/f1/export"),
            &[],
            Body::empty(),
        )
        .await;
    assert_eq!(dcm.status, 200);
    let obj = dcmask_engine::io::read_object(&dcm.body).unwrap();
    let data = obj
        .element(dicom_dictionary_std::tags::PIXEL_DATA)
        .unwrap()
        .to_bytes()
        .unwrap();
    assert_eq!(data.len(), 1024);
    assert_eq!(&data[..5], &[0, 0, 0, 0, 4]);
    // Another Basic: the blanked file is only in the undo history now; closing the
    // file deletes both.
    assert_eq!(
        t.json("POST", &apply, r#"{"profile":"basic"}"#)
            .await
            .status,
        200
    );
    assert_eq!(t.files_on_disk(), 4);
    t.call(
        "DELETE",
        &format!("/api/sessions/{sid}/files/f1"),
        &[],
        Body::empty(),
    )
    .await;
    assert_eq!(t.files_on_disk(), 2);
}

/// [`sample`] with sequences nested `depth` levels deep (built on a thread with room
/// for the recursion of building and writing it).
fn nested(depth: usize) -> Vec<u8> {
    use dicom_core::value::DataSetSequence;
    use dicom_core::{DataElement, VR};
    use dicom_dictionary_std::tags;
    use dicom_object::InMemDicomObject;
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            let mut item = InMemDicomObject::new_empty();
            for _ in 0..depth {
                let seq = DataSetSequence::from(vec![item]);
                item = InMemDicomObject::from_element_iter([DataElement::new(
                    tags::REFERENCED_IMAGE_SEQUENCE,
                    VR::SQ,
                    seq,
                )]);
            }
            let mut obj = dcmask_engine::io::read_object(&sample(2, 2)).unwrap();
            obj.put(item.take_element(tags::REFERENCED_IMAGE_SEQUENCE).unwrap());
            let mut out = Vec::new();
            obj.write_all(&mut out).unwrap();
            out
        })
        .unwrap()
        .join()
        .unwrap()
}

#[tokio::test]
async fn files_nested_too_deep_are_refused_when_read() {
    let t = start(&[], None);
    let sid = t.session().await;
    // The engine refuses deeper nesting before parsing (its `precheck`): every later
    // step walks sequences recursively, and a thread out of stack ends the process.
    let deep = dcmask_engine::io::precheck::MAX_DEPTH + 1;
    let r = t.upload(&sid, &[nested(deep), nested(40)]).await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(
        v["rejected"][0]["error"],
        format!(
            "beyond dcmask's limits: sequences nested more than {} deep",
            dcmask_engine::io::precheck::MAX_DEPTH
        )
    );
    // A report-like depth opens, and goes through every step.
    assert_eq!(v["files"][0]["id"], "f1");
    let apply = format!("/api/sessions/{sid}/apply");
    assert_eq!(
        t.json("POST", &apply, r#"{"profile":"basic"}"#)
            .await
            .status,
        200
    );
    let tree = format!("/api/sessions/{sid}/files/f1/tree");
    assert_eq!(t.call("GET", &tree, &[], Body::empty()).await.status, 200);
    let zip = format!("/api/sessions/{sid}/export.zip");
    assert_eq!(t.call("GET", &zip, &[], Body::empty()).await.status, 200);
}

/// A text detector that panics, as a crashing engine or library would.
struct Panics;

impl TextDetector for Panics {
    fn words(&self, _: &[GrayImage], _: Read) -> dcmask_engine::Result<Vec<Word>> {
        panic!("Quimby^Harriet")
    }
}

#[tokio::test]
async fn a_panic_is_a_500_and_every_session_goes_on() {
    let t = start(&[], Some(Arc::new(Panics)));
    let (a, b) = (t.session().await, t.session().await);
    assert_eq!(t.upload(&a, &[sample(8, 8)]).await.status, 200);
    assert_eq!(t.upload(&b, &[sample(8, 8)]).await.status, 200);
    // Text detection runs inside the engine's proposal, on a worker thread.
    let r = t
        .call(
            "GET",
            &format!("/api/sessions/{a}/files/f1/boxes"),
            &[],
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["error"], "internal server error");
    // An Apply with +Pixel hits it too, for every file.
    let r = t
        .json(
            "POST",
            &format!("/api/sessions/{a}/apply"),
            r#"{"profile":"pixel"}"#,
        )
        .await;
    assert_eq!(r.status, 500);
    // Both sessions go on, the one that panicked included.
    for sid in [&a, &b] {
        let r = t.apply(sid, r#"{"profile":"basic"}"#).await;
        assert_eq!(r.status, 200, "{:?}", r.json());
        assert_eq!(r.json()["state"]["files"].as_array().unwrap().len(), 1);
    }
    // A handler that panics while holding a session: 500, and the session's lock
    // still works.
    let boom = Router::new()
        .route(
            "/boom/{sid}",
            axum::routing::post(
                |State(app): State<Shared>,
                 axum::extract::Path(sid): axum::extract::Path<String>| async move {
                    let s = app.sessions.get(&sid).unwrap();
                    let _held = lock(&s);
                    if !sid.is_empty() {
                        panic!("Quimby^Harriet");
                    }
                    StatusCode::OK
                },
            ),
        )
        .layer(middleware::from_fn(catch_panic))
        .with_state(t.app.clone());
    let res = boom
        .oneshot(
            HttpRequest::post(format!("/boom/{a}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 500);
    let body = to_bytes(res.into_body(), usize::MAX).await.unwrap();
    assert!(!String::from_utf8_lossy(&body).contains("Quimby"));
    let r = t
        .call(
            "GET",
            &format!("/api/sessions/{a}/state"),
            &[],
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, 200);
}

#[test]
fn clip_cuts_quoted_text_and_escapes_controls() {
    assert_eq!(clip("plain message"), "plain message");
    let long = format!("unknown variant `{}`, expected `basic`", "x".repeat(50));
    assert_eq!(
        clip(&long),
        format!("unknown variant `{}…`, expected `basic`", "x".repeat(32))
    );
    assert_eq!(clip("bad \"a\u{7}b\""), "bad \"a\\u{7}b\"");
    assert_eq!(clip("line\nbreak"), "line\\nbreak");
    assert!(clip(&"y".repeat(1000)).chars().count() <= 301);
}
