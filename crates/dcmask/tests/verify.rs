//! `dcmask verify`: the built binary on deliberately leaky, untouched and clean outputs of
//! generated originals, and on dcmask's own output of the shared corpus.

#[path = "../../../tests/support/corpus.rs"]
mod corpus;

use dcmask_engine::io;
use dicom_core::value::{DataSetSequence, PrimitiveValue};
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::InMemDicomObject;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const CT: &str = "1.2.840.10008.5.1.4.1.1.2";
const ORIGINAL_SOP: &str = "1.2.826.0.1.3680043.2.1125.7.1";

/// A DICOM file of `ds` (SOP Class and Instance UIDs, pixel data added).
fn file(mut ds: InMemDicomObject, sop: &str, pixels: &[u8]) -> Vec<u8> {
    ds.put_str(tags::SOP_CLASS_UID, VR::UI, CT);
    ds.put_str(tags::SOP_INSTANCE_UID, VR::UI, sop);
    ds.put_str(tags::MODALITY, VR::CS, "CT");
    ds.put(DataElement::new(
        tags::ROWS,
        VR::US,
        PrimitiveValue::from(4u16),
    ));
    ds.put(DataElement::new(
        tags::COLUMNS,
        VR::US,
        PrimitiveValue::from((pixels.len() / 4) as u16),
    ));
    ds.put(DataElement::new(
        tags::BITS_ALLOCATED,
        VR::US,
        PrimitiveValue::from(8u16),
    ));
    ds.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        PrimitiveValue::U8(pixels.to_vec().into()),
    ));
    let meta = FileMetaTableBuilder::new()
        .transfer_syntax("1.2.840.10008.1.2.1")
        .media_storage_sop_class_uid(CT)
        .media_storage_sop_instance_uid(sop)
        .build()
        .unwrap();
    io::to_bytes(&ds.with_exact_meta(meta)).unwrap()
}

fn seq(items: Vec<InMemDicomObject>) -> DataSetSequence<InMemDicomObject> {
    DataSetSequence::from(items)
}

fn code(meaning: &str) -> InMemDicomObject {
    let mut c = InMemDicomObject::new_empty();
    c.put_str(tags::CODE_VALUE, VR::SH, "T-D1100");
    c.put_str(tags::CODING_SCHEME_DESIGNATOR, VR::SH, "SRT");
    c.put_str(tags::CODE_MEANING, VR::LO, meaning);
    c
}

/// The original: a patient with rich identifying values, some only in sequence items.
fn original() -> InMemDicomObject {
    let mut ds = InMemDicomObject::new_empty();
    ds.put_str(tags::PATIENT_NAME, VR::PN, "Abernathy^Henry");
    ds.put_str(tags::PATIENT_ID, VR::LO, "51544914");
    ds.put_str(tags::PATIENT_BIRTH_DATE, VR::DA, "19600412");
    ds.put_str(tags::STUDY_ID, VR::SH, "1");
    ds.put_str(tags::ACCESSION_NUMBER, VR::SH, "ACC778812");
    ds.put_str(tags::STATION_NAME, VR::SH, "CTSCAN07");
    ds.put_str(tags::INSTITUTION_NAME, VR::LO, "Saint Elsewhere Hospital");
    ds.put_str(tags::MANUFACTURER, VR::LO, "ACME Medical");
    ds.put_str(tags::REFERRING_PHYSICIAN_NAME, VR::PN, "Davidson^Douglas");
    ds.put_str(tags::OPERATORS_NAME, VR::PN, "Smith^Agatha");
    ds.put_str(tags::STUDY_DESCRIPTION, VR::LO, "CT HEAD");
    ds.put_str(tags::STUDY_DATE, VR::DA, "20200102");
    let mut other = InMemDicomObject::new_empty();
    other.put_str(tags::PATIENT_ID, VR::LO, "OTH-4477120");
    ds.put(DataElement::new(
        tags::OTHER_PATIENT_I_DS_SEQUENCE,
        VR::SQ,
        seq(vec![other]),
    ));
    ds
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

    /// `in/` with two files of the original patient and a non-DICOM note.
    fn originals(&self) -> PathBuf {
        self.write("in/a/1.dcm", &file(original(), ORIGINAL_SOP, &[1; 16]));
        self.write(
            "in/a/2.dcm",
            &file(original(), "1.2.826.0.1.3680043.2.1125.7.2", &[2; 16]),
        );
        self.write("in/notes.txt", b"not DICOM");
        self.path("in")
    }

    fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_dcmask"));
        c.env("DCMASK_DATA_DIR", self.path("data"));
        c.env_remove("DCMASK_LOG");
        c
    }

    fn verify(&self, out: &Path, originals: &Path, extra: &[&str]) -> Output {
        let mut c = self.command();
        c.arg("verify").arg(out).arg("--originals").arg(originals);
        c.args(extra);
        c.output().unwrap()
    }

    fn anonymize(&self, input: &Path, out: &Path, profile: &str) -> Output {
        let mut c = self.command();
        c.arg("anonymize").arg(input).arg("-o").arg(out);
        c.args(["--profile", profile, "--quiet", "--key-file"]);
        c.arg(self.path("key.hex"));
        c.output().unwrap()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Found {
    file: String,
    part: String,
    path: String,
    category: String,
}

/// The `--json` findings of a run, with its exit code and stderr.
fn findings(out: &Output) -> (Option<i32>, Vec<Found>, String) {
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let found = stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            let s = |k: &str| {
                v[k].as_str()
                    .unwrap_or_else(|| panic!("no {k}: {l}"))
                    .to_string()
            };
            Found {
                file: s("file"),
                part: s("part"),
                path: s("path"),
                category: s("category"),
            }
        })
        .collect();
    (out.status.code(), found, stderr)
}

fn has(found: &[Found], file: &str, path: &str, category: &str) -> bool {
    found
        .iter()
        .any(|f| f.file == file && f.path == path && f.category == category)
}

/// An output object that carries no PHI: dummies, pseudonyms, clinical words, short IDs.
fn clean_object() -> InMemDicomObject {
    let mut ds = InMemDicomObject::new_empty();
    ds.put_str(tags::PATIENT_NAME, VR::PN, "ANONYMIZED");
    ds.put_str(tags::PATIENT_ID, VR::LO, "ANON8C7890BC95CC");
    ds.put_str(tags::STUDY_ID, VR::SH, "1");
    ds.put_str(tags::SERIES_NUMBER, VR::IS, "1");
    ds.put_str(tags::STUDY_DESCRIPTION, VR::LO, "CT HEAD");
    ds.put_str(tags::BODY_PART_EXAMINED, VR::CS, "HEAD");
    ds.put_str(tags::MANUFACTURER, VR::LO, "ACME Medical");
    ds.put_str(tags::STUDY_DATE, VR::DA, "20200102");
    ds.put_str(tags::PATIENT_AGE, VR::AS, "060Y");
    ds.put_str(tags::SERIES_INSTANCE_UID, VR::UI, "2.25.51544914");
    ds.put_str(
        tags::DEIDENTIFICATION_METHOD,
        VR::LO,
        "DICOM PS3.15 Basic Application Level Confidentiality Profile",
    );
    ds.put(DataElement::new(
        tags::PROCEDURE_CODE_SEQUENCE,
        VR::SQ,
        seq(vec![code("CT of head"), code("Chest")]),
    ));
    ds
}

/// Every leak class planted in one output folder: each is found with its category and
/// where it is, and the run exits 1.
#[test]
fn every_planted_leak_is_found_where_it_is() {
    let env = Env::new();
    let input = env.originals();
    let mut ds = clean_object();
    // Code Meaning at depths 1, 2 and 3.
    ds.put(DataElement::new(
        tags::PROCEDURE_CODE_SEQUENCE,
        VR::SQ,
        seq(vec![code("CT of head"), code("Scan of Abernathy")]),
    ));
    let mut region = code("Head");
    region.put(DataElement::new(
        tags::ANATOMIC_REGION_MODIFIER_SEQUENCE,
        VR::SQ,
        seq(vec![code("HENRY")]),
    ));
    ds.put(DataElement::new(
        tags::ANATOMIC_REGION_SEQUENCE,
        VR::SQ,
        seq(vec![region]),
    ));
    let mut protocol = code("Routine");
    protocol.put(DataElement::new(
        tags::PROTOCOL_CONTEXT_SEQUENCE,
        VR::SQ,
        seq(vec![code("Contrast"), code("for Douglas Davidson")]),
    ));
    let mut request = InMemDicomObject::new_empty();
    request.put(DataElement::new(
        tags::SCHEDULED_PROTOCOL_CODE_SEQUENCE,
        VR::SQ,
        seq(vec![protocol]),
    ));
    ds.put(DataElement::new(
        tags::REQUEST_ATTRIBUTES_SEQUENCE,
        VR::SQ,
        seq(vec![request]),
    ));
    // Private text, private OB and UN values.
    ds.put_str(Tag(0x0009, 0x0010), VR::LO, "ACME 1.0");
    ds.put_str(Tag(0x0009, 0x1001), VR::LO, "reviewed: H. ABERNATHY");
    ds.put(DataElement::new(
        Tag(0x0009, 0x1002),
        VR::OB,
        PrimitiveValue::U8(
            b"\x00\x01\x02\x00Patient: Davidson, Douglas\x00\x00"
                .to_vec()
                .into(),
        ),
    ));
    ds.put(DataElement::new(
        Tag(0x0009, 0x1003),
        VR::UN,
        PrimitiveValue::U8(
            b"\x10\x00\x20\x00\x08\x00\x00\x00OTH-4477120\x00"
                .to_vec()
                .into(),
        ),
    ));
    // LO, SH, ST attributes outside Table E.1-1; possessive and hyphenated forms.
    ds.put_str(
        tags::SECONDARY_CAPTURE_DEVICE_MANUFACTURER,
        VR::LO,
        "Abernathy-Jones",
    );
    ds.put_str(tags::VIDEO_IMAGE_FORMAT_ACQUIRED, VR::SH, "Smiths copy");
    ds.put_str(tags::PARTIAL_VIEW_DESCRIPTION, VR::ST, "Henry's left side");
    // The station name repeated in the protocol name; the birth date in another spelling.
    ds.put_str(tags::PROTOCOL_NAME, VR::LO, "CTSCAN07 routine head");
    ds.put_str(tags::IMAGE_COMMENTS, VR::LT, "patient born 12 Apr 1960");
    // An original instance UID kept in a reference.
    let mut reference = InMemDicomObject::new_empty();
    reference.put_str(tags::REFERENCED_SOP_CLASS_UID, VR::UI, CT);
    reference.put_str(tags::REFERENCED_SOP_INSTANCE_UID, VR::UI, ORIGINAL_SOP);
    ds.put(DataElement::new(
        tags::REFERENCED_IMAGE_SEQUENCE,
        VR::SQ,
        seq(vec![reference]),
    ));
    let leaky = file(ds, "2.25.1", &[0; 16]);
    env.write("out/PAT01_ABERNATHY_MRN51544914/IMG00001.dcm", &leaky);
    env.write(
        "out/DIR0002/CT_for_Douglas_Davidson-46198_0001.dcm",
        &file(clean_object(), "2.25.2", &[0; 16]),
    );
    env.write(
        "out/patid_mapping.csv",
        b"id_old,id_new\n51544914,ANON8C7890BC95CC\n",
    );
    env.write(
        "out/.dcmask/journal.jsonl",
        b"{\"k\":\"x\",\"pids\":[[\"ACC778812\",\"ANON1\"]]}\n",
    );
    env.write("out/README.txt", b"Release notes: no identifiers here.\n");

    let out = env.verify(&env.path("out"), &input, &["--json"]);
    let (code, found, stderr) = findings(&out);
    assert_eq!(code, Some(1), "{stderr}");
    let dcm = "PAT01_ABERNATHY_MRN51544914/IMG00001.dcm";
    for (file, path, category) in [
        (dcm, "0008,1032/1/0008,0104", "name"),
        (dcm, "0008,2218/0/0008,2220/0/0008,0104", "name"),
        (dcm, "0040,0275/0/0040,0008/0/0040,0440/1/0008,0104", "name"),
        (dcm, "0009,1001", "name"),
        (dcm, "0009,1002", "name"),
        (dcm, "0009,1003", "id"),
        (dcm, "0018,1016", "name"),
        (dcm, "0018,1022", "name"),
        (dcm, "0028,1351", "name"),
        (dcm, "0018,1030", "station"),
        (dcm, "0020,4000", "date of birth"),
        (dcm, "0008,1140/0/0008,1155", "uid"),
        ("PAT01_ABERNATHY_MRN51544914/", "name", "name"),
        ("PAT01_ABERNATHY_MRN51544914/", "name", "id"),
        (
            "DIR0002/CT_for_Douglas_Davidson-46198_0001.dcm",
            "name",
            "name",
        ),
    ] {
        assert!(
            has(&found, file, path, category),
            "{file} {path} {category}\n{found:#?}"
        );
    }
    for (file, category) in [("patid_mapping.csv", "id"), (".dcmask/journal.jsonl", "id")] {
        assert!(
            found
                .iter()
                .any(|f| f.file == file && f.part == "bytes" && f.category == category),
            "{file}: {found:#?}"
        );
    }
    // Parts are named; nothing else is flagged: not the clean file's values, not the
    // notes, not the clinical words and short IDs; byte hits of values already found
    // decoded are not repeated.
    for f in &found {
        let part_ok = match f.part.as_str() {
            "name" => f.path == "name",
            "bytes" => f.path.starts_with("bytes@"),
            "value" => f.path.chars().next().is_some_and(|c| c.is_ascii_hexdigit()),
            _ => false,
        };
        assert!(part_ok, "{f:?}");
        assert!(f.file != "README.txt", "{f:?}");
        assert!(
            !(f.file.starts_with("DIR0002/") && f.part != "name"),
            "clean file flagged: {f:?}"
        );
        assert!(
            !(f.file == dcm && f.part == "bytes"),
            "repeated as bytes: {f:?}"
        );
    }
    // Never a value: only names (which hold what they leak) carry identifying text.
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let rest = format!("{} {} {}", v["part"], v["path"], v["category"]);
        for phi in [
            "ABERNATHY",
            "Abernathy",
            "Davidson",
            "51544914",
            "1960",
            "CTSCAN07",
        ] {
            assert!(!rest.contains(phi), "{line}");
        }
    }
    assert!(
        !stderr.contains("Abernathy") && !stderr.contains("51544914"),
        "{stderr}"
    );
    assert!(stderr.contains("findings:"), "{stderr}");

    // The human form: FILE<TAB>WHERE<TAB>CATEGORY.
    let out = env.verify(&env.path("out"), &input, &[]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text.lines()
            .any(|l| l == format!("{dcm}\t0018,1030\tstation")),
        "{text}"
    );
    assert!(text.lines().all(|l| l.split('\t').count() == 3), "{text}");
}

/// An output that is a plain copy of the originals is flagged, file by file.
#[test]
fn an_untouched_copy_is_flagged() {
    let env = Env::new();
    let input = env.originals();
    let out = env.verify(&input, &input, &["--json"]);
    let (code, found, stderr) = findings(&out);
    assert_eq!(code, Some(1), "{stderr}");
    for f in ["a/1.dcm", "a/2.dcm"] {
        for (path, category) in [
            ("0010,0010", "name"),
            ("0010,0020", "id"),
            ("0010,0030", "date of birth"),
            ("0008,0050", "id"),
            ("0008,1010", "station"),
            ("0008,0080", "institution"),
            ("0008,0090", "name"),
            ("0010,1002/0/0010,0020", "id"),
            ("0008,0018", "uid"),
        ] {
            assert!(has(&found, f, path, category), "{f} {path}: {found:#?}");
        }
        assert!(
            !has(&found, f, "0020,0010", "id"),
            "Study ID 1 is not identifying"
        );
        assert!(!has(&found, f, "0008,0020", "date of birth"));
    }
    assert!(stderr.contains("2 originals"), "{stderr}");
}

/// Outputs without PHI give no finding and exit 0, including text in the pixel data
/// (not searched: see verify_cmd) and non-identifying values of the originals.
#[test]
fn clean_output_has_no_findings() {
    let env = Env::new();
    let input = env.originals();
    // Originals whose values are placeholders, short or clinical words.
    let mut plain = InMemDicomObject::new_empty();
    plain.put_str(tags::PATIENT_NAME, VR::PN, "Anonymous^Patient");
    plain.put_str(tags::PATIENT_ID, VR::LO, "ID1");
    plain.put_str(tags::ACCESSION_NUMBER, VR::SH, "A7");
    plain.put_str(tags::STATION_NAME, VR::SH, "CT");
    plain.put_str(tags::OPERATORS_NAME, VR::PN, "Head^Chest");
    plain.put_str(tags::INSTITUTION_NAME, VR::LO, "ACME Medical");
    env.write("in/b/3.dcm", &file(plain, "1.2.3.4.3", &[3; 16]));

    let mut pixels = b"ABERNATHY 51544914 ".to_vec();
    pixels.resize(32, 0);
    env.write(
        "out/DIR0001/IMG00001.dcm",
        &file(clean_object(), "2.25.7", &pixels),
    );
    let mut dummy = clean_object();
    dummy.put_str(tags::PATIENT_NAME, VR::PN, "ANONYMOUS^PATIENT");
    dummy.put_str(tags::ACCESSION_NUMBER, VR::SH, "A7");
    dummy.put_str(tags::IMAGE_COMMENTS, VR::LT, "ID1 CT HEAD chest 1 2 3");
    env.write("out/DIR0001/IMG00002.dcm", &file(dummy, "2.25.8", &[0; 16]));
    env.write(
        "out/report.json",
        br#"{"profile":"Basic","files":2,"ok":2}"#,
    );
    env.write("out/.hidden", b"key fingerprint d3003a9a9d9ad7df\n");
    let out = env.verify(&env.path("out"), &input, &["--json"]);
    let (code, found, stderr) = findings(&out);
    assert!(found.is_empty(), "{found:#?}");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("4 files scanned (2 DICOM)"), "{stderr}");
    assert!(stderr.contains("no findings"), "{stderr}");
    assert!(stderr.contains("1 non-DICOM originals skipped"), "{stderr}");
}

/// Names are printed escaped: no control characters reach the terminal.
#[test]
fn names_are_printed_escaped() {
    let env = Env::new();
    let input = env.originals();
    env.write("out/x\x1b[31m_Abernathy\t.txt", b"nothing here");
    let out = env.verify(&env.path("out"), &input, &[]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text, "x\\u{1b}[31m_Abernathy\\u{9}.txt\tname\tname\n");
}

#[test]
fn missing_folders_and_no_originals_exit_2() {
    let env = Env::new();
    let input = env.originals();
    std::fs::create_dir_all(env.path("out")).unwrap();
    std::fs::create_dir_all(env.path("notdicom")).unwrap();
    env.write("notdicom/a.txt", b"text");
    for (out, originals, says) in [
        (env.path("missing"), input.clone(), "is not a folder"),
        (env.path("out"), env.path("nothing"), "do not exist"),
        (env.path("out"), env.path("notdicom"), "no DICOM original"),
    ] {
        let r = env.verify(&out, &originals, &[]);
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
        assert!(r.stdout.is_empty());
    }
}

/// A link in the output that leads nowhere cannot be checked: named, exit 2.
#[test]
fn a_dangling_link_in_the_output_exits_2() {
    let env = Env::new();
    let input = env.originals();
    env.write("out/README.txt", b"nothing");
    std::os::unix::fs::symlink(env.path("gone"), env.path("out/link")).unwrap();
    let r = env.verify(&env.path("out"), &input, &[]);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("could not read link"), "{stderr}");
}

/// An output folder inside the originals' folder is left out of the dictionary (its
/// pseudonyms are not originals) but is scanned.
#[test]
fn output_inside_originals_is_not_read_as_originals() {
    let env = Env::new();
    let input = env.originals();
    let out = input.join("released");
    let mut ds = clean_object();
    ds.put_str(tags::PATIENT_NAME, VR::PN, "Pseudonymous^Quentin");
    env.write("in/released/IMG00001.dcm", &file(ds, "2.25.9", &[0; 16]));
    let r = env.verify(&out, &input, &["--json"]);
    let (code, found, stderr) = findings(&r);
    assert_eq!(code, Some(0), "{found:#?} {stderr}");
    assert!(stderr.contains("from 2 originals"), "{stderr}");
}

/// A 1 GiB original and a 1 GiB output through the binary: the pixel data is neither
/// loaded (originals) nor held (outputs, streamed in chunks); peak RSS stays far below.
/// `cargo test -p dcmask --release --test verify -- --ignored large --nocapture`
#[test]
#[ignore]
fn large_files_peak_rss() {
    use std::io::Write;
    if !Path::new("/usr/bin/time").exists() {
        eprintln!("!!!!! SKIPPED: /usr/bin/time is missing (apt-get install time) !!!!!");
        return;
    }
    let env = Env::new();
    let header = file(original(), "1.2.3.4.77", &[]);
    // The header of a file with empty pixel data, then a 1 GiB Pixel Data element.
    let cut = header.len() - 12;
    let chunk: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    for rel in ["in/big.dcm", "out/big.dcm"] {
        std::fs::create_dir_all(env.path(rel).parent().unwrap()).unwrap();
        let mut f = std::io::BufWriter::new(std::fs::File::create(env.path(rel)).unwrap());
        f.write_all(&header[..cut]).unwrap();
        f.write_all(&[0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0])
            .unwrap();
        f.write_all(&(1u32 << 30).to_le_bytes()).unwrap();
        for _ in 0..1024 {
            f.write_all(&chunk).unwrap();
        }
    }
    let r = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(env!("CARGO_BIN_EXE_dcmask"))
        .arg("verify")
        .arg(env.path("out"))
        .arg("--originals")
        .arg(env.path("in"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&r.stderr);
    // The output is a copy of the original: its header is flagged.
    assert_eq!(r.status.code(), Some(1), "{stderr}");
    let rss_kb: u64 = stderr
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.trim().parse().ok())
        .expect("time -v output");
    eprintln!("large files: peak RSS {:.1} MiB", rss_kb as f64 / 1024.0);
    assert!(rss_kb < 100 * 1024, "peak RSS {rss_kb} kB");
}

use corpus::dir as corpus;

/// dcmask's own output of the corpus, Basic and HIPAA: the target is no finding at all.
#[test]
fn corpus_outputs_of_dcmask_have_no_findings() {
    let Some(dir) = corpus() else { return };
    let env = Env::new();
    let mut report = String::new();
    let mut total = 0;
    for profile in ["basic", "hipaa"] {
        let out = env.path(profile);
        let r = env.anonymize(&dir, &out, profile);
        // The corpus holds deliberately broken files: exit 1.
        assert!(matches!(r.status.code(), Some(0 | 1)), "{r:?}");
        let started = std::time::Instant::now();
        let v = env.verify(&out, &dir, &["--json"]);
        let secs = started.elapsed().as_secs_f64();
        let (code, found, stderr) = findings(&v);
        eprintln!("{profile}: verify took {secs:.1} s; {}", stderr.trim());
        assert!(secs < 60.0, "verify took {secs:.1} s");
        let mut by: BTreeMap<(String, String, String), usize> = BTreeMap::new();
        for f in &found {
            let file = if f.file.starts_with("DIR") {
                "DIR*/...".to_string()
            } else {
                f.file.clone()
            };
            let path = if f.part == "bytes" {
                "bytes".to_string()
            } else {
                f.path.clone()
            };
            *by.entry((file, path, f.category.clone())).or_default() += 1;
        }
        total += found.len();
        let files: BTreeSet<&str> = found.iter().map(|f| f.file.as_str()).collect();
        report.push_str(&format!(
            "{profile}: exit {code:?}, {} findings in {} files\n",
            found.len(),
            files.len()
        ));
        for ((file, path, category), n) in by {
            report.push_str(&format!("  {n:4}  {file}\t{path}\t{category}\n"));
        }
    }
    assert_eq!(
        total, 0,
        "residual PHI in dcmask's output of the corpus:\n{report}"
    );
}
