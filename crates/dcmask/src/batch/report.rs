//! `report.json`, `uid_mapping.csv`, `patid_mapping.csv` and the summaries.
//!
//! The report holds counts, decisions and, per file, the input path relative to its
//! command-line input (the user supplied it; it may name a patient, so the report is
//! written readable by the user only), the output path, status and reason. It holds no
//! value from any file and no timestamp: the same run gives the same report.

use anyhow::{Context, Result};
use dcmask_engine::Mappings;
use serde::Serialize;
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
    /// Index of the command-line input the file was found under.
    pub root: usize,
    /// Path relative to that input.
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
    pub files: &'a [FileReport],
}

#[derive(Serialize)]
pub struct RegionRuleCount {
    pub shipped: usize,
    pub user: usize,
}

/// Writes `bytes` to `dir/name` through a temporary file and a rename.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8], private: bool) -> Result<()> {
    let tmp = dir.join(format!(".{name}.part"));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut f = opts
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(bytes)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    drop(f);
    let dest = dir.join(name);
    std::fs::rename(&tmp, &dest).with_context(|| format!("cannot write {}", dest.display()))
}

/// `id_old,id_new` lines, sorted by the original.
pub fn mapping_csv(map: &BTreeMap<String, String>) -> Vec<u8> {
    let mut out = String::from("id_old,id_new\n");
    for (old, new) in map {
        out.push_str(&csv_field(old));
        out.push(',');
        out.push_str(&csv_field(new));
        out.push('\n');
    }
    out.into_bytes()
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub fn write_mappings(outdir: &Path, maps: &Mappings) -> Result<()> {
    write_atomic(outdir, "uid_mapping.csv", &mapping_csv(&maps.uids), true)?;
    write_atomic(
        outdir,
        "patid_mapping.csv",
        &mapping_csv(&maps.patient_ids),
        true,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_when_needed() {
        let mut m = BTreeMap::new();
        m.insert("A,1".to_string(), "X".to_string());
        m.insert("B\"2".to_string(), "Y".to_string());
        m.insert("1.2.3".to_string(), "2.25.1".to_string());
        assert_eq!(
            String::from_utf8(mapping_csv(&m)).unwrap(),
            "id_old,id_new\n1.2.3,2.25.1\n\"A,1\",X\n\"B\"\"2\",Y\n"
        );
    }
}
