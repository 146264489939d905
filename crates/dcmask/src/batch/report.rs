//! `report.json`, the shareable report of a run, and the summaries.
//!
//! The report holds counts, decisions and, per file, the output path (relative to
//! OUTDIR), status and reason. It travels with the data, so it names no input path
//! (folder and file names of archives carry names and record numbers): each file has an
//! `input_ref`, the row of the linkage folder's `paths.csv` that names its input
//! ([`super::linkage`]). It holds no value from any file, no fixed date shift (that would
//! undo the shift) and no timestamp: the same run gives the same report.

use anyhow::{Context, Result};
use dcmask_engine::Record;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

#[derive(Serialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Failed,
    Skipped,
}

/// One input file's outcome.
#[derive(Serialize, Clone)]
pub struct FileReport {
    /// The `ref` of the file's row in the linkage folder's paths.csv (1, 2, ... in walk
    /// order): the input path is only there.
    pub input_ref: usize,
    /// Index of the command-line input the file was found under (not in the report).
    #[serde(skip)]
    pub root: usize,
    /// Path relative to that input (not in the report).
    #[serde(skip)]
    pub input: String,
    /// Path relative to OUTDIR.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Elements changed or removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed: Option<u64>,
    /// Regions blanked in the pixels (Clean Pixel Data).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pixel_boxes: Option<u64>,
    /// Why burned-in text may remain (Clean Pixel Data, no region rule matched).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pixel_warnings: Vec<String>,
    #[serde(flatten)]
    pub notes: Notes,
    /// `streamed`, `in-memory: why`, or `regenerated` (a DICOMDIR).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(skip)]
    pub bytes_in: u64,
    #[serde(skip)]
    pub bytes_out: u64,
    #[serde(skip)]
    pub resumed: bool,
    #[serde(skip)]
    pub kind: SkipKind,
}

/// What kind of file it was, for the counts: why it was skipped, or a DICOMDIR (skipped,
/// or regenerated and then ok).
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
pub enum SkipKind {
    #[default]
    None,
    NotDicom,
    Dicomdir,
    Duplicate,
}

/// What the engine's record says of a written file that the user must know (kept in
/// the journal, so a resumed run reports it too).
#[derive(Serialize, Deserialize, Clone, Default, PartialEq, Eq, Debug)]
pub struct Notes {
    /// Written with pixels that may carry burned-in text: the profile does not clean them
    /// and the original header says so (see `dcmask_engine::pixel::burned_in_risk`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burned_in: Option<String>,
    /// Written although it lacks what its SOP class requires (`--allow-incomplete`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
    /// Elements in which the leak guard found an identifying value of the patient (and
    /// cleaned it, dummied it, or left it to a custom `keep`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub leaks: u64,
}

impl Notes {
    pub fn of(record: &Record) -> Notes {
        Notes {
            burned_in: record.burned_in.clone(),
            incomplete: record.incomplete.clone(),
            leaks: record.leak_count() as u64,
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Serialize, Default)]
pub struct Counts {
    pub files: u64,
    pub ok: u64,
    pub failed: u64,
    pub skipped: u64,
    pub skipped_not_dicom: u64,
    #[serde(rename = "DICOMDIR not copied: regenerate")]
    pub dicomdir_not_copied: u64,
    /// DICOMDIRs written anew from the de-identified files (counted as ok).
    pub dicomdir_regenerated: u64,
    /// Why no DICOMDIR was regenerated at all (`--name-by-uid`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dicomdir_not_regenerated: Option<&'static str>,
    pub skipped_duplicate: u64,
    pub pixel_warnings: u64,
    /// Files written whose pixels may carry burned-in text the profile did not clean.
    pub burned_in: u64,
    /// Files written although incomplete (`--allow-incomplete`).
    pub incomplete_written: u64,
    /// Files in which the leak guard found an identifying value the profile kept.
    pub leak_guard_files: u64,
    pub streamed: u64,
    pub in_memory: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

impl Counts {
    pub fn of(files: &[FileReport]) -> Counts {
        let mut c = Counts {
            files: files.len() as u64,
            ..Counts::default()
        };
        for f in files {
            match f.status {
                Status::Ok => {
                    c.ok += 1;
                    c.bytes_in += f.bytes_in;
                    c.bytes_out += f.bytes_out;
                    if f.kind == SkipKind::Dicomdir {
                        c.dicomdir_regenerated += 1;
                        continue;
                    }
                    if !f.pixel_warnings.is_empty() {
                        c.pixel_warnings += 1;
                    }
                    if f.notes.burned_in.is_some() {
                        c.burned_in += 1;
                    }
                    if f.notes.incomplete.is_some() {
                        c.incomplete_written += 1;
                    }
                    if f.notes.leaks > 0 {
                        c.leak_guard_files += 1;
                    }
                    if f.mode.as_deref() == Some("streamed") {
                        c.streamed += 1;
                    } else {
                        c.in_memory += 1;
                    }
                }
                Status::Failed => c.failed += 1,
                Status::Skipped => {
                    c.skipped += 1;
                    match f.kind {
                        SkipKind::NotDicom => c.skipped_not_dicom += 1,
                        SkipKind::Dicomdir => c.dicomdir_not_copied += 1,
                        SkipKind::Duplicate => c.skipped_duplicate += 1,
                        SkipKind::None => {}
                    }
                }
            }
        }
        c
    }
}

#[derive(Serialize)]
pub struct Report<'a> {
    pub dcmask_version: &'static str,
    pub profile: String,
    pub plan: serde_json::Value,
    pub options: Vec<&'static str>,
    pub table_edition: &'static str,
    pub key_fingerprint: String,
    /// `counter` (IMG00001.dcm) or `uid` (PATIENT/STUDY/SERIES/SOP.dcm).
    pub naming: &'static str,
    /// Pixel region rules in use (shipped and the user's), when pixels are cleaned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region_rules: Option<RegionRuleCount>,
    pub summary: &'a Counts,
    /// Elements per action, over all de-identified files.
    pub actions: &'a BTreeMap<String, u64>,
    /// Elements per rule (`source:id`), over all de-identified files.
    pub rules: &'a BTreeMap<String, u64>,
    /// Where a file's input is named: never here.
    pub input_ref: &'static str,
    pub files: &'a [FileReport],
    /// The re-identification risk of the outputs (`--risk`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk: Option<serde_json::Value>,
}

/// The report's note on `input_ref`.
pub const INPUT_REF: &str = "files[].input_ref is the `ref` column of paths.csv in the run's linkage folder, which names the input file; that folder holds original identifiers and stays with the data custodian";

/// The plan as the report shows it: a fixed date shift becomes `"fixed"` (the number of
/// days would undo the shift).
pub fn plan_json(plan: &dcmask_engine::Plan) -> Result<serde_json::Value> {
    Ok(plan.shareable_json())
}

#[derive(Serialize)]
pub struct RegionRuleCount {
    pub shipped: usize,
    pub user: usize,
}

/// Writes `bytes` to `dir/name` through a temporary file and a rename.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8], private: bool) -> Result<()> {
    let tmp = dir.join(format!(".{name}.part"));
    // A stale temporary file of an interrupted run would keep its mode: start anew.
    let _ = std::fs::remove_file(&tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut f = opts
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    let dest = dir.join(name);
    let written = f
        .write_all(bytes)
        .and_then(|()| f.sync_data())
        .map_err(anyhow::Error::from)
        .and_then(|()| std::fs::rename(&tmp, &dest).map_err(anyhow::Error::from));
    if written.is_err() {
        // Nothing partial is left behind (a full disk, say).
        let _ = std::fs::remove_file(&tmp);
    }
    written.with_context(|| format!("cannot write {}", dest.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_date_shift_is_not_reported() {
        let mut plan = dcmask_engine::Plan::builtin(dcmask_engine::ProfileId::Basic);
        plan.date_shift = Some(dcmask_engine::DateShift::Days(-37));
        let v = plan_json(&plan).unwrap();
        assert_eq!(v["date_shift"], "fixed");
        assert!(!v.to_string().contains("37"));
        plan.date_shift = Some(dcmask_engine::DateShift::Auto(
            dcmask_engine::AutoShift::Auto,
        ));
        assert_eq!(plan_json(&plan).unwrap()["date_shift"], "auto");
    }
}
