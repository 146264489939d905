//! Synthetic objects with PHI at the top level, in sequences at depths 1 to 3, in private
//! blocks of several creators, in Original Attributes Sequence and in free text, written
//! in explicit and implicit VR little endian. Each output is written, re-read by dicom-rs
//! and checked element by element against Table E.1-1.

mod common;

use chrono::NaiveDate;
use common::*;
use dcmask_engine::normalise_creator;
use dcmask_engine::AutoShift;
use dcmask_engine::Code;
use dcmask_engine::{parse_rules, pseudonym, DateShift, Key, Plan, ProfileId, ProfileOption};
use dcmask_engine::{table, TABLE_EDITION};
use dicom_core::header::Header;
use dicom_core::value::Value;
use dicom_core::{Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::mem::InMemElement;
use dicom_object::{DefaultDicomObject, InMemDicomObject};
use std::collections::{BTreeMap, BTreeSet, HashMap};

const TRANSFER_SYNTAXES: [&str; 2] = [EXPLICIT_VR_LE, IMPLICIT_VR_LE];

/// One de-identified synthetic file: its input, its output bytes and the re-read output.
struct Done {
    plan: Plan,
    input: DefaultDicomObject,
    run: Run,
    out: DefaultDicomObject,
}

fn deid(subject: &Subject, ts: &str, plan: &Plan, key: &Key) -> Done {
    let bytes = synthetic_file(subject, ts);
    deid_raw(&bytes, plan, key)
}

fn deid_raw(bytes: &[u8], plan: &Plan, key: &Key) -> Done {
    let input = read(bytes);
    let run = deid_bytes(bytes, plan, key).expect("synthetic file de-identifies");
    let dir = tempfile::tempdir().unwrap();
    let out = write_and_reread(&run.bytes, &dir.path().join("out.dcm")).unwrap();
    Done {
        plan: plan.clone(),
        input,
        run,
        out,
    }
}

fn options_plan() -> Plan {
    plan_with(
        &[
            ProfileOption::RetainSafePrivate,
            ProfileOption::CleanDescriptors,
        ],
        Some(DateShift::Auto(AutoShift::Auto)),
    )
}

fn subjects() -> Vec<Subject> {
    vec![
        Subject::first(),
        Subject::derived(),
        Subject::later_study(),
        Subject::other_patient(),
    ]
}

/// Every element of an object by path.
fn by_path(obj: &InMemDicomObject) -> BTreeMap<String, &InMemElement> {
    let mut m = BTreeMap::new();
    walk(obj, &mut |p, e| {
        m.insert(p.to_string(), e);
    });
    m
}

fn at<'a>(obj: &'a InMemDicomObject, path: &str) -> Option<&'a InMemElement> {
    by_path(obj).get(path).copied()
}

fn value_at(obj: &InMemDicomObject, path: &str) -> Option<String> {
    at(obj, path).map(|e| strings(e).join("\\"))
}

/// The sequence path and item index that hold `path`, if it is nested.
fn parent_of(path: &str) -> Option<(&str, usize)> {
    let cut = path.rfind('/')?;
    let head = &path[..cut];
    let idx_cut = head.rfind('/')?;
    Some((&head[..idx_cut], head[idx_cut + 1..].parse().ok()?))
}

/// Whether the element at `path` still has a place in the output: every enclosing
/// sequence is present with the item.
fn reachable(out: &BTreeMap<String, &InMemElement>, path: &str) -> bool {
    match parent_of(path) {
        None => true,
        Some((seq, i)) => {
            reachable(out, seq)
                && out.get(seq).is_some_and(|e| match e.value() {
                    Value::Sequence(s) => s.items().len() > i,
                    _ => false,
                })
        }
    }
}

fn is_empty(e: &InMemElement) -> bool {
    match e.value() {
        Value::Sequence(s) => s.items().is_empty(),
        Value::Primitive(_) => strings(e).iter().all(|s| s.is_empty()) && !is_binary(e.vr()),
        Value::PixelSequence(_) => false,
    }
}

fn same_value(a: &InMemElement, b: &InMemElement) -> bool {
    match (a.value(), b.value()) {
        (Value::Primitive(x), Value::Primitive(y)) => {
            if is_binary(a.vr()) {
                x.to_bytes() == y.to_bytes()
            } else {
                strings(a) == strings(b)
            }
        }
        _ => true,
    }
}

/// Table E.1-1 as an oracle: for every standard element of the input at every depth,
/// the output must show one of the outcomes the row's code allows (under the plan's
/// options). Independent of how the engine resolves compound codes.
fn table_oracle(
    input: &InMemDicomObject,
    output: &InMemDicomObject,
    plan: &Plan,
    key: &Key,
) -> Vec<String> {
    let out = by_path(output);
    let opts = plan.effective_options();
    let mut problems = Vec::new();
    walk(input, &mut |path, e| {
        let tag = e.tag();
        if tag.0 % 2 == 1 || !reachable(&out, path) {
            return;
        }
        let Some(row) = table().lookup(tag) else {
            return;
        };
        let (code, _) = row.code_with(&opts);
        let o = out.get(path).copied();
        let absent = o.is_none();
        let empty = o.is_some_and(is_empty);
        // A sequence "changes" by keeping items whose content the profile processed
        // (each nested element is checked on its own).
        let changed = o.is_some_and(|o| !is_empty(o) && (o.vr() == VR::SQ || !same_value(e, o)));
        let ok = match code {
            Code::X => absent,
            Code::Z => empty,
            Code::D => changed,
            Code::K => o.is_some_and(|o| same_value(e, o)),
            Code::U => match o {
                Some(o) if o.vr() == VR::UI => {
                    let want: Vec<String> =
                        strings(e).iter().map(|v| pseudonym::uid(key, v)).collect();
                    strings(o) == want
                }
                Some(o) => o.vr() == VR::SQ,
                None => false,
            },
            Code::C => true,
            Code::XZ => absent || empty,
            Code::XD => absent || changed,
            Code::ZD => empty || changed,
            Code::XZD => absent || empty || changed,
            Code::XZU => absent || empty || o.is_some_and(|o| o.vr() == VR::SQ),
        };
        if !ok {
            problems.push(format!(
                "{path} ({}) code {}: output {}",
                row.name,
                code.as_str(),
                match o {
                    None => "absent".to_string(),
                    Some(o) if is_empty(o) => "empty".to_string(),
                    Some(o) if same_value(e, o) => "unchanged".to_string(),
                    Some(_) => "changed".to_string(),
                }
            ));
        }
    });
    problems
}

/// Original strings that must not be in `hay` (outside fresh 2.25 UIDs).
fn survivors(hay: &[u8], phi: &[String]) -> Vec<String> {
    let needles: Vec<Vec<u8>> = phi.iter().map(|s| s.as_bytes().to_vec()).collect();
    let hits = Finder::new(needles).positions(hay);
    phi.iter()
        .zip(hits)
        .filter(|(_, pos)| pos.iter().any(|&p| !inside_new_uid(hay, p)))
        .map(|(s, _)| s.clone())
        .collect()
}

fn assert_clean(d: &Done, what: &str, phi: &[String]) {
    let left = survivors(&d.run.bytes, phi);
    assert!(
        left.is_empty(),
        "{what}: PHI survives in the output: {left:?}"
    );
    let problems = check_output(&d.input, &d.run.bytes, &d.out, &d.plan);
    assert!(problems.is_empty(), "{what}: {problems:#?}");
    let json = serde_json::to_string(&d.run.record).unwrap();
    let left = survivors(json.as_bytes(), phi);
    assert!(
        left.is_empty(),
        "{what}: the decision record holds {left:?}"
    );
}

fn private_elements(obj: &InMemDicomObject) -> Vec<String> {
    let mut v = Vec::new();
    walk(obj, &mut |p, e| {
        if e.tag().0 % 2 == 1 {
            v.push(p.to_string());
        }
    });
    v
}

#[test]
fn basic_profile_clears_phi_at_every_depth() {
    let key = key();
    let plan = Plan::builtin(ProfileId::Basic);
    for ts in TRANSFER_SYNTAXES {
        for s in subjects() {
            let what = format!("{} {ts}", s.sop_uid);
            let d = deid(&s, ts, &plan, &key);
            assert_clean(&d, &what, &s.phi());
            let oracle = table_oracle(&d.input, &d.out, &plan, &key);
            assert!(oracle.is_empty(), "{what}: {oracle:#?}");
            let out: &InMemDicomObject = &d.out;

            // Top level.
            assert_eq!(value_at(out, "0010,0010").as_deref(), Some(""), "{what}");
            assert_eq!(
                value_at(out, "0010,0020"),
                Some(pseudonym::patient_id(&key, s.patient_id)),
                "{what}"
            );
            for gone in [
                "0008,0081",
                "0008,1030",
                "0008,103E",
                "0010,1000",
                "0010,2154",
                "0010,21B0",
                "0020,4000",
                "0400,0561",
            ] {
                assert!(at(out, gone).is_none(), "{what}: {gone} must be removed");
            }
            for emptied in [
                "0008,0020",
                "0008,0050",
                "0008,0080",
                "0008,0090",
                "0010,0030",
                "0020,0010",
                "0008,1010",
            ] {
                assert_eq!(
                    value_at(out, emptied).as_deref(),
                    Some(""),
                    "{what}: {emptied}"
                );
            }
            assert_eq!(
                value_at(out, "0008,0023").as_deref(),
                Some("19000101"),
                "{what}: Content Date is Type 1 in SR, dummied"
            );
            assert!(
                private_elements(out).is_empty(),
                "{what}: private elements left: {:?}",
                private_elements(out)
            );
            // Compound-coded Type 3 sequences are removed, not left without items; the
            // Type 1C Referenced Performed Procedure Step Sequence keeps its reference.
            for gone in ["0008,1110", "0008,1072", "0008,0082"] {
                assert!(at(out, gone).is_none(), "{what}: {gone} must be removed");
            }
            assert_eq!(
                value_at(out, "0008,1111/0/0008,1155"),
                Some(pseudonym::uid(&key, &format!("{}.77", s.study_uid))),
                "{what}"
            );
            // The overlay goes as a whole.
            assert!(
                !out.iter().any(|e| e.tag().0 == 0x6000),
                "{what}: overlay attributes left"
            );

            // Depths 1, 2 and 3 of Source Image Sequence.
            let src = &s.sources[0];
            let d1 = "0008,2112/0/";
            let d2 = format!("{d1}0040,A170/0/");
            let d3 = format!("{d2}0008,1140/0/");
            assert_eq!(
                value_at(out, &format!("{d1}0008,1155")),
                Some(pseudonym::uid(&key, src)),
                "{what}"
            );
            assert_eq!(
                value_at(out, &format!("{d1}0008,1150")).as_deref(),
                Some(SC_CLASS),
                "{what}: SOP Class UIDs are kept"
            );
            assert_eq!(
                value_at(out, &format!("{d2}0010,0010")).as_deref(),
                Some(""),
                "{what}"
            );
            assert_eq!(
                value_at(out, &format!("{d2}0008,0050")).as_deref(),
                Some(""),
                "{what}"
            );
            assert_eq!(
                value_at(out, &format!("{d2}0008,0100")).as_deref(),
                Some("121320"),
                "{what}: codes are kept"
            );
            assert_eq!(
                value_at(out, &format!("{d3}0008,1155")),
                Some(pseudonym::uid(&key, src)),
                "{what}"
            );
            assert_eq!(
                value_at(out, &format!("{d3}0010,0010")).as_deref(),
                Some(""),
                "{what}"
            );
            assert_eq!(
                value_at(out, &format!("{d3}0010,0020")),
                value_at(out, "0010,0020"),
                "{what}: Patient ID maps the same at depth 3"
            );
            assert_eq!(
                value_at(out, &format!("{d3}0008,0080")).as_deref(),
                Some(""),
                "{what}"
            );
            assert_eq!(
                value_at(out, &format!("{d3}0008,0023")).as_deref(),
                Some("19000101"),
                "{what}"
            );
        }
    }
}

#[test]
fn custom_rules_keeping_sequences_still_apply_basic_rules_inside() {
    // Keeping Referenced Study and Request Attributes Sequences exposes depths 1 to 3
    // to the element rules.
    let key = key();
    let mut plan = Plan::builtin(ProfileId::Custom);
    plan.custom_rules =
        parse_rules(r#"[{"id":"(0008,1110)","act":"keep"},{"id":"(0040,0275)","act":"keep"}]"#)
            .unwrap();
    for ts in TRANSFER_SYNTAXES {
        let s = Subject::first();
        let what = format!("custom keep, {ts}");
        let d = deid(&s, ts, &plan, &key);
        assert_clean(&d, &what, &s.phi());
        let oracle = table_oracle(&d.input, &d.out, &plan, &key);
        // The two kept sequences are the custom rules' doing; everything else follows the table.
        let oracle: Vec<_> = oracle
            .into_iter()
            .filter(|p| !p.starts_with("0008,1110 ") && !p.starts_with("0008,1110/0/0040,0275 "))
            .collect();
        assert!(oracle.is_empty(), "{what}: {oracle:#?}");
        let out: &InMemDicomObject = &d.out;
        let d1 = "0008,1110/0/";
        let d2 = format!("{d1}0040,0275/0/");
        let d3 = format!("{d2}0008,1115/0/");
        // The study referenced at depth 1 maps like the top-level Study Instance UID.
        assert_eq!(
            value_at(out, &format!("{d1}0008,1155")),
            value_at(out, "0020,000D"),
            "{what}"
        );
        assert_eq!(
            value_at(out, &format!("{d2}0008,0050")).as_deref(),
            Some(""),
            "{what}"
        );
        assert!(at(out, &format!("{d2}0040,1001")).is_none(), "{what}");
        assert!(at(out, &format!("{d2}0040,0009")).is_none(), "{what}");
        assert_eq!(
            value_at(out, &format!("{d3}0010,0010")).as_deref(),
            Some(""),
            "{what}"
        );
        assert_eq!(
            value_at(out, &format!("{d3}0008,0050")).as_deref(),
            Some(""),
            "{what}"
        );
        assert!(
            at(out, &format!("{d3}0008,0021")).is_none()
                || value_at(out, &format!("{d3}0008,0021")).as_deref() != Some(s.study_date),
            "{what}"
        );
        // The series referenced at depth 3 maps like the top-level Series Instance UID.
        assert_eq!(
            value_at(out, &format!("{d3}0020,000E")),
            value_at(out, "0020,000E"),
            "{what}"
        );
        // The decision record shows the custom rules and the nested decisions.
        let paths: BTreeSet<&str> = d
            .run
            .record
            .entries
            .iter()
            .map(|e| e.path.as_str())
            .collect();
        for p in [
            "0008,1110",
            "0008,1110/0/0040,0275",
            "0008,1110/0/0040,0275/0/0008,1115/0/0010,0010",
        ] {
            assert!(paths.contains(p), "{what}: record lacks {p}");
        }
    }
}

#[test]
fn retain_safe_private_keeps_only_table_e3_10_elements_with_their_creator() {
    let key = key();
    let plan = plan_with(&[ProfileOption::RetainSafePrivate], None);
    for ts in TRANSFER_SYNTAXES {
        let s = Subject::first();
        let what = format!("retain safe private, {ts}");
        let d = deid(&s, ts, &plan, &key);
        assert_clean(&d, &what, &s.phi());
        let out: &InMemDicomObject = &d.out;
        // Creators by block of group 0019.
        let creators: HashMap<u16, String> = out
            .iter()
            .filter(|e| e.tag().0 == 0x0019 && (0x10..=0xFF).contains(&e.tag().1))
            .map(|e| {
                (
                    e.tag().1,
                    normalise_creator(&String::from_utf8_lossy(&e.value().to_bytes().unwrap())),
                )
            })
            .collect();
        let gems: Vec<u16> = creators
            .iter()
            .filter(|(_, c)| c.as_str() == GEMS_CREATOR)
            .map(|(b, _)| *b)
            .collect();
        assert_eq!(
            gems.len(),
            1,
            "{what}: one GEMS_ACQU_01 creator, found {creators:?}"
        );
        let block = gems[0];
        assert_eq!(
            creators.len(),
            1,
            "{what}: only the GE creator stays: {creators:?}"
        );
        let safe = out
            .get(Tag(0x0019, (block << 8) | 0x23))
            .unwrap_or_else(|| panic!("{what}: safe (0019,xx23) missing"));
        let v = String::from_utf8_lossy(&safe.value().to_bytes().unwrap())
            .trim()
            .to_string();
        assert_eq!(v, SAFE_PRIVATE_VALUE, "{what}");
        let left = private_elements(out);
        assert_eq!(
            left.len(),
            2,
            "{what}: only the creator and the safe element stay: {left:?}"
        );
        assert!(
            out.get(Tag(0x0029, 0x0010)).is_none() && out.get(Tag(0x0029, 0x1010)).is_none(),
            "{what}: SIEMENS CSA HEADER is not safe"
        );
        // The record says why.
        let safe_path = format!("0019,{:04X}", (block << 8) | 0x23);
        let entry = d
            .run
            .record
            .entries
            .iter()
            .find(|e| e.path == safe_path)
            .unwrap_or_else(|| panic!("{what}: {safe_path} not recorded"));
        assert!(
            entry.rule.explanation.contains("E.3.10-1"),
            "{what}: {}",
            entry.rule.explanation
        );
    }
}

#[test]
fn uids_map_consistently_across_files_runs_and_keys() {
    let key = key();
    let plan = Plan::builtin(ProfileId::Basic);
    for ts in TRANSFER_SYNTAXES {
        let first = deid(&Subject::first(), ts, &plan, &key);
        let derived = deid(&Subject::derived(), ts, &plan, &key);
        let later = deid(&Subject::later_study(), ts, &plan, &key);
        let (f, dv, l): (&InMemDicomObject, &InMemDicomObject, &InMemDicomObject) =
            (&first.out, &derived.out, &later.out);
        let new_first_sop = value_at(f, "0008,0018").unwrap();
        assert!(is_new_uid(&new_first_sop));
        // The derived file's references to the first file at depths 1 and 3.
        assert_eq!(
            value_at(dv, "0008,2112/0/0008,1155").unwrap(),
            new_first_sop,
            "{ts}"
        );
        assert_eq!(
            value_at(dv, "0008,2112/0/0040,A170/0/0008,1140/0/0008,1155").unwrap(),
            new_first_sop,
            "{ts}"
        );
        assert_eq!(
            value_at(l, "0008,2112/0/0008,1155").unwrap(),
            new_first_sop,
            "{ts}"
        );
        // Same study, same new Study Instance UID; another study, another.
        assert_eq!(value_at(f, "0020,000D"), value_at(dv, "0020,000D"));
        assert_ne!(value_at(f, "0020,000D"), value_at(l, "0020,000D"));
        assert_ne!(value_at(f, "0020,000E"), value_at(dv, "0020,000E"));
        // The mappings report what was done.
        assert_eq!(
            first.run.mappings.uids.get(&Subject::first().sop_uid),
            Some(&new_first_sop)
        );
        assert_eq!(
            derived.run.mappings.uids.get(&Subject::first().sop_uid),
            Some(&new_first_sop)
        );

        // Another run with the same key: the same bytes.
        let again = deid(&Subject::derived(), ts, &plan, &key);
        assert_eq!(
            again.run.bytes, derived.run.bytes,
            "{ts}: runs with one key are reproducible"
        );
        // Another key: other UIDs and another Patient ID.
        let other = deid(&Subject::derived(), ts, &plan, &other_key());
        let o: &InMemDicomObject = &other.out;
        for p in [
            "0008,0018",
            "0020,000D",
            "0020,000E",
            "0008,2112/0/0008,1155",
            "0010,0020",
        ] {
            assert_ne!(
                value_at(o, p),
                value_at(dv, p),
                "{ts}: {p} must depend on the key"
            );
        }
    }
}

#[test]
fn patient_id_maps_to_one_pseudonym_per_patient() {
    let key = key();
    let plan = Plan::builtin(ProfileId::Basic);
    let mut ids: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for s in subjects() {
        let d = deid(&s, EXPLICIT_VR_LE, &plan, &key);
        let new = value_at(&d.out, "0010,0020").unwrap();
        assert_eq!(d.run.mappings.patient_ids.get(s.patient_id), Some(&new));
        assert!(new.len() <= 64 && !new.contains(s.patient_id));
        ids.entry(s.patient_id).or_default().insert(new);
    }
    assert_eq!(ids.len(), 2);
    for (orig, news) in &ids {
        assert_eq!(news.len(), 1, "{orig} maps to {news:?}");
    }
    let all: BTreeSet<_> = ids.values().flatten().collect();
    assert_eq!(all.len(), 2, "two patients, two pseudonyms");
}

/// (path, input date, output date) for every DA and DT element present in both.
fn date_pairs(d: &Done) -> Vec<(String, String, String)> {
    let out = by_path(&d.out);
    let mut v = Vec::new();
    walk(&d.input, &mut |p, e| {
        if !matches!(e.vr(), VR::DA | VR::DT) {
            return;
        }
        let Some(o) = out.get(p) else { return };
        let (a, b) = (strings(e).join("\\"), strings(o).join("\\"));
        if !a.is_empty() && !b.is_empty() {
            v.push((p.to_string(), a, b));
        }
    });
    v
}

fn days_between(a: &str, b: &str) -> i64 {
    let d = |s: &str| NaiveDate::parse_from_str(&s[..8], "%Y%m%d").unwrap();
    (d(b) - d(a)).num_days()
}

#[test]
fn auto_date_shift_is_one_offset_per_patient() {
    let key = key();
    let plan = options_plan();
    let mut offsets: BTreeMap<&str, BTreeSet<i64>> = BTreeMap::new();
    for ts in TRANSFER_SYNTAXES {
        for s in subjects() {
            let what = format!("{} {ts}", s.sop_uid);
            let d = deid(&s, ts, &plan, &key);
            let mut phi = s.phi();
            phi.retain(|p| p != s.study_date); // shifted dates may land anywhere
            assert_clean(&d, &what, &phi);
            let oracle = table_oracle(&d.input, &d.out, &plan, &key);
            assert!(oracle.is_empty(), "{what}: {oracle:#?}");
            let pairs = date_pairs(&d);
            let nested = pairs.iter().filter(|(p, _, _)| p.contains('/')).count();
            assert!(
                nested >= 2,
                "{what}: dates in sequences must be shifted too: {pairs:?}"
            );
            for (p, a, b) in &pairs {
                let days = days_between(a, b);
                assert_ne!(days, 0, "{what}: {p} not shifted");
                // Whatever follows the date (time of a DT) is unchanged.
                assert_eq!(a[8..], b[8..], "{what}: {p}");
                offsets.entry(s.patient_id).or_default().insert(days);
            }
            assert_eq!(
                value_at(&d.out, "0028,0303").as_deref(),
                Some("MODIFIED"),
                "{what}"
            );
        }
    }
    for (patient, days) in &offsets {
        assert_eq!(days.len(), 1, "patient {patient}: offsets {days:?}");
    }
    let all: BTreeSet<i64> = offsets.values().flatten().copied().collect();
    assert_eq!(all.len(), 2, "two patients, two offsets: {offsets:?}");
}

#[test]
fn fixed_date_shift_moves_every_date_by_the_same_days() {
    let key = key();
    let plan = plan_with(&[], Some(DateShift::Days(10)));
    for ts in TRANSFER_SYNTAXES {
        let s = Subject::first();
        let d = deid(&s, ts, &plan, &key);
        assert_eq!(value_at(&d.out, "0008,0020").as_deref(), Some("20051210"));
        assert_eq!(
            value_at(&d.out, "0008,002A").as_deref(),
            Some("20051210101500.000000")
        );
        let pairs = date_pairs(&d);
        assert!(pairs.len() >= 6, "{pairs:?}");
        for (p, a, b) in pairs {
            assert_eq!(days_between(&a, &b), 10, "{p}: {a} -> {b}");
        }
    }
}

#[test]
fn decision_record_covers_every_path_and_holds_no_value() {
    let key = key();
    for (name, plan) in [
        ("basic", Plan::builtin(ProfileId::Basic)),
        ("options", options_plan()),
    ] {
        for ts in TRANSFER_SYNTAXES {
            let s = Subject::derived();
            let what = format!("{name} {ts}");
            let d = deid(&s, ts, &plan, &key);
            let recorded: BTreeSet<&str> = d
                .run
                .record
                .entries
                .iter()
                .map(|e| e.path.as_str())
                .collect();
            let out = by_path(&d.out);
            let mut missing = Vec::new();
            walk(&d.input, &mut |p, e| {
                if recorded.contains(p) || !reachable(&out, p) {
                    return;
                }
                // Only standard attributes outside the table, kept as they were, go unrecorded.
                let tag = e.tag();
                let silent = tag.0.is_multiple_of(2)
                    && tag.1 != 0
                    && table().lookup(tag).is_none()
                    && out.get(p).is_some_and(|o| same_value(e, o));
                if !silent {
                    missing.push(p.to_string());
                }
            });
            assert!(missing.is_empty(), "{what}: undecided paths {missing:?}");
            for p in [
                "0010,0010",
                "0019,1001",
                "0400,0561",
                "0008,2112/0/0008,1155",
                "0008,2112/0/0040,A170/0/0010,0010",
                "0008,2112/0/0040,A170/0/0008,1140/0/0008,0050",
                "0008,2112/0/0040,A170/0/0008,1140/0/0010,0010",
            ] {
                assert!(recorded.contains(p), "{what}: {p} not in the record");
            }
            // No original value: PHI strings and original UIDs.
            let json = serde_json::to_string(&d.run.record).unwrap();
            let mut phi = s.phi();
            phi.push(SAFE_PRIVATE_VALUE.into());
            let left = survivors(json.as_bytes(), &phi);
            assert!(left.is_empty(), "{what}: record holds {left:?}");
        }
    }
}

#[test]
fn seed_custom_rules_keep_the_name_and_say_identity_is_kept() {
    let key = key();
    let mut plan = Plan::builtin(ProfileId::Custom);
    plan.custom_rules =
        parse_rules(r#"[{"id":"(0008,103E)","act":"remove"},{"id":"(0010,0010)","act":"keep"}]"#)
            .unwrap();
    for ts in TRANSFER_SYNTAXES {
        let s = Subject::first();
        let d = deid(&s, ts, &plan, &key);
        let out: &InMemDicomObject = &d.out;
        assert_eq!(value_at(out, "0010,0010").as_deref(), Some(s.name));
        assert!(at(out, "0008,103E").is_none());
        // The custom rule is for the tag wherever it is, nested names included.
        assert_eq!(
            value_at(out, "0008,2112/0/0040,A170/0/0010,0010").as_deref(),
            Some(s.name)
        );
        // Basic rules for the rest.
        assert_eq!(
            value_at(out, "0010,0020"),
            Some(pseudonym::patient_id(&key, s.patient_id))
        );
        assert_eq!(value_at(out, "0008,0050").as_deref(), Some(""));
        assert!(at(out, "0008,1030").is_none());
        assert_eq!(
            value_at(out, "0008,0018"),
            Some(pseudonym::uid(&key, &s.sop_uid))
        );
        let mut phi = s.phi();
        phi.retain(|p| !s.name.contains(p.as_str()));
        let left = survivors(&d.run.bytes, &phi);
        assert!(left.is_empty(), "{left:?}");
        let oracle: Vec<_> = table_oracle(&d.input, &d.out, &plan, &key)
            .into_iter()
            .filter(|p| !p.contains("0010,0010 "))
            .collect();
        assert!(oracle.is_empty(), "{oracle:#?}");
        // The markers tell the truth.
        assert_eq!(value_at(out, "0012,0062").as_deref(), Some("NO"));
        let method = value_at(out, "0012,0063").unwrap();
        assert!(method.contains("Custom"), "{method}");
        assert!(method.contains("kept by a custom rule"), "{method}");
        let rec = d
            .run
            .record
            .entries
            .iter()
            .find(|e| e.path == "0010,0010")
            .unwrap();
        assert!(!rec.changed);
        assert_eq!(rec.rule.explanation, "custom rule: keep");
    }
}

#[test]
fn hipaa_safe_harbor() {
    let key = key();
    let plan = Plan::builtin(ProfileId::Hipaa);
    for ts in TRANSFER_SYNTAXES {
        // 92 years old: age pooled, birth date removed.
        let old = Subject::other_patient();
        let d = deid(&old, ts, &plan, &key);
        let out: &InMemDicomObject = &d.out;
        assert_eq!(value_at(out, "0010,1010").as_deref(), Some("090Y"), "{ts}");
        assert_eq!(
            value_at(out, "0010,0030").as_deref(),
            Some(""),
            "{ts}: birth date of a 92 year old is emptied (Type 2)"
        );
        let mut phi = old.phi();
        phi.retain(|p| p != old.study_date);
        assert_clean(&d, &format!("hipaa old {ts}"), &phi);

        // 45 years old: age kept, birth date to the year.
        let s = Subject::first();
        let d = deid(&s, ts, &plan, &key);
        let out: &InMemDicomObject = &d.out;
        assert_eq!(value_at(out, "0010,1010").as_deref(), Some("045Y"), "{ts}");
        assert_eq!(
            value_at(out, "0010,0030").as_deref(),
            Some("19600101"),
            "{ts}"
        );
        // Device Serial Number: removed outright, as Safe Harbor asks (this Secondary
        // Capture has no Enhanced General Equipment module, where it would be Type 1).
        assert!(at(out, "0018,1000").is_none(), "{ts}: device serial number");
        assert!(at(out, "0008,0081").is_none(), "{ts}: institution address");
        for (p, _, b) in date_pairs(&d) {
            assert!(b.len() >= 8 && &b[4..8] == "0101", "{ts}: {p} = {b}");
        }
        assert_eq!(value_at(out, "0008,0020").as_deref(), Some("20050101"));
        assert_eq!(
            value_at(out, "0008,2112/0/0040,A170/0/0008,1140/0/0008,0023").as_deref(),
            Some("20050101")
        );
        let mut phi = s.phi();
        phi.retain(|p| p != s.study_date);
        assert_clean(&d, &format!("hipaa {ts}"), &phi);
        assert_eq!(value_at(out, "0028,0303").as_deref(), Some("MODIFIED"));
    }
}

fn method_codes(obj: &InMemDicomObject) -> BTreeSet<String> {
    let e = obj
        .get(tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE)
        .expect("(0012,0064)");
    e.items()
        .unwrap()
        .iter()
        .map(|i| {
            assert_eq!(
                text(i, tags::CODING_SCHEME_DESIGNATOR).as_deref(),
                Some("DCM")
            );
            assert!(text(i, tags::CODE_MEANING).is_some_and(|m| !m.is_empty()));
            text(i, tags::CODE_VALUE).unwrap()
        })
        .collect()
}

fn custom_date_keep() -> Plan {
    let mut p = Plan::builtin(ProfileId::Custom);
    p.custom_rules = dcmask_engine::parse_rules(
        r#"[{"id":"(0008,0020)","act":"keep","note":"study date needed"}]"#,
    )
    .unwrap();
    p
}

#[test]
fn markers_say_what_was_done() {
    let key = key();
    let codes = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let cases: Vec<(&str, Plan, BTreeSet<String>, &str)> = vec![
        (
            "basic",
            Plan::builtin(ProfileId::Basic),
            codes(&["113100"]),
            "REMOVED",
        ),
        (
            "options",
            options_plan(),
            codes(&["113100", "113111", "113105", "113107"]),
            "MODIFIED",
        ),
        (
            "full dates",
            plan_with(
                &[
                    ProfileOption::RetainLongFullDates,
                    ProfileOption::RetainUids,
                ],
                None,
            ),
            codes(&["113100", "113106", "113110"]),
            "UNMODIFIED",
        ),
        (
            "device+institution",
            plan_with(
                &[
                    ProfileOption::RetainDeviceIdentity,
                    ProfileOption::RetainInstitutionIdentity,
                    ProfileOption::RetainPatientCharacteristics,
                ],
                None,
            ),
            codes(&["113100", "113109", "113112", "113108"]),
            "REMOVED",
        ),
        (
            "hipaa",
            Plan::builtin(ProfileId::Hipaa),
            codes(&["113100", "113105", "113107"]),
            "MODIFIED",
        ),
        // Modified Dates without a shift: the keyed per-patient offset, truly applied.
        (
            "modified dates, no shift",
            plan_with(&[ProfileOption::RetainLongModifiedDates], None),
            codes(&["113100", "113107"]),
            "MODIFIED",
        ),
        // One date kept by a custom rule, the others dummied or removed: a mix.
        (
            "custom keep of one date",
            custom_date_keep(),
            codes(&["113100"]),
            "MODIFIED",
        ),
    ];
    for (name, plan, want, temporal) in cases {
        for ts in TRANSFER_SYNTAXES {
            let d = deid(&Subject::first(), ts, &plan, &key);
            let out: &InMemDicomObject = &d.out;
            assert_eq!(value_at(out, "0012,0062").as_deref(), Some("YES"), "{name}");
            let method = value_at(out, "0012,0063").unwrap();
            assert!(method.contains("dcmask"), "{name}: {method}");
            assert!(method.contains(TABLE_EDITION), "{name}: {method}");
            assert_eq!(method_codes(out), want, "{name}");
            assert_eq!(
                value_at(out, "0028,0303").as_deref(),
                Some(temporal),
                "{name}"
            );
            if name == "custom keep of one date" {
                assert!(method.contains("some dates kept as they were"), "{method}");
            }
            // The truth behind (0028,0303).
            let pairs = date_pairs(&d);
            match temporal {
                "UNMODIFIED" => assert!(pairs.iter().all(|(_, a, b)| a == b), "{name}: {pairs:?}"),
                "MODIFIED" => assert!(pairs.iter().any(|(_, a, b)| a != b), "{name}"),
                _ => assert!(
                    pairs
                        .iter()
                        .all(|(_, a, b)| a != b && b.starts_with("1900")),
                    "{name}: only dummies may remain: {pairs:?}"
                ),
            }
            let problems = check_output(&d.input, &d.run.bytes, &d.out, &plan);
            assert!(problems.is_empty(), "{name}: {problems:#?}");
        }
    }
}

#[test]
fn clean_descriptors_keeps_clinical_words_only() {
    let key = key();
    let plan = plan_with(&[ProfileOption::CleanDescriptors], None);
    for ts in TRANSFER_SYNTAXES {
        let s = Subject::first();
        let d = deid(&s, ts, &plan, &key);
        assert_clean(&d, ts, &s.phi());
        let out: &InMemDicomObject = &d.out;
        let desc = value_at(out, "0008,1030").unwrap();
        assert!(desc.contains("Chest CT"), "{desc}");
        let history = value_at(out, "0010,21B0").unwrap();
        assert!(history.contains("asthma since childhood"), "{history}");
        let comments = value_at(out, "0020,4000").unwrap();
        assert!(comments.contains("fell"), "{comments}");
        assert!(
            d.run.record.cleaned.total() >= 8,
            "{:?}",
            d.run.record.cleaned
        );
    }
}

#[test]
fn cleaning_never_empties_a_type_1_attribute() {
    // Structure Set Label (D, C with Clean Descriptors) equal to the Study ID: cleaning
    // drops every word, and a Type 1 attribute must not be left empty.
    let key = key();
    let s = Subject::first();
    let mut ds = synthetic_dataset(&s);
    ds.put(el(Tag(0x3006, 0x0002), VR::SH, STUDY_ID));
    ds.put(el(
        Tag(0x3006, 0x0004),
        VR::LO,
        &format!("{} contours", s.surname()),
    ));
    let bytes = file_of(ds, EXPLICIT_VR_LE);
    for plan in [
        plan_with(&[ProfileOption::CleanDescriptors], None),
        Plan::builtin(ProfileId::Hipaa),
    ] {
        let d = deid_raw(&bytes, &plan, &key);
        assert_eq!(value_at(&d.out, "3006,0002").as_deref(), Some("ANONYMIZED"));
        // A Type 3 name keeps what is left after cleaning.
        assert_eq!(value_at(&d.out, "3006,0004").as_deref(), Some("contours"));
    }
}

/// Explicit VR data set bytes of one element (for UN-encoded values of a synthetic file).
fn implicit_bytes(elems: Vec<InMemElement>) -> Vec<u8> {
    let ts = dicom_transfer_syntax_registry::TransferSyntaxRegistry
        .get(IMPLICIT_VR_LE)
        .unwrap();
    let mut out = Vec::new();
    item(elems).write_dataset_with_ts(&mut out, ts).unwrap();
    out
}

use dicom_encoding::TransferSyntaxIndex;

#[test]
fn standard_elements_written_as_un_are_handled_as_their_real_vr() {
    // Some writers put every element as UN (corpus: explicit_VR-UN.dcm, rtdose_rle.dcm).
    let key = key();
    let s = Subject::first();
    let mut ds = synthetic_dataset(&s);
    let as_un = |e: InMemElement| -> InMemElement {
        let tag = e.tag();
        let bytes = implicit_bytes(vec![e]);
        bytes_el(tag, VR::UN, &bytes[8..])
    };
    for t in [
        tags::PATIENT_NAME,
        tags::PATIENT_ID,
        tags::SOP_INSTANCE_UID,
        tags::STUDY_DATE,
        tags::REFERRING_PHYSICIAN_NAME,
        tags::SOURCE_IMAGE_SEQUENCE,
        tags::PATIENT_BIRTH_DATE,
    ] {
        let e = ds.take(t).unwrap();
        ds.put(as_un(e));
    }
    // A person name outside Table E.1-1, as UN: found as a name, removed.
    ds.put(as_un(el(Tag(0x0014, 0x0104), VR::PN, s.name)));
    let bytes = file_of(ds, EXPLICIT_VR_LE);
    let d = deid_raw(&bytes, &Plan::builtin(ProfileId::Basic), &key);
    assert_clean(&d, "UN", &s.phi());
    let out: &InMemDicomObject = &d.out;
    assert_eq!(
        value_at(out, "0008,0018"),
        Some(pseudonym::uid(&key, &s.sop_uid))
    );
    assert_eq!(at(out, "0008,0018").unwrap().vr(), VR::UI);
    assert_eq!(
        value_at(out, "0010,0020"),
        Some(pseudonym::patient_id(&key, s.patient_id))
    );
    assert_eq!(value_at(out, "0010,0010").as_deref(), Some(""));
    assert_eq!(
        value_at(out, "0008,2112/0/0008,1155"),
        Some(pseudonym::uid(&key, &s.sources[0]))
    );
    assert_eq!(
        value_at(out, "0008,2112/0/0040,A170/0/0010,0010").as_deref(),
        Some("")
    );
    assert_eq!(
        d.out
            .meta()
            .media_storage_sop_instance_uid()
            .trim_end_matches('\0'),
        pseudonym::uid(&key, &s.sop_uid)
    );
}
