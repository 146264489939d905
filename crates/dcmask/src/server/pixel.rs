//! Redaction boxes in the workbench: what Clean Pixel Data would blank in each file
//! (region rules, OCR words, rectangles drawn by the user), the user's choices per file
//! (manual boxes, boxes switched off), and a probe of stored pixel values.
//!
//! Choices live in the session, per file, and apply to every later Apply with Clean
//! Pixel Data (+Pixel, or the option clean_pixel_data). They are not undo steps; the
//! decisions they stand for (a drawn box blanked, a proposed box switched off) are
//! recorded by the Apply that carries them out, and undone with it.

use super::disk::Dir;
use super::object::{Failure, Stored};
use super::session::{lock, FileState, Session, Staged};
use super::{ApiError, Shared};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::Json;
use dcmask_engine::pixel::{propose, PixelTools, Proposal, RegionRules, TextDetector, TextMode};
use dcmask_engine::{deidentify_with_related, Action, Key, Plan, Record};
use dcmask_engine::{patient_of, Identifying};
use dcmask_engine::{ManualAction, ManualChange, PixelBox};
use dicom_dictionary_std::tags;
use dicom_object::DefaultDicomObject;
use dicom_pixeldata::PixelDecoder;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

type ApiResult<T> = Result<T, ApiError>;

/// The routes of this module, merged into [`super::api::routes`].
pub fn routes() -> axum::Router<Shared> {
    use axum::routing::{get, post};
    const FILE: &str = "/api/sessions/{sid}/files/{fid}";
    axum::Router::new()
        .route(&format!("{FILE}/boxes"), get(get_boxes).put(put_boxes))
        .route(
            &format!("{FILE}/boxes/copy-to-series"),
            post(copy_to_series),
        )
        .route(&format!("{FILE}/pixels"), get(pixels))
}

/// Boxes drawn on one file, at most (each is blanked on every frame).
const MAX_BOXES: usize = 256;

/// The user's choices for one file.
#[derive(Clone, Default, Debug)]
pub struct FileBoxes {
    pub manual: Vec<PixelBox>,
    /// Ids of proposed boxes (`rule-0`, `ocr-2`, `manual-1`) switched off.
    pub disabled: Vec<String>,
    /// The decisions these choices stand for, each with when it was first made.
    pub decisions: Vec<ManualChange>,
}

impl FileBoxes {
    /// Brings the decisions in line with the choices: one for each drawn box that is on
    /// and each proposed box switched off; those already made keep their time and reason.
    fn decide(&mut self, proposal: &Proposal, now: &str, note: Option<&str>) {
        let drawn = self
            .manual
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.disabled.contains(&format!("manual-{i}")))
            .map(|(_, b)| (ManualAction::BlankRegion, b.clone()));
        let kept = proposal
            .boxes
            .iter()
            .filter(|b| !b.id.starts_with("manual-") && self.disabled.contains(&b.id))
            .map(|b| (ManualAction::KeepRegion, b.bbox.clone()));
        let wanted: Vec<_> = drawn.chain(kept).collect();
        let old = std::mem::take(&mut self.decisions);
        self.decisions = wanted
            .into_iter()
            .map(|(action, region)| {
                old.iter()
                    .find(|d| d.action == action && d.region.as_ref() == Some(&region))
                    .cloned()
                    .unwrap_or_else(|| region_decision(action, region, now, note))
            })
            .collect();
    }
}

fn region_decision(
    action: ManualAction,
    region: PixelBox,
    now: &str,
    note: Option<&str>,
) -> ManualChange {
    ManualChange {
        region: Some(region),
        ..ManualChange::new(
            "7FE0,0010".into(),
            tags::PIXEL_DATA,
            action,
            note.map(str::to_string),
            now.to_string(),
        )
    }
}

/// The decisions of a file's choices that an Apply carried out: the drawn boxes it
/// blanked, and the proposed boxes switched off when it cleaned pixels at all.
pub fn decisions_applied(
    fb: Option<&FileBoxes>,
    plan: &Plan,
    record: &Record,
) -> Vec<ManualChange> {
    let cleans = plan
        .effective_options()
        .contains(&dcmask_engine::ProfileOption::CleanPixelData);
    let Some(fb) = fb.filter(|_| cleans) else {
        return Vec::new();
    };
    fb.decisions
        .iter()
        .filter(|d| match (d.action, &d.region) {
            (ManualAction::BlankRegion, Some(r)) => record.pixel_boxes.contains(r),
            (ManualAction::KeepRegion, _) => true,
            _ => false,
        })
        .cloned()
        .collect()
}

/// Choices of every file of a session, by file id.
pub type Choices = HashMap<String, FileBoxes>;

/// What an Apply needs besides the file.
pub struct ApplyContext {
    pub regions: Arc<RegionRules>,
    pub detector: Option<Arc<dyn TextDetector>>,
    pub plan: Plan,
    pub key: Key,
    pub choices: Choices,
    pub dir: Arc<Dir>,
    /// Each patient's identifying values over the session's files (by original Patient
    /// ID): the leak guard of every file looks for those of its patient's other files.
    pub related: std::collections::HashMap<String, Identifying>,
}

/// A file after an Apply, and what the Apply recorded.
pub struct Applied {
    pub file: FileState,
    pub burned_in: Option<String>,
}

/// De-identifies one file with the session's detector and the file's choices, starting
/// from its source. A plan that cleans pixels works on the whole object (read back from
/// disk); any other on the header alone, its Pixel Data stand-in kept, so the pixels
/// stay in their file.
pub fn apply_one(cx: &ApplyContext, f: &FileState, original: &Stored) -> Result<Applied, Failure> {
    let fb = cx.choices.get(&f.id).cloned().unwrap_or_default();
    let related = patient_of(&f.source).and_then(|p| cx.related.get(&p));
    let tools = PixelTools {
        regions: &cx.regions,
        detector: cx.detector.as_deref(),
        manual_boxes: &fb.manual,
        disabled_boxes: &fb.disabled,
    };
    let cleans = cx
        .plan
        .effective_options()
        .contains(&dcmask_engine::ProfileOption::CleanPixelData);
    let outcome = if cleans && f.source.pixels_on_disk() {
        let full = f.source.full()?;
        let mut out = deidentify_with_related(full, &cx.plan, &cx.key, &tools, related)
            .map_err(Failure::File)?;
        // Nothing blanked: the pixels are the source's (the engine does not decode
        // them then), so they stay in the source's file.
        let untouched = out.record.pixel_boxes.is_empty()
            && out
                .record
                .entries
                .iter()
                .filter(|e| e.path == "7FE0,0010")
                .all(|e| e.action == Action::Keep)
            && out.object.meta().transfer_syntax() == f.source.meta().transfer_syntax();
        if untouched && out.object.get(tags::PIXEL_DATA).is_some() {
            if let Some(stand_in) = f.source.pixel_element() {
                out.object.put(stand_in);
            }
        }
        out
    } else {
        deidentify_with_related(f.source.header_clone(), &cx.plan, &cx.key, &tools, related)
            .map_err(Failure::File)?
    };
    let drawn = decisions_applied(Some(&fb), &cx.plan, &outcome.record);
    let object = Stored::keep(outcome.object, &f.source, &cx.dir)?;
    let mut manual = (*f.source_manual).clone();
    manual.extend(drawn);
    let burned_in = outcome.record.burned_in.clone();
    let staged = Staged {
        object: object.clone(),
        record: Some(Arc::new(outcome.record)),
        mappings: Arc::new(outcome.mappings),
        applied: Some(object),
        manual: Arc::new(manual),
    };
    let file = FileState::new(
        f.id.clone(),
        original,
        f.source.clone(),
        f.source_manual.clone(),
        staged,
    );
    Ok(Applied { file, burned_in })
}

#[derive(Deserialize)]
pub struct BoxesQuery {
    /// `text` (default: all text but safe annotations), `identifying` or `all_text`.
    text: Option<String>,
}

fn text_mode(q: &BoxesQuery) -> ApiResult<TextMode> {
    match q.text.as_deref() {
        None | Some("") => Ok(TextMode::Text),
        Some(t) => TextMode::from_id(t)
            .ok_or_else(|| ApiError::bad("text must be `text`, `identifying` or `all_text`")),
    }
}

/// The file as Apply starts from it (opened, plus edits made before any Apply).
fn source(s: &Session, fid: &str) -> ApiResult<Stored> {
    s.state(fid).map(|f| f.source.clone())
}

fn dims(obj: &DefaultDicomObject) -> (u32, u32) {
    let d = |t| obj.get(t).and_then(|e| e.to_int::<u32>().ok()).unwrap_or(0);
    (d(tags::COLUMNS), d(tags::ROWS))
}

async fn proposal_json(app: &Shared, sid: &str, fid: &str, mode: TextMode) -> ApiResult<Value> {
    Ok(as_json(app, &propose_for(app, sid, fid, mode).await?, mode))
}

fn as_json(app: &Shared, proposal: &Proposal, mode: TextMode) -> Value {
    json!({
        "boxes": proposal.boxes,
        "warnings": proposal.warnings,
        "ocr_frames": proposal.ocr_frames,
        "detector": app.detector.is_some(),
        "text": mode.id(),
    })
}

async fn propose_for(app: &Shared, sid: &str, fid: &str, mode: TextMode) -> ApiResult<Proposal> {
    let s = app.sessions.get(sid)?;
    let (obj, fb) = {
        let s = lock(&s);
        (
            source(&s, fid)?,
            s.pixel.get(fid).cloned().unwrap_or_default(),
        )
    };
    let detector = app.detector.clone();
    let regions = app.regions.clone();
    // Only text detection looks at the pixels; region rules read the header.
    let cost = if detector.is_some() { obj.cost() } else { 0 };
    app.work
        .run(cost, move || -> ApiResult<Proposal> {
            let tools = PixelTools {
                regions: &regions,
                detector: detector.as_deref(),
                manual_boxes: &fb.manual,
                disabled_boxes: &fb.disabled,
            };
            let full;
            let obj: &DefaultDicomObject = match tools.detector {
                Some(_) => {
                    full = obj.full()?;
                    &full
                }
                None => &obj,
            };
            Ok(propose(obj, &tools, mode))
        })
        .await?
}

pub async fn get_boxes(
    State(app): State<Shared>,
    Path((sid, fid)): Path<(String, String)>,
    Query(q): Query<BoxesQuery>,
) -> ApiResult<Json<Value>> {
    let mode = text_mode(&q)?;
    Ok(Json(proposal_json(&app, &sid, &fid, mode).await?))
}

#[derive(Deserialize)]
struct Rect {
    x0: u32,
    y0: u32,
    x1: u32,
    y1: u32,
}

#[derive(Deserialize)]
struct PutBoxes {
    /// Replaces the file's manual boxes when given.
    manual: Option<Vec<Rect>>,
    /// Replaces the ids switched off when given.
    disabled: Option<Vec<String>>,
    /// The expert's reason, kept with the decisions this request makes.
    note: Option<String>,
}

pub async fn put_boxes(
    State(app): State<Shared>,
    Path((sid, fid)): Path<(String, String)>,
    Query(q): Query<BoxesQuery>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let mode = text_mode(&q)?;
    let req: PutBoxes = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad(format!("invalid request: {e}")))?;
    {
        let s = app.sessions.get(&sid)?;
        let mut s = lock(&s);
        let (cols, rows) = dims(&*source(&s, &fid)?);
        let entry = s.pixel.entry(fid.clone()).or_default();
        if let Some(manual) = req.manual {
            if manual.len() > MAX_BOXES {
                return Err(ApiError::bad(format!("at most {MAX_BOXES} boxes per file")));
            }
            let mut boxes = Vec::new();
            for (i, r) in manual.iter().enumerate() {
                let (x1, y1) = (r.x1.min(cols), r.y1.min(rows));
                if r.x0 >= x1 || r.y0 >= y1 {
                    return Err(ApiError::bad(format!(
                        "manual box {i} is empty or outside the {cols}×{rows} image"
                    )));
                }
                boxes.push(PixelBox {
                    x0: r.x0,
                    y0: r.y0,
                    x1,
                    y1,
                    source: "manual".into(),
                });
            }
            entry.manual = boxes;
        }
        if let Some(disabled) = req.disabled {
            if disabled.len() > 4 * MAX_BOXES {
                return Err(ApiError::bad("too many boxes switched off"));
            }
            if let Some(bad) = disabled.iter().find(|d| !valid_id(d)) {
                return Err(ApiError::bad(format!(
                    "unknown box id `{}`",
                    bad.chars().take(20).collect::<String>()
                )));
            }
            entry.disabled = disabled;
        }
    }
    let proposal = propose_for(&app, &sid, &fid, mode).await?;
    {
        let s = app.sessions.get(&sid)?;
        let mut s = lock(&s);
        let now = super::session::now();
        s.pixel
            .entry(fid.clone())
            .or_default()
            .decide(&proposal, &now, req.note.as_deref());
    }
    Ok(Json(as_json(&app, &proposal, mode)))
}

fn valid_id(id: &str) -> bool {
    ["rule-", "ocr-", "manual-"].iter().any(|p| {
        id.strip_prefix(p)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// Copies the file's manual boxes to every other open file of the same series with the
/// same size (replacing their manual boxes).
pub async fn copy_to_series(
    State(app): State<Shared>,
    Path((sid, fid)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let s = app.sessions.get(&sid)?;
    let mut s = lock(&s);
    let series = |o: &DefaultDicomObject| {
        dcmask_engine::value::text(o, tags::SERIES_INSTANCE_UID).unwrap_or_default()
    };
    let src = source(&s, &fid)?;
    let (uid, size) = (series(&src), dims(&src));
    if uid.is_empty() {
        return Err(ApiError::bad("this file has no Series Instance UID"));
    }
    let from = s.pixel.get(&fid).cloned().unwrap_or_default();
    let manual = from.manual.clone();
    let targets: Vec<String> = s
        .current()
        .files
        .iter()
        .filter(|f| f.id != fid && series(&f.source) == uid && dims(&f.source) == size)
        .map(|f| f.id.clone())
        .collect();
    // Copying is a decision made now for each target, for the reasons given here.
    let now = super::session::now();
    let drawn = from
        .decisions
        .iter()
        .filter(|d| d.action == ManualAction::BlankRegion)
        .map(|d| ManualChange {
            time: now.clone(),
            ..d.clone()
        });
    let drawn: Vec<ManualChange> = drawn.collect();
    for t in &targets {
        let fb = s.pixel.entry(t.clone()).or_default();
        fb.manual = manual.clone();
        fb.decisions
            .retain(|d| d.action != ManualAction::BlankRegion);
        fb.decisions.extend(drawn.iter().cloned());
    }
    Ok(Json(json!({ "copied_to": targets, "boxes": manual.len() })))
}

#[derive(Deserialize)]
pub struct PixelQuery {
    x: u32,
    y: u32,
    w: u32,
    h: u32,
    #[serde(default)]
    frame: u32,
}

/// Stored sample values of the staged file in a rectangle: `values` row by row, each
/// pixel's samples in order (one for grey, three for colour).
pub async fn pixels(
    State(app): State<Shared>,
    Path((sid, fid)): Path<(String, String)>,
    Query(q): Query<PixelQuery>,
) -> ApiResult<Json<Value>> {
    if u64::from(q.w) * u64::from(q.h) > 65_536 || q.w == 0 || q.h == 0 {
        return Err(ApiError::bad("the rectangle must hold 1 to 65536 pixels"));
    }
    let s = app.sessions.get(&sid)?;
    let obj = lock(&s).staged(&fid)?.object.clone();
    let (cols, rows) = dims(&obj);
    let inside = |at: u32, len: u32, max: u32| at.checked_add(len).is_some_and(|end| end <= max);
    if !inside(q.x, q.w, cols) || !inside(q.y, q.h, rows) {
        return Err(ApiError::bad(format!(
            "the rectangle is outside the {cols}×{rows} image"
        )));
    }
    let frames = super::render::frames(&obj);
    if q.frame >= frames {
        return Err(ApiError::bad(format!("the image has {frames} frame(s)")));
    }
    let values = app
        .work
        .run(obj.cost(), move || -> ApiResult<Vec<Vec<i64>>> {
            let obj = obj.full()?;
            let decoded = obj
                .decode_pixel_data_frame(q.frame)
                .map_err(|e| ApiError::unprocessable(format!("cannot decode this image: {e}")))?;
            let spp = decoded.samples_per_pixel() as usize;
            let bpp = (decoded.bits_allocated() as usize).div_ceil(8);
            let signed = decoded.pixel_representation() as u16 == 1;
            let planar = spp > 1 && decoded.planar_configuration() as u16 == 1;
            let data = decoded.data();
            let (c, r) = (cols as usize, rows as usize);
            let sample = |x: usize, y: usize, s: usize| -> i64 {
                let idx = if planar {
                    (s * r + y) * c + x
                } else {
                    (y * c + x) * spp + s
                };
                let b = &data[idx * bpp..(idx + 1) * bpp];
                match (bpp, signed) {
                    (1, false) => i64::from(b[0]),
                    (1, true) => i64::from(b[0] as i8),
                    (2, false) => i64::from(u16::from_le_bytes([b[0], b[1]])),
                    (2, true) => i64::from(i16::from_le_bytes([b[0], b[1]])),
                    (_, false) => i64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                    (_, true) => i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                }
            };
            if data.len() < c * r * spp * bpp {
                return Err(ApiError::unprocessable(
                    "the decoded image is shorter than its size",
                ));
            }
            Ok((q.y as usize..(q.y + q.h) as usize)
                .map(|y| {
                    (q.x as usize..(q.x + q.w) as usize)
                        .flat_map(|x| (0..spp).map(move |s| (x, y, s)))
                        .map(|(x, y, s)| sample(x, y, s))
                        .collect()
                })
                .collect())
        })
        .await??;
    Ok(Json(json!({ "values": values })))
}

#[cfg(test)]
mod tests {
    #[test]
    fn box_ids() {
        for ok in ["rule-0", "ocr-12", "manual-3"] {
            assert!(super::valid_id(ok));
        }
        for bad in ["rule-", "ocr-x", "other-1", "manual-1a"] {
            assert!(!super::valid_id(bad));
        }
    }
}
