//! The server's private folder on disk: uploads and the files the server writes (pixels
//! cleaned by an Apply, exports being sent) live there, never in memory whole.
//!
//! One folder per server run (mode 0700, in the temporary directory), one inside it per
//! session; a session's folder goes with the session, the run's folder on shutdown, and
//! folders of runs that died (no process holds their lock) on the next start. File
//! names are counters, never anything the user sent. Every byte written is charged to the one
//! storage limit across sessions and released when the file is deleted.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const PREFIX: &str = "dcmask-serve-";
/// Locked by the running server for as long as it runs (released by the kernel
/// however it ends).
const LOCK: &str = ".lock";

/// The run's folder and the storage account.
pub struct Store {
    root: PathBuf,
    used: AtomicU64,
    limit: u64,
    next: AtomicU64,
    _lock: File,
}

/// Writing more would pass the storage limit.
#[derive(Debug)]
pub struct Full;

impl Store {
    /// Creates the run's folder under `parent`, after removing those of dead runs.
    pub fn create(parent: &Path, limit: u64) -> io::Result<Arc<Store>> {
        remove_stale(parent);
        let mut raw = [0u8; 6];
        getrandom::fill(&mut raw).map_err(io::Error::other)?;
        let tag: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        let root = parent.join(format!("{PREFIX}{}-{tag}", std::process::id()));
        private_dir(&root)?;
        let lock = private_file(&root.join(LOCK))?;
        lock.try_lock().map_err(io::Error::other)?;
        Ok(Arc::new(Store {
            root,
            used: AtomicU64::new(0),
            limit,
            next: AtomicU64::new(1),
            _lock: lock,
        }))
    }

    #[cfg(test)]
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    fn next(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// A new, empty folder for one session.
    pub fn session_dir(self: &Arc<Self>) -> io::Result<Arc<Dir>> {
        let path = self.root.join(format!("s{}", self.next()));
        private_dir(&path)?;
        Ok(Arc::new(Dir {
            path,
            store: self.clone(),
        }))
    }

    /// An empty charge, grown as bytes are written.
    pub fn charge(self: &Arc<Self>) -> Charge {
        Charge {
            store: self.clone(),
            bytes: 0,
        }
    }

    /// Removes the run's folder (on shutdown: sessions still open are dropped with it).
    pub fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.remove();
    }
}

/// Bytes on disk charged to the store, released on drop.
pub struct Charge {
    store: Arc<Store>,
    bytes: u64,
}

impl Charge {
    /// Charges `n` more bytes, unless that passes the limit.
    pub fn grow(&mut self, n: u64) -> Result<(), Full> {
        let limit = self.store.limit;
        self.store
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                u.checked_add(n).filter(|&t| t <= limit)
            })
            .map_err(|_| Full)?;
        self.bytes += n;
        Ok(())
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.store.used.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// A session's folder; removed with everything in it when the session and all work on
/// its files are gone.
pub struct Dir {
    path: PathBuf,
    store: Arc<Store>,
}

impl Dir {
    /// A new file only we can read, named `{kind}{counter}`.
    pub fn create(self: &Arc<Self>, kind: &str) -> io::Result<DiskFile> {
        let path = self.path.join(format!("{kind}{}", self.store.next()));
        let file = private_file(&path)?;
        Ok(DiskFile {
            file: Some(file),
            path,
            charge: self.store.charge(),
            refused: false,
            dir: self.clone(),
        })
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A file in a session's folder, charged for what was written to it through
/// [`DiskFile::writer`]; deleted on drop.
pub struct DiskFile {
    file: Option<File>,
    path: PathBuf,
    charge: Charge,
    /// A write was refused by the storage limit.
    refused: bool,
    dir: Arc<Dir>,
}

impl DiskFile {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes written (and charged).
    pub fn len(&self) -> u64 {
        self.charge.bytes()
    }

    /// Charges `n` bytes about to be written by someone else (an async writer).
    pub fn charge(&mut self, n: u64) -> Result<(), Full> {
        self.charge.grow(n)
    }

    /// The open file, to hand to an async writer (tokio takes it by value).
    pub fn take_file(&mut self) -> Option<File> {
        self.file.take()
    }

    /// A writer that charges every byte before it is written; passing the limit is an
    /// error of kind `StorageFull`.
    pub fn writer(&mut self) -> io::Result<ChargedWriter<'_>> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("file already handed out"))?;
        let pos = file.stream_position()?;
        Ok(ChargedWriter {
            file,
            pos,
            charge: &mut self.charge,
            refused: &mut self.refused,
        })
    }

    /// Whether a write through [`DiskFile::writer`] passed the storage limit.
    pub fn refused(&self) -> bool {
        self.refused
    }

    /// Opens the file for reading and deletes its name: the data lives until the reader
    /// is dropped, and nothing is left on disk if the server dies meanwhile. The charge
    /// goes with the reader.
    pub fn into_reader(mut self) -> io::Result<(File, Charge)> {
        let file = File::open(&self.path)?;
        let _ = std::fs::remove_file(&self.path);
        self.file = None;
        let charge = std::mem::replace(&mut self.charge, self.dir.store.charge());
        Ok((file, charge))
    }
}

impl Drop for DiskFile {
    fn drop(&mut self) {
        self.file = None;
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Charges the bytes that make the file longer (a zip writer seeks back to fill in
/// headers: rewriting is free).
pub struct ChargedWriter<'a> {
    file: &'a mut File,
    pos: u64,
    charge: &'a mut Charge,
    refused: &'a mut bool,
}

impl Write for ChargedWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let end = self.pos + buf.len() as u64;
        let more = end.saturating_sub(self.charge.bytes());
        if self.charge.grow(more).is_err() {
            *self.refused = true;
            return Err(io::ErrorKind::StorageFull.into());
        }
        self.file.write_all(buf)?;
        self.pos = end;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Seek for ChargedWriter<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.pos = self.file.seek(to)?;
        Ok(self.pos)
    }
}

/// A new file only we can read and write.
fn private_file(path: &Path) -> io::Result<File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true).write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(path)
}

fn private_dir(path: &Path) -> io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(path)
}

/// Removes the folders of earlier runs that ended without removing them (killed,
/// crashed): they may hold patient files. A folder whose lock no process holds is such
/// a run's; folders of other users cannot be opened and are left alone.
fn remove_stale(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        if !e
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(PREFIX))
        {
            continue;
        }
        let Ok(lock) = File::open(e.path().join(LOCK)) else {
            continue;
        };
        if lock.try_lock().is_ok() {
            drop(lock);
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_stay_within_the_limit_and_files_go_with_their_owner() {
        let tmp = tempfile::tempdir().unwrap();
        // A dead run's folder (its lock free) is removed; a live one's is kept.
        let live = Store::create(tmp.path(), 10).unwrap();
        let dead = tmp.path().join(format!("{PREFIX}4294967294-abc"));
        std::fs::create_dir(&dead).unwrap();
        std::fs::write(dead.join(LOCK), b"").unwrap();
        std::fs::write(dead.join("u1"), b"patient file").unwrap();
        let store = Store::create(tmp.path(), 10).unwrap();
        assert!(!dead.exists());
        assert!(live.root().exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(store.root())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        let dir = store.session_dir().unwrap();
        let mut f = dir.create("u").unwrap();
        f.writer().unwrap().write_all(b"12345678").unwrap();
        assert_eq!(store.used(), 8);
        let err = f.writer().unwrap().write_all(b"123").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        assert!(f.refused());
        // Rewriting what is there is not charged again.
        let mut w = f.writer().unwrap();
        w.seek(SeekFrom::Start(2)).unwrap();
        w.write_all(b"ab").unwrap();
        assert_eq!(store.used(), 8);
        assert_eq!(store.used(), 8);
        let path = f.path().to_path_buf();
        let (reader, charge) = f.into_reader().unwrap();
        assert!(!path.exists(), "the name goes as soon as it is read");
        drop(reader);
        assert_eq!(store.used(), 8);
        drop(charge);
        assert_eq!(store.used(), 0);
        let session = dir.path.clone();
        drop(dir);
        assert!(!session.exists());
        let root = store.root().to_path_buf();
        drop(store);
        assert!(!root.exists());
    }
}
