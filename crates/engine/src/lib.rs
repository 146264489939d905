//! dcmask-engine: DICOM PS3.15 Annex E de-identification.
//!
//! Input: a DICOM object and a [`Plan`] (profile, options, custom rules) with a [`Key`].
//! Output: the de-identified object, a [`Record`] of every decision (no original values)
//! and the identifier [`Mappings`]. No web, terminal or filesystem code lives here.

pub mod apply;
pub mod clean;
pub mod code;
mod complete;
pub mod dates;
pub mod decide;
pub mod dicomdir;
mod dummy;
pub mod error;
pub mod generalize;
pub mod guard;
pub mod hipaa;
pub mod io;
pub mod key;
mod layers;
pub mod markers;
pub mod options;
pub mod pixel;
pub mod plan;
pub mod precheck;
pub mod presence;
pub mod private;
pub mod pseudonym;
pub mod record;
pub mod report;
pub mod risk;
pub mod rules;
pub mod stream;
pub mod table;
pub mod tag;
pub mod verify;

pub use apply::{
    deidentify, deidentify_with, deidentify_with_regions, deidentify_with_related, Outcome,
};
pub use decide::{rule_list, rule_list_with, Action, Decider, Decision, RuleEntry};
pub use error::{Error, Result};
pub use key::Key;
pub use options::ProfileOption;
pub use plan::{DateShift, Plan, ProfileId};
pub use record::{Mappings, Record};
pub use rules::{parse_rules, rules_to_json, CustomAction, CustomRule};
