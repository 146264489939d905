//! The report as one self-contained HTML page: a one-page summary to sign (release,
//! dataset, what was done, the risk before and after, the residual-PHI check, the
//! conclusion and signature block), then the detail (Safe Harbor matrix, risk per
//! quasi-identifier, findings, pixels, decisions per field grouped by source and
//! collapsible, changes made by hand, audit trail). Its style is inline and it has no
//! script; printed, every group is open and each part starts a page.

use super::{Determination, Evidence, ReportRow, RiskEvidence};
use crate::profile::vocab::Source;
use crate::risk::{Figures, RecordKind, Report};
use std::collections::BTreeMap;
use std::fmt::Write;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A field the expert fills in: its text, or a line to write on.
fn filled(s: &str) -> String {
    if s.trim().is_empty() {
        "<span class=blank>&nbsp;</span>".into()
    } else {
        esc(s).replace('\n', "<br>")
    }
}

fn share(n: u64, of: u64) -> String {
    if of == 0 {
        return String::new();
    }
    format!(" ({:.1}%)", 100.0 * n as f64 / of as f64)
}

fn prob(p: f64) -> String {
    format!("{p:.4}")
}

const STYLE: &str = r#"
body{font:13px/1.45 system-ui,sans-serif;margin:2em auto;max-width:60em;color:#111;padding:0 1em}
h1{font-size:21px;margin:0 0 .2em} h2{font-size:16px;margin:1.6em 0 .4em;border-bottom:1px solid #999}
h3{font-size:14px;margin:1.2em 0 .3em} .sub{color:#444;margin:0 0 1em}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.15em 1em;margin:.3em 0}
dt{font-weight:600} dd{margin:0}
table{border-collapse:collapse;width:100%;margin:.4em 0}
th,td{border:1px solid #bbb;padding:2px 6px;vertical-align:top;text-align:left}
th{background:#eef2f6} td.num,th.num{text-align:right;white-space:nowrap} td.tag{font-family:ui-monospace,monospace;white-space:nowrap}
td.act{font-weight:600;white-space:nowrap} small,.note{color:#555} code{font-family:ui-monospace,monospace;font-size:12px;word-break:break-all}
.summary{border:2px solid #333;padding:.6em 1em;margin:1em 0}
.summary h2{margin-top:.8em} .summary h2:first-child{margin-top:0}
.ok{color:#0a5c0a;font-weight:600} .warn{color:#a40000;font-weight:600} .flag td{background:#fff3f3}
.blank{display:inline-block;min-width:22em;border-bottom:1px solid #111}
.sign{margin-top:1.2em;display:grid;grid-template-columns:1fr 1fr 1fr;gap:1.5em}
.sign div{border-top:1px solid #111;padding-top:.2em;min-height:2.5em}
.conclusion{border-left:3px solid #333;padding:.2em .8em;margin:.5em 0}
details{margin:.3em 0;border:1px solid #ccc;padding:.2em .6em} summary{cursor:pointer;font-weight:600}
.detail{break-before:page}
@page{size:A4;margin:14mm}
@media print{body{margin:0;max-width:none;font-size:11px} .summary{break-after:page;border:0;padding:0}
 tr{break-inside:avoid} thead{display:table-header-group}
 details{border:0;padding:0} details::details-content{content-visibility:visible;display:block}
 summary{list-style:none}}
"#;

/// A sample size, records of what kind.
fn records(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Patient => "patients",
        RecordKind::Study => "studies",
    }
}

/// The figures before and after, one row per figure.
fn figures_table(r: &RiskEvidence) -> String {
    let cols: Vec<(&str, Option<&Figures>)> = vec![
        ("Originals (before)", r.before.as_ref().map(|b| &b.figures)),
        ("Outputs (after)", r.after.as_ref().map(|a| &a.figures)),
    ];
    let mut out = String::from("<table class=risk><thead><tr><th>Figure</th>");
    for (name, _) in &cols {
        let _ = write!(out, "<th class=num>{name}</th>");
    }
    out.push_str("</tr></thead><tbody>\n");
    type Row<'a> = (&'a str, Box<dyn Fn(&Figures) -> String>);
    let rows: Vec<Row> = vec![
        (
            "Records",
            Box::new(|f: &Figures| f.records.to_string()) as Box<dyn Fn(&Figures) -> String>,
        ),
        ("Equivalence classes", Box::new(|f| f.classes.to_string())),
        ("k-min (smallest class)", Box::new(|f| f.k_min.to_string())),
        (
            "Records with k = 1 (unique)",
            Box::new(|f| format!("{}{}", f.unique_records, share(f.unique_records, f.records))),
        ),
        (
            "Records with k < 5",
            Box::new(|f| {
                format!(
                    "{}{}",
                    f.records_below_k5,
                    share(f.records_below_k5, f.records)
                )
            }),
        ),
        (
            "Records with k < 11",
            Box::new(|f| {
                format!(
                    "{}{}",
                    f.records_below_k11,
                    share(f.records_below_k11, f.records)
                )
            }),
        ),
        (
            "Prosecutor risk, maximum (1/k-min)",
            Box::new(|f| prob(f.prosecutor_risk_max)),
        ),
        (
            "Prosecutor risk, average (classes/records)",
            Box::new(|f| prob(f.prosecutor_risk_avg)),
        ),
    ];
    let mut all = rows;
    if r.population.is_some() {
        all.push((
            "Journalist risk, maximum",
            Box::new(|f| f.journalist_risk_max.map(prob).unwrap_or_default()),
        ));
        all.push((
            "Marketer risk",
            Box::new(|f| f.marketer_risk.map(prob).unwrap_or_default()),
        ));
    }
    for (name, get) in &all {
        let _ = write!(out, "<tr><td>{name}</td>");
        for (_, f) in &cols {
            let _ = write!(
                out,
                "<td class=num>{}</td>",
                f.map(get).unwrap_or_else(|| "—".into())
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
    for note in [&r.before_note, &r.after_note].into_iter().flatten() {
        let _ = writeln!(out, "<p class=note>{}</p>", esc(note));
    }
    out
}

/// The quasi-identifiers' part in one analysis.
fn contributions(report: &Report) -> String {
    let mut out = String::from(
        "<table><thead><tr><th>Quasi-identifier</th><th class=num>Unique because of it</th>\
         <th class=num>Distinct values</th><th class=num>Without it: k = 1</th><th class=num>k-min</th>\
         <th>Generalized to</th><th class=num>k = 1</th><th class=num>k-min</th></tr></thead><tbody>\n",
    );
    for q in &report.quasi_identifiers {
        let (to, g1, gk) = match &q.generalized {
            Some(g) => (
                esc(&g.to),
                g.figures.unique_records.to_string(),
                g.figures.k_min.to_string(),
            ),
            None => ("—".into(), String::new(), String::new()),
        };
        let _ = writeln!(
            out,
            "<tr><td>{}{}</td><td class=num>{}</td><td class=num>{}</td><td class=num>{}</td><td class=num>{}</td><td>{to}</td><td class=num>{g1}</td><td class=num>{gk}</td></tr>",
            esc(&q.id),
            q.tag.as_deref().map(|t| format!(" <small>{}</small>", esc(t))).unwrap_or_default(),
            q.unique_because,
            q.distinct_values,
            q.without.unique_records,
            q.without.k_min,
        );
    }
    out.push_str("</tbody></table>\n");
    out
}

fn source_title(s: Source) -> &'static str {
    match s {
        Source::Table => "PS3.15 Table E.1-1, Basic Profile",
        Source::Option => "PS3.15 Table E.1-1, options",
        Source::Hipaa => "HIPAA Safe Harbor layer",
        Source::Custom => "Custom rules of the expert",
        Source::Private => "Private attributes",
        Source::Residual => "Attributes outside the table (residual rule)",
        Source::Structural => "File structure",
        Source::Pixel => "Pixel region rules",
        Source::LeakGuard => {
            "Leak guard (identifying values of the patient found in what was written)"
        }
        Source::Manual => "Changes made by hand",
        Source::Presence => "Presence rules beyond Table E.1-1",
    }
}

fn decision_groups(d: &Determination) -> String {
    let mut groups: BTreeMap<Source, Vec<&ReportRow>> = BTreeMap::new();
    for r in &d.rows {
        groups.entry(r.rule.source).or_default().push(r);
    }
    let mut out = String::new();
    for (source, rows) in groups {
        let elements: usize = rows.iter().map(|r| r.elements).sum();
        let _ = writeln!(
            out,
            "<details class=group data-source=\"{}\"><summary>{} — {} decisions, {} elements</summary>",
            source.name(),
            source_title(source),
            rows.len(),
            elements
        );
        out.push_str("<table><thead><tr><th>Tag</th><th>Attribute</th><th>Action</th><th>Rationale</th><th>Rule</th><th class=num>Files</th><th class=num>Elements</th><th class=num>Changed</th></tr></thead><tbody>\n");
        for r in rows {
            let opt = |n: Option<usize>| n.map(|n| n.to_string()).unwrap_or_else(|| "—".into());
            let _ = writeln!(
                out,
                "<tr><td class=tag>{}</td><td>{}</td><td class=act>{}</td><td>{}{}</td><td><small>{}{}</small></td><td class=num>{}</td><td class=num>{}</td><td class=num>{}</td></tr>",
                esc(&r.tag),
                esc(r.keyword),
                esc(&r.action),
                esc(&r.rule.explanation),
                r.rule.note.as_deref().map(|n| format!("<br><small>rationale: {}</small>", esc(n))).unwrap_or_default(),
                esc(&r.rule.id),
                r.rule.code.map(|c| format!(" ({})", esc(c))).unwrap_or_default(),
                opt(r.files),
                r.elements,
                opt(r.changed),
            );
        }
        out.push_str("</tbody></table></details>\n");
    }
    if out.is_empty() {
        out.push_str("<p>No decision was recorded.</p>\n");
    }
    out
}

fn manual_table(d: &Determination) -> String {
    if d.manual.is_empty() {
        return "<p>None.</p>\n".into();
    }
    let mut out = String::from("<table><thead><tr><th>Time</th><th>File</th><th>Element</th><th>Attribute</th><th>Action</th><th>Reason</th></tr></thead><tbody>\n");
    for m in &d.manual {
        let c = &m.change;
        let region = c
            .region
            .as_ref()
            .map(|b| format!(" {},{} to {},{} ({})", b.x0, b.y0, b.x1, b.y1, b.source))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "<tr><td class=tag>{}</td><td>{}</td><td class=tag>{}</td><td>{}</td><td class=act>{}</td><td>{}</td></tr>",
            esc(&c.time),
            esc(&m.file),
            esc(&c.path),
            esc(c.keyword),
            esc(&format!("{}{region}", c.action.label())),
            esc(c.rule.note.as_deref().unwrap_or("")),
        );
    }
    out.push_str("</tbody></table>\n");
    out
}

fn harbor_table(e: &Evidence) -> String {
    let mut out = String::from("<table class=harbor><thead><tr><th>#</th><th>Identifier</th><th class=num>Attributes</th><th>What was done (elements)</th><th class=num>Kept as is</th><th>Values present in the outputs</th></tr></thead><tbody>\n");
    for r in &e.safe_harbor {
        let done = if r.done.is_empty() {
            "—".to_string()
        } else {
            r.done
                .iter()
                .map(|(a, n)| format!("{} {n}", esc(a)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let present = if r.present.is_empty() {
            "none".to_string()
        } else {
            let mut items: Vec<String> = r
                .present
                .iter()
                .take(8)
                .map(|a| {
                    let name = if a.keyword.is_empty() {
                        a.tag.clone()
                    } else {
                        a.keyword.to_string()
                    };
                    format!("{} {}", esc(&name), a.values)
                })
                .collect();
            if r.present.len() > 8 {
                items.push(format!("and {} more attributes", r.present.len() - 8));
            }
            format!("{} values: {}", r.values_present, items.join(", "))
        };
        let mut notes: Vec<String> = r.notes.iter().map(|n| esc(n)).collect();
        if r.private {
            notes.push("and private attributes".into());
        }
        let _ = writeln!(
            out,
            "<tr{} data-category=\"{}\"><td>{}</td><td>{}{}</td><td class=num>{}</td><td>{done}</td><td class=num>{}</td><td>{present}</td></tr>",
            if r.kept > 0 { " class=flag" } else { "" },
            esc(&r.id),
            esc(&r.id),
            esc(&r.name),
            if notes.is_empty() { String::new() } else { format!("<br><small>{}</small>", notes.join("; ")) },
            r.attributes,
            r.kept,
        );
    }
    out.push_str("</tbody></table>\n");
    out
}

fn verify_line(e: &Evidence) -> String {
    let v = &e.verify;
    if !v.ran {
        return format!(
            "<span class=warn>Not run</span>: {}",
            esc(v.not_run.as_deref().unwrap_or("no originals"))
        );
    }
    let read = format!(
        "{} outputs searched for {} identifying values of {} originals",
        v.files, v.values, v.originals
    );
    let unreadable = if v.unreadable > 0 {
        format!(
            "; <span class=warn>{} outputs could not be read</span>",
            v.unreadable
        )
    } else {
        String::new()
    };
    if v.findings == 0 {
        format!("<span class=ok>No identifying value of the originals found</span> ({read}){unreadable}")
    } else {
        let cats: Vec<String> = v
            .by_category
            .iter()
            .map(|(c, n)| format!("{} {n}", esc(c)))
            .collect();
        format!(
            "<span class=warn>{} findings</span> ({}) — {read}{unreadable}",
            v.findings,
            cats.join(", ")
        )
    }
}

fn verify_detail(e: &Evidence) -> String {
    let v = &e.verify;
    let mut out = format!("<p>{}</p>\n", verify_line(e));
    if v.ran {
        let _ = writeln!(out, "<p class=note>Searched: {}</p>", esc(&v.scope));
    }
    if !v.listed.is_empty() {
        out.push_str(
            "<table><thead><tr><th>File</th><th>Where</th><th>Category</th></tr></thead><tbody>\n",
        );
        for f in &v.listed {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td class=tag>{}</td><td>{}</td></tr>",
                esc(&f.file),
                esc(&f.place),
                esc(&f.category)
            );
        }
        out.push_str("</tbody></table>\n");
        if v.findings > v.listed.len() as u64 {
            let _ = writeln!(
                out,
                "<p class=note>The first {} of {} findings.</p>",
                v.listed.len(),
                v.findings
            );
        }
    }
    out
}

fn pixel_line(e: &Evidence) -> String {
    let p = &e.pixels;
    let mut parts = vec![if p.cleaned {
        format!(
            "cleaned (Clean Pixel Data): {} regions blanked in {} files",
            p.boxes, p.files_with_boxes
        )
    } else {
        "not cleaned by the plan (header only)".to_string()
    }];
    if !p.by_source.is_empty() {
        parts.push(
            p.by_source
                .iter()
                .map(|(s, n)| format!("{n} by {s}"))
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    let mut line = esc(&parts.join("; "));
    if p.burned_in > 0 {
        let _ = write!(
            line,
            "; <span class=warn>{} files may show burned-in text that was not cleaned</span>",
            p.burned_in
        );
    }
    if !p.warnings.is_empty() {
        let _ = write!(
            line,
            "; <span class=warn>{} warnings that text may remain</span>",
            p.warnings.len()
        );
    }
    line
}

/// The statement signed when the expert wrote no conclusion of their own.
const STATEMENT: &str = "Applying generally accepted statistical and scientific principles and \
     methods for rendering information not individually identifiable, I have determined that the \
     risk is very small that the information described in this report could be used, alone or in \
     combination with other reasonably available information, by the anticipated recipient to \
     identify an individual who is a subject of the information (45 CFR 164.514(b)(1)). The \
     methods and results of the analysis that justify this determination are documented in this \
     report.";

/// The printable page: a one-page summary to sign, then the detail, collapsible.
pub fn to_html(e: &Evidence) -> String {
    let d = &e.decisions;
    let ds = &e.dataset;
    let r = &e.risk;
    let mut o = String::with_capacity(64 * 1024);
    let _ = write!(
        o,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Expert Determination report</title>\n<style>{STYLE}</style></head><body>\n"
    );
    let _ = writeln!(
        o,
        "<h1>Expert Determination: de-identification and re-identification risk</h1>\n<p class=sub>Made by {} {} on {} · configuration <code>{}</code></p>",
        esc(&e.made_by),
        d.dcmask_version,
        esc(&e.generated),
        esc(&e.configuration_digest)
    );

    // ---------- the one-page summary ----------
    o.push_str("<section class=summary id=summary>\n<h2>Release</h2>\n<dl>\n");
    let rel = &e.release;
    for (name, v) in [
        ("Recipient", &rel.recipient),
        ("Purpose", &rel.purpose),
        ("Data-use agreement", &rel.agreement),
        ("Valid until", &rel.valid_until),
    ] {
        let _ = writeln!(o, "<dt>{name}</dt><dd>{}</dd>", filled(v));
    }
    o.push_str("</dl>\n<h2>Dataset</h2>\n<dl>\n");
    let modalities: Vec<String> = ds
        .modalities
        .iter()
        .map(|(m, n)| format!("{} {n}", esc(m)))
        .collect();
    let _ = writeln!(
        o,
        "<dt>Content</dt><dd id=dataset-counts>{} patients, {} studies, {} series, {} instances</dd>\n<dt>Modalities</dt><dd>{}</dd>\n<dt>SOP classes</dt><dd>{}</dd>\n<dt>Content digest</dt><dd><code>{}</code></dd>",
        ds.patients,
        ds.studies,
        ds.series,
        ds.instances,
        if modalities.is_empty() { "none".into() } else { modalities.join(", ") },
        ds.sop_classes
            .iter()
            .map(|c| format!("{} {}", esc(&c.name), c.instances))
            .collect::<Vec<_>>()
            .join(", "),
        esc(ds.content_digest.as_deref().unwrap_or("not computed")),
    );
    let c = &d.changed;
    let _ = writeln!(
        o,
        "</dl>\n<h2>De-identification</h2>\n<dl>\n<dt>Profile</dt><dd>{} <small>({})</small></dd>\n<dt>Options</dt><dd>{}</dd>\n<dt>Date shift</dt><dd>{}</dd>\n<dt>Key fingerprint</dt><dd><code>{}</code></dd>\n<dt>Elements changed</dt><dd>{} ({} by the profile, {} by hand); leak guard {}; decisions from {}</dd>\n<dt>Pixels</dt><dd>{}</dd>",
        esc(&d.profile),
        esc(d.edition),
        esc(&if d.options.is_empty() { "none".into() } else { d.options.join(", ") }),
        d.date_shift,
        esc(&d.key_fingerprint),
        c.total,
        c.by_profile,
        c.by_hand,
        e.leak_guard_elements(),
        esc(&e.decisions_from),
        pixel_line(e),
    );
    let _ = writeln!(
        o,
        "<dt>Residual-PHI check</dt><dd id=verify-result>{}</dd>\n</dl>",
        verify_line(e)
    );
    let kept: Vec<String> = e
        .safe_harbor
        .iter()
        .filter(|h| h.kept > 0)
        .map(|h| format!("{} ({})", esc(&h.id), h.kept))
        .collect();
    let _ = writeln!(
        o,
        "<h2>Re-identification risk</h2>\n<p>{} quasi-identifiers, records are {}{}.</p>\n{}<p>Safe Harbor categories with values kept as they were: {}.</p>",
        r.quasi_identifiers.len(),
        records(r.record),
        r.population
            .map(|n| format!(", population {n}"))
            .unwrap_or_default(),
        figures_table(r),
        if kept.is_empty() { "none".into() } else { kept.join(", ") }
    );
    if let Some(a) = &e.audit {
        let _ = writeln!(
            o,
            "<p>Audit trail: {} entries, head <code id=audit-head>{}</code>{}{}</p>",
            a.entries,
            esc(&a.head),
            a.entry
                .as_deref()
                .map(|s| format!(" ({})", esc(s)))
                .unwrap_or_default(),
            a.problem
                .as_deref()
                .map(|p| format!(" <span class=warn>does not verify: {}</span>", esc(p)))
                .unwrap_or_default()
        );
    }
    let conclusion = if rel.conclusion.trim().is_empty() {
        esc(STATEMENT)
    } else {
        filled(&rel.conclusion)
    };
    let _ = writeln!(
        o,
        "<h2>Conclusion</h2>\n<div class=conclusion>{conclusion}</div>\n<div class=sign id=signature><div>Name and qualification<br>{}</div><div>Date</div><div>Signature</div></div>\n</section>",
        if rel.expert.trim().is_empty() { String::new() } else { esc(&rel.expert) }
    );

    // ---------- the detail ----------
    let _ = writeln!(
        o,
        "<section class=detail id=safe-harbor><h2>HIPAA Safe Harbor: the 18 identifiers</h2>\n<p class=note>For each identifier of 45 CFR 164.514(b)(2)(i): the attributes that carry it (crates/engine/data/hipaa-safe-harbor.csv), what the decisions did to them, and the values of those attributes present in the outputs (replacements and kept values alike; the residual-PHI check says whether any is an original's). Rows with values kept as they were are marked.</p>\n{}</section>",
        harbor_table(e)
    );
    let _ = writeln!(
        o,
        "<section class=detail id=risk><h2>Re-identification risk</h2>\n<p>Records are {}: {}. A record's value for a quasi-identifier is the sorted set of its instances' distinct values; records sharing every value form an equivalence class of size k. Prosecutor risk: the attacker knows the person is in the data (1/k); definitions as in ARX (El Emam 2013).{}</p>\n{}",
        records(r.record),
        match r.record {
            RecordKind::Patient => "grouped by the Patient ID of the files",
            RecordKind::Study => "grouped by Study Instance UID",
        },
        match (r.population, r.population_model) {
            (Some(n), Some(m)) => format!(" Journalist and marketer risk for a population of {n}: {}.", esc(m)),
            _ => " No population size was given: no journalist or marketer risk.".into(),
        },
        figures_table(r),
    );
    o.push_str("<h3>Quasi-identifiers</h3>\n<table><thead><tr><th>Quasi-identifier</th><th>Why</th></tr></thead><tbody>\n");
    for q in &r.quasi_identifiers {
        let _ = writeln!(
            o,
            "<tr><td>{}{}</td><td>{}</td></tr>",
            esc(&q.id),
            q.tag
                .as_deref()
                .map(|t| format!(" <small>{}</small>", esc(t)))
                .unwrap_or_default(),
            esc(&q.reason)
        );
    }
    o.push_str("</tbody></table>\n");
    if let Some(a) = &r.after {
        let _ = writeln!(
            o,
            "<h3>Outputs: what each quasi-identifier does</h3>\n{}",
            contributions(a)
        );
    }
    if let Some(b) = &r.before {
        let _ = writeln!(
            o,
            "<details><summary>Originals: what each quasi-identifier did</summary>\n{}</details>",
            contributions(b)
        );
    }
    o.push_str("</section>\n");
    let _ = writeln!(
        o,
        "<section class=detail id=verify><h2>Residual-PHI check</h2>\n{}</section>",
        verify_detail(e)
    );
    let p = &e.pixels;
    let _ = writeln!(
        o,
        "<section id=pixels><h2>Pixel cleaning</h2>\n<p>{}</p>",
        pixel_line(e)
    );
    if !d.burned_in.is_empty() || !p.warnings.is_empty() {
        o.push_str(
            "<table><thead><tr><th>File</th><th>Why text may remain</th></tr></thead><tbody>\n",
        );
        for b in &d.burned_in {
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td>{}</td></tr>",
                esc(&b.file),
                esc(&b.reason)
            );
        }
        for w in &p.warnings {
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td>{}</td></tr>",
                esc(&w.file),
                esc(&w.note)
            );
        }
        o.push_str("</tbody></table>\n");
    }
    o.push_str("</section>\n");
    let _ = writeln!(
        o,
        "<section id=dataset><h2>Dataset</h2>\n<p>{} patients ({} instances without a Patient ID), {} studies, {} series, {} instances.</p>\n<p class=note>Content digest: {}.</p>",
        ds.patients,
        ds.without_patient_id,
        ds.studies,
        ds.series,
        ds.instances,
        esc(super::dataset::DIGEST_DEFINITION)
    );
    o.push_str("<table><thead><tr><th>SOP class</th><th>UID</th><th class=num>Instances</th></tr></thead><tbody>\n");
    for c in &ds.sop_classes {
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td class=tag>{}</td><td class=num>{}</td></tr>",
            esc(&c.name),
            esc(&c.uid),
            c.instances
        );
    }
    o.push_str("</tbody></table>\n");
    if !ds.manifest.is_empty() {
        let _ = writeln!(
            o,
            "<details><summary>Manifest: {} outputs</summary><table><thead><tr><th>SHA-256</th><th>Output</th></tr></thead><tbody>",
            ds.manifest.len()
        );
        for m in &ds.manifest {
            let _ = writeln!(
                o,
                "<tr><td class=tag>{}</td><td>{}</td></tr>",
                esc(&m.sha256),
                esc(&m.name)
            );
        }
        o.push_str("</tbody></table></details>\n");
    }
    o.push_str("</section>\n");
    let _ = writeln!(
        o,
        "<section class=detail id=decisions><h2>Decisions per field</h2>\n<p class=note>Every decision, grouped by where it comes from, with its rationale and source; the expert's rationale of a custom rule or a change made by hand is given with it. {} elements changed from the originals{}.</p>\n{}</section>",
        c.total,
        if c.not_in_rows > 0 {
            format!(", {} of them accounted for by no row (the de-identification markers dcmask adds, blanked Pixel Data)", c.not_in_rows)
        } else {
            String::new()
        },
        decision_groups(d)
    );
    let _ = writeln!(
        o,
        "<section id=manual><h2>Changes made by hand</h2>\n{}</section>",
        manual_table(d)
    );
    if let Some(a) = &e.audit {
        let _ = writeln!(
            o,
            "<section id=audit><h2>Audit trail</h2>\n<p>{}: {} entries, head <code>{}</code>. <code>dcmask audit verify LOG --head {}</code> checks that no entry was changed, removed or reordered and that this head is still in the log.</p></section>",
            esc(&a.log),
            a.entries,
            esc(&a.head),
            esc(&a.head)
        );
    }
    o.push_str("</body></html>\n");
    o
}
