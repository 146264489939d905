//! The linkage folder: everything of a run that links the de-identified files back to the
//! patients, kept apart from OUTDIR so that OUTDIR can be shared as it is.
//!
//! `--linkage DIR`, by default `OUTDIR.linkage` next to OUTDIR. It holds the identifier
//! mappings (`uid_mapping.csv`, `patid_mapping.csv`), the input path of every file
//! (`paths.csv`: real archives name folders and files after the patient), the resume
//! journal and a README saying what the folder is. It is created readable by the user
//! only (0700, files 0600). It is never inside OUTDIR or an input, nor OUTDIR inside it,
//! judged by file-system identity ([`super::place`]), not by spelling.

use super::place::Place;
use super::report::{self, FileReport, Status};
use anyhow::{bail, Context, Result};
use dcmask_engine::Mappings;
use dcmask_engine::{inert, mapping_csv};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub const UID_MAPPING: &str = "uid_mapping.csv";
pub const PATID_MAPPING: &str = "patid_mapping.csv";
pub const PATHS: &str = "paths.csv";
pub const README: &str = "README.txt";

/// `OUTDIR.linkage` beside OUTDIR (`-o /data/out` gives `/data/out.linkage`).
pub fn default_for(out: &Path) -> Result<PathBuf> {
    let named = match out.file_name() {
        Some(_) => out.to_path_buf(),
        // `.`, `..`, a path ending in `..`: name it by the folder it is.
        None => super::layout::resolve(out)?,
    };
    let Some(name) = named.file_name() else {
        bail!(
            "the output folder {} has no name to put a linkage folder beside: give --linkage DIR",
            out.display()
        );
    };
    let mut name = name.to_os_string();
    name.push(".linkage");
    Ok(named.with_file_name(name))
}

/// Refuses any overlap of the folders a run reads and writes: OUTDIR or the linkage
/// folder inside an input folder, an input inside either, and either inside the other.
pub fn check_places(out: &Path, linkage: &Path, inputs: &[PathBuf]) -> Result<()> {
    let out_p = Place::of(out)?;
    let link_p = Place::of(linkage)?;
    for input in inputs {
        let in_p = Place::of(input)?;
        if input.is_dir() && out_p.within(&in_p) {
            bail!(
                "the output folder {} is inside the input folder {}: dcmask never writes into an input; choose an output folder elsewhere",
                out.display(),
                input.display()
            );
        }
        if input.is_dir() && link_p.within(&in_p) {
            bail!(
                "the linkage folder {} is inside the input folder {}: dcmask never writes into an input; choose a --linkage folder elsewhere",
                linkage.display(),
                input.display()
            );
        }
        if in_p.within(&out_p) {
            bail!(
                "the input {} is inside the output folder {}: choose an output folder elsewhere",
                input.display(),
                out.display()
            );
        }
        if in_p.within(&link_p) {
            bail!(
                "the input {} is inside the linkage folder {}: choose a --linkage folder elsewhere",
                input.display(),
                linkage.display()
            );
        }
    }
    if link_p.within(&out_p) {
        bail!(
            "the linkage folder {} is inside the output folder {}: it holds the original identifiers and must not travel with the data; choose a --linkage folder outside it",
            linkage.display(),
            out.display()
        );
    }
    if out_p.within(&link_p) {
        bail!(
            "the output folder {} is inside the linkage folder {}: the data would travel with the identifiers; choose folders side by side",
            out.display(),
            linkage.display()
        );
    }
    Ok(())
}

/// Creates the folder readable by the user only (an existing one is left as it is until
/// [`restrict`]: it may not be dcmask's).
pub fn create(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => {
            Err(e).with_context(|| format!("cannot create the linkage folder {}", dir.display()))
        }
    }
}

/// Sets the folder, known to be this run's (empty or holding its journal), to 0700: an
/// existing one may be wider.
pub fn restrict(dir: &Path) -> Result<()> {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot restrict the linkage folder {}", dir.display()))
}

/// What the folder is, for whoever finds it. The same run writes the same text.
pub fn readme(outdir: &Path, key_fingerprint: &str) -> String {
    format!(
        "\
dcmask linkage folder
=====================

This folder belongs to the de-identified output folder
    {outdir}
written by `dcmask anonymize` (dcmask {version}, key fingerprint {key_fingerprint}).

IT CONTAINS ORIGINAL IDENTIFIERS. With it, the de-identified files can be traced
back to every patient:

    uid_mapping.csv     original UID -> new UID                (id_old,id_new)
    patid_mapping.csv   original Patient ID -> new Patient ID  (id_old,id_new)
    paths.csv           every input file by the path it had (folder and file
                        names often carry names and record numbers) -> its
                        output file, status and reason. Its `ref` column is the
                        `input_ref` of each file in the output's report.json.
    journal.jsonl       lets the same command resume an interrupted run; it holds
                        the identifier mappings too.
    audit.log           one hash-chained entry per run (time, configuration
                        digest, digest of the outputs, counts; no identifier):
                        `dcmask audit verify audit.log` shows a changed, removed
                        or reordered entry; `dcmask report` cites its head.

Who may hold it: the data custodian (whoever is responsible for the original
data), stored with the same care as the originals. Never the recipient of the
de-identified data.

It must not travel with the data. Share the output folder only: its files and
report.json name no input path and hold no original identifier. Keep this folder
apart, on the custodian's side, and delete it once the link back to the
patients is no longer needed (the de-identified files do not depend on it; an
interrupted run can then no longer be resumed).

The pseudonym key is not in this folder, but it links back too: anyone holding
it can test guesses of original UIDs and Patient IDs. Keep it as carefully.

Opening the CSV files in a spreadsheet: in every one of them, a cell that would
start with = + - @ ' a tab or a carriage return has a ' put in front, so that a
spreadsheet shows it as text instead of evaluating it as a formula (a Patient ID
or a file may be named \"=HYPERLINK(...)\"). Remove that first ' to get the exact
value; every other cell is exactly as the files held it.
",
        outdir = outdir.display(),
        version = env!("CARGO_PKG_VERSION"),
    )
}

/// One row per input file: `ref,input,relative,output,status,reason`. `input` is the
/// command-line input as the user gave it, `relative` the path under it; `ref` is the
/// file's `input_ref` in report.json. Cells are neutralised against spreadsheet formulas.
pub fn paths_csv(files: &[FileReport], inputs: &[PathBuf]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["ref", "input", "relative", "output", "status", "reason"])?;
    for f in files {
        let input = inputs[f.root].to_string_lossy();
        let status = match f.status {
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
        };
        w.write_record([
            f.input_ref.to_string().as_str(),
            &inert(&input),
            &inert(&f.input),
            &inert(f.output.as_deref().unwrap_or("")),
            status,
            &inert(f.reason.as_deref().unwrap_or("")),
        ])?;
    }
    w.into_inner().context("cannot write the path list")
}

/// Writes the mappings, the path list and the README into the linkage folder (0600).
pub fn write_all(
    dir: &Path,
    maps: &Mappings,
    files: &[FileReport],
    inputs: &[PathBuf],
) -> Result<()> {
    report::write_atomic(dir, UID_MAPPING, &mapping_csv(&maps.uids), true)?;
    report::write_atomic(dir, PATID_MAPPING, &mapping_csv(&maps.patient_ids), true)?;
    report::write_atomic(dir, PATHS, &paths_csv(files, inputs)?, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_beside_the_output() {
        assert_eq!(
            default_for(Path::new("/data/out")).unwrap(),
            PathBuf::from("/data/out.linkage")
        );
        assert_eq!(
            default_for(Path::new("/data/out/")).unwrap(),
            PathBuf::from("/data/out.linkage")
        );
        assert_eq!(
            default_for(Path::new("out")).unwrap(),
            PathBuf::from("out.linkage")
        );
        let here = default_for(Path::new(".")).unwrap();
        assert!(here.is_absolute() && here.to_string_lossy().ends_with(".linkage"));
        assert!(default_for(Path::new("/")).is_err());
    }
}
