//! The determination report, what an expert signs for a HIPAA Expert Determination; the
//! workbench and `dcmask report` both assemble it here and render it with [`to_html`].
//!
//! - [`summarize`]: every decision across a set of files, per tag and rule, with its
//!   rationale and source, the changes made by hand, and the changed elements.
//! - [`Evidence`]: that, with what the report is about ([`dataset`]), the release the
//!   expert describes ([`Release`]), the Safe Harbor matrix ([`harbor`]), the risk
//!   figures before and after ([`RiskEvidence`]), the residual-PHI check
//!   ([`VerifyResult`]), the pixel cleaning ([`PixelSummary`]), the configuration digest
//!   and the audit trail's head. Assembled by the caller from records, headers and
//!   checks it ran; it never holds a value of a file.

pub mod dataset;
pub mod harbor;
mod html;

pub use html::to_html;

use crate::actions::clean::CleanCounts;
use crate::profile::vocab::{Rule, Source};
use crate::record::{ManualAction, ManualChange, Record};
use crate::risk::{self, QuasiIdentifier, RecordKind};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

/// One line of the report: a tag, what was done to it and why.
#[derive(Debug, Clone, Serialize)]
pub struct ReportRow {
    /// `(GGGG,EEEE)`, as the record writes it.
    pub tag: String,
    /// The attribute's keyword, empty when the dictionary has none.
    pub keyword: &'static str,
    /// The action carried out, by its label.
    pub action: String,
    /// The rule that decided it and the layer it comes from.
    pub rule: Rule,
    /// Files in which this decision was made (not known from a batch's counts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<usize>,
    /// Elements (at any depth) it applied to.
    pub elements: usize,
    /// Changed elements (see [`Changed`]) that this decision accounts for (not known from
    /// a batch's counts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed: Option<usize>,
}

/// Who made an element differ from the file as opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangedBy {
    /// The de-identification (an Apply or the batch) changed it.
    Profile,
    /// A decision made by hand in the workbench changed it.
    Hand,
}

/// An element that differs from the file as opened, or was removed or added. The caller
/// compares the files (the workbench, in one place); the report only counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    /// Path as in [`crate::record::Entry::path`].
    pub path: String,
    /// Whether the profile or a hand decision made the difference.
    pub by: ChangedBy,
}

/// One file of a report.
pub struct ReportFile<'a> {
    /// How the report names the file; never its original name, which can carry PHI.
    pub name: &'a str,
    /// The record of the Apply that produced it, if any.
    pub record: Option<&'a Record>,
    /// Decisions made by hand that are in effect.
    pub manual: &'a [ManualChange],
    /// The elements that differ from the file as opened.
    pub changed: &'a [Changed],
}

/// Changed elements over all files.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ChangeCounts {
    /// Changed elements, whoever changed them.
    pub total: usize,
    /// Of them, changed by the profile.
    pub by_profile: usize,
    /// Of them, changed by hand.
    pub by_hand: usize,
    /// Counted in `total` but accounted for by no row (e.g. the de-identification
    /// markers dcmask adds, blanked Pixel Data).
    pub not_in_rows: usize,
}

/// A decision made by hand, with the file it was made in.
#[derive(Debug, Clone, Serialize)]
pub struct ManualRow {
    /// How the report names the file (never its original name).
    pub file: String,
    /// What was decided, on which element.
    #[serde(flatten)]
    pub change: ManualChange,
}

/// A file whose pixels were not cleaned and may carry burned-in text.
#[derive(Debug, Clone, Serialize)]
pub struct BurnedInRow {
    /// How the report names the file.
    pub file: String,
    /// Why it may carry burned-in text, in words.
    pub reason: String,
}

/// The report over a set of de-identified objects.
#[derive(Debug, Clone, Serialize)]
pub struct Determination {
    /// The dcmask version that made the report.
    pub dcmask_version: &'static str,
    /// The profile, as the first record names it.
    pub profile: String,
    /// The options chosen, as the first record names them.
    pub options: Vec<String>,
    /// The edition of PS3.15 the table comes from.
    pub edition: &'static str,
    /// The pseudonym key's fingerprint (never the key).
    pub key_fingerprint: String,
    /// `fixed`, `auto` or `none` (never the offset, which would undo the shift).
    pub date_shift: &'static str,
    /// Files the report covers.
    pub files: usize,
    /// Changed elements over all files.
    pub changed: ChangeCounts,
    /// One row per tag, action and rule, sorted by them.
    pub rows: Vec<ReportRow>,
    /// Every decision made by hand, in the order made.
    pub manual: Vec<ManualRow>,
    /// Files whose pixels were not cleaned although they may carry burned-in text.
    pub burned_in: Vec<BurnedInRow>,
    /// Words and values cleaned out of free text, per kind.
    pub cleaned: CleanCounts,
    /// Pixel boxes blanked over all files.
    pub pixel_boxes: usize,
}

type RowKey = (String, String, String, String);

fn row_key(tag: &str, action: &str, rule: &Rule) -> RowKey {
    (
        tag.to_string(),
        action.to_string(),
        rule.id.to_string(),
        rule.explanation.to_string(),
    )
}

/// The path whose changes a manual decision accounts for: an item's removal shifts the
/// items after it, so it accounts for the whole sequence; a drawn box for Pixel Data.
fn accounts_for(c: &ManualChange) -> Option<&str> {
    match c.action {
        ManualAction::Edit | ManualAction::Remove => Some(&c.path),
        ManualAction::RemoveItem => c.path.rsplit_once('/').map(|(seq, _)| seq),
        ManualAction::BlankRegion => Some("7FE0,0010"),
        ManualAction::KeepRegion => None,
    }
}

/// The path itself, then each enclosing element's path (`A/0/B` → `A/0/B`, `A`).
fn self_and_ancestors(path: &str) -> impl Iterator<Item = &str> {
    let parts: Vec<usize> = path.match_indices('/').map(|(i, _)| i).collect();
    std::iter::once(path).chain(
        parts
            .into_iter()
            .rev()
            .skip(1)
            .step_by(2)
            .map(move |i| &path[..i]),
    )
}

/// Aggregates the files of a session or run: the last Apply's decisions, those made by
/// hand, and the changed elements, each accounted for by the nearest decision at or
/// above its path.
pub fn summarize<'a>(files: impl IntoIterator<Item = ReportFile<'a>>) -> Determination {
    let mut rows: BTreeMap<RowKey, ReportRow> = BTreeMap::new();
    let mut cleaned = CleanCounts::default();
    let mut counts = ChangeCounts::default();
    let mut manual = Vec::new();
    let mut burned_in = Vec::new();
    let mut files_n = 0;
    let mut pixel_boxes = 0;
    let mut first: Option<&Record> = None;
    for f in files {
        files_n += 1;
        let mut seen = HashSet::new();
        let mut add = |key: RowKey, tag: &str, keyword, rule: &Rule| {
            let row = rows.entry(key.clone()).or_insert_with(|| ReportRow {
                tag: tag.to_string(),
                keyword,
                action: key.1.clone(),
                rule: rule.clone(),
                files: Some(0),
                elements: 0,
                changed: Some(0),
            });
            row.elements += 1;
            if seen.insert(key) {
                *row.files.get_or_insert(0) += 1;
            }
        };
        let mut by_profile: HashMap<&str, RowKey> = HashMap::new();
        if let Some(rec) = f.record {
            first.get_or_insert(rec);
            cleaned.merge(&rec.cleaned);
            pixel_boxes += rec.pixel_boxes.len();
            if let Some(why) = &rec.burned_in {
                burned_in.push(BurnedInRow {
                    file: f.name.to_string(),
                    reason: why.clone(),
                });
            }
            for e in &rec.entries {
                let key = row_key(&e.tag, e.action.label(), &e.rule);
                add(key.clone(), &e.tag, e.keyword, &e.rule);
                by_profile.insert(&e.path, key);
            }
        }
        let mut by_hand: HashMap<&str, RowKey> = HashMap::new();
        for c in f.manual {
            let key = row_key(&c.tag, c.action.label(), &c.rule);
            add(key.clone(), &c.tag, c.keyword, &c.rule);
            if let Some(p) = accounts_for(c) {
                by_hand.insert(p, key);
            }
            manual.push(ManualRow {
                file: f.name.to_string(),
                change: c.clone(),
            });
        }
        for ch in f.changed {
            counts.total += 1;
            let owners = match ch.by {
                ChangedBy::Profile => {
                    counts.by_profile += 1;
                    &by_profile
                }
                ChangedBy::Hand => {
                    counts.by_hand += 1;
                    &by_hand
                }
            };
            match self_and_ancestors(&ch.path).find_map(|p| owners.get(p)) {
                Some(key) => {
                    let row = rows.get_mut(key).expect("row of a decision");
                    *row.changed.get_or_insert(0) += 1;
                }
                None => counts.not_in_rows += 1,
            }
        }
    }
    let first = first.cloned().unwrap_or_else(|| Record {
        profile: "none (no profile applied)".into(),
        ..Record::default()
    });
    Determination {
        dcmask_version: env!("CARGO_PKG_VERSION"),
        profile: first.profile,
        options: first.options,
        edition: crate::profile::table::EDITION,
        key_fingerprint: first.key_fingerprint,
        date_shift: first.date_shift,
        files: files_n,
        changed: counts,
        rows: rows.into_values().collect(),
        manual,
        burned_in,
        cleaned,
        pixel_boxes,
    }
}

/// What the expert says of the release, typed in by them (never read from a file).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Release {
    /// Who receives the data.
    pub recipient: String,
    /// What for.
    pub purpose: String,
    /// The data-use agreement that binds the recipient.
    pub agreement: String,
    /// How long the determination holds (a date, or a period).
    pub valid_until: String,
    /// The expert's name and qualification.
    pub expert: String,
    /// The expert's conclusion; the report prints a statement to sign when it is empty.
    pub conclusion: String,
}

impl Release {
    /// Longest field kept, in characters.
    pub const MAX: usize = 2000;

    /// The fields cut to [`Release::MAX`] characters, control characters but line
    /// breaks dropped.
    pub fn clipped(self) -> Release {
        let clip = |s: String| -> String {
            s.chars()
                .filter(|c| !c.is_control() || *c == '\n')
                .take(Self::MAX)
                .collect::<String>()
                .trim()
                .to_string()
        };
        Release {
            recipient: clip(self.recipient),
            purpose: clip(self.purpose),
            agreement: clip(self.agreement),
            valid_until: clip(self.valid_until),
            expert: clip(self.expert),
            conclusion: clip(self.conclusion),
        }
    }
}

/// One quasi-identifier as a report lists it.
#[derive(Debug, Clone, Serialize)]
pub struct QiDescription {
    /// The quasi-identifier's id (`age`, `sex`, `study_date`, ...).
    pub id: String,
    /// Its tag, when it is read from one attribute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Why it is a quasi-identifier.
    pub reason: String,
}

/// The re-identification risk figures of a report, with their assumptions.
#[derive(Debug, Clone, Serialize)]
pub struct RiskEvidence {
    /// What one record is: a patient or a study.
    pub record: RecordKind,
    /// The quasi-identifiers the figures are over.
    pub quasi_identifiers: Vec<QiDescription>,
    /// The population size assumed for journalist and marketer risk, if given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub population: Option<u64>,
    /// The population model used with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub population_model: Option<&'static str>,
    /// Over the originals.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<risk::Report>,
    /// Why there are no figures before, when there are none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before_note: Option<String>,
    /// Over the outputs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<risk::Report>,
    /// Why there are no figures after, when there are none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_note: Option<String>,
}

impl RiskEvidence {
    /// Risk evidence over these quasi-identifiers, with no figures yet.
    pub fn new(qis: &[QuasiIdentifier], record: RecordKind, population: Option<u64>) -> Self {
        RiskEvidence {
            record,
            quasi_identifiers: qis
                .iter()
                .map(|q| QiDescription {
                    id: q.id.clone(),
                    tag: q.tag.map(crate::profile::tag::tag_id),
                    reason: q.reason.clone(),
                })
                .collect(),
            population,
            population_model: population.map(|_| risk::POPULATION_MODEL),
            before: None,
            before_note: None,
            after: None,
            after_note: None,
        }
    }
}

/// A finding of the residual-PHI check: where and what kind, never the value.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyFinding {
    /// How the report names the file.
    pub file: String,
    /// An element path, `bytes@OFFSET` or `name`.
    pub place: String,
    /// The kind of identifying value found (name, ID, date of birth, ...).
    pub category: String,
}

/// The result of the residual-PHI check (`dcmask verify`) over the outputs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyResult {
    /// Whether the check ran at all.
    pub ran: bool,
    /// Why it did not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_run: Option<String>,
    /// What was searched, in words.
    pub scope: String,
    /// Originals the identifying values came from, and how many values.
    pub originals: u64,
    /// Identifying values gathered from the originals.
    pub values: u64,
    /// Outputs searched.
    pub files: u64,
    /// Findings over all outputs.
    pub findings: u64,
    /// Findings per kind of value.
    pub by_category: BTreeMap<String, u64>,
    /// The first [`VerifyResult::LISTED`] findings.
    pub listed: Vec<VerifyFinding>,
    /// Outputs that could not be read, so were not searched.
    pub unreadable: u64,
}

impl VerifyResult {
    /// Findings listed one by one; the others are only counted.
    pub const LISTED: usize = 200;

    /// A check that did not run, and why (no originals given, ...).
    pub fn not_run(why: impl Into<String>) -> VerifyResult {
        VerifyResult {
            not_run: Some(why.into()),
            ..VerifyResult::default()
        }
    }

    /// A check that ran over `scope`, with what it gathered from the originals.
    pub fn ran(scope: impl Into<String>, originals: u64, values: u64) -> VerifyResult {
        VerifyResult {
            ran: true,
            scope: scope.into(),
            originals,
            values,
            ..VerifyResult::default()
        }
    }

    /// Counts a finding, and lists it while fewer than [`VerifyResult::LISTED`] are.
    pub fn add(&mut self, file: &str, place: String, category: crate::verify::Category) {
        self.findings += 1;
        *self
            .by_category
            .entry(category.as_str().to_string())
            .or_default() += 1;
        if self.listed.len() < Self::LISTED {
            self.listed.push(VerifyFinding {
                file: file.to_string(),
                place,
                category: category.as_str().to_string(),
            });
        }
    }

    /// Whether it ran, read everything and found nothing.
    pub fn clean(&self) -> bool {
        self.ran && self.findings == 0 && self.unreadable == 0
    }
}

/// A note about one file.
#[derive(Debug, Clone, Serialize)]
pub struct FileNote {
    /// How the report names the file.
    pub file: String,
    /// The note, in words (never a value).
    pub note: String,
}

/// What was done to the pixels.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PixelSummary {
    /// Whether the plan cleans pixel data (Clean Pixel Data, +Pixel).
    pub cleaned: bool,
    /// Files in which at least one box was blanked.
    pub files_with_boxes: u64,
    /// Boxes blanked over all files.
    pub boxes: u64,
    /// Boxes per kind of source: region rules, text detection, drawn by hand.
    pub by_source: BTreeMap<String, u64>,
    /// Why text may remain in files the plan cleaned.
    pub warnings: Vec<FileNote>,
    /// Files whose pixels were not cleaned although they may carry burned-in text.
    pub burned_in: u64,
}

impl PixelSummary {
    /// The kind of a box's source, as [`PixelSummary::by_source`] counts it.
    pub fn source_kind(source: &str) -> &'static str {
        if source.starts_with("rule") {
            "region rule"
        } else if source.starts_with("ocr") {
            "text detection"
        } else if source.starts_with("manual") {
            "drawn by hand"
        } else {
            "other"
        }
    }

    /// Adds one file's boxes, warnings and burned-in risk from its record.
    pub fn add_record(&mut self, file: &str, r: &Record) {
        if !r.pixel_boxes.is_empty() {
            self.files_with_boxes += 1;
        }
        self.boxes += r.pixel_boxes.len() as u64;
        for b in &r.pixel_boxes {
            *self
                .by_source
                .entry(Self::source_kind(&b.source).to_string())
                .or_default() += 1;
        }
        for w in &r.pixel_warnings {
            self.warnings.push(FileNote {
                file: file.to_string(),
                note: w.clone(),
            });
        }
        if r.burned_in.is_some() {
            self.burned_in += 1;
        }
    }
}

/// The audit trail's state when the report was made.
#[derive(Debug, Clone, Serialize)]
pub struct AuditHead {
    /// Which log, in words (never a path: it can name the user or the patient's folder).
    pub log: String,
    /// Entries in the log.
    pub entries: u64,
    /// The last entry's hash: `dcmask audit verify LOG --head HEAD` checks the log
    /// still holds it.
    pub head: String,
    /// Why the log does not verify, when it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// What the entry this report stands on says, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
}

/// The whole determination report.
#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    /// When it was made (RFC 3339, given by the caller).
    pub generated: String,
    /// What made it: `dcmask workbench` or `dcmask report`.
    pub made_by: String,
    /// [`config_digest`] of the plan and key.
    pub configuration_digest: String,
    /// Where the decisions come from, in words.
    pub decisions_from: String,
    /// The decisions: configuration, rows, hand decisions, change counts.
    #[serde(flatten)]
    pub decisions: Determination,
    /// What the report is about: counts, SOP classes, content digest.
    pub dataset: dataset::Dataset,
    /// Who releases the data, to whom, and the expert's determination.
    pub release: Release,
    /// The 18 Safe Harbor identifier types: decisions and values present.
    pub safe_harbor: Vec<harbor::HarborRow>,
    /// Re-identification risk before and after.
    pub risk: RiskEvidence,
    /// The residual-PHI check over the outputs.
    pub verify: VerifyResult,
    /// What was done to the pixels.
    pub pixels: PixelSummary,
    /// The audit trail's state, when the report has a log to stand on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditHead>,
}

impl Evidence {
    /// Elements the leak guard changed, over every row.
    pub fn leak_guard_elements(&self) -> usize {
        self.decisions
            .rows
            .iter()
            .filter(|r| r.rule.source == Source::LeakGuard)
            .map(|r| r.elements)
            .sum()
    }
}

/// The configuration digest: `sha256:` and the SHA-256 of the JSON (keys sorted) of the
/// plan as reports show it ([`crate::Plan::shareable_json`]) and the key's fingerprint.
/// The same plan and key give the same digest in the workbench, the batch's audit entry
/// and `dcmask report`.
pub fn config_digest(plan: &serde_json::Value, key_fingerprint: &str) -> String {
    let v = serde_json::json!({ "plan": plan, "key_fingerprint": key_fingerprint });
    crate::record::audit::sha256(&serde_json::to_vec(&v).expect("JSON serialises"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::vocab::{Action, Source};
    use crate::record::{Entry, ManualAction, ManualChange};
    use dicom_core::Tag;
    use std::borrow::Cow;

    fn entry(path: &str, tag: &str, action: Action) -> Entry {
        Entry {
            path: path.into(),
            tag: tag.into(),
            keyword: "",
            vr: "SQ",
            action,
            rule: Rule {
                source: Source::Table,
                id: Cow::Owned(tag.to_string()),
                code: None,
                option: None,
                explanation: Cow::Borrowed("t"),
                note: None,
            },
            changed: true,
            leak: None,
        }
    }

    fn changed(path: &str, by: ChangedBy) -> Changed {
        Changed {
            path: path.into(),
            by,
        }
    }

    #[test]
    fn changes_are_counted_once_by_the_nearest_decision() {
        let record = Record {
            profile: "Basic".into(),
            entries: vec![
                entry("0008,1110", "(0008,1110)", Action::Empty),
                entry("0010,0020", "(0010,0020)", Action::Pseudonymize),
            ],
            burned_in: Some("pixels not cleaned".into()),
            ..Record::default()
        };
        let manual = [ManualChange::new(
            "0008,1115/1".into(),
            Tag(0x0008, 0x1115),
            ManualAction::RemoveItem,
            Some("second series is another patient".into()),
            "2026-01-01T10:00:00+01:00".into(),
        )];
        let changes = [
            // the emptied sequence's items' elements
            changed("0008,1110/0/0008,1150", ChangedBy::Profile),
            changed("0008,1110/0/0008,1155", ChangedBy::Profile),
            changed("0010,0020", ChangedBy::Profile),
            // the marker dcmask adds
            changed("0012,0062", ChangedBy::Profile),
            // items after the removed one shift
            changed("0008,1115/1/0020,000E", ChangedBy::Hand),
            changed("0008,1115/2/0020,000E", ChangedBy::Hand),
        ];
        let d = summarize([ReportFile {
            name: "file-1.dcm",
            record: Some(&record),
            manual: &manual,
            changed: &changes,
        }]);
        assert_eq!(
            (
                d.changed.total,
                d.changed.by_profile,
                d.changed.by_hand,
                d.changed.not_in_rows
            ),
            (6, 4, 2, 1)
        );
        let row = |tag: &str| d.rows.iter().find(|r| r.tag == tag).unwrap();
        assert_eq!(row("(0008,1110)").changed, Some(2));
        assert_eq!(row("(0010,0020)").changed, Some(1));
        let hand = row("(0008,1115)");
        assert_eq!((hand.changed, hand.rule.source), (Some(2), Source::Manual));
        assert_eq!(hand.action, "remove item");
        let sum: usize = d.rows.iter().filter_map(|r| r.changed).sum();
        assert_eq!(sum + d.changed.not_in_rows, d.changed.total);
        assert_eq!(d.manual[0].file, "file-1.dcm");
        assert_eq!(d.burned_in[0].file, "file-1.dcm");
        let mut pixels = PixelSummary::default();
        pixels.add_record("file-1.dcm", &record);
        assert_eq!(pixels.burned_in, 1);
        let html = to_html(&evidence(d, pixels));
        assert!(html.contains("2026-01-01T10:00:00+01:00"));
        assert!(html.contains("second series is another patient"));
        assert!(html.contains("pixels not cleaned"));
        assert!(html.contains("1 files may show burned-in text"));
    }

    fn evidence(d: Determination, pixels: PixelSummary) -> Evidence {
        let qis = risk::select("PatientAge,PatientSex").unwrap();
        Evidence {
            generated: "2026-01-01T10:00:00+01:00".into(),
            made_by: "dcmask test".into(),
            configuration_digest: config_digest(&serde_json::json!({"profile": "basic"}), "ab"),
            decisions_from: "records".into(),
            decisions: d,
            dataset: dataset::Dataset::default(),
            release: Release::default(),
            safe_harbor: harbor::HarborBuilder::default().finish(),
            risk: RiskEvidence::new(&qis, RecordKind::Patient, None),
            verify: VerifyResult::not_run("no originals were given (--originals IN)"),
            pixels,
            audit: None,
        }
    }

    #[test]
    fn the_report_opens_with_a_summary_to_sign_then_the_detail() {
        let mut e = evidence(summarize([]), PixelSummary::default());
        e.release = Release {
            recipient: "Trial <office>".into(),
            ..Release::default()
        };
        let qis = risk::select("PatientAge,PatientSex").unwrap();
        let mut builder = crate::risk::Builder::new(qis, RecordKind::Patient);
        builder.add_object(&dicom_object::InMemDicomObject::new_empty());
        e.risk.after = Some(builder.finish().report(None).unwrap());
        e.audit = Some(AuditHead {
            log: "the workbench's audit log".into(),
            entries: 3,
            head: crate::record::audit::ANCHOR.into(),
            problem: None,
            entry: Some("export".into()),
        });
        let html = to_html(&e);
        let at = |s: &str| html.find(s).unwrap_or_else(|| panic!("{s} missing"));
        // Summary first: release, dataset, risk, check, conclusion and signature.
        assert!(at("id=summary") < at("id=signature"));
        assert!(at("id=signature") < at("id=safe-harbor"));
        assert!(at("id=safe-harbor") < at("id=decisions"));
        assert!(
            html.contains("Trial &lt;office&gt;"),
            "typed text is escaped"
        );
        assert!(
            html.contains("class=blank"),
            "empty fields are lines to fill in"
        );
        assert!(html.contains("<span class=warn>Not run</span>: no originals were given"));
        assert!(
            html.contains("45 CFR 164.514(b)(1)"),
            "the statement to sign"
        );
        assert_eq!(html.matches("data-category=").count(), 18);
        assert!(html.contains("Prosecutor risk, maximum"));
        assert!(html.contains("id=audit-head"));
        assert!(!html.contains("<script"), "no script");
        // Printed, collapsed groups open.
        assert!(html.contains("details::details-content{content-visibility:visible"));
        let json = serde_json::to_value(&e).unwrap();
        for key in [
            "dataset",
            "release",
            "safe_harbor",
            "risk",
            "verify",
            "pixels",
            "rows",
            "manual",
            "configuration_digest",
        ] {
            assert!(json.get(key).is_some(), "{key}");
        }
        assert_eq!(json["verify"]["ran"], false);
    }

    #[test]
    fn release_fields_are_clipped() {
        let r = Release {
            recipient: format!(" a\u{7}b{} ", "x".repeat(3000)),
            purpose: "line 1\nline 2".into(),
            ..Release::default()
        }
        .clipped();
        assert!(r.recipient.starts_with("ab"));
        assert_eq!(r.recipient.chars().count(), Release::MAX - 1);
        assert_eq!(r.purpose, "line 1\nline 2");
    }

    #[test]
    fn the_configuration_digest_follows_the_plan_and_key_only() {
        let mut plan = crate::Plan::builtin(crate::ProfileId::Basic);
        let a = config_digest(&plan.shareable_json(), "k1");
        assert_eq!(a, config_digest(&plan.shareable_json(), "k1"));
        assert_ne!(a, config_digest(&plan.shareable_json(), "k2"));
        plan.date_shift = Some(crate::DateShift::Days(-37));
        let fixed = config_digest(&plan.shareable_json(), "k1");
        assert_ne!(a, fixed);
        plan.date_shift = Some(crate::DateShift::Days(12));
        assert_eq!(
            fixed,
            config_digest(&plan.shareable_json(), "k1"),
            "the days are not in it"
        );
        assert!(a.starts_with("sha256:") && a.len() == 71);
    }

    #[test]
    fn ancestors_stop_at_elements() {
        let got: Vec<&str> = self_and_ancestors("A/0/B/1/C").collect();
        assert_eq!(got, ["A/0/B/1/C", "A/0/B", "A"]);
        assert_eq!(self_and_ancestors("A").collect::<Vec<_>>(), ["A"]);
    }
}
