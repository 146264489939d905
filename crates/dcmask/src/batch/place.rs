//! Where a folder is, by file-system identity: whether one folder is inside another.
//!
//! Strings cannot answer that: a symbolic link or a bind mount gives one folder two paths.
//! A [`Place`] holds the device and inode of a path's deepest existing folder and of each
//! of its ancestors (after resolving links), plus the part of the path that does not exist
//! yet: a bind-mounted folder has the identity of its source, so it is recognised whatever
//! path reaches it.

use anyhow::{Context, Result};
use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

pub struct Place {
    /// (device, inode) of the deepest existing folder, then of each of its ancestors.
    chain: Vec<(u64, u64)>,
    /// The components below it that do not exist (yet), `..` resolved.
    tail: Vec<OsString>,
}

impl Place {
    pub fn of(p: &Path) -> Result<Place> {
        let abs = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir()
                .context("cannot read the current folder")?
                .join(p)
        };
        let comps: Vec<Component> = abs.components().collect();
        // The longest prefix that exists (following links, as the kernel will).
        let n = (1..=comps.len())
            .rev()
            .find(|&n| comps[..n].iter().collect::<PathBuf>().metadata().is_ok())
            .unwrap_or(1);
        let existing: PathBuf = comps[..n].iter().collect();
        let mut base = existing
            .canonicalize()
            .with_context(|| format!("cannot resolve {}", existing.display()))?;
        let mut tail: Vec<OsString> = Vec::new();
        for c in &comps[n..] {
            match c {
                // Above the missing part: up from the existing folder.
                Component::ParentDir if tail.is_empty() => {
                    base.pop();
                }
                Component::ParentDir => {
                    tail.pop();
                }
                Component::Normal(s) => tail.push(s.to_os_string()),
                _ => {}
            }
        }
        let chain = base
            .ancestors()
            .map(|a| {
                a.metadata()
                    .map(|m| (m.dev(), m.ino()))
                    .with_context(|| format!("cannot read {}", a.display()))
            })
            .collect::<Result<_>>()?;
        Ok(Place { chain, tail })
    }

    /// Whether this path is `other` or inside it.
    pub fn within(&self, other: &Place) -> bool {
        if other.tail.is_empty() {
            // `other` exists: it is this path's folder or one of its ancestors.
            self.chain.contains(&other.chain[0])
        } else {
            // Neither exists below the same deepest existing folder: compare what is left.
            self.chain[0] == other.chain[0] && self.tail.starts_with(&other.tail)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_and_missing_folders() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir_all(root.join("out/sub")).unwrap();
        std::os::unix::fs::symlink(root.join("out"), root.join("alias")).unwrap();
        let at = |p: &str| Place::of(&root.join(p)).unwrap();
        assert!(at("out/sub").within(&at("out")));
        assert!(at("out").within(&at("out")));
        assert!(!at("out").within(&at("out/sub")));
        // Through the link, existing or not yet.
        assert!(at("alias/sub").within(&at("out")));
        assert!(at("alias/new/deeper").within(&at("out")));
        assert!(at("out/new").within(&at("alias")));
        // Neither exists.
        assert!(at("later/a/b").within(&at("later/a")));
        assert!(!at("later/ab").within(&at("later/a")));
        assert!(at("later/x/../a/b").within(&at("later/a")));
        // Siblings.
        assert!(!at("out.linkage").within(&at("out")));
        assert!(!at("out").within(&at("out.linkage")));
    }
}
