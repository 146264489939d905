//! `dcmask anonymize`: the built binary on generated inputs and on the shared corpus.

use dcmask_engine::io::stream;
use dcmask_engine::{deidentify, io, Key, Plan, ProfileId};
use dicom_core::value::{PixelFragmentSequence, PrimitiveValue};
use dicom_core::{DataElement, VR};
use dicom_dictionary_std::tags;
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::InMemDicomObject;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "../../../tests/support/corpus.rs"]
mod corpus;

const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
const IMPLICIT_LE: &str = "1.2.840.10008.1.2";
const EXPLICIT_BE: &str = "1.2.840.10008.1.2.2";
const JPEG_BASELINE: &str = "1.2.840.10008.1.2.4.50";
const CT: &str = "1.2.840.10008.5.1.4.1.1.2";

struct Spec<'a> {
    name: &'a str,
    pid: &'a str,
    study: &'a str,
    series: &'a str,
    sop: &'a str,
    ts: &'a str,
    encapsulated: bool,
    pixels: usize,
}

impl<'a> Spec<'a> {
    fn new(name: &'a str, pid: &'a str, sop: &'a str) -> Spec<'a> {
        Spec {
            name,
            pid,
            study: "1.2.826.0.1.3680043.2.1125.1",
            series: "1.2.826.0.1.3680043.2.1125.1.1",
            sop,
            ts: EXPLICIT_LE,
            encapsulated: false,
            pixels: 64,
        }
    }
}

fn dicom(spec: &Spec) -> Vec<u8> {
    let mut ds = InMemDicomObject::new_empty();
    ds.put_str(tags::SOP_CLASS_UID, VR::UI, CT);
    ds.put_str(tags::SOP_INSTANCE_UID, VR::UI, spec.sop);
    ds.put_str(tags::STUDY_INSTANCE_UID, VR::UI, spec.study);
    ds.put_str(tags::SERIES_INSTANCE_UID, VR::UI, spec.series);
    ds.put_str(tags::PATIENT_NAME, VR::PN, spec.name);
    ds.put_str(tags::PATIENT_ID, VR::LO, spec.pid);
    ds.put_str(tags::PATIENT_BIRTH_DATE, VR::DA, "19610203");
    ds.put_str(tags::STUDY_DATE, VR::DA, "20200102");
    ds.put_str(tags::INSTITUTION_NAME, VR::LO, "Saint Example Hospital");
    ds.put_str(tags::MODALITY, VR::CS, "CT");
    ds.put(DataElement::new(
        tags::ROWS,
        VR::US,
        PrimitiveValue::from(spec.pixels as u16),
    ));
    ds.put(DataElement::new(
        tags::COLUMNS,
        VR::US,
        PrimitiveValue::from(spec.pixels as u16),
    ));
    ds.put(DataElement::new(
        tags::BITS_ALLOCATED,
        VR::US,
        PrimitiveValue::from(16u16),
    ));
    if spec.encapsulated {
        let frame: Vec<u8> = (0..spec.pixels * 4).map(|i| (i * 7) as u8).collect();
        let seq = PixelFragmentSequence::new(vec![0u32], vec![frame]);
        ds.put(DataElement::new(tags::PIXEL_DATA, VR::OB, seq));
    } else {
        let px: Vec<u16> = (0..spec.pixels * spec.pixels)
            .map(|i| (i * 31 % 4096) as u16)
            .collect();
        ds.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::U16(px.into()),
        ));
    }
    let meta = FileMetaTableBuilder::new()
        .transfer_syntax(spec.ts)
        .media_storage_sop_class_uid(CT)
        .media_storage_sop_instance_uid(spec.sop)
        .build()
        .unwrap();
    io::to_bytes(&ds.with_exact_meta(meta)).unwrap()
}

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("key.hex"), KEY_HEX).unwrap();
        Env { dir }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn write(&self, rel: &str, bytes: &[u8]) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }

    fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_dcmask"));
        c.env("DCMASK_DATA_DIR", self.path("data"));
        c.env_remove("DCMASK_LOG");
        c
    }

    /// `dcmask anonymize INPUTS -o OUT --key-file key.hex EXTRA...`
    fn anonymize(&self, inputs: &[&Path], out: &Path, extra: &[&str]) -> Output {
        let mut c = self.command();
        c.arg("anonymize").args(inputs).arg("-o").arg(out);
        c.arg("--key-file").arg(self.path("key.hex"));
        c.args(extra);
        c.output().unwrap()
    }

    /// A patient folder named after the patient (PHI in the path), two studies.
    fn patient_tree(&self) -> PathBuf {
        let input = self.path("in");
        let mut n = 0;
        for (name, pid, folder) in [
            ("DOE^JOHN", "PID-111", "DOE_JOHN_PID-111"),
            ("ROE^JANE", "PID-222", "ROE_JANE_PID-222"),
        ] {
            for study in ["2020-01-02 CT HEAD", "2021-05-06 CT CHEST"] {
                for i in 0..3 {
                    n += 1;
                    let sop = format!("1.2.826.0.1.3680043.2.1125.9.{n}");
                    let study_uid = format!("1.2.826.0.1.3680043.2.1125.7.{}", &pid[4..]);
                    let mut spec = Spec::new(name, pid, &sop);
                    spec.study = &study_uid;
                    let rel = format!("{folder}/{study}/{name}_{i}.dcm");
                    self.write(&format!("in/{rel}"), &dicom(&spec));
                }
            }
        }
        input
    }
}

fn ok(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.code() == Some(0),
        "exit {:?}\nstderr:\n{stderr}",
        out.status.code()
    );
    stderr
}

/// Every file under `root` (relative path -> bytes), hidden ones included.
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn report(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap()
}

/// The default linkage folder of `out`: `out.linkage` beside it.
fn linkage(out: &Path) -> PathBuf {
    let mut name = out.file_name().unwrap().to_os_string();
    name.push(".linkage");
    out.with_file_name(name)
}

/// The linkage files a rerun must reproduce: mappings and path list (the journal grows,
/// the README names the output folder).
fn linkage_data(out: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut t = tree(&linkage(out));
    t.retain(|k, _| k.ends_with(".csv"));
    assert_eq!(t.len(), 3, "{:?}", t.keys());
    t
}

/// The rows of the linkage folder's paths.csv, by column name.
fn paths(out: &Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(linkage(out).join("paths.csv")).unwrap();
    let head = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            head.iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// The report entry of the input at `rel` (relative to its command-line input), found
/// through paths.csv as the custodian would.
fn entry_of(out: &Path, rel: &str) -> serde_json::Value {
    let rows = paths(out);
    let row = rows
        .iter()
        .find(|r| r["relative"] == rel)
        .unwrap_or_else(|| panic!("{rel} not in paths.csv"));
    let n: u64 = row["ref"].parse().unwrap();
    report(out)["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["input_ref"] == n)
        .unwrap()
        .clone()
}

fn key() -> Key {
    Key::from_file_contents(KEY_HEX.as_bytes()).unwrap()
}

fn in_memory(bytes: &[u8], plan: &Plan) -> Vec<u8> {
    let out = deidentify(io::read_object(bytes).unwrap(), plan, &key()).unwrap();
    io::to_bytes(&out.object).unwrap()
}

#[test]
fn output_tree_has_neutral_names_and_mappings() {
    let env = Env::new();
    let input = env.patient_tree();
    let out = env.path("out");
    ok(&env.anonymize(&[&input], &out, &["--quiet"]));
    let files = tree(&out);
    let names: Vec<&String> = files.keys().collect();
    let expected_dicom: Vec<String> = ["DIR0001", "DIR0002"]
        .iter()
        .flat_map(|p| {
            ["DIR0001", "DIR0002"]
                .iter()
                .flat_map(move |s| (1..=3).map(move |i| format!("{p}/{s}/IMG{i:05}.dcm")))
        })
        .collect();
    for e in &expected_dicom {
        assert!(files.contains_key(e), "missing {e}; have {names:?}");
    }
    assert_eq!(files.len(), expected_dicom.len() + 1, "{names:?}");
    for n in &names {
        for phi in ["DOE", "ROE", "PID", "2020", "HEAD", "JOHN"] {
            assert!(!n.contains(phi), "output name {n} carries {phi}");
        }
    }
    // Outputs are de-identified DICOM.
    let first = io::read_object(&files["DIR0001/DIR0001/IMG00001.dcm"]).unwrap();
    let name = first
        .element(tags::PATIENT_NAME)
        .ok()
        .and_then(|e| e.to_str().ok());
    assert_ne!(name.as_deref(), Some("DOE^JOHN"));
    // Mappings, in the linkage folder: every original SOP Instance UID and both Patient IDs.
    let link = tree(&linkage(&out));
    let uids = String::from_utf8(link["uid_mapping.csv"].clone()).unwrap();
    assert!(uids.starts_with("id_old,id_new\n"));
    for n in 1..=12 {
        assert!(uids.contains(&format!("1.2.826.0.1.3680043.2.1125.9.{n},2.25.")));
    }
    let lines: Vec<&str> = uids.lines().skip(1).collect();
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted, "uid_mapping.csv is sorted");
    let pids = String::from_utf8(link["patid_mapping.csv"].clone()).unwrap();
    assert_eq!(pids.lines().count(), 3, "{pids}");
    assert!(pids.contains("PID-111,") && pids.contains("PID-222,"));
    let r = report(&out);
    assert_eq!(r["summary"]["ok"], 12);
    assert_eq!(r["summary"]["streamed"], 12);
    assert_eq!(r["profile"], "Basic");
    assert!(r["key_fingerprint"].as_str().unwrap().len() >= 8);
    let actions = r["actions"].as_object().unwrap();
    assert!(
        actions.values().map(|v| v.as_u64().unwrap()).sum::<u64>() > 5,
        "{actions:?}"
    );
    assert!(r["rules"].as_object().unwrap().len() > 3);
    let f0 = &r["files"][0];
    assert_eq!(f0["status"], "ok");
    assert_eq!(f0["output"], "DIR0001/DIR0001/IMG00001.dcm");
    assert!(f0.get("input").is_none(), "{f0}");
    let e = entry_of(&out, "DOE_JOHN_PID-111/2020-01-02 CT HEAD/DOE^JOHN_0.dcm");
    assert_eq!(e["output"], "DIR0001/DIR0001/IMG00001.dcm");
    assert!(f0["changed"].as_u64().unwrap() > 3);
    // The report holds no value from the files.
    let text = String::from_utf8(files["report.json"].clone()).unwrap();
    for v in [
        "Saint Example",
        "19610203",
        "1.2.826.0.1.3680043.2.1125.9.1\"",
    ] {
        assert!(!text.contains(v), "report.json holds {v}");
    }
}

#[test]
fn name_by_uid_uses_the_new_identifiers() {
    let env = Env::new();
    let input = env.patient_tree();
    let out = env.path("out");
    ok(&env.anonymize(&[&input], &out, &["--quiet", "--name-by-uid"]));
    let files = tree(&out);
    let dicoms: Vec<(&String, &Vec<u8>)> =
        files.iter().filter(|(k, _)| k.ends_with(".dcm")).collect();
    assert_eq!(dicoms.len(), 12);
    let text = |o: &dicom_object::DefaultDicomObject, t| {
        o.element(t)
            .unwrap()
            .to_str()
            .unwrap()
            .trim_end_matches('\0')
            .to_string()
    };
    for (path, bytes) in dicoms {
        let o = io::read_object(bytes).unwrap();
        let expected = format!(
            "{}/{}/{}/{}.dcm",
            text(&o, tags::PATIENT_ID),
            text(&o, tags::STUDY_INSTANCE_UID),
            text(&o, tags::SERIES_INSTANCE_UID),
            text(&o, tags::SOP_INSTANCE_UID)
        );
        assert_eq!(path, &expected);
        assert!(!path.contains("PID-") && !path.contains("1.2.826.0.1.3680043"));
    }
}

#[test]
fn reruns_are_byte_identical() {
    let env = Env::new();
    let input = env.patient_tree();
    let (a, b) = (env.path("a"), env.path("b"));
    ok(&env.anonymize(&[&input], &a, &["--quiet", "-j", "2"]));
    ok(&env.anonymize(&[&input], &b, &["--quiet", "-j", "1"]));
    assert!(tree(&a) == tree(&b), "two runs differ");
    assert!(
        linkage_data(&a) == linkage_data(&b),
        "two runs' linkage differs"
    );
    // Rerunning into a finished folder changes nothing.
    let (before, link_before) = (tree(&a), linkage_data(&a));
    ok(&env.anonymize(&[&input], &a, &["--quiet"]));
    assert!(tree(&a) == before);
    assert!(linkage_data(&a) == link_before);
}

#[test]
fn resume_after_deleted_outputs_and_torn_journal() {
    let env = Env::new();
    let input = env.patient_tree();
    let (reference, out) = (env.path("ref"), env.path("out"));
    ok(&env.anonymize(&[&input], &reference, &["--quiet"]));
    ok(&env.anonymize(&[&input], &out, &["--quiet"]));
    // Simulate an interruption: outputs missing, report and mappings not written yet,
    // a temporary file left behind, the journal's last line torn.
    std::fs::remove_file(out.join("DIR0001/DIR0002/IMG00002.dcm")).unwrap();
    std::fs::remove_file(out.join("DIR0002/DIR0001/IMG00003.dcm")).unwrap();
    std::fs::remove_file(out.join("report.json")).unwrap();
    for f in ["uid_mapping.csv", "patid_mapping.csv", "paths.csv"] {
        std::fs::remove_file(linkage(&out).join(f)).unwrap();
    }
    std::fs::write(out.join("DIR0002/DIR0001/.IMG00003.dcm.part"), b"partial").unwrap();
    std::fs::write(out.join("DIR0001/.IMG00009.dcm.part"), b"partial").unwrap();
    let journal = linkage(&out).join("journal.jsonl");
    let j = std::fs::read(&journal).unwrap();
    std::fs::write(&journal, &j[..j.len() - 40]).unwrap();
    let out2 = env.anonymize(&[&input], &out, &[]);
    let stderr = ok(&out2);
    assert!(
        stderr.contains("already done by an earlier run"),
        "{stderr}"
    );
    assert!(tree(&out) == tree(&reference), "resumed run differs");
    assert!(
        linkage_data(&out) == linkage_data(&reference),
        "resumed linkage differs"
    );
}

#[test]
fn resume_after_kill() {
    let env = Env::new();
    let input = env.path("in");
    for i in 0..400 {
        let sop = format!("1.2.826.0.1.3680043.2.1125.5.{i}");
        let pid = format!("PID{}", i % 7);
        let mut spec = Spec::new("KILL^ME", &pid, &sop);
        spec.pixels = 256;
        env.write(&format!("in/p{}/f{i:04}.dcm", i % 7), &dicom(&spec));
    }
    let (reference, out) = (env.path("ref"), env.path("out"));
    ok(&env.anonymize(&[&input], &reference, &["--quiet"]));
    let mut child = env
        .command()
        .arg("anonymize")
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .arg("--key-file")
        .arg(env.path("key.hex"))
        .arg("-j")
        .arg("1")
        .arg("--quiet")
        .spawn()
        .unwrap();
    // Kill once some outputs are in place.
    let journal = linkage(&out).join("journal.jsonl");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let lines = std::fs::read(&journal)
            .map(|j| j.iter().filter(|&&b| b == b'\n').count())
            .unwrap_or(0);
        if lines > 20 || std::time::Instant::now() > deadline {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    let killed = status.code().is_none();
    let stderr = ok(&env.anonymize(&[&input], &out, &[]));
    if killed {
        assert!(
            stderr.contains("already done by an earlier run"),
            "{stderr}"
        );
    } else {
        eprintln!("note: the first run finished before it could be killed");
    }
    assert!(tree(&out) == tree(&reference), "resumed run differs");
    assert!(linkage_data(&out) == linkage_data(&reference));
}

#[test]
fn other_configuration_and_foreign_folders_are_refused() {
    let env = Env::new();
    let input = env.patient_tree();
    let out = env.path("out");
    ok(&env.anonymize(&[&input], &out, &["--quiet"]));
    let r = env.anonymize(&[&input], &out, &["--quiet", "--profile", "hipaa"]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("holds a dcmask run with other"));
    let foreign = env.path("foreign");
    env.write("foreign/notes.txt", b"mine");
    let r = env.anonymize(&[&input], &foreign, &["--quiet"]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("not empty"));
}

#[test]
fn non_dicom_dicomdir_and_corrupt_files_are_reported() {
    let env = Env::new();
    let good = dicom(&Spec::new("A^B", "P1", "1.2.3.4.1"));
    env.write("in/a/good1.dcm", &good);
    env.write(
        "in/a/good2.dcm",
        &dicom(&Spec::new("A^B", "P1", "1.2.3.4.2")),
    );
    env.write("in/a/notes.txt", b"these are not images\n");
    env.write("in/b/truncated.dcm", &good[..good.len() / 3]);
    let mut bad_meta = good.clone();
    bad_meta[132..136].copy_from_slice(&[0x02, 0x00, 0x99, 0x00]);
    env.write("in/b/badmeta.dcm", &bad_meta);
    // A DICOMDIR: Media Storage Directory Storage.
    let mut dir = InMemDicomObject::new_empty();
    dir.put_str(tags::FILE_SET_ID, VR::CS, "SET");
    let meta = FileMetaTableBuilder::new()
        .transfer_syntax(EXPLICIT_LE)
        .media_storage_sop_class_uid("1.2.840.10008.1.3.10")
        .media_storage_sop_instance_uid("1.2.3.4.99")
        .build()
        .unwrap();
    // Named otherwise than DICOMDIR: not a media root, skipped (see media_set_* below).
    env.write(
        "in/DICOMDIR-copy",
        &io::to_bytes(&dir.with_exact_meta(meta)).unwrap(),
    );
    let input = env.path("in");
    let out = env.path("out");
    let r = env.anonymize(&[&input], &out, &[]);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("truncated.dcm: "), "{stderr}");
    assert!(stderr.contains("badmeta.dcm: "), "{stderr}");
    assert!(
        stderr.contains("1 DICOMDIR not copied: regenerate"),
        "{stderr}"
    );
    let rep = report(&out);
    let s = &rep["summary"];
    assert_eq!(
        (
            s["ok"].as_u64(),
            s["failed"].as_u64(),
            s["skipped"].as_u64()
        ),
        (Some(2), Some(2), Some(2)),
        "{s}"
    );
    assert_eq!(s["skipped_not_dicom"], 1);
    assert_eq!(s["DICOMDIR not copied: regenerate"], 1);
    for f in rep["files"].as_array().unwrap() {
        if f["status"] != "ok" {
            assert!(f["reason"].as_str().unwrap().len() > 5, "{f}");
            assert!(f.get("output").is_none());
        }
    }
    let files = tree(&out);
    assert!(!files.keys().any(|k| k.contains("DICOMDIR")));
    assert_eq!(files.keys().filter(|k| k.ends_with(".dcm")).count(), 2);
}

#[test]
fn inputs_are_untouched() {
    let env = Env::new();
    let input = env.patient_tree();
    env.write("in/readme.txt", b"x");
    let before = tree(&input);
    let mtimes: Vec<_> = walk_mtimes(&input);
    ok(&env.anonymize(&[&input], &env.path("out"), &["--quiet"]));
    assert!(tree(&input) == before, "an input changed");
    assert_eq!(walk_mtimes(&input), mtimes);
}

fn walk_mtimes(root: &Path) -> Vec<(PathBuf, std::time::SystemTime)> {
    let mut v = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            v.push((
                p.clone(),
                std::fs::metadata(&p).unwrap().modified().unwrap(),
            ));
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    v.sort();
    v
}

#[test]
fn output_inside_input_is_refused() {
    let env = Env::new();
    let input = env.patient_tree();
    let before = tree(&input);
    let r = env.anonymize(&[&input], &input.join("DOE_JOHN_PID-111/out"), &["--quiet"]);
    assert_eq!(r.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(stderr.contains("inside the input folder"), "{stderr}");
    assert!(!input.join("DOE_JOHN_PID-111/out").exists());
    let r = env.anonymize(&[&input], &input, &["--quiet"]);
    assert_eq!(r.status.code(), Some(2));
    // An input inside the output folder.
    let r = env.anonymize(&[&input.join("DOE_JOHN_PID-111")], &input, &["--quiet"]);
    assert_eq!(r.status.code(), Some(2));
    assert!(tree(&input) == before);
}

#[test]
fn json_summary_on_stdout() {
    let env = Env::new();
    let input = env.patient_tree();
    let r = env.anonymize(&[&input], &env.path("out"), &["--quiet", "--json"]);
    let stderr = ok(&r);
    assert!(stderr.is_empty(), "--quiet printed: {stderr}");
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["summary"]["ok"], 12);
    assert_eq!(v["exit_code"], 0);
    assert!(v["files_per_second"].as_f64().unwrap() > 0.0);
}

#[test]
fn streamed_output_equals_in_memory_output() {
    let env = Env::new();
    let plan = Plan::builtin(ProfileId::Basic);
    let mut expected = BTreeMap::new();
    for (i, (ts, enc)) in [
        (EXPLICIT_LE, false),
        (IMPLICIT_LE, false),
        (EXPLICIT_BE, false),
        (JPEG_BASELINE, true),
        ("1.2.840.10008.1.2.5", true),
    ]
    .into_iter()
    .enumerate()
    {
        let sop = format!("1.2.3.4.5.{i}");
        let mut spec = Spec::new("EQ^UAL", "P9", &sop);
        spec.ts = ts;
        spec.encapsulated = enc;
        spec.pixels = 300; // more than the first read: the pixel data is copied by chunks
        let bytes = dicom(&spec);
        env.write(&format!("in/f{i}.dcm"), &bytes);
        expected.insert(format!("IMG{:05}.dcm", i + 1), in_memory(&bytes, &plan));
    }
    let out = env.path("out");
    ok(&env.anonymize(&[&env.path("in")], &out, &["--quiet"]));
    let got = tree(&out);
    for (name, bytes) in &expected {
        assert!(
            &got[name] == bytes,
            "{name}: streamed output differs from in-memory"
        );
    }
    let r = report(&out);
    for f in r["files"].as_array().unwrap() {
        assert_eq!(f["mode"], "streamed", "{f}");
    }
}

use corpus::dir as corpus;

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Every corpus file: the streamed output equals the in-memory output byte for byte, or
/// both refuse the file.
#[test]
fn corpus_streamed_equals_in_memory() {
    let Some(dir) = corpus() else { return };
    let mut files = Vec::new();
    files_under(&dir, &mut files);
    let plan = Plan::builtin(ProfileId::Basic);
    let (mut streamed, mut compared) = (0, 0);
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        let full = io::read_object(&bytes)
            .and_then(|o| deidentify(o, &plan, &key()))
            .and_then(|o| io::to_bytes(&o.object));
        let mut out = Vec::new();
        let s =
            stream::deidentify_stream(std::fs::File::open(&path).unwrap(), &mut out, &plan, &key());
        match (full, s) {
            (Ok(full), Ok(s)) => {
                compared += 1;
                if s.mode.is_streamed() {
                    streamed += 1;
                }
                assert!(
                    full == out,
                    "{}: streamed ({}) differs from in-memory",
                    path.display(),
                    s.mode.describe()
                );
            }
            (Err(_), Err(_)) => {}
            (Ok(_), Err(e)) => panic!("{}: only streaming fails: {e}", path.display()),
            (Err(e), Ok(_)) => panic!("{}: only in-memory fails: {e}", path.display()),
        }
    }
    eprintln!("corpus: {compared} files compared, {streamed} streamed");
    assert!(streamed > 100, "only {streamed} corpus files streamed");
}

#[test]
fn corpus_batch_reports_every_file() {
    let Some(dir) = corpus() else { return };
    let env = Env::new();
    let out = env.path("out");
    let r = env.anonymize(&[&dir], &out, &["--quiet"]);
    let stderr = String::from_utf8_lossy(&r.stderr);
    // The corpus holds deliberately broken files: exit 1, every failure named.
    assert_eq!(r.status.code(), Some(1), "{stderr}");
    let rep = report(&out);
    let mut total = Vec::new();
    files_under(&dir, &mut total);
    let listed = rep["files"].as_array().unwrap();
    assert_eq!(listed.len(), total.len());
    let failed = listed.iter().filter(|f| f["status"] == "failed").count();
    assert_eq!(stderr.matches("failed: ").count(), failed.min(21));
    // Test files without pixel data (or UIDs) are refused as incomplete, with the reason.
    let incomplete = listed
        .iter()
        .filter(|f| {
            f["status"] == "failed"
                && f["reason"].as_str().is_some_and(|r| {
                    r.starts_with("incomplete: ")
                        && r.ends_with("missing; the file may be truncated")
                })
        })
        .count();
    assert!(incomplete >= 60, "{incomplete} refused as incomplete");
    assert!(rep["summary"]["ok"].as_u64().unwrap() > 190);
    assert!(rep["summary"]["ok"].as_u64().unwrap() + incomplete as u64 > 250);
    assert!(
        rep["summary"]["DICOMDIR not copied: regenerate"]
            .as_u64()
            .unwrap()
            >= 1
    );
    // Every output written reads back: what could not be read is refused, never written.
    let unreadable: Vec<String> = tree(&out)
        .into_iter()
        .filter(|(name, bytes)| {
            // Outputs under a media root have no extension; the DICOMDIRs are checked by
            // corpus_media_sets_are_regenerated.
            let output =
                !name.ends_with(".json") && !name.ends_with(".csv") && !name.ends_with("DICOMDIR");
            output && io::read_object(bytes).is_err()
        })
        .map(|(name, _)| name)
        .collect();
    assert!(
        unreadable.is_empty(),
        "outputs that do not read back: {unreadable:?}"
    );
}

/// A multi-frame CT of `frames` 512x512 16-bit frames (512 KiB each), written without
/// holding it in memory.
fn large_file(path: &Path, frames: usize) {
    use std::io::Write;
    let rows = 512usize;
    let frame_bytes = rows * rows * 2;
    let pixel_len = (frame_bytes * frames) as u32;
    let mut spec = Spec::new("BIG^FILE", "PBIG", "1.2.3.4.77");
    spec.pixels = 2;
    let small = dicom(&spec);
    // Header of the small object, then a large Pixel Data element instead of its own.
    let obj = io::read_object(&small).unwrap();
    let mut header = obj.into_inner();
    header.remove_element(tags::PIXEL_DATA);
    header.put(DataElement::new(
        tags::ROWS,
        VR::US,
        PrimitiveValue::from(rows as u16),
    ));
    header.put(DataElement::new(
        tags::COLUMNS,
        VR::US,
        PrimitiveValue::from(rows as u16),
    ));
    header.put_str(tags::NUMBER_OF_FRAMES, VR::IS, frames.to_string());
    let meta = FileMetaTableBuilder::new()
        .transfer_syntax(EXPLICIT_LE)
        .media_storage_sop_class_uid(CT)
        .media_storage_sop_instance_uid("1.2.3.4.77")
        .build()
        .unwrap();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    f.write_all(&io::to_bytes(&header.with_exact_meta(meta)).unwrap())
        .unwrap();
    f.write_all(&[0xE0, 0x7F, 0x10, 0x00, b'O', b'W', 0, 0])
        .unwrap();
    f.write_all(&pixel_len.to_le_bytes()).unwrap();
    let chunk: Vec<u8> = (0..frame_bytes).map(|i| (i % 251) as u8).collect();
    for _ in 0..frames {
        f.write_all(&chunk).unwrap();
    }
    f.flush().unwrap();
}

/// `/usr/bin/time -v`'s peak RSS of a run of the binary, in kB, and the run's output.
fn peak_rss_kb(env: &Env, args: &[&std::ffi::OsStr]) -> Option<(u64, Output)> {
    if !Path::new("/usr/bin/time").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "/usr/bin/time is missing (apt-get install time)"
        );
        eprintln!("!!!!! SKIPPED: /usr/bin/time is missing (apt-get install time) !!!!!");
        return None;
    }
    let r = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(env!("CARGO_BIN_EXE_dcmask"))
        .args(args)
        .env("DCMASK_DATA_DIR", env.path("data"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&r.stderr);
    let rss_kb: u64 = stderr
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.trim().parse().ok())
        .expect("time -v output");
    Some((rss_kb, r))
}

/// `dcmask inspect` reads only the header of a 200 MiB file: peak RSS far below its size.
#[test]
fn inspect_streams_large_files() {
    let env = Env::new();
    let input = env.path("big.dcm");
    large_file(&input, 400);
    let size = std::fs::metadata(&input).unwrap().len();
    let key = env.path("key.hex");
    let Some((rss_kb, r)) = peak_rss_kb(
        &env,
        &[
            "inspect".as_ref(),
            input.as_os_str(),
            "--key-file".as_ref(),
            key.as_os_str(),
        ],
    ) else {
        return;
    };
    ok(&r);
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(stdout.contains("PatientName"), "{stdout}");
    eprintln!(
        "inspect: {:.0} MiB file, peak RSS {:.1} MiB",
        size as f64 / 1048576.0,
        rss_kb as f64 / 1024.0
    );
    assert!(size > 200 * 1024 * 1024);
    // Reading the file whole would take at least its size.
    assert!(rss_kb * 1024 < size / 2, "peak RSS {rss_kb} kB");
}

/// A 1 GiB multi-frame file through the binary: peak RSS must stay far below its size.
/// `cargo test -p dcmask --release --test batch -- --ignored large_file --nocapture`
#[test]
#[ignore]
fn large_file_peak_rss() {
    let env = Env::new();
    let input = env.path("in/big.dcm");
    large_file(&input, 2048);
    let size = std::fs::metadata(&input).unwrap().len();
    let out = env.path("out");
    let key = env.path("key.hex");
    let in_dir = env.path("in");
    let Some((rss_kb, r)) = peak_rss_kb(
        &env,
        &[
            "anonymize".as_ref(),
            in_dir.as_os_str(),
            "-o".as_ref(),
            out.as_os_str(),
            "--key-file".as_ref(),
            key.as_os_str(),
        ],
    ) else {
        return;
    };
    ok(&r);
    let out_size = std::fs::metadata(out.join("IMG00001.dcm")).unwrap().len();
    eprintln!(
        "large file: {:.0} MiB in, {:.0} MiB out, peak RSS {:.1} MiB",
        size as f64 / 1048576.0,
        out_size as f64 / 1048576.0,
        rss_kb as f64 / 1024.0
    );
    assert!(out_size > size - 4096);
    assert_eq!(report(&out)["files"][0]["mode"], "streamed");
    assert!(rss_kb < 100 * 1024, "peak RSS {rss_kb} kB");
}

/// The leaf records of a DICOMDIR: (record type, File ID with `/`, Referenced SOP Instance UID).
fn dicomdir_leaves(path: &Path) -> Vec<(String, String, String)> {
    let dir = dicom_object::open_file(path).unwrap();
    let text = |r: &InMemDicomObject, t| {
        r.get(t)
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim_end_matches(['\0', ' ']).to_string())
            .unwrap_or_default()
    };
    dir.get(tags::DIRECTORY_RECORD_SEQUENCE)
        .unwrap()
        .items()
        .unwrap()
        .iter()
        .filter(|r| r.get(tags::REFERENCED_FILE_ID).is_some())
        .map(|r| {
            (
                text(r, tags::DIRECTORY_RECORD_TYPE),
                text(r, tags::REFERENCED_FILE_ID).replace('\\', "/"),
                text(r, tags::REFERENCED_SOP_INSTANCE_UID_IN_FILE),
            )
        })
        .collect()
}

/// The DICOMDIR at `root` (relative to `out`) lists exactly the outputs that `files`
/// (relative paths) hold under it, and each record names its file's SOP Instance UID.
fn check_dicomdir_lists(out: &Path, root: &str, files: &[String]) {
    let path = out.join(root).join("DICOMDIR");
    let leaves = dicomdir_leaves(&path);
    let prefix = if root.is_empty() {
        String::new()
    } else {
        format!("{root}/")
    };
    let mut listed: Vec<String> = leaves
        .iter()
        .map(|(_, id, _)| format!("{prefix}{id}"))
        .collect();
    listed.sort();
    let mut expected = files.to_vec();
    expected.sort();
    assert_eq!(listed, expected, "{}", path.display());
    for (_, id, uid) in &leaves {
        let obj = io::read_object(&std::fs::read(out.join(&prefix).join(id)).unwrap()).unwrap();
        let sop = obj
            .element(tags::SOP_INSTANCE_UID)
            .unwrap()
            .to_str()
            .unwrap();
        assert_eq!(sop.trim_end_matches('\0'), uid);
        assert!(
            id.split('/').all(|c| c.len() <= 8 && !c.contains('.')),
            "{id}"
        );
    }
}

/// dcmdump reads it and dciodvfy reports no error, when the tools are installed.
fn validate_dicomdir(path: &Path) {
    let (Ok(dump), Ok(vfy)) = (
        Command::new("dcmdump").arg(path).output(),
        Command::new("dciodvfy").arg(path).output(),
    ) else {
        eprintln!("\n!!!!! SKIPPED: dcmdump or dciodvfy is not installed (apt-get install dcmtk dicom3tools) !!!!!\n");
        return;
    };
    let dump_err = String::from_utf8_lossy(&dump.stderr);
    assert!(
        dump.status.success() && !dump_err.contains("E: "),
        "dcmdump: {dump_err}"
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&vfy.stdout),
        String::from_utf8_lossy(&vfy.stderr)
    );
    assert!(
        !text.lines().any(|l| l.starts_with("Error")),
        "dciodvfy on {}:\n{text}",
        path.display()
    );
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// A media set whose DICOMDIR names the patients (PHI), in folders named after them.
fn media_set(env: &Env) -> PathBuf {
    use dcmask_engine::io::dicomdir::{self, Entry};
    let mut originals = Vec::new();
    let mut n = 0;
    for (name, pid, folder) in [
        ("DOE^JOHN", "PID-111", "DOE_JOHN"),
        ("ROE^JANE", "PID-222", "ROE_JANE"),
    ] {
        for series in 1..=2 {
            for i in 1..=2 {
                n += 1;
                let sop = format!("1.2.826.0.1.3680043.2.1125.3.{n}");
                let mut spec = Spec::new(name, pid, &sop);
                let study = format!("1.2.826.0.1.3680043.2.1125.4.{pid}");
                let series_uid = format!("{study}.{series}");
                spec.study = &study;
                spec.series = &series_uid;
                let bytes = dicom(&spec);
                let id = vec![folder.to_string(), format!("CT{series}"), format!("IM{i}")];
                env.write(&format!("media/{}", id.join("/")), &bytes);
                originals.push((id, io::read_object(&bytes).unwrap()));
            }
        }
    }
    let entries: Vec<Entry> = originals
        .iter()
        .map(|(id, o)| Entry {
            file_id: id.clone(),
            object: o,
        })
        .collect();
    let dir = dicomdir::to_bytes("PATIENTS DOE", &entries).unwrap();
    assert!(contains(&dir, "DOE^JOHN"), "the input DICOMDIR carries PHI");
    env.write("media/DICOMDIR", &dir);
    env.write("media/DICOMDIR-OLD", &dir);
    env.write("media/README.TXT", b"Patient DOE^JOHN, PID-111\n");
    env.path("media")
}

const MEDIA_PHI: &[&str] = &[
    "DOE",
    "ROE",
    "JOHN",
    "JANE",
    "PID-",
    "PATIENTS",
    "Saint Example",
    "19610203",
    "20200102",
    "1.2.826.0.1.3680043.2.1125",
];

#[test]
fn media_set_dicomdir_is_regenerated() {
    let env = Env::new();
    let input = media_set(&env);
    let out = env.path("out");
    let r = env.anonymize(&[&input], &out, &[]);
    let stderr = ok(&r);
    assert!(stderr.contains("1 DICOMDIR regenerated"), "{stderr}");
    assert!(
        stderr.contains("1 DICOMDIR not copied: regenerate"),
        "{stderr}"
    );
    let files = tree(&out);
    let dicoms: Vec<String> = files
        .keys()
        .filter(|k| k.starts_with("DIR"))
        .cloned()
        .collect();
    assert_eq!(dicoms.len(), 8, "{:?}", files.keys());
    assert!(dicoms.iter().all(|k| !k.ends_with(".dcm")), "{dicoms:?}");
    check_dicomdir_lists(&out, "", &dicoms);
    let dir = &files["DICOMDIR"];
    for phi in MEDIA_PHI {
        assert!(!contains(dir, phi), "the regenerated DICOMDIR holds {phi}");
    }
    let leaves = dicomdir_leaves(&out.join("DICOMDIR"));
    assert!(leaves.iter().all(|(k, _, _)| k == "IMAGE"));
    validate_dicomdir(&out.join("DICOMDIR"));

    let rep = report(&out);
    let s = &rep["summary"];
    assert_eq!(s["dicomdir_regenerated"], 1, "{s}");
    assert_eq!(s["DICOMDIR not copied: regenerate"], 1, "{s}");
    assert_eq!(s["ok"], 9, "{s}");
    assert_eq!(s["streamed"], 8, "{s}");
    let entry = |input: &str| entry_of(&out, input);
    let d = entry("DICOMDIR");
    assert_eq!(
        (&d["status"], &d["output"], &d["mode"]),
        (&"ok".into(), &"DICOMDIR".into(), &"regenerated".into()),
        "{d}"
    );
    assert_eq!(entry("DICOMDIR-OLD")["status"], "skipped");

    // Reruns: another folder, the same folder, and a resumed run give the same bytes.
    let again = env.path("again");
    ok(&env.anonymize(&[&input], &again, &["--quiet", "-j", "1"]));
    assert!(tree(&again) == files, "a second run differs");
    ok(&env.anonymize(&[&input], &out, &["--quiet"]));
    assert!(tree(&out) == files, "a rerun into the same folder differs");
    std::fs::remove_file(out.join("DICOMDIR")).unwrap();
    std::fs::remove_file(out.join(&dicoms[3])).unwrap();
    std::fs::remove_file(out.join("report.json")).unwrap();
    let stderr = ok(&env.anonymize(&[&input], &out, &[]));
    assert!(
        stderr.contains("already done by an earlier run"),
        "{stderr}"
    );
    assert!(tree(&out) == files, "a resumed run differs");
}

#[test]
fn media_set_under_name_by_uid_gets_no_dicomdir() {
    let env = Env::new();
    let input = media_set(&env);
    let out = env.path("out");
    let r = env.anonymize(&[&input], &out, &["--name-by-uid"]);
    let stderr = ok(&r);
    assert!(
        stderr.contains("DICOMDIR not regenerated: --name-by-uid"),
        "{stderr}"
    );
    let files = tree(&out);
    assert!(
        !files.keys().any(|k| k.contains("DICOMDIR")),
        "{:?}",
        files.keys()
    );
    let rep = report(&out);
    let s = &rep["summary"];
    assert_eq!(s["dicomdir_regenerated"], 0);
    assert_eq!(s["DICOMDIR not copied: regenerate"], 2);
    assert!(
        s["dicomdir_not_regenerated"]
            .as_str()
            .unwrap()
            .contains("File ID"),
        "{s}"
    );
    let d = entry_of(&out, "DICOMDIR");
    assert_eq!(d["status"], "skipped");
    assert!(
        d["reason"].as_str().unwrap().contains("--name-by-uid"),
        "{d}"
    );
}

/// The pydicom DICOMDIR test set (a media set with a nested one, TINY_ALPHA), copied:
/// both DICOMDIRs are regenerated, list exactly the outputs under them, hold none of the
/// originals' identifying values, and come out the same on a rerun.
#[test]
fn corpus_media_sets_are_regenerated() {
    let Some(corpus) = corpus() else { return };
    let src = corpus.join("pydicom/test_files/dicomdirtests");
    if !src.is_dir() {
        eprintln!("\n!!!!! SKIPPED: no {} !!!!!\n", src.display());
        return;
    }
    let env = Env::new();
    let input = env.path("dicomdirtests");
    let mut all = Vec::new();
    files_under(&src, &mut all);
    let mut phi = std::collections::BTreeSet::new();
    for p in &all {
        let rel = p.strip_prefix(&src).unwrap();
        let bytes = std::fs::read(p).unwrap();
        env.write(&format!("dicomdirtests/{}", rel.display()), &bytes);
        // Identifying values of the inputs and of their DICOMDIRs' records.
        let Ok(obj) = io::read_object(&bytes) else {
            continue;
        };
        let mut objects = vec![obj.into_inner()];
        if let Some(seq) = objects[0].get(tags::DIRECTORY_RECORD_SEQUENCE) {
            let items = seq.items().unwrap().to_vec();
            objects.extend(items);
        }
        for o in &objects {
            for t in [
                tags::PATIENT_NAME,
                tags::PATIENT_ID,
                tags::STUDY_ID,
                tags::ACCESSION_NUMBER,
                tags::STUDY_DESCRIPTION,
                tags::STUDY_INSTANCE_UID,
                tags::SERIES_INSTANCE_UID,
                tags::SOP_INSTANCE_UID,
                tags::REFERENCED_SOP_INSTANCE_UID_IN_FILE,
            ] {
                if let Some(v) = o.get(t).and_then(|e| e.to_str().ok()) {
                    let v = v.trim_end_matches(['\0', ' ']).to_string();
                    if v.len() > 4 {
                        phi.insert(v);
                    }
                }
            }
        }
    }
    assert!(phi.len() > 20);
    let out = env.path("out");
    // The dicomdirtests images are headers without pixel data.
    let r = env.anonymize(&[&input], &out, &["--allow-incomplete"]);
    let stderr = String::from_utf8_lossy(&r.stderr).into_owned();
    assert!(stderr.contains("2 DICOMDIR regenerated"), "{stderr}");
    let files = tree(&out);
    let rep = report(&out);
    let roots: Vec<String> = rep["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["mode"] == "regenerated")
        .map(|f| {
            let o = f["output"].as_str().unwrap();
            o.strip_suffix("DICOMDIR")
                .unwrap()
                .trim_end_matches('/')
                .to_string()
        })
        .collect();
    assert_eq!(roots.len(), 2, "{roots:?}");
    let nested = roots.iter().find(|r| !r.is_empty()).unwrap().clone();
    let ok_outputs: Vec<String> = rep["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "ok" && f["mode"] != "regenerated")
        .map(|f| f["output"].as_str().unwrap().to_string())
        .collect();
    assert!(ok_outputs.len() > 60, "{}", ok_outputs.len());
    let (inner, outer): (Vec<String>, Vec<String>) = ok_outputs
        .into_iter()
        .partition(|o| o.starts_with(&format!("{nested}/")));
    assert!(!inner.is_empty() && !outer.is_empty());
    check_dicomdir_lists(&out, "", &outer);
    check_dicomdir_lists(&out, &nested, &inner);
    for root in &roots {
        let name = if root.is_empty() {
            "DICOMDIR".to_string()
        } else {
            format!("{root}/DICOMDIR")
        };
        let bytes = &files[&name];
        for v in &phi {
            assert!(
                !contains(bytes, v),
                "{name} holds an identifying value of the inputs"
            );
        }
        validate_dicomdir(&out.join(&name));
        // CT, MR and CR files (TINY_ALPHA's without pixel data): all IMAGE records.
        let leaves = dicomdir_leaves(&out.join(&name));
        assert!(leaves.iter().all(|(k, _, _)| k == "IMAGE"), "{leaves:?}");
    }
    // The DICOMDIR-like files with other names are not copied (skipped, or failed when
    // unreadable as today).
    let mut others = 0;
    for row in paths(&out) {
        if row["relative"].contains("DICOMDIR-") {
            let f = entry_of(&out, &row["relative"]);
            assert_ne!(f["status"], "ok", "{f}");
            assert!(f.get("output").is_none(), "{f}");
            others += 1;
        }
    }
    assert_eq!(others, 6);
    assert!(
        rep["summary"]["DICOMDIR not copied: regenerate"]
            .as_u64()
            .unwrap()
            >= 4
    );
    let again = env.path("again");
    env.anonymize(&[&input], &again, &["--quiet", "--allow-incomplete"]);
    let files2 = tree(&again);
    for root in &roots {
        let name = if root.is_empty() {
            "DICOMDIR".to_string()
        } else {
            format!("{root}/DICOMDIR")
        };
        assert!(files[&name] == files2[&name], "{name} differs on a rerun");
    }
}

/// A 16x16 8-bit MONOCHROME2 ultrasound image, every pixel 200.
fn decodable_image(sop: &str) -> Vec<u8> {
    let mut ds = InMemDicomObject::new_empty();
    ds.put_str(tags::SOP_CLASS_UID, VR::UI, CT);
    ds.put_str(tags::SOP_INSTANCE_UID, VR::UI, sop);
    ds.put_str(
        tags::STUDY_INSTANCE_UID,
        VR::UI,
        "1.2.826.0.1.3680043.2.1125.7",
    );
    ds.put_str(
        tags::SERIES_INSTANCE_UID,
        VR::UI,
        "1.2.826.0.1.3680043.2.1125.7.1",
    );
    ds.put_str(tags::PATIENT_NAME, VR::PN, "DOE^JOHN");
    ds.put_str(tags::PATIENT_ID, VR::LO, "PID-111");
    ds.put_str(tags::MODALITY, VR::CS, "CT");
    ds.put_str(tags::MANUFACTURER, VR::LO, "ACME IMAGING");
    ds.put_str(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2");
    for (tag, v) in [
        (tags::SAMPLES_PER_PIXEL, 1u16),
        (tags::ROWS, 16),
        (tags::COLUMNS, 16),
        (tags::BITS_ALLOCATED, 8),
        (tags::BITS_STORED, 8),
        (tags::HIGH_BIT, 7),
        (tags::PIXEL_REPRESENTATION, 0),
    ] {
        ds.put(DataElement::new(tag, VR::US, PrimitiveValue::from(v)));
    }
    ds.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        PrimitiveValue::U8(vec![200u8; 256].into()),
    ));
    let meta = FileMetaTableBuilder::new()
        .transfer_syntax(EXPLICIT_LE)
        .media_storage_sop_class_uid(CT)
        .media_storage_sop_instance_uid(sop)
        .build()
        .unwrap();
    io::to_bytes(&ds.with_exact_meta(meta)).unwrap()
}

#[test]
fn user_region_rules_blank_their_rectangles() {
    let env = Env::new();
    env.write(
        "in/a.dcm",
        &decodable_image("1.2.826.0.1.3680043.2.1125.7.1.1"),
    );
    let rules = env.path("regions.csv");
    std::fs::write(
        &rules,
        "label,condition,x0,y0,x1,y1\nACME banner,\"contains(Manufacturer,\"\"ACME\"\")\",2,1,10,4\n",
    )
    .unwrap();
    let out = env.path("out");
    let r = env.anonymize(
        &[&env.path("in")],
        &out,
        &[
            "--quiet",
            "--profile",
            "pixel",
            "--region-rules",
            rules.to_str().unwrap(),
        ],
    );
    ok(&r);
    let rep = report(&out);
    assert_eq!(rep["region_rules"]["user"], 1, "{}", rep["region_rules"]);
    assert!(rep["region_rules"]["shipped"].as_u64().unwrap() > 0);
    assert_eq!(rep["files"][0]["pixel_boxes"], 1, "{}", rep["files"][0]);
    let back = io::read_object(&std::fs::read(out.join("IMG00001.dcm")).unwrap()).unwrap();
    let px = back.element(tags::PIXEL_DATA).unwrap().to_bytes().unwrap();
    for y in 0..16 {
        for x in 0..16 {
            let inside = (2..10).contains(&x) && (1..4).contains(&y);
            let want = if inside { 0 } else { 200 };
            assert_eq!(px[y * 16 + x], want, "pixel ({x},{y})");
        }
    }

    // The same rules without Clean Pixel Data: refused, nothing silently ignored.
    let r = env.anonymize(
        &[&env.path("in")],
        &env.path("out2"),
        &["--quiet", "--region-rules", rules.to_str().unwrap()],
    );
    assert_eq!(r.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("--region-rules applies to Clean Pixel Data")
    );
    // A broken rules file names the line, not a value.
    std::fs::write(
        &rules,
        "condition,x0,y0,x1,y1\n\"equals(Modality\",0,0,1,1\n",
    )
    .unwrap();
    let r = env.anonymize(
        &[&env.path("in")],
        &env.path("out3"),
        &[
            "--quiet",
            "--profile",
            "pixel",
            "--region-rules",
            rules.to_str().unwrap(),
        ],
    );
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("invalid region rules"));
}

/// Values of two patients planted in folder and file names (as real archives do) and in
/// the headers.
const PLANTED: &[&str] = &[
    "PAT01_ABERNATHY_MRN51544914",
    "ABERNATHY",
    "MRN51544914",
    "51544914",
    "Douglas_Davidson-46198",
    "Douglas",
    "Davidson",
    "46198",
    "KOWALSKI",
    "MARTA",
    "MRN77031122",
    "77031122",
];

/// An archive whose names carry patients' names and record numbers: DICOM files, a
/// truncated one (failed), a text file (skipped).
fn named_archive(env: &Env) -> PathBuf {
    let files = [
        (
            "PAT01_ABERNATHY_MRN51544914/2019-03-04 CT/IMG_for_Douglas_Davidson-46198_0001.dcm",
            "ABERNATHY^PAT",
            "MRN51544914",
        ),
        (
            "PAT01_ABERNATHY_MRN51544914/2019-03-04 CT/ABERNATHY^PAT_MRN51544914_2.dcm",
            "ABERNATHY^PAT",
            "MRN51544914",
        ),
        (
            "PAT02/KOWALSKI^MARTA_MRN77031122_ct.dcm",
            "KOWALSKI^MARTA",
            "MRN77031122",
        ),
    ];
    for (i, (rel, name, pid)) in files.iter().enumerate() {
        let sop = format!("1.2.826.0.1.3680043.2.1125.8.{i}");
        env.write(
            &format!("archive/{rel}"),
            &dicom(&Spec::new(name, pid, &sop)),
        );
    }
    let good = dicom(&Spec::new(
        "KOWALSKI^MARTA",
        "MRN77031122",
        "1.2.826.0.1.3680043.2.1125.8.9",
    ));
    env.write(
        "archive/PAT02/cut_for_Douglas_Davidson-46198.dcm",
        &good[..good.len() / 3],
    );
    env.write(
        "archive/PAT01_ABERNATHY_MRN51544914/notes_MRN51544914.txt",
        b"ABERNATHY MRN51544914\n",
    );
    env.path("archive")
}

/// Every name and byte under `root`, hidden files included: (relative path, bytes), and
/// every folder name.
fn everything_under(root: &Path) -> (Vec<String>, Vec<(String, Vec<u8>)>) {
    let (mut dirs, mut files) = (Vec::new(), Vec::new());
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let rel = e
                .path()
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if e.file_type().unwrap().is_dir() {
                dirs.push(rel);
                stack.push(e.path());
            } else {
                files.push((rel, std::fs::read(e.path()).unwrap()));
            }
        }
    }
    (dirs, files)
}

#[test]
fn shared_output_holds_no_planted_identifier() {
    let env = Env::new();
    let input = named_archive(&env);
    let rules = env.path("custom_anonymization_profile.json");
    std::fs::write(
        &rules,
        r#"[{"id":"(0008,0080)","act":"replace","value":"SITE A","note":"pooled site"},
            {"id":"(0008,0060)","act":"keep","note":"modality is needed"}]"#,
    )
    .unwrap();
    let custom = ["--rules", rules.to_str().unwrap()];
    for (label, extra) in [
        ("basic", &["--profile", "basic"][..]),
        ("hipaa", &["--profile", "hipaa"][..]),
        ("custom", &custom[..]),
    ] {
        let out = env.path(&format!("shared-{label}"));
        let r = env.anonymize(&[&input], &out, extra);
        let stderr = String::from_utf8_lossy(&r.stderr).into_owned();
        assert_eq!(r.status.code(), Some(1), "{label}: {stderr}");
        // The user's own screen names the failed file by its relative path.
        assert!(
            stderr.contains("cut_for_Douglas_Davidson-46198.dcm: "),
            "{stderr}"
        );
        let (dirs, files) = everything_under(&out);
        let names: Vec<&String> = dirs.iter().chain(files.iter().map(|(n, _)| n)).collect();
        assert_eq!(
            files.iter().filter(|(n, _)| n.ends_with(".dcm")).count(),
            3,
            "{label}: {names:?}"
        );
        assert_eq!(
            files.len(),
            4,
            "{label}: only outputs and report.json: {names:?}"
        );
        let root = env.dir.path().to_string_lossy().into_owned();
        for v in PLANTED.iter().copied().chain([root.as_str(), "archive"]) {
            for n in &names {
                assert!(!n.contains(v), "{label}: name {n} carries {v}");
            }
            for (n, bytes) in &files {
                assert!(!contains(bytes, v), "{label}: {n} holds {v}");
            }
        }
        // Failed and skipped files are in the report, by reference only.
        let rep = report(&out);
        assert_eq!(rep["summary"]["failed"], 1, "{label}");
        assert_eq!(rep["summary"]["skipped_not_dicom"], 1, "{label}");
        assert!(rep["input_ref"].as_str().unwrap().contains("paths.csv"));
        for f in rep["files"].as_array().unwrap() {
            assert!(f.get("input").is_none() && f.get("root").is_none(), "{f}");
            assert!(f["input_ref"].as_u64().unwrap() >= 1, "{f}");
        }
        let failed = entry_of(&out, "PAT02/cut_for_Douglas_Davidson-46198.dcm");
        assert_eq!(failed["status"], "failed", "{failed}");
        assert!(failed["reason"].as_str().unwrap().len() > 5);
        assert!(failed.get("output").is_none());
        let skipped = entry_of(&out, "PAT01_ABERNATHY_MRN51544914/notes_MRN51544914.txt");
        assert_eq!(skipped["status"], "skipped", "{skipped}");

        // The linkage folder holds what links back.
        let link = linkage(&out);
        let pids = std::fs::read_to_string(link.join("patid_mapping.csv")).unwrap();
        assert!(pids.starts_with("id_old,id_new\n") && pids.contains("MRN51544914,"));
        let rows = paths(&out);
        assert_eq!(rows.len(), 5);
        assert!(rows.iter().all(|r| r["input"] == input.to_string_lossy()));
        assert!(rows.iter().any(|r| r["relative"]
            == "PAT01_ABERNATHY_MRN51544914/2019-03-04 CT/IMG_for_Douglas_Davidson-46198_0001.dcm"
            && r["output"] == "DIR0001/DIR0001/IMG00002.dcm"
            && r["status"] == "ok"));
        let journal = std::fs::read(link.join("journal.jsonl")).unwrap();
        assert!(contains(&journal, "MRN51544914"), "the journal moved here");
        let readme = std::fs::read_to_string(link.join("README.txt")).unwrap();
        assert!(readme.contains("ORIGINAL IDENTIFIERS") && readme.contains("custodian"));
    }
}

#[test]
fn linkage_folder_is_private_and_resumes() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let input = named_archive(&env);
    let (reference, out) = (env.path("ref"), env.path("out"));
    let link = env.path("custodian/run1");
    let with_link = ["--quiet", "--linkage", link.to_str().unwrap()];
    assert_eq!(
        env.anonymize(&[&input], &reference, &["--quiet"])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        env.anonymize(&[&input], &out, &with_link).status.code(),
        Some(1)
    );
    assert!(!linkage(&out).exists(), "--linkage replaces the default");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&link), 0o700);
    let mut names: Vec<String> = std::fs::read_dir(&link)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "README.txt",
            "audit.log",
            "journal.jsonl",
            "paths.csv",
            "patid_mapping.csv",
            "uid_mapping.csv"
        ]
    );
    for n in &names {
        assert_eq!(mode(&link.join(n)), 0o600, "{n}");
    }
    // Interrupted: an output, the report and the linkage files gone, the journal torn.
    std::fs::remove_file(out.join("DIR0001/DIR0001/IMG00002.dcm")).unwrap();
    std::fs::remove_file(out.join("report.json")).unwrap();
    for f in ["uid_mapping.csv", "patid_mapping.csv", "paths.csv"] {
        std::fs::remove_file(link.join(f)).unwrap();
    }
    std::fs::write(link.join(".paths.csv.part"), b"part").unwrap();
    std::fs::write(out.join("DIR0001/DIR0001/.IMG00002.dcm.part"), b"part").unwrap();
    let j = std::fs::read(link.join("journal.jsonl")).unwrap();
    std::fs::write(link.join("journal.jsonl"), &j[..j.len() - 30]).unwrap();
    std::fs::set_permissions(&link, std::fs::Permissions::from_mode(0o755)).unwrap();
    let r = env.anonymize(&[&input], &out, &with_link[1..]);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("already done by an earlier run"),
        "{stderr}"
    );
    assert_eq!(mode(&link), 0o700, "narrowed again");
    assert!(tree(&out) == tree(&reference), "resumed run differs");
    for f in ["uid_mapping.csv", "patid_mapping.csv", "paths.csv"] {
        assert!(
            std::fs::read(link.join(f)).unwrap()
                == std::fs::read(linkage(&reference).join(f)).unwrap(),
            "{f} differs"
        );
    }
    // Without its linkage folder the output folder is not taken for a new run.
    let r = env.anonymize(&[&input], &out, &["--quiet"]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("holds no dcmask run"));
}

#[test]
fn overlapping_linkage_folders_are_refused() {
    let env = Env::new();
    let input = env.patient_tree();
    let out = env.path("out");
    let refused = |out: &Path, link: &Path, what: &str| {
        let r = env.anonymize(
            &[&input],
            out,
            &["--quiet", "--linkage", link.to_str().unwrap()],
        );
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(what), "{stderr}");
        assert!(!link.exists(), "{} created", link.display());
    };
    refused(&out, &out.join("linkage"), "is inside the output folder");
    refused(&out, &out, "is inside the output folder");
    refused(
        &out,
        &input.join("DOE_JOHN_PID-111/l"),
        "is inside the input folder",
    );
    refused(
        &env.path("l/out"),
        &env.path("l"),
        "is inside the linkage folder",
    );
    assert!(!out.exists() && !env.path("l").exists());
    // Through symbolic links: spelled elsewhere, the same folders.
    std::fs::create_dir(&out).unwrap();
    std::os::unix::fs::symlink(&out, env.path("out-alias")).unwrap();
    std::os::unix::fs::symlink(&input, env.path("in-alias")).unwrap();
    refused(
        &out,
        &env.path("out-alias/l"),
        "is inside the output folder",
    );
    refused(&out, &env.path("in-alias/l"), "is inside the input folder");
    refused(
        &env.path("out-alias"),
        &out.join("l"),
        "is inside the output folder",
    );
    // An output folder of an older dcmask (journal and mappings inside) is refused.
    env.write("old/.dcmask/journal.jsonl", b"{}\n");
    env.write("old/uid_mapping.csv", b"id_old,id_new\n");
    let r = env.anonymize(&[&input], &env.path("old"), &["--quiet"]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("older dcmask"));
    assert!(!env.path("old.linkage").exists());
    // A folder of the user's own is not taken for a linkage folder, nor changed.
    env.write("mine/notes.txt", b"mine");
    let mine = env.path("mine");
    let r = env.anonymize(
        &[&input],
        &out,
        &["--quiet", "--linkage", mine.to_str().unwrap()],
    );
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("linkage folder"));
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&mine).unwrap().permissions());
    assert_ne!(mode & 0o777, 0o700, "left as it was");
    assert_eq!(std::fs::read_dir(&mine).unwrap().count(), 1);
    // Side by side is fine.
    ok(&env.anonymize(&[&input], &out, &["--quiet"]));
    assert!(linkage(&out).join("uid_mapping.csv").is_file());
}

/// An 8-bit ultrasound image whose header says it carries burned-in text.
fn us_with_burned_in_text(sop: &str) -> Vec<u8> {
    let mut obj = io::read_object(&decodable_image(sop)).unwrap();
    obj.put_str(tags::MODALITY, VR::CS, "US");
    obj.put_str(tags::BURNED_IN_ANNOTATION, VR::CS, "YES");
    io::to_bytes(&obj).unwrap()
}

#[test]
fn burned_in_text_is_listed_or_refused() {
    let env = Env::new();
    env.write(
        "in/a.dcm",
        &us_with_burned_in_text("1.2.826.0.1.3680043.2.1125.6.1"),
    );
    env.write(
        "in/b.dcm",
        &dicom(&Spec::new("A^B", "P1", "1.2.826.0.1.3680043.2.1125.6.2")),
    );
    let input = env.path("in");
    let out = env.path("out");
    let r = env.anonymize(&[&input], &out, &[]);
    let stderr = ok(&r);
    assert!(
        stderr.contains("1 files written with pixels that may carry burned-in text"),
        "{stderr}"
    );
    assert!(stderr.contains("burned-in: IMG00001.dcm: "), "{stderr}");
    let rep = report(&out);
    assert_eq!(rep["summary"]["burned_in"], 1);
    assert!(rep["files"][0]["burned_in"]
        .as_str()
        .unwrap()
        .contains("Burned In Annotation"));
    assert!(rep["files"][1].get("burned_in").is_none());
    // A resumed run keeps it.
    std::fs::remove_file(out.join("report.json")).unwrap();
    ok(&env.anonymize(&[&input], &out, &["--quiet"]));
    assert_eq!(report(&out), rep);

    let strict = env.path("strict");
    let r = env.anonymize(&[&input], &strict, &["--require-clean-pixels"]);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("a.dcm: not written (--require-clean-pixels)"),
        "{stderr}"
    );
    let f = &report(&strict)["files"][0];
    assert_eq!(f["status"], "failed");
    assert!(f.get("output").is_none());
    assert!(
        f["reason"].as_str().unwrap().contains("--profile pixel"),
        "{f}"
    );
    assert!(!strict.join("IMG00001.dcm").exists());
    assert!(strict.join("IMG00002.dcm").is_file());
    // With the pixels cleaned the same file passes; +Pixel's own doubts fail the other
    // (not decodable for text detection, no region rule).
    let cleaned = env.path("cleaned");
    let rules = env.path("regions.csv");
    std::fs::write(
        &rules,
        "condition,x0,y0,x1,y1\n\"equals(Modality,\"\"US\"\")\",0,0,16,2\n",
    )
    .unwrap();
    let r = env.anonymize(
        &[&input],
        &cleaned,
        &[
            "--quiet",
            "--require-clean-pixels",
            "--profile",
            "pixel",
            "--region-rules",
            rules.to_str().unwrap(),
        ],
    );
    assert_eq!(r.status.code(), Some(1));
    let rep = report(&cleaned);
    assert_eq!(rep["files"][0]["status"], "ok", "{}", rep["files"][0]);
    assert_eq!(rep["files"][0]["pixel_boxes"], 1);
    let f = &rep["files"][1];
    assert_eq!(f["status"], "failed", "{f}");
    assert!(
        f["reason"].as_str().unwrap().contains("--region-rules"),
        "{f}"
    );
}

#[test]
fn terminal_names_are_escaped() {
    let env = Env::new();
    env.write("in/ok.dcm", &dicom(&Spec::new("A^B", "P1", "1.2.3.4.1")));
    let mut cut = dicom(&Spec::new("A^B", "P1", "1.2.3.4.2"));
    cut.truncate(cut.len() / 3);
    env.write("in/evil\u{1b}[31mred\u{202e}.dcm", &cut);
    env.write("in/cut\u{1b}]0;title\u{7}.dcm", &cut);
    let r = env.anonymize(&[&env.path("in")], &env.path("out"), &["--quiet"]);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}') && !stderr.contains('\u{7}'),
        "{stderr:?}"
    );
    assert!(
        stderr.contains("cut\\u{1b}]0;title\\u{7}.dcm: "),
        "{stderr}"
    );
    assert!(
        stderr.contains("evil\\u{1b}[31mred\\u{202e}.dcm: "),
        "{stderr}"
    );
    assert!(!stderr.contains('\u{202e}'));
}

/// `cmd | head -1`: the reader is gone before anything is written.
fn quiet_on_closed_stdout(env: &Env, args: &[&std::ffi::OsStr]) {
    let mut child = env
        .command()
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.is_empty(), "{args:?}: {stderr}");
    assert_eq!(out.status.code(), Some(0), "{args:?}");
}

#[test]
fn closed_stdout_ends_quietly() {
    let env = Env::new();
    env.write("in/a.dcm", &dicom(&Spec::new("A^B", "P1", "1.2.3.4.1")));
    let file = env.path("in/a.dcm");
    let key = env.path("key.hex");
    let s = |x: &'static str| std::ffi::OsStr::new(x);
    for args in [
        vec![s("profile"), s("list")],
        vec![s("profile"), s("show"), s("basic")],
        vec![s("profile"), s("export"), s("hipaa")],
        vec![
            s("inspect"),
            file.as_os_str(),
            s("--key-file"),
            key.as_os_str(),
        ],
        vec![
            s("inspect"),
            file.as_os_str(),
            s("--json"),
            s("--key-file"),
            key.as_os_str(),
        ],
    ] {
        quiet_on_closed_stdout(&env, &args);
        let out = env.command().args(&args).output().unwrap();
        assert!(out.status.success() && !out.stdout.is_empty(), "{args:?}");
    }
    // anonymize --json: the run is done, the exit code still says how it went.
    let out_dir = env.path("out");
    let mut child = env
        .command()
        .arg("anonymize")
        .arg(env.path("in"))
        .arg("-o")
        .arg(&out_dir)
        .arg("--key-file")
        .arg(&key)
        .args(["--quiet", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let r = child.wait_with_output().unwrap();
    assert_eq!(
        r.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(
        r.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(out_dir.join("report.json").is_file());
}

/// Values planted where the profile keeps them, for the leak guard: in Code Meaning and
/// Code Value at depths 1 to 3, in private text that Retain Safe Private keeps, in LO
/// values outside Table E.1-1, in possessive and hyphenated forms, with the station name
/// inside the protocol name. `other_names` is what only this file of the patient holds.
fn guarded_object(sop: &str, study: &str, other_names: Option<&str>, meaning: &str) -> Vec<u8> {
    use dicom_core::value::DataSetSequence;
    let code = |value: &str, meaning: &str| {
        let mut item = InMemDicomObject::new_empty();
        item.put_str(tags::CODE_VALUE, VR::SH, value);
        item.put_str(tags::CODING_SCHEME_DESIGNATOR, VR::SH, "99LOCAL");
        item.put_str(tags::CODE_MEANING, VR::LO, meaning);
        item
    };
    let seq = |items: Vec<InMemDicomObject>| DataSetSequence::from(items);
    let mut spec = Spec::new("Abernathy-Jones^Douglas", "MRN51544914", sop);
    spec.study = study;
    let mut ds = io::read_object(&dicom(&spec)).unwrap().into_inner();
    ds.put_str(tags::STATION_NAME, VR::SH, "WENCESLASCT7");
    ds.put_str(tags::INSTITUTION_NAME, VR::LO, "Saint Wenceslas Hospital");
    ds.put_str(tags::PATIENT_BIRTH_DATE, VR::DA, "19600412");
    ds.put_str(tags::MANUFACTURER, VR::LO, "Abernathy Medical");
    ds.put_str(tags::SOFTWARE_VERSIONS, VR::LO, "build for WENCESLASCT7");
    ds.put_str(tags::PROTOCOL_NAME, VR::LO, "WENCESLASCT7 head routine");
    if let Some(names) = other_names {
        ds.put_str(tags::OTHER_PATIENT_NAMES, VR::PN, names);
    }
    // Depth 1: the code item itself; depth 2: inside a referenced image; depth 3: the
    // modifier of that region.
    ds.put(DataElement::new(
        tags::PROCEDURE_CODE_SEQUENCE,
        VR::SQ,
        seq(vec![code("P1", meaning)]),
    ));
    ds.put(DataElement::new(
        tags::ANATOMIC_REGION_SEQUENCE,
        VR::SQ,
        seq(vec![code("MRN51544914", "Knee of Douglas Abernathy-Jones")]),
    ));
    let mut region = code("T-15750", "Abernathys' knee");
    region.put(DataElement::new(
        tags::ANATOMIC_REGION_MODIFIER_SEQUENCE,
        VR::SQ,
        seq(vec![code("G-A101", "left, born 12/04/1960")]),
    ));
    let mut image = InMemDicomObject::new_empty();
    image.put_str(tags::REFERENCED_SOP_CLASS_UID, VR::UI, CT);
    image.put_str(
        tags::REFERENCED_SOP_INSTANCE_UID,
        VR::UI,
        "1.2.826.0.1.3680043.2.1125.9.9",
    );
    image.put(DataElement::new(
        tags::ANATOMIC_REGION_SEQUENCE,
        VR::SQ,
        seq(vec![region]),
    ));
    ds.put(DataElement::new(
        tags::REFERENCED_IMAGE_SEQUENCE,
        VR::SQ,
        seq(vec![image]),
    ));
    // Private elements Table E.3.10-1 lists as safe: kept by Retain Safe Private.
    ds.put_str(dicom_core::Tag(0x0019, 0x0010), VR::LO, "GEMS_ACQU_01");
    ds.put_str(dicom_core::Tag(0x0019, 0x109E), VR::LO, "seq for Abernathy");
    ds.put_str(dicom_core::Tag(0x0099, 0x0010), VR::LO, "NQHeader");
    ds.put_str(
        dicom_core::Tag(0x0099, 0x1005),
        VR::LT,
        "Report sent to Dr Abernathy-Jones",
    );
    let meta = FileMetaTableBuilder::new()
        .transfer_syntax(EXPLICIT_LE)
        .media_storage_sop_class_uid(CT)
        .media_storage_sop_instance_uid(sop)
        .build()
        .unwrap();
    io::to_bytes(&ds.with_exact_meta(meta)).unwrap()
}

fn contains_ci(hay: &[u8], needle: &str) -> bool {
    let needle = needle.to_ascii_lowercase();
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

#[test]
fn planted_values_leave_no_trace_in_what_is_shared() {
    let env = Env::new();
    // Two studies of one patient; only the first file knows the birth name Smythe, which
    // the second file's procedure code repeats.
    env.write(
        "in/PAT01_ABERNATHY_MRN51544914/2019 CT/IMG_for_Douglas_Davidson-46198_0001.dcm",
        &guarded_object(
            "1.2.826.0.1.3680043.2.1125.7.1",
            "1.2.826.0.1.3680043.2.1125.7",
            Some("Smythe^Douglas"),
            "CT head",
        ),
    );
    env.write(
        "in/PAT01_ABERNATHY_MRN51544914/2020 CT/IMG_for_Douglas_Davidson-46198_0002.dcm",
        &guarded_object(
            "1.2.826.0.1.3680043.2.1125.8.1",
            "1.2.826.0.1.3680043.2.1125.8",
            None,
            "Follow-up at Mrs Smythe's request",
        ),
    );
    let input = env.path("in");
    let rules = env.path("rules.json");
    std::fs::write(
        &rules,
        r#"[{"id":"(0008,0060)","act":"keep","note":"modality is needed"}]"#,
    )
    .unwrap();
    let custom = [
        "--rules",
        rules.to_str().unwrap(),
        "--option",
        "retain_safe_private",
    ];
    const PLANTED: &[&str] = &[
        "abernathy",
        "smythe",
        "douglas",
        "51544914",
        "wenceslas",
        "19600412",
        "12/04/1960",
        "davidson",
    ];
    for (label, extra) in [
        ("basic", &["--profile", "basic"][..]),
        ("hipaa", &["--profile", "hipaa"][..]),
        ("custom", &custom[..]),
    ] {
        let out = env.path(&format!("out-{label}"));
        let r = env.anonymize(&[&input], &out, extra);
        let stderr = ok(&r);
        assert!(
            stderr.contains("1 files de-identified again with identifying values of their patient"),
            "{label}: {stderr}"
        );
        let (dirs, files) = everything_under(&out);
        assert_eq!(files.len(), 3, "{label}: two outputs and report.json");
        for v in PLANTED {
            for n in dirs.iter().chain(files.iter().map(|(n, _)| n)) {
                assert!(
                    !contains_ci(n.as_bytes(), v),
                    "{label}: name {n} carries {v}"
                );
            }
            for (n, bytes) in &files {
                assert!(!contains_ci(bytes, v), "{label}: {n} holds {v}");
            }
        }
        // What the profile kept is still there, without the identifying words.
        let first = io::read_object(
            &files
                .iter()
                .find(|(n, _)| n.ends_with("IMG00001.dcm"))
                .unwrap()
                .1,
        )
        .unwrap();
        let meaning = first
            .get(tags::ANATOMIC_REGION_SEQUENCE)
            .unwrap()
            .items()
            .unwrap()[0]
            .get(tags::CODE_MEANING)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(meaning, "Knee of", "{label}");
        let rep = report(&out);
        assert!(
            rep["rules"]["leak_guard:leak-guard"].as_u64().unwrap() >= 6,
            "{label}: {}",
            rep["rules"]
        );
        assert_eq!(rep["summary"]["leak_guard_files"], 2, "{label}");
        // The linkage holds the mappings and the journal.
        let link = linkage(&out);
        let pids = std::fs::read_to_string(link.join("patid_mapping.csv")).unwrap();
        assert!(pids.contains("MRN51544914,"), "{label}");
        assert!(link.join("journal.jsonl").is_file());
        // The independent check agrees, and flags the originals themselves.
        let verify = |dir: &Path| {
            env.command()
                .arg("verify")
                .arg(dir)
                .arg("--originals")
                .arg(&input)
                .output()
                .unwrap()
        };
        let v = verify(&out);
        assert_eq!(
            v.status.code(),
            Some(0),
            "{label}: {}",
            String::from_utf8_lossy(&v.stdout)
        );
        assert_eq!(verify(&input).status.code(), Some(1));

        // A rerun resumes: nothing done again, the same bytes.
        let again = env.anonymize(&[&input], &out, extra);
        let stderr = ok(&again);
        assert!(stderr.contains("2 files already done"), "{label}: {stderr}");
        assert!(!stderr.contains("de-identified again"), "{label}: {stderr}");
        let (_, files2) = everything_under(&out);
        assert_eq!(
            files
                .iter()
                .map(|(n, b)| (n, b))
                .collect::<BTreeMap<_, _>>(),
            files2
                .iter()
                .map(|(n, b)| (n, b))
                .collect::<BTreeMap<_, _>>(),
            "{label}"
        );
    }
}

/// Runs `script` (sh) in a private mount namespace where it may mount a tmpfs, or says
/// why it cannot (no user namespaces here).
fn in_mount_namespace(script: &str) -> Option<Output> {
    let out = Command::new("unshare")
        .args(["-rm", "sh", "-c", script])
        .output()
        .ok()?;
    if String::from_utf8_lossy(&out.stderr).contains("unshare failed")
        || out.status.code() == Some(125)
    {
        return None;
    }
    Some(out)
}

#[test]
fn a_full_disk_fails_files_then_stops_and_a_rerun_completes() {
    let env = Env::new();
    for i in 0..40 {
        let sop = format!("1.2.826.0.1.3680043.2.1125.6.{i}");
        let mut spec = Spec::new("FULL^DISK", "PFULL", &sop);
        spec.pixels = 48;
        env.write(&format!("in/f{i:02}.dcm"), &dicom(&spec));
    }
    let bin = env!("CARGO_BIN_EXE_dcmask");
    let dir = env.dir.path().display().to_string();
    // 100 KiB hold about 20 outputs; then the same command after making room.
    let script = format!(
        r#"set -u
mkdir -p "{dir}/mnt"
mount -t tmpfs -o size=100k tmpfs "{dir}/mnt" || exit 125
run() {{ DCMASK_DATA_DIR="{dir}/data" "{bin}" anonymize "{dir}/in" -o "{dir}/mnt/out" --linkage "{dir}/linkage" --key-file "{dir}/key.hex" 2>"{dir}/stderr$1"; echo $? >"{dir}/code$1"; }}
run 1
ls -a "{dir}/mnt/out" >"{dir}/listing1"
cp "{dir}/linkage/paths.csv" "{dir}/paths1.csv"
cp "{dir}/mnt/out/report.json" "{dir}/report1.json" 2>/dev/null
mount -o remount,size=10m "{dir}/mnt"
run 2
ls -a "{dir}/mnt/out" >"{dir}/listing2"
cp "{dir}/mnt/out/report.json" "{dir}/report2.json"
"#
    );
    let Some(out) = in_mount_namespace(&script) else {
        eprintln!("SKIPPED: no private mount namespace here (unshare -rm) to make a small disk");
        return;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |n: &str| std::fs::read_to_string(env.path(n)).unwrap();
    let (code1, stderr1) = (read("code1"), read("stderr1"));
    assert_eq!(code1.trim(), "1", "{stderr1}");
    assert!(
        stderr1.contains("dcmask: stopped: the output disk is full;"),
        "{stderr1}"
    );
    assert!(!stderr1.contains("panicked"), "{stderr1}");
    // Nothing partial is left behind, whatever was or was not written.
    let listing1 = read("listing1");
    assert!(!listing1.contains(".part"), "{listing1}");
    // The report, when it fitted, says what happened to every file; else stderr does.
    match std::fs::read_to_string(env.path("report1.json")) {
        Ok(r) => {
            let r: serde_json::Value = serde_json::from_str(&r).unwrap();
            assert_eq!(r["files"].as_array().unwrap().len(), 40);
            assert!(r["summary"]["failed"].as_u64().unwrap() > 0);
        }
        Err(_) => assert!(stderr1.contains("not written: cannot write"), "{stderr1}"),
    }
    let rows = read("paths1.csv");
    assert!(rows.contains("the output disk is full"), "{rows}");
    // With room again, the same command finishes the run.
    let (code2, stderr2) = (read("code2"), read("stderr2"));
    assert_eq!(code2.trim(), "0", "{stderr2}");
    assert!(
        stderr2.contains("already done by an earlier run"),
        "{stderr2}"
    );
    let r: serde_json::Value = serde_json::from_str(&read("report2.json")).unwrap();
    assert_eq!(r["summary"]["ok"], 40, "{}", r["summary"]);
    assert!(!read("listing2").contains(".part"));
}

#[test]
fn awkward_paths_are_named_exactly_and_refused_clearly() {
    use std::os::unix::ffi::OsStrExt;
    let env = Env::new();
    let input = env.path("in");
    // A name that is not UTF-8 (Latin-1 é), named exactly in the path list.
    let latin1 = std::ffi::OsStr::from_bytes(b"caf\xe9.dcm");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(
        input.join(latin1),
        dicom(&Spec::new("A^B", "P1", "1.2.826.0.1.3680043.2.1125.5.1")),
    )
    .unwrap();
    // Folders nested so deep that the output's neutral names (8 bytes a level) would be
    // longer than the system allows, though the input's (2 bytes a level) is not.
    let mut deep = input.clone();
    for _ in 0..600 {
        deep.push("d");
    }
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(
        deep.join("x.dcm"),
        dicom(&Spec::new("A^B", "P1", "1.2.826.0.1.3680043.2.1125.5.2")),
    )
    .unwrap();
    let out = env.path("out");
    let r = env.anonymize(&[&input], &out, &[]);
    let stderr = String::from_utf8_lossy(&r.stderr).into_owned();
    assert_eq!(r.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the output path would be longer than this system allows"),
        "{stderr}"
    );
    // The terminal gets a line, not 1,200 characters of path.
    assert!(stderr.lines().all(|l| l.chars().count() < 400), "{stderr}");
    let rows = paths(&out);
    let cafe = rows
        .iter()
        .find(|r| r["relative"] == "caf\\xE9.dcm")
        .unwrap();
    assert_eq!(cafe["status"], "ok", "{cafe:?}");
    let deep_row = rows
        .iter()
        .find(|r| r["relative"].ends_with("/d/x.dcm"))
        .unwrap();
    assert_eq!(deep_row["status"], "failed");
    assert!(
        !stderr.contains("\x1b["),
        "no colour codes when stderr is not a terminal"
    );
}

#[test]
fn an_output_reaching_an_input_through_a_bind_mount_is_refused() {
    let env = Env::new();
    env.write(
        "in/a.dcm",
        &dicom(&Spec::new("A^B", "P1", "1.2.826.0.1.3680043.2.1125.4.1")),
    );
    let (dir, bin) = (
        env.dir.path().display().to_string(),
        env!("CARGO_BIN_EXE_dcmask"),
    );
    let script = format!(
        r#"mkdir -p "{dir}/view" && mount --bind "{dir}/in" "{dir}/view" || exit 125
DCMASK_DATA_DIR="{dir}/data" "{bin}" anonymize "{dir}/in" -o "{dir}/view/out" --key-file "{dir}/key.hex" 2>"{dir}/stderr"
echo $? >"{dir}/code""#
    );
    let Some(out) = in_mount_namespace(&script) else {
        eprintln!("SKIPPED: no private mount namespace here (unshare -rm) for a bind mount");
        return;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = std::fs::read_to_string(env.path("stderr")).unwrap();
    assert_eq!(
        std::fs::read_to_string(env.path("code")).unwrap().trim(),
        "2",
        "{stderr}"
    );
    assert!(stderr.contains("never writes into an input"), "{stderr}");
    assert!(
        !env.path("in/out").exists(),
        "nothing was written into the input"
    );
}

#[test]
fn a_wrong_option_is_answered_with_the_valid_ones() {
    let env = Env::new();
    let r = env
        .command()
        .args(["anonymize", "in", "-o", "out", "--option", "bogus"])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&r.stderr);
    for id in [
        "retain_uids",
        "clean_pixel_data",
        "retain_long_modified_dates",
    ] {
        assert!(stderr.contains(id), "{stderr}");
    }
    let show = env
        .command()
        .args(["profile", "show", "basic"])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&show.stdout);
    // Every layer the decider applies, the residual and structural ones included.
    for rule in [
        "(gggg,0000)",
        "(not-listed)",
        "(free-text)",
        "(0010,0010)",
        "leak-guard",
    ] {
        assert!(listing.contains(rule), "{rule} missing from profile show");
    }
}
