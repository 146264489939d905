//! Sessions: the files a user opened, the staged results, and the undo history.
//!
//! History is a list of snapshots; each Apply or edit pushes one. A snapshot holds
//! `source` (the files as opened, plus edits made before any Apply) and `staged`
//! (what Export would write). Apply always starts again from `source`, so applying
//! another profile replaces the previous result instead of compounding it. Decisions
//! made by hand live in the snapshot beside the change they made, so undo takes both.
//!
//! Objects are [`Stored`]: headers in memory, pixel data in the session's folder on
//! disk, shared by the snapshots that did not change it. The folder goes with the
//! session.

use super::diff::FileChanges;
use super::disk::{Dir, Store};
use super::object::Stored;
use super::work::Held;
use super::{ApiError, Shared};
use dcmask_engine::report::Release;
use dcmask_engine::ManualChange;
use dcmask_engine::{Mappings, Plan, Record};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The time of a decision made by hand: local time with its offset, to the second.
pub fn now() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// Sessions idle this long are dropped with their files.
const IDLE: Duration = Duration::from_secs(30 * 60);
/// Undo steps kept; older ones are forgotten (each holds its own headers).
const MAX_HISTORY: usize = 100;
/// Sessions open at once.
const MAX_SESSIONS: usize = 256;

/// A lock that outlives a panic of its holder: every change to a session is made on a
/// copy and put in place at the end, so what a panic leaves is consistent.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One de-identified (or edited) version of a file.
#[derive(Clone)]
pub struct Staged {
    pub object: Stored,
    /// The engine's record of the last Apply that produced this version.
    pub record: Option<Arc<Record>>,
    pub mappings: Arc<Mappings>,
    /// What that Apply wrote, before any later edit: tells the profile's changes from
    /// the hand's.
    pub applied: Option<Stored>,
    /// The decisions made by hand that are in `object`.
    pub manual: Arc<Vec<ManualChange>>,
}

/// One open file at one point of the history.
#[derive(Clone)]
pub struct FileState {
    pub id: String,
    /// What Apply starts from: the file as opened plus edits made before any Apply.
    pub source: Stored,
    /// The decisions made by hand that are in `source`.
    pub source_manual: Arc<Vec<ManualChange>>,
    pub staged: Staged,
    /// The elements changed from the file as opened, counted once when this state is
    /// made (every answer that lists files reads it).
    pub changes: Arc<FileChanges>,
}

impl FileState {
    pub fn new(
        id: String,
        original: &Stored,
        source: Stored,
        source_manual: Arc<Vec<ManualChange>>,
        staged: Staged,
    ) -> FileState {
        let changes = Arc::new(FileChanges::of(original, &source, &staged));
        FileState {
            id,
            source,
            source_manual,
            staged,
            changes,
        }
    }
}

/// The state of every open file at one point of the history.
#[derive(Clone, Default)]
pub struct Snapshot {
    pub label: String,
    /// Files in opening order.
    pub files: Vec<FileState>,
    /// The profile of the Apply in effect, if any.
    pub applied: Option<String>,
    /// The plan of that Apply: its configuration digest is in the report and the audit trail.
    pub plan: Option<Arc<Plan>>,
}

pub struct OpenFile {
    pub name: String,
    /// Exactly as opened; never changed.
    pub original: Stored,
    /// The memory its headers take, given back when it is closed.
    _memory: Held,
}

pub struct Session {
    /// Open files by id.
    pub files: HashMap<String, OpenFile>,
    pub history: Vec<Snapshot>,
    /// Index of the current snapshot in `history`.
    pub pos: usize,
    pub next_id: usize,
    pub last_used: Instant,
    /// Redaction choices per file (manual boxes, boxes switched off); not undo steps.
    pub pixel: super::pixel::Choices,
    /// Where its files are on disk.
    pub dir: Arc<Dir>,
    /// What the expert says of the release, for the report; not an undo step.
    pub release: Release,
    /// How the Risk view and the report measure the risk; not an undo step.
    pub risk: super::risk::Settings,
}

impl Session {
    fn new(dir: Arc<Dir>) -> Session {
        Session {
            files: HashMap::new(),
            history: vec![Snapshot {
                label: "Open".into(),
                ..Snapshot::default()
            }],
            pos: 0,
            next_id: 1,
            last_used: Instant::now(),
            pixel: Default::default(),
            dir,
            release: Release::default(),
            risk: Default::default(),
        }
    }

    pub fn current(&self) -> &Snapshot {
        &self.history[self.pos]
    }

    /// Pushes a new snapshot, dropping any redo branch and the oldest steps beyond
    /// [`MAX_HISTORY`].
    pub fn push(&mut self, snapshot: Snapshot) {
        self.history.truncate(self.pos + 1);
        self.history.push(snapshot);
        let over = self.history.len().saturating_sub(MAX_HISTORY);
        self.history.drain(..over);
        self.pos = self.history.len() - 1;
    }

    /// Opening or closing files is not an undoable step: it rewrites every snapshot.
    /// Returns the new file's id.
    pub fn add_file(&mut self, object: Stored, memory: Held) -> String {
        let id = format!("f{}", self.next_id);
        let name = format!("file-{}.dcm", self.next_id);
        self.next_id += 1;
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
            changes: Arc::new(FileChanges::none()),
        };
        for snap in &mut self.history {
            snap.files.push(file.clone());
        }
        self.files.insert(
            id.clone(),
            OpenFile {
                name,
                original: object,
                _memory: memory,
            },
        );
        id
    }

    pub fn close_file(&mut self, id: &str) -> Result<(), ApiError> {
        if self.files.remove(id).is_none() {
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
            .get(id)
            .ok_or_else(|| ApiError::not_found("file"))
    }

    /// A file's display name ("file-N.dcm"; uploaded names can carry PHI).
    pub fn name(&self, id: &str) -> String {
        self.files
            .get(id)
            .map(|f| f.name.clone())
            .unwrap_or_default()
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
    pub fn create(&self, store: &Arc<Store>) -> Result<String, ApiError> {
        let mut map = lock(&self.0);
        if map.len() >= MAX_SESSIONS {
            return Err(ApiError::busy(format!(
                "{MAX_SESSIONS} sessions are open: close one (or let idle ones expire)"
            )));
        }
        let dir = store.session_dir().map_err(ApiError::from_io)?;
        let mut raw = [0u8; 12];
        getrandom::fill(&mut raw).map_err(|_| ApiError::internal())?;
        let id: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        map.insert(id.clone(), Arc::new(Mutex::new(Session::new(dir))));
        Ok(id)
    }

    pub fn get(&self, id: &str) -> Result<Arc<Mutex<Session>>, ApiError> {
        let s = lock(&self.0)
            .get(id)
            .cloned()
            .ok_or_else(|| ApiError::not_found("session"))?;
        lock(&s).last_used = Instant::now();
        Ok(s)
    }

    pub fn remove(&self, id: &str) -> Option<Arc<Mutex<Session>>> {
        lock(&self.0).remove(id)
    }
}

/// Drops sessions idle for longer than `IDLE`, with their files.
pub async fn reap_idle(app: Shared) {
    loop {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let idle: Vec<Arc<Mutex<Session>>> = {
            let mut map = lock(&app.sessions.0);
            let ids: Vec<String> = map
                .iter()
                .filter(|(_, s)| lock(s).last_used.elapsed() >= IDLE)
                .map(|(id, _)| id.clone())
                .collect();
            ids.iter().filter_map(|id| map.remove(id)).collect()
        };
        // Dropped off the async threads: deleting their files takes a while.
        tokio::task::spawn_blocking(move || drop(idle));
    }
}
