//! The start of a batch run: the arguments checked, the inputs walked, the output and
//! linkage folders made and the journal opened (nothing is de-identified yet); then which
//! files an earlier run of the same command finished.

use super::journal::{self, Done, Journal};
use super::layout::{self, Item, MediaRoot, WalkStats};
use super::{linkage, progress, report, AnonymizeArgs};
use anyhow::{bail, Context, Result};
use dcmask_engine::{Key, Plan};
use std::collections::HashMap;
use std::path::PathBuf;

/// What a run works with, fixed before the first file is read.
pub(super) struct Setup {
    pub plan: Plan,
    /// Region rules and, when pixels are cleaned, the text detector (loaded now).
    pub tools: crate::pixel_tools::Tools,
    pub risk: Option<crate::risk_cmd::Setup>,
    pub key: Key,
    pub outdir: PathBuf,
    pub linkage_dir: PathBuf,
    pub items: Vec<Item>,
    pub walk_stats: WalkStats,
    pub roots: Vec<MediaRoot>,
    pub bytes_total: u64,
    /// `counter` or `uid` (`--name-by-uid`), as the report and the journal say it.
    pub naming: &'static str,
}

/// Checks the arguments and places, walks the inputs, makes OUTDIR and the linkage
/// folder and opens the journal; returns the journal and the files it says are done.
pub(super) fn prepare(args: &AnonymizeArgs) -> Result<(Setup, Journal, HashMap<String, Done>)> {
    let plan = args.plan.to_plan()?;
    let tools = args.plan.tools(&plan)?;
    let risk = crate::risk_cmd::Setup::for_batch(args.risk, &args.risk_options)?;
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
    let key = args.plan.tools.key()?;
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
            "region_rules": tools.regions.user_csv,
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
    let setup = Setup {
        plan,
        tools,
        risk,
        key,
        outdir,
        linkage_dir,
        items,
        walk_stats,
        roots,
        bytes_total,
        naming,
    };
    Ok((setup, journal, previous))
}

/// The journal key of every item (its input and relative path under the run's key).
pub(super) fn keys(setup: &Setup) -> Vec<String> {
    setup
        .items
        .iter()
        .map(|i| journal::input_key(&setup.key, i.root, &i.rel))
        .collect()
}

/// Files finished by an earlier run: their line matches, their output is there, and
/// (counter naming) it has the name the layout gives now.
pub(super) fn resumable<'a>(
    setup: &Setup,
    keys: &[String],
    previous: &'a HashMap<String, Done>,
    name_by_uid: bool,
) -> Vec<Option<&'a Done>> {
    setup
        .items
        .iter()
        .zip(keys)
        .map(|(item, k)| {
            previous.get(k).filter(|d| {
                item.walk_error.is_none()
                    && d.size == item.size
                    && d.mtime == item.mtime
                    && (name_by_uid
                        || d.out == journal::slash_path(&item.out_dir.join(&item.out_name)))
                    && setup
                        .outdir
                        .join(journal::path_from_slash(&d.out))
                        .is_file()
            })
        })
        .collect()
}

/// Output paths the resumed files already hold (`--name-by-uid`), by item index: a new
/// file that would take one of them is a duplicate.
pub(super) fn claims(resumable: &[Option<&Done>], name_by_uid: bool) -> HashMap<String, usize> {
    let mut claims = HashMap::new();
    if name_by_uid {
        for (i, d) in resumable.iter().enumerate() {
            if let Some(d) = d {
                claims.entry(d.out.clone()).or_insert(i);
            }
        }
    }
    claims
}
