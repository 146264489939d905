//! The resume journal, `journal.jsonl` in the linkage folder ([`super::linkage`]), never in
//! OUTDIR: one JSON line per finished file.
//!
//! A line is appended after the file's output was renamed into place, so a line means
//! "this output is complete" (lines are buffered: one lost to an interruption only means
//! that file is done again). A rerun with the same command skips a file whose
//! line matches (same input path, size and modification time) and whose output still
//! exists, and takes its report entry, counts and identifier mappings from the line: the
//! report and mapping files of a resumed run are the same as those of an uninterrupted one.
//! A torn last line (killed mid-write) is ignored. A file that was renamed but not yet
//! journaled is simply done again (same bytes).
//!
//! The first line holds a keyed fingerprint of the configuration (dcmask version, plan,
//! key, naming, inputs, output folder); a run with another configuration refuses to write
//! into the folders. Inputs are identified by a keyed hash of their relative path, not the path.
//! The journal holds the identifier mappings (originals!) like `uid_mapping.csv`; it is
//! created readable by the user only. Nothing is fsynced: the guarantee covers
//! interruption of the process (Ctrl-C, kill, crash), not loss of power.

use anyhow::{bail, Context, Result};
use dcmask_engine::Key;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub const NAME: &str = "journal.jsonl";
/// Where dcmask kept its journal before the linkage folder existed: inside OUTDIR.
pub const OLD_DIR: &str = ".dcmask";
/// 2: in the linkage folder, lines carry `burned_in`.
const FORMAT: u32 = 2;

#[derive(Serialize, Deserialize)]
struct Head {
    dcmask_journal: u32,
    config: String,
}

/// One finished file, as journaled.
#[derive(Serialize, Deserialize, Clone, Default)]
pub struct Done {
    /// Keyed hash of the input's root index and relative path.
    pub k: String,
    pub size: u64,
    pub mtime: u64,
    /// Output path relative to OUTDIR, `/`-separated.
    pub out: String,
    pub changed: u64,
    pub bytes_out: u64,
    pub mode: String,
    pub actions: BTreeMap<String, u64>,
    pub rules: BTreeMap<String, u64>,
    /// Regions blanked in the pixels, and why text may remain (Clean Pixel Data).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pixel_boxes: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pixel_warnings: Vec<String>,
    /// What the report must say of the file (burned-in text, incomplete, leak guard).
    #[serde(flatten)]
    pub notes: super::report::Notes,
    pub uids: Vec<(String, String)>,
    pub pids: Vec<(String, String)>,
    /// This input's earlier line no longer holds (its output was taken by another input).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub void: bool,
    /// Digest of the identifying values of the patient's other files this output was
    /// de-identified with ([`super::patients`]); absent for a file's first pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub related: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Lines are buffered and written 64 KiB at a time: a line lost to an interruption only
/// means that file is done again, with the same bytes.
pub struct Journal {
    file: Mutex<BufWriter<File>>,
    path: PathBuf,
}

/// Opens (or starts) the journal in the `linkage` folder for `outdir`, locking it against
/// a concurrent run, and returns the finished files of earlier runs by input hash. Without
/// a journal both folders must be empty: dcmask writes only into its own run.
pub fn open(
    linkage: &Path,
    outdir: &Path,
    config: &str,
) -> Result<(Journal, HashMap<String, Done>)> {
    let path = linkage.join(NAME);
    if !path.exists() {
        if !is_empty(outdir)? {
            bail!(
                "the output folder {} is not empty and the linkage folder {} holds no dcmask run: choose a new or empty output folder (or give the --linkage folder of the run that wrote it)",
                outdir.display(),
                linkage.display()
            );
        }
        if !is_empty(linkage)? {
            bail!(
                "the linkage folder {} is not empty and holds no dcmask run: choose a new or empty folder for --linkage",
                linkage.display()
            );
        }
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true).append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut file = opts
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    if file.try_lock().is_err() {
        bail!(
            "another dcmask run is writing into {}: wait for it to finish",
            linkage.display()
        );
    }
    let mut done = HashMap::new();
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut lines = bytes.split(|&b| b == b'\n');
    match lines.next().filter(|l| !l.is_empty()) {
        None => {
            let head = serde_json::to_string(&Head {
                dcmask_journal: FORMAT,
                config: config.to_string(),
            })?;
            file.write_all(format!("{head}\n").as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Some(first) => {
            if !bytes.ends_with(b"\n") {
                // End the torn line so the next one starts clean.
                file.write_all(b"\n").context("cannot write the journal")?;
            }
            match serde_json::from_slice::<Head>(first) {
                Ok(h) if h.dcmask_journal == FORMAT && h.config == config => {}
                _ => bail!(
                    "the linkage folder {} holds a dcmask run with other inputs, output folder, profile, options, naming, key or dcmask version: choose new folders (or delete both to start over)",
                    linkage.display()
                ),
            }
            done = finished(lines, |_| true);
        }
    }
    Ok((
        Journal {
            file: Mutex::new(BufWriter::with_capacity(64 * 1024, file)),
            path,
        },
        done,
    ))
}

/// The last line of each input among `lines` (those `wanted` keeps), voided ones left out.
fn finished<'a>(
    lines: impl Iterator<Item = &'a [u8]>,
    wanted: impl Fn(&str) -> bool,
) -> HashMap<String, Done> {
    let mut done = HashMap::new();
    for line in lines {
        // A torn line from an interrupted run is not JSON: skip it.
        if let Ok(d) = serde_json::from_slice::<Done>(line) {
            if !wanted(&d.k) {
                continue;
            }
            if d.void {
                done.remove(&d.k);
            } else {
                done.insert(d.k.clone(), d);
            }
        }
    }
    done
}

fn is_empty(dir: &Path) -> Result<bool> {
    Ok(std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the folder {}", dir.display()))?
        .next()
        .is_none())
}

impl Journal {
    pub fn append(&self, done: &Done) -> Result<()> {
        let mut line = serde_json::to_vec(done)?;
        line.push(b'\n');
        let mut f = self.file.lock().expect("journal lock");
        f.write_all(&line).context("cannot write the journal")
    }

    pub fn flush(&self) -> Result<()> {
        let mut f = self.file.lock().expect("journal lock");
        f.flush().context("cannot write the journal")
    }

    /// The lines written so far (this run's and earlier ones') for these inputs: read
    /// back only for the few files done twice in a run.
    pub fn lines_of(&self, keys: &HashSet<&str>) -> Result<HashMap<String, Done>> {
        self.flush()?;
        let bytes = std::fs::read(&self.path)
            .with_context(|| format!("cannot read {}", self.path.display()))?;
        Ok(finished(bytes.split(|&b| b == b'\n').skip(1), |k| {
            keys.contains(k)
        }))
    }
}

/// The journal key of an input: a keyed hash, so the journal names no input path.
pub fn input_key(key: &Key, root: usize, rel: &Path) -> String {
    let mut msg = root.to_string().into_bytes();
    msg.push(0);
    msg.extend_from_slice(rel.as_os_str().as_encoded_bytes());
    hex(&key.mac_in("dcmask batch input", &msg)[..16])
}

/// A keyed fingerprint of everything that decides the output.
pub fn config_fingerprint(key: &Key, parts: &serde_json::Value) -> String {
    hex(&key.mac_in("dcmask batch config", parts.to_string().as_bytes())[..16])
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `a/b/c` for a relative path, whatever the platform.
/// `a/b/c` for a relative path, whatever the platform. A name that is not valid UTF-8
/// keeps its other bytes as `\xNN`, so that the path list still names the file exactly.
pub fn slash_path(p: &Path) -> String {
    let mut out = String::new();
    for (i, c) in p.components().enumerate() {
        if i > 0 {
            out.push('/');
        }
        for chunk in c.as_os_str().as_encoded_bytes().utf8_chunks() {
            out.push_str(chunk.valid());
            for b in chunk.invalid() {
                out.push_str(&format!("\\x{b:02X}"));
            }
        }
    }
    out
}

pub fn path_from_slash(s: &str) -> PathBuf {
    s.split('/').collect()
}
