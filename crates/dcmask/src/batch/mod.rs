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
//!   ([`dcmask_engine::io::stream`]); rayon workers each hold one file at a time.
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
pub mod linkage;
mod patients;
mod place;
mod plan_args;
mod progress;
pub mod report;
mod setup;
mod summary;

pub use plan_args::{PlanArgs, Regions};

use anyhow::{Context, Result};
use clap::Args;
use dcmask_engine::io::stream::{self, Prepared};
use dcmask_engine::pixel::PixelTools;
use dcmask_engine::value;
use dcmask_engine::Identifying;
use dcmask_engine::{Decider, Error, Key, Mappings, Plan, Record};
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
    /// Add the re-identification risk of the outputs to report.json (as `dcmask risk`).
    #[arg(long)]
    pub risk: bool,
    #[command(flatten)]
    pub risk_options: crate::risk_cmd::RiskOptions,
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

    /// Takes back the counts of a file's earlier pass (it was done again). Its mappings
    /// stay: the keyed pseudonyms are the same whatever the pass.
    fn remove(&mut self, done: &Done) {
        fn uncount(from: &mut BTreeMap<String, u64>, counts: &BTreeMap<String, u64>) {
            for (k, n) in counts {
                if let Some(total) = from.get_mut(k) {
                    *total = total.saturating_sub(*n);
                    if *total == 0 {
                        from.remove(k);
                    }
                }
            }
        }
        uncount(&mut self.actions, &done.actions);
        uncount(&mut self.rules, &done.rules);
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
    /// Identifying values per patient, for the guard across files.
    patients: patients::Patients,
    /// Set once a write found the output disk full: the files after it are not tried.
    full: std::sync::atomic::AtomicBool,
}

pub fn run(args: AnonymizeArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let (setup, journal, previous) = setup::prepare(&args)?;
    let keys = setup::keys(&setup);
    let resumable = setup::resumable(&setup, &keys, &previous, args.name_by_uid);
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(j) = args.jobs {
        pool = pool.num_threads(j);
    }
    let pool = pool.build().context("cannot start worker threads")?;
    let processed = process(&args, &setup, journal, keys, &resumable, &pool)?;
    let finished = finish(&args, &setup, processed, &pool)?;
    summary::print(&args, &setup, &finished, started.elapsed().as_secs_f64())
}

/// What the workers did: every file's report, the totals over written files, whether
/// the disk filled up, how many files were done again with their patient's values.
struct Processed {
    files: Vec<FileReport>,
    totals: Totals,
    full: bool,
    redone: usize,
}

/// De-identifies (or resumes) every file on the pool, then again those whose patient
/// other files showed more of (the guard across files).
fn process(
    args: &AnonymizeArgs,
    setup: &setup::Setup,
    journal: Journal,
    keys: Vec<String>,
    resumable: &[Option<&Done>],
    pool: &rayon::ThreadPool,
) -> Result<Processed> {
    let setup::Setup {
        plan,
        tools,
        key,
        outdir,
        items,
        bytes_total,
        ..
    } = setup;
    let claims = setup::claims(resumable, args.name_by_uid);
    let ctx = Ctx {
        plan,
        key,
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
        progress: progress::Progress::start(items.len() as u64, *bytes_total, args.quiet),
        patients: patients::Patients::default(),
        full: Default::default(),
    };
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
    let mut ctx = ctx;
    let redo = std::mem::take(&mut ctx.patients).into_redo(key);
    let redone = redo.len();
    if !redo.is_empty() {
        ctx.redo(pool, items, resumable, &redo, &mut files)?;
    }
    if let Err(e) = ctx.journal.flush() {
        tracing::warn!("{e:#}");
    }
    let ctx_full = ctx.full.load(std::sync::atomic::Ordering::Relaxed);
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
    Ok(Processed {
        files,
        totals,
        full: ctx_full,
        redone,
    })
}

/// What the run wrote besides the outputs, and what it could not write.
struct Finished {
    files: Vec<FileReport>,
    counts: Counts,
    full: bool,
    redone: usize,
    /// Side files that could not be written (a full disk): named in the summary.
    unwritten: Vec<String>,
}

/// Regenerates the DICOMDIRs, writes the linkage files, the report (with the risk
/// block) and the audit entry; what cannot be written is named, not fatal.
fn finish(
    args: &AnonymizeArgs,
    setup: &setup::Setup,
    processed: Processed,
    pool: &rayon::ThreadPool,
) -> Result<Finished> {
    let setup::Setup {
        plan,
        tools,
        risk,
        key,
        outdir,
        linkage_dir,
        items,
        roots,
        naming,
        ..
    } = setup;
    let Processed {
        mut files,
        totals,
        full,
        redone,
    } = processed;
    let left_without =
        pool.install(|| dicomdir::regenerate(outdir, items, roots, &mut files, args.name_by_uid));
    // The outcome is said even when the disk is full: what could not be written is named.
    let mut unwritten: Vec<String> = Vec::new();
    if let Err(e) = linkage::write_all(linkage_dir, &totals.maps, &files, &args.inputs) {
        unwritten.push(format!("{e:#}"));
    }
    let mut counts = Counts::of(&files);
    if left_without > 0 {
        counts.dicomdir_not_regenerated = Some(dicomdir::NOT_UNDER_NAME_BY_UID);
    }
    let options = plan.effective_options().iter().map(|o| o.id()).collect();
    let risk =
        risk.as_ref().map(|r| {
            let written = files
                .iter()
                .filter(|f| f.status == Status::Ok && f.kind != SkipKind::Dicomdir);
            pool.install(|| {
                r.block(written.filter_map(|f| {
                    Some(outdir.join(journal::path_from_slash(f.output.as_deref()?)))
                }))
            })
        });
    let rep = report::Report {
        dcmask_version: env!("CARGO_PKG_VERSION"),
        profile: plan.label(),
        plan: report::plan_json(plan)?,
        options,
        table_edition: dcmask_engine::TABLE_EDITION,
        key_fingerprint: key.fingerprint(),
        naming,
        region_rules: plan
            .effective_options()
            .contains(&dcmask_engine::ProfileOption::CleanPixelData)
            .then(|| report::RegionRuleCount {
                shipped: tools.regions.rules.len() - tools.regions.user,
                user: tools.regions.user,
            }),
        summary: &counts,
        actions: &totals.actions,
        rules: &totals.rules,
        input_ref: report::INPUT_REF,
        files: &files,
        risk,
    };
    let mut json = serde_json::to_vec_pretty(&rep)?;
    json.push(b'\n');
    if let Err(e) = report::write_atomic(outdir, "report.json", &json, false) {
        unwritten.push(format!("{e:#}"));
    }
    remove_parts(outdir);
    // The run in the audit trail, kept in the linkage folder.
    let outputs: Vec<&str> = files
        .iter()
        .filter(|f| f.status == Status::Ok)
        .filter_map(|f| f.output.as_deref())
        .collect();
    let audited = pool.install(|| {
        crate::audit::record_batch(
            linkage_dir,
            outdir,
            &outputs,
            plan,
            &key.fingerprint(),
            &serde_json::to_value(&counts).unwrap_or_default(),
        )
    });
    if let Err(e) = audited {
        unwritten.push(format!("{e:#}"));
    }
    Ok(Finished {
        files,
        counts,
        full,
        redone,
        unwritten,
    })
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
        self.note_resumed(idx, item, done);
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

    /// The identifying values of a file an earlier run finished, for the guard across
    /// files: its header is read again (the journal keeps no originals but the mappings).
    /// Its guarded text is unknown, so a patient with values it lacks has it done again.
    fn note_resumed(&self, idx: usize, item: &Item, done: &Done) {
        let header = File::open(&item.src)
            .map_err(|e| Error::malformed(e.kind().to_string()))
            .and_then(|mut f| stream::read_header(&mut f));
        let Ok(header) = header else {
            return;
        };
        let own = Identifying::collect(&header.object, &Decider::new(self.plan));
        let patient = value::text(&header.object, tags::PATIENT_ID);
        self.patients
            .note(idx, patient.as_deref(), own, None, done.related.clone());
    }

    /// De-identifies again, with their patient's identifying values, the files the guard
    /// across files chose ([`patients`]); their counts replace the first pass's.
    fn redo(
        &self,
        pool: &rayon::ThreadPool,
        items: &[Item],
        resumable: &[Option<&Done>],
        redo: &[patients::Redo],
        files: &mut [FileReport],
    ) -> Result<()> {
        let first: HashSet<&str> = redo
            .iter()
            .filter(|r| resumable[r.idx].is_none())
            .map(|r| self.keys[r.idx].as_str())
            .collect();
        let mut earlier = self.journal.lines_of(&first)?;
        let reports: Vec<(usize, FileReport)> = pool.install(|| {
            redo.par_iter()
                .with_max_len(1)
                .map(|r| (r.idx, self.process_with(r.idx, &items[r.idx], Some(r))))
                .collect()
        });
        let mut totals = self.totals.lock().expect("lock");
        for (idx, report) in reports {
            let before = resumable[idx]
                .cloned()
                .or_else(|| earlier.remove(&self.keys[idx]));
            if let Some(before) = before {
                totals.remove(&before);
                if report.status != Status::Ok {
                    // What is there may hold what the patient's other files showed.
                    let _ = std::fs::remove_file(
                        self.outdir.join(journal::path_from_slash(&before.out)),
                    );
                }
            }
            files[idx] = report;
        }
        Ok(())
    }

    fn process(&self, idx: usize, item: &Item) -> FileReport {
        self.process_with(idx, item, None)
    }

    fn process_with(
        &self,
        idx: usize,
        item: &Item,
        related: Option<&patients::Redo>,
    ) -> FileReport {
        let base = self.base(idx, item);
        if self.full.load(std::sync::atomic::Ordering::Relaxed) {
            return FileReport {
                status: Status::Failed,
                reason: Some(NOT_TRIED_FULL.into()),
                ..base
            };
        }
        tracing::debug!(input = %shown(&base.input), "de-identifying");
        // A bug must cost one file, not the batch and its report. The panic's message is
        // not kept (it could quote a value); the hook in main.rs prints only where it was.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.deidentify_one(idx, item, related)
        }))
        .unwrap_or_else(|_| Err(Problem::Failed(crate::INTERNAL_ERROR.into())));
        match outcome {
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

    fn deidentify_one(
        &self,
        idx: usize,
        item: &Item,
        related: Option<&patients::Redo>,
    ) -> Result<Done, Problem> {
        if let Some(e) = &item.walk_error {
            return Err(Problem::Failed(e.clone()));
        }
        let mut input = File::open(&item.src)
            .map_err(|e| Problem::Failed(format!("cannot open: {}", e.kind())))?;
        let mut prepared = match stream::prepare_with_related(
            &mut input,
            self.plan,
            self.key,
            &self.pixel,
            related.map(|r| &*r.related),
        ) {
            Ok(p) => p,
            Err(Error::NotDicom { reason: why }) => {
                return Err(Problem::Skipped(
                    SkipKind::NotDicom,
                    format!("not DICOM: {why}"),
                ))
            }
            Err(Error::Dicomdir) => {
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
                return Err(self.write_failed(e));
            }
        };
        drop(input);
        self.install(idx, &tmp, &dest, &out_s)?;
        let mut done = done_line(&self.keys[idx], item, out_s, bytes_out, &prepared);
        match related {
            Some(r) => done.related = Some(r.digest.clone()),
            None => {
                let (own, patient, text) = prepared.take_identifying();
                self.patients.note(idx, patient.as_deref(), own, text, None);
            }
        }
        if let Err(e) = self.journal.append(&done) {
            tracing::warn!("{e:#}");
        }
        Ok(done)
    }

    /// A file not written; a full disk also stops the files after it.
    fn write_failed(&self, e: WriteError) -> Problem {
        if e.full {
            self.full.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        Problem::Failed(e.reason)
    }

    fn make_dir(&self, dir: &Path) -> Result<(), Problem> {
        if self.made_dirs.lock().expect("lock").contains(dir) {
            return Ok(());
        }
        std::fs::create_dir_all(dir).map_err(|e| {
            self.write_failed(WriteError {
                reason: write_reason("cannot create the output folder", &e),
                full: is_full(&e),
            })
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
                self.write_failed(WriteError {
                    reason: format!("cannot write the output: {}", e.kind()),
                    full: is_full(&e),
                })
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
            // Done again (the guard across files): its own output, replaced.
            Some(owner) if owner == idx => rename(),
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

/// Why a file was not written, and whether it was for want of space.
struct WriteError {
    reason: String,
    full: bool,
}

/// Why the files after a full disk were not tried.
const NOT_TRIED_FULL: &str = "not written: the output disk is full (an earlier file ran out of space); free some space and run the same command again to resume";

/// Why a write failed, in words: a path too long for the system is not an "invalid
/// filename" to the user, it is a folder nested too deep.
fn write_reason(what: &str, e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::InvalidFilename => format!(
            "{what}: the output path would be longer than this system allows (the input's folders nest too deep)"
        ),
        kind => format!("{what}: {kind}"),
    }
}

/// An error of a full disk or quota.
fn is_full(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}

/// A writer that remembers whether a write failed for want of space: the engine's own
/// error says only that writing failed.
struct Watch<W> {
    inner: W,
    full: bool,
}

impl<W: std::io::Write> std::io::Write for Watch<W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.inner.write(b).inspect_err(|e| self.full |= is_full(e))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush().inspect_err(|e| self.full |= is_full(e))
    }
}

fn write_output(prepared: &Prepared, input: &mut File, tmp: &Path) -> Result<u64, WriteError> {
    let f = File::create(tmp).map_err(|e| WriteError {
        reason: write_reason("cannot write the output", &e),
        full: is_full(&e),
    })?;
    let mut w = BufWriter::with_capacity(
        128 * 1024,
        Watch {
            inner: f,
            full: false,
        },
    );
    let written = prepared.write_to(input, &mut w).map_err(|e| e.to_string());
    let flushed = match w.into_inner() {
        Ok(watch) => Ok(watch.full),
        Err(e) => Err(WriteError {
            reason: format!("cannot write the output: {}", e.error().kind()),
            full: is_full(e.error()) || e.into_inner().get_ref().full,
        }),
    };
    match (written, flushed) {
        (Ok(n), Ok(_)) => Ok(n),
        (Err(reason), Ok(full)) => Err(WriteError { reason, full }),
        (_, Err(e)) => Err(e),
    }
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
        related: None,
    }
}

/// Elements per action label and per rule (`source:id`). Counted on borrowed keys first:
/// this runs for every file.
fn record_counts(record: &Record) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
    // A few dozen entries: sorting borrowed keys beats hashing them.
    let mut actions: Vec<&'static str> = record.entries.iter().map(|e| e.action.label()).collect();
    let mut rules: Vec<(&'static str, &str)> = record
        .entries
        .iter()
        .map(|e| (e.rule.source.name(), e.rule.id.as_ref()))
        .collect();
    actions.sort_unstable();
    rules.sort_unstable();
    let mut action_counts = BTreeMap::new();
    for group in actions.chunk_by(|a, b| a == b) {
        action_counts.insert(group[0].to_string(), group.len() as u64);
    }
    let mut rule_counts = BTreeMap::new();
    for group in rules.chunk_by(|a, b| a == b) {
        let (source, id) = group[0];
        let mut k = String::with_capacity(source.len() + 1 + id.len());
        k.push_str(source);
        k.push(':');
        k.push_str(id);
        rule_counts.insert(k, group.len() as u64);
    }
    (action_counts, rule_counts)
}

/// `PATIENT/STUDY/SERIES/SOP.dcm` from the de-identified object. A Patient ID that a
/// custom rule kept as it was is replaced by a keyed token: folder names never carry it.
fn uid_path(prepared: &Prepared, key: &Key) -> PathBuf {
    let obj = prepared.object();
    let text = |t| value::text(obj, t).unwrap_or_default();
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
