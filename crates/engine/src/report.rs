//! The per-field determination report: every tag decision across a set of files, with
//! the rule and rationale behind it. This is what an expert signs for HIPAA Expert
//! Determination; the CLI and the workbench both render it from here.

use crate::clean::CleanCounts;
use crate::record::{ManualAction, ManualChange, Record};
use crate::vocab::Rule;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// One line of the report: a tag, what was done to it and why.
#[derive(Debug, Clone, Serialize)]
pub struct ReportRow {
    pub tag: String,
    pub keyword: &'static str,
    pub action: String,
    pub rule: Rule,
    /// Files in which this decision was made.
    pub files: usize,
    /// Elements (at any depth) it applied to.
    pub elements: usize,
    /// Changed elements (see [`Changed`]) that this decision accounts for.
    pub changed: usize,
}

/// Who made an element differ from the file as opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangedBy {
    Profile,
    Hand,
}

/// An element that differs from the file as opened, or was removed or added. The caller
/// compares the files (the workbench, in one place); the report only counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    /// Path as in [`crate::record::Entry::path`].
    pub path: String,
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
    pub changed: &'a [Changed],
}

/// Changed elements over all files.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ChangeCounts {
    pub total: usize,
    pub by_profile: usize,
    pub by_hand: usize,
    /// Counted in `total` but accounted for by no row (e.g. the de-identification
    /// markers dcmask adds, blanked Pixel Data).
    pub not_in_rows: usize,
}

/// A decision made by hand, with the file it was made in.
#[derive(Debug, Clone, Serialize)]
pub struct ManualRow {
    pub file: String,
    #[serde(flatten)]
    pub change: ManualChange,
}

/// A file whose pixels were not cleaned and may carry burned-in text.
#[derive(Debug, Clone, Serialize)]
pub struct BurnedInRow {
    pub file: String,
    pub reason: String,
}

/// The report over a set of de-identified objects.
#[derive(Debug, Clone, Serialize)]
pub struct Determination {
    pub dcmask_version: &'static str,
    pub profile: String,
    pub options: Vec<String>,
    pub edition: &'static str,
    pub key_fingerprint: String,
    pub date_shift: &'static str,
    pub files: usize,
    pub changed: ChangeCounts,
    pub rows: Vec<ReportRow>,
    /// Every decision made by hand, in the order made.
    pub manual: Vec<ManualRow>,
    /// Files whose pixels were not cleaned although they may carry burned-in text.
    pub burned_in: Vec<BurnedInRow>,
    pub cleaned: CleanCounts,
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
                files: 0,
                elements: 0,
                changed: 0,
            });
            row.elements += 1;
            if seen.insert(key) {
                row.files += 1;
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
                Some(key) => rows.get_mut(key).expect("row of a decision").changed += 1,
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
        edition: crate::table::EDITION,
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

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A self-contained HTML page that prints well (A4/Letter, no scripts).
pub fn to_html(d: &Determination) -> String {
    let mut rows = String::new();
    for r in &d.rows {
        rows.push_str(&format!(
            "<tr><td class=tag>{}</td><td>{}</td><td class=act>{}</td><td>{}<br><small>{} {}</small></td><td>{}</td><td class=num>{}</td><td class=num>{}</td></tr>\n",
            esc(&r.tag),
            esc(r.keyword),
            esc(&r.action),
            esc(&r.rule.explanation),
            esc(&format!("{:?}", r.rule.source).to_lowercase()),
            esc(&r.rule.id),
            esc(r.rule.note.as_deref().unwrap_or("")),
            r.files,
            r.changed,
        ));
    }
    let mut manual = String::new();
    for m in &d.manual {
        let c = &m.change;
        let region = c
            .region
            .as_ref()
            .map(|b| format!(" {},{} to {},{} ({})", b.x0, b.y0, b.x1, b.y1, b.source))
            .unwrap_or_default();
        manual.push_str(&format!(
            "<tr><td class=tag>{}</td><td>{}</td><td class=tag>{}</td><td>{}</td><td class=act>{}</td><td>{}</td></tr>\n",
            esc(&c.time),
            esc(&m.file),
            esc(&c.path),
            esc(c.keyword),
            esc(&format!("{}{region}", c.action.label())),
            esc(c.rule.note.as_deref().unwrap_or("")),
        ));
    }
    let manual = if manual.is_empty() {
        "<p>None.</p>".to_string()
    } else {
        format!("<table><thead><tr><th>Time</th><th>File</th><th>Element</th><th>Attribute</th><th>Action</th><th>Reason</th></tr></thead>\n<tbody>\n{manual}</tbody></table>")
    };
    let burned_in = if d.burned_in.is_empty() {
        String::new()
    } else {
        let items: String = d
            .burned_in
            .iter()
            .map(|b| format!("<li><b>{}</b>: {}</li>\n", esc(&b.file), esc(&b.reason)))
            .collect();
        format!("<h2 class=warn>Pixels not cleaned, may carry burned-in text</h2>\n<ul>\n{items}</ul>\n")
    };
    let c = &d.changed;
    let changed = format!(
        "{} from the files as opened: {} by the profile, {} by hand{}",
        c.total,
        c.by_profile,
        c.by_hand,
        if c.not_in_rows > 0 {
            format!(
                "; {} not in a row below (de-identification markers, blanked Pixel Data)",
                c.not_in_rows
            )
        } else {
            String::new()
        }
    );
    let cleaned: Vec<String> = d
        .cleaned
        .0
        .iter()
        .map(|(c, n)| format!("{n} {}", format!("{c:?}").to_lowercase()))
        .collect();
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>De-identification determination report</title>
<style>
body{{font:13px/1.4 system-ui,sans-serif;margin:2em;color:#111}}
h1{{font-size:20px;margin:0 0 .3em}} dl{{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}}
dt{{font-weight:600}} table{{border-collapse:collapse;width:100%;margin-top:1em}}
th,td{{border:1px solid #bbb;padding:3px 6px;vertical-align:top;text-align:left}}
th{{background:#eef2f6}} h2{{font-size:15px;margin:1.5em 0 .3em}} h2.warn{{color:#a40000}} td.tag{{font-family:ui-monospace,monospace;white-space:nowrap}}
td.num{{text-align:right}} td.act{{font-weight:600;white-space:nowrap}} small{{color:#555}}
.sign{{margin-top:3em;display:grid;grid-template-columns:1fr 1fr;gap:2em}}
.sign div{{border-top:1px solid #111;padding-top:.3em}}
@media print{{body{{margin:1cm}} tr{{break-inside:avoid}} thead{{display:table-header-group}}}}
</style></head><body>
<h1>De-identification determination report</h1>
<dl>
<dt>Profile</dt><dd>{profile}</dd>
<dt>Options</dt><dd>{options}</dd>
<dt>Standard</dt><dd>{edition}</dd>
<dt>Tool</dt><dd>dcmask {version}</dd>
<dt>Key fingerprint</dt><dd>{key}</dd>
<dt>Date shift</dt><dd>{shift}</dd>
<dt>Files</dt><dd>{files}</dd>
<dt>Elements changed</dt><dd>{changed}</dd>
<dt>Free text cleaned</dt><dd>{cleaned}</dd>
<dt>Pixel regions blanked</dt><dd>{boxes}</dd>
</dl>
{burned_in}<h2>Decisions</h2>
<table><thead><tr><th>Tag</th><th>Attribute</th><th>Action</th><th>Rule</th><th>Rationale</th><th>Files</th><th>Changed</th></tr></thead>
<tbody>
{rows}</tbody></table>
<h2>Changes made by hand</h2>
{manual}
<div class="sign"><div>Determined by (name, qualification)</div><div>Date and signature</div></div>
</body></html>
"#,
        profile = esc(&d.profile),
        options = esc(&if d.options.is_empty() {
            "none".into()
        } else {
            d.options.join(", ")
        }),
        edition = esc(d.edition),
        version = d.dcmask_version,
        key = esc(&d.key_fingerprint),
        shift = d.date_shift,
        files = d.files,
        changed = esc(&changed),
        cleaned = esc(&if cleaned.is_empty() {
            "nothing dropped".into()
        } else {
            cleaned.join(", ")
        }),
        boxes = d.pixel_boxes,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Entry, ManualAction, ManualChange};
    use crate::vocab::{Action, Source};
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
        assert_eq!(row("(0008,1110)").changed, 2);
        assert_eq!(row("(0010,0020)").changed, 1);
        let hand = row("(0008,1115)");
        assert_eq!((hand.changed, hand.rule.source), (2, Source::Manual));
        assert_eq!(hand.action, "remove item");
        let sum: usize = d.rows.iter().map(|r| r.changed).sum();
        assert_eq!(sum + d.changed.not_in_rows, d.changed.total);
        assert_eq!(d.manual[0].file, "file-1.dcm");
        assert_eq!(d.burned_in[0].file, "file-1.dcm");
        let html = to_html(&d);
        assert!(html.contains("2026-01-01T10:00:00+01:00"));
        assert!(html.contains("second series is another patient"));
        assert!(html.contains("Pixels not cleaned, may carry burned-in text"));
    }

    #[test]
    fn ancestors_stop_at_elements() {
        let got: Vec<&str> = self_and_ancestors("A/0/B/1/C").collect();
        assert_eq!(got, ["A/0/B/1/C", "A/0/B", "A"]);
        assert_eq!(self_and_ancestors("A").collect::<Vec<_>>(), ["A"]);
    }
}
