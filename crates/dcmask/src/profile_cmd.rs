//! `dcmask profile list|show|export` and `dcmask inspect`: reading plans and decisions, writing nothing.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use dcmask_engine::pixel::PixelTools;
use dcmask_engine::{deidentify_with, io, rule_list, Plan, ProfileId, ProfileOption};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum ProfileAction {
    /// The built-in profiles with their rule counts.
    List,
    /// Every rule of a profile: tag, name, action and the rule behind it.
    Show { name: String },
    /// A profile's rules as JSON.
    Export { name: String },
}

fn builtin(name: &str) -> Result<Plan> {
    match ProfileId::from_id(name) {
        Some(ProfileId::Custom) | None => {
            bail!("unknown profile `{name}` (expected basic, hipaa or pixel; custom profiles are rule files)")
        }
        Some(id) => Ok(Plan::builtin(id)),
    }
}

pub fn profile(action: ProfileAction) -> Result<()> {
    match action {
        ProfileAction::List => {
            for id in ProfileId::ALL {
                let count = rule_list(&Plan::builtin(id)).len();
                println!("{:<8} {:>5} rules  {}", id.id(), count, id.description());
            }
        }
        ProfileAction::Show { name } => {
            let plan = builtin(&name)?;
            for e in rule_list(&plan) {
                println!(
                    "{:<13} {:<48} {:<14} {}",
                    e.id,
                    e.name.chars().take(48).collect::<String>(),
                    e.action,
                    e.rule.explanation
                );
            }
        }
        ProfileAction::Export { name } => {
            let plan = builtin(&name)?;
            println!("{}", serde_json::to_string_pretty(&rule_list(&plan))?);
        }
    }
    Ok(())
}

#[derive(Args)]
pub struct InspectArgs {
    /// The DICOM file to inspect (it is only read).
    file: PathBuf,
    #[command(flatten)]
    plan: crate::batch::PlanArgs,
    /// Print the decision record as JSON.
    #[arg(long)]
    json: bool,
}

pub fn inspect(args: InspectArgs) -> Result<()> {
    let plan = args.plan.to_plan()?;
    let key = crate::keystore::load_key(args.plan.key_file.as_deref())?;
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let obj = io::read_object(&bytes)?;
    // The same pixel tools as `anonymize`: region rules (with --region-rules) and, when
    // pixels are cleaned, the text detector.
    let regions = args.plan.regions()?;
    let detector = if plan
        .effective_options()
        .contains(&ProfileOption::CleanPixelData)
    {
        crate::ocr::detector()
            .map_err(|e| tracing::warn!("text detection unavailable: {e}"))
            .ok()
    } else {
        None
    };
    let mut tools = PixelTools::rules(&regions.rules);
    tools.detector = detector.as_deref();
    let outcome = deidentify_with(obj, &plan, &key, &tools)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome.record)?);
        return Ok(());
    }
    println!(
        "profile {}  key {}",
        outcome.record.profile, outcome.record.key_fingerprint
    );
    for e in &outcome.record.entries {
        println!(
            "{:<32} {:<36} {:<14} {:<7} {}",
            e.path,
            e.keyword,
            e.action.label(),
            if e.changed { "changed" } else { "" },
            e.rule.explanation
        );
    }
    for b in &outcome.record.pixel_boxes {
        println!(
            "pixels blanked: columns {}-{}, rows {}-{} ({})",
            b.x0,
            b.x1.saturating_sub(1),
            b.y0,
            b.y1.saturating_sub(1),
            b.source
        );
    }
    for w in &outcome.record.pixel_warnings {
        println!("pixel warning: {w}");
    }
    println!(
        "{} elements decided, {} changed; {} words dropped from free text",
        outcome.record.entries.len(),
        outcome.record.changed_count(),
        outcome.record.cleaned.total()
    );
    Ok(())
}
