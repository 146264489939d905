//! The Risk view: the engine's re-identification figures ([`dcmask_engine::risk`]) over
//! the session's files as they are now (after the Apply in effect) and as opened, and
//! per quasi-identifier the values the current files release with how many records hold
//! each, so the expert sees what "keep" releases before choosing keep, remove or
//! generalise (custom rules, applied as any other).
//!
//! - A quasi-identifier the profile removed (every record empty now, some not before)
//!   shows no values and no counts: they would be the originals'.
//! - Headers only: the analysis reads what the session holds in memory, on a worker,
//!   the session's lock released.

use super::object::Stored;
use super::session::{lock, Session, Staged};
use super::{ApiError, Shared};
use axum::extract::{Path, State};
use axum::Json;
use dcmask_engine::risk::{self, Analysis, Builder, QuasiIdentifier, RecordKind};
use serde::Deserialize;
use serde_json::{json, Value};

type ApiResult<T> = Result<T, ApiError>;

/// Values listed per quasi-identifier, most frequent first.
const VALUES_SHOWN: usize = 50;

/// How the session measures the risk.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub record: RecordKind,
    /// The user's list (`dcmask risk --quasi-identifiers`), `None` for the defaults.
    pub list: Option<String>,
    pub population: Option<u64>,
}

impl Settings {
    pub fn quasi_identifiers(&self) -> Vec<QuasiIdentifier> {
        self.list
            .as_deref()
            .and_then(|l| risk::select(l).ok())
            .unwrap_or_else(|| risk::defaults().to_vec())
    }
}

/// What an analysis reads of a session, taken under its lock and read without it: per
/// file its neutral name, its current version and the file as opened (headers shared,
/// not copied).
pub struct Held {
    pub files: Vec<(String, Staged, Option<Stored>)>,
    pub settings: Settings,
    /// The label of the plan in effect.
    pub applied: Option<String>,
}

impl Held {
    pub fn of(s: &Session) -> Held {
        Held {
            files: s
                .current()
                .files
                .iter()
                .map(|f| {
                    let original = s.file(&f.id).ok().map(|o| o.original.clone());
                    (s.name(&f.id), f.staged.clone(), original)
                })
                .collect(),
            settings: s.risk.clone(),
            applied: s.current().plan.as_ref().map(|p| p.label()),
        }
    }

    /// The analyses of the files as they are now and as opened.
    pub fn analyses(&self) -> (Analysis, Analysis) {
        let qis = self.settings.quasi_identifiers();
        let mut after = Builder::new(qis.clone(), self.settings.record);
        let mut before = Builder::new(qis, self.settings.record);
        for (_, staged, original) in &self.files {
            after.add_object(&staged.object);
            if let Some(o) = original {
                before.add_object(o);
            }
        }
        (after.finish(), before.finish())
    }
}

/// Whether a quasi-identifier (by its index) was removed: empty in every record now,
/// not before.
fn removed(after: &[Vec<(&str, u64)>], before: &[Vec<(&str, u64)>], i: usize) -> bool {
    let empty = |v: &[(&str, u64)]| v.iter().all(|(s, _)| s.is_empty());
    empty(&after[i]) && !empty(&before[i])
}

pub async fn get_risk(
    State(app): State<Shared>,
    Path(sid): Path<String>,
) -> ApiResult<Json<Value>> {
    let s = app.sessions.get(&sid)?;
    let held = Held::of(&lock(&s));
    answer(&app, held).await
}

/// The view, computed on a worker: headers only, no memory beyond the session's.
async fn answer(app: &Shared, held: Held) -> ApiResult<Json<Value>> {
    Ok(Json(app.work.run(0, move || view(&held)).await??))
}

fn view(h: &Held) -> ApiResult<Value> {
    if h.files.is_empty() {
        return Err(ApiError::bad("no files are open"));
    }
    let (after, before) = h.analyses();
    let population = h.settings.population;
    let report = |a: &Analysis| a.report(population).map_err(ApiError::bad);
    let (after_r, before_r) = (report(&after)?, report(&before)?);
    let (av, bv) = (after.value_counts(), before.value_counts());
    let qis = h.settings.quasi_identifiers();
    // In the order of the report: those that drive uniqueness first.
    let fields: Vec<Value> = after_r
        .quasi_identifiers
        .iter()
        .filter_map(|c| {
            let i = qis.iter().position(|q| q.id == c.id)?;
            let gone = removed(&av, &bv, i);
            let values: Vec<Value> = if gone {
                Vec::new()
            } else {
                av[i]
                    .iter()
                    .take(VALUES_SHOWN)
                    .map(|(v, n)| json!([v, n]))
                    .collect()
            };
            Some(json!({
                "id": c.id,
                "tag": c.tag,
                "reason": c.reason,
                "unique_because": c.unique_because,
                "removed": gone,
                "distinct_values": if gone { Value::Null } else { c.distinct_values.into() },
                "values": values,
                "more_values": if gone { 0 } else { av[i].len().saturating_sub(VALUES_SHOWN) },
                "without": c.without,
                "generalized": c.generalized,
            }))
        })
        .collect();
    Ok(json!({
        "applied": h.applied,
        "record": h.settings.record,
        "list": h.settings.list,
        "population": population,
        "after": after_r.figures,
        "before": before_r.figures,
        "fields": fields,
    }))
}

#[derive(Deserialize)]
pub struct SettingsBody {
    record: Option<String>,
    quasi_identifiers: Option<String>,
    population: Option<u64>,
}

pub async fn put_risk(
    State(app): State<Shared>,
    Path(sid): Path<String>,
    Json(b): Json<SettingsBody>,
) -> ApiResult<Json<Value>> {
    let record = match b.record.as_deref() {
        None => RecordKind::Patient,
        Some(r) => {
            RecordKind::from_id(r).ok_or_else(|| ApiError::bad("record: patient or study"))?
        }
    };
    let list = b.quasi_identifiers.filter(|l| !l.trim().is_empty());
    if let Some(l) = &list {
        risk::select(l).map_err(|e| ApiError::bad(format!("quasi-identifiers: {e}")))?;
    }
    if b.population == Some(0) {
        return Err(ApiError::bad("the population must be at least 1"));
    }
    let s = app.sessions.get(&sid)?;
    let held = {
        let mut s = lock(&s);
        s.risk = Settings {
            record,
            list,
            population: b.population,
        };
        Held::of(&s)
    };
    answer(&app, held).await
}
