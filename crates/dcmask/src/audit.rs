//! The audit trail on disk: `audit.log`, the engine's hash-chained JSON lines
//! ([`dcmask_engine::audit`]), appended by every workbench Apply, edit and export and by
//! every `dcmask anonymize` run; `dcmask audit verify LOG` checks it.
//!
//! - **Where**: the workbench's in its data directory (`$DCMASK_DATA_DIR`, beside the
//!   key): it has no output folder, and the data directory outlives sessions and
//!   servers, so one log holds every session's entries. A batch run's in its linkage
//!   folder: that folder stays with the data custodian (0700) and is never inside
//!   OUTDIR, so whoever receives the data cannot rewrite the log of how it was made,
//!   and reruns into the same OUTDIR append to the same log.
//! - **Appending** takes an exclusive lock of the file (two servers on one data
//!   directory), reads its last line, writes the next one and syncs it. A log whose last
//!   line is damaged is not appended to: that would bury the damage.
//! - Entries name no path and hold no value: times, actions, profile labels, neutral
//!   file names, digests and counts.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use dcmask_engine::audit::{self, Chain, Entry, Sha256Writer};
use dcmask_engine::report::dataset::{manifest_digest, ManifestEntry};
use dcmask_engine::report::AuditHead;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub const NAME: &str = "audit.log";

/// The longest line read back as the last one (entries are a few hundred bytes).
const TAIL: u64 = 64 * 1024;

/// One audit log.
#[derive(Debug, Clone)]
pub struct Log {
    path: PathBuf,
    /// How reports name it (never its path).
    what: &'static str,
}

/// A new entry of `action`, now, by this dcmask.
pub fn entry(action: &str) -> Entry {
    Entry {
        time: chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        action: action.to_string(),
        tool: format!("dcmask {}", env!("CARGO_PKG_VERSION")),
        ..Entry::default()
    }
}

impl Log {
    pub fn at(path: PathBuf, what: &'static str) -> Log {
        Log { path, what }
    }

    /// The workbench's, in the data directory beside the key.
    pub fn workbench() -> Log {
        Log::at(
            crate::data_dir().join(NAME),
            "the workbench's audit log (in its data directory)",
        )
    }

    /// Appends `entry`; returns its number and hash.
    pub fn append(&self, entry: Entry) -> std::io::Result<(u64, String)> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut opts = OpenOptions::new();
        opts.read(true).append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&self.path)?;
        f.lock()?;
        let last = last_line(&mut f)?;
        let line = audit::next_line(last.as_deref(), entry).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("the audit log does not verify ({e}); nothing was appended"),
            )
        })?;
        f.write_all(format!("{line}\n").as_bytes())?;
        f.sync_data()?;
        let parsed: audit::Line = serde_json::from_str(&line).map_err(std::io::Error::other)?;
        let hash = line
            .rsplit_once("\"hash\":\"")
            .map(|(_, h)| h.trim_end_matches("\"}").to_string())
            .unwrap_or_default();
        Ok((parsed.seq, hash))
    }

    /// The whole log checked; a log not written yet is an empty chain.
    pub fn check(&self) -> Result<Chain, String> {
        let text = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(format!("cannot be read: {}", e.kind())),
        };
        let text = String::from_utf8(text).map_err(|_| "is not text".to_string())?;
        audit::verify(&text, None).map_err(|e| e.to_string())
    }

    /// What a report says of the log now; `entry` is what the report stands on.
    pub fn head(&self, entry: Option<String>) -> AuditHead {
        match self.check() {
            Ok(chain) => AuditHead {
                log: self.what.to_string(),
                entries: chain.entries,
                head: chain.head,
                problem: None,
                entry,
            },
            Err(problem) => AuditHead {
                log: self.what.to_string(),
                entries: 0,
                head: String::new(),
                problem: Some(problem),
                entry,
            },
        }
    }

    /// The last entry of `action`, with its number.
    pub fn last_of(&self, action: &str) -> Option<(u64, audit::Line)> {
        let text = std::fs::read_to_string(&self.path).ok()?;
        text.lines()
            .filter_map(|l| serde_json::from_str::<audit::Line>(l).ok())
            .filter(|l| l.entry.action == action)
            .map(|l| (l.seq, l))
            .next_back()
    }
}

/// The last complete line of the file, if any.
fn last_line(f: &mut File) -> std::io::Result<Option<String>> {
    let len = f.metadata()?.len();
    if len == 0 {
        return Ok(None);
    }
    let start = len.saturating_sub(TAIL);
    f.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::new();
    f.take(TAIL).read_to_end(&mut tail)?;
    let text = String::from_utf8_lossy(&tail);
    // A partial line at the end (an interrupted write) is given as it is: the engine
    // refuses to chain to it.
    let body = text.strip_suffix('\n').unwrap_or(&text);
    let last = match body.rsplit_once('\n') {
        Some((_, l)) => l,
        None if start == 0 => body,
        None => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the audit log's last line is too long to be an entry",
            ))
        }
    };
    Ok(Some(if text.ends_with('\n') {
        last.to_string()
    } else {
        format!("{last} (incomplete)")
    }))
}

/// The hex SHA-256 of a file's bytes, read in chunks.
pub fn file_sha256(path: &Path) -> std::io::Result<String> {
    let mut f = File::open(path)?;
    let mut h = Sha256Writer::default();
    std::io::copy(&mut f, &mut h)?;
    Ok(h.hex())
}

/// The manifest of files under `root` named by their `/`-separated relative paths, read
/// in parallel.
pub fn manifest(root: &Path, names: &[&str]) -> std::io::Result<Vec<ManifestEntry>> {
    names
        .par_iter()
        .with_max_len(1)
        .map(|name| {
            let path = name.split('/').fold(root.to_path_buf(), |p, c| p.join(c));
            Ok(ManifestEntry {
                name: name.to_string(),
                sha256: file_sha256(&path)?,
            })
        })
        .collect()
}

/// The entry of one `dcmask anonymize` run, in the linkage folder's log: the plan's
/// configuration digest, the digest of the outputs written (by output path), the counts.
pub fn record_batch(
    linkage: &Path,
    outdir: &Path,
    outputs: &[&str],
    plan: &dcmask_engine::Plan,
    key_fingerprint: &str,
    counts: &serde_json::Value,
) -> Result<()> {
    let files = manifest(outdir, outputs).context("cannot digest the outputs for the audit log")?;
    let mut e = entry("batch");
    e.subject = Some(plan.label());
    e.config = Some(dcmask_engine::report::config_digest(
        &plan.shareable_json(),
        key_fingerprint,
    ));
    e.outputs = Some(manifest_digest(&files));
    e.outputs_of = Some("the files written (status ok in report.json), by output path".into());
    e.counts = numbers(counts);
    Log::at(
        linkage.join(NAME),
        "the run's audit log (in its linkage folder)",
    )
    .append(e)
    .with_context(|| format!("cannot append to {}", linkage.join(NAME).display()))?;
    Ok(())
}

/// The whole-number fields of a JSON object.
pub fn numbers(v: &serde_json::Value) -> BTreeMap<String, u64> {
    v.as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_u64()?)))
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub action: AuditAction,
}

#[derive(Subcommand)]
pub enum AuditAction {
    /// Check that no entry of an audit log was changed, removed or reordered.
    Verify {
        /// The log: `audit.log` in a run's linkage folder, or in the workbench's data
        /// directory.
        log: PathBuf,
        /// The head a report cites (`sha256:...`): also check the log still holds it (an
        /// entry removed from the end shows only so).
        #[arg(long, value_name = "HASH")]
        head: Option<String>,
    },
}

/// Exit code 0: intact; 1: an entry changed, removed or reordered (named); 2: not read.
pub fn run(args: AuditArgs) -> Result<ExitCode> {
    let AuditAction::Verify { log, head } = args.action;
    if !log.is_file() {
        bail!("{} is not a file", log.display());
    }
    let text = std::fs::read(&log).with_context(|| format!("cannot read {}", log.display()))?;
    let Ok(text) = String::from_utf8(text) else {
        println!("dcmask audit: {} is not a text log", log.display());
        return Ok(ExitCode::from(1));
    };
    match audit::verify(&text, head.as_deref()) {
        Ok(chain) => {
            println!(
                "dcmask audit: {} entries, intact; head {}",
                chain.entries, chain.head
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("dcmask audit: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_chain_and_a_damaged_log_is_not_appended_to() {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::at(dir.path().join(NAME), "test");
        assert_eq!(log.check().unwrap().entries, 0);
        let (n1, h1) = log.append(entry("apply")).unwrap();
        let (n2, h2) = log.append(entry("export")).unwrap();
        assert_eq!((n1, n2), (1, 2));
        let chain = log.check().unwrap();
        assert_eq!((chain.entries, chain.head.as_str()), (2, h2.as_str()));
        assert_ne!(h1, h2);
        assert_eq!(log.last_of("apply").unwrap().0, 1);
        assert_eq!(log.head(None).entries, 2);
        // A cut in the last line: appending stops, the check names it.
        let text = std::fs::read_to_string(dir.path().join(NAME)).unwrap();
        std::fs::write(dir.path().join(NAME), &text[..text.len() - 5]).unwrap();
        let e = log.append(entry("apply")).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
        assert!(log.check().unwrap_err().starts_with("entry 2"));
        assert!(log.head(None).problem.is_some());
    }
}
