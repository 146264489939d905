//! The one place every test finds the shared real-world corpus: `DCMASK_CORPUS`, else
//! `../shared/corpus` beside the repository. When it is missing a test that needs it is
//! skipped loudly on a developer's machine, and fails under `CI`, which always has it:
//! a test must not pass by checking nothing. Included by path from each test crate.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The corpus folder, or `None` (said loudly) when it is missing outside CI.
pub fn dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("DCMASK_CORPUS") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    };
    if dir.is_dir() {
        return Some(dir);
    }
    let why = format!(
        "the DICOM corpus is missing at {} (set DCMASK_CORPUS)",
        dir.display()
    );
    assert!(std::env::var_os("CI").is_none(), "{why}");
    eprintln!("\n!!!!! SKIPPED: {why} (under CI this fails) !!!!!\n");
    None
}

/// A file of the corpus by its path inside it, when the corpus is there.
pub fn file(rel: &str) -> Option<PathBuf> {
    let path = dir()?.join(rel);
    assert!(path.is_file(), "the corpus has no {rel}");
    Some(path)
}

/// Every file under `dir` but the corpus's README and checksums, sorted.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    fn visit(d: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                visit(&p, out);
            } else if !matches!(
                p.file_name().and_then(|n| n.to_str()),
                Some("README.md" | "SHA256SUMS")
            ) {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    visit(dir, &mut out);
    out
}
