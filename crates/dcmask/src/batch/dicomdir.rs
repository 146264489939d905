//! The DICOMDIR of a media set, regenerated from the de-identified outputs
//! (see [`dcmask_engine::io::dicomdir`]); an input DICOMDIR is never copied.
//!
//! A folder holding a file named `DICOMDIR` is a media root ([`super::layout`]): the files
//! under it get output names that are valid File IDs (`DIR0001/IMG00001`). When the engine
//! refused that file as a DICOMDIR, a new one is written at the matching output folder
//! once every file is done, listing every output under the root that was written (a file
//! under a nested media root is listed by the nested one only). A DICOMDIR-like file with
//! another name stays skipped.
//!
//! The keys are read back from the outputs' headers (up to the pixel data) rather than
//! kept from processing: the DICOMDIR then holds exactly what the files on disk hold, and
//! a resumed run, whose finished files are not processed again, regenerates the same
//! DICOMDIR without the journal having to carry header values. It is written again on
//! every run, through a temporary file and a rename, from the same outputs: the same bytes.
//!
//! Not under `--name-by-uid`: UID file names are not valid File IDs.

use super::layout::{self, Item, MediaRoot};
use super::report::{self, FileReport, SkipKind, Status};
use dcmask_engine::io::dicomdir::{self, Entry};
use dicom_dictionary_std::tags;
use dicom_object::{DefaultDicomObject, OpenFileOptions};
use rayon::prelude::*;
use std::path::Path;

/// The File-set ID of every regenerated DICOMDIR: neutral, as the original's may not be.
pub const FILE_SET_ID: &str = "DEIDENTIFIED";

/// Why no DICOMDIR is regenerated under `--name-by-uid` (report.json and the summary).
pub const NOT_UNDER_NAME_BY_UID: &str = "--name-by-uid names files by UID, which are not valid File IDs (PS3.10 8.5): run without --name-by-uid to get a DICOMDIR";

/// Regenerates the DICOMDIR of every media root whose input DICOMDIR the engine refused
/// as one, and turns that input's report entry into the outcome. Returns how many media
/// roots were left without one under `--name-by-uid`.
pub fn regenerate(
    outdir: &Path,
    items: &[Item],
    roots: &[MediaRoot],
    files: &mut [FileReport],
    name_by_uid: bool,
) -> usize {
    let mut not_regenerated = 0;
    for (m, root) in roots.iter().enumerate() {
        let Some(d) = root.dicomdir else { continue };
        if files[d].status != Status::Skipped || files[d].kind != SkipKind::Dicomdir {
            continue;
        }
        if name_by_uid {
            files[d].reason = Some(format!("DICOMDIR not regenerated: {NOT_UNDER_NAME_BY_UID}"));
            not_regenerated += 1;
            continue;
        }
        let members: Vec<&str> = items
            .iter()
            .zip(files.iter())
            .filter(|(item, f)| {
                item.media == Some(m) && f.status == Status::Ok && f.kind != SkipKind::Dicomdir
            })
            .filter_map(|(_, f)| f.output.as_deref())
            .collect();
        let out_dir = super::journal::slash_path(&root.out_dir);
        let listed = members.len();
        let result = write_one(outdir, &out_dir, &members);
        let f = &mut files[d];
        match result {
            Ok((output, bytes_out)) => {
                tracing::debug!(output, files = listed, "DICOMDIR regenerated");
                f.status = Status::Ok;
                f.output = Some(output);
                f.reason = Some(format!(
                    "regenerated from the {listed} de-identified files under this folder"
                ));
                f.mode = Some("regenerated".into());
                f.bytes_out = bytes_out;
            }
            Err(why) => {
                f.status = Status::Failed;
                f.reason = Some(format!("DICOMDIR not regenerated: {why}"));
            }
        }
    }
    not_regenerated
}

/// Writes `OUTDIR/out_dir/DICOMDIR` listing `members` (output paths relative to OUTDIR);
/// returns its path relative to OUTDIR and its size.
fn write_one(outdir: &Path, out_dir: &str, members: &[&str]) -> Result<(String, u64), String> {
    let prefix = if out_dir.is_empty() {
        String::new()
    } else {
        format!("{out_dir}/")
    };
    let headers: Vec<(Vec<String>, DefaultDicomObject)> = members
        .par_iter()
        .map(|out| {
            let rel = out
                .strip_prefix(&prefix)
                .ok_or_else(|| format!("output {out} is outside its media folder"))?;
            let file_id = rel.split('/').map(str::to_string).collect();
            let header = OpenFileOptions::new()
                .read_until(tags::PIXEL_DATA)
                .open_file(outdir.join(super::journal::path_from_slash(out)))
                .map_err(|_| format!("output {out} does not read back"))?;
            Ok((file_id, dicomdir::keys_only(header)))
        })
        .collect::<Result<_, String>>()?;
    let entries: Vec<Entry> = headers
        .iter()
        .map(|(file_id, object)| Entry {
            file_id: file_id.clone(),
            object,
        })
        .collect();
    let bytes = dicomdir::to_bytes(FILE_SET_ID, &entries).map_err(|e| e.to_string())?;
    let dir = outdir.join(super::journal::path_from_slash(out_dir));
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("cannot create the output folder: {}", e.kind()))?;
    report::write_atomic(&dir, layout::DICOMDIR, &bytes, false)
        .map_err(|e| format!("cannot write it: {}", root_cause(&e)))?;
    Ok((format!("{prefix}{}", layout::DICOMDIR), bytes.len() as u64))
}

/// The I/O error kind under an anyhow context (the context names a full path).
fn root_cause(e: &anyhow::Error) -> String {
    e.downcast_ref::<std::io::Error>()
        .map(|io| io.kind().to_string())
        .unwrap_or_else(|| "write error".into())
}
