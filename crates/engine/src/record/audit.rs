//! The audit trail: an append-only log, one JSON line per event (an Apply, an edit, an
//! export in the workbench; a batch run), hash-chained so that a changed, removed or
//! reordered entry shows.
//!
//! - Each line is an [`Entry`] serialised with `seq` (1, 2, ... in order), `prev` (the
//!   `hash` of the line before; [`ANCHOR`] for the first) and `hash`, the SHA-256 of the
//!   line as written up to `,"hash":` closed by `}`. A changed entry no longer matches its
//!   hash; a changed and re-hashed one breaks the next line's `prev`; a removed or moved
//!   one breaks `seq`.
//! - What the chain cannot show alone is a log cut at its end or rewritten whole from
//!   some entry on: reports cite the head (the last `hash`), and [`verify`] checks that
//!   a cited head is still in the log.
//! - Entries hold no value of any file: times, actions, digests, counts and profile names.
//!
//! No I/O here: the caller reads the last line, appends what [`next_line`] makes, and
//! reads the whole log for [`verify`].

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The `prev` of the first entry.
pub const ANCHOR: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// SHA-256 over whatever is written to it.
#[derive(Default, Clone)]
pub struct Sha256Writer(Sha256);

impl Sha256Writer {
    /// Adds bytes to the digest.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The lowercase hex digest.
    pub fn hex(self) -> String {
        hex::encode(self.0.finalize())
    }
}

impl std::io::Write for Sha256Writer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `sha256:` and the hex SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    let mut h = Sha256Writer::default();
    h.update(bytes);
    format!("sha256:{}", h.hex())
}

/// What happened, as the caller fills it in (no value of any file).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// RFC 3339.
    pub time: String,
    /// `apply`, `edit`, `remove`, `remove_item`, `export`, `batch`, ...
    pub action: String,
    /// `dcmask` and its version.
    pub tool: String,
    /// What the action worked on or with, in words without values: a profile label, a
    /// file's neutral name and a tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// A short digest of the workbench session (never its id, which grants access).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// The configuration digest ([`crate::record::report::config_digest`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    /// A digest of the outputs ([`crate::record::report::dataset::manifest_digest`]); what it
    /// covers is said by `outputs_of`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<String>,
    /// What the `outputs` digest covers, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs_of: Option<String>,
    /// Counts: files, changed elements, failures, ...
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub counts: BTreeMap<String, u64>,
}

/// An entry as it sits in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// The entry's number, from 1, in the order appended.
    pub seq: u64,
    /// The event itself.
    #[serde(flatten)]
    pub entry: Entry,
    /// The hash of the line before (`ANCHOR` for the first).
    pub prev: String,
}

/// Why a log does not verify, naming the entry (its 1-based number, which is its line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("entry {entry}: {problem}")]
pub struct Broken {
    /// The 1-based number of the first entry that does not verify.
    pub entry: u64,
    /// What is wrong with it, in words.
    pub problem: String,
}

/// A log that verifies: how many entries, and the last one's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chain {
    /// Entries in the log.
    pub entries: u64,
    /// [`ANCHOR`] for an empty log.
    pub head: String,
}

const HASH_KEY: &str = ",\"hash\":\"";
/// `sha256:` and 64 hex digits.
const HASH_LEN: usize = 7 + 64;

/// Splits a line into the part its hash covers (with `}` put back) and the hash.
fn split_line(line: &str) -> Option<(String, &str)> {
    let rest = line.strip_suffix("\"}")?;
    let at = rest.len().checked_sub(HASH_LEN)?;
    let hash = rest.get(at..)?;
    let body = rest.get(..at)?.strip_suffix(HASH_KEY)?;
    let valid = hash.strip_prefix("sha256:").is_some_and(|h| {
        h.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    valid.then(|| (format!("{body}}}"), hash))
}

/// The line (without its newline) that follows `last` (the log's last line, `None` for
/// an empty log) for `entry`. Fails when `last` is not an entry: appending to a damaged
/// log would hide the damage.
pub fn next_line(last: Option<&str>, entry: Entry) -> Result<String, Broken> {
    let (seq, prev) = match last {
        None => (1, ANCHOR.to_string()),
        Some(line) => {
            let (body, hash) = split_line(line).ok_or_else(|| Broken {
                entry: 0,
                problem: "the last line of the log is not a dcmask audit entry".into(),
            })?;
            let l: Line = serde_json::from_str(&body).map_err(|_| Broken {
                entry: 0,
                problem: "the last line of the log is not a dcmask audit entry".into(),
            })?;
            if sha256(body.as_bytes()) != hash {
                return Err(Broken {
                    entry: l.seq,
                    problem: "changed: its hash does not match its content".into(),
                });
            }
            (l.seq + 1, hash.to_string())
        }
    };
    let body = serde_json::to_string(&Line { seq, entry, prev }).expect("an entry serialises");
    let hash = sha256(body.as_bytes());
    let open = body.strip_suffix('}').expect("a JSON object");
    Ok(format!("{open}{HASH_KEY}{hash}\"}}"))
}

/// Checks every line of a log: each is an entry whose hash matches its content, numbered
/// in order and chained to the one before. With `head`, also that an entry with that
/// hash is in the log (a report cited it: a log cut after it would not show otherwise).
pub fn verify(log: &str, head: Option<&str>) -> Result<Chain, Broken> {
    let mut prev = ANCHOR.to_string();
    let mut n = 0u64;
    let mut cited = head.is_none() || head == Some(ANCHOR);
    let lines: Vec<&str> = log.split_inclusive('\n').collect();
    for raw in lines {
        n += 1;
        let broken = |problem: String| Broken { entry: n, problem };
        let Some(line) = raw.strip_suffix('\n') else {
            return Err(broken(
                "incomplete: the log ends inside it (an interrupted write, or a cut)".into(),
            ));
        };
        let (body, hash) =
            split_line(line).ok_or_else(|| broken("not a dcmask audit entry".into()))?;
        if sha256(body.as_bytes()) != hash {
            return Err(broken(
                "changed: its hash does not match its content".into(),
            ));
        }
        let l: Line =
            serde_json::from_str(&body).map_err(|_| broken("not a dcmask audit entry".into()))?;
        if l.seq != n {
            return Err(broken(format!(
                "it says it is entry {}: entries were removed, reordered or repeated",
                l.seq
            )));
        }
        if l.prev != prev {
            return Err(broken(match n {
                1 => "the first entry is not anchored: entries before it were removed".into(),
                _ => format!(
                    "it does not follow entry {}: an entry was changed and re-hashed, or replaced",
                    n - 1
                ),
            }));
        }
        if head == Some(hash) {
            cited = true;
        }
        prev = hash.to_string();
    }
    if !cited {
        return Err(Broken {
            entry: n + 1,
            problem: format!(
                "the head {} is not in the log: entries were removed from its end, or the log was rewritten",
                head.unwrap_or_default()
            ),
        });
    }
    Ok(Chain {
        entries: n,
        head: prev,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(action: &str, files: u64) -> Entry {
        Entry {
            time: "2026-01-01T10:00:00+01:00".into(),
            action: action.into(),
            tool: "dcmask test".into(),
            config: Some(sha256(b"plan")),
            counts: BTreeMap::from([("files".to_string(), files)]),
            ..Entry::default()
        }
    }

    fn log(n: u64) -> Vec<String> {
        let mut lines: Vec<String> = Vec::new();
        for i in 0..n {
            let line = next_line(lines.last().map(String::as_str), entry("apply", i)).unwrap();
            lines.push(line);
        }
        lines
    }

    fn text(lines: &[String]) -> String {
        lines.iter().map(|l| format!("{l}\n")).collect()
    }

    fn head(line: &str) -> String {
        split_line(line).unwrap().1.to_string()
    }

    #[test]
    fn an_intact_log_verifies_and_names_its_head() {
        let lines = log(4);
        let chain = verify(&text(&lines), None).unwrap();
        assert_eq!(chain.entries, 4);
        assert_eq!(chain.head, head(&lines[3]));
        assert!(verify(&text(&lines), Some(&head(&lines[1]))).is_ok());
        assert_eq!(verify("", None).unwrap().head, ANCHOR);
        // Each line is an entry of its own, readable as JSON.
        let v: serde_json::Value = serde_json::from_str(&lines[2]).unwrap();
        assert_eq!(v["seq"], 3);
        assert_eq!(v["prev"], head(&lines[1]));
        assert_eq!(v["counts"]["files"], 2);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&lines[0]).unwrap()["prev"],
            ANCHOR
        );
    }

    #[test]
    fn a_changed_entry_is_named() {
        let mut lines = log(4);
        lines[1] = lines[1].replace("\"files\":1", "\"files\":7");
        assert_eq!(verify(&text(&lines), None).unwrap_err().entry, 2);
        // Changed and re-hashed: the next entry no longer follows it.
        let mut lines = log(4);
        let (body, _) = split_line(&lines[1]).unwrap();
        let body = body.replace("\"files\":1", "\"files\":7");
        let open = body.strip_suffix('}').unwrap();
        lines[1] = format!("{open}{HASH_KEY}{}\"}}", sha256(body.as_bytes()));
        let e = verify(&text(&lines), None).unwrap_err();
        assert_eq!(e.entry, 3, "{e}");
        assert!(e.problem.contains("does not follow entry 2"), "{e}");
    }

    #[test]
    fn a_removed_or_reordered_entry_is_named() {
        let mut lines = log(5);
        lines.remove(2);
        let e = verify(&text(&lines), None).unwrap_err();
        assert_eq!(e.entry, 3, "{e}");
        let mut lines = log(5);
        lines.swap(1, 2);
        assert_eq!(verify(&text(&lines), None).unwrap_err().entry, 2);
        let mut lines = log(3);
        lines.remove(0);
        assert_eq!(verify(&text(&lines), None).unwrap_err().entry, 1);
        // The last entry removed: only the cited head shows it.
        let lines = log(4);
        let cited = head(&lines[3]);
        let e = verify(&text(&lines[..3]), Some(&cited)).unwrap_err();
        assert!(e.problem.contains("is not in the log"), "{e}");
        // A cut inside a line.
        let t = text(&lines);
        let e = verify(&t[..t.len() - 10], None).unwrap_err();
        assert_eq!(e.entry, 4);
    }

    #[test]
    fn appending_to_a_damaged_log_is_refused() {
        let lines = log(2);
        let changed = lines[1].replace("apply", "apply!");
        assert!(next_line(Some(&changed), entry("export", 1)).is_err());
        assert!(next_line(Some("garbage"), entry("export", 1)).is_err());
    }
}
