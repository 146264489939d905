//! External validators on the outputs: `dcmdump` (DCMTK) must parse every output, and
//! `dciodvfy` (dicom3tools) must report no error on an output that it did not already
//! report on the input (compared with values and UIDs stripped from the messages).
//!
//! The tools come from the `dcmtk` and `dicom3tools` packages. When they are missing the
//! test is skipped loudly, and fails when `CI` is set. Run with `--nocapture` for the summary.

mod common;
mod every_row;

use common::*;
use dcmask_engine::{io, DateShift, Plan, ProfileId, ProfileOption};
use every_row::Iod;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// New dciodvfy errors that are defects of the INPUT, not dcmask's doing: (file or `*`,
/// error text, why). dcmask's own causes are fixed, never listed here; see
/// `every_table_row_in_a_ct_image_adds_no_dciodvfy_error`, which has no allow-list.
const KNOWN_NEW_ERRORS: &[(&str, &str, &str)] = &[
    (
        "pydicom/test_files/empty_charset_LEI.dcm",
        "missing SOP",
        "the input has no SOP Class/Instance UID anywhere and no Media Storage UIDs in its \
         file meta group; dicom-rs always writes the (Type 1) Media Storage UIDs, which stay \
         empty, and dciodvfy now names the missing SOP UIDs it skipped on the input",
    ),
    (
        "pydicom/test_files/nested_priv_SQ.dcm",
        "PixelData has incorrect value length",
        "the input's 2-byte Pixel Data without an Image Pixel module; dciodvfy stops on the \
         input's unparseable private sequence before it gets there",
    ),
];

fn known(name: &str, error: &str) -> Option<&'static str> {
    KNOWN_NEW_ERRORS
        .iter()
        .find(|(f, e, _)| (*f == "*" || name.starts_with(f)) && error.contains(e))
        .map(|(_, _, why)| *why)
}

fn tool_available(name: &str) -> bool {
    Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|o| !o.stdout.is_empty() || !o.stderr.is_empty())
}

/// Whether both tools are installed; a loud skip (or a CI failure) otherwise.
fn tools_ready() -> bool {
    let missing: Vec<&str> = ["dcmdump", "dciodvfy"]
        .into_iter()
        .filter(|t| !tool_available(t))
        .collect();
    if missing.is_empty() {
        return true;
    }
    skip_or_fail(&format!(
        "{} not installed (apt-get install dcmtk dicom3tools)",
        missing.join(" and ")
    ));
    false
}

/// dcmdump's verdict: `None` when it parsed the file cleanly.
fn dcmdump_problem(path: &Path) -> Option<String> {
    let out = Command::new("dcmdump")
        .arg(path)
        .output()
        .expect("dcmdump runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("E:")).collect();
    if out.status.success() && errors.is_empty() {
        None
    } else {
        Some(format!(
            "dcmdump exit {:?}: {}",
            out.status.code(),
            errors.join(" | ")
        ))
    }
}

/// dciodvfy's error lines, with values and UIDs stripped so that an input's and an
/// output's messages compare equal when only the values differ.
fn dciodvfy_errors(path: &Path) -> BTreeSet<String> {
    let out = Command::new("dciodvfy")
        .arg(path)
        .output()
        .expect("dciodvfy runs");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .filter(|l| l.starts_with("Error"))
        .map(normalise)
        .collect()
}

/// An error line without its values: `= <value>`, UIDs, and whatever follows the word UID.
fn normalise(line: &str) -> String {
    let value = regex::Regex::new(r"= <[^>]*>").unwrap();
    let after_uid = regex::Regex::new(r"UID (\S+)").unwrap();
    let uid = regex::Regex::new(r"\b\d+(\.\d+){2,}\b").unwrap();
    let l = value.replace_all(line, "= <…>");
    let l = after_uid.replace_all(&l, "UID …");
    uid.replace_all(&l, "…").trim().to_string()
}

struct Case {
    name: String,
    input: PathBuf,
    output: PathBuf,
}

/// Synthetic inputs and outputs under several plans, written to `dir`.
fn synthetic_cases(dir: &Path) -> Vec<Case> {
    let key = key();
    let mut options = plan_with(
        &[
            ProfileOption::RetainSafePrivate,
            ProfileOption::CleanDescriptors,
        ],
        Some(DateShift::Days(-30)),
    );
    options
        .options
        .push(ProfileOption::RetainPatientCharacteristics);
    let plans = [
        ("basic", Plan::builtin(ProfileId::Basic)),
        ("hipaa", Plan::builtin(ProfileId::Hipaa)),
        ("options", options),
    ];
    let mut cases = Vec::new();
    for (ts_name, ts) in [("explicit", EXPLICIT_VR_LE), ("implicit", IMPLICIT_VR_LE)] {
        for (i, s) in [
            Subject::first(),
            Subject::derived(),
            Subject::other_patient(),
        ]
        .iter()
        .enumerate()
        {
            let bytes = synthetic_file(s, ts);
            let input = dir.join(format!("synthetic-{ts_name}-{i}.dcm"));
            std::fs::write(&input, &bytes).unwrap();
            for (plan_name, plan) in &plans {
                let run = deid_bytes(&bytes, plan, &key).expect("synthetic de-identifies");
                let output = dir.join(format!("synthetic-{ts_name}-{i}-{plan_name}.out.dcm"));
                std::fs::write(&output, &run.bytes).unwrap();
                cases.push(Case {
                    name: format!("synthetic {ts_name} #{i} [{plan_name}]"),
                    input: input.clone(),
                    output,
                });
            }
        }
    }
    cases
}

/// Every corpus file that de-identifies with the Basic Profile (and, with
/// `DCMASK_VALIDATE_ALL_PLANS` set, with HIPAA and Basic with options too), written to `dir`.
fn corpus_cases(dir: &Path) -> Vec<Case> {
    let Some(corpus) = corpus_dir() else {
        return Vec::new();
    };
    let key = key();
    let mut plans = corpus_plans();
    if std::env::var_os("DCMASK_VALIDATE_ALL_PLANS").is_none() {
        plans.truncate(1);
    }
    let mut cases = Vec::new();
    for path in corpus_files(&corpus) {
        let name = rel(&corpus, &path);
        let bytes = std::fs::read(&path).unwrap();
        let Ok(Ok(obj)) = no_panic(&name, || io::read_object(&bytes)) else {
            continue;
        };
        for (plan_name, plan) in &plans {
            // Many test files carry no pixel data: validated as `--allow-incomplete` writes them.
            let mut plan = plan.clone();
            plan.allow_incomplete = true;
            let Ok(Ok(run)) = no_panic(&name, || deid_object(obj.clone(), &plan, &key)) else {
                continue;
            };
            let output = dir.join(format!("{}.{plan_name}.out.dcm", name.replace('/', "__")));
            std::fs::write(&output, &run.bytes).unwrap();
            cases.push(Case {
                name: if plans.len() > 1 {
                    format!("{name} [{plan_name}]")
                } else {
                    name.clone()
                },
                input: path.clone(),
                output,
            });
        }
    }
    cases
}

#[test]
fn outputs_parse_in_dcmdump_and_add_no_dciodvfy_errors() {
    if !tools_ready() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut cases = synthetic_cases(tmp.path());
    let synthetic = cases.len();
    cases.extend(corpus_cases(tmp.path()));

    let mut failures = Vec::new();
    let mut new_errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut explained: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut inherited = 0usize;
    for case in &cases {
        if let Some(p) = dcmdump_problem(&case.output) {
            failures.push(format!("{}: {p}", case.name));
        }
        let before = dciodvfy_errors(&case.input);
        let after = dciodvfy_errors(&case.output);
        inherited += after.intersection(&before).count();
        for e in after.difference(&before) {
            match known(&case.name, e) {
                Some(why) => explained
                    .entry(format!("{e}\n      why: {why}"))
                    .or_default()
                    .push(case.name.clone()),
                None => new_errors
                    .entry(e.clone())
                    .or_default()
                    .push(case.name.clone()),
            }
        }
    }
    for (e, names) in &new_errors {
        failures.push(format!(
            "{} file(s), e.g. {}: new dciodvfy error: {e}",
            names.len(),
            names[0]
        ));
    }

    eprintln!();
    eprintln!(
        "=== validators: {} outputs ({synthetic} synthetic, {} corpus) ===",
        cases.len(),
        cases.len() - synthetic
    );
    eprintln!("dciodvfy errors already on the input and still on the output: {inherited}");
    eprintln!(
        "new dciodvfy errors that are not dcmask's doing: {}",
        explained.len()
    );
    for (e, names) in &explained {
        eprintln!("  {} x {e}", names.len());
    }
    eprintln!("failures: {}", failures.len());
    for f in &failures {
        eprintln!("  FAIL {f}");
    }
    assert!(
        failures.is_empty(),
        "{} validator failures (see above)",
        failures.len()
    );
}

/// Basic, HIPAA, and Basic with each option on its own.
fn every_plan() -> Vec<(String, Plan)> {
    let mut plans = vec![
        ("basic".to_string(), Plan::builtin(ProfileId::Basic)),
        ("hipaa".to_string(), Plan::builtin(ProfileId::Hipaa)),
    ];
    for option in ProfileOption::ALL {
        let shift =
            (option == ProfileOption::RetainLongModifiedDates).then_some(DateShift::Days(-30));
        plans.push((option.id().to_string(), plan_with(&[option], shift)));
    }
    plans
}

/// Every attribute of Table E.1-1 (and of dcmask's presence rules) in a CT image of a
/// person, a CT image of an animal and an SR document: no plan may add a dciodvfy error
/// to what the input already has. No allow-list: the input is made here, so a new error
/// is always dcmask's.
#[test]
fn every_table_row_in_real_iods_adds_no_dciodvfy_error() {
    if !tools_ready() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let key = key();
    let mut failures = Vec::new();
    for (iod, animal) in [(Iod::Ct, false), (Iod::Ct, true), (Iod::Sr, false)] {
        let what = format!("{iod:?} {}", if animal { "animal" } else { "human" });
        let bytes = file_of(every_row::every_row(iod, animal), EXPLICIT_VR_LE);
        let input = tmp
            .path()
            .join(format!("every-row-{what}.dcm").replace(' ', "-"));
        std::fs::write(&input, &bytes).unwrap();
        let before = dciodvfy_errors(&input);
        for (name, plan) in every_plan() {
            let run = deid_bytes(&bytes, &plan, &key).expect("de-identifies");
            let output = tmp
                .path()
                .join(format!("every-row-{what}-{name}.out.dcm").replace(' ', "-"));
            std::fs::write(&output, &run.bytes).unwrap();
            if let Some(p) = dcmdump_problem(&output) {
                failures.push(format!("{what} [{name}]: {p}"));
            }
            for e in dciodvfy_errors(&output).difference(&before) {
                failures.push(format!("{what} [{name}]: new dciodvfy error: {e}"));
            }
        }
    }
    for f in &failures {
        eprintln!("  FAIL {f}");
    }
    assert!(
        failures.is_empty(),
        "{} new errors (see above)",
        failures.len()
    );
}

#[test]
fn error_normalisation_ignores_values_and_uids_only() {
    let a = "Error - Value invalid - (0x0008,0x0020) DA Study Date DA [1] = <2005> - bad";
    let b = "Error - Value invalid - (0x0008,0x0020) DA Study Date DA [1] = <1900> - bad";
    assert_eq!(normalise(a), normalise(b));
    assert_eq!(
        normalise("Error - not listed but have IMAGE ReferencedSOPInstanceUID 0"),
        normalise("Error - not listed but have IMAGE ReferencedSOPInstanceUID 2.25.1234")
    );
    assert_eq!(
        normalise("Error - Illegal root for UID - 1.2.3.4 in (0x0002,0x0012)"),
        normalise("Error - Illegal root for UID - 2.25.9 in (0x0002,0x0012)")
    );
    // Different attributes or modules stay different.
    assert_ne!(
        normalise("Error - Missing attribute Type 1 Required Element=<A> Module=<M>"),
        normalise("Error - Missing attribute Type 1 Required Element=<B> Module=<M>")
    );
    assert!(known("x.dcm", "Error - something new").is_none());
}
