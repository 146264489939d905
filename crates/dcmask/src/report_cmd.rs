//! `dcmask report OUT`: the determination report of a batch output folder, the same
//! report as the workbench's ([`dcmask_engine::report::Evidence`]), as HTML to print and
//! sign or as JSON.
//!
//! - **Decisions** come from OUT's `report.json`: its element counts per rule, each rule
//!   given with its action and rationale from the plan the run recorded (per rule, not
//!   per file: the run does not keep per-file records).
//! - **Dataset, Safe Harbor values and risk after** are read from the outputs the run
//!   wrote (headers only); the **content digest** is that of their bytes, by output path:
//!   the same manifest as the run's audit entry, which the report says it matches or not.
//! - **Risk before and the residual-PHI check** need the originals (`--originals IN`):
//!   the check is `dcmask verify`'s. Without them the report says they were not run.
//! - **Audit trail**: the run's log in its linkage folder (`--linkage`, by default
//!   OUTDIR.linkage as for `anonymize`); the report cites its head.
//! - **Release**: what the expert writes in a JSON file (`--release`: recipient,
//!   purpose, agreement, valid_until, expert, conclusion); left empty, the report has
//!   lines to fill in by hand.
//!
//! Nothing in it is a value of a file: counts, rule texts, output paths, digests.
//! Exit code 0; 1 when the check ran and found identifying values or could not read an
//! output (the report is written all the same); 2 when no report could be made.

use crate::audit::{file_sha256, Log};
use crate::risk_cmd::{RiskOptions, Setup};
use anyhow::{bail, Context, Result};
use clap::Args;
use dcmask_engine::io::stream;
use dcmask_engine::report::dataset::{DatasetBuilder, ManifestEntry};
use dcmask_engine::report::harbor::HarborBuilder;
use dcmask_engine::report::{
    config_digest, ChangeCounts, Determination, Evidence, PixelSummary, Release, ReportRow,
    VerifyResult,
};
use dcmask_engine::rule_list;
use dcmask_engine::{Plan, ProfileOption};
use dcmask_engine::{Rule, Source};
use dicom_dictionary_std::uids;
use rayon::prelude::*;
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;

#[derive(Args)]
pub struct ReportArgs {
    /// The output folder of a `dcmask anonymize` run (with its report.json).
    #[arg(value_name = "OUT")]
    pub output: PathBuf,
    /// The originals of the run: adds the risk before and the residual-PHI check.
    #[arg(long = "originals", value_name = "IN")]
    pub originals: Vec<PathBuf>,
    /// The run's linkage folder, for its audit log (default: OUT.linkage).
    #[arg(long, value_name = "DIR")]
    pub linkage: Option<PathBuf>,
    /// The release as the expert describes it: a JSON object with recipient, purpose,
    /// agreement, valid_until, expert and conclusion.
    #[arg(long, value_name = "FILE")]
    pub release: Option<PathBuf>,
    #[command(flatten)]
    pub risk: RiskOptions,
    /// JSON instead of HTML.
    #[arg(long)]
    pub json: bool,
    /// Write the report to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub to: Option<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,
}

/// What `dcmask report` reads of report.json.
#[derive(Deserialize)]
struct RunReport {
    profile: String,
    plan: serde_json::Value,
    #[serde(default)]
    options: Vec<String>,
    key_fingerprint: String,
    #[serde(default)]
    rules: BTreeMap<String, u64>,
    files: Vec<RunFile>,
}

#[derive(Deserialize)]
struct RunFile {
    #[serde(default)]
    output: Option<String>,
    status: String,
    #[serde(default)]
    changed: Option<u64>,
    #[serde(default)]
    pixel_boxes: Option<u64>,
    #[serde(default)]
    pixel_warnings: Vec<String>,
    #[serde(default)]
    burned_in: Option<String>,
}

/// The plan the run recorded; its fixed date shift is `"fixed"` there, which decides
/// nothing of what a rule says.
fn recorded_plan(v: &serde_json::Value) -> Result<Plan> {
    let mut v = v.clone();
    if let Some(shift) = v
        .get_mut("date_shift")
        .filter(|s| s.as_str() == Some("fixed"))
    {
        *shift = 0.into();
    }
    serde_json::from_value(v).context("report.json: the plan is not one this dcmask reads")
}

/// One row per rule of the run's counts, with the plan's action and rationale.
fn rows(plan: &Plan, counts: &BTreeMap<String, u64>) -> Vec<ReportRow> {
    let listed = rule_list(plan);
    counts
        .iter()
        .map(|(key, n)| {
            let (source, id) = key.split_once(':').unwrap_or(("", key));
            let source = Source::ALL.into_iter().find(|s| s.name() == source);
            let entry = listed
                .iter()
                .find(|e| Some(e.rule.source) == source && e.rule.id == id);
            let tag = entry
                .map(|e| e.id.clone())
                .unwrap_or_else(|| id.to_string());
            let keyword = dcmask_engine::tag::parse_tag(&tag)
                .map(dcmask_engine::tag::keyword)
                .unwrap_or("");
            ReportRow {
                tag,
                keyword,
                action: entry
                    .map(|e| e.action.clone())
                    .unwrap_or_else(|| "—".into()),
                rule: entry.map(|e| e.rule.clone()).unwrap_or_else(|| Rule {
                    source: source.unwrap_or(Source::Structural),
                    id: Cow::Owned(id.to_string()),
                    code: None,
                    option: None,
                    explanation: Cow::Borrowed(
                        "applied per element during the run (not a rule of the plan's list)",
                    ),
                    note: None,
                }),
                files: None,
                elements: *n as usize,
                changed: None,
            }
        })
        .collect()
}

pub fn run(args: ReportArgs) -> Result<ExitCode> {
    if args.jobs == Some(0) {
        bail!("-j takes a number of threads of at least 1");
    }
    let out = &args.output;
    let text = std::fs::read(out.join("report.json"))
        .with_context(|| format!("{} has no report.json of a dcmask run", out.display()))?;
    let run: RunReport =
        serde_json::from_slice(&text).context("report.json is not a dcmask run report")?;
    let plan = recorded_plan(&run.plan)?;
    let release: Release = match &args.release {
        Some(p) => serde_json::from_slice::<Release>(
            &std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?,
        )
        .with_context(|| format!("{}: not a release description", p.display()))?
        .clipped(),
        None => Release::default(),
    };
    let setup = Setup::new(&args.risk)?;
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(j) = args.jobs {
        pool = pool.num_threads(j);
    }
    let pool = pool.build().context("cannot start worker threads")?;

    // The outputs the run wrote: headers for the counts, bytes for the digest.
    let written: Vec<&RunFile> = run.files.iter().filter(|f| f.status == "ok").collect();
    let names: Vec<&str> = written.iter().filter_map(|f| f.output.as_deref()).collect();
    let paths: Vec<PathBuf> = names
        .iter()
        .map(|n| n.split('/').fold(out.to_path_buf(), |p, c| p.join(c)))
        .collect();
    let dataset = Mutex::new(DatasetBuilder::default());
    let harbor = Mutex::new(HarborBuilder::default());
    let manifest: Vec<ManifestEntry> = pool.install(|| {
        names
            .par_iter()
            .zip(&paths)
            .with_max_len(1)
            .map(|(name, path)| -> Result<ManifestEntry> {
                let sha256 =
                    file_sha256(path).with_context(|| format!("cannot read the output {name}"))?;
                let mut f = File::open(path)?;
                // A regenerated DICOMDIR is an index, not an instance.
                let header = stream::read_header(&mut f).ok().filter(|h| {
                    h.object
                        .meta()
                        .media_storage_sop_class_uid()
                        .trim_end_matches(['\0', ' '])
                        != uids::MEDIA_STORAGE_DIRECTORY_STORAGE
                });
                if let Some(h) = header {
                    dataset.lock().expect("dataset").add(&h.object);
                    harbor.lock().expect("harbor").add_output(&h.object);
                }
                Ok(ManifestEntry {
                    name: name.to_string(),
                    sha256,
                })
            })
            .collect::<Result<_>>()
    })?;
    let mut dataset = dataset.into_inner().expect("dataset").finish();
    dataset.set_manifest(manifest);
    let mut harbor = harbor.into_inner().expect("harbor");
    let rows = rows(&plan, &run.rules);
    for r in &rows {
        if let Ok(tag) = dcmask_engine::tag::parse_tag(&r.tag) {
            harbor.add_decision(tag, &r.action, r.elements as u64);
        }
    }

    let mut risk = setup.evidence();
    let (after, _) = pool.install(|| setup.analyse(&paths));
    match after {
        Ok(r) => risk.after = Some(r),
        Err(e) => risk.after_note = Some(format!("No figures after: {e}")),
    }
    let verify = if args.originals.is_empty() {
        risk.before_note =
            Some("No figures before: the originals were not given (--originals IN)".into());
        VerifyResult::not_run("the originals were not given (--originals IN)")
    } else {
        let mut originals = Vec::new();
        for input in &args.originals {
            crate::risk_cmd::walk(input, &mut originals, &mut HashSet::new())
                .with_context(|| format!("cannot read {}", input.display()))?;
        }
        match pool.install(|| setup.analyse(&originals)).0 {
            Ok(r) => risk.before = Some(r),
            Err(e) => risk.before_note = Some(format!("No figures before: {e}")),
        }
        let checked = crate::verify_cmd::check(out, &args.originals, args.jobs)?;
        let mut v = VerifyResult::ran(
            "every file under the output folder (values at every depth, bytes but pixel data, file and folder names), as `dcmask verify`",
            checked.originals,
            checked.values,
        );
        v.files = checked.files();
        v.unreadable = checked.unread();
        for (file, place, category) in checked.findings() {
            v.add(&file, place, category);
        }
        v
    };

    let mut pixels = PixelSummary {
        cleaned: plan
            .effective_options()
            .contains(&ProfileOption::CleanPixelData),
        ..PixelSummary::default()
    };
    let mut burned_in = Vec::new();
    for f in &written {
        let boxes = f.pixel_boxes.unwrap_or(0);
        pixels.boxes += boxes;
        pixels.files_with_boxes += u64::from(boxes > 0);
        let name = f.output.clone().unwrap_or_default();
        for w in &f.pixel_warnings {
            pixels.warnings.push(dcmask_engine::report::FileNote {
                file: name.clone(),
                note: w.clone(),
            });
        }
        if let Some(why) = &f.burned_in {
            pixels.burned_in += 1;
            burned_in.push(dcmask_engine::report::BurnedInRow {
                file: name,
                reason: why.clone(),
            });
        }
    }
    let changed: u64 = written.iter().filter_map(|f| f.changed).sum();

    let linkage = match &args.linkage {
        Some(l) => l.clone(),
        None => crate::batch::linkage::default_for(out)?,
    };
    let log = Log::at(
        linkage.join(crate::audit::NAME),
        "the run's audit log (in its linkage folder)",
    );
    let entry = log.last_of("batch").map(|(n, line)| {
        let same = line.entry.outputs.as_deref() == dataset.content_digest.as_deref();
        format!(
            "the run, entry {n}: {}",
            if same {
                "its outputs digest matches the content digest above"
            } else {
                "its outputs digest does NOT match the content digest above (the outputs changed since the run, or a later run)"
            }
        )
    });
    let audit = log.head(Some(
        entry.unwrap_or_else(|| "no run entry found in the log".into()),
    ));

    let decisions = Determination {
        dcmask_version: env!("CARGO_PKG_VERSION"),
        profile: run.profile,
        options: run.options,
        edition: dcmask_engine::TABLE_EDITION,
        key_fingerprint: run.key_fingerprint.clone(),
        date_shift: match plan.shift() {
            Some(dcmask_engine::DateShift::Days(_)) => "fixed",
            Some(dcmask_engine::DateShift::Auto(_)) => "auto",
            None => "none",
        },
        files: written.len(),
        changed: ChangeCounts {
            total: changed as usize,
            by_profile: changed as usize,
            by_hand: 0,
            not_in_rows: 0,
        },
        rows,
        manual: Vec::new(),
        burned_in,
        cleaned: Default::default(),
        pixel_boxes: pixels.boxes as usize,
    };
    let evidence = Evidence {
        generated: chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        made_by: "dcmask report".into(),
        configuration_digest: config_digest(&plan.shareable_json(), &run.key_fingerprint),
        decisions_from: "the run's report.json (element counts per rule)".into(),
        decisions,
        dataset,
        release,
        safe_harbor: harbor.finish(),
        risk,
        verify,
        pixels,
        audit: Some(audit),
    };
    let bytes = if args.json {
        let mut v = serde_json::to_vec_pretty(&evidence)?;
        v.push(b'\n');
        v
    } else {
        dcmask_engine::report::to_html(&evidence).into_bytes()
    };
    match &args.to {
        Some(path) => write_atomic(path, &bytes)?,
        None => crate::stdout::write(|w| w.write_all(&bytes))?,
    }
    eprintln!(
        "dcmask report: {} outputs, content digest {}; residual-PHI check: {}",
        evidence.dataset.instances,
        evidence.dataset.content_digest.as_deref().unwrap_or(""),
        if !evidence.verify.ran {
            "not run".to_string()
        } else {
            format!("{} findings", evidence.verify.findings)
        }
    );
    // The report is written either way; a script sees that it does not stand clean.
    Ok(if evidence.verify.ran && !evidence.verify.clean() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Writes `bytes` to `path` through a temporary file beside it.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file name", path.display()))?;
    let tmp = path.with_file_name(format!(".{}.part", name.to_string_lossy()));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
