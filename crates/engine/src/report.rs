//! The per-field determination report: every tag decision across a set of files, with
//! the rule and rationale behind it. This is what an expert signs for HIPAA Expert
//! Determination; the CLI and the workbench both render it from here.

use crate::clean::CleanCounts;
use crate::decide::Rule;
use crate::record::Record;
use serde::Serialize;
use std::collections::BTreeMap;

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
    /// Elements whose value it changed or removed.
    pub changed: usize,
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
    pub rows: Vec<ReportRow>,
    pub cleaned: CleanCounts,
    pub pixel_boxes: usize,
}

/// Aggregates the records of several objects de-identified with one plan.
pub fn summarize<'a>(records: impl IntoIterator<Item = &'a Record>) -> Determination {
    let mut rows: BTreeMap<(String, String, String, String), ReportRow> = BTreeMap::new();
    let mut cleaned = CleanCounts::default();
    let mut files = 0;
    let mut pixel_boxes = 0;
    let mut first: Option<&Record> = None;
    for rec in records {
        files += 1;
        first.get_or_insert(rec);
        cleaned.merge(&rec.cleaned);
        pixel_boxes += rec.pixel_boxes.len();
        let mut seen = std::collections::HashSet::new();
        for e in &rec.entries {
            let key = (
                e.tag.clone(),
                e.action.label().to_string(),
                e.rule.id.to_string(),
                e.rule.explanation.to_string(),
            );
            let row = rows.entry(key.clone()).or_insert_with(|| ReportRow {
                tag: e.tag.clone(),
                keyword: e.keyword,
                action: e.action.label().to_string(),
                rule: e.rule.clone(),
                files: 0,
                elements: 0,
                changed: 0,
            });
            row.elements += 1;
            row.changed += usize::from(e.changed);
            if seen.insert(key) {
                row.files += 1;
            }
        }
    }
    let first = first.cloned().unwrap_or_default();
    Determination {
        dcmask_version: env!("CARGO_PKG_VERSION"),
        profile: first.profile,
        options: first.options,
        edition: crate::table::EDITION,
        key_fingerprint: first.key_fingerprint,
        date_shift: first.date_shift,
        files,
        rows: rows.into_values().collect(),
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
th{{background:#eef2f6}} td.tag{{font-family:ui-monospace,monospace;white-space:nowrap}}
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
<dt>Free text cleaned</dt><dd>{cleaned}</dd>
<dt>Pixel regions blanked</dt><dd>{boxes}</dd>
</dl>
<table><thead><tr><th>Tag</th><th>Attribute</th><th>Action</th><th>Rule</th><th>Rationale</th><th>Files</th><th>Changed</th></tr></thead>
<tbody>
{rows}</tbody></table>
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
        cleaned = esc(&if cleaned.is_empty() {
            "nothing dropped".into()
        } else {
            cleaned.join(", ")
        }),
        boxes = d.pixel_boxes,
    )
}
