//! The JSON API of the workbench (docs/api.md). Handlers are thin: they find the
//! session, call the engine, and shape its answers for the page.

use super::diff::{tree, FileChanges, Node};
use super::object::{self, Failure, Stored};
use super::session::{lock, FileState, Session, Snapshot, Staged};
use super::{conn, edit, evidence, export, limits, pixel, render, risk, ApiError, Shared};
use axum::body::Bytes;
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use dcmask_engine::report::{summarize, to_html, Determination, Evidence, ReportFile};
use dcmask_engine::tag::{dictionary_vr, display_name, keyword, parse_tag, tag_id};
use dcmask_engine::ProfileOption;
use dcmask_engine::{
    parse_rules, rule_list_with, rules_to_json, CustomAction, CustomRule, Plan, ProfileId,
};
use dcmask_engine::{ManualAction, ManualChange};
use dicom_core::dictionary::UidDictionary;
use dicom_dictionary_std::{tags, StandardSopClassDictionary};
use dicom_object::DefaultDicomObject;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt;

type ApiResult<T> = Result<T, ApiError>;

/// An uploaded file's name is quoted back (in `rejected`) up to this many characters.
const NAME_SHOWN: usize = 64;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/sessions", post(create_session))
        .route("/api/sessions/{sid}", delete(close_session))
        .route("/api/sessions/{sid}/state", get(state))
        // The upload enforces its own limits while it streams to disk.
        .route(
            "/api/sessions/{sid}/files",
            post(upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/sessions/{sid}/files/{fid}", delete(close_file))
        .route("/api/sessions/{sid}/apply", post(apply))
        .route("/api/sessions/{sid}/undo", post(undo))
        .route("/api/sessions/{sid}/redo", post(redo))
        .route("/api/sessions/{sid}/files/{fid}/tree", get(file_tree))
        .route("/api/sessions/{sid}/files/{fid}/element", put(edit_element))
        .route(
            "/api/sessions/{sid}/files/{fid}/element/remove",
            post(remove_element),
        )
        .route("/api/sessions/{sid}/files/{fid}/image", get(image_info))
        .route("/api/sessions/{sid}/files/{fid}/frame/{frame}", get(frame))
        .route(
            "/api/sessions/{sid}/files/{fid}/export",
            get(export::export_file),
        )
        .route("/api/sessions/{sid}/export.zip", get(export::export_zip))
        .route("/api/sessions/{sid}/linkage.zip", get(export::linkage_zip))
        .route("/api/sessions/{sid}/report.json", get(report_json))
        .route("/api/sessions/{sid}/report.html", get(report_html))
        .route(
            "/api/sessions/{sid}/risk",
            get(risk::get_risk).put(risk::put_risk),
        )
        .route(
            "/api/sessions/{sid}/release",
            get(evidence::get_release).put(evidence::put_release),
        )
        .route("/api/profiles", get(profiles))
        .route("/api/tags/lookup", get(lookup_tag))
        .route("/api/rules/parse", post(parse_rules_text))
        .route("/api/rules/serialize", post(serialize_rules))
        .merge(pixel::routes())
}

fn session(app: &Shared, sid: &str) -> ApiResult<Arc<Mutex<Session>>> {
    app.sessions.get(sid)
}

async fn create_session(State(app): State<Shared>) -> ApiResult<Json<Value>> {
    let id = app.sessions.create(&app.store)?;
    Ok(Json(json!({
        "id": id,
        "limits": { "max_upload": app.limits.max_upload },
    })))
}

async fn close_session(
    State(app): State<Shared>,
    Path(sid): Path<String>,
) -> ApiResult<Json<Value>> {
    let s = app
        .sessions
        .remove(&sid)
        .ok_or_else(|| ApiError::not_found("session"))?;
    // Its files are deleted off the async threads.
    tokio::task::spawn_blocking(move || drop(s));
    Ok(Json(json!({ "closed": true })))
}

#[derive(Serialize)]
struct FileSummary {
    id: String,
    name: String,
    patient: String,
    study: String,
    series: String,
    modality: String,
    sop_class: String,
    rows: u32,
    columns: u32,
    frames: u32,
    has_image: bool,
    /// Elements changed from the file as opened ([`FileChanges`]).
    modified: usize,
    modified_by: ChangedCounts,
    /// Why the pixels, not cleaned by the last Apply, may carry burned-in text.
    #[serde(skip_serializing_if = "Option::is_none")]
    burned_in: Option<String>,
}

/// Changed elements by who changed them.
#[derive(Serialize, Default, Clone, Copy)]
struct ChangedCounts {
    profile: usize,
    hand: usize,
}

impl ChangedCounts {
    fn of(c: &FileChanges) -> ChangedCounts {
        let (profile, hand) = c.counts();
        ChangedCounts { profile, hand }
    }

    fn add(self, o: ChangedCounts) -> ChangedCounts {
        ChangedCounts {
            profile: self.profile + o.profile,
            hand: self.hand + o.hand,
        }
    }
}

fn text(obj: &DefaultDicomObject, tag: dicom_core::Tag) -> String {
    dcmask_engine::value::text(obj, tag).unwrap_or_default()
}

fn summary(s: &Session, f: &FileState) -> FileSummary {
    let (id, staged) = (f.id.as_str(), &*f.staged.object);
    let changed = &f.changes;
    let info = serde_json::to_value(render::info(staged)).unwrap_or_default();
    let num = |k: &str| info[k].as_u64().unwrap_or(0) as u32;
    let or = |v: String, d: &str| if v.is_empty() { d.to_string() } else { v };
    let patient = or(text(staged, tags::PATIENT_NAME), "");
    let patient = if patient.is_empty() {
        or(text(staged, tags::PATIENT_ID), "(no patient)")
    } else {
        patient
    };
    let study_desc = text(staged, tags::STUDY_DESCRIPTION);
    let study = [
        text(staged, tags::STUDY_DATE),
        study_desc,
        text(staged, tags::STUDY_INSTANCE_UID),
    ]
    .into_iter()
    .filter(|s| !s.is_empty())
    .collect::<Vec<_>>()
    .join(" · ");
    let modality = text(staged, tags::MODALITY);
    let series = [
        text(staged, tags::SERIES_NUMBER).trim().to_string(),
        modality.clone(),
        text(staged, tags::SERIES_DESCRIPTION),
    ]
    .into_iter()
    .filter(|s| !s.is_empty())
    .collect::<Vec<_>>()
    .join(" · ");
    let class_uid = text(staged, tags::SOP_CLASS_UID);
    let sop_class = StandardSopClassDictionary
        .by_uid(&class_uid)
        .map(|e| e.name.to_string())
        .unwrap_or(class_uid);
    FileSummary {
        id: id.to_string(),
        name: s.name(id),
        patient,
        study: or(study, "(no study)"),
        series: or(format!("Series {series}"), "(no series)"),
        modality,
        sop_class,
        rows: num("rows"),
        columns: num("columns"),
        frames: num("frames"),
        has_image: info["has_image"].as_bool().unwrap_or(false),
        modified: changed.list.len(),
        modified_by: ChangedCounts::of(changed),
        burned_in: f.staged.record.as_ref().and_then(|r| r.burned_in.clone()),
    }
}

fn state_json(s: &Session) -> Value {
    let snap = s.current();
    let files: Vec<FileSummary> = snap.files.iter().map(|f| summary(s, f)).collect();
    let modified: usize = files.iter().map(|f| f.modified).sum();
    let modified_by = files
        .iter()
        .fold(ChangedCounts::default(), |a, f| a.add(f.modified_by));
    let label = |i: usize| s.history.get(i).map(|h| h.label.clone());
    json!({
        "files": files,
        "modified": modified,
        "modified_by": modified_by,
        "can_undo": s.pos > 0,
        "can_redo": s.pos + 1 < s.history.len(),
        "undo_label": if s.pos > 0 { label(s.pos) } else { None },
        "redo_label": label(s.pos + 1),
        "applied": snap.applied,
    })
}

async fn state(State(app): State<Shared>, Path(sid): Path<String>) -> ApiResult<Json<Value>> {
    let s = session(&app, &sid)?;
    let s = lock(&s);
    Ok(Json(state_json(&s)))
}

/// Opens uploaded files: each part is streamed to the session's folder (never whole in
/// memory), within the limit per file (413) and the storage of all sessions (503), then
/// its header is read there. Answers only what changed: the new files and those
/// refused; nothing else of the session's state moves.
async fn upload(
    State(app): State<Shared>,
    Path(sid): Path<String>,
    headers: HeaderMap,
    form: Result<Multipart, MultipartRejection>,
) -> ApiResult<Json<Value>> {
    let s = session(&app, &sid)?;
    let dir = lock(&s).dir.clone();
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let mut form = form.map_err(|e| ApiError::bad(format!("upload: {}", e.body_text())))?;
    // A body that cannot fit is refused before anything is written.
    if declared.is_some_and(|n| app.store.used().saturating_add(n) > app.store.limit()) {
        drain_form(&mut form, DRAIN).await;
        return Err(ApiError::storage_full());
    }
    let max = app.limits.max_upload;
    let mut received = Vec::new();
    while let Some(mut field) = form.next_field().await.map_err(body_error)? {
        let name: String = field
            .file_name()
            .unwrap_or("file")
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or("file")
            .chars()
            .take(NAME_SHOWN)
            .collect();
        let mut file = dir.create("u").map_err(ApiError::from_io)?;
        let mut out = tokio::io::BufWriter::with_capacity(
            1 << 20,
            tokio::fs::File::from_std(file.take_file().ok_or_else(ApiError::internal)?),
        );
        let mut refused = None;
        while let Some(chunk) = field.chunk().await.map_err(body_error)? {
            let n = chunk.len() as u64;
            if file.len().saturating_add(n) > max {
                refused = Some(ApiError::too_large(format!(
                    "a file is larger than the limit of {} per file; nothing was opened",
                    limits::human(max)
                )));
                break;
            }
            if file.charge(n).is_err() {
                refused = Some(ApiError::storage_full());
                break;
            }
            out.write_all(&chunk).await.map_err(ApiError::from_io)?;
        }
        if let Some(e) = refused {
            drop((out, file, received));
            let left = drain_field(field, DRAIN).await;
            drain_form(&mut form, left).await;
            return Err(e);
        }
        out.flush().await.map_err(ApiError::from_io)?;
        drop(out);
        received.push((name, file));
    }
    let mut opened = Vec::new();
    let mut rejected = Vec::new();
    for (name, file) in received {
        // At worst the engine reads the file whole to find its header.
        let cost = file.len().saturating_mul(2);
        match app.work.run(cost, move || object::open(file)).await? {
            Ok(o) => opened.push(o),
            Err(Failure::File(e)) => rejected.push(json!({ "name": name, "error": e.to_string() })),
            Err(Failure::Server(e)) => return Err(e),
        }
    }
    let mut held = Vec::new();
    for o in opened {
        let memory = app.work.hold(o.header_bytes.saturating_mul(4)).await?;
        held.push((o.object, memory));
    }
    let mut s = lock(&s);
    let mut files = Vec::new();
    for (object, memory) in held {
        let id = s.add_file(object, memory);
        let state = s.state(&id)?;
        files.push(summary(&s, state));
    }
    tracing::info!(
        opened = files.len(),
        rejected = rejected.len(),
        "files uploaded"
    );
    Ok(Json(json!({ "files": files, "rejected": rejected })))
}

/// What a broken or slow upload body is answered with.
fn body_error(e: MultipartError) -> ApiError {
    if conn::is_slow_body(&e) {
        return ApiError::too_slow("the upload arrived too slowly or stopped");
    }
    ApiError::bad(format!("upload: {}", e.body_text()))
}

/// Reads and drops the rest of a refused upload (up to [`DRAIN`]), so the client is
/// done sending when the refusal reaches it, instead of seeing the connection reset.
/// Returns what is left of `left`.
async fn drain_field(mut field: Field<'_>, mut left: u64) -> u64 {
    while let Ok(Some(c)) = field.chunk().await {
        match left.checked_sub(c.len() as u64) {
            Some(l) => left = l,
            None => return 0,
        }
    }
    left
}

async fn drain_form(form: &mut Multipart, mut left: u64) {
    while left > 0 {
        let Ok(Some(f)) = form.next_field().await else {
            return;
        };
        left = drain_field(f, left).await;
    }
}

/// The most of a refused upload read to the end (beyond, the connection is closed).
const DRAIN: u64 = 4 << 30;

async fn close_file(
    State(app): State<Shared>,
    Path((sid, fid)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let s = session(&app, &sid)?;
    let mut s = lock(&s);
    s.close_file(&fid)?;
    Ok(Json(state_json(&s)))
}

/// The plan as the page sends it: the engine's plan plus the private-tag policy.
#[derive(Deserialize)]
struct ApplyRequest {
    #[serde(flatten)]
    plan: Plan,
    #[serde(default)]
    private: Option<String>,
}

/// Parses a JSON body into `T`, answering a JSON error (not axum's plain-text rejection).
fn body_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad(format!("invalid request: {e}")))
}

fn plan_from(body: &[u8]) -> ApiResult<Plan> {
    let mut value: Value = body_json(body)?;
    // Rules from the page go through the same validation, and messages, as a rule file.
    let rules = value
        .as_object_mut()
        .and_then(|o| o.remove("custom_rules"))
        .unwrap_or(Value::Array(Vec::new()));
    let rules = parse_rules(&rules.to_string()).map_err(|e| ApiError::bad(e.to_string()))?;
    let req: ApplyRequest =
        serde_json::from_value(value).map_err(|e| ApiError::bad(format!("invalid plan: {e}")))?;
    let mut plan = req.plan;
    plan.custom_rules = rules;
    match req.private.as_deref() {
        None | Some("remove") => {}
        Some("safe") => plan.options.push(ProfileOption::RetainSafePrivate),
        Some(other) => {
            return Err(ApiError::bad(format!(
                "unknown private tag policy `{}`",
                other.chars().take(20).collect::<String>()
            )))
        }
    }
    plan.validate().map_err(|e| ApiError::bad(e.to_string()))?;
    Ok(plan)
}

async fn apply(
    State(app): State<Shared>,
    Path(sid): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let plan = plan_from(&body)?;
    let s = session(&app, &sid)?;
    let (sources, cx) = {
        let s = lock(&s);
        let sources: Vec<(FileState, Stored)> = s
            .current()
            .files
            .iter()
            .filter_map(|f| Some((f.clone(), s.file(&f.id).ok()?.original.clone())))
            .collect();
        let cx = pixel::ApplyContext {
            regions: app.regions.clone(),
            detector: app.detector.clone(),
            plan: plan.clone(),
            key: app.key.clone(),
            choices: s.pixel.clone(),
            dir: s.dir.clone(),
            related: dcmask_engine::pooled(
                sources
                    .iter()
                    .map(|(f, _)| -> &dicom_object::InMemDicomObject { &f.source }),
                &plan,
            ),
        };
        (sources, Arc::new(cx))
    };
    let cleans = plan
        .effective_options()
        .contains(&ProfileOption::CleanPixelData);
    // As many files at a time as there are workers, so that one large Apply queues
    // behind other sessions' work instead of ahead of it; each within the budget.
    let mut tasks = tokio::task::JoinSet::new();
    let mut results = Vec::new();
    for (i, (f, original)) in sources.into_iter().enumerate() {
        if tasks.len() >= app.work.workers() {
            if let Some(joined) = tasks.join_next().await {
                results.push(joined.map_err(|_| ApiError::internal())?);
            }
        }
        let (app, cx) = (app.clone(), cx.clone());
        let cost = if cleans { f.source.cost() } else { 0 };
        tasks.spawn(async move {
            let out = app
                .work
                .run(cost, move || {
                    let out = pixel::apply_one(&cx, &f, &original);
                    (f, out)
                })
                .await;
            (i, out)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        results.push(joined.map_err(|_| ApiError::internal())?);
    }
    results.sort_by_key(|(i, _)| *i);
    let mut s = lock(&s);
    let mut files = Vec::new();
    let mut failed = Vec::new();
    let mut burned_in = Vec::new();
    for (_, out) in results {
        match out? {
            (_, Ok(applied)) => {
                let f = applied.file;
                if let Some(why) = applied.burned_in {
                    burned_in.push(json!({ "id": f.id, "name": s.name(&f.id), "reason": why }));
                }
                files.push(f);
            }
            // The file keeps its previous version.
            (f, Err(Failure::File(e))) => {
                failed.push(json!({ "name": s.name(&f.id), "error": e.to_string() }));
                files.push(f);
            }
            (_, Err(Failure::Server(e))) => return Err(e),
        }
    }
    // Files closed meanwhile are not brought back.
    files.retain(|f| s.files.contains_key(&f.id));
    let label = plan.label();
    s.push(Snapshot {
        label: format!("Apply {label}"),
        files,
        applied: Some(plan.profile.id().to_string()),
        plan: Some(Arc::new(plan.clone())),
    });
    evidence::record(&app, &sid, &s, "apply", label);
    let state = state_json(&s);
    tracing::info!(files = s.files.len(), changed = %state["modified"], "profile applied");
    Ok(Json(json!({
        "changed": state["modified"],
        "changed_by": state["modified_by"],
        "burned_in": burned_in,
        "failed": failed,
        "state": state,
    })))
}

async fn undo(State(app): State<Shared>, Path(sid): Path<String>) -> ApiResult<Json<Value>> {
    let s = session(&app, &sid)?;
    let mut s = lock(&s);
    if s.pos == 0 {
        return Err(ApiError::bad("nothing to undo"));
    }
    s.pos -= 1;
    Ok(Json(state_json(&s)))
}

async fn redo(State(app): State<Shared>, Path(sid): Path<String>) -> ApiResult<Json<Value>> {
    let s = session(&app, &sid)?;
    let mut s = lock(&s);
    if s.pos + 1 >= s.history.len() {
        return Err(ApiError::bad("nothing to redo"));
    }
    s.pos += 1;
    Ok(Json(state_json(&s)))
}

async fn file_tree(
    State(app): State<Shared>,
    Path((sid, fid)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let s = session(&app, &sid)?;
    let s = lock(&s);
    let original = s.file(&fid)?.original.clone();
    let f = s.state(&fid)?;
    let staged = f.staged.object.clone();
    let changed = f.changes.clone();
    let mut nodes = tree(Some(&original), Some(&staged), "");
    Node::mark(&mut nodes, &changed);
    // Pixel Data on disk: its size, not its stand-in's.
    if let Some(n) = nodes.iter_mut().find(|n| n.path == "7FE0,0010") {
        if let Some(text) = staged.pixel_text() {
            n.value = text;
        }
        if n.original.is_some() {
            n.original = original.pixel_text().or(n.original.take());
        }
    }
    // The file meta group is shown too, read-only, so users see what Export writes.
    let meta_orig = meta_object(&original);
    let meta_new = meta_object(&staged);
    let mut meta_nodes = tree(Some(&meta_orig), Some(&meta_new), "meta/");
    meta_nodes.append(&mut nodes);
    Ok(Json(json!({
        "nodes": meta_nodes,
        "modified": changed.list.len(),
        "modified_by": ChangedCounts::of(&changed),
    })))
}

fn meta_object(obj: &DefaultDicomObject) -> dicom_object::InMemDicomObject {
    dicom_object::InMemDicomObject::from_element_iter(obj.meta().to_element_iter().filter_map(
        |e| {
            let (header, value) = e.into_parts();
            let p = value.primitive()?.clone();
            Some(dicom_core::DataElement::new(header.tag, header.vr, p))
        },
    ))
}

#[derive(Deserialize)]
struct EditRequest {
    path: String,
    value: String,
    /// The expert's reason, recorded with the decision.
    #[serde(default)]
    note: Option<String>,
}

#[derive(Deserialize)]
struct RemoveRequest {
    path: String,
    #[serde(default)]
    note: Option<String>,
}

async fn edit_element(
    State(app): State<Shared>,
    Path((sid, fid)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let req: EditRequest = body_json(&body)?;
    let s = session(&app, &sid)?;
    let mut s = lock(&s);
    edit_by_hand(&mut s, &fid, &req.path, req.note, |obj| {
        edit::set_value(obj, &req.path, &req.value).map(|()| ManualAction::Edit)
    })?;
    let subject = format!("{} in {}", s.current().label, s.name(&fid));
    evidence::record(&app, &sid, &s, "edit", subject);
    Ok(Json(state_json(&s)))
}

async fn remove_element(
    State(app): State<Shared>,
    Path((sid, fid)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let req: RemoveRequest = body_json(&body)?;
    let s = session(&app, &sid)?;
    let mut s = lock(&s);
    edit_by_hand(&mut s, &fid, &req.path, req.note, |obj| {
        Ok(match edit::remove(obj, &req.path)? {
            true => ManualAction::RemoveItem,
            false => ManualAction::Remove,
        })
    })?;
    let subject = format!("{} in {}", s.current().label, s.name(&fid));
    evidence::record(&app, &sid, &s, "edit", subject);
    Ok(Json(state_json(&s)))
}

/// Makes a change by hand as one undo step, with its decision in the same snapshot.
fn edit_by_hand(
    s: &mut Session,
    fid: &str,
    path: &str,
    note: Option<String>,
    change: impl FnOnce(&mut dicom_object::InMemDicomObject) -> ApiResult<ManualAction>,
) -> ApiResult<()> {
    if path.starts_with("meta/") {
        return Err(ApiError::bad(
            "the file meta group is written by dcmask and cannot be edited",
        ));
    }
    let tag = edit::path_tag(path)?;
    let original = s.file(fid)?.original.clone();
    let mut snap = s.current().clone();
    let applied = snap.applied.is_some();
    let f = snap
        .files
        .iter_mut()
        .find(|f| f.id == fid)
        .ok_or_else(|| ApiError::not_found("file"))?;
    let mut header = f.staged.object.header_clone();
    let action = change(&mut header)?;
    let decision = ManualChange::new(path.to_string(), tag, action, note, super::session::now());
    let object = f.staged.object.with_header(header);
    let mut manual = (*f.staged.manual).clone();
    manual.push(decision);
    let manual = Arc::new(manual);
    // Before any Apply, an edit changes what Apply will start from; after, only the result.
    let (source, source_manual) = match applied {
        false => (object.clone(), manual.clone()),
        true => (f.source.clone(), f.source_manual.clone()),
    };
    let staged = Staged {
        object,
        manual,
        ..f.staged.clone()
    };
    *f = FileState::new(f.id.clone(), &original, source, source_manual, staged);
    snap.label = format!("{} ({})", action_title(action), tag_id(tag));
    s.push(snap);
    Ok(())
}

fn action_title(a: ManualAction) -> &'static str {
    match a {
        ManualAction::Edit => "Edit",
        ManualAction::Remove => "Remove",
        ManualAction::RemoveItem => "Remove item",
        ManualAction::BlankRegion | ManualAction::KeepRegion => "Redact",
    }
}

async fn image_info(
    State(app): State<Shared>,
    Path((sid, fid)): Path<(String, String)>,
) -> ApiResult<Json<render::ImageInfo>> {
    let s = session(&app, &sid)?;
    let obj = lock(&s).staged(&fid)?.object.clone();
    Ok(Json(render::info(&obj)))
}

#[derive(Deserialize)]
struct WindowQuery {
    wc: Option<f64>,
    ww: Option<f64>,
}

async fn frame(
    State(app): State<Shared>,
    Path((sid, fid, frame)): Path<(String, String, String)>,
    Query(q): Query<WindowQuery>,
) -> ApiResult<Response> {
    let n: u32 = frame
        .trim_end_matches(".png")
        .parse()
        .map_err(|_| ApiError::bad("frame must be a number"))?;
    let s = session(&app, &sid)?;
    let obj = lock(&s).staged(&fid)?.object.clone();
    let frames = render::frames(&obj);
    if n >= frames {
        return Err(ApiError::bad(format!("the image has {frames} frame(s)")));
    }
    let window = q.wc.zip(q.ww);
    let png = app
        .work
        .run(obj.cost(), move || {
            render::frame_png(&obj.full()?, n, window)
        })
        .await??;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        png,
    )
        .into_response())
}

/// The determination report of the current files, with the changes counted as
/// everywhere else ([`FileChanges`]).
pub fn report_of(s: &Session) -> Determination {
    let files: Vec<(String, &FileState)> = s
        .current()
        .files
        .iter()
        .map(|f| (s.name(&f.id), f))
        .collect();
    summarize(files.iter().map(|(name, f)| ReportFile {
        name,
        record: f.staged.record.as_deref(),
        manual: &f.staged.manual,
        changed: &f.changes.list,
    }))
}

async fn report_json(
    State(app): State<Shared>,
    Path(sid): Path<String>,
) -> ApiResult<Json<Evidence>> {
    Ok(Json(evidence::evidence(&app, &sid).await?))
}

/// The report page is made by the engine with its style inline and no script: its
/// policy allows that style, and nothing else to load or run.
const REPORT_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

async fn report_html(State(app): State<Shared>, Path(sid): Path<String>) -> ApiResult<Response> {
    let mut res = Html(to_html(&evidence::evidence(&app, &sid).await?)).into_response();
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(REPORT_CSP),
    );
    Ok(res)
}

async fn profiles(State(app): State<Shared>) -> Json<Value> {
    let profiles: Vec<Value> = ProfileId::ALL
        .iter()
        .map(|&id| {
            json!({
                "id": id.id(),
                "label": id.label(),
                "rule_count": rule_list_with(&Plan::builtin(id), &app.regions).len(),
                "description": id.description(),
            })
        })
        .collect();
    let options: Vec<Value> = ProfileOption::ALL
        .iter()
        .filter(|o| **o != ProfileOption::RetainSafePrivate)
        .map(|o| json!({ "id": o.id(), "label": o.label(), "code": o.code().0, "description": o.description() }))
        .collect();
    // `replace` needs its value, `generalize` its `to` (checked against the VR at Apply).
    let actions: Vec<Value> = CustomAction::ALL
        .iter()
        .map(|a| {
            json!({
                "id": a.id(),
                "label": a.id(),
                "needs_value": *a == CustomAction::Replace,
                "needs_to": *a == CustomAction::Generalize,
            })
        })
        .collect();
    Json(json!({
        "profiles": profiles,
        "options": options,
        "private_policies": [
            { "id": "remove", "label": "Remove all private tags" },
            { "id": "safe", "label": "Keep safe private tags (Table E.3.10-1)" },
        ],
        "actions": actions,
    }))
}

#[derive(Deserialize)]
struct LookupQuery {
    q: String,
}

async fn lookup_tag(Query(q): Query<LookupQuery>) -> ApiResult<Json<Value>> {
    let tag = parse_tag(&q.q).map_err(|e| ApiError::bad(e.to_string()))?;
    Ok(Json(json!({
        "id": tag_id(tag),
        "keyword": keyword(tag),
        "name": display_name(tag),
        "vr": dictionary_vr(tag).map(|v| v.to_string()),
    })))
}

async fn parse_rules_text(body: Bytes) -> ApiResult<Json<Value>> {
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad("the profile file is not UTF-8 text"))?;
    let rules = parse_rules(text).map_err(|e| ApiError::bad(e.to_string()))?;
    Ok(Json(json!({ "rules": with_names(&rules) })))
}

/// Rules as the page lists them: the file's fields plus the attribute name.
fn with_names(rules: &[CustomRule]) -> Vec<Value> {
    rules
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap_or_default();
            v["name"] = json!(display_name(r.tag()));
            v
        })
        .collect()
}

#[derive(Deserialize)]
struct SerializeRequest {
    rules: Vec<Value>,
}

async fn serialize_rules(body: Bytes) -> ApiResult<Response> {
    let req: SerializeRequest = body_json(&body)?;
    // Only the file's own fields are kept (the page may add display fields such as `name`).
    let clean: Vec<Value> = req
        .rules
        .into_iter()
        .map(|r| {
            let mut o = serde_json::Map::new();
            for k in ["id", "act", "value", "to", "note"] {
                if let Some(v) = r.get(k).filter(|v| !v.is_null()) {
                    o.insert(k.into(), v.clone());
                }
            }
            Value::Object(o)
        })
        .collect();
    let rules =
        parse_rules(&Value::Array(clean).to_string()).map_err(|e| ApiError::bad(e.to_string()))?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        rules_to_json(&rules),
    )
        .into_response())
}
