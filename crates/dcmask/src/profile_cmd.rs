//! `dcmask profile list|show|export` and `dcmask inspect`: reading plans and decisions, writing nothing.
//! Everything goes to standard output through [`crate::stdout`], which ends quietly when
//! the reader stops reading.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use dcmask_engine::io::stream;
use dcmask_engine::{rule_list, Plan, ProfileId};
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
        ProfileAction::List => crate::stdout::write(|out| {
            for id in ProfileId::ALL {
                let count = rule_list(&Plan::builtin(id)).len();
                writeln!(
                    out,
                    "{:<8} {:>5} rules  {}",
                    id.id(),
                    count,
                    id.description()
                )?;
            }
            Ok(())
        }),
        ProfileAction::Show { name } => {
            let rules = rule_list(&builtin(&name)?);
            crate::stdout::write(|out| {
                for e in rules {
                    writeln!(
                        out,
                        "{:<13} {:<48} {:<14} {}",
                        e.id,
                        e.name.chars().take(48).collect::<String>(),
                        e.action,
                        e.rule.explanation
                    )?;
                }
                Ok(())
            })
        }
        ProfileAction::Export { name } => {
            let rules = rule_list(&builtin(&name)?);
            crate::stdout::write(|out| {
                serde_json::to_writer_pretty(&mut *out, &rules)?;
                writeln!(out)
            })
        }
    }
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

/// The file is read like `anonymize` reads it: header only, the pixel data neither loaded
/// nor kept (unless the plan cleans pixels, which needs the decoded image).
pub fn inspect(args: InspectArgs) -> Result<()> {
    let plan = args.plan.to_plan()?;
    let key = args.plan.tools.key()?;
    let mut file = std::fs::File::open(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    // The same pixel tools as `anonymize`: region rules (with --region-rules) and, when
    // pixels are cleaned, the text detector.
    let tools = args.plan.tools(&plan)?;
    let tools = tools.pixel();
    let prepared = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        stream::prepare_with(&mut file, &plan, &key, &tools)
    }))
    .map_err(|_| anyhow::anyhow!(crate::INTERNAL_ERROR))?;
    let (record, _) = prepared?.into_parts();
    drop(file);
    if args.json {
        return crate::stdout::write(|out| {
            serde_json::to_writer_pretty(&mut *out, &record)?;
            writeln!(out)
        });
    }
    crate::stdout::write(|out| {
        writeln!(
            out,
            "profile {}  key {}",
            record.profile, record.key_fingerprint
        )?;
        for e in &record.entries {
            writeln!(
                out,
                "{:<32} {:<36} {:<14} {:<7} {}",
                e.path,
                e.keyword,
                e.action.label(),
                if e.changed { "changed" } else { "" },
                e.rule.explanation
            )?;
        }
        for b in &record.pixel_boxes {
            writeln!(
                out,
                "pixels blanked: columns {}-{}, rows {}-{} ({})",
                b.x0,
                b.x1.saturating_sub(1),
                b.y0,
                b.y1.saturating_sub(1),
                b.source
            )?;
        }
        for w in &record.pixel_warnings {
            writeln!(out, "pixel warning: {w}")?;
        }
        if let Some(why) = &record.burned_in {
            writeln!(
                out,
                "burned-in text: {why} (--profile pixel cleans the pixels)"
            )?;
        }
        writeln!(
            out,
            "{} elements decided, {} changed; {} words dropped from free text",
            record.entries.len(),
            record.changed_count(),
            record.cleaned.total()
        )
    })
}
