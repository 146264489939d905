//! The plan flags shared by `dcmask anonymize` and `dcmask inspect`.

use anyhow::{Context, Result};
use clap::Args;
use dcmask_engine::pixel::RegionRules;
use dcmask_engine::{parse_rules, DateShift, Plan, ProfileId, ProfileOption};
use std::path::{Path, PathBuf};

/// The engine's profile ids, for clap: `--help` lists them and a wrong one is answered
/// with the valid ones.
fn profile_ids() -> clap::builder::PossibleValuesParser {
    ProfileId::ALL.map(|p| p.id()).into()
}

/// The engine's option ids (PS3.15 Table E.1-1's option columns), for clap.
fn option_ids() -> clap::builder::PossibleValuesParser {
    ProfileOption::ALL.map(|o| o.id()).into()
}

/// Plan flags shared by `anonymize` and `inspect`.
#[derive(Args, Clone)]
pub struct PlanArgs {
    /// The profile.
    #[arg(long, default_value = "basic", value_parser = profile_ids())]
    pub profile: String,
    /// Custom rules file (custom_anonymization_profile.json); implies --profile custom.
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Base profile of custom rules.
    #[arg(long, default_value = "basic", value_parser = profile_ids())]
    pub base: String,
    /// A PS3.15 option (repeatable).
    #[arg(long = "option", value_parser = option_ids())]
    pub options: Vec<String>,
    /// Shift dates by DAYS, or `auto` for a keyed per-patient offset.
    #[arg(long)]
    pub date_shift: Option<String>,
    #[command(flatten)]
    pub tools: crate::pixel_tools::ToolArgs,
    /// Clean Pixel Data: which detected text is blanked: `text` (every line but short
    /// safe annotations, the default), `identifying` (only words matching the header's
    /// identifying values or date, ID and phone patterns) or `all_text`.
    #[arg(long, value_name = "MODE", default_value = "text")]
    pub pixel_text: String,
    /// Write objects that lack what their SOP class requires (SOP, Study or Series
    /// Instance UID, the pixel data of an image), which are refused otherwise as probably
    /// truncated; the report marks each such file.
    #[arg(long)]
    pub allow_incomplete: bool,
}

/// The region rules a run uses: the shipped ones, plus the user's file if one was given.
pub struct Regions {
    pub rules: RegionRules,
    /// How many of `rules` came from the user's file.
    pub user: usize,
    /// The user's CSV as read (part of the batch configuration fingerprint).
    pub user_csv: Option<String>,
}

impl Regions {
    /// The shipped rules, with the rules of `path` added (`--region-rules` of every command).
    pub fn load(path: Option<&Path>) -> Result<Regions> {
        let Some(path) = path else {
            return Ok(Regions {
                rules: RegionRules::shipped().clone(),
                user: 0,
                user_csv: None,
            });
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read region rules {}", path.display()))?;
        let user = RegionRules::from_csv(&text)
            .with_context(|| format!("invalid region rules {}", path.display()))?;
        Ok(Regions {
            rules: RegionRules::shipped_with(&user),
            user: user.len(),
            user_csv: Some(text),
        })
    }
}

impl PlanArgs {
    pub fn to_plan(&self) -> Result<Plan> {
        let mut profile = ProfileId::from_id(&self.profile)
            .ok_or_else(|| anyhow::anyhow!("unknown profile `{}`", self.profile))?;
        let mut plan = Plan::builtin(profile);
        if let Some(path) = &self.rules {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read rules file {}", path.display()))?;
            plan.custom_rules = parse_rules(&text)
                .with_context(|| format!("invalid rules file {}", path.display()))?;
            profile = ProfileId::Custom;
        }
        plan.profile = profile;
        plan.base = ProfileId::from_id(&self.base)
            .ok_or_else(|| anyhow::anyhow!("unknown base profile `{}`", self.base))?;
        for o in &self.options {
            plan.options.push(
                ProfileOption::from_id(o).ok_or_else(|| anyhow::anyhow!("unknown option `{o}`"))?,
            );
        }
        plan.date_shift = match self.date_shift.as_deref() {
            None => None,
            Some("auto") => Some(DateShift::Auto(dcmask_engine::AutoShift::Auto)),
            Some(n) => Some(DateShift::Days(n.parse().with_context(|| {
                format!("--date-shift takes a number of days or `auto`, not `{n}`")
            })?)),
        };
        plan.allow_incomplete = self.allow_incomplete;
        plan.pixel_text =
            dcmask_engine::pixel::TextMode::from_id(&self.pixel_text).ok_or_else(|| {
                anyhow::anyhow!(
                    "--pixel-text is `text`, `identifying` or `all_text`, not `{}`",
                    self.pixel_text
                )
            })?;
        plan.validate()?;
        if self.tools.region_rules.is_some()
            && !plan
                .effective_options()
                .contains(&ProfileOption::CleanPixelData)
        {
            anyhow::bail!(
                "--region-rules applies to Clean Pixel Data: use --profile pixel or --option clean_pixel_data"
            );
        }
        Ok(plan)
    }

    /// The shipped region rules, with the user's `--region-rules` file added; none when
    /// the plan does not clean pixel data (the shipped table is then not even parsed:
    /// its conditions cost more to compile than a small file takes to de-identify).
    pub fn regions(&self, plan: &Plan) -> Result<Regions> {
        if !plan
            .effective_options()
            .contains(&ProfileOption::CleanPixelData)
        {
            return Ok(Regions {
                rules: RegionRules::default(),
                user: 0,
                user_csv: None,
            });
        }
        Regions::load(self.tools.region_rules.as_deref())
    }

    /// Region rules and, when `plan` cleans pixels, the text detector.
    pub fn tools(&self, plan: &Plan) -> Result<crate::pixel_tools::Tools> {
        crate::pixel_tools::Tools::for_plan(
            plan,
            self.regions(plan)?,
            self.tools.ocr_models.as_deref(),
        )
    }
}
