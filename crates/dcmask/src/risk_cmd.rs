//! `dcmask risk DIR...`: the re-identification risk of a folder of DICOM files (a batch
//! output, or the originals to see the risk before), and the same block in the report
//! of `dcmask anonymize --risk`. The figures are the engine's ([`dcmask_engine::risk`]).
//!
//! - Files are read by header only (`stream::read_header`: the pixel data is never
//!   loaded), in parallel; each worker extracts the few values an analysis needs and
//!   adds them to one builder, so memory holds a small set per record, not the objects.
//! - Non-DICOM files are skipped and counted; a DICOMDIR is not counted (it repeats the
//!   patients of the files it indexes).
//! - Output: figures and counts only, never a value or a path (file names of originals
//!   carry names). Exit code: 0, 1 when some DICOM files could not be read (the figures
//!   are then over those read), 2 when it could not run.

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use dcmask_engine::io::stream;
use dcmask_engine::risk::{self, Builder, Observation, QuasiIdentifier, RecordKind, Report};
use dcmask_engine::Error;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::HashSet;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

#[derive(Clone, Copy, ValueEnum)]
pub enum Record {
    Patient,
    Study,
}

/// What an analysis counts and how; shared by `risk` and `anonymize --risk`.
#[derive(Args, Clone, Default)]
pub struct RiskOptions {
    /// What one record is: a patient (by Patient ID, the default) or a study (by Study
    /// Instance UID).
    #[arg(long, value_enum, value_name = "patient|study")]
    pub record: Option<Record>,
    /// The quasi-identifiers, by table id, keyword or tag: `PatientAge,PatientSex`
    /// replaces the defaults, `-PatientSex,+(0019,100C)` changes them.
    #[arg(
        long = "quasi-identifiers",
        value_name = "K1,K2,...",
        allow_hyphen_values = true
    )]
    pub quasi_identifiers: Option<String>,
    /// The size of the population the records were drawn from (e.g. the patients the
    /// site saw over the period): adds the journalist and marketer risks.
    #[arg(long, value_name = "N")]
    pub population: Option<u64>,
}

#[derive(Args)]
pub struct RiskArgs {
    /// Folders or files of DICOM objects (folders recursively).
    #[arg(required = true, value_name = "DIR")]
    pub inputs: Vec<PathBuf>,
    #[command(flatten)]
    pub options: RiskOptions,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Worker threads (default: all cores).
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,
}

/// A checked configuration, made before any file is read.
pub struct Setup {
    qis: Vec<QuasiIdentifier>,
    kind: RecordKind,
    population: Option<u64>,
}

/// What was read.
#[derive(Serialize, Default, Debug)]
pub struct Files {
    pub total: u64,
    pub dicom: u64,
    pub not_dicom: u64,
    pub dicomdir: u64,
    pub unreadable: u64,
}

#[derive(Serialize)]
struct Block<'a> {
    files: &'a Files,
    #[serde(flatten)]
    report: &'a Report,
}

impl Setup {
    pub fn new(o: &RiskOptions) -> Result<Setup> {
        let qis = match &o.quasi_identifiers {
            Some(list) => {
                risk::select(list).map_err(|e| anyhow::anyhow!("--quasi-identifiers: {e}"))?
            }
            None => risk::defaults().to_vec(),
        };
        if o.population == Some(0) {
            bail!("--population must be at least 1");
        }
        Ok(Setup {
            qis,
            kind: match o.record {
                Some(Record::Study) => RecordKind::Study,
                Some(Record::Patient) | None => RecordKind::Patient,
            },
            population: o.population,
        })
    }

    /// The report's risk part, without figures yet.
    pub fn evidence(&self) -> dcmask_engine::report::RiskEvidence {
        dcmask_engine::report::RiskEvidence::new(&self.qis, self.kind, self.population)
    }

    /// For `anonymize`: a setup when `--risk` is given, refusing its options without it.
    pub fn for_batch(risk: bool, o: &RiskOptions) -> Result<Option<Setup>> {
        if !risk {
            if o.record.is_some() || o.quasi_identifiers.is_some() || o.population.is_some() {
                bail!("--record, --quasi-identifiers and --population go with --risk");
            }
            return Ok(None);
        }
        Setup::new(o).map(Some)
    }

    /// The analysis of these files, read in parallel by header.
    pub fn analyse(&self, files: &[PathBuf]) -> (Result<Report, String>, Files) {
        let builder = Mutex::new(Builder::new(self.qis.clone(), self.kind));
        let (not_dicom, dicomdir, unreadable, dicom) = (
            AtomicU64::new(0),
            AtomicU64::new(0),
            AtomicU64::new(0),
            AtomicU64::new(0),
        );
        files.par_iter().with_max_len(1).for_each(|path| {
            let header = File::open(path)
                .map_err(|_| None)
                .and_then(|mut f| stream::read_header(&mut f).map_err(Some));
            match header {
                Ok(h) => {
                    let class = h.object.meta().media_storage_sop_class_uid();
                    if class.trim_end_matches(['\0', ' '])
                        == dicom_dictionary_std::uids::MEDIA_STORAGE_DIRECTORY_STORAGE
                    {
                        dicomdir.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    let o = Observation::of(&h.object, &self.qis, self.kind);
                    drop(h);
                    builder.lock().expect("risk builder").add(o);
                    dicom.fetch_add(1, Ordering::Relaxed);
                }
                Err(Some(Error::NotDicom { .. })) => {
                    not_dicom.fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => {
                    unreadable.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        let counts = Files {
            total: files.len() as u64,
            dicom: dicom.into_inner(),
            not_dicom: not_dicom.into_inner(),
            dicomdir: dicomdir.into_inner(),
            unreadable: unreadable.into_inner(),
        };
        let analysis = builder.into_inner().expect("risk builder").finish();
        (analysis.report(self.population), counts)
    }

    /// The block `anonymize --risk` puts in report.json: the same object as
    /// `dcmask risk --json`, or the reason there are no figures.
    pub fn block(&self, outputs: impl Iterator<Item = PathBuf>) -> serde_json::Value {
        let files: Vec<PathBuf> = outputs.collect();
        match self.analyse(&files) {
            (Ok(report), counts) => serde_json::to_value(Block {
                files: &counts,
                report: &report,
            })
            .unwrap_or_default(),
            (Err(e), counts) => {
                eprintln!("dcmask: no risk figures: {e}");
                serde_json::json!({ "files": counts, "error": e })
            }
        }
    }
}

pub fn run(args: RiskArgs) -> Result<ExitCode> {
    if args.jobs == Some(0) {
        bail!("-j takes a number of threads of at least 1");
    }
    let setup = Setup::new(&args.options)?;
    let mut files = Vec::new();
    for input in &args.inputs {
        if !input.exists() {
            bail!("{} does not exist", input.display());
        }
        walk(input, &mut files, &mut HashSet::new())
            .with_context(|| format!("cannot read {}", input.display()))?;
    }
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(j) = args.jobs {
        pool = pool.num_threads(j);
    }
    let pool = pool.build().context("cannot start worker threads")?;
    let (report, counts) = pool.install(|| setup.analyse(&files));
    let report = report.map_err(|e| anyhow::anyhow!(e))?;
    if counts.dicom == 0 {
        bail!("no DICOM object could be read");
    }
    eprintln!(
        "dcmask risk: {} files: {} DICOM objects read, {} not DICOM, {} DICOMDIR not counted, {} unreadable",
        counts.total, counts.dicom, counts.not_dicom, counts.dicomdir, counts.unreadable
    );
    crate::stdout::write(|out| {
        if args.json {
            serde_json::to_writer_pretty(
                &mut *out,
                &Block {
                    files: &counts,
                    report: &report,
                },
            )?;
            writeln!(out)
        } else {
            print_text(out, &report)
        }
    })?;
    if counts.unreadable > 0 {
        eprintln!(
            "dcmask risk: {} files could not be read: the figures are over the others",
            counts.unreadable
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn percent(n: u64, of: u64) -> String {
    if of == 0 {
        return "0%".into();
    }
    format!("{:.1}%", 100.0 * n as f64 / of as f64)
}

fn print_text(out: &mut dyn Write, r: &Report) -> std::io::Result<()> {
    let f = &r.figures;
    let what = match r.record {
        RecordKind::Patient => "patients",
        RecordKind::Study => "studies",
    };
    writeln!(
        out,
        "records: {} {what} from {} objects",
        f.records, r.instances
    )?;
    if r.records_without_id > 0 {
        writeln!(
            out,
            "  {} of them without a {} (taken as their study or object)",
            r.records_without_id,
            match r.record {
                RecordKind::Patient => "Patient ID",
                RecordKind::Study => "Study Instance UID",
            }
        )?;
    }
    writeln!(out, "equivalence classes: {}, k-min {}", f.classes, f.k_min)?;
    writeln!(
        out,
        "records with k = 1: {} ({}), k < 5: {} ({}), k < 11: {} ({})",
        f.unique_records,
        percent(f.unique_records, f.records),
        f.records_below_k5,
        percent(f.records_below_k5, f.records),
        f.records_below_k11,
        percent(f.records_below_k11, f.records)
    )?;
    writeln!(
        out,
        "prosecutor risk: maximum {:.4}, average {:.4}",
        f.prosecutor_risk_max, f.prosecutor_risk_avg
    )?;
    if let (Some(n), Some(j), Some(m)) = (r.population, f.journalist_risk_max, f.marketer_risk) {
        writeln!(
            out,
            "journalist risk (population {n}): maximum {j:.4}; marketer risk {m:.4}"
        )?;
        writeln!(out, "  model: {}", risk::POPULATION_MODEL)?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "{:<28} {:>8} {:>9} | {:>13} {:>6} | {:>11} {:>6} {:>6}",
        "quasi-identifier",
        "unique",
        "distinct",
        "without: k=1",
        "k-min",
        "generalized",
        "k=1",
        "k-min"
    )?;
    writeln!(out, "{:<28} {:>8} {:>9} |", "", "because", "values")?;
    for q in &r.quasi_identifiers {
        let (to, g1, gk) = match &q.generalized {
            Some(g) => (
                g.to.clone(),
                g.figures.unique_records.to_string(),
                g.figures.k_min.to_string(),
            ),
            None => ("-".into(), String::new(), String::new()),
        };
        writeln!(
            out,
            "{:<28} {:>8} {:>9} | {:>13} {:>6} | {:>11} {:>6} {:>6}",
            q.id,
            q.unique_because,
            q.distinct_values,
            q.without.unique_records,
            q.without.k_min,
            to,
            g1,
            gk
        )?;
    }
    Ok(())
}

/// Every regular file under `path` (itself when a file), sorted; links followed, each
/// folder once.
pub fn walk(
    path: &Path,
    into: &mut Vec<PathBuf>,
    seen: &mut HashSet<PathBuf>,
) -> std::io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if meta.is_file() {
        into.push(path.to_path_buf());
        return Ok(());
    }
    if !meta.is_dir() || !seen.insert(path.canonicalize()?) {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for e in entries {
        // A file that vanished or a dangling link: not an object to count.
        if std::fs::metadata(&e).is_ok() {
            walk(&e, into, seen)?;
        }
    }
    Ok(())
}
