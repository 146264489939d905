//! `dcmask verify OUT --originals IN`: an independent check for residual PHI in a
//! de-identified folder before it is released.
//!
//! - **Dictionary**: identifying values of every original under IN (files and folders,
//!   recursively; non-DICOM files skipped), read from headers only (the pixel data is
//!   never loaded), gathered by the engine's `verify` module with its own table, not by
//!   the de-identifier. Names of the originals' files and folders are not entered: only
//!   values from the DICOM objects are. OUT is left out of the walk when it lies inside IN.
//! - **Scan**: every file under OUT, hidden files included, and every file and folder
//!   name. DICOM outputs are searched by decoded values at every depth (findings named by
//!   element path) and by their bytes; other files by their bytes.
//! - **Pixel data of DICOM outputs is not searched as bytes**: compressed or noisy image
//!   samples spell short words by chance, and text burned into an image is pixels, not
//!   bytes, so nothing is lost by skipping them. Everything else in the file is (preamble,
//!   meta group, header, data after the pixel data). When the pixel data cannot be
//!   located (deflated files, files without pixel data) the whole file is searched.
//! - **Byte hits a decoded finding explains are not repeated**: a value found in an
//!   element is also in the file's bytes; byte hits are listed only for dictionary entries
//!   the decoded scan of that file did not find, once per entry with its first offset.
//! - **Output**: one line per finding, `FILE<TAB>WHERE<TAB>CATEGORY` (WHERE is an element
//!   path, `bytes@OFFSET` or `name`), or one JSON object per line with `--json`. Never a
//!   value. Names are printed escaped (control and bidirectional characters as `\u{..}`,
//!   undecodable bytes as `\xNN`), though a name flagged here holds the value it leaks.
//!   A summary goes to stderr.
//!
//! Exit code: 0 nothing found, 1 findings, 2 could not run (IN or OUT missing or
//! unreadable, no DICOM original, or output files that could not be read).

use anyhow::{bail, Context, Result};
use clap::Args;
use dcmask_engine::io::stream;
use dcmask_engine::verify::{Category, Dictionary, DictionaryBuilder};
use dcmask_engine::Error;
use rayon::prelude::*;
use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Args)]
pub struct VerifyArgs {
    /// The de-identified folder to check: every file in it, hidden ones too.
    #[arg(value_name = "OUT")]
    pub output: PathBuf,
    /// The original files or folders OUT was made from (folders recursively). Repeat for
    /// several.
    #[arg(long = "originals", value_name = "IN", required = true)]
    pub originals: Vec<PathBuf>,
    /// One JSON object per finding on stdout: file, part (value, bytes or name), path,
    /// category, and offset for bytes.
    #[arg(long)]
    pub json: bool,
    /// Worker threads (default: all cores).
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,
}

/// Where in a file a value was found.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Part {
    /// The file's or folder's own name.
    Name,
    /// A decoded element, by path.
    Value(String),
    /// Raw bytes at an offset.
    Bytes(u64),
}

struct Row {
    part: Part,
    category: Category,
}

/// A file or folder of OUT: path relative to OUT, shown escaped.
struct Entry {
    path: PathBuf,
    rel: String,
    dir: bool,
}

#[derive(Default)]
struct Walk {
    entries: Vec<Entry>,
    /// Sockets, FIFOs, devices: never opened.
    not_regular: u64,
    /// Folders that could not be listed and entries that could not be examined
    /// (dangling links), relative and escaped.
    unreadable: Vec<String>,
}

/// Checks OUT against the originals (see the module's doc), printing nothing but the
/// outputs that could not be read.
pub fn check(output: &Path, originals_in: &[PathBuf], jobs: Option<usize>) -> Result<Checked> {
    for input in originals_in {
        if !input.exists() {
            bail!("the originals {} do not exist", input.display());
        }
    }
    if !output.is_dir() {
        bail!("the output {} is not a folder", output.display());
    }
    let out_root = output
        .canonicalize()
        .with_context(|| format!("cannot read the output {}", output.display()))?;
    std::fs::read_dir(&out_root)
        .with_context(|| format!("cannot read the output {}", output.display()))?;
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(j) = jobs {
        pool = pool.num_threads(j);
    }
    let pool = pool.build().context("cannot start worker threads")?;

    // The originals: every regular file, OUT left out when it lies inside (an output
    // checked against itself, OUT = IN, is not left out).
    let mut originals = Walk::default();
    for input in originals_in {
        let same = input.canonicalize().is_ok_and(|c| c == out_root);
        let skip = (!same).then_some(out_root.as_path());
        walk(input, input, skip, &mut originals, &mut HashSet::new());
    }
    if !originals.unreadable.is_empty() {
        bail!(
            "{} folders or links of the originals could not be read",
            originals.unreadable.len()
        );
    }
    let skipped = AtomicU64::new(0);
    let unreadable_originals = AtomicU64::new(0);
    let builder = pool.install(|| {
        originals
            .entries
            .par_iter()
            .with_max_len(1)
            .filter(|e| !e.dir)
            .fold(DictionaryBuilder::new, |mut b, e| {
                match File::open(&e.path)
                    .map_err(|_| None)
                    .and_then(|mut f| stream::read_header(&mut f).map_err(Some))
                {
                    Ok(h) => b.add_object(&h.object),
                    Err(Some(Error::NotDicom { .. })) => {
                        skipped.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(why) => {
                        let why = why.map(|e| e.to_string()).unwrap_or("cannot open".into());
                        tracing::debug!(file = %e.rel, %why, "original not read");
                        unreadable_originals.fetch_add(1, Ordering::Relaxed);
                    }
                }
                b
            })
            .reduce(DictionaryBuilder::new, |mut a, b| {
                a.merge(b);
                a
            })
    });
    let read = builder.objects();
    if read == 0 {
        bail!("no DICOM original could be read under the given originals");
    }
    let dict = builder.build();

    // The output: every file and folder, hidden ones included.
    let mut outputs = Walk::default();
    walk(output, output, None, &mut outputs, &mut HashSet::new());
    let dicom_files = AtomicU64::new(0);
    let unreadable = AtomicU64::new(0);
    let results: Vec<Vec<Row>> = pool.install(|| {
        outputs
            .entries
            .par_iter()
            .with_max_len(1)
            .map(|e| {
                let mut rows = name_rows(&dict, &e.path);
                if !e.dir {
                    match scan_file(&dict, &e.path) {
                        Ok((dicom, found)) => {
                            if dicom {
                                dicom_files.fetch_add(1, Ordering::Relaxed);
                            }
                            rows.extend(found);
                        }
                        Err(_) => {
                            unreadable.fetch_add(1, Ordering::Relaxed);
                            eprintln!("dcmask verify: could not read {}", e.rel);
                        }
                    }
                }
                rows
            })
            .collect()
    });

    Ok(Checked {
        outputs,
        results,
        originals: read,
        values: dict.len() as u64,
        skipped_originals: skipped.into_inner(),
        unreadable_originals: unreadable_originals.into_inner(),
        dicom_files: dicom_files.into_inner(),
        unreadable: unreadable.into_inner(),
    })
}

/// What a check found: per file and folder of OUT, its findings; and what was read.
pub struct Checked {
    outputs: Walk,
    results: Vec<Vec<Row>>,
    /// DICOM originals read, and the values gathered from them.
    pub originals: u64,
    pub values: u64,
    pub skipped_originals: u64,
    pub unreadable_originals: u64,
    pub dicom_files: u64,
    /// Output files that could not be read.
    pub unreadable: u64,
}

impl Checked {
    /// Each finding: the file (a folder's name ending in `/`), where, and its category.
    pub fn findings(&self) -> impl Iterator<Item = (String, String, Category)> + '_ {
        self.outputs
            .entries
            .iter()
            .zip(&self.results)
            .flat_map(|(e, rows)| {
                let file = if e.dir {
                    format!("{}/", e.rel)
                } else {
                    e.rel.clone()
                };
                rows.iter()
                    .map(move |r| (file.clone(), r.part.shown(), r.category))
            })
    }

    pub fn files(&self) -> u64 {
        self.outputs.entries.iter().filter(|e| !e.dir).count() as u64
    }

    /// Output files and folders that could not be read, special files left out.
    pub fn unread(&self) -> u64 {
        self.unreadable + self.outputs.unreadable.len() as u64 + self.outputs.not_regular
    }
}

impl Part {
    fn shown(&self) -> String {
        match self {
            Part::Name => "name".to_string(),
            Part::Value(p) => p.clone(),
            Part::Bytes(o) => format!("bytes@{o}"),
        }
    }
}

pub fn run(args: VerifyArgs) -> Result<ExitCode> {
    if args.jobs == Some(0) {
        bail!("-j takes a number of threads of at least 1");
    }
    let checked = check(&args.output, &args.originals, args.jobs)?;
    let Checked {
        outputs,
        results,
        originals: read,
        values,
        skipped_originals: skipped,
        unreadable_originals,
        dicom_files,
        unreadable,
    } = checked;
    let mut by_category: BTreeMap<Category, u64> = BTreeMap::new();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for (e, rows) in outputs.entries.iter().zip(&results) {
        let file = if e.dir {
            format!("{}/", e.rel)
        } else {
            e.rel.clone()
        };
        for r in rows {
            *by_category.entry(r.category).or_default() += 1;
            if args.json {
                let (part, path, offset) = match &r.part {
                    Part::Name => ("name", "name".to_string(), None),
                    Part::Value(p) => ("value", p.clone(), None),
                    Part::Bytes(o) => ("bytes", format!("bytes@{o}"), Some(*o)),
                };
                let mut obj = serde_json::json!({
                    "file": file,
                    "part": part,
                    "path": path,
                    "category": r.category,
                });
                if let Some(o) = offset {
                    obj["offset"] = o.into();
                }
                writeln!(out, "{obj}")?;
            } else {
                writeln!(out, "{file}\t{}\t{}", r.part.shown(), r.category)?;
            }
        }
    }
    out.flush()?;

    let files = outputs.entries.iter().filter(|e| !e.dir).count();
    let total: u64 = by_category.values().sum();
    let mut summary = format!(
        "dcmask verify: {files} files scanned ({} DICOM) against {} values from {read} originals",
        dicom_files, values,
    );
    if total == 0 {
        summary.push_str("; no findings");
    } else {
        let cats: Vec<String> = by_category
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        summary.push_str(&format!("; {total} findings: {}", cats.join(", ")));
    }
    eprintln!("{summary}");
    if skipped > 0 {
        eprintln!("dcmask verify: {skipped} non-DICOM originals skipped");
    }
    if unreadable_originals > 0 {
        eprintln!(
            "dcmask verify: {unreadable_originals} originals could not be read as DICOM: \
             their values are not in the dictionary"
        );
    }
    if outputs.not_regular > 0 {
        eprintln!(
            "dcmask verify: {} special files (sockets, FIFOs, devices) in the output not read",
            outputs.not_regular
        );
    }
    for rel in &outputs.unreadable {
        eprintln!("dcmask verify: could not read {rel}");
    }
    let unreadable = unreadable + outputs.unreadable.len() as u64;
    if total > 0 {
        Ok(ExitCode::from(1))
    } else if unreadable > 0 || outputs.not_regular > 0 {
        if unreadable > 0 {
            eprintln!("dcmask verify: {unreadable} output files or folders could not be read");
        }
        Ok(ExitCode::from(2))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

/// Every file and folder under `dir` (sorted, hidden ones included), with its path
/// relative to `root`. Links are followed, each folder once (loops); `skip` and what is
/// under it is left out.
fn walk(
    root: &Path,
    dir: &Path,
    skip: Option<&Path>,
    into: &mut Walk,
    seen: &mut HashSet<PathBuf>,
) {
    let rel_of = |p: &Path| shown(p.strip_prefix(root).unwrap_or(p));
    let Ok(meta) = std::fs::metadata(dir) else {
        into.unreadable.push(rel_of(dir));
        return;
    };
    if !meta.is_dir() {
        if meta.is_file() {
            into.entries.push(Entry {
                path: dir.to_path_buf(),
                rel: shown(dir.file_name().map(Path::new).unwrap_or(dir)),
                dir: false,
            });
        } else {
            into.not_regular += 1;
        }
        return;
    }
    let Ok(canonical) = dir.canonicalize() else {
        into.unreadable.push(rel_of(dir));
        return;
    };
    if skip == Some(canonical.as_path()) || !seen.insert(canonical) {
        return;
    }
    let Ok(list) = std::fs::read_dir(dir) else {
        into.unreadable.push(rel_of(dir));
        return;
    };
    let mut paths: Vec<PathBuf> = list.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        let rel = rel_of(&p);
        let Ok(meta) = std::fs::metadata(&p) else {
            into.unreadable.push(rel);
            continue;
        };
        if meta.is_dir() {
            if skip.is_some_and(|s| p.canonicalize().is_ok_and(|c| c == s)) {
                continue;
            }
            into.entries.push(Entry {
                path: p.clone(),
                rel,
                dir: true,
            });
            walk(root, &p, skip, into, seen);
        } else if meta.is_file() {
            into.entries.push(Entry {
                path: p,
                rel,
                dir: false,
            });
        } else {
            into.not_regular += 1;
        }
    }
}

/// The entry's own name (its last component) searched as text.
fn name_rows(dict: &Dictionary, path: &Path) -> Vec<Row> {
    let Some(name) = path.file_name() else {
        return Vec::new();
    };
    dict.scan_name(&name.to_string_lossy())
        .into_iter()
        .map(|h| h.category)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|category| Row {
            part: Part::Name,
            category,
        })
        .collect()
}

/// Scans one output file: decoded values when it reads as DICOM, then its bytes
/// (outside the pixel data). Returns whether it was read as DICOM.
fn scan_file(dict: &Dictionary, path: &Path) -> std::io::Result<(bool, Vec<Row>)> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut rows = Vec::new();
    let mut explained = HashSet::new();
    let mut ranges: Vec<(u64, u64)> = vec![(0, len)];
    let header = stream::read_header(&mut file);
    let dicom = header.is_ok();
    if let Ok(h) = header {
        let mut seen = HashSet::new();
        for f in dict.scan_object(&h.object) {
            explained.insert(f.entry);
            if seen.insert((f.path.clone(), f.category)) {
                rows.push(Row {
                    part: Part::Value(f.path),
                    category: f.category,
                });
            }
        }
        if let Some(px) = h.pixel_data {
            ranges = vec![(0, px.start), (px.end, len)];
        }
    }
    // One byte row per entry the decoded scan did not find: its first offset.
    let mut first: BTreeMap<(usize, Category), u64> = BTreeMap::new();
    for (start, end) in ranges {
        file.seek(SeekFrom::Start(start))?;
        let part = BufReader::new((&mut file).take(end.saturating_sub(start)));
        dict.scan_reader(part, start, |h| {
            if !explained.contains(&h.entry) {
                first.entry((h.entry, h.category)).or_insert(h.offset);
            }
        })?;
    }
    let mut bytes: Vec<(u64, Category)> = first.into_iter().map(|((_, c), o)| (o, c)).collect();
    bytes.sort();
    bytes.dedup();
    rows.extend(bytes.into_iter().map(|(offset, category)| Row {
        part: Part::Bytes(offset),
        category,
    }));
    Ok((dicom, rows))
}

/// A path for display: components joined by `/`, control and bidirectional characters
/// escaped as `\u{..}`, bytes that are not UTF-8 as `\xNN`, backslashes doubled.
fn shown(path: &Path) -> String {
    let parts: Vec<String> = path
        .components()
        .map(|c| escape(c.as_os_str().as_encoded_bytes()))
        .collect();
    parts.join("/")
}

fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            let invisible = matches!(u32::from(c),
                0x200B..=0x200F | 0x202A..=0x202E | 0x2066..=0x2069 | 0xFEFF);
            if c == '\\' {
                out.push_str("\\\\");
            } else if c.is_control() || invisible {
                out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped() {
        assert_eq!(escape(b"plain name.dcm"), "plain name.dcm");
        assert_eq!(escape(b"a\x1b[31mred\tx"), "a\\u{1b}[31mred\\u{9}x");
        assert_eq!(escape("e\u{202E}vil".as_bytes()), "e\\u{202e}vil");
        assert_eq!(escape(b"bad\xff\\"), "bad\\xff\\\\");
        assert_eq!(escape("c\u{9b}".as_bytes()), "c\\u{9b}");
    }
}
