//! Helpers shared by the integration tests: the corpus, running the engine without
//! panics escaping, re-reading outputs with dicom-rs, and the checks every output must pass.
#![allow(dead_code)]

#[path = "../../../../tests/support/corpus.rs"]
mod corpus;

use dcmask_engine::table;
use dcmask_engine::AutoShift;
use dcmask_engine::Code;
use dcmask_engine::{deidentify, io, DateShift, Error, Key, Mappings, Plan, ProfileId};
use dcmask_engine::{ProfileOption, Record};
use dicom_core::header::Header;
use dicom_core::value::Value;
use dicom_core::{Tag, VR};
use dicom_dictionary_std::tags;
use dicom_encoding::text::{SpecificCharacterSet, TextCodec};
use dicom_object::mem::InMemElement;
use dicom_object::{DefaultDicomObject, InMemDicomObject};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// The test key (hex text, as key files hold it).
pub fn key() -> Key {
    Key::from_file_contents(b"000102030405060708090a0b0c0d0e0f").unwrap()
}

/// A second key: every pseudonym must differ from the first key's.
pub fn other_key() -> Key {
    Key::from_file_contents(b"ffeeddccbbaa99887766554433221100").unwrap()
}

pub fn ci() -> bool {
    std::env::var_os("CI").is_some()
}

/// Skips a test loudly on a dev machine, fails it on CI.
pub fn skip_or_fail(why: &str) {
    if ci() {
        panic!("CI is set and {why}");
    }
    eprintln!();
    eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
    eprintln!("!!! SKIPPED: {why}");
    eprintln!("!!! (set CI=1 to make this a failure)");
    eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
    eprintln!();
}

/// The real-world corpus ([`corpus::dir`]).
pub fn corpus_dir() -> Option<PathBuf> {
    corpus::dir()
}

/// Every corpus file but the README and the checksums, sorted.
pub fn corpus_files(dir: &Path) -> Vec<PathBuf> {
    corpus::files(dir)
}

/// A path relative to the corpus, with `/` separators.
pub fn rel(dir: &Path, p: &Path) -> String {
    p.strip_prefix(dir)
        .unwrap_or(p)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Runs `f`, turning a panic into an `Err` naming `what`.
pub fn no_panic<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "(no message)".into());
        format!("PANIC in {what}: {msg}")
    })
}

/// Silences the default panic printout while `catch_unwind` guards are in use (the
/// message is reported by `no_panic` instead).
pub fn quiet_panics() {
    std::panic::set_hook(Box::new(|_| {}));
}

/// The three plans every corpus file goes through.
pub fn corpus_plans() -> Vec<(&'static str, Plan)> {
    let mut opts = Plan::builtin(ProfileId::Basic);
    opts.options = vec![
        ProfileOption::RetainSafePrivate,
        ProfileOption::CleanDescriptors,
    ];
    opts.date_shift = Some(DateShift::Auto(AutoShift::Auto));
    vec![
        ("basic", Plan::builtin(ProfileId::Basic)),
        ("hipaa", Plan::builtin(ProfileId::Hipaa)),
        ("options", opts),
    ]
}

pub fn plan_with(options: &[ProfileOption], shift: Option<DateShift>) -> Plan {
    let mut p = Plan::builtin(ProfileId::Basic);
    p.options = options.to_vec();
    p.date_shift = shift;
    p
}

/// One engine run: the de-identified file's bytes and what the engine said.
pub struct Run {
    pub bytes: Vec<u8>,
    pub record: Record,
    pub mappings: Mappings,
}

/// Reads with the engine's reader, de-identifies and writes to bytes.
pub fn deid_bytes(input: &[u8], plan: &Plan, key: &Key) -> Result<Run, Error> {
    let obj = io::read_object(input)?;
    deid_object(obj, plan, key)
}

pub fn deid_object(obj: DefaultDicomObject, plan: &Plan, key: &Key) -> Result<Run, Error> {
    let outcome = deidentify(obj, plan, key)?;
    let bytes = io::to_bytes(&outcome.object)?;
    Ok(Run {
        bytes,
        record: outcome.record,
        mappings: outcome.mappings,
    })
}

/// Reads an input file the way the engine does.
pub fn read(bytes: &[u8]) -> DefaultDicomObject {
    io::read_object(bytes).expect("readable input")
}

/// Writes the output to `path` and re-reads it with dicom-rs's own file reader.
pub fn write_and_reread(bytes: &[u8], path: &Path) -> Result<DefaultDicomObject, String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    std::fs::write(path, bytes).map_err(|e| format!("write {}: {e}", path.display()))?;
    dicom_object::open_file(path).map_err(|e| format!("dicom-rs cannot re-read the output: {e}"))
}

/// Calls `f(path, element)` for every element at every depth.
pub fn walk<'a>(obj: &'a InMemDicomObject, f: &mut dyn FnMut(&str, &'a InMemElement)) {
    fn go<'a>(obj: &'a InMemDicomObject, prefix: &str, f: &mut dyn FnMut(&str, &'a InMemElement)) {
        for e in obj.iter() {
            let t = e.tag();
            let path = format!("{prefix}{:04X},{:04X}", t.0, t.1);
            f(&path, e);
            if let Value::Sequence(s) = e.value() {
                for (i, item) in s.items().iter().enumerate() {
                    go(item, &format!("{path}/{i}/"), f);
                }
            }
        }
    }
    go(obj, "", f)
}

/// Trimmed string values of an element (empty for binary and sequences).
pub fn strings(e: &InMemElement) -> Vec<String> {
    match e.value() {
        Value::Primitive(p) if !is_binary(e.vr()) => p
            .to_multi_str()
            .iter()
            .map(|s| s.trim_matches(|c: char| c == ' ' || c == '\0').to_string())
            .collect(),
        _ => Vec::new(),
    }
}

pub fn is_binary(vr: VR) -> bool {
    vr == VR::SQ || dcmask_engine::tag::is_binary(vr)
}

/// The trimmed text of a top-level element.
pub fn text(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    obj.get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_matches(|c: char| c == ' ' || c == '\0').to_string())
}

/// Attributes whose input values must not survive anywhere in the output.
pub const PHI_TAGS: &[(Tag, &str)] = &[
    (tags::PATIENT_NAME, "Patient's Name"),
    (tags::PATIENT_ID, "Patient ID"),
    (tags::PATIENT_BIRTH_DATE, "Patient's Birth Date"),
    (tags::ACCESSION_NUMBER, "Accession Number"),
    (tags::INSTITUTION_NAME, "Institution Name"),
    (tags::REFERRING_PHYSICIAN_NAME, "Referring Physician's Name"),
    (Tag(0x0010, 0x1000), "Other Patient IDs"),
];

/// Words that are not identifying even when a tester typed them into a PHI field.
const GENERIC: &[&str] = &[
    "anonymous",
    "anonymized",
    "anonymised",
    "anon",
    "none",
    "unknown",
    "test",
    "patient",
    "name",
    "null",
    "nobody",
    "hospital",
    "phantom",
    "demo",
    "sample",
    "research",
    "^^^^",
    // The engine's own dummies.
    "19000101",
    "000000",
    "anonymized",
];

/// Whether a value is worth searching for: at least 4 characters and not a generic word.
pub fn non_trivial(v: &str) -> bool {
    let v = v.trim_matches(|c: char| c == ' ' || c == '\0' || c == '^' || c == '=');
    let digits = v.chars().all(|c| c.is_ascii_digit());
    // Short numbers ("0010", "1234") occur by chance in tags, lengths and numbers.
    v.chars().count() >= if digits { 6 } else { 4 }
        && !GENERIC.contains(&v.to_lowercase().as_str())
        && !v.chars().all(|c| c == '0' || c == '9' || c == '-')
}

/// The PHI values of an object (every depth), with the attribute they came from.
pub fn phi_values(obj: &InMemDicomObject) -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> = Vec::new();
    walk(obj, &mut |_, e| {
        if let Some((_, name)) = PHI_TAGS.iter().find(|(t, _)| *t == e.tag()) {
            for v in strings(e) {
                if non_trivial(&v) && !out.iter().any(|(o, _)| *o == v) {
                    out.push((v, name));
                }
            }
        }
    });
    out
}

/// The byte spellings of a text value: in the object's character set where dicom-rs can
/// encode it, and in UTF-8 and Latin-1.
pub fn spellings(obj: &InMemDicomObject, value: &str) -> Vec<Vec<u8>> {
    let mut out = vec![value.as_bytes().to_vec()];
    let charsets = obj
        .get(tags::SPECIFIC_CHARACTER_SET)
        .map(strings)
        .unwrap_or_default();
    for cs in charsets.iter().filter(|c| !c.is_empty()) {
        if let Some(codec) = SpecificCharacterSet::from_code(cs) {
            if let Ok(b) = codec.encode(value) {
                out.push(b);
            }
        }
    }
    if let Ok(b) = SpecificCharacterSet::ISO_IR_100.encode(value) {
        out.push(b);
    }
    // Person names: each component group separately (ISO 2022 files switch sets between them).
    for group in value.split('=') {
        if non_trivial(group) && group != value {
            out.push(group.as_bytes().to_vec());
        }
    }
    out.sort();
    out.dedup();
    out
}

pub fn count(haystack: &[u8], needle: &[u8]) -> usize {
    Finder::new(vec![needle.to_vec()]).positions(haystack)[0].len()
}

/// Finds many needles in one pass (fast enough in debug builds for 20 MB files):
/// a table of the needles' first two bytes, then a full compare on candidates.
pub struct Finder {
    needles: Vec<Vec<u8>>,
    first2: Vec<Vec<usize>>,
}

impl Finder {
    /// Needles shorter than 2 bytes are ignored.
    pub fn new(needles: Vec<Vec<u8>>) -> Finder {
        let mut first2 = vec![Vec::new(); 1 << 16];
        for (i, n) in needles.iter().enumerate() {
            if n.len() >= 2 {
                first2[(n[0] as usize) << 8 | n[1] as usize].push(i);
            }
        }
        Finder { needles, first2 }
    }

    /// Start positions of every needle (one list per needle, in needle order).
    pub fn positions(&self, hay: &[u8]) -> Vec<Vec<usize>> {
        let mut out = vec![Vec::new(); self.needles.len()];
        if hay.len() < 2 {
            return out;
        }
        for i in 0..hay.len() - 1 {
            let cands = &self.first2[(hay[i] as usize) << 8 | hay[i + 1] as usize];
            for &c in cands {
                let n = &self.needles[c];
                if hay.len() - i >= n.len() && &hay[i..i + n.len()] == n.as_slice() {
                    out[c].push(i);
                }
            }
        }
        out
    }
}

/// Whether the match at `pos` lies inside a `2.25.` UID (fresh pseudonyms hold any digits).
pub fn inside_new_uid(hay: &[u8], pos: usize) -> bool {
    let uidish = |b: u8| b.is_ascii_digit() || b == b'.';
    let mut s = pos;
    while s > 0 && uidish(hay[s - 1]) {
        s -= 1;
    }
    s < pos && hay[s..pos].windows(5).any(|w| w == b"2.25.")
}

/// The pixel data of an object as comparable parts: native bytes, or offset table and fragments.
#[derive(Debug, PartialEq)]
pub enum Pixels {
    Native(Vec<u8>),
    Encapsulated(Vec<u32>, Vec<Vec<u8>>),
}

pub fn pixels(obj: &InMemDicomObject) -> Option<Pixels> {
    let e = obj.get(tags::PIXEL_DATA)?;
    Some(match e.value() {
        Value::PixelSequence(s) => {
            Pixels::Encapsulated(s.offset_table().to_vec(), s.fragments().to_vec())
        }
        Value::Primitive(p) => Pixels::Native(p.to_bytes().into_owned()),
        Value::Sequence(_) => Pixels::Native(Vec::new()),
    })
}

impl Pixels {
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Pixels::Native(b) => b.clone(),
            Pixels::Encapsulated(_, f) => f.concat(),
        }
    }
}

/// Whether a tag's Basic Profile code in Table E.1-1 is U.
pub fn is_u_row(tag: Tag) -> bool {
    tag.0.is_multiple_of(2) && table().lookup(tag).is_some_and(|r| r.basic == Code::U)
}

pub fn is_new_uid(v: &str) -> bool {
    v.strip_prefix("2.25.")
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) && v.len() <= 64)
}

/// Attributes the Basic Profile keeps (K) that name the device's maker; test files often
/// reuse the maker's name as institution name, so a PHI value found there is no leak.
pub const VENDOR_TAGS: &[Tag] = &[tags::MANUFACTURER, tags::MANUFACTURER_MODEL_NAME];

/// Where the input's PHI values survive in `hay` (beyond occurrences inside the input's
/// unchanged pixel data, inside fresh `2.25.` UIDs, or in kept vendor attributes):
/// one message per surviving value, naming the attribute but not the value.
pub fn phi_survivors(
    input: &InMemDicomObject,
    hay: &[u8],
    skip: &dyn Fn(&str, &str) -> bool,
) -> Vec<String> {
    let in_pixels = pixels(input).map(|p| p.bytes()).unwrap_or_default();
    let mut vendor = Vec::new();
    for t in VENDOR_TAGS {
        if let Some(e) = input.get(*t) {
            vendor.extend(strings(e));
        }
    }
    let mut needles = Vec::new();
    let mut owners = Vec::new();
    for (value, name) in phi_values(input) {
        if skip(&value, name) {
            continue;
        }
        for sp in spellings(input, &value) {
            needles.push(sp);
            owners.push((value.clone(), name));
        }
    }
    let finder = Finder::new(needles.clone());
    let hits = finder.positions(hay);
    let mut out = Vec::new();
    for ((needle, (value, name)), pos) in needles.iter().zip(&owners).zip(hits) {
        let real = pos.iter().filter(|&&p| !inside_new_uid(hay, p)).count();
        if real == 0 {
            continue;
        }
        let allowed = count(&in_pixels, needle)
            + vendor
                .iter()
                .map(|v| count(v.as_bytes(), value.as_bytes()))
                .sum::<usize>();
        if real > allowed {
            let msg = format!(
                "{name} value ({} bytes) survives {real} time(s) in the output",
                needle.len()
            );
            if !out.contains(&msg) {
                out.push(msg);
            }
        }
    }
    out
}

/// The checks every de-identified output must pass; returns the problems found.
/// Under HIPAA the birth date search skips values HIPAA legitimately writes (`YYYY0101`);
/// with Retain UIDs the UID checks are skipped.
pub fn check_output(
    input: &DefaultDicomObject,
    out_bytes: &[u8],
    out: &DefaultDicomObject,
    plan: &Plan,
) -> Vec<String> {
    let hipaa = plan.is_hipaa();
    let retain_uids = plan
        .effective_options()
        .contains(&ProfileOption::RetainUids);
    let mut problems = Vec::new();
    let in_ds: &InMemDicomObject = input;
    let out_ds: &InMemDicomObject = out;

    // PHI values of the input must not be anywhere in the output bytes.
    let retain_institution = plan
        .effective_options()
        .contains(&ProfileOption::RetainInstitutionIdentity);
    problems.extend(phi_survivors(in_ds, out_bytes, &|value, name| {
        (hipaa && name == "Patient's Birth Date" && value.ends_with("0101"))
            || (retain_institution && name == "Institution Name")
    }));

    // Pixel data unchanged.
    if pixels(in_ds) != pixels(out_ds) {
        problems.push("PixelData differs from the input's".into());
    }

    // Transfer syntax kept.
    let ts = |o: &DefaultDicomObject| {
        o.meta()
            .transfer_syntax()
            .trim_end_matches('\0')
            .to_string()
    };
    if ts(input) != ts(out) {
        problems.push(format!(
            "transfer syntax changed: {} -> {}",
            ts(input),
            ts(out)
        ));
    }

    // File meta names the new SOP Instance UID (when the input had one to map).
    let media = out
        .meta()
        .media_storage_sop_instance_uid()
        .trim_end_matches('\0');
    let had_instance = text(in_ds, tags::SOP_INSTANCE_UID).is_some_and(|s| !s.is_empty())
        || !input
            .meta()
            .media_storage_sop_instance_uid()
            .trim_end_matches('\0')
            .is_empty();
    match text(out_ds, tags::SOP_INSTANCE_UID) {
        Some(sop) if sop == media => {}
        Some(_) => problems.push("Media Storage SOP Instance UID != SOP Instance UID".into()),
        None => {
            if text(in_ds, tags::SOP_INSTANCE_UID).is_some() {
                problems.push("SOP Instance UID missing from the output".into());
            }
        }
    }
    if had_instance && !retain_uids && !is_new_uid(media) {
        problems.push("Media Storage SOP Instance UID is not a 2.25 UID".into());
    }

    match text(out_ds, tags::PATIENT_IDENTITY_REMOVED).as_deref() {
        Some("YES") => {}
        other => problems.push(format!("(0012,0062) is {other:?}, not YES")),
    }

    // Every U-row UID is a fresh 2.25 UID, and no original U-row UID is left anywhere.
    if retain_uids {
        problems.sort();
        return problems;
    }
    let mut originals = std::collections::HashSet::new();
    walk(in_ds, &mut |_, e| {
        if is_u_row(e.tag()) {
            originals.extend(uid_strings(e).into_iter().filter(|s| s.len() >= 10));
        }
    });
    walk(out_ds, &mut |path, e| {
        if is_u_row(e.tag()) && e.vr() != VR::SQ {
            for v in uid_strings(e) {
                if !v.is_empty() && !is_new_uid(&v) {
                    problems.push(format!(
                        "U-row UID at {path} ({}) is not 2.25.<digits>",
                        e.vr()
                    ));
                }
            }
        }
        for v in uid_like_runs(e) {
            if originals.contains(&v) {
                problems.push(format!("an original U-row UID survives at {path}"));
            }
        }
    });
    problems.sort();
    problems.dedup();
    problems
}

/// The values of a UID element, also when it was written with VR UN.
pub fn uid_strings(e: &InMemElement) -> Vec<String> {
    match e.value() {
        Value::Primitive(p) if e.vr() == VR::UN => String::from_utf8_lossy(&p.to_bytes())
            .split('\\')
            .map(|s| s.trim_matches(|c: char| c == ' ' || c == '\0').to_string())
            .collect(),
        Value::Primitive(_) if e.vr() == VR::UI => strings_any(e),
        _ => Vec::new(),
    }
}

fn strings_any(e: &InMemElement) -> Vec<String> {
    match e.value() {
        Value::Primitive(p) => p
            .to_multi_str()
            .iter()
            .map(|s| s.trim_matches(|c: char| c == ' ' || c == '\0').to_string())
            .collect(),
        _ => Vec::new(),
    }
}

/// Every run of digits and dots in an element's value (text or binary), for spotting
/// original UIDs wherever they hide (private blobs included).
pub fn uid_like_runs(e: &InMemElement) -> Vec<String> {
    let bytes: Vec<u8> = match e.value() {
        Value::Primitive(_) if is_binary(e.vr()) && !matches!(e.vr(), VR::OB | VR::UN) => {
            return Vec::new()
        }
        Value::Primitive(p) if matches!(e.vr(), VR::OB | VR::UN) => p.to_bytes().into_owned(),
        Value::Primitive(_) => strings_any(e).join("\\").into_bytes(),
        _ => return Vec::new(),
    };
    bytes
        .split(|b| !(b.is_ascii_digit() || *b == b'.'))
        .filter(|r| r.len() >= 10)
        .map(|r| String::from_utf8_lossy(r).into_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------
// Synthetic objects with PHI everywhere.

pub const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";
pub const IMPLICIT_VR_LE: &str = "1.2.840.10008.1.2";
/// Secondary Capture Image Storage: a small IOD, so dciodvfy checks what matters.
pub const SC_CLASS: &str = "1.2.840.10008.5.1.4.1.1.7";
const UID_ROOT: &str = "1.2.826.0.1.3680043.8.498.4711";

/// One synthetic instance: who it is about and what it references.
#[derive(Debug, Clone)]
pub struct Subject {
    pub name: &'static str,
    pub patient_id: &'static str,
    pub birth: &'static str,
    pub age: &'static str,
    pub accession: &'static str,
    pub study_date: &'static str,
    pub study_uid: String,
    pub series_uid: String,
    pub sop_uid: String,
    /// SOP Instance UIDs this instance was derived from (Source Image Sequence).
    pub sources: Vec<String>,
}

pub const INSTITUTION: &str = "Saint Wenceslas Hospital";
pub const INSTITUTION_ADDRESS: &str = "12 Larkspur Lane, Springfield";
pub const REFERRING: &str = "Hargreaves^Imelda";
pub const OPERATOR: &str = "Pemberton^Ulric";
pub const OTHER_IDS: &str = "OTHERID77812";
pub const PHONE: &str = "555-867-5309";
pub const STATION: &str = "WENCESLASCT7";
pub const SERIAL: &str = "SN99120077";
pub const STUDY_ID: &str = "STUDY8812";
pub const REQUESTED_PROCEDURE_ID: &str = "RP55123";
pub const OLD_NAME: &str = "Oldsurname^Previous";
pub const OLD_ID: &str = "OLDMRN55512";
pub const SAFE_PRIVATE_VALUE: &str = "37.5";
pub const STAFF_CODE: &str = "STAFF5521";
pub const INSTITUTION_CODE: &str = "SWH0042";
pub const EXTERNAL_SOURCE: &str = "1.2.826.0.1.3680043.8.498.4711.9.9.9";

impl Subject {
    /// Patient 1, study 1, instance 1.
    pub fn first() -> Subject {
        Subject {
            name: "Kowalczyk^Bartholomew^Quentin",
            patient_id: "MRN4471923",
            birth: "19600317",
            age: "045Y",
            accession: "ACC99812",
            study_date: "20051130",
            study_uid: format!("{UID_ROOT}.1"),
            series_uid: format!("{UID_ROOT}.1.1"),
            sop_uid: format!("{UID_ROOT}.1.1.1"),
            sources: vec![EXTERNAL_SOURCE.into()],
        }
    }

    /// Patient 1, study 1, a second series derived from the first instance.
    pub fn derived() -> Subject {
        let first = Subject::first();
        Subject {
            series_uid: format!("{UID_ROOT}.1.2"),
            sop_uid: format!("{UID_ROOT}.1.2.1"),
            sources: vec![first.sop_uid.clone()],
            ..first
        }
    }

    /// Patient 1, a later study on another day.
    pub fn later_study() -> Subject {
        Subject {
            accession: "ACC99977",
            study_date: "20060415",
            age: "046Y",
            study_uid: format!("{UID_ROOT}.2"),
            series_uid: format!("{UID_ROOT}.2.1"),
            sop_uid: format!("{UID_ROOT}.2.1.1"),
            sources: vec![Subject::first().sop_uid],
            ..Subject::first()
        }
    }

    /// Another patient, 92 years old.
    pub fn other_patient() -> Subject {
        Subject {
            name: "Vandersloot^Ermengarde",
            patient_id: "MRN5580021",
            birth: "19130704",
            age: "092Y",
            accession: "ACC55510",
            study_date: "20051130",
            study_uid: format!("{UID_ROOT}.3"),
            series_uid: format!("{UID_ROOT}.3.1"),
            sop_uid: format!("{UID_ROOT}.3.1.1"),
            sources: vec![EXTERNAL_SOURCE.into()],
        }
    }

    pub fn surname(&self) -> &'static str {
        self.name.split('^').next().unwrap()
    }

    pub fn given(&self) -> &'static str {
        self.name.split('^').nth(1).unwrap()
    }

    /// Free text that mixes clinical words with this subject's identifiers.
    pub fn study_description(&self) -> String {
        format!(
            "Chest CT {} {} 30/11/2005 {PHONE}",
            self.surname(),
            self.patient_id
        )
    }

    pub fn image_comments(&self) -> String {
        format!(
            "{} {} fell on 2005-11-30, MRN {}",
            self.given(),
            self.surname(),
            self.patient_id
        )
    }

    pub fn history(&self) -> String {
        format!(
            "Pt {} ID {} DOB {}/{}/{} phone {PHONE}; asthma since childhood",
            self.surname(),
            self.patient_id,
            &self.birth[6..8],
            &self.birth[4..6],
            &self.birth[..4]
        )
    }

    /// Every identifying string of this subject's synthetic file: none may survive
    /// the Basic Profile anywhere in the output bytes.
    pub fn phi(&self) -> Vec<String> {
        let mut v: Vec<String> = vec![
            self.name.into(),
            self.surname().into(),
            self.given().into(),
            self.patient_id.into(),
            self.birth.into(),
            self.accession.into(),
            self.study_date.into(),
            INSTITUTION.into(),
            INSTITUTION_ADDRESS.into(),
            "Larkspur".into(),
            REFERRING.into(),
            "Hargreaves".into(),
            OPERATOR.into(),
            "Pemberton".into(),
            OTHER_IDS.into(),
            PHONE.into(),
            STATION.into(),
            SERIAL.into(),
            STUDY_ID.into(),
            REQUESTED_PROCEDURE_ID.into(),
            OLD_NAME.into(),
            "Oldsurname".into(),
            OLD_ID.into(),
            STAFF_CODE.into(),
            INSTITUTION_CODE.into(),
        ];
        v.extend([
            self.study_uid.clone(),
            self.series_uid.clone(),
            self.sop_uid.clone(),
        ]);
        v.extend(self.sources.iter().cloned());
        v
    }
}

pub fn el(tag: Tag, vr: VR, value: &str) -> InMemElement {
    let v = if value.is_empty() {
        dicom_core::PrimitiveValue::Empty
    } else if value.contains('\\') && !matches!(vr, VR::ST | VR::LT | VR::UT) {
        dicom_core::PrimitiveValue::Strs(value.split('\\').map(str::to_string).collect())
    } else {
        dicom_core::PrimitiveValue::from(value)
    };
    dicom_core::DataElement::new(tag, vr, v)
}

pub fn us(tag: Tag, value: u16) -> InMemElement {
    dicom_core::DataElement::new(tag, VR::US, dicom_core::PrimitiveValue::from(value))
}

pub fn sq(tag: Tag, items: Vec<InMemDicomObject>) -> InMemElement {
    dicom_core::DataElement::new(
        tag,
        VR::SQ,
        dicom_core::value::DataSetSequence::new(items, dicom_core::Length::UNDEFINED),
    )
}

pub fn item(elems: Vec<InMemElement>) -> InMemDicomObject {
    InMemDicomObject::from_element_iter(elems)
}

pub fn bytes_el(tag: Tag, vr: VR, value: &[u8]) -> InMemElement {
    dicom_core::DataElement::new(tag, vr, dicom_core::PrimitiveValue::U8(value.into()))
}

pub fn code_item(value: &str, scheme: &str, meaning: &str) -> InMemDicomObject {
    item(vec![
        el(tags::CODE_VALUE, VR::SH, value),
        el(tags::CODING_SCHEME_DESIGNATOR, VR::SH, scheme),
        el(tags::CODE_MEANING, VR::LO, meaning),
    ])
}

/// 16x16 8-bit pixels, a pattern that spells nothing.
pub fn pixel_bytes() -> Vec<u8> {
    (0..256u32).map(|i| ((i * 7) % 251) as u8 | 0x80).collect()
}

pub const GEMS_CREATOR: &str = "GEMS_ACQU_01";
pub const ACME_CREATOR: &str = "ACME HOSPITAL PRIVATE";
pub const CSA_CREATOR: &str = "SIEMENS CSA HEADER";

/// The data set of a synthetic Secondary Capture image carrying PHI at the top level,
/// at depths 1 to 3 of sequences, in private blocks of three creators, in Original
/// Attributes Sequence and in free text.
pub fn synthetic_dataset(s: &Subject) -> InMemDicomObject {
    let t = |g: u16, e: u16| Tag(g, e);
    // Depth 3 (Referenced Image Sequence item inside a Purpose of Reference item).
    let depth3 = |src: &str| {
        item(vec![
            el(t(0x0008, 0x1150), VR::UI, SC_CLASS),
            el(t(0x0008, 0x1155), VR::UI, src),
            el(t(0x0010, 0x0010), VR::PN, s.name),
            el(t(0x0010, 0x0020), VR::LO, s.patient_id),
            el(t(0x0008, 0x0080), VR::LO, INSTITUTION),
            el(t(0x0008, 0x0023), VR::DA, s.study_date),
            el(t(0x0008, 0x0050), VR::SH, s.accession),
        ])
    };
    // Source Image Sequence: depth 1 item, Purpose of Reference at depth 2, then depth 3.
    let sources: Vec<InMemDicomObject> = s
        .sources
        .iter()
        .map(|src| {
            item(vec![
                el(t(0x0008, 0x1150), VR::UI, SC_CLASS),
                el(t(0x0008, 0x1155), VR::UI, src),
                sq(
                    t(0x0040, 0xA170),
                    vec![item(vec![
                        el(t(0x0008, 0x0100), VR::SH, "121320"),
                        el(t(0x0008, 0x0102), VR::SH, "DCM"),
                        el(t(0x0008, 0x0104), VR::LO, "Uncompressed predecessor"),
                        el(t(0x0010, 0x0010), VR::PN, s.name),
                        el(t(0x0008, 0x0050), VR::SH, s.accession),
                        el(t(0x0008, 0x0020), VR::DA, s.study_date),
                        sq(t(0x0008, 0x1140), vec![depth3(src)]),
                    ])],
                ),
            ])
        })
        .collect();
    // Referenced Study Sequence -> Request Attributes Sequence -> Referenced Series Sequence.
    let referenced_study = item(vec![
        el(t(0x0008, 0x1150), VR::UI, "1.2.840.10008.3.1.2.3.1"),
        el(t(0x0008, 0x1155), VR::UI, &s.study_uid),
        sq(
            t(0x0040, 0x0275),
            vec![item(vec![
                el(t(0x0008, 0x0050), VR::SH, s.accession),
                el(t(0x0040, 0x0009), VR::SH, "SPS88123"),
                el(t(0x0040, 0x1001), VR::SH, REQUESTED_PROCEDURE_ID),
                sq(
                    t(0x0008, 0x1115),
                    vec![item(vec![
                        el(t(0x0008, 0x0021), VR::DA, s.study_date),
                        el(t(0x0008, 0x0050), VR::SH, s.accession),
                        el(t(0x0010, 0x0010), VR::PN, s.name),
                        el(t(0x0020, 0x000E), VR::UI, &s.series_uid),
                    ])],
                ),
            ])],
        ),
    ]);
    let original_attributes = item(vec![
        sq(
            t(0x0400, 0x0550),
            vec![item(vec![
                el(t(0x0010, 0x0010), VR::PN, OLD_NAME),
                el(t(0x0010, 0x0020), VR::LO, OLD_ID),
            ])],
        ),
        el(t(0x0400, 0x0562), VR::DT, "20051201120000"),
        el(t(0x0400, 0x0563), VR::LO, "OLDSYSTEM"),
        el(t(0x0400, 0x0564), VR::LO, "MERGE"),
        el(t(0x0400, 0x0565), VR::CS, "COERCE"),
    ]);
    let mut csa = b"SV10\x04\x03\x02\x01PatientName\0".to_vec();
    csa.extend_from_slice(s.name.as_bytes());
    csa.extend_from_slice(b"\0PatientID\0");
    csa.extend_from_slice(s.patient_id.as_bytes());
    if csa.len() % 2 == 1 {
        csa.push(0);
    }
    let time = "101500";
    item(vec![
        el(t(0x0008, 0x0005), VR::CS, "ISO_IR 100"),
        el(t(0x0008, 0x0008), VR::CS, "DERIVED\\SECONDARY"),
        el(t(0x0008, 0x0012), VR::DA, s.study_date),
        el(t(0x0008, 0x0013), VR::TM, time),
        el(t(0x0008, 0x0016), VR::UI, SC_CLASS),
        el(t(0x0008, 0x0018), VR::UI, &s.sop_uid),
        el(t(0x0008, 0x0020), VR::DA, s.study_date),
        el(t(0x0008, 0x0021), VR::DA, s.study_date),
        el(t(0x0008, 0x0023), VR::DA, s.study_date),
        el(
            t(0x0008, 0x002A),
            VR::DT,
            &format!("{}{time}.000000", s.study_date),
        ),
        el(t(0x0008, 0x0030), VR::TM, time),
        el(t(0x0008, 0x0033), VR::TM, "101700"),
        el(t(0x0008, 0x0050), VR::SH, s.accession),
        el(t(0x0008, 0x0060), VR::CS, "OT"),
        el(t(0x0008, 0x0064), VR::CS, "WSD"),
        el(t(0x0008, 0x0070), VR::LO, "ACME Imaging"),
        el(t(0x0008, 0x0080), VR::LO, INSTITUTION),
        el(t(0x0008, 0x0081), VR::ST, INSTITUTION_ADDRESS),
        // Institution Code Sequence (X/Z/D).
        sq(
            t(0x0008, 0x0082),
            vec![code_item(INSTITUTION_CODE, "99SWH", INSTITUTION)],
        ),
        el(t(0x0008, 0x0090), VR::PN, REFERRING),
        el(t(0x0008, 0x1010), VR::SH, STATION),
        el(t(0x0008, 0x1030), VR::LO, &s.study_description()),
        el(
            t(0x0008, 0x103E),
            VR::LO,
            &format!("Series for {}", s.given()),
        ),
        el(t(0x0008, 0x1070), VR::PN, OPERATOR),
        // Operator Identification Sequence (X/D) -> Person Identification Code Sequence (D).
        sq(
            t(0x0008, 0x1072),
            vec![item(vec![
                el(t(0x0008, 0x0080), VR::LO, INSTITUTION),
                sq(
                    t(0x0040, 0x1101),
                    vec![code_item(STAFF_CODE, "99SWH", "Pemberton staff badge")],
                ),
            ])],
        ),
        sq(t(0x0008, 0x1110), vec![referenced_study]),
        // Referenced Performed Procedure Step Sequence (X/Z/D).
        sq(
            t(0x0008, 0x1111),
            vec![item(vec![
                el(t(0x0008, 0x1150), VR::UI, "1.2.840.10008.3.1.2.3.3"),
                el(t(0x0008, 0x1155), VR::UI, &format!("{}.77", s.study_uid)),
            ])],
        ),
        sq(t(0x0008, 0x2112), sources),
        el(t(0x0010, 0x0010), VR::PN, s.name),
        el(t(0x0010, 0x0020), VR::LO, s.patient_id),
        el(t(0x0010, 0x0030), VR::DA, s.birth),
        el(t(0x0010, 0x0040), VR::CS, "M"),
        el(t(0x0010, 0x1000), VR::LO, OTHER_IDS),
        el(t(0x0010, 0x1010), VR::AS, s.age),
        el(t(0x0010, 0x2154), VR::SH, PHONE),
        el(t(0x0010, 0x21B0), VR::LT, &s.history()),
        el(t(0x0018, 0x1000), VR::LO, SERIAL),
        // Group 0019: an unknown creator in block 10, GE's in block 11.
        el(t(0x0019, 0x0010), VR::LO, ACME_CREATOR),
        el(t(0x0019, 0x0011), VR::LO, GEMS_CREATOR),
        el(t(0x0019, 0x1001), VR::LO, s.name),
        el(t(0x0019, 0x1101), VR::LO, s.surname()),
        el(t(0x0019, 0x1123), VR::DS, SAFE_PRIVATE_VALUE),
        el(t(0x0020, 0x000D), VR::UI, &s.study_uid),
        el(t(0x0020, 0x000E), VR::UI, &s.series_uid),
        el(t(0x0020, 0x0010), VR::SH, STUDY_ID),
        el(t(0x0020, 0x0011), VR::IS, "1"),
        el(t(0x0020, 0x0013), VR::IS, "1"),
        el(t(0x0020, 0x0020), VR::CS, ""),
        el(t(0x0020, 0x4000), VR::LT, &s.image_comments()),
        us(t(0x0028, 0x0002), 1),
        el(t(0x0028, 0x0004), VR::CS, "MONOCHROME2"),
        us(t(0x0028, 0x0010), 16),
        us(t(0x0028, 0x0011), 16),
        us(t(0x0028, 0x0100), 8),
        us(t(0x0028, 0x0101), 8),
        us(t(0x0028, 0x0102), 7),
        us(t(0x0028, 0x0103), 0),
        el(t(0x0029, 0x0010), VR::LO, CSA_CREATOR),
        el(t(0x0029, 0x1008), VR::CS, "IMAGE NUM 4"),
        bytes_el(t(0x0029, 0x1010), VR::OB, &csa),
        // An overlay: Overlay Data is X, the rest of its group is not in Table E.1-1.
        us(t(0x6000, 0x0010), 16),
        us(t(0x6000, 0x0011), 16),
        el(t(0x6000, 0x0040), VR::CS, "G"),
        dicom_core::DataElement::new(
            t(0x6000, 0x0050),
            VR::SS,
            dicom_core::PrimitiveValue::I16([1i16, 1][..].into()),
        ),
        us(t(0x6000, 0x0100), 1),
        us(t(0x6000, 0x0102), 0),
        bytes_el(t(0x6000, 0x3000), VR::OB, &[0x0F; 32]),
        sq(t(0x0400, 0x0561), vec![original_attributes]),
        bytes_el(tags::PIXEL_DATA, VR::OB, &pixel_bytes()),
    ])
}

/// A Part 10 file of the data set in the given transfer syntax.
pub fn file_of(ds: InMemDicomObject, ts: &str) -> Vec<u8> {
    let sop = ds
        .get(tags::SOP_INSTANCE_UID)
        .and_then(|e| uid_strings(e).into_iter().next())
        .unwrap_or_default();
    let class = text(&ds, tags::SOP_CLASS_UID).unwrap_or_else(|| SC_CLASS.into());
    let meta = dicom_object::meta::FileMetaTableBuilder::new()
        .transfer_syntax(ts)
        .media_storage_sop_class_uid(class)
        .media_storage_sop_instance_uid(sop)
        .implementation_class_uid("1.2.826.0.1.3680043.8.498.4711.100")
        .implementation_version_name("SYNTH_1")
        .build()
        .unwrap();
    let obj = ds.with_exact_meta(meta);
    let mut out = Vec::new();
    obj.write_all(&mut out).unwrap();
    out
}

pub fn synthetic_file(s: &Subject, ts: &str) -> Vec<u8> {
    file_of(synthetic_dataset(s), ts)
}
