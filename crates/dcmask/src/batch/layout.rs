//! Finding the input files and giving each a neutral output name.
//!
//! The walk is sorted (by file name bytes) so the same inputs always give the same
//! layout. Every input folder maps to `DIR0001`-style names and every file to
//! `IMG00001.dcm`-style names, numbered per folder in sorted order: input names can
//! carry PHI (a folder named after the patient), output names never do. Numbers are
//! given to every regular file, DICOM or not, so a file's output name does not depend on
//! what the other files contain (the skipped ones leave gaps).
//!
//! One folder given as the only input maps to OUTDIR itself; otherwise each input folder
//! becomes a `DIR0001`-style folder of OUTDIR and each input file an `IMG00001.dcm`-style
//! file of OUTDIR, numbered in command-line order.
//!
//! A folder holding a file named `DICOMDIR` is the root of a media set: the files under it
//! are named without the extension (`IMG00001`), so that their paths from the root are
//! valid File IDs (PS3.10 8.5) for the DICOMDIR regenerated there ([`super::dicomdir`]).

use anyhow::{bail, Context, Result};
use std::path::{Component, Path, PathBuf};

/// One input file and where its output goes (with counter naming).
pub struct Item {
    /// Index of the command-line input it was found under.
    pub root: usize,
    /// Path relative to that input (its file name when the input is a file).
    pub rel: PathBuf,
    /// Path to open.
    pub src: PathBuf,
    /// Output folder relative to OUTDIR (counter naming).
    pub out_dir: PathBuf,
    /// Output file name (counter naming).
    pub out_name: String,
    pub size: u64,
    /// Modification time in nanoseconds since the epoch (0 when unknown).
    pub mtime: u64,
    /// A folder that could not be read: reported as a failure, never processed.
    pub walk_error: Option<String>,
    /// The innermost media root the file is under (index into the roots of [`walk`]).
    pub media: Option<usize>,
}

/// A folder of the inputs that holds a file named `DICOMDIR`.
pub struct MediaRoot {
    /// Its output folder relative to OUTDIR.
    pub out_dir: PathBuf,
    /// The item of its `DICOMDIR` file.
    pub dicomdir: Option<usize>,
}

/// The name of the file that makes its folder a media root.
pub const DICOMDIR: &str = "DICOMDIR";

/// What the walk left out.
#[derive(Default)]
pub struct WalkStats {
    /// Sockets, FIFOs, devices: never opened.
    pub not_regular: u64,
    /// Symbolic links to folders: not followed (loops).
    pub dir_links: u64,
}

pub fn file_name(n: usize) -> String {
    format!("IMG{n:05}.dcm")
}

/// A file name under a media root: a File ID component, so no extension.
pub fn media_file_name(n: usize) -> String {
    format!("IMG{n:05}")
}

pub fn dir_name(n: usize) -> String {
    format!("DIR{n:04}")
}

/// What the walk found: the files, what it left out, the media roots.
pub struct Walk {
    pub items: Vec<Item>,
    pub stats: WalkStats,
    pub roots: Vec<MediaRoot>,
}

/// Where the walk is: the input, the paths of the folder, the media root it is under.
#[derive(Clone, Copy)]
struct At<'a> {
    root: usize,
    rel: &'a Path,
    out: &'a Path,
    media: Option<usize>,
}

/// Walks the inputs in order and names every file's output.
pub fn walk(inputs: &[PathBuf]) -> Result<Walk> {
    let mut w = Walk {
        items: Vec::new(),
        stats: WalkStats::default(),
        roots: Vec::new(),
    };
    if let [only] = inputs {
        if only.is_dir() {
            let at = At {
                root: 0,
                rel: Path::new(""),
                out: Path::new(""),
                media: None,
            };
            walk_dir(only, &at, &mut w);
            return Ok(w);
        }
    }
    let (mut files, mut dirs) = (0, 0);
    for (root, input) in inputs.iter().enumerate() {
        let meta = std::fs::metadata(input)
            .with_context(|| format!("cannot read input {}", input.display()))?;
        if meta.is_dir() {
            dirs += 1;
            let out = PathBuf::from(dir_name(dirs));
            let at = At {
                root,
                rel: Path::new(""),
                out: &out,
                media: None,
            };
            walk_dir(input, &at, &mut w);
        } else if meta.is_file() {
            files += 1;
            let name = input
                .file_name()
                .map(PathBuf::from)
                .unwrap_or_else(|| input.clone());
            let at = At {
                root,
                rel: Path::new(""),
                out: Path::new(""),
                media: None,
            };
            w.items.push(item(&at, name, input.clone(), files, &meta));
        } else {
            bail!("input {} is neither a file nor a folder", input.display());
        }
    }
    Ok(w)
}

fn item(at: &At, rel: PathBuf, src: PathBuf, n: usize, meta: &std::fs::Metadata) -> Item {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    Item {
        root: at.root,
        rel,
        src,
        out_dir: at.out.to_path_buf(),
        out_name: if at.media.is_some() {
            media_file_name(n)
        } else {
            file_name(n)
        },
        size: meta.len(),
        mtime,
        walk_error: None,
        media: at.media,
    }
}

fn walk_dir(dir: &Path, at: &At, w: &mut Walk) {
    let entries = match std::fs::read_dir(dir).and_then(|rd| rd.collect::<Result<Vec<_>, _>>()) {
        Ok(e) => e,
        Err(e) => {
            w.items.push(Item {
                root: at.root,
                rel: at.rel.to_path_buf(),
                src: dir.to_path_buf(),
                out_dir: at.out.to_path_buf(),
                out_name: String::new(),
                size: 0,
                mtime: 0,
                walk_error: Some(match e.kind() {
                    std::io::ErrorKind::InvalidFilename => "cannot read folder: its path is longer than this system allows (4,096 bytes): nothing below it was read".to_string(),
                    kind => format!("cannot read folder: {kind}"),
                }),
                media: at.media,
            });
            return;
        }
    };
    let mut entries: Vec<_> = entries.into_iter().map(|e| (e.file_name(), e)).collect();
    entries.sort_by(|a, b| a.0.as_encoded_bytes().cmp(b.0.as_encoded_bytes()));
    // A DICOMDIR here makes this folder a media root, for every file of it: decided
    // before any is named.
    let is_root = entries
        .iter()
        .any(|(name, e)| name == DICOMDIR && e.path().is_file());
    let media = if is_root {
        w.roots.push(MediaRoot {
            out_dir: at.out.to_path_buf(),
            dicomdir: None,
        });
        Some(w.roots.len() - 1)
    } else {
        at.media
    };
    let here = At { media, ..*at };
    let (mut files, mut dirs) = (0, 0);
    let mut subdirs = Vec::new();
    for (name, entry) in entries {
        let path = entry.path();
        let Ok(ft) = entry.file_type() else {
            w.stats.not_regular += 1;
            continue;
        };
        let meta = if ft.is_symlink() {
            match std::fs::metadata(&path) {
                Ok(m) if m.is_dir() => {
                    w.stats.dir_links += 1;
                    continue;
                }
                Ok(m) => m,
                Err(_) => {
                    w.stats.not_regular += 1;
                    continue;
                }
            }
        } else if ft.is_dir() {
            dirs += 1;
            subdirs.push((name, path, dirs));
            continue;
        } else {
            match entry.metadata() {
                Ok(m) => m,
                Err(_) => {
                    w.stats.not_regular += 1;
                    continue;
                }
            }
        };
        if !meta.is_file() {
            w.stats.not_regular += 1;
            continue;
        }
        files += 1;
        if is_root && name == DICOMDIR {
            let m = media.expect("a media root");
            w.roots[m].dicomdir = Some(w.items.len());
        }
        w.items
            .push(item(&here, at.rel.join(&name), path, files, &meta));
    }
    // Files of a folder first, then its subfolders, each in sorted order.
    for (name, path, n) in subdirs {
        let rel = at.rel.join(&name);
        let out = at.out.join(dir_name(n));
        let sub = At {
            rel: &rel,
            out: &out,
            ..here
        };
        walk_dir(&path, &sub, w);
    }
}

/// An absolute, normalised form of `p`, resolving symbolic links in the part that exists.
pub fn resolve(p: &Path) -> Result<PathBuf> {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .context("cannot read the current folder")?
            .join(p)
    };
    let mut existing = abs.clone();
    let mut rest = Vec::new();
    loop {
        if let Ok(c) = existing.canonicalize() {
            let mut out = c;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return Ok(normalise(&out));
        }
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_os_string());
                existing = parent.to_path_buf();
            }
            _ => return Ok(normalise(&abs)),
        }
    }
}

fn normalise(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// A path component made safe and free of structure: letters, digits, `.`, `-`, `_`.
pub fn safe_component(s: &str, empty: &str) -> String {
    let t: String = s
        .trim_matches(|c: char| c == '\0' || c.is_whitespace())
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if t.is_empty() || t.chars().all(|c| c == '.') {
        empty.to_string()
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_are_safe() {
        assert_eq!(safe_component("1.2.3\0", "X"), "1.2.3");
        assert_eq!(safe_component("../..", "X"), ".._..");
        assert_eq!(safe_component("..", "X"), "X");
        assert_eq!(safe_component(" ", "X"), "X");
        assert_eq!(safe_component("a/b\\c", "X"), "a_b_c");
    }

    #[test]
    fn names() {
        assert_eq!(file_name(1), "IMG00001.dcm");
        assert_eq!(file_name(123456), "IMG123456.dcm");
        assert_eq!(dir_name(7), "DIR0007");
        assert_eq!(media_file_name(12), "IMG00012");
    }

    #[test]
    fn media_roots_name_files_without_extension() {
        let tmp = tempfile::tempdir().unwrap();
        let write = |rel: &str| {
            let p = tmp.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b"x").unwrap();
        };
        for rel in [
            "plain/a.dcm",
            "set/0001.dcm",
            "set/DICOMDIR",
            "set/sub/b",
            "set/inner/DICOMDIR",
            "set/inner/c",
        ] {
            write(rel);
        }
        let w = walk(&[tmp.path().to_path_buf()]).unwrap();
        let by_rel = |rel: &str| {
            w.items
                .iter()
                .position(|i| i.rel == Path::new(rel))
                .unwrap()
        };
        let out = |rel: &str| {
            let i = &w.items[by_rel(rel)];
            (i.out_dir.join(&i.out_name), i.media)
        };
        assert_eq!(
            out("plain/a.dcm"),
            (PathBuf::from("DIR0001/IMG00001.dcm"), None)
        );
        assert_eq!(
            out("set/0001.dcm"),
            (PathBuf::from("DIR0002/IMG00001"), Some(0))
        );
        assert_eq!(
            out("set/sub/b"),
            (PathBuf::from("DIR0002/DIR0002/IMG00001"), Some(0))
        );
        assert_eq!(
            out("set/inner/c"),
            (PathBuf::from("DIR0002/DIR0001/IMG00002"), Some(1))
        );
        assert_eq!(w.roots.len(), 2);
        assert_eq!(w.roots[0].out_dir, PathBuf::from("DIR0002"));
        assert_eq!(w.roots[0].dicomdir, Some(by_rel("set/DICOMDIR")));
        assert_eq!(w.roots[1].out_dir, PathBuf::from("DIR0002/DIR0001"));
        assert_eq!(w.roots[1].dicomdir, Some(by_rel("set/inner/DICOMDIR")));
    }
}
