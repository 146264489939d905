//! The JSON API of the workbench (docs/api.md). Handlers are thin: they find the
//! session, call the engine, and shape its answers for the page.

use super::diff::{tree, FileChanges, Node};
use super::session::{FileState, Session, Snapshot, Staged};
use super::{edit, pixel, render, ApiError, Shared};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use dcmask_engine::options::ProfileOption;
use dcmask_engine::record::{mapping_csv, ManualAction, ManualChange};
use dcmask_engine::report::{summarize, to_html, Changed, Determination, ReportFile};
use dcmask_engine::tag::{dictionary_vr, display_name, keyword, parse_tag, tag_id};
use dcmask_engine::{
    io, parse_rules, rule_list_with, rules_to_json, CustomAction, CustomRule, Mappings, Plan,
    ProfileId,
};
use dicom_core::dictionary::UidDictionary;
use dicom_dictionary_std::{tags, StandardSopClassDictionary};
use dicom_object::DefaultDicomObject;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

type ApiResult<T> = Result<T, ApiError>;

/// Largest upload accepted in one request.
const UPLOAD_LIMIT: usize = 1 << 30;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/sessions", post(create_session))
        .route("/api/sessions/{sid}", delete(close_session))
        .route("/api/sessions/{sid}/state", get(state))
        .route(
            "/api/sessions/{sid}/files",
            post(upload).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
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
        .route("/api/sessions/{sid}/files/{fid}/export", get(export_file))
        .route("/api/sessions/{sid}/export.zip", get(export_zip))
        .route("/api/sessions/{sid}/linkage.zip", get(linkage_zip))
        .route("/api/sessions/{sid}/report.json", get(report_json))
        .route("/api/sessions/{sid}/report.html", get(report_html))
        .route("/api/profiles", get(profiles))
        .route("/api/tags/lookup", get(lookup_tag))
        .route("/api/rules/parse", post(parse_rules_text))
        .route("/api/rules/serialize", post(serialize_rules))
        .merge(pixel::routes())
}

fn session(app: &Shared, sid: &str) -> ApiResult<Arc<Mutex<Session>>> {
    app.sessions.get(sid)
}

async fn create_session(State(app): State<Shared>) -> Json<Value> {
    Json(json!({ "id": app.sessions.create() }))
}

async fn close_session(
    State(app): State<Shared>,
    Path(sid): Path<String>,
) -> ApiResult<Json<Value>> {
    if app.sessions.remove(&sid) {
        Ok(Json(json!({ "closed": true })))
    } else {
        Err(ApiError::not_found("session"))
    }
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
    obj.get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_end_matches(['\0', ' ']).to_string())
        .unwrap_or_default()
}

fn changes(s: &Session, f: &FileState) -> FileChanges {
    let file = s.file(&f.id).expect("file of the snapshot is open");
    FileChanges::of(&file.original, f)
}

fn summary(s: &Session, f: &FileState) -> FileSummary {
    let (id, staged) = (f.id.as_str(), &*f.staged.object);
    let file = s.file(id).expect("file of the snapshot is open");
    let changed = changes(s, f);
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
        name: file.name.clone(),
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
        modified_by: ChangedCounts::of(&changed),
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
    let s = s.lock().expect("session lock");
    Ok(Json(state_json(&s)))
}

async fn upload(
    State(app): State<Shared>,
    Path(sid): Path<String>,
    mut form: Multipart,
) -> ApiResult<Json<Value>> {
    let s = session(&app, &sid)?;
    let mut rejected = Vec::new();
    let mut opened = Vec::new();
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| ApiError::bad(format!("upload: {e}")))?
    {
        let name = field
            .file_name()
            .unwrap_or("file")
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or("file")
            .to_string();
        let bytes = field
            .bytes()
            .await
            .map_err(|e| ApiError::bad(format!("upload: {e}")))?;
        let parsed = tokio::task::spawn_blocking(move || io::read_object(&bytes))
            .await
            .map_err(|_| ApiError::bad("upload: reading failed"))?;
        match parsed {
            Ok(obj) => opened.push(obj),
            Err(e) => rejected.push(json!({ "name": name, "error": e.to_string() })),
        }
    }
    let mut s = s.lock().expect("session lock");
    for obj in opened {
        let name = format!("file-{}.dcm", s.next_id);
        s.add_file(name, obj);
    }
    tracing::info!(
        opened = s.files.len(),
        rejected = rejected.len(),
        "files uploaded"
    );
    Ok(Json(
        json!({ "state": state_json(&s), "rejected": rejected }),
    ))
}

async fn close_file(
    State(app): State<Shared>,
    Path((sid, fid)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let s = session(&app, &sid)?;
    let mut s = s.lock().expect("session lock");
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
    let sources: Vec<FileState> = s.lock().expect("session lock").current().files.clone();
    let key = app.key.clone();
    let plan2 = plan.clone();
    let choices = s.lock().expect("session lock").pixel.clone();
    let detector = app.detector.clone();
    let regions = app.regions.clone();
    let results = tokio::task::spawn_blocking(move || {
        // Each patient's identifying values over the session, for the leak guard.
        let pool = dcmask_engine::guard::pooled(sources.iter().map(|f| &**f.source), &plan2);
        sources
            .into_par_iter()
            .map(|f| {
                let (d, c, id) = (detector.as_ref(), &choices, &f.id);
                let related =
                    dcmask_engine::guard::patient_of(&f.source).and_then(|p| pool.get(&p));
                let out = pixel::deidentify_file(
                    &regions,
                    d,
                    c,
                    id,
                    (*f.source).clone(),
                    &plan2,
                    &key,
                    related,
                );
                let drawn = out
                    .as_ref()
                    .map(|o| pixel::decisions_applied(c.get(id), &plan2, &o.record))
                    .unwrap_or_default();
                (f, out, drawn)
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|_| ApiError::bad("apply failed"))?;
    let mut s = s.lock().expect("session lock");
    let mut files = Vec::new();
    let mut failed = Vec::new();
    let mut burned_in = Vec::new();
    for (mut f, out, drawn) in results {
        let name = s.file(&f.id).map(|f| f.name.clone()).unwrap_or_default();
        match out {
            Ok(o) => {
                if let Some(why) = &o.record.burned_in {
                    burned_in.push(json!({ "id": f.id, "name": name, "reason": why }));
                }
                let object = Arc::new(o.object);
                let mut manual = (*f.source_manual).clone();
                manual.extend(drawn);
                f.staged = Staged {
                    object: object.clone(),
                    record: Some(Arc::new(o.record)),
                    mappings: Arc::new(o.mappings),
                    applied: Some(object),
                    manual: Arc::new(manual),
                };
            }
            // The file keeps its previous version.
            Err(e) => failed.push(json!({ "name": name, "error": e.to_string() })),
        }
        files.push(f);
    }
    let label = plan.label();
    s.push(Snapshot {
        label: format!("Apply {label}"),
        files,
        applied: Some(plan.profile.id().to_string()),
    });
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
    let mut s = s.lock().expect("session lock");
    if s.pos == 0 {
        return Err(ApiError::bad("nothing to undo"));
    }
    s.pos -= 1;
    Ok(Json(state_json(&s)))
}

async fn redo(State(app): State<Shared>, Path(sid): Path<String>) -> ApiResult<Json<Value>> {
    let s = session(&app, &sid)?;
    let mut s = s.lock().expect("session lock");
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
    let s = s.lock().expect("session lock");
    let original = s.file(&fid)?.original.clone();
    let f = s.state(&fid)?;
    let staged = f.staged.object.clone();
    let changed = changes(&s, f);
    let mut nodes = tree(Some(&original), Some(&staged), "");
    Node::mark(&mut nodes, &changed);
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
    let mut s = s.lock().expect("session lock");
    edit_by_hand(&mut s, &fid, &req.path, req.note, |obj| {
        edit::set_value(obj, &req.path, &req.value).map(|()| ManualAction::Edit)
    })?;
    Ok(Json(state_json(&s)))
}

async fn remove_element(
    State(app): State<Shared>,
    Path((sid, fid)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let req: RemoveRequest = body_json(&body)?;
    let s = session(&app, &sid)?;
    let mut s = s.lock().expect("session lock");
    edit_by_hand(&mut s, &fid, &req.path, req.note, |obj| {
        Ok(match edit::remove(obj, &req.path)? {
            true => ManualAction::RemoveItem,
            false => ManualAction::Remove,
        })
    })?;
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
    let mut snap = s.current().clone();
    let applied = snap.applied.is_some();
    let f = snap
        .files
        .iter_mut()
        .find(|f| f.id == fid)
        .ok_or_else(|| ApiError::not_found("file"))?;
    let mut object = (*f.staged.object).clone();
    let action = change(&mut object)?;
    let decision = ManualChange::new(path.to_string(), tag, action, note, super::session::now());
    let object = Arc::new(object);
    let mut manual = (*f.staged.manual).clone();
    manual.push(decision);
    let manual = Arc::new(manual);
    // Before any Apply, an edit changes what Apply will start from; after, only the result.
    if !applied {
        f.source = object.clone();
        f.source_manual = manual.clone();
    }
    f.staged = Staged {
        object,
        manual,
        ..f.staged.clone()
    };
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
    let obj = s.lock().expect("session lock").staged(&fid)?.object.clone();
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
    let obj = s.lock().expect("session lock").staged(&fid)?.object.clone();
    let window = q.wc.zip(q.ww);
    let png = tokio::task::spawn_blocking(move || render::frame_png(&obj, n, window))
        .await
        .map_err(|_| ApiError::bad("rendering failed"))??;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        png,
    )
        .into_response())
}

fn download(bytes: Vec<u8>, mime: &'static str, filename: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        bytes,
    )
        .into_response()
}

async fn export_file(
    State(app): State<Shared>,
    Path((sid, fid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let s = session(&app, &sid)?;
    let (obj, name) = {
        let s = s.lock().expect("session lock");
        (s.staged(&fid)?.object.clone(), s.file(&fid)?.name.clone())
    };
    let bytes = tokio::task::spawn_blocking(move || io::to_bytes(&obj))
        .await
        .map_err(|_| ApiError::bad("export failed"))??;
    Ok(download(bytes, "application/dicom", &name))
}

/// A zip of named entries, in memory.
fn zip_of(entries: impl IntoIterator<Item = ApiResult<(String, Vec<u8>)>>) -> ApiResult<Vec<u8>> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    let err = |e: zip::result::ZipError| ApiError::bad(format!("zip: {e}"));
    for entry in entries {
        let (name, bytes) = entry?;
        zip.start_file(name, opts).map_err(err)?;
        zip.write_all(&bytes)
            .map_err(|e| ApiError::bad(e.to_string()))?;
    }
    Ok(zip.finish().map_err(err)?.into_inner())
}

/// The de-identified files and the determination report: what is safe to share. The
/// linkage (original identifiers) is never in it: see [`linkage_zip`].
async fn export_zip(State(app): State<Shared>, Path(sid): Path<String>) -> ApiResult<Response> {
    let s = session(&app, &sid)?;
    let (files, report): (Vec<(String, Staged)>, Determination) = {
        let s = s.lock().expect("session lock");
        let files = s
            .current()
            .files
            .iter()
            .map(|f| {
                let name = s.file(&f.id).map(|o| o.name.clone()).unwrap_or_default();
                (name, f.staged.clone())
            })
            .collect();
        (files, report_of(&s))
    };
    let bytes = tokio::task::spawn_blocking(move || {
        let json = serde_json::to_vec_pretty(&report).map_err(|e| ApiError::bad(e.to_string()));
        let dicom = files
            .into_iter()
            .map(|(name, st)| Ok((name, io::to_bytes(&st.object)?)));
        zip_of(dicom.chain([
            json.map(|j| ("report.json".to_string(), j)),
            Ok(("report.html".to_string(), to_html(&report).into_bytes())),
        ]))
    })
    .await
    .map_err(|_| ApiError::bad("export failed"))??;
    Ok(download(bytes, "application/zip", "dcmask-export.zip"))
}

const LINKAGE_README: &str = "\
dcmask linkage: CONTAINS ORIGINAL IDENTIFIERS

This archive pairs the original identifiers of the files de-identified in one dcmask
workbench session with the identifiers that replaced them:

  uid_mapping.csv    original UID -> replacement UID          (id_old,id_new)
  patid_mapping.csv  original Patient ID -> replacement ID    (id_old,id_new)

Anyone who holds it together with the de-identified data can re-identify the patients.
Keep it apart from the data: do not send it with the de-identified files, store it
where only the people entitled to re-identify can read it, and delete it when it is no
longer needed.
";

/// The identifier mappings of the current files: the re-identification key, a download
/// of its own so it never travels with the data.
async fn linkage_zip(State(app): State<Shared>, Path(sid): Path<String>) -> ApiResult<Response> {
    let s = session(&app, &sid)?;
    let mut maps = Mappings::default();
    {
        let s = s.lock().expect("session lock");
        if s.current().files.iter().all(|f| f.staged.record.is_none()) {
            return Err(ApiError::bad(
                "nothing has been applied yet: there are no identifiers to link",
            ));
        }
        for f in &s.current().files {
            maps.merge((*f.staged.mappings).clone());
        }
    }
    let bytes = zip_of([
        Ok(("README.txt".to_string(), LINKAGE_README.as_bytes().to_vec())),
        Ok(("uid_mapping.csv".to_string(), mapping_csv(&maps.uids))),
        Ok((
            "patid_mapping.csv".to_string(),
            mapping_csv(&maps.patient_ids),
        )),
    ])?;
    tracing::info!("linkage downloaded");
    Ok(download(bytes, "application/zip", "dcmask-linkage.zip"))
}

/// The determination report of the current files, with the changes counted as
/// everywhere else ([`FileChanges`]).
fn report_of(s: &Session) -> Determination {
    let files: Vec<(String, &FileState, Vec<Changed>)> = s
        .current()
        .files
        .iter()
        .map(|f| {
            let name = s.file(&f.id).map(|o| o.name.clone()).unwrap_or_default();
            (name, f, changes(s, f).list)
        })
        .collect();
    summarize(files.iter().map(|(name, f, changed)| ReportFile {
        name,
        record: f.staged.record.as_deref(),
        manual: &f.staged.manual,
        changed,
    }))
}

fn determination(app: &Shared, sid: &str) -> ApiResult<Determination> {
    let s = session(app, sid)?;
    let s = s.lock().expect("session lock");
    let files = &s.current().files;
    if files
        .iter()
        .all(|f| f.staged.record.is_none() && f.staged.manual.is_empty())
    {
        return Err(ApiError::bad(
            "nothing has been applied or edited yet: choose a profile and Apply first",
        ));
    }
    Ok(report_of(&s))
}

async fn report_json(
    State(app): State<Shared>,
    Path(sid): Path<String>,
) -> ApiResult<Json<Determination>> {
    Ok(Json(determination(&app, &sid)?))
}

async fn report_html(
    State(app): State<Shared>,
    Path(sid): Path<String>,
) -> ApiResult<Html<String>> {
    Ok(Html(to_html(&determination(&app, &sid)?)))
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
    // `generalize` needs its `to`, which the page has no field for yet: such rules come
    // from a rule file (loaded, applied and saved with their `to`).
    let actions: Vec<Value> = CustomAction::ALL
        .iter()
        .filter(|a| **a != CustomAction::Generalize)
        .map(|a| json!({ "id": a.id(), "label": a.id(), "needs_value": *a == CustomAction::Replace }))
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
