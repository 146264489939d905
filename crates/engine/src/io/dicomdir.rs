//! A new DICOMDIR (PS3.3 Annex F Basic Directory, PS3.10 §8) for de-identified files.
//!
//! A DICOMDIR repeats the names, IDs, dates and descriptions of the patients, studies and
//! series of its file set, and its records point at the original files: copied from an
//! original media set it carries PHI. dcmask never copies one; this module builds a new
//! one from the de-identified headers only, so it holds what the de-identified files hold.
//! The one exception: a Type 1 key that is empty in the file (the Basic Profile empties
//! Study Date, Study Time and Study ID) gets the constant dummy the engine writes for a
//! D action (`placeholder`), since a DICOMDIR record requires a value.
//!
//! - **Hierarchy**: PATIENT → STUDY → SERIES → leaf (IMAGE, SR DOCUMENT, ...), grouped by
//!   Patient ID and Patient's Name, Study Instance UID and Series Instance UID. Siblings
//!   are sorted (studies by date, time, UID; series by number, UID; leaves by Instance
//!   Number, File ID) and each group's keys come from its entry with the smallest File ID:
//!   the same entries, in any order, give byte-identical bytes.
//! - **Offsets** (0004,1200/1202/1400/1420) count bytes from the first byte of the file
//!   (the preamble). No encoder or parser is written here: dicom-object writes the
//!   records with zero offsets (UL values have a fixed size, so filling them in moves
//!   nothing), dicom-parser finds where each record item starts in those bytes, the
//!   offsets are filled in, and the object is written again and checked to have kept
//!   its layout.
//! - **Keys** are data: which keys each record type copies and how it requires them
//!   (`data/dicomdir-keys.csv`), and the leaf record type of each SOP class
//!   (`data/dicomdir-records.csv`), each row with its PS3.3 Annex F section.
//! - No file system: entries come in as data, bytes go out to any writer.

use crate::error::Error;
use crate::profile::tag::parse_tag;
use dicom_core::dictionary::UidDictionary;
use dicom_core::header::Header;
use dicom_core::value::{DataSetSequence, PrimitiveValue};
use dicom_core::{DataElement, Length, Tag, VR};
use dicom_dictionary_std::uids::EXPLICIT_VR_LITTLE_ENDIAN as EXPLICIT_VR_LE;
use dicom_dictionary_std::{tags, StandardSopClassDictionary};
use dicom_encoding::TransferSyntaxIndex;
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::{DefaultDicomObject, FileMetaTable, InMemDicomObject};
use dicom_parser::dataset::lazy_read::LazyDataSetReader;
use dicom_parser::dataset::LazyDataToken;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::io::{Cursor, Read, Seek, SeekFrom, Write};
use std::rc::Rc;
use std::sync::OnceLock;

pub use dicom_dictionary_std::uids::MEDIA_STORAGE_DIRECTORY_STORAGE;
/// At most this many components in a File ID (PS3.10 8.5).
pub const MAX_FILE_ID_COMPONENTS: usize = 8;
/// At most this many characters in a File ID component (PS3.10 8.5).
pub const MAX_COMPONENT_LEN: usize = 8;
const RECORD_IN_USE: u16 = 0xFFFF;
const ITEM: Tag = Tag(0xFFFE, 0xE000);
const ITEM_START_BYTES: [u8; 4] = [0xFE, 0xFF, 0x00, 0xE0];

/// Why a DICOMDIR could not be built. Messages name entries by their index and say what
/// is wrong with a File ID, never quoting a value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DirError {
    #[error("File ID of entry {entry}: {why} (PS3.10 8.5: 1 to 8 components of 1 to 8 characters A-Z, 0-9, _)")]
    /// A File ID that PS3.10 does not allow.
    FileId {
        /// The entry's index, from 0.
        entry: usize,
        /// What is wrong with it.
        why: String,
    },
    #[error("entries {first} and {second} have the same File ID")]
    /// Two entries point at the same file.
    DuplicateFileId {
        /// The first entry's index.
        first: usize,
        /// The index of the entry that repeats it.
        second: usize,
    },
    /// A File-set ID that is not a valid CS value (what is wrong with it).
    #[error("File-set ID: {0} (CS: at most 16 characters A-Z, 0-9, _ and space)")]
    FileSetId(String),
    /// dicom-object could not encode the directory (its message).
    #[error("could not write the directory: {0}")]
    Write(String),
    /// The written directory's records could not be located to fill in their offsets.
    #[error("directory record layout: {0}")]
    Layout(String),
}

impl From<DirError> for Error {
    fn from(e: DirError) -> Error {
        match e {
            DirError::FileId { .. } | DirError::DuplicateFileId { .. } | DirError::FileSetId(_) => {
                Error::unsupported(format!("directory: {e}"))
            }
            DirError::Write { .. } | DirError::Layout(_) => Error::write(e.to_string()),
        }
    }
}

/// One file of the file set.
pub struct Entry<'a> {
    /// File ID components relative to the DICOMDIR's folder, e.g. `["DIR0001", "IMG00001"]`.
    pub file_id: Vec<String>,
    /// The file's de-identified header with its file meta group (SOP class and instance,
    /// transfer syntax). The pixel data is not needed: see [`keys_only`].
    pub object: &'a DefaultDicomObject,
}

/// How a record requires a key (PS3.3 F.5), as `data/dicomdir-keys.csv` spells it.
#[derive(Clone, Copy, PartialEq, Eq, Deserialize)]
enum Type {
    /// A value is required: copied, or the [`placeholder`] when the file's is empty.
    #[serde(rename = "1")]
    One,
    /// Present, empty when the file has no value.
    #[serde(rename = "2")]
    Two,
    /// Copied when the file has a value.
    #[serde(rename = "3")]
    Three,
}

const KEYS_CSV: &str = include_str!("../../data/dicomdir-keys.csv");
const RECORDS_CSV: &str = include_str!("../../data/dicomdir-records.csv");

/// A key of a record: tag, VR, and how the record requires it.
type Key = (Tag, VR, Type);

#[derive(Deserialize)]
struct KeyRow {
    record_type: String,
    tag: String,
    #[allow(dead_code)] // for people reading the table; the unit test checks it
    keyword: String,
    vr: String,
    #[serde(rename = "type")]
    ty: Type,
    #[allow(dead_code)] // for people reading the table
    reason: String,
}

#[derive(Deserialize)]
struct RecordRow {
    sop_class: String,
    #[allow(dead_code)] // for people reading the table
    name: String,
    record_type: String,
    #[allow(dead_code)] // for people reading the table
    reason: String,
}

/// The two tables, parsed once.
struct Tables {
    /// Keys by record type (PATIENT, STUDY, SERIES, IMAGE and the leaf types).
    keys: BTreeMap<String, Vec<Key>>,
    /// Leaf record types by SOP class: an exact UID, or a prefix ending in `.`; in the
    /// file's order, the first match wins.
    records: Vec<(String, String)>,
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut keys: BTreeMap<String, Vec<Key>> = BTreeMap::new();
        for row in csv::Reader::from_reader(KEYS_CSV.as_bytes()).deserialize::<KeyRow>() {
            let row = row.expect("data/dicomdir-keys.csv is valid");
            let tag = parse_tag(&row.tag).expect("data/dicomdir-keys.csv has valid tags");
            let vr: VR = row
                .vr
                .parse()
                .expect("data/dicomdir-keys.csv has valid VRs");
            keys.entry(row.record_type)
                .or_default()
                .push((tag, vr, row.ty));
        }
        let records = csv::Reader::from_reader(RECORDS_CSV.as_bytes())
            .deserialize::<RecordRow>()
            .map(|row| {
                let row = row.expect("data/dicomdir-records.csv is valid");
                (row.sop_class, row.record_type)
            })
            .collect();
        Tables { keys, records }
    })
}

/// The keys a record type copies besides the Specific Character Set; none for a type
/// the table does not list (PRIVATE).
fn keys_of(record_type: &str) -> &'static [Key] {
    tables()
        .keys
        .get(record_type)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Elements read from an entry's header besides the keys of the table.
const OTHER_TAGS: &[Tag] = &[
    tags::SPECIFIC_CHARACTER_SET,
    tags::SOP_CLASS_UID,
    tags::SOP_INSTANCE_UID,
    tags::ROWS,
];

/// The leaf record type of a SOP class (PS3.3 F.5, PS3.4 B.5), from
/// `data/dicomdir-records.csv`. A class not listed is an IMAGE when the standard names
/// it an "Image Storage" class or its header has Rows (the Image Pixel module:
/// segmentations, parametric maps), else a PRIVATE record naming its class.
fn leaf_type(class: &str, header: &InMemDicomObject) -> &'static str {
    tables()
        .records
        .iter()
        .find(|(pattern, _)| {
            if pattern.ends_with('.') {
                class.starts_with(pattern.as_str())
            } else {
                class == pattern
            }
        })
        .map(|(_, kind)| kind.as_str())
        .unwrap_or_else(|| {
            let image_class = StandardSopClassDictionary
                .by_uid(class)
                .is_some_and(|e| e.name.contains("Image Storage"));
            if image_class || header.get(tags::ROWS).is_some() {
                "IMAGE"
            } else {
                "PRIVATE"
            }
        })
}

/// What an empty Type 1 key gets: the dummies the engine writes for a D action
/// (`apply::dummy`), and OT (other) for Modality. They identify no one. A UID or a
/// sequence is never invented: a file without one gives an empty or absent key.
fn placeholder(tag: Tag, vr: VR) -> Option<PrimitiveValue> {
    if tag == tags::MODALITY {
        return Some("OT".into());
    }
    match vr {
        VR::DA => Some("19000101".into()),
        VR::TM => Some("000000".into()),
        VR::DT => Some("19000101000000".into()),
        VR::IS => Some("0".into()),
        VR::CS | VR::LO | VR::SH | VR::PN | VR::ST | VR::LT => Some("ANONYMIZED".into()),
        _ => None,
    }
}

/// Keeps only the elements a DICOMDIR record reads, so a caller can hold the headers of
/// many files at once.
pub fn keys_only(mut object: DefaultDicomObject) -> DefaultDicomObject {
    object.retain(|e| is_key(e.tag()));
    object
}

fn is_key(tag: Tag) -> bool {
    OTHER_TAGS.contains(&tag)
        || tables()
            .keys
            .values()
            .any(|keys| keys.iter().any(|(t, _, _)| *t == tag))
}

/// Whether `s` is a valid File ID component: 1 to 8 characters of A-Z, 0-9 and `_`.
pub fn is_file_id_component(s: &str) -> bool {
    (1..=MAX_COMPONENT_LEN).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// Why a File ID is not valid (component positions and lengths, never the text).
pub fn check_file_id<S: AsRef<str>>(components: &[S]) -> Result<(), String> {
    if components.is_empty() {
        return Err("no component".into());
    }
    if components.len() > MAX_FILE_ID_COMPONENTS {
        return Err(format!(
            "{} components, at most {MAX_FILE_ID_COMPONENTS}",
            components.len()
        ));
    }
    for (i, c) in components.iter().enumerate() {
        let c = c.as_ref();
        if c.is_empty() || c.len() > MAX_COMPONENT_LEN {
            return Err(format!(
                "component {} has {} characters",
                i + 1,
                c.chars().count()
            ));
        }
        if !is_file_id_component(c) {
            return Err(format!(
                "component {} has a character other than A-Z, 0-9, _",
                i + 1
            ));
        }
    }
    Ok(())
}

fn check_file_set_id(id: &str) -> Result<(), DirError> {
    if id.len() > 16 {
        return Err(DirError::FileSetId(format!("{} characters", id.len())));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b' ')
    {
        return Err(DirError::FileSetId("a character not allowed".into()));
    }
    Ok(())
}

/// Builds the DICOMDIR of `entries`, with its offsets filled in (they hold when written
/// with [`crate::io::write_object`]).
pub fn build(file_set_id: &str, entries: &[Entry]) -> Result<DefaultDicomObject, DirError> {
    build_with_bytes(file_set_id, entries).map(|(object, _)| object)
}

/// Writes the DICOMDIR of `entries` to `to`.
pub fn write(file_set_id: &str, entries: &[Entry], mut to: impl Write) -> Result<(), DirError> {
    let (_, bytes) = build_with_bytes(file_set_id, entries)?;
    to.write_all(&bytes)
        .and_then(|()| to.flush())
        .map_err(|e| DirError::Write(e.kind().to_string()))
}

/// The DICOMDIR of `entries` as bytes.
pub fn to_bytes(file_set_id: &str, entries: &[Entry]) -> Result<Vec<u8>, DirError> {
    build_with_bytes(file_set_id, entries).map(|(_, bytes)| bytes)
}

fn build_with_bytes(
    file_set_id: &str,
    entries: &[Entry],
) -> Result<(DefaultDicomObject, Vec<u8>), DirError> {
    check_file_set_id(file_set_id)?;
    let leaves = sorted_leaves(entries)?;
    let tree = Tree::of(&leaves);
    let meta = meta(file_set_id, &leaves)?;
    let draft = tree
        .assemble(file_set_id, None)
        .with_exact_meta(meta.clone());
    let draft_bytes = encode(&draft)?;
    let starts = record_starts(&draft_bytes)?;
    if starts.len() != tree.nodes.len() {
        return Err(DirError::Layout(format!(
            "{} record items found for {} records",
            starts.len(),
            tree.nodes.len()
        )));
    }
    let object = tree
        .assemble(file_set_id, Some(&starts))
        .with_exact_meta(meta);
    let bytes = encode(&object)?;
    if bytes.len() != draft_bytes.len() || record_starts(&bytes)? != starts {
        return Err(DirError::Layout(
            "the records moved when their offsets were filled in".into(),
        ));
    }
    Ok((object, bytes))
}

fn encode(object: &DefaultDicomObject) -> Result<Vec<u8>, DirError> {
    crate::io::to_bytes(object).map_err(|e| DirError::Write(e.to_string()))
}

/// The file meta group. The SOP Instance UID is derived from the File IDs and SOP
/// Instance UIDs listed, so the same file set always gets the same one.
fn meta(file_set_id: &str, leaves: &[Leaf]) -> Result<FileMetaTable, DirError> {
    let mut h = Sha256::new();
    h.update(b"dcmask DICOMDIR\0");
    h.update(file_set_id.as_bytes());
    for leaf in leaves {
        h.update([0]);
        h.update(leaf.file_id.join("\\").as_bytes());
        h.update([0]);
        h.update(leaf.instance.as_bytes());
    }
    let digest = h.finalize();
    let n = u128::from_be_bytes(digest[..16].try_into().expect("16 bytes"));
    FileMetaTableBuilder::new()
        .transfer_syntax(EXPLICIT_VR_LE)
        .media_storage_sop_class_uid(MEDIA_STORAGE_DIRECTORY_STORAGE)
        .media_storage_sop_instance_uid(format!("2.25.{n}"))
        .implementation_class_uid(crate::apply::IMPLEMENTATION_CLASS_UID)
        .implementation_version_name(crate::apply::IMPLEMENTATION_VERSION)
        .build()
        .map_err(|e| DirError::Write(format!("file meta group: {e}")))
}

/// An entry with what sorting and grouping need.
struct Leaf<'a> {
    file_id: &'a [String],
    header: &'a InMemDicomObject,
    class: String,
    instance: String,
    transfer_syntax: String,
}

/// The entries' File IDs checked, sorted by File ID, duplicates refused.
fn sorted_leaves<'a>(entries: &'a [Entry]) -> Result<Vec<Leaf<'a>>, DirError> {
    let mut order: Vec<usize> = (0..entries.len()).collect();
    for (i, e) in entries.iter().enumerate() {
        check_file_id(&e.file_id).map_err(|why| DirError::FileId { entry: i, why })?;
    }
    order.sort_by(|&a, &b| entries[a].file_id.cmp(&entries[b].file_id));
    for w in order.windows(2) {
        if entries[w[0]].file_id == entries[w[1]].file_id {
            return Err(DirError::DuplicateFileId {
                first: w[0].min(w[1]),
                second: w[0].max(w[1]),
            });
        }
    }
    Ok(order
        .into_iter()
        .map(|i| {
            let e = &entries[i];
            let meta = e.object.meta();
            let or_header = |from_meta: &str, tag| {
                let m = trim(from_meta);
                if m.is_empty() {
                    text(e.object, tag)
                } else {
                    m.to_string()
                }
            };
            Leaf {
                file_id: &e.file_id,
                header: e.object,
                class: or_header(meta.media_storage_sop_class_uid(), tags::SOP_CLASS_UID),
                instance: or_header(
                    meta.media_storage_sop_instance_uid(),
                    tags::SOP_INSTANCE_UID,
                ),
                transfer_syntax: trim(meta.transfer_syntax()).to_string(),
            }
        })
        .collect())
}

fn trim(s: &str) -> &str {
    s.trim_matches(|c: char| c == '\0' || c == ' ')
}

/// An element's text, trimmed; empty when absent.
fn text(header: &InMemDicomObject, tag: Tag) -> String {
    crate::value::text(header, tag).unwrap_or_default()
}

/// An IS value for sorting: absent or unreadable values sort last.
fn number(header: &InMemDicomObject, tag: Tag) -> i64 {
    text(header, tag).parse().unwrap_or(i64::MAX)
}

/// A group of the hierarchy: its first entry in File ID order gives the record's keys.
struct Group<'a, C> {
    first: &'a Leaf<'a>,
    children: C,
}

type Series<'a> = Group<'a, Vec<&'a Leaf<'a>>>;
type Study<'a> = Group<'a, BTreeMap<String, Series<'a>>>;
type Patient<'a> = Group<'a, BTreeMap<String, Study<'a>>>;

/// A directory record and its links, in writing order.
struct Node {
    record: InMemDicomObject,
    next: Option<usize>,
    lower: Option<usize>,
}

struct Tree {
    nodes: Vec<Node>,
    roots: Vec<usize>,
}

impl Tree {
    /// Groups the leaves (sorted by File ID) and lays the records out depth first:
    /// a patient, its first study, that study's first series, its leaves, the next series...
    fn of(leaves: &[Leaf]) -> Tree {
        let mut patients: BTreeMap<(String, String), Patient> = BTreeMap::new();
        for leaf in leaves {
            let h = leaf.header;
            let patient = patients
                .entry((text(h, tags::PATIENT_ID), text(h, tags::PATIENT_NAME)))
                .or_insert_with(|| Group {
                    first: leaf,
                    children: BTreeMap::new(),
                });
            let study = patient
                .children
                .entry(text(h, tags::STUDY_INSTANCE_UID))
                .or_insert_with(|| Group {
                    first: leaf,
                    children: BTreeMap::new(),
                });
            let series = study
                .children
                .entry(text(h, tags::SERIES_INSTANCE_UID))
                .or_insert_with(|| Group {
                    first: leaf,
                    children: Vec::new(),
                });
            series.children.push(leaf);
        }
        let mut tree = Tree {
            nodes: Vec::new(),
            roots: Vec::new(),
        };
        for patient in patients.values() {
            let p = tree.push(record("PATIENT", patient.first.header));
            tree.roots.push(p);
            let mut studies: Vec<(&String, &Study)> = patient.children.iter().collect();
            studies.sort_by_key(|(uid, s)| {
                let h = s.first.header;
                (text(h, tags::STUDY_DATE), text(h, tags::STUDY_TIME), *uid)
            });
            let mut study_nodes = Vec::new();
            for (_, study) in studies {
                let s = tree.push(record("STUDY", study.first.header));
                study_nodes.push(s);
                let mut series: Vec<(&String, &Series)> = study.children.iter().collect();
                series.sort_by_key(|(uid, r)| (number(r.first.header, tags::SERIES_NUMBER), *uid));
                let mut series_nodes = Vec::new();
                for (_, r) in series {
                    let n = tree.push(record("SERIES", r.first.header));
                    series_nodes.push(n);
                    let mut leaves = r.children.clone();
                    leaves.sort_by_key(|l| (number(l.header, tags::INSTANCE_NUMBER), l.file_id));
                    let leaf_nodes: Vec<usize> =
                        leaves.iter().map(|l| tree.push(leaf_record(l))).collect();
                    tree.link(Some(n), &leaf_nodes);
                }
                tree.link(Some(s), &series_nodes);
            }
            tree.link(Some(p), &study_nodes);
        }
        let roots = tree.roots.clone();
        tree.link(None, &roots);
        tree
    }

    fn push(&mut self, record: InMemDicomObject) -> usize {
        self.nodes.push(Node {
            record,
            next: None,
            lower: None,
        });
        self.nodes.len() - 1
    }

    /// `children` become a chain of siblings under `parent`.
    fn link(&mut self, parent: Option<usize>, children: &[usize]) {
        if let Some(p) = parent {
            self.nodes[p].lower = children.first().copied();
        }
        for w in children.windows(2) {
            self.nodes[w[0]].next = Some(w[1]);
        }
    }

    /// The DICOMDIR data set; offsets are zero until the record starts are known.
    fn assemble(&self, file_set_id: &str, starts: Option<&[u64]>) -> InMemDicomObject {
        let at = |i: Option<usize>| -> u32 {
            match (starts, i) {
                (Some(s), Some(i)) => s[i] as u32,
                _ => 0,
            }
        };
        let items: Vec<InMemDicomObject> = self
            .nodes
            .iter()
            .map(|n| {
                let mut item = n.record.clone();
                item.put(ul(tags::OFFSET_OF_THE_NEXT_DIRECTORY_RECORD, at(n.next)));
                item.put(ul(
                    tags::OFFSET_OF_REFERENCED_LOWER_LEVEL_DIRECTORY_ENTITY,
                    at(n.lower),
                ));
                item
            })
            .collect();
        let mut ds = InMemDicomObject::new_empty();
        ds.put_str(tags::FILE_SET_ID, VR::CS, file_set_id);
        ds.put(ul(
            tags::OFFSET_OF_THE_FIRST_DIRECTORY_RECORD_OF_THE_ROOT_DIRECTORY_ENTITY,
            at(self.roots.first().copied()),
        ));
        ds.put(ul(
            tags::OFFSET_OF_THE_LAST_DIRECTORY_RECORD_OF_THE_ROOT_DIRECTORY_ENTITY,
            at(self.roots.last().copied()),
        ));
        ds.put(DataElement::new(
            tags::FILE_SET_CONSISTENCY_FLAG,
            VR::US,
            PrimitiveValue::from(0u16),
        ));
        ds.put(DataElement::new(
            tags::DIRECTORY_RECORD_SEQUENCE,
            VR::SQ,
            DataSetSequence::new(items, Length::UNDEFINED),
        ));
        ds
    }
}

fn ul(tag: Tag, v: u32) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, VR::UL, PrimitiveValue::from(v))
}

/// A record of `kind` with its keys from `header` (offsets are added by [`Tree::assemble`]).
fn record(kind: &str, header: &InMemDicomObject) -> InMemDicomObject {
    let mut r = InMemDicomObject::new_empty();
    r.put(DataElement::new(
        tags::RECORD_IN_USE_FLAG,
        VR::US,
        PrimitiveValue::from(RECORD_IN_USE),
    ));
    r.put_str(tags::DIRECTORY_RECORD_TYPE, VR::CS, kind);
    if let Some(cs) = header.get(tags::SPECIFIC_CHARACTER_SET) {
        if !text(header, tags::SPECIFIC_CHARACTER_SET).is_empty() {
            r.put(cs.clone());
        }
    }
    for &(tag, vr, ty) in keys_of(kind) {
        copy_key(&mut r, header, tag, vr, ty);
    }
    r
}

fn copy_key(r: &mut InMemDicomObject, header: &InMemDicomObject, tag: Tag, vr: VR, ty: Type) {
    let has_value = !text(header, tag).is_empty()
        || header
            .get(tag)
            .is_some_and(|e| e.vr() == VR::SQ && e.items().is_some_and(|i| !i.is_empty()));
    match (header.get(tag), has_value, ty) {
        (Some(e), true, _) => {
            r.put(e.clone());
        }
        (_, false, Type::One) if vr != VR::SQ => {
            let value = placeholder(tag, vr).unwrap_or(PrimitiveValue::Empty);
            r.put(DataElement::new(tag, vr, value));
        }
        (_, false, Type::One | Type::Two) if vr == VR::SQ => {
            r.put(DataElement::new(
                tag,
                VR::SQ,
                DataSetSequence::<InMemDicomObject>::new(Vec::new(), Length::UNDEFINED),
            ));
        }
        (_, false, Type::Two) => {
            r.put(DataElement::new(tag, vr, PrimitiveValue::Empty));
        }
        _ => {}
    }
}

fn leaf_record(leaf: &Leaf) -> InMemDicomObject {
    let kind = leaf_type(&leaf.class, leaf.header);
    let mut r = record(kind, leaf.header);
    r.put(DataElement::new(
        tags::REFERENCED_FILE_ID,
        VR::CS,
        PrimitiveValue::Strs(leaf.file_id.iter().cloned().collect()),
    ));
    r.put_str(tags::REFERENCED_SOP_CLASS_UID_IN_FILE, VR::UI, &leaf.class);
    r.put_str(
        tags::REFERENCED_SOP_INSTANCE_UID_IN_FILE,
        VR::UI,
        &leaf.instance,
    );
    r.put_str(
        tags::REFERENCED_TRANSFER_SYNTAX_UID_IN_FILE,
        VR::UI,
        &leaf.transfer_syntax,
    );
    if kind == "PRIVATE" {
        // A PRIVATE record has no standard keys: it names its class instead.
        r.put_str(tags::PRIVATE_RECORD_UID, VR::UI, &leaf.class);
    }
    r
}

/// A reader that shares how far it has read: the data set reader owns it, the caller
/// reads the position between tokens.
struct Tracked<R> {
    inner: R,
    pos: Rc<Cell<u64>>,
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos.set(self.pos.get() + n as u64);
        Ok(n)
    }
}

impl<R: Seek> Seek for Tracked<R> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let p = self.inner.seek(to)?;
        self.pos.set(p);
        Ok(p)
    }
}

/// Where each item of the Directory Record Sequence starts in a written DICOMDIR, in
/// bytes from the start of the file, in sequence order.
pub fn record_starts(bytes: &[u8]) -> Result<Vec<u64>, DirError> {
    let layout = |what: &str| DirError::Layout(what.to_string());
    if bytes.len() < 132 {
        return Err(layout("shorter than a preamble"));
    }
    let mut cursor = Cursor::new(bytes);
    cursor.set_position(128);
    FileMetaTable::from_reader(&mut cursor)
        .map_err(|e| DirError::Layout(format!("file meta group: {e}")))?;
    let ts = TransferSyntaxRegistry
        .get(EXPLICIT_VR_LE)
        .expect("Explicit VR Little Endian is built in");
    let pos = Rc::new(Cell::new(cursor.position()));
    let source = Tracked {
        inner: cursor,
        pos: Rc::clone(&pos),
    };
    let mut reader = LazyDataSetReader::new_with_ts(source, ts)
        .map_err(|e| DirError::Layout(format!("data set: {e}")))?;
    // Enclosing sequences (their tag) and items (ITEM).
    let mut stack: Vec<Tag> = Vec::new();
    let mut starts = Vec::new();
    while let Some(token) = reader.advance() {
        match token.map_err(|e| DirError::Layout(format!("data set: {e}")))? {
            LazyDataToken::SequenceStart { tag, .. } => stack.push(tag),
            LazyDataToken::PixelSequenceStart => stack.push(tags::PIXEL_DATA),
            LazyDataToken::ItemStart { .. } => {
                if stack == [tags::DIRECTORY_RECORD_SEQUENCE] {
                    // The item header (tag and length, 8 bytes) was just read.
                    let start = pos.get() - 8;
                    let at = start as usize;
                    if bytes.get(at..at + 4) != Some(&ITEM_START_BYTES[..]) {
                        return Err(layout("a record offset does not point at an item"));
                    }
                    starts.push(start);
                }
                stack.push(ITEM);
            }
            LazyDataToken::ItemEnd | LazyDataToken::SequenceEnd => {
                stack.pop();
            }
            other => other
                .skip()
                .map_err(|e| DirError::Layout(format!("data set: {e}")))?,
        }
    }
    if starts.iter().any(|&s| s > u32::MAX as u64) {
        return Err(layout("larger than 4 GiB"));
    }
    Ok(starts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_object::meta::FileMetaTableBuilder;

    const CT: &str = "1.2.840.10008.5.1.4.1.1.2";

    fn object(
        class: &str,
        pid: &str,
        study: &str,
        series: &str,
        sop: &str,
        number: &str,
    ) -> DefaultDicomObject {
        let mut ds = InMemDicomObject::new_empty();
        ds.put_str(tags::SOP_CLASS_UID, VR::UI, class);
        ds.put_str(tags::SOP_INSTANCE_UID, VR::UI, sop);
        ds.put_str(tags::PATIENT_ID, VR::LO, pid);
        ds.put_str(tags::PATIENT_NAME, VR::PN, "");
        ds.put_str(tags::STUDY_INSTANCE_UID, VR::UI, study);
        ds.put_str(tags::SERIES_INSTANCE_UID, VR::UI, series);
        ds.put_str(tags::MODALITY, VR::CS, "CT");
        ds.put_str(tags::INSTANCE_NUMBER, VR::IS, number);
        ds.put_str(tags::STUDY_DATE, VR::DA, "");
        ds.put(DataElement::new(
            tags::ROWS,
            VR::US,
            PrimitiveValue::from(2u16),
        ));
        let meta = FileMetaTableBuilder::new()
            .transfer_syntax(EXPLICIT_VR_LE)
            .media_storage_sop_class_uid(class)
            .media_storage_sop_instance_uid(sop)
            .build()
            .unwrap();
        ds.with_exact_meta(meta)
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn records(obj: &DefaultDicomObject) -> Vec<InMemDicomObject> {
        obj.get(tags::DIRECTORY_RECORD_SEQUENCE)
            .unwrap()
            .items()
            .unwrap()
            .to_vec()
    }

    fn kind(r: &InMemDicomObject) -> String {
        text(r, tags::DIRECTORY_RECORD_TYPE)
    }

    #[test]
    fn file_ids_are_checked() {
        assert!(check_file_id(&["DIR0001", "IMG00001"]).is_ok());
        assert!(check_file_id(&["A_9"]).is_ok());
        assert!(check_file_id::<&str>(&[]).is_err());
        assert!(check_file_id(&["IMG00001.DCM"]).is_err());
        assert!(check_file_id(&["img00001"]).is_err());
        assert!(check_file_id(&["IMG000001"]).is_err());
        assert!(check_file_id(&[""]).is_err());
        assert!(check_file_id(&["A"; 9]).is_err());
        assert!(check_file_id(&["A"; 8]).is_ok());
        let why = check_file_id(&["DIR0001", "SECRET.NAME"]).unwrap_err();
        assert!(!why.contains("SECRET"), "{why}");
    }

    #[test]
    fn bad_and_duplicate_file_ids_are_refused() {
        let a = object(CT, "P", "1.1", "1.1.1", "1.1.1.1", "1");
        let bad = [Entry {
            file_id: ids(&["IMG00001.dcm"]),
            object: &a,
        }];
        assert!(matches!(
            to_bytes("", &bad),
            Err(DirError::FileId { entry: 0, .. })
        ));
        let dup = [
            Entry {
                file_id: ids(&["IMG1"]),
                object: &a,
            },
            Entry {
                file_id: ids(&["IMG2"]),
                object: &a,
            },
            Entry {
                file_id: ids(&["IMG1"]),
                object: &a,
            },
        ];
        assert_eq!(
            to_bytes("", &dup),
            Err(DirError::DuplicateFileId {
                first: 0,
                second: 2
            })
        );
        assert!(matches!(
            to_bytes("lower case", &[]),
            Err(DirError::FileSetId(_))
        ));
    }

    #[test]
    fn hierarchy_order_and_offsets() {
        let objs = [
            object(CT, "P2", "1.2", "1.2.1", "1.2.1.1", "1"),
            object(CT, "P1", "1.1", "1.1.2", "1.1.2.1", "2"),
            object(CT, "P1", "1.1", "1.1.2", "1.1.2.2", "1"),
            object(CT, "P1", "1.1", "1.1.1", "1.1.1.1", "1"),
        ];
        let names = [["B", "I1"], ["A", "I2"], ["A", "I3"], ["A", "I1"]];
        let entries: Vec<Entry> = objs
            .iter()
            .zip(names)
            .map(|(o, n)| Entry {
                file_id: ids(&n),
                object: o,
            })
            .collect();
        let (obj, bytes) = build_with_bytes("TEST", &entries).unwrap();
        let recs = records(&obj);
        let kinds: Vec<String> = recs.iter().map(kind).collect();
        assert_eq!(
            kinds,
            [
                "PATIENT", "STUDY", "SERIES", "IMAGE", "SERIES", "IMAGE", "IMAGE", "PATIENT",
                "STUDY", "SERIES", "IMAGE"
            ]
        );
        // Leaves of the second series sorted by Instance Number.
        assert_eq!(text(&recs[5], tags::REFERENCED_FILE_ID), "A\\I3");
        assert_eq!(text(&recs[6], tags::REFERENCED_FILE_ID), "A\\I2");
        // Offsets point at the records' items.
        let starts = record_starts(&bytes).unwrap();
        let ul_of = |r: &InMemDicomObject, t| r.get(t).unwrap().to_int::<u32>().unwrap() as u64;
        assert_eq!(
            ul_of(
                &obj,
                tags::OFFSET_OF_THE_FIRST_DIRECTORY_RECORD_OF_THE_ROOT_DIRECTORY_ENTITY
            ),
            starts[0]
        );
        assert_eq!(
            ul_of(
                &obj,
                tags::OFFSET_OF_THE_LAST_DIRECTORY_RECORD_OF_THE_ROOT_DIRECTORY_ENTITY
            ),
            starts[7]
        );
        assert_eq!(
            ul_of(&recs[0], tags::OFFSET_OF_THE_NEXT_DIRECTORY_RECORD),
            starts[7]
        );
        assert_eq!(
            ul_of(
                &recs[0],
                tags::OFFSET_OF_REFERENCED_LOWER_LEVEL_DIRECTORY_ENTITY
            ),
            starts[1]
        );
        assert_eq!(
            ul_of(&recs[2], tags::OFFSET_OF_THE_NEXT_DIRECTORY_RECORD),
            starts[4]
        );
        assert_eq!(
            ul_of(&recs[5], tags::OFFSET_OF_THE_NEXT_DIRECTORY_RECORD),
            starts[6]
        );
        assert_eq!(
            ul_of(&recs[6], tags::OFFSET_OF_THE_NEXT_DIRECTORY_RECORD),
            0
        );
        assert_eq!(
            ul_of(
                &recs[3],
                tags::OFFSET_OF_REFERENCED_LOWER_LEVEL_DIRECTORY_ENTITY
            ),
            0
        );
        // Written the ordinary way, the object gives the same bytes.
        assert_eq!(crate::io::to_bytes(&obj).unwrap(), bytes);
    }

    #[test]
    fn same_entries_in_any_order_give_the_same_bytes() {
        let objs = [
            object(CT, "P1", "1.1", "1.1.1", "1.1.1.1", "1"),
            object(CT, "P1", "1.1", "1.1.1", "1.1.1.2", "2"),
            object(CT, "P2", "1.2", "1.2.1", "1.2.1.1", ""),
        ];
        let names = [["I1"], ["I2"], ["I3"]];
        let mut entries: Vec<Entry> = objs
            .iter()
            .zip(names)
            .map(|(o, n)| Entry {
                file_id: ids(&n),
                object: o,
            })
            .collect();
        let a = to_bytes("", &entries).unwrap();
        entries.reverse();
        let b = to_bytes("", &entries).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn type_1_keys_get_placeholders_type_2_stay_empty() {
        let o = object(CT, "", "1.1", "1.1.1", "1.1.1.1", "");
        let obj = build(
            "",
            &[Entry {
                file_id: ids(&["I1"]),
                object: &o,
            }],
        )
        .unwrap();
        let recs = records(&obj);
        assert_eq!(text(&recs[0], tags::PATIENT_ID), "ANONYMIZED");
        assert!(recs[0].get(tags::PATIENT_NAME).is_some());
        assert_eq!(text(&recs[0], tags::PATIENT_NAME), "");
        assert_eq!(text(&recs[1], tags::STUDY_DATE), "19000101");
        assert_eq!(text(&recs[1], tags::STUDY_TIME), "000000");
        assert_eq!(text(&recs[1], tags::STUDY_ID), "ANONYMIZED");
        assert!(recs[1].get(tags::ACCESSION_NUMBER).is_some());
        assert!(recs[1].get(tags::STUDY_DESCRIPTION).is_some());
        assert_eq!(text(&recs[2], tags::SERIES_NUMBER), "0");
        assert_eq!(text(&recs[3], tags::INSTANCE_NUMBER), "0");
        assert_eq!(
            text(&recs[3], tags::REFERENCED_TRANSFER_SYNTAX_UID_IN_FILE),
            EXPLICIT_VR_LE
        );
        assert_eq!(
            recs[3]
                .get(tags::RECORD_IN_USE_FLAG)
                .unwrap()
                .to_int::<u16>()
                .unwrap(),
            0xFFFF
        );
    }

    #[test]
    fn leaf_types_from_the_table() {
        let empty = InMemDicomObject::new_empty();
        let mut image = InMemDicomObject::new_empty();
        image.put(DataElement::new(
            tags::ROWS,
            VR::US,
            PrimitiveValue::from(1u16),
        ));
        let t = |class: &str, h: &InMemDicomObject| leaf_type(class, h);
        assert_eq!(t(CT, &image), "IMAGE");
        assert_eq!(t(CT, &empty), "IMAGE", "an image class without pixels");
        assert_eq!(t("1.2.840.10008.5.1.4.1.1.7", &empty), "IMAGE");
        assert_eq!(t("1.2.840.10008.5.1.4.1.1.88.22", &empty), "SR DOCUMENT");
        assert_eq!(t("1.2.840.10008.5.1.4.1.1.88.59", &empty), "KEY OBJECT DOC");
        assert_eq!(t("1.2.840.10008.5.1.4.1.1.11.1", &empty), "PRESENTATION");
        assert_eq!(t("1.2.840.10008.5.1.4.1.1.104.1", &empty), "ENCAP DOC");
        assert_eq!(t("1.2.840.10008.5.1.4.1.1.481.2", &image), "RT DOSE");
        assert_eq!(
            t("1.2.840.10008.5.1.4.1.1.481.3", &empty),
            "RT STRUCTURE SET"
        );
        assert_eq!(t("1.2.840.10008.5.1.4.1.1.481.5", &empty), "RT PLAN");
        assert_eq!(t("1.2.840.10008.5.1.4.1.1.9.1.1", &empty), "WAVEFORM");
        assert_eq!(t("1.2.840.10008.5.1.4.1.1.66", &empty), "RAW DATA");
        assert_eq!(t("1.2.840.10008.5.1.4.1.1.66.4", &image), "IMAGE");
        assert_eq!(t("1.2.3.4.5", &empty), "PRIVATE");
    }

    #[test]
    fn tables_parse_and_agree_with_the_dictionary() {
        let t = tables();
        for row in csv::Reader::from_reader(KEYS_CSV.as_bytes()).deserialize::<KeyRow>() {
            let row = row.unwrap();
            let tag = parse_tag(&row.tag).unwrap();
            assert_eq!(
                crate::profile::tag::keyword(tag),
                row.keyword,
                "{} of {}",
                row.tag,
                row.record_type
            );
            let vr: VR = row.vr.parse().unwrap();
            assert_eq!(
                crate::profile::tag::dictionary_vr(tag),
                Some(vr),
                "{} {}",
                row.keyword,
                row.record_type
            );
            assert!(row.reason.contains("PS3.3 F.5."), "{}", row.keyword);
        }
        let mut used: Vec<&str> = vec!["PATIENT", "STUDY", "SERIES", "IMAGE"];
        for row in csv::Reader::from_reader(RECORDS_CSV.as_bytes()).deserialize::<RecordRow>() {
            let row = row.unwrap();
            assert!(row.reason.starts_with("PS3.3 F.5."), "{}", row.sop_class);
            if !row.sop_class.ends_with('.') {
                let entry = StandardSopClassDictionary.by_uid(&row.sop_class);
                assert_eq!(entry.map(|e| e.name), Some(row.name.as_str()));
            }
        }
        used.extend(t.records.iter().map(|(_, kind)| kind.as_str()));
        for kind in &used {
            let keys = keys_of(kind);
            assert!(!keys.is_empty(), "{kind} has no keys");
            let mut tags: Vec<Tag> = keys.iter().map(|k| k.0).collect();
            tags.sort();
            tags.dedup();
            assert_eq!(tags.len(), keys.len(), "{kind} lists a key twice");
        }
        // No keys for a record type nothing writes.
        for kind in t.keys.keys() {
            assert!(used.contains(&kind.as_str()), "{kind} is never written");
        }
        assert!(keys_of("PRIVATE").is_empty());
    }

    #[test]
    fn keys_only_keeps_what_records_read() {
        let mut o = object(CT, "P", "1.1", "1.1.1", "1.1.1.1", "1");
        o.put_str(tags::INSTITUTION_NAME, VR::LO, "somewhere");
        let o = keys_only(o);
        assert!(o.get(tags::INSTITUTION_NAME).is_none());
        assert!(o.get(tags::PATIENT_ID).is_some() && o.get(tags::ROWS).is_some());
    }

    #[test]
    fn an_empty_file_set_is_valid() {
        let obj = build("EMPTY", &[]).unwrap();
        assert!(records(&obj).is_empty());
        assert_eq!(
            obj.get(tags::OFFSET_OF_THE_FIRST_DIRECTORY_RECORD_OF_THE_ROOT_DIRECTORY_ENTITY)
                .unwrap()
                .to_int::<u32>()
                .unwrap(),
            0
        );
    }
}
