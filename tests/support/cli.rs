//! A temporary folder to run the `dcmask` binary in, with a data directory of its own
//! (its key never touches the user's), for the test crates that drive the CLI. Included
//! by path from each test crate.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// `p` inside the sandbox.
    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// Runs `dcmask ARGS` (its own data directory, no debug log).
    pub fn dcmask(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_dcmask"))
            .env("DCMASK_DATA_DIR", self.path("data"))
            .env_remove("DCMASK_LOG")
            .args(args)
            .output()
            .unwrap()
    }

    /// Writes `bytes` to `rel` inside the sandbox, making its folders.
    pub fn write(&self, rel: &str, bytes: impl AsRef<[u8]>) {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    /// `dcmask anonymize in -o out --quiet --key-file key.hex EXTRA` in the sandbox.
    pub fn anonymize(&self, extra: &[&str]) -> Output {
        let (input, out, key) = (self.path("in"), self.path("out"), self.path("key.hex"));
        let mut args = vec![
            "anonymize",
            input.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--quiet",
            "--key-file",
            key.to_str().unwrap(),
        ];
        args.extend(extra);
        self.dcmask(&args)
    }

    /// [`Sandbox::dcmask`], which must exit 0 (its stderr shown when it does not).
    pub fn ok(&self, args: &[&str]) -> Output {
        let r = self.dcmask(args);
        assert_eq!(
            r.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&r.stderr)
        );
        r
    }
}
