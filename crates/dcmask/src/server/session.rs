//! Sessions: the files a user opened, the staged results, and the undo history.
//!
//! History is a list of snapshots; each Apply or edit pushes one. A snapshot holds
//! `source` (the files as opened, plus edits made before any Apply) and `staged`
//! (what Export would write). Apply always starts again from `source`, so applying
//! another profile replaces the previous result instead of compounding it. Decisions
//! made by hand live in the snapshot beside the change they made, so undo takes both.

use super::{ApiError, Shared};
use dcmask_engine::record::ManualChange;
use dcmask_engine::{Mappings, Record};
use dicom_object::DefaultDicomObject;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The time of a decision made by hand: local time with its offset, to the second.
pub fn now() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// Sessions idle this long are dropped with their files.
const IDLE: Duration = Duration::from_secs(30 * 60);

/// One de-identified (or edited) version of a file.
#[derive(Clone)]
pub struct Staged {
    pub object: Arc<DefaultDicomObject>,
    /// The engine's record of the last Apply that produced this version.
    pub record: Option<Arc<Record>>,
    pub mappings: Arc<Mappings>,
    /// What that Apply wrote, before any later edit: tells the profile's changes from
    /// the hand's.
    pub applied: Option<Arc<DefaultDicomObject>>,
    /// The decisions made by hand that are in `object`.
    pub manual: Arc<Vec<ManualChange>>,
}

/// One open file at one point of the history.
#[derive(Clone)]
pub struct FileState {
    pub id: String,
    /// What Apply starts from: the file as opened plus edits made before any Apply.
    pub source: Arc<DefaultDicomObject>,
    /// The decisions made by hand that are in `source`.
    pub source_manual: Arc<Vec<ManualChange>>,
    pub staged: Staged,
}

/// The state of every open file at one point of the history.
#[derive(Clone, Default)]
pub struct Snapshot {
    pub label: String,
    /// Files in opening order.
    pub files: Vec<FileState>,
    /// The profile of the Apply in effect, if any.
    pub applied: Option<String>,
}

pub struct OpenFile {
    pub id: String,
    pub name: String,
    /// Exactly as opened; never changed.
    pub original: Arc<DefaultDicomObject>,
}

pub struct Session {
    pub files: Vec<OpenFile>,
    pub history: Vec<Snapshot>,
    /// Index of the current snapshot in `history`.
    pub pos: usize,
    pub next_id: usize,
    pub last_used: Instant,
    /// Redaction choices per file (manual boxes, boxes switched off); not undo steps.
    pub pixel: super::pixel::Choices,
}

impl Session {
    fn new() -> Session {
        Session {
            files: Vec::new(),
            history: vec![Snapshot {
                label: "Open".into(),
                ..Snapshot::default()
            }],
            pos: 0,
            next_id: 1,
            last_used: Instant::now(),
            pixel: Default::default(),
        }
    }

    pub fn current(&self) -> &Snapshot {
        &self.history[self.pos]
    }

    /// Pushes a new snapshot, dropping any redo branch.
    pub fn push(&mut self, snapshot: Snapshot) {
        self.history.truncate(self.pos + 1);
        self.history.push(snapshot);
        self.pos += 1;
    }

    /// Opening or closing files is not an undoable step: it rewrites every snapshot.
    pub fn add_file(&mut self, name: String, object: DefaultDicomObject) -> String {
        let id = format!("f{}", self.next_id);
        self.next_id += 1;
        let object = Arc::new(object);
        let file = FileState {
            id: id.clone(),
            source: object.clone(),
            source_manual: Arc::default(),
            staged: Staged {
                object: object.clone(),
                record: None,
                mappings: Arc::default(),
                applied: None,
                manual: Arc::default(),
            },
        };
        for snap in &mut self.history {
            snap.files.push(file.clone());
        }
        self.files.push(OpenFile {
            id: id.clone(),
            name,
            original: object,
        });
        id
    }

    pub fn close_file(&mut self, id: &str) -> Result<(), ApiError> {
        let before = self.files.len();
        self.files.retain(|f| f.id != id);
        if self.files.len() == before {
            return Err(ApiError::not_found("file"));
        }
        for snap in &mut self.history {
            snap.files.retain(|f| f.id != id);
        }
        self.pixel.remove(id);
        Ok(())
    }

    pub fn file(&self, id: &str) -> Result<&OpenFile, ApiError> {
        self.files
            .iter()
            .find(|f| f.id == id)
            .ok_or_else(|| ApiError::not_found("file"))
    }

    /// A file in the current snapshot.
    pub fn state(&self, id: &str) -> Result<&FileState, ApiError> {
        self.current()
            .files
            .iter()
            .find(|f| f.id == id)
            .ok_or_else(|| ApiError::not_found("file"))
    }

    /// The current staged version of a file.
    pub fn staged(&self, id: &str) -> Result<&Staged, ApiError> {
        self.state(id).map(|f| &f.staged)
    }
}

#[derive(Default)]
pub struct Sessions(Mutex<HashMap<String, Arc<Mutex<Session>>>>);

impl Sessions {
    pub fn create(&self) -> String {
        let mut raw = [0u8; 12];
        getrandom::fill(&mut raw).expect("system randomness");
        let id: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        self.0
            .lock()
            .expect("sessions lock")
            .insert(id.clone(), Arc::new(Mutex::new(Session::new())));
        id
    }

    pub fn get(&self, id: &str) -> Result<Arc<Mutex<Session>>, ApiError> {
        let s = self
            .0
            .lock()
            .expect("sessions lock")
            .get(id)
            .cloned()
            .ok_or_else(|| ApiError::not_found("session"))?;
        s.lock().expect("session lock").last_used = Instant::now();
        Ok(s)
    }

    pub fn remove(&self, id: &str) -> bool {
        self.0.lock().expect("sessions lock").remove(id).is_some()
    }
}

/// Drops sessions idle for longer than `IDLE`, with their files.
pub async fn reap_idle(app: Shared) {
    loop {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let mut map = app.sessions.0.lock().expect("sessions lock");
        map.retain(|_, s| {
            s.lock()
                .map(|s| s.last_used.elapsed() < IDLE)
                .unwrap_or(false)
        });
    }
}
