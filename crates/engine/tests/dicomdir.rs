//! The regenerated DICOMDIR: built from de-identified objects, it reads back with dicom-rs,
//! its offsets lead from the root record through every level to the right records, it
//! holds none of the originals' identifying values, and `dcmdump` and `dciodvfy` accept it
//! (skipped loudly when they are missing, a failure under CI).

mod common;

use common::*;
use dcmask_engine::io::dicomdir::{self, Entry};
use dcmask_engine::{deidentify, io, Plan, ProfileId};
use dicom_core::value::{DataSetSequence, PrimitiveValue};
use dicom_core::{DataElement, Length, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::{DefaultDicomObject, InMemDicomObject};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
const CT: &str = "1.2.840.10008.5.1.4.1.1.2";
const BASIC_TEXT_SR: &str = "1.2.840.10008.5.1.4.1.1.88.11";
const GSPS: &str = "1.2.840.10008.5.1.4.1.1.11.1";

/// Identifying values of the generated originals: none may reach the DICOMDIR.
const PHI: &[&str] = &[
    "DOE^JOHN",
    "ROE^JANE",
    "PID-111",
    "PID-222",
    "ACC-98765",
    "HEAD CT for Dr Who",
    "STUDY-42",
    "20200102",
    "101500",
    "1.2.826.0.1.3680043.2.1125.",
    "WHO^DOCTOR",
];

struct Spec {
    class: &'static str,
    name: &'static str,
    pid: &'static str,
    study: String,
    series: String,
    sop: String,
    series_number: &'static str,
    instance: &'static str,
}

fn original(s: &Spec) -> DefaultDicomObject {
    let mut ds = InMemDicomObject::new_empty();
    ds.put_str(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 100");
    ds.put_str(tags::SOP_CLASS_UID, VR::UI, s.class);
    ds.put_str(tags::SOP_INSTANCE_UID, VR::UI, &s.sop);
    ds.put_str(tags::STUDY_DATE, VR::DA, "20200102");
    ds.put_str(tags::STUDY_TIME, VR::TM, "101500");
    ds.put_str(tags::CONTENT_DATE, VR::DA, "20200102");
    ds.put_str(tags::CONTENT_TIME, VR::TM, "101500");
    ds.put_str(tags::ACCESSION_NUMBER, VR::SH, "ACC-98765");
    ds.put_str(tags::STUDY_DESCRIPTION, VR::LO, "HEAD CT for Dr Who");
    ds.put_str(tags::PATIENT_NAME, VR::PN, s.name);
    ds.put_str(tags::PATIENT_ID, VR::LO, s.pid);
    ds.put_str(tags::PATIENT_BIRTH_DATE, VR::DA, "19610203");
    ds.put_str(tags::PATIENT_SEX, VR::CS, "M");
    ds.put_str(tags::STUDY_INSTANCE_UID, VR::UI, &s.study);
    ds.put_str(tags::SERIES_INSTANCE_UID, VR::UI, &s.series);
    ds.put_str(tags::STUDY_ID, VR::SH, "STUDY-42");
    ds.put_str(tags::SERIES_NUMBER, VR::IS, s.series_number);
    ds.put_str(tags::INSTANCE_NUMBER, VR::IS, s.instance);
    match s.class {
        CT => {
            ds.put_str(tags::MODALITY, VR::CS, "CT");
            for (t, v) in [
                (tags::ROWS, 2u16),
                (tags::COLUMNS, 2),
                (tags::BITS_ALLOCATED, 16),
                (tags::BITS_STORED, 16),
                (tags::HIGH_BIT, 15),
                (tags::PIXEL_REPRESENTATION, 0),
                (tags::SAMPLES_PER_PIXEL, 1),
            ] {
                ds.put(DataElement::new(t, VR::US, PrimitiveValue::from(v)));
            }
            ds.put_str(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2");
            ds.put(DataElement::new(
                tags::PIXEL_DATA,
                VR::OW,
                PrimitiveValue::U16([1u16, 2, 3, 4][..].into()),
            ));
        }
        BASIC_TEXT_SR => {
            ds.put_str(tags::MODALITY, VR::CS, "SR");
            ds.put_str(tags::COMPLETION_FLAG, VR::CS, "COMPLETE");
            ds.put_str(tags::VERIFICATION_FLAG, VR::CS, "UNVERIFIED");
            ds.put_str(tags::VALUE_TYPE, VR::CS, "CONTAINER");
            ds.put_str(tags::CONTINUITY_OF_CONTENT, VR::CS, "SEPARATE");
            let mut code = InMemDicomObject::new_empty();
            code.put_str(tags::CODE_VALUE, VR::SH, "18748-4");
            code.put_str(tags::CODING_SCHEME_DESIGNATOR, VR::SH, "LN");
            code.put_str(tags::CODE_MEANING, VR::LO, "Diagnostic Imaging Report");
            ds.put(DataElement::new(
                tags::CONCEPT_NAME_CODE_SEQUENCE,
                VR::SQ,
                DataSetSequence::new(vec![code], Length::UNDEFINED),
            ));
        }
        _ => {
            ds.put_str(tags::MODALITY, VR::CS, "PR");
            ds.put_str(tags::CONTENT_LABEL, VR::CS, "LABEL");
            ds.put_str(tags::PRESENTATION_CREATION_DATE, VR::DA, "20200102");
            ds.put_str(tags::PRESENTATION_CREATION_TIME, VR::TM, "101500");
            ds.put_str(tags::CONTENT_DESCRIPTION, VR::LO, "for Dr Who");
            ds.put_str(tags::CONTENT_CREATOR_NAME, VR::PN, "WHO^DOCTOR");
            let mut image = InMemDicomObject::new_empty();
            image.put_str(tags::REFERENCED_SOP_CLASS_UID, VR::UI, CT);
            image.put_str(
                tags::REFERENCED_SOP_INSTANCE_UID,
                VR::UI,
                format!("{}.1.1", s.study),
            );
            let mut series = InMemDicomObject::new_empty();
            series.put_str(tags::SERIES_INSTANCE_UID, VR::UI, format!("{}.1", s.study));
            series.put(DataElement::new(
                tags::REFERENCED_IMAGE_SEQUENCE,
                VR::SQ,
                DataSetSequence::new(vec![image], Length::UNDEFINED),
            ));
            ds.put(DataElement::new(
                tags::REFERENCED_SERIES_SEQUENCE,
                VR::SQ,
                DataSetSequence::new(vec![series], Length::UNDEFINED),
            ));
        }
    }
    let meta = FileMetaTableBuilder::new()
        .transfer_syntax(EXPLICIT_LE)
        .media_storage_sop_class_uid(s.class)
        .media_storage_sop_instance_uid(&s.sop)
        .build()
        .unwrap();
    ds.with_exact_meta(meta)
}

/// Two patients, three studies, five series (one SR, one presentation state), de-identified
/// with the Basic profile, each with its File ID.
fn file_set() -> Vec<(Vec<String>, DefaultDicomObject)> {
    let root = "1.2.826.0.1.3680043.2.1125";
    let mut specs = Vec::new();
    let mut n = 0;
    for (p, (name, pid)) in [("DOE^JOHN", "PID-111"), ("ROE^JANE", "PID-222")]
        .into_iter()
        .enumerate()
    {
        for st in 0..=p {
            let study = format!("{root}.{p}.{st}");
            for (se, class, count) in [(1, CT, 3), (2, BASIC_TEXT_SR, 1), (3, GSPS, 1)] {
                if st == 1 && se > 1 {
                    continue;
                }
                for i in (1..=count).rev() {
                    n += 1;
                    specs.push(Spec {
                        class,
                        name,
                        pid,
                        study: study.clone(),
                        series: format!("{study}.{se}"),
                        sop: format!("{study}.{se}.{i}"),
                        series_number: ["1", "2", "3"][se - 1],
                        instance: ["1", "2", "3"][i - 1],
                    });
                }
            }
        }
    }
    assert_eq!(n, 13);
    let plan = Plan::builtin(ProfileId::Basic);
    specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let out = deidentify(original(s), &plan, &key()).unwrap();
            let id = vec![format!("DIR{:04}", i / 4 + 1), format!("IMG{:05}", i + 1)];
            (id, out.object)
        })
        .collect()
}

fn entries(set: &[(Vec<String>, DefaultDicomObject)]) -> Vec<Entry<'_>> {
    set.iter()
        .map(|(id, o)| Entry {
            file_id: id.clone(),
            object: o,
        })
        .collect()
}

fn s(obj: &InMemDicomObject, tag: Tag) -> String {
    obj.get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|v| v.trim_end_matches(['\0', ' ']).to_string())
        .unwrap_or_default()
}

fn ul(obj: &InMemDicomObject, tag: Tag) -> u64 {
    obj.get(tag).unwrap().to_int::<u32>().unwrap() as u64
}

/// Record item starts as dcmdump sees them (`#  offset=$N` after each record item), or,
/// without dcmdump, as the engine finds them.
fn offsets(path: &Path, bytes: &[u8]) -> Vec<u64> {
    match Command::new("dcmdump").arg(path).output() {
        Ok(out) => String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.trim().strip_prefix("#  offset=$"))
            .map(|v| v.split_whitespace().next().unwrap().parse().unwrap())
            .collect(),
        Err(_) => {
            skip_or_fail("dcmdump is not installed: offsets checked with the engine's reader");
            dicomdir::record_starts(bytes).unwrap()
        }
    }
}

/// Follows the offsets from the root record through every level, checking each record's
/// type and that each leaf sits under the patient, study and series its file belongs to.
/// Returns the File IDs reached.
fn follow(
    dir: &DefaultDicomObject,
    starts: &[u64],
    set: &[(Vec<String>, DefaultDicomObject)],
) -> Vec<String> {
    let records: Vec<InMemDicomObject> = dir
        .get(tags::DIRECTORY_RECORD_SEQUENCE)
        .unwrap()
        .items()
        .unwrap()
        .to_vec();
    assert_eq!(records.len(), starts.len(), "one offset per record");
    let at: BTreeMap<u64, usize> = starts.iter().enumerate().map(|(i, &o)| (o, i)).collect();
    let by_id: BTreeMap<String, &DefaultDicomObject> =
        set.iter().map(|(id, o)| (id.join("\\"), o)).collect();
    let mut visited = BTreeSet::new();
    let chain = |first: u64, visited: &mut BTreeSet<usize>| -> Vec<usize> {
        let mut out = Vec::new();
        let mut off = first;
        while off != 0 {
            let i = *at
                .get(&off)
                .unwrap_or_else(|| panic!("offset {off} is no record"));
            assert!(visited.insert(i), "record {i} reached twice");
            out.push(i);
            off = ul(&records[i], tags::OFFSET_OF_THE_NEXT_DIRECTORY_RECORD);
        }
        out
    };
    let lower = |i: usize| {
        ul(
            &records[i],
            tags::OFFSET_OF_REFERENCED_LOWER_LEVEL_DIRECTORY_ENTITY,
        )
    };
    let kind = |i: usize| s(&records[i], tags::DIRECTORY_RECORD_TYPE);
    let mut reached = Vec::new();
    let patients = chain(
        ul(
            dir,
            tags::OFFSET_OF_THE_FIRST_DIRECTORY_RECORD_OF_THE_ROOT_DIRECTORY_ENTITY,
        ),
        &mut visited,
    );
    assert_eq!(
        starts[*patients.last().unwrap()],
        ul(
            dir,
            tags::OFFSET_OF_THE_LAST_DIRECTORY_RECORD_OF_THE_ROOT_DIRECTORY_ENTITY
        )
    );
    for p in patients {
        assert_eq!(kind(p), "PATIENT");
        for st in chain(lower(p), &mut visited) {
            assert_eq!(kind(st), "STUDY");
            for se in chain(lower(st), &mut visited) {
                assert_eq!(kind(se), "SERIES");
                for leaf in chain(lower(se), &mut visited) {
                    assert_eq!(lower(leaf), 0, "a leaf has no lower level");
                    let r = &records[leaf];
                    let id = s(r, tags::REFERENCED_FILE_ID);
                    let file = by_id[&id];
                    assert_eq!(s(&records[p], tags::PATIENT_ID), s(file, tags::PATIENT_ID));
                    assert_eq!(
                        s(&records[st], tags::STUDY_INSTANCE_UID),
                        s(file, tags::STUDY_INSTANCE_UID)
                    );
                    assert_eq!(
                        s(&records[se], tags::SERIES_INSTANCE_UID),
                        s(file, tags::SERIES_INSTANCE_UID)
                    );
                    assert_eq!(
                        s(r, tags::REFERENCED_SOP_INSTANCE_UID_IN_FILE),
                        file.meta()
                            .media_storage_sop_instance_uid()
                            .trim_end_matches('\0')
                    );
                    assert_eq!(
                        s(r, tags::REFERENCED_SOP_CLASS_UID_IN_FILE),
                        file.meta()
                            .media_storage_sop_class_uid()
                            .trim_end_matches('\0')
                    );
                    assert_eq!(
                        s(r, tags::REFERENCED_TRANSFER_SYNTAX_UID_IN_FILE),
                        EXPLICIT_LE
                    );
                    let expected_kind = match s(file, tags::SOP_CLASS_UID).as_str() {
                        CT => "IMAGE",
                        BASIC_TEXT_SR => "SR DOCUMENT",
                        _ => "PRESENTATION",
                    };
                    assert_eq!(kind(leaf), expected_kind);
                    reached.push(id);
                }
            }
        }
    }
    assert_eq!(visited.len(), records.len(), "every record is reachable");
    reached
}

/// dcmdump parses it without errors and dciodvfy reports no error (warnings allowed).
fn validate(path: &Path) {
    let dump = Command::new("dcmdump").arg(path).output();
    let vfy = Command::new("dciodvfy").arg(path).output();
    let (Ok(dump), Ok(vfy)) = (dump, vfy) else {
        skip_or_fail("dcmdump or dciodvfy is not installed (apt-get install dcmtk dicom3tools)");
        return;
    };
    let dump_err = String::from_utf8_lossy(&dump.stderr);
    assert!(
        dump.status.success() && !dump_err.lines().any(|l| l.starts_with("E:")),
        "dcmdump: {dump_err}"
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&vfy.stdout),
        String::from_utf8_lossy(&vfy.stderr)
    );
    let errors: Vec<&str> = text.lines().filter(|l| l.starts_with("Error")).collect();
    assert!(errors.is_empty(), "dciodvfy on {}:\n{text}", path.display());
    let warnings: BTreeSet<&str> = text.lines().filter(|l| l.starts_with("Warning")).collect();
    eprintln!("dciodvfy: no errors, warnings: {warnings:#?}");
    assert!(text.contains("BasicDirectory"), "{text}");
}

#[test]
fn generated_file_set() {
    let set = file_set();
    let bytes = dicomdir::to_bytes("DEIDENTIFIED", &entries(&set)).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("DICOMDIR");
    std::fs::write(&path, &bytes).unwrap();

    let dir = dicom_object::open_file(&path).unwrap();
    assert_eq!(
        dir.meta()
            .media_storage_sop_class_uid()
            .trim_end_matches('\0'),
        dicomdir::MEDIA_STORAGE_DIRECTORY_STORAGE
    );
    assert_eq!(dir.meta().transfer_syntax(), EXPLICIT_LE);
    assert_eq!(s(&dir, tags::FILE_SET_ID), "DEIDENTIFIED");
    assert_eq!(ul(&dir, tags::FILE_SET_CONSISTENCY_FLAG), 0);
    let records = dir
        .get(tags::DIRECTORY_RECORD_SEQUENCE)
        .unwrap()
        .items()
        .unwrap();
    let count = |k: &str| {
        records
            .iter()
            .filter(|r| s(r, tags::DIRECTORY_RECORD_TYPE) == k)
            .count()
    };
    assert_eq!(
        [count("PATIENT"), count("STUDY"), count("SERIES")],
        [2, 3, 7]
    );
    assert_eq!(
        [count("IMAGE"), count("SR DOCUMENT"), count("PRESENTATION")],
        [9, 2, 2]
    );
    for r in records {
        assert_eq!(ul(r, tags::RECORD_IN_USE_FLAG), 0xFFFF);
        let k = s(r, tags::DIRECTORY_RECORD_TYPE);
        let required: &[Tag] = match k.as_str() {
            "PATIENT" => &[
                tags::PATIENT_NAME,
                tags::PATIENT_ID,
                tags::SPECIFIC_CHARACTER_SET,
            ],
            "STUDY" => &[
                tags::STUDY_DATE,
                tags::STUDY_TIME,
                tags::STUDY_DESCRIPTION,
                tags::STUDY_INSTANCE_UID,
                tags::STUDY_ID,
                tags::ACCESSION_NUMBER,
            ],
            "SERIES" => &[
                tags::MODALITY,
                tags::SERIES_INSTANCE_UID,
                tags::SERIES_NUMBER,
            ],
            _ => &[
                tags::INSTANCE_NUMBER,
                tags::REFERENCED_FILE_ID,
                tags::REFERENCED_SOP_CLASS_UID_IN_FILE,
                tags::REFERENCED_SOP_INSTANCE_UID_IN_FILE,
                tags::REFERENCED_TRANSFER_SYNTAX_UID_IN_FILE,
            ],
        };
        for &t in required {
            assert!(r.get(t).is_some(), "{k} record lacks {t}");
        }
        if k == "SR DOCUMENT" {
            assert_eq!(s(r, tags::COMPLETION_FLAG), "COMPLETE");
            assert!(r.get(tags::CONCEPT_NAME_CODE_SEQUENCE).is_some());
        }
    }
    // Keys come from the de-identified files: the pseudonymised Patient ID, new UIDs.
    let patient_ids: BTreeSet<String> = set.iter().map(|(_, o)| s(o, tags::PATIENT_ID)).collect();
    for r in records
        .iter()
        .filter(|r| s(r, tags::DIRECTORY_RECORD_TYPE) == "PATIENT")
    {
        assert!(patient_ids.contains(&s(r, tags::PATIENT_ID)));
    }
    for phi in PHI {
        assert!(
            !bytes.windows(phi.len()).any(|w| w == phi.as_bytes()),
            "the DICOMDIR holds {phi}"
        );
    }

    let starts = offsets(&path, &bytes);
    assert_eq!(starts, dicomdir::record_starts(&bytes).unwrap());
    let mut reached = follow(&dir, &starts, &set);
    reached.sort();
    let mut all: Vec<String> = set.iter().map(|(id, _)| id.join("\\")).collect();
    all.sort();
    assert_eq!(reached, all, "every file is reached exactly once");

    // The engine's object, written the ordinary way, gives the same bytes.
    let obj = dicomdir::build("DEIDENTIFIED", &entries(&set)).unwrap();
    assert_eq!(io::to_bytes(&obj).unwrap(), bytes);
    // Headers cut down to the keys give the same DICOMDIR.
    let cut: Vec<(Vec<String>, DefaultDicomObject)> = set
        .iter()
        .map(|(id, o)| (id.clone(), dicomdir::keys_only(o.clone())))
        .collect();
    assert_eq!(
        dicomdir::to_bytes("DEIDENTIFIED", &entries(&cut)).unwrap(),
        bytes
    );

    validate(&path);
}

#[test]
fn corpus_media_set() {
    let Some(corpus) = corpus_dir() else { return };
    let root = corpus.join("pydicom/test_files/dicomdirtests");
    if !root.is_dir() {
        skip_or_fail(&format!("no {}", root.display()));
        return;
    }
    // The files the original DICOMDIR references (the nested TINY_ALPHA set aside).
    let original = dicom_object::open_file(root.join("DICOMDIR")).unwrap();
    let originals = original
        .get(tags::DIRECTORY_RECORD_SEQUENCE)
        .unwrap()
        .items()
        .unwrap();
    let plan = Plan::builtin(ProfileId::Basic);
    let mut set = Vec::new();
    let mut phi = BTreeSet::new();
    let mut names: BTreeMap<(String, String), String> = BTreeMap::new();
    for r in originals {
        for t in [
            tags::PATIENT_NAME,
            tags::PATIENT_ID,
            tags::STUDY_ID,
            tags::ACCESSION_NUMBER,
        ] {
            let v = s(r, t);
            if v.len() > 3 {
                phi.insert(v);
            }
        }
        let id = s(r, tags::REFERENCED_FILE_ID);
        if id.is_empty() {
            continue;
        }
        let components: Vec<String> = id.split('\\').map(str::to_string).collect();
        let path = components.iter().fold(root.clone(), |p, c| p.join(c));
        let input = io::read_object(&std::fs::read(&path).unwrap()).unwrap();
        let out = deidentify(input, &plan, &key()).unwrap();
        // The original folders are named after the Patient ID: neutral names instead,
        // in the same tree shape.
        let mut neutral = Vec::new();
        for (depth, c) in components.iter().enumerate() {
            let n = names.len();
            let prefix = if depth + 1 == components.len() {
                "I"
            } else {
                "D"
            };
            let key = (components[..depth].join("/"), c.clone());
            neutral.push(
                names
                    .entry(key)
                    .or_insert_with(|| format!("{prefix}{n:07}"))
                    .clone(),
            );
        }
        set.push((neutral, out.object));
    }
    assert!(set.len() > 20, "{} files", set.len());
    let bytes = dicomdir::to_bytes("", &entries(&set)).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("DICOMDIR");
    std::fs::write(&path, &bytes).unwrap();
    let dir = dicom_object::open_file(&path).unwrap();
    // The same hierarchy as the original's.
    let kinds = |o: &DefaultDicomObject| -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for r in o
            .get(tags::DIRECTORY_RECORD_SEQUENCE)
            .unwrap()
            .items()
            .unwrap()
        {
            *m.entry(s(r, tags::DIRECTORY_RECORD_TYPE)).or_default() += 1;
        }
        m
    };
    assert_eq!(kinds(&dir), kinds(&original));
    for v in &phi {
        assert!(
            !bytes.windows(v.len()).any(|w| w == v.as_bytes()),
            "the DICOMDIR holds an original identifier"
        );
    }
    let starts = offsets(&path, &bytes);
    assert_eq!(follow_count(&dir, &starts), set.len());
    validate(&path);
}

/// The leaves reached from the root record.
fn follow_count(dir: &DefaultDicomObject, starts: &[u64]) -> usize {
    let records = dir
        .get(tags::DIRECTORY_RECORD_SEQUENCE)
        .unwrap()
        .items()
        .unwrap();
    let at: BTreeMap<u64, usize> = starts.iter().enumerate().map(|(i, &o)| (o, i)).collect();
    let mut stack = vec![ul(
        dir,
        tags::OFFSET_OF_THE_FIRST_DIRECTORY_RECORD_OF_THE_ROOT_DIRECTORY_ENTITY,
    )];
    let mut leaves = 0;
    let mut seen = BTreeSet::new();
    while let Some(off) = stack.pop() {
        if off == 0 {
            continue;
        }
        let i = at[&off];
        assert!(seen.insert(i));
        let r = &records[i];
        stack.push(ul(r, tags::OFFSET_OF_THE_NEXT_DIRECTORY_RECORD));
        let lower = ul(r, tags::OFFSET_OF_REFERENCED_LOWER_LEVEL_DIRECTORY_ENTITY);
        if lower == 0 {
            assert!(r.get(tags::REFERENCED_FILE_ID).is_some());
            leaves += 1;
        }
        stack.push(lower);
    }
    assert_eq!(seen.len(), records.len());
    leaves
}
