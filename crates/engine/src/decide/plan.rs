//! A plan: which profile, which options, how to shift dates, and the custom rules.

use crate::error::PlanError;
use crate::pixel::TextMode;
use crate::profile::options::ProfileOption;
use crate::profile::rules::CustomRule;
use serde::{Deserialize, Serialize};

/// The built-in profiles, plus Custom (a base profile with per-tag overrides).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProfileId {
    /// The PS3.15 Basic Application Level Confidentiality Profile alone.
    Basic,
    /// HIPAA Safe Harbor: Basic plus the 18 identifiers, dates to the year.
    Hipaa,
    /// +Pixel: Basic plus Clean Pixel Data.
    Pixel,
    /// The user's per-tag rules over a base profile.
    Custom,
}

impl ProfileId {
    /// Every profile, in the order the workbench and `--help` list them.
    pub const ALL: [ProfileId; 4] = [Self::Basic, Self::Hipaa, Self::Pixel, Self::Custom];

    /// The id in plans, flags and URLs (`basic`, `hipaa`, `pixel`, `custom`).
    pub fn id(self) -> &'static str {
        match self {
            Self::Basic => "basic",
            Self::Hipaa => "hipaa",
            Self::Pixel => "pixel",
            Self::Custom => "custom",
        }
    }

    /// The profile with this id, in any case.
    pub fn from_id(s: &str) -> Option<ProfileId> {
        Self::ALL
            .into_iter()
            .find(|p| p.id() == s.to_ascii_lowercase())
    }

    /// The name people read (`+Pixel`).
    pub fn label(self) -> &'static str {
        match self {
            Self::Basic => "Basic",
            Self::Hipaa => "HIPAA",
            Self::Pixel => "+Pixel",
            Self::Custom => "Custom",
        }
    }

    /// One sentence on what the profile does.
    pub fn description(self) -> &'static str {
        match self {
            Self::Basic => "PS3.15 Basic Application Level Confidentiality Profile: every row of Table E.1-1",
            Self::Hipaa => "Safe Harbor: Basic plus the 18 HIPAA identifiers; dates kept to the year, ages 90+ pooled",
            Self::Pixel => "Basic plus Clean Pixel Data: burned-in text blanked in the image",
            Self::Custom => "Your per-tag rules, overriding a base profile (Basic unless chosen otherwise)",
        }
    }

    /// Options a built-in profile always switches on.
    fn implied_options(self) -> &'static [ProfileOption] {
        match self {
            Self::Hipaa => &[ProfileOption::CleanDescriptors],
            Self::Pixel => &[ProfileOption::CleanPixelData],
            Self::Basic | Self::Custom => &[],
        }
    }
}

/// How dates are moved when Retain Longitudinal Temporal Information with Modified Dates is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DateShift {
    /// A fixed number of days for every patient.
    Days(i64),
    /// "auto": a keyed offset per Patient ID.
    Auto(AutoShift),
}

/// The one spelling of a keyed shift in a plan file: `"auto"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AutoShift {
    /// `"auto"`.
    Auto,
}

/// Everything the engine needs besides the object and the key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The profile applied.
    pub profile: ProfileId,
    /// The profile Custom rules override; ignored for built-in profiles.
    #[serde(default = "basic")]
    pub base: ProfileId,
    /// Options chosen (those the profile implies are added when applied).
    #[serde(default)]
    pub options: Vec<ProfileOption>,
    /// Setting a shift switches on Modified Dates.
    #[serde(default)]
    pub date_shift: Option<DateShift>,
    /// Per-tag rules, consulted before any other layer.
    #[serde(default)]
    pub custom_rules: Vec<CustomRule>,
    /// With Clean Pixel Data: which text found by a detector is blanked.
    #[serde(default, skip_serializing_if = "TextMode::is_default")]
    pub pixel_text: TextMode,
    /// Write objects that lack what their SOP class requires (a truncated file, most
    /// likely) instead of refusing them; the record says so.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_incomplete: bool,
}

fn basic() -> ProfileId {
    ProfileId::Basic
}

impl Plan {
    /// A built-in profile with no option, shift or custom rule.
    pub fn builtin(profile: ProfileId) -> Plan {
        Plan {
            profile,
            base: ProfileId::Basic,
            options: Vec::new(),
            date_shift: None,
            custom_rules: Vec::new(),
            pixel_text: TextMode::Text,
            allow_incomplete: false,
        }
    }

    /// The profile whose table rules apply (Custom resolves to its base).
    pub fn base_profile(&self) -> ProfileId {
        if self.profile == ProfileId::Custom {
            self.base
        } else {
            self.profile
        }
    }

    /// Whether the HIPAA layer applies (HIPAA itself, or Custom on HIPAA).
    pub fn is_hipaa(&self) -> bool {
        self.base_profile() == ProfileId::Hipaa
    }

    /// How dates are shifted: the shift given, or, when Retain Modified Dates is chosen
    /// without one, the keyed per-patient offset. Without it every date would be written
    /// as it was while the markers said MODIFIED.
    pub fn shift(&self) -> Option<DateShift> {
        self.date_shift.or_else(|| {
            self.options
                .contains(&ProfileOption::RetainLongModifiedDates)
                .then_some(DateShift::Auto(AutoShift::Auto))
        })
    }

    /// The options in force: the user's, the profile's own, and Modified Dates when a shift is set.
    pub fn effective_options(&self) -> Vec<ProfileOption> {
        let mut opts: Vec<ProfileOption> = self.options.clone();
        opts.extend_from_slice(self.base_profile().implied_options());
        if self.date_shift.is_some() {
            opts.push(ProfileOption::RetainLongModifiedDates);
        }
        opts.sort();
        opts.dedup();
        opts
    }

    /// Refuses a plan that contradicts itself, before any file is read.
    pub fn validate(&self) -> Result<(), PlanError> {
        if self.profile == ProfileId::Custom && self.base == ProfileId::Custom {
            return Err(PlanError::CustomBase);
        }
        let opts = self.effective_options();
        let full = opts.contains(&ProfileOption::RetainLongFullDates);
        let modified = opts.contains(&ProfileOption::RetainLongModifiedDates);
        if full && modified {
            return Err(PlanError::DatesConflict);
        }
        if self.is_hipaa() && full {
            return Err(PlanError::HipaaDates("Retain Full Dates"));
        }
        if self.is_hipaa() && modified {
            return Err(PlanError::HipaaDates("date shifting"));
        }
        match self.date_shift {
            Some(DateShift::Days(0)) => return Err(PlanError::ZeroShift),
            Some(DateShift::Days(n))
                if n.unsigned_abs() > crate::actions::dates::MAX_SHIFT_DAYS as u64 =>
            {
                return Err(PlanError::ShiftTooLarge(n))
            }
            _ => {}
        }
        Ok(())
    }

    /// The plan as reports and audit entries show it: a fixed date shift becomes
    /// `"fixed"` (the number of days would undo the shift).
    pub fn shareable_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).expect("a plan serialises");
        if let Some(shift) = v.get_mut("date_shift").filter(|s| s.is_number()) {
            *shift = "fixed".into();
        }
        v
    }

    /// The name written into reports and De-identification Method.
    pub fn label(&self) -> String {
        if self.profile == ProfileId::Custom {
            format!(
                "Custom ({} rules over {})",
                self.custom_rules.len(),
                self.base.label()
            )
        } else {
            self.profile.label().to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_json_accepts_days_and_auto() {
        let p: Plan = serde_json::from_str(
            r#"{"profile":"custom","options":["retain_uids"],"date_shift":"auto","custom_rules":[]}"#,
        )
        .unwrap();
        assert_eq!(p.date_shift, Some(DateShift::Auto(AutoShift::Auto)));
        assert!(p
            .effective_options()
            .contains(&ProfileOption::RetainLongModifiedDates));
        let p: Plan = serde_json::from_str(r#"{"profile":"basic","date_shift":10}"#).unwrap();
        assert_eq!(p.date_shift, Some(DateShift::Days(10)));
    }

    #[test]
    fn modified_dates_without_a_shift_use_the_keyed_offset() {
        let mut p = Plan::builtin(ProfileId::Basic);
        assert_eq!(p.shift(), None);
        p.options = vec![ProfileOption::RetainLongModifiedDates];
        assert_eq!(p.shift(), Some(DateShift::Auto(AutoShift::Auto)));
        p.date_shift = Some(DateShift::Days(7));
        assert_eq!(p.shift(), Some(DateShift::Days(7)));
    }

    #[test]
    fn conflicting_plans_are_refused() {
        let mut p = Plan::builtin(ProfileId::Hipaa);
        p.date_shift = Some(DateShift::Days(3));
        assert!(p.validate().is_err());
        let mut p = Plan::builtin(ProfileId::Basic);
        p.options = vec![ProfileOption::RetainLongFullDates];
        p.date_shift = Some(DateShift::Days(3));
        assert_eq!(p.validate(), Err(PlanError::DatesConflict));
    }

    #[test]
    fn date_shifts_beyond_a_hundred_years_are_refused() {
        let mut p = Plan::builtin(ProfileId::Basic);
        for n in [36_500, -36_500, 1, -1] {
            p.date_shift = Some(DateShift::Days(n));
            assert_eq!(p.validate(), Ok(()), "{n}");
        }
        for n in [
            36_501,
            -36_501,
            3_000_000,
            99_999_999_999,
            i64::MIN,
            i64::MAX,
        ] {
            p.date_shift = Some(DateShift::Days(n));
            assert_eq!(p.validate(), Err(PlanError::ShiftTooLarge(n)), "{n}");
            assert!(p.validate().unwrap_err().to_string().contains("100 years"));
        }
    }
}
