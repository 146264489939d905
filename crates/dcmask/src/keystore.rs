//! Finding the de-identification key: `--key-file`, or one created on first use in the data dir.

use anyhow::{Context, Result};
use dcmask_engine::Key;
use std::io::Write;
use std::path::Path;

/// Loads the key file, or the default key (creating it, readable only by the user).
pub fn load_key(key_file: Option<&Path>) -> Result<Key> {
    if let Some(path) = key_file {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read key file {}", path.display()))?;
        return Key::from_file_contents(&bytes).context("invalid key file");
    }
    let dir = crate::data_dir();
    let path = dir.join("key");
    match std::fs::read(&path) {
        Ok(bytes) => Key::from_file_contents(&bytes).context("invalid default key file"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let key = Key::generate()?;
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            match opts.open(&path) {
                Ok(mut f) => {
                    f.write_all(key.to_file_contents().as_bytes())?;
                    tracing::info!(fingerprint = %key.fingerprint(), "created a new key in {}", path.display());
                    Ok(key)
                }
                // Another process created it first: use theirs so pseudonyms agree.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    Key::from_file_contents(&std::fs::read(&path)?)
                        .context("invalid default key file")
                }
                Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
            }
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}
