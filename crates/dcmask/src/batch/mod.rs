//! `dcmask anonymize INPUT... -o OUTDIR`: batch de-identification.
//!
//! - **Inputs** are only read. Files and folders (recursively, sorted); non-DICOM files
//!   are skipped and counted. A DICOMDIR is never copied: the one of a media set is
//!   regenerated from the de-identified files ([`dicomdir`]), others are skipped.
//! - **OUTDIR is shareable**: it receives the de-identified files, the regenerated
//!   DICOMDIRs and `report.json` ([`report`]), which names files by their output path only.
//!   Output names carry no PHI: `DIR0001/IMG00001.dcm`-style by default (see [`layout`]),
//!   or `PATIENT/STUDY/SERIES/SOP.dcm` from the de-identified Patient ID and UIDs with
//!   `--name-by-uid`.
//! - **Linkage apart**: what links back to the patients (identifier mappings, input paths,
//!   the journal) goes to the linkage folder, `--linkage DIR` or `OUTDIR.linkage`
//!   ([`linkage`]). OUTDIR and the linkage folder never overlap each other or an input,
//!   judged by file-system identity ([`place`]).
//! - **Atomic and resumable**: each output is written to `.NAME.part` next to it and
//!   renamed; a journal ([`journal`]) lets the same command resume an interrupted run,
//!   giving the same outputs, report and mappings as an uninterrupted one. Output is
//!   deterministic: same inputs, key and plan give byte-identical files. Temporary files
//!   left by an interrupted run are removed at the end of the next.
//! - **Streaming**: headers are de-identified without loading pixel data
//!   ([`dcmask_engine::stream`]); rayon workers each hold one file at a time.
//! - **Privacy of messages**: progress and log lines at info level hold counts, sizes and
//!   rates, never a path or value. Failed files are listed at the end on stderr with their
//!   path relative to the input the user gave (they need it to find the file; control
//!   characters escaped), in `report.json` by `input_ref` only, and in the linkage's
//!   `paths.csv`; per-file debug logs (`DCMASK_LOG=dcmask=debug`) name relative paths too.
//!   Error reasons come from the engine, which never quotes values.
//! - **Burned-in text**: a file whose pixels the profile leaves and whose header says they
//!   may carry text is written and listed (`burned_in`), or refused with
//!   `--require-clean-pixels`.
//!
//! Exit code: 0 when every file is ok or skipped, 1 when some failed, 2 when the run could
//! not start.

mod dicomdir;
mod journal;
mod layout;
mod linkage;
mod place;
mod plan_args;
mod progress;
mod report;

pub use plan_args::{PlanArgs, Regions};

use anyhow::{bail, Context, Result};
use clap::Args;
use dcmask_engine::pixel::PixelTools;
use dcmask_engine::stream::{self, Prepared};
use dcmask_engine::{Error, Key, Mappings, Plan, Record};
use dicom_dictionary_std::tags;
use journal::{Done, Journal};
use layout::Item;
use rayon::prelude::*;
use report::{Counts, FileReport, SkipKind, Status};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Args)]
pub struct AnonymizeArgs {
    /// Files and folders to de-identify (folders recursively). They are only read.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Output folder, shareable: the de-identified files and report.json only. Created if
    /// needed; new, empty, or holding an interrupted run of the same command (which is then
    /// resumed). Never inside an input.
    #[arg(short = 'o', long = "output", value_name = "OUTDIR")]
    pub output: PathBuf,
    /// Linkage folder, for the data custodian only: identifier mappings, input paths and
    /// the resume journal (default: OUTDIR.linkage beside OUTDIR). Never inside OUTDIR or
    /// an input.
    #[arg(long, value_name = "DIR")]
    pub linkage: Option<PathBuf>,
    /// Refuse (fail, write nothing for) a file whose pixels may carry burned-in text that
    /// the profile does not clean, instead of writing it with a warning.
    #[arg(long)]
    pub require_clean_pixels: bool,
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Worker threads (default: all cores).
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,
    /// Name outputs PATIENT/STUDY/SERIES/SOP.dcm from the de-identified Patient ID and UIDs
    /// (default: the input layout with neutral names, DIR0001/IMG00001.dcm). No DICOMDIR is
    /// regenerated then: UID names are not valid File IDs.
    #[arg(long)]
    pub name_by_uid: bool,
    /// No progress and no summary (failures and files that may carry burned-in text are
    /// still listed on stderr).
    #[arg(short, long)]
    pub quiet: bool,
    /// Print the run summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Elements per action and per rule, and the identifier mappings, over all files.
#[derive(Default)]
struct Totals {
    maps: Mappings,
    actions: BTreeMap<String, u64>,
    rules: BTreeMap<String, u64>,
}

impl Totals {
    /// Runs under the totals lock once per file: keys are cloned only when new.
    fn add(&mut self, done: &Done) {
        fn count(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
            for (k, n) in from {
                match into.get_mut(k) {
                    Some(total) => *total += n,
                    None => {
                        into.insert(k.clone(), *n);
                    }
                }
            }
        }
        count(&mut self.actions, &done.actions);
        count(&mut self.rules, &done.rules);
        for (old, new) in &done.uids {
            if !self.maps.uids.contains_key(old) {
                self.maps.uids.insert(old.clone(), new.clone());
            }
        }
        for (old, new) in &done.pids {
            if !self.maps.patient_ids.contains_key(old) {
                self.maps.patient_ids.insert(old.clone(), new.clone());
            }
        }
    }
}

struct Ctx<'a> {
    plan: &'a Plan,
    key: &'a Key,
    /// Region rules and, when pixels are cleaned, the OCR text detector.
    pixel: PixelTools<'a>,
    outdir: PathBuf,
    name_by_uid: bool,
    require_clean_pixels: bool,
    journal: Journal,
    /// Journal key of every item.
    keys: Vec<String>,
    /// Output paths taken (name-by-uid only), by item index.
    claims: Mutex<HashMap<String, usize>>,
    /// Items whose output another input with a lower index took over, with their new report.
    demoted: Mutex<HashMap<usize, (Status, SkipKind, String)>>,
    totals: Mutex<Totals>,
    made_dirs: Mutex<HashSet<PathBuf>>,
    progress: progress::Progress,
}

pub fn run(args: AnonymizeArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let plan = args.plan.to_plan()?;
    let tools = args.plan.tools(&plan)?;
    let regions = &tools.regions;
    if args.jobs == Some(0) {
        bail!("-j takes a number of threads of at least 1");
    }
    for input in &args.inputs {
        if !input.exists() {
            bail!("input {} does not exist", input.display());
        }
    }
    if args.output.exists() && !args.output.is_dir() {
        bail!(
            "the output {} exists and is not a folder",
            args.output.display()
        );
    }
    let linkage_dir = match &args.linkage {
        Some(d) => d.clone(),
        None => linkage::default_for(&args.output)?,
    };
    if args
        .output
        .join(journal::OLD_DIR)
        .join(journal::NAME)
        .exists()
    {
        bail!(
            "the output folder {} was written by an older dcmask, which kept its journal and identifier mappings inside it ({}/, {}, {}): that folder must not be shared as it is. Move those to a safe place or delete them, and run into a new output folder: the same inputs, key and options give the same files",
            args.output.display(),
            journal::OLD_DIR,
            linkage::UID_MAPPING,
            linkage::PATID_MAPPING
        );
    }
    linkage::check_places(&args.output, &linkage_dir, &args.inputs)?;
    let key = crate::keystore::load_key(args.plan.key_file.as_deref())?;
    let layout::Walk {
        items,
        stats: walk_stats,
        roots,
    } = layout::walk(&args.inputs)?;
    let bytes_total: u64 = items.iter().map(|i| i.size).sum();
    if !args.quiet {
        tracing::info!(
            files = items.len(),
            mb = format!("{:.1}", progress::mb(bytes_total)),
            profile = %plan.label(),
            key = %key.fingerprint(),
            "de-identifying"
        );
    }

    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("cannot create the output folder {}", args.output.display()))?;
    linkage::create(&linkage_dir)?;
    let outdir = args.output.clone();
    let resolved_inputs: Vec<String> = args
        .inputs
        .iter()
        .map(|p| layout::resolve(p).map(|r| r.to_string_lossy().into_owned()))
        .collect::<Result<_>>()?;
    let naming = if args.name_by_uid { "uid" } else { "counter" };
    let config = journal::config_fingerprint(
        &key,
        &serde_json::json!({
            "dcmask": env!("CARGO_PKG_VERSION"),
            "plan": &plan,
            "naming": naming,
            "inputs": resolved_inputs,
            "output": layout::resolve(&outdir)?.to_string_lossy(),
            "region_rules": regions.user_csv,
            "require_clean_pixels": args.require_clean_pixels,
        }),
    );
    let (journal, previous) = journal::open(&linkage_dir, &outdir, &config)?;
    linkage::restrict(&linkage_dir)?;
    // First, so that even the linkage folder of an interrupted run says what it is.
    report::write_atomic(
        &linkage_dir,
        linkage::README,
        linkage::readme(&layout::resolve(&outdir)?, &key.fingerprint()).as_bytes(),
        true,
    )?;

    let keys: Vec<String> = items
        .iter()
        .map(|i| journal::input_key(&key, i.root, &i.rel))
        .collect();
    // Files finished by an earlier run: their line matches, their output is there, and
    // (counter naming) it has the name the layout gives now.
    let resumable: Vec<Option<&Done>> = items
        .iter()
        .zip(&keys)
        .map(|(item, k)| {
            previous.get(k).filter(|d| {
                item.walk_error.is_none()
                    && d.size == item.size
                    && d.mtime == item.mtime
                    && (args.name_by_uid
                        || d.out == journal::slash_path(&item.out_dir.join(&item.out_name)))
                    && outdir.join(journal::path_from_slash(&d.out)).is_file()
            })
        })
        .collect();
    let mut claims = HashMap::new();
    if args.name_by_uid {
        for (i, d) in resumable.iter().enumerate() {
            if let Some(d) = d {
                claims.entry(d.out.clone()).or_insert(i);
            }
        }
    }

    let ctx = Ctx {
        plan: &plan,
        key: &key,
        pixel: tools.pixel(),
        outdir: outdir.clone(),
        name_by_uid: args.name_by_uid,
        require_clean_pixels: args.require_clean_pixels,
        journal,
        keys,
        claims: Mutex::new(claims),
        demoted: Mutex::new(HashMap::new()),
        totals: Mutex::new(Totals::default()),
        made_dirs: Mutex::new(HashSet::new()),
        progress: progress::Progress::start(items.len() as u64, bytes_total, args.quiet),
    };
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(j) = args.jobs {
        pool = pool.num_threads(j);
    }
    let pool = pool.build().context("cannot start worker threads")?;
    let mut files: Vec<FileReport> = pool.install(|| {
        items
            .par_iter()
            .enumerate()
            .with_max_len(1)
            .map(|(i, item)| {
                let r = match resumable[i] {
                    Some(done) => ctx.resume(i, item, done),
                    None => ctx.process(i, item),
                };
                ctx.progress.file_done(item.size);
                r
            })
            .collect()
    });
    if let Err(e) = ctx.journal.flush() {
        tracing::warn!("{e:#}");
    }
    let Ctx {
        demoted,
        totals,
        progress,
        ..
    } = ctx;
    progress.finish();
    for (i, (status, kind, reason)) in demoted.into_inner().expect("lock") {
        let f = &mut files[i];
        f.status = status;
        f.kind = kind;
        f.reason = Some(reason);
        f.output = None;
        f.changed = None;
        f.notes = Default::default();
    }
    let totals = totals.into_inner().expect("lock");
    let left_without = pool
        .install(|| dicomdir::regenerate(&outdir, &items, &roots, &mut files, args.name_by_uid));

    linkage::write_all(&linkage_dir, &totals.maps, &files, &args.inputs)?;
    let mut counts = Counts::of(&files);
    if left_without > 0 {
        counts.dicomdir_not_regenerated = Some(dicomdir::NOT_UNDER_NAME_BY_UID);
    }
    let options = plan.effective_options().iter().map(|o| o.id()).collect();
    let rep = report::Report {
        dcmask_version: env!("CARGO_PKG_VERSION"),
        profile: plan.label(),
        plan: report::plan_json(&plan)?,
        options,
        table_edition: dcmask_engine::table::EDITION,
        key_fingerprint: key.fingerprint(),
        naming,
        region_rules: plan
            .effective_options()
            .contains(&dcmask_engine::ProfileOption::CleanPixelData)
            .then(|| report::RegionRuleCount {
                shipped: regions.rules.len() - regions.user,
                user: regions.user,
            }),
        summary: &counts,
        actions: &totals.actions,
        rules: &totals.rules,
        input_ref: report::INPUT_REF,
        files: &files,
    };
    let mut json = serde_json::to_vec_pretty(&rep)?;
    json.push(b'\n');
    report::write_atomic(&outdir, "report.json", &json, false)?;
    remove_parts(&outdir);

    let elapsed = started.elapsed().as_secs_f64();
    let resumed = files.iter().filter(|f| f.resumed).count() as u64;
    let processed_bytes: u64 = files
        .iter()
        .filter(|f| !f.resumed)
        .map(|f| f.bytes_in)
        .sum();
    let processed_files = files.len() as u64 - resumed;
    let code = if counts.failed > 0 { 1 } else { 0 };

    print_failures(&files, &args.inputs);
    print_burned_in(&files, counts.burned_in);
    if !args.quiet {
        eprintln!(
            "dcmask: {} ok, {} failed, {} skipped ({} not DICOM, {} DICOMDIR not copied: regenerate{}) of {} files",
            counts.ok,
            counts.failed,
            counts.skipped,
            counts.skipped_not_dicom,
            counts.dicomdir_not_copied,
            if counts.skipped_duplicate > 0 {
                format!(", {} duplicates", counts.skipped_duplicate)
            } else {
                String::new()
            },
            counts.files,
        );
        eprintln!(
            "dcmask: {:.1} MB in {:.2} s: {:.0} files/s, {:.1} MB/s{}",
            progress::mb(processed_bytes),
            elapsed,
            processed_files as f64 / elapsed.max(1e-9),
            progress::mb(processed_bytes) / elapsed.max(1e-9),
            if resumed > 0 {
                format!(" ({resumed} files already done by an earlier run)")
            } else {
                String::new()
            }
        );
        if counts.dicomdir_regenerated > 0 {
            eprintln!(
                "dcmask: {} DICOMDIR regenerated from the de-identified files",
                counts.dicomdir_regenerated
            );
        }
        if let Some(why) = counts.dicomdir_not_regenerated {
            eprintln!("dcmask: DICOMDIR not regenerated: {why}");
        }
        if counts.pixel_warnings > 0 {
            eprintln!(
                "dcmask: {} files may still carry burned-in text (pixel_warnings in report.json)",
                counts.pixel_warnings
            );
        }
        if counts.leak_guard_files > 0 {
            eprintln!(
                "dcmask: the leak guard found identifying values the profile kept in {} files, and cleaned them (rule leak-guard in report.json)",
                counts.leak_guard_files
            );
        }
        if counts.incomplete_written > 0 {
            eprintln!(
                "dcmask: {} incomplete files written (--allow-incomplete; `incomplete` in report.json)",
                counts.incomplete_written
            );
        }
        if walk_stats.not_regular + walk_stats.dir_links > 0 {
            eprintln!(
                "dcmask: not read: {} special files, {} links to folders",
                walk_stats.not_regular, walk_stats.dir_links
            );
        }
        eprintln!(
            "dcmask: wrote {} (the de-identified files and report.json: shareable)",
            outdir.display()
        );
        eprintln!(
            "dcmask: linkage in {} (mappings, input paths, journal: original identifiers; for the data custodian, never sent with the data)",
            linkage_dir.display()
        );
    }
    if args.json {
        let summary = serde_json::json!({
            "summary": &counts,
            "resumed": resumed,
            "seconds": elapsed,
            "files_per_second": processed_files as f64 / elapsed.max(1e-9),
            "mb_per_second": progress::mb(processed_bytes) / elapsed.max(1e-9),
            "profile": plan.label(),
            "key_fingerprint": key.fingerprint(),
            "report": outdir.join("report.json"),
            "linkage": linkage_dir,
            "exit_code": code,
        });
        let printed = crate::stdout::write(|out| {
            serde_json::to_writer_pretty(&mut *out, &summary)?;
            writeln!(out)
        });
        // A closed stdout ends quietly; the exit code still tells how the run went.
        match printed {
            Err(e) if e.is::<crate::stdout::Closed>() => {}
            other => other?,
        }
    }
    Ok(ExitCode::from(code))
}

/// Removes the temporary files (`.NAME.part`) an interrupted run may have left in OUTDIR.
/// OUTDIR holds nothing but this run's files, so only dcmask's own can match.
fn remove_parts(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(ft) = e.file_type() else { continue };
        let name = e.file_name();
        let name = name.to_string_lossy();
        if ft.is_dir() {
            remove_parts(&e.path());
        } else if ft.is_file() && name.starts_with('.') && name.ends_with(".part") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// A name for the terminal: control characters (ANSI escapes, carriage returns) and the
/// bidirectional overrides that reorder what is shown are escaped, not sent.
fn shown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let bidi = matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
        if c.is_control() || bidi {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Written files whose pixels may carry burned-in text, on stderr, by output path.
fn print_burned_in(files: &[FileReport], count: u64) {
    const SHOWN: usize = 20;
    if count == 0 {
        return;
    }
    eprintln!(
        "dcmask: {count} files written with pixels that may carry burned-in text, not cleaned by this profile (burned_in in report.json; --profile pixel cleans them, --require-clean-pixels refuses them):"
    );
    let listed = files.iter().filter(|f| f.status == Status::Ok);
    for f in listed
        .filter_map(|f| Some((f.output.as_deref()?, f.notes.burned_in.as_deref()?)))
        .take(SHOWN)
    {
        eprintln!("burned-in: {}: {}", f.0, f.1);
    }
    if count as usize > SHOWN {
        eprintln!(
            "burned-in: ... and {} more (see report.json)",
            count as usize - SHOWN
        );
    }
}

/// Failed files, on stderr, by their path relative to the input the user gave.
fn print_failures(files: &[FileReport], inputs: &[PathBuf]) {
    const SHOWN: usize = 20;
    let failed: Vec<&FileReport> = files
        .iter()
        .filter(|f| f.status == Status::Failed)
        .collect();
    for f in failed.iter().take(SHOWN) {
        let base = &inputs[f.root];
        let shown_path = if f.input.is_empty() || base.is_file() {
            base.display().to_string()
        } else {
            base.join(&f.input).display().to_string()
        };
        eprintln!(
            "failed: {}: {}",
            shown(&shown_path),
            f.reason.as_deref().unwrap_or("unknown")
        );
    }
    if failed.len() > SHOWN {
        eprintln!(
            "failed: ... and {} more (see report.json, and paths.csv in the linkage folder)",
            failed.len() - SHOWN
        );
    }
}

enum Problem {
    Failed(String),
    Skipped(SkipKind, String),
}

impl Ctx<'_> {
    fn base(&self, idx: usize, item: &Item) -> FileReport {
        FileReport {
            input_ref: idx + 1,
            root: item.root,
            input: journal::slash_path(&item.rel),
            output: None,
            status: Status::Ok,
            reason: None,
            changed: None,
            pixel_boxes: None,
            pixel_warnings: Vec::new(),
            notes: Default::default(),
            mode: None,
            bytes_in: item.size,
            bytes_out: 0,
            resumed: false,
            kind: SkipKind::None,
        }
    }

    fn resume(&self, idx: usize, item: &Item, done: &Done) -> FileReport {
        self.totals.lock().expect("lock").add(done);
        FileReport {
            output: Some(done.out.clone()),
            changed: Some(done.changed),
            pixel_boxes: (done.pixel_boxes > 0).then_some(done.pixel_boxes),
            pixel_warnings: done.pixel_warnings.clone(),
            notes: done.notes.clone(),
            mode: Some(done.mode.clone()),
            bytes_out: done.bytes_out,
            resumed: true,
            ..self.base(idx, item)
        }
    }

    fn process(&self, idx: usize, item: &Item) -> FileReport {
        let base = self.base(idx, item);
        tracing::debug!(input = %shown(&base.input), "de-identifying");
        match self.deidentify_one(idx, item) {
            Ok(done) => {
                self.totals.lock().expect("lock").add(&done);
                FileReport {
                    output: Some(done.out),
                    changed: Some(done.changed),
                    pixel_boxes: (done.pixel_boxes > 0).then_some(done.pixel_boxes),
                    pixel_warnings: done.pixel_warnings,
                    notes: done.notes,
                    mode: Some(done.mode),
                    bytes_out: done.bytes_out,
                    ..base
                }
            }
            Err(Problem::Failed(reason)) => {
                tracing::debug!(input = %shown(&base.input), %reason, "failed");
                FileReport {
                    status: Status::Failed,
                    reason: Some(reason),
                    ..base
                }
            }
            Err(Problem::Skipped(kind, reason)) => FileReport {
                status: Status::Skipped,
                reason: Some(reason),
                kind,
                ..base
            },
        }
    }

    fn deidentify_one(&self, idx: usize, item: &Item) -> Result<Done, Problem> {
        if let Some(e) = &item.walk_error {
            return Err(Problem::Failed(e.clone()));
        }
        let mut input = File::open(&item.src)
            .map_err(|e| Problem::Failed(format!("cannot open: {}", e.kind())))?;
        let prepared = match stream::prepare_with(&mut input, self.plan, self.key, &self.pixel) {
            Ok(p) => p,
            Err(Error::NotDicom(why)) => {
                return Err(Problem::Skipped(
                    SkipKind::NotDicom,
                    format!("not DICOM: {why}"),
                ))
            }
            Err(e) if stream::is_dicomdir_error(&e) => {
                return Err(Problem::Skipped(
                    SkipKind::Dicomdir,
                    "DICOMDIR not copied: regenerate it from the de-identified files".into(),
                ))
            }
            Err(e) => return Err(Problem::Failed(e.to_string())),
        };
        if self.require_clean_pixels {
            let record = prepared.record();
            if let Some(why) = &record.burned_in {
                return Err(Problem::Failed(format!(
                    "not written (--require-clean-pixels): {why}; --profile pixel cleans the pixels"
                )));
            }
            // +Pixel itself may leave text (no region rule matched, no text detector).
            if let Some(why) = record.pixel_warnings.first() {
                return Err(Problem::Failed(format!(
                    "not written (--require-clean-pixels): {why}; a region rule for these images (--region-rules) cleans them"
                )));
            }
        }
        let out_rel = if self.name_by_uid {
            uid_path(&prepared, self.key)
        } else {
            item.out_dir.join(&item.out_name)
        };
        let out_s = journal::slash_path(&out_rel);
        let dest = self.outdir.join(&out_rel);
        let dir = dest.parent().expect("output has a folder").to_path_buf();
        self.make_dir(&dir)?;
        let file_name = dest
            .file_name()
            .expect("output has a name")
            .to_string_lossy();
        let tmp = dir.join(format!(".{file_name}.part"));
        let bytes_out = match write_output(&prepared, &mut input, &tmp) {
            Ok(n) => n,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(Problem::Failed(e));
            }
        };
        drop(input);
        self.install(idx, &tmp, &dest, &out_s)?;
        let done = done_line(&self.keys[idx], item, out_s, bytes_out, &prepared);
        if let Err(e) = self.journal.append(&done) {
            tracing::warn!("{e:#}");
        }
        Ok(done)
    }

    fn make_dir(&self, dir: &Path) -> Result<(), Problem> {
        if self.made_dirs.lock().expect("lock").contains(dir) {
            return Ok(());
        }
        std::fs::create_dir_all(dir).map_err(|e| {
            Problem::Failed(format!("cannot create the output folder: {}", e.kind()))
        })?;
        self.made_dirs
            .lock()
            .expect("lock")
            .insert(dir.to_path_buf());
        Ok(())
    }

    /// Renames the finished temporary file into place. With `--name-by-uid` two inputs can
    /// name the same output (same SOP Instance UID): the one first in the walk keeps it,
    /// whichever finishes first, so reruns give the same result.
    fn install(&self, idx: usize, tmp: &Path, dest: &Path, out: &str) -> Result<(), Problem> {
        let rename = || {
            std::fs::rename(tmp, dest).map_err(|e| {
                let _ = std::fs::remove_file(tmp);
                Problem::Failed(format!("cannot write the output: {}", e.kind()))
            })
        };
        if !self.name_by_uid {
            return rename();
        }
        let mut claims = self.claims.lock().expect("lock");
        match claims.get(out).copied() {
            None => {
                rename()?;
                claims.insert(out.to_string(), idx);
                Ok(())
            }
            Some(owner) if owner < idx => {
                let same = same_bytes(tmp, dest);
                let _ = std::fs::remove_file(tmp);
                Err(duplicate(same))
            }
            Some(owner) => {
                let same = same_bytes(tmp, dest);
                rename()?;
                claims.insert(out.to_string(), idx);
                let (Problem::Failed(reason) | Problem::Skipped(_, reason)) = duplicate(same);
                let (status, kind) = if same {
                    (Status::Skipped, SkipKind::Duplicate)
                } else {
                    (Status::Failed, SkipKind::None)
                };
                self.demoted
                    .lock()
                    .expect("lock")
                    .insert(owner, (status, kind, reason));
                let void = Done {
                    k: self.keys[owner].clone(),
                    void: true,
                    ..Done::default()
                };
                if let Err(e) = self.journal.append(&void) {
                    tracing::warn!("{e:#}");
                }
                Ok(())
            }
        }
    }
}

fn duplicate(same: bool) -> Problem {
    if same {
        Problem::Skipped(
            SkipKind::Duplicate,
            "duplicate: another input earlier in the walk gives the same output".into(),
        )
    } else {
        Problem::Failed(
            "same SOP Instance UID as another input earlier in the walk, with different content: not written".into(),
        )
    }
}

fn same_bytes(a: &Path, b: &Path) -> bool {
    match (std::fs::read(a), std::fs::read(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

fn write_output(prepared: &Prepared, input: &mut File, tmp: &Path) -> Result<u64, String> {
    let f = File::create(tmp).map_err(|e| format!("cannot write the output: {}", e.kind()))?;
    let mut w = BufWriter::with_capacity(128 * 1024, f);
    let n = prepared
        .write_to(input, &mut w)
        .map_err(|e| e.to_string())?;
    w.into_inner()
        .map_err(|e| format!("cannot write the output: {}", e.error().kind()))?;
    Ok(n)
}

/// The journal line (and report data) of a finished file.
fn done_line(k: &str, item: &Item, out: String, bytes_out: u64, prepared: &Prepared) -> Done {
    let (actions, rules) = record_counts(prepared.record());
    let maps = prepared.mappings();
    Done {
        k: k.to_string(),
        size: item.size,
        mtime: item.mtime,
        out,
        changed: prepared.record().changed_count() as u64,
        bytes_out,
        mode: prepared.mode().describe(),
        actions,
        rules,
        pixel_boxes: prepared.record().pixel_boxes.len() as u64,
        pixel_warnings: prepared.record().pixel_warnings.clone(),
        notes: report::Notes::of(prepared.record()),
        uids: maps
            .uids
            .iter()
            .map(|(a, b)| (a.clone(), b.clone()))
            .collect(),
        pids: maps
            .patient_ids
            .iter()
            .map(|(a, b)| (a.clone(), b.clone()))
            .collect(),
        void: false,
    }
}

/// Elements per action label and per rule (`source:id`). Counted on borrowed keys first:
/// this runs for every file.
fn record_counts(record: &Record) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
    let mut actions: HashMap<&'static str, u64> = HashMap::new();
    let mut rules: HashMap<(&'static str, &str), u64> = HashMap::new();
    for e in &record.entries {
        *actions.entry(e.action.label()).or_default() += 1;
        *rules
            .entry((source_name(e.rule.source), e.rule.id.as_ref()))
            .or_default() += 1;
    }
    let actions = actions
        .into_iter()
        .map(|(a, n)| (a.to_string(), n))
        .collect();
    let rules = rules
        .into_iter()
        .map(|((source, id), n)| {
            let mut k = String::with_capacity(source.len() + 1 + id.len());
            k.push_str(source);
            k.push(':');
            k.push_str(id);
            (k, n)
        })
        .collect();
    (actions, rules)
}

/// The rule source as the engine serialises it (`table`, `option`, ...), computed once per
/// source and thread.
fn source_name(source: dcmask_engine::decide::Source) -> &'static str {
    thread_local! {
        static NAMES: std::cell::RefCell<HashMap<dcmask_engine::decide::Source, &'static str>> =
            std::cell::RefCell::new(HashMap::new());
    }
    NAMES.with(|names| {
        *names.borrow_mut().entry(source).or_insert_with(|| {
            let name = serde_json::to_value(source)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| format!("{source:?}").to_lowercase());
            // A handful of variants, once per thread.
            Box::leak(name.into_boxed_str())
        })
    })
}

/// `PATIENT/STUDY/SERIES/SOP.dcm` from the de-identified object. A Patient ID that a
/// custom rule kept as it was is replaced by a keyed token: folder names never carry it.
fn uid_path(prepared: &Prepared, key: &Key) -> PathBuf {
    let obj = prepared.object();
    let text = |t| {
        obj.get(t)
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim_end_matches(['\0', ' ']).trim().to_string())
            .unwrap_or_default()
    };
    let mut patient = text(tags::PATIENT_ID);
    let pid_changed = prepared
        .record()
        .entries
        .iter()
        .any(|e| e.path == "0010,0020" && e.changed);
    if !patient.is_empty() && !pid_changed {
        patient = format!(
            "P{}",
            journal::hex(&key.mac_in("dcmask kept patient id", patient.as_bytes())[..8])
        );
    }
    let mut sop = text(tags::SOP_INSTANCE_UID);
    if sop.is_empty() {
        sop = obj
            .meta()
            .media_storage_sop_instance_uid()
            .trim_end_matches(['\0', ' '])
            .to_string();
    }
    [
        layout::safe_component(&patient, "NOPATIENTID"),
        layout::safe_component(&text(tags::STUDY_INSTANCE_UID), "NOSTUDY"),
        layout::safe_component(&text(tags::SERIES_INSTANCE_UID), "NOSERIES"),
        format!("{}.dcm", layout::safe_component(&sop, "NOSOP")),
    ]
    .iter()
    .collect()
}
