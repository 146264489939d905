//! The decision record: what the engine did to each element, without any original value.
//!
//! Beside it, what is made of records: the determination [`report`] and the format of
//! the hash-chained [`audit`] trail.

pub mod audit;
pub mod report;

use crate::actions::clean::CleanCounts;
use crate::profile::tag::{keyword, tag_id};
use crate::profile::vocab::{Action, Rule, Source};
use dicom_core::Tag;
use serde::Serialize;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// One element the engine decided on.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// Tag path: `0008,1115/0/0008,1155` (group,element / item index / ...).
    pub path: String,
    /// `(GGGG,EEEE)`.
    pub tag: String,
    /// The attribute's keyword, empty when the dictionary has none.
    pub keyword: &'static str,
    /// The element's VR, as the input has it.
    pub vr: &'static str,
    /// What was done to it.
    pub action: Action,
    /// The rule that decided it, and why.
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
    pub categories: Vec<crate::profile::vocab::Category>,
    pub outcome: crate::profile::vocab::Outcome,
    /// The profile's decision the guard overrode (the entry's `rule` is then the
    /// guard's); absent when a custom `keep` won and the entry's rule is that keep.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overrode: Option<Rule>,
}

/// Everything decided for one object.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Record {
    /// The profile applied, by its label.
    pub profile: String,
    /// The options applied, by their labels.
    pub options: Vec<String>,
    /// The edition of PS3.15 the table comes from.
    pub edition: &'static str,
    /// The pseudonym key's fingerprint (never the key): records with the same one share pseudonyms.
    pub key_fingerprint: String,
    /// `fixed`, `auto` or `none`; the offset itself would undo the shift, so it is not kept.
    pub date_shift: &'static str,
    /// One entry per element decided, at every depth, in the order walked.
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
    /// Left edge, in pixels from the image's left.
    pub x0: u32,
    /// Top edge, in rows from the image's top.
    pub y0: u32,
    /// Right edge, exclusive.
    pub x1: u32,
    /// Bottom edge, exclusive.
    pub y1: u32,
    /// Where the box comes from: `rule: …`, `ocr: …` or `manual`.
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

/// What an expert did by hand in the workbench.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ManualAction {
    /// A value typed in Edit mode.
    Edit,
    /// An element removed in Edit mode.
    Remove,
    /// An item removed from a sequence in Edit mode.
    RemoveItem,
    /// A drawn box blanked by Clean Pixel Data.
    BlankRegion,
    /// A proposed box (region rule or OCR) switched off: left as it is.
    KeepRegion,
}

impl ManualAction {
    /// How reports and the workbench name the action.
    pub fn label(self) -> &'static str {
        match self {
            ManualAction::Edit => "edit value",
            ManualAction::Remove => "remove",
            ManualAction::RemoveItem => "remove item",
            ManualAction::BlankRegion => "blank region",
            ManualAction::KeepRegion => "keep region",
        }
    }

    fn explanation(self) -> &'static str {
        match self {
            ManualAction::Edit => "value changed by hand in the workbench",
            ManualAction::Remove => "element removed by hand in the workbench",
            ManualAction::RemoveItem => "sequence item removed by hand in the workbench",
            ManualAction::BlankRegion => "region drawn by hand and blanked",
            ManualAction::KeepRegion => "proposed region switched off by hand: not blanked",
        }
    }
}

/// A decision made by hand (an edit, a removal, a drawn or switched-off box): where,
/// what, why and when, never the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManualChange {
    /// Element path as in [`Entry::path`]; an item path (`0008,1115/1`) for an item.
    pub path: String,
    /// `(GGGG,EEEE)` of the element (the sequence, for an item).
    pub tag: String,
    /// The attribute's keyword, empty when the dictionary has none.
    pub keyword: &'static str,
    /// What was done by hand.
    pub action: ManualAction,
    /// The box, for a pixel region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<PixelBox>,
    /// Source [`Source::Manual`], id `manual`; the expert's reason is its note.
    pub rule: Rule,
    /// When it was made (RFC 3339, given by the caller).
    pub time: String,
}

impl ManualChange {
    /// A decision made by hand on `tag` at `path`, with the expert's note as its reason.
    pub fn new(
        path: String,
        tag: Tag,
        action: ManualAction,
        note: Option<String>,
        time: String,
    ) -> ManualChange {
        ManualChange {
            path,
            tag: tag_id(tag),
            keyword: keyword(tag),
            action,
            region: None,
            rule: Rule {
                source: Source::Manual,
                id: Cow::Borrowed("manual"),
                code: None,
                option: None,
                explanation: Cow::Borrowed(action.explanation()),
                note: note.filter(|n| !n.trim().is_empty()),
            },
            time,
        }
    }
}

/// Originals and their replacements, for `uid_mapping.csv` and `patid_mapping.csv`.
/// These hold identifiers by design; callers write them only where the user asked.
#[derive(Debug, Clone, Default)]
pub struct Mappings {
    /// Original UID → replacement UID.
    pub uids: BTreeMap<String, String>,
    /// Original Patient ID → pseudonymous Patient ID.
    pub patient_ids: BTreeMap<String, String>,
}

impl Mappings {
    /// Adds another object's mappings (the same original always maps to the same value).
    pub fn merge(&mut self, other: Mappings) {
        self.uids.extend(other.uids);
        self.patient_ids.extend(other.patient_ids);
    }
}

/// A mapping as CSV, `id_old,id_new` (the MIDI-B scorer's format), sorted by the
/// original, each cell made [`inert`].
pub fn mapping_csv(map: &BTreeMap<String, String>) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["id_old", "id_new"])
        .expect("CSV into memory");
    for (old, new) in map {
        w.write_record([&*inert(old), &*inert(new)])
            .expect("CSV into memory");
    }
    w.into_inner().expect("CSV into memory")
}

/// A CSV cell a spreadsheet would evaluate as a formula (first character `=`, `+`, `-`,
/// `@`, tab or carriage return: a Patient ID or file name can be `=HYPERLINK(...)`), or
/// one starting with `'` (so that the rule stays reversible), with a `'` put in front:
/// shown as text. Removing that first `'` gives the exact value back.
pub fn inert(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r', '\'']) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_inert() {
        assert_eq!(inert("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        for c in ["+1", "-1", "@SUM(A1)", "\tx", "\rx", "'x"] {
            assert_eq!(inert(c), format!("'{c}"));
        }
        assert_eq!(inert("PAT01/a=b.dcm"), "PAT01/a=b.dcm");
        assert_eq!(inert(""), "");
        let mut m = BTreeMap::new();
        m.insert("=1+1".to_string(), "2.25.1".to_string());
        m.insert("'quoted".to_string(), "x".to_string());
        m.insert("-5".to_string(), "y".to_string());
        assert_eq!(
            String::from_utf8(mapping_csv(&m)).unwrap(),
            "id_old,id_new\n'quoted,x\n'-5,y\n'=1+1,2.25.1\n".replace("'quoted", "''quoted")
        );
    }

    #[test]
    fn mapping_csv_quotes_when_needed() {
        let mut m = BTreeMap::new();
        m.insert("A,1".to_string(), "X".to_string());
        m.insert("B\"2".to_string(), "Y".to_string());
        m.insert("1.2.3".to_string(), "2.25.1".to_string());
        assert_eq!(
            String::from_utf8(mapping_csv(&m)).unwrap(),
            "id_old,id_new\n1.2.3,2.25.1\n\"A,1\",X\n\"B\"\"2\",Y\n"
        );
    }

    #[test]
    fn a_manual_change_has_the_manual_rule_and_no_empty_note() {
        let c = ManualChange::new(
            "0008,1032/0/0008,0104".into(),
            Tag(0x0008, 0x0104),
            ManualAction::Edit,
            Some("  ".into()),
            "2026-01-01T00:00:00+00:00".into(),
        );
        assert_eq!(c.rule.source, Source::Manual);
        assert_eq!(c.rule.id, "manual");
        assert_eq!(c.rule.note, None);
        assert_eq!(c.keyword, "CodeMeaning");
    }
}
