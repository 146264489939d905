//! The engine's shared vocabulary: what can be done to an element ([`Action`]), which
//! layer decided it ([`Source`]) and why ([`Rule`], [`Decision`]), and what the leak
//! guard found ([`Category`], [`Outcome`]). The decider, the pixel code, the guard and
//! the record all speak it; it sits below them so none of them imports another to name
//! a decision (no import cycle). Its only engine imports are two value types that import
//! nothing back: profile options and generalisations.

use crate::actions::generalize::Generalization;
use crate::profile::options::ProfileOption;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::sync::OnceLock;

/// What is done to one element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum Action {
    /// The value kept as it is.
    Keep,
    /// The element removed.
    Remove,
    /// Zero-length value (a sequence with no items).
    Empty,
    /// A fixed dummy value valid for the VR.
    Dummy,
    /// The keyed `2.25.` UID pseudonym.
    ReplaceUid,
    /// Free text with identifying tokens dropped.
    Clean,
    /// Dates moved by the patient's offset.
    ShiftDate,
    /// Dates cut to `YYYY0101`.
    YearOnly,
    /// Ages of 90 years and more pooled as `090Y`.
    AgeCap,
    /// A value the user gave.
    Replace(String),
    /// A keyed replacement valid for the VR (Patient ID, custom rules).
    Pseudonymize,
    /// The value coarsened (custom `generalize` rules): age bands, month, year, rounding.
    Generalize(Generalization),
}

impl Action {
    /// How records, listings and reports name the action (`replace UID`).
    pub fn label(&self) -> &'static str {
        match self {
            Action::Keep => "keep",
            Action::Remove => "remove",
            Action::Empty => "empty",
            Action::Dummy => "dummy",
            Action::ReplaceUid => "replace UID",
            Action::Clean => "clean",
            Action::ShiftDate => "shift date",
            Action::YearOnly => "year only",
            Action::AgeCap => "cap age at 90",
            Action::Replace(_) => "replace",
            Action::Pseudonymize => "pseudonymize",
            Action::Generalize(_) => "generalize",
        }
    }
}

/// Which layer a decision came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A row of Table E.1-1, Basic Profile column.
    Table,
    /// A row of Table E.1-1, an option's column.
    Option,
    /// The HIPAA Safe Harbor layer.
    Hipaa,
    /// A custom rule.
    Custom,
    /// Private attributes (the `gggg,eeee` row and Table E.3.10-1).
    Private,
    /// Attributes outside the table: dcmask's residual rule.
    Residual,
    /// File structure (group lengths, group 0002 and 0004).
    Structural,
    /// A pixel region rule of Clean Pixel Data.
    Pixel,
    /// The leak guard: an identifying value of the patient found in what was about to be
    /// written, whatever the profile decided for that element.
    LeakGuard,
    /// A change an expert made by hand in the workbench (an edit, a drawn box).
    Manual,
    /// A presence rule beyond Table E.1-1 (`data/presence.csv`): an attribute removed
    /// although the table does not list it, removed with the attribute its presence
    /// depends on, or kept empty as a Type 2C attribute whose condition holds.
    Presence,
}

impl Source {
    /// Every source, each once.
    pub const ALL: [Source; 11] = [
        Source::Table,
        Source::Option,
        Source::Hipaa,
        Source::Custom,
        Source::Private,
        Source::Residual,
        Source::Structural,
        Source::Pixel,
        Source::LeakGuard,
        Source::Manual,
        Source::Presence,
    ];

    /// The source as it is serialised (`table`, `leak_guard`, ...), without serialising:
    /// batch counts name it for every recorded element.
    pub fn name(self) -> &'static str {
        static NAMES: OnceLock<Vec<String>> = OnceLock::new();
        let names = NAMES.get_or_init(|| {
            Source::ALL
                .iter()
                .map(|s| {
                    serde_json::to_value(s)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .expect("a source serialises as a string")
                })
                .collect()
        });
        &names[Source::ALL.iter().position(|s| *s == self).expect("listed")]
    }
}

/// Why an element was treated as it was; printable and serialisable, never holding values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// The layer that made the decision.
    pub source: Source,
    /// The rule's key: a table row id (`0010,0010`, `60xx,3000`), a tag id, or a residual rule name.
    /// Borrowed from the embedded tables where it can be: a decision is made per element.
    pub id: Cow<'static, str>,
    /// The table code before resolution, e.g. `X/Z/D`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    /// The option that changed the table's code, when one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub option: Option<ProfileOption>,
    /// Why, in words people read.
    pub explanation: Cow<'static, str>,
    /// The expert's rationale of a custom rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The outcome for one element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// What is done to the element.
    pub action: Action,
    /// Which rule decided it, and why.
    pub rule: Rule,
}

/// What kind of identifying value a pattern comes from; findings name it, never the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Name,
    Id,
    DateOfBirth,
    Address,
    Phone,
    Institution,
    Station,
}

impl Category {
    /// The category as reports print it.
    pub fn label(self) -> &'static str {
        match self {
            Category::Name => "name",
            Category::Id => "id",
            Category::DateOfBirth => "date of birth",
            Category::Address => "address",
            Category::Phone => "phone",
            Category::Institution => "institution",
            Category::Station => "station",
        }
    }
}

/// What the guard did to an element that held an identifying value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The identifying words were dropped; the rest of the value stays.
    Cleaned,
    /// Nothing valid would have been left: a dummy value replaced it.
    Dummied,
    /// A custom `keep` on this very tag: written as it was, at the expert's word.
    KeptByCustomRule,
}
