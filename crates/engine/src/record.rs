//! The decision record: what the engine did to each element, without any original value.

use crate::clean::CleanCounts;
use crate::decide::{Action, Rule};
use crate::guard;
use serde::Serialize;
use std::collections::BTreeMap;

/// One element the engine decided on.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// Tag path: `0008,1115/0/0008,1155` (group,element / item index / ...).
    pub path: String,
    /// `(GGGG,EEEE)`.
    pub tag: String,
    pub keyword: &'static str,
    pub vr: &'static str,
    pub action: Action,
    pub rule: Rule,
    /// Whether the value differs from the input (or the element was removed).
    pub changed: bool,
    /// Set when the leak guard found an identifying value of the patient in what was
    /// about to be written here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leak: Option<Leak>,
}

/// What the leak guard found in an element and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Leak {
    /// What the value held: `name`, `id`, `date_of_birth`, ... (never the value).
    pub categories: Vec<guard::Category>,
    pub outcome: guard::Outcome,
    /// The profile's decision the guard overrode (the entry's `rule` is then the
    /// guard's); absent when a custom `keep` won and the entry's rule is that keep.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overrode: Option<Rule>,
}

/// Everything decided for one object.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Record {
    pub profile: String,
    pub options: Vec<String>,
    pub edition: &'static str,
    pub key_fingerprint: String,
    /// `fixed`, `auto` or `none`; the offset itself would undo the shift, so it is not kept.
    pub date_shift: &'static str,
    pub entries: Vec<Entry>,
    /// Tokens dropped from free text, by category.
    pub cleaned: CleanCounts,
    /// Pixel regions blanked, with their source (filled by the pixel cleaner).
    pub pixel_boxes: Vec<PixelBox>,
    /// Why the image may still carry burned-in text that was not cleaned.
    pub pixel_warnings: Vec<String>,
    /// Set when the plan does not clean pixel data and the original header says the image
    /// may carry burned-in text ([`crate::pixel::burned_in_risk`]): the header is
    /// de-identified, the pixels are not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub burned_in: Option<String>,
    /// What the object lacks of what its SOP class requires, when the plan allowed
    /// incomplete objects through ([`crate::Plan::allow_incomplete`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
}

/// A blanked rectangle of the image and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PixelBox {
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
    pub source: String,
}

impl Record {
    /// Elements whose value changed or that were removed.
    pub fn changed_count(&self) -> usize {
        self.entries.iter().filter(|e| e.changed).count()
    }

    /// Elements in which the leak guard found an identifying value.
    pub fn leak_count(&self) -> usize {
        self.entries.iter().filter(|e| e.leak.is_some()).count()
    }

    /// Counts per action label, for summaries.
    pub fn action_counts(&self) -> BTreeMap<&'static str, usize> {
        let mut m = BTreeMap::new();
        for e in &self.entries {
            *m.entry(e.action.label()).or_default() += 1;
        }
        m
    }
}

/// Originals and their replacements, for `uid_mapping.csv` and `patid_mapping.csv`.
/// These hold identifiers by design; callers write them only where the user asked.
#[derive(Debug, Clone, Default)]
pub struct Mappings {
    pub uids: BTreeMap<String, String>,
    pub patient_ids: BTreeMap<String, String>,
}

impl Mappings {
    pub fn merge(&mut self, other: Mappings) {
        self.uids.extend(other.uids);
        self.patient_ids.extend(other.patient_ids);
    }
}
