//! The determination report of a session ([`dcmask_engine::report::Evidence`]): the
//! decisions of the files as they are now, what they are (counts, content digest), the
//! release the expert describes, the Safe Harbor matrix, the risk before and after, the
//! residual-PHI check of the current headers against the originals' values, the pixel
//! cleaning and the audit trail's head. The report page, its JSON and the export zip
//! all come from [`evidence`].

use super::api::report_of;
use super::risk::Held;
use super::session::{lock, Session};
use super::{ApiError, Shared};
use axum::extract::{Path, State};
use axum::Json;
use dcmask_engine::report::dataset::{DatasetBuilder, ManifestEntry};
use dcmask_engine::report::harbor::HarborBuilder;
use dcmask_engine::report::{
    config_digest, Evidence, PixelSummary, Release, RiskEvidence, VerifyResult,
};
use dcmask_engine::verify::DictionaryBuilder;
use dcmask_engine::{Plan, ProfileOption};
use serde_json::{json, Value};
use std::sync::Arc;

type ApiResult<T> = Result<T, ApiError>;

/// What the check of the workbench searches.
const VERIFY_SCOPE: &str = "the decoded values of every element of the current headers, at every \
     depth, for the identifying values of the files as opened; pixel data not searched (run \
     `dcmask verify` on the exported files for their bytes and names)";

/// What a report reads of a session, taken under its lock.
struct Taken {
    decisions: dcmask_engine::report::Determination,
    held: Held,
    plan: Option<Arc<Plan>>,
    release: Release,
}

fn take(s: &Session) -> ApiResult<Taken> {
    let files = &s.current().files;
    if files
        .iter()
        .all(|f| f.staged.record.is_none() && f.staged.manual.is_empty())
    {
        return Err(ApiError::bad(
            "nothing has been applied or edited yet: choose a profile and Apply first",
        ));
    }
    Ok(Taken {
        decisions: report_of(s),
        held: Held::of(s),
        plan: s.current().plan.clone(),
        release: s.release.clone(),
    })
}

/// The evidence (on a worker, the session's lock released): the files' headers read
/// in memory, each file read back whole once per version for its digest.
fn assemble(app: &Shared, t: Taken) -> ApiResult<Evidence> {
    let Taken {
        decisions,
        held,
        plan,
        release,
    } = t;
    let mut dataset = DatasetBuilder::default();
    let mut harbor = HarborBuilder::default();
    let mut dict = DictionaryBuilder::new();
    let mut pixels = PixelSummary {
        cleaned: plan.as_ref().is_some_and(|p| {
            p.effective_options()
                .contains(&ProfileOption::CleanPixelData)
        }),
        ..PixelSummary::default()
    };
    for row in &decisions.rows {
        if let Ok(tag) = dcmask_engine::tag::parse_tag(&row.tag) {
            harbor.add_decision(tag, &row.action, row.elements as u64);
        }
    }
    let mut manifest = Vec::new();
    for (name, staged, original) in &held.files {
        dataset.add(&staged.object);
        harbor.add_output(&staged.object);
        if let Some(r) = &staged.record {
            pixels.add_record(name, r);
        }
        if let Some(o) = original {
            dict.add_object(o);
        }
        manifest.push(ManifestEntry {
            name: name.clone(),
            sha256: staged.object.digest()?,
        });
    }
    let originals = dict.objects();
    let dict = dict.build();
    let mut verify = VerifyResult::ran(VERIFY_SCOPE, originals, dict.len() as u64);
    for (name, staged, _) in &held.files {
        verify.files += 1;
        let mut seen = std::collections::HashSet::new();
        for finding in dict.scan_object(&staged.object) {
            if seen.insert((finding.path.clone(), finding.category)) {
                verify.add(name, finding.path, finding.category);
            }
        }
    }
    let (after, before) = held.analyses();
    let settings = &held.settings;
    let mut risk = RiskEvidence::new(
        &settings.quasi_identifiers(),
        settings.record,
        settings.population,
    );
    match before.report(settings.population) {
        Ok(r) => risk.before = Some(r),
        Err(e) => risk.before_note = Some(format!("No figures before: {e}")),
    }
    match after.report(settings.population) {
        Ok(r) => risk.after = Some(r),
        Err(e) => risk.after_note = Some(format!("No figures after: {e}")),
    }
    let plan = plan
        .as_ref()
        .map(|p| p.shareable_json())
        .unwrap_or_else(|| json!({ "profile": "none (changes made by hand only)" }));
    let mut dataset = dataset.finish();
    dataset.set_manifest(manifest);
    Ok(Evidence {
        generated: super::session::now(),
        made_by: "dcmask workbench".into(),
        configuration_digest: config_digest(&plan, &app.key.fingerprint()),
        decisions_from: "the records of the Apply in effect and the changes made by hand".into(),
        decisions,
        dataset,
        release,
        safe_harbor: harbor.finish(),
        risk,
        verify,
        pixels,
        audit: Some(app.audit.head(None)),
    })
}

/// The evidence of a session, its content digest that of the files as Export writes
/// them; its audit head the log as it is now.
pub async fn evidence(app: &Shared, sid: &str) -> ApiResult<Evidence> {
    let s = app.sessions.get(sid)?;
    let taken = take(&lock(&s))?;
    let cost = taken
        .held
        .files
        .iter()
        .map(|(_, f, _)| f.object.cost())
        .max()
        .unwrap_or(0);
    let app2 = app.clone();
    app.work.run(cost, move || assemble(&app2, taken)).await?
}

pub async fn get_release(
    State(app): State<Shared>,
    Path(sid): Path<String>,
) -> ApiResult<Json<Release>> {
    let s = app.sessions.get(&sid)?;
    let s = lock(&s);
    Ok(Json(s.release.clone()))
}

/// The release as the expert describes it (recipient, purpose, agreement, validity,
/// name, conclusion): kept for the session's reports, not an undo step.
pub async fn put_release(
    State(app): State<Shared>,
    Path(sid): Path<String>,
    Json(r): Json<Release>,
) -> ApiResult<Json<Value>> {
    let s = app.sessions.get(&sid)?;
    let mut s = lock(&s);
    s.release = r.clipped();
    Ok(Json(json!({ "release": s.release })))
}

/// How audit entries name a session: a digest of its id (the id grants access).
pub fn session_digest(sid: &str) -> String {
    dcmask_engine::audit::sha256(sid.as_bytes())[..23].to_string()
}

/// Appends an Apply or an edit to the audit trail: the configuration in effect and a
/// digest of the headers it left (pixel data out: it is digested at export). A log that
/// cannot be written is logged, not the user's error: the change is made already.
pub fn record(app: &Shared, sid: &str, s: &Session, action: &str, subject: String) {
    let mut entry = crate::audit::entry(action);
    entry.subject = Some(subject);
    entry.session = Some(session_digest(sid));
    if let Some(p) = &s.current().plan {
        entry.config = Some(config_digest(&p.shareable_json(), &app.key.fingerprint()));
    }
    let manifest: Vec<ManifestEntry> = s
        .current()
        .files
        .iter()
        .map(|f| ManifestEntry {
            name: s.name(&f.id),
            sha256: f.staged.object.header_digest(),
        })
        .collect();
    entry.outputs = Some(dcmask_engine::report::dataset::manifest_digest(&manifest));
    entry.outputs_of =
        Some("the headers of the session's files after it, pixel data left out".into());
    entry.counts.insert("files".into(), manifest.len() as u64);
    if let Err(e) = app.audit.append(entry) {
        tracing::error!("the audit log could not be appended to: {e}");
    }
}
