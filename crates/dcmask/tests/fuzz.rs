//! Fuzzing the binary with hostile inputs ([`hostile::mutants`]: corpus files bit-flipped,
//! cut, given absurd lengths or another transfer syntax; deep nesting; a deflate bomb),
//! through `dcmask anonymize` (Basic and +Pixel) and `dcmask inspect` as child processes.
//! Every run must end by itself with exit code 0, 1 or 2 (never a signal, never a panic),
//! within the memory bound of the README's "Limits", and every file written must read
//! back with dicom-rs and with dcmdump.
//!
//! Seeded: the same inputs on every run. `DCMASK_FUZZ_ROUNDS=N` runs N rounds of fresh
//! random choices (CI runs one).

#[path = "../../../tests/support/corpus.rs"]
mod corpus;
mod hostile;

use dcmask_engine::io;
use std::path::Path;
use std::process::{Command, Stdio};

const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
/// Batch workers: CI's two cores.
const JOBS: u64 = 2;

use corpus::dir as corpus;

/// How a child process ended, and its peak resident memory (from `wait4`).
struct Ended {
    code: Option<i32>,
    signal: Option<i32>,
    rss_kb: u64,
    /// User and system CPU time, seconds.
    cpu: f64,
    stderr: String,
}

// The child is reaped by wait4, which std's Child cannot do while giving the rusage.
#[allow(clippy::zombie_processes)]
fn run(cmd: &mut Command) -> Ended {
    let err = tempfile::NamedTempFile::new().unwrap();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err.reopen().unwrap())
        .spawn()
        .unwrap();
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value, filled in by wait4.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the child is ours and not yet waited for; status and usage outlive the call.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32, "wait4");
    Ended {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        signal: libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status)),
        rss_kb: usage.ru_maxrss as u64,
        cpu: [usage.ru_utime, usage.ru_stime]
            .iter()
            .map(|t| t.tv_sec as f64 + t.tv_usec as f64 / 1e6)
            .sum(),
        stderr: std::fs::read_to_string(err.path()).unwrap_or_default(),
    }
}

/// The README's bound ("Limits"): the program, plus per worker three times the data set
/// it holds and up to 100 times that for the parsed header (a header of tiny elements),
/// plus under +Pixel three times the decoded image (here never above 64 MiB).
fn bound_kb(data_set: u64, pixel: bool, workers: u64) -> u64 {
    let program = if pixel { 160 << 10 } else { 100 << 10 };
    let image = if pixel { 3 * (64 << 10) } else { 0 };
    program + workers * (103 * data_set / 1024 + image)
}

fn dcmdump_reads(path: &Path) -> Result<(), String> {
    let out = Command::new("dcmdump")
        .arg("-q")
        .arg(path)
        .output()
        .map_err(|e| format!("dcmdump: {e}"))?;
    if out.status.success() && !String::from_utf8_lossy(&out.stderr).contains("E: ") {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr)
            .chars()
            .take(300)
            .collect())
    }
}

#[derive(Default)]
struct Tally {
    inputs: usize,
    ok: usize,
    failed: usize,
    skipped: usize,
    inspected: usize,
    max_rss_kb: u64,
    cpu: f64,
    problems: Vec<String>,
}

/// One batch run over every mutant, then the checks of its outputs.
fn anonymize(dir: &Path, mutants: &[hostile::Mutant], pixel: bool, tally: &mut Tally) {
    let profile = if pixel { "pixel" } else { "basic" };
    let out = dir.join(format!("out-{profile}"));
    let ended = run(Command::new(env!("CARGO_BIN_EXE_dcmask"))
        .arg("anonymize")
        .arg(dir.join("in"))
        .arg("-o")
        .arg(&out)
        .args(["--profile", profile, "--key-file"])
        .arg(dir.join("key.hex"))
        .args(["-j", &JOBS.to_string(), "--quiet"])
        .env("DCMASK_DATA_DIR", dir.join("data"))
        .env_remove("DCMASK_LOG"));
    let biggest = mutants
        .iter()
        .map(|m| hostile::data_set_bytes(&m.bytes))
        .max()
        .unwrap_or(0);
    tally.max_rss_kb = tally.max_rss_kb.max(ended.rss_kb);
    tally.cpu += ended.cpu;
    let mut problem = |p: String| tally.problems.push(format!("anonymize {profile}: {p}"));
    if ended.signal.is_some() || !matches!(ended.code, Some(0 | 1)) {
        problem(format!(
            "ended with {:?} / signal {:?}: {}",
            ended.code,
            ended.signal,
            ended.stderr.chars().take(400).collect::<String>()
        ));
        return;
    }
    if ended.stderr.contains("internal error") || ended.stderr.contains("panicked") {
        problem(format!("a panic: {}", ended.stderr));
    }
    let bound = bound_kb(biggest, pixel, JOBS);
    if ended.rss_kb > bound {
        problem(format!(
            "peak RSS {} kB over the bound {bound} kB",
            ended.rss_kb
        ));
    }
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let files = report["files"].as_array().unwrap();
    if files.len() != mutants.len() {
        problem(format!("{} files in the report", files.len()));
    }
    for f in files {
        let input = f["input_ref"].as_u64().unwrap() as usize - 1;
        let what = &mutants.get(input).map(|m| m.what.as_str()).unwrap_or("?");
        match f["status"].as_str().unwrap() {
            "ok" => {
                tally.ok += 1;
                let path = out.join(f["output"].as_str().unwrap());
                let bytes = std::fs::read(&path).unwrap();
                if let Err(e) = io::read_object(&bytes) {
                    problem(format!("{what}: output unreadable by dicom-rs: {e}"));
                }
                if let Err(e) = dcmdump_reads(&path) {
                    problem(format!("{what}: output unreadable by dcmdump: {e}"));
                }
            }
            "failed" => {
                tally.failed += 1;
                let reason = f["reason"].as_str().unwrap_or("");
                if reason.contains("internal error") || reason.len() < 10 {
                    problem(format!("{what}: {reason}"));
                }
            }
            _ => tally.skipped += 1,
        }
    }
}

/// `dcmask inspect` on every `step`-th mutant.
fn inspect(dir: &Path, mutants: &[hostile::Mutant], pixel: bool, step: usize, tally: &mut Tally) {
    let profile = if pixel { "pixel" } else { "basic" };
    for (i, m) in mutants.iter().enumerate().step_by(step) {
        let ended = run(Command::new(env!("CARGO_BIN_EXE_dcmask"))
            .arg("inspect")
            .arg(dir.join("in").join(format!("{i:05}.dcm")))
            .args(["--profile", profile, "--key-file"])
            .arg(dir.join("key.hex"))
            .env("DCMASK_DATA_DIR", dir.join("data"))
            .env_remove("DCMASK_LOG"));
        tally.inspected += 1;
        tally.max_rss_kb = tally.max_rss_kb.max(ended.rss_kb);
        tally.cpu += ended.cpu;
        let bound = bound_kb(hostile::data_set_bytes(&m.bytes), pixel, 1);
        let bad = ended.signal.is_some()
            || !matches!(ended.code, Some(0 | 2))
            || ended.stderr.contains("internal error")
            || ended.stderr.contains("panicked")
            || ended.rss_kb > bound;
        if bad {
            tally.problems.push(format!(
                "inspect {profile} {}: exit {:?}, signal {:?}, peak RSS {} kB (bound {bound}): {}",
                m.what,
                ended.code,
                ended.signal,
                ended.rss_kb,
                ended.stderr.chars().take(300).collect::<String>()
            ));
        }
    }
}

#[test]
fn hostile_inputs_never_crash_stay_bounded_and_write_only_readable_files() {
    let Some(corpus) = corpus() else { return };
    if Command::new("dcmdump").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "dcmdump is missing");
        eprintln!("!!!!! SKIPPED: dcmdump is missing (apt-get install dcmtk) !!!!!");
        return;
    }
    let rounds: u64 = std::env::var("DCMASK_FUZZ_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    let started = std::time::Instant::now();
    let mut tally = Tally::default();
    for round in 0..rounds {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("key.hex"), KEY_HEX).unwrap();
        std::fs::create_dir(dir.path().join("in")).unwrap();
        let mutants = hostile::mutants(&corpus, round);
        for (i, m) in mutants.iter().enumerate() {
            std::fs::write(dir.path().join("in").join(format!("{i:05}.dcm")), &m.bytes).unwrap();
        }
        tally.inputs += mutants.len();
        for pixel in [false, true] {
            anonymize(dir.path(), &mutants, pixel, &mut tally);
            inspect(dir.path(), &mutants, pixel, 3, &mut tally);
        }
    }
    eprintln!(
        "fuzz: {} rounds, {} inputs, anonymized {} ok / {} failed / {} skipped, {} inspected, \
         peak RSS {} MiB, {:.0} s ({:.0} s of CPU in dcmask)",
        rounds,
        tally.inputs,
        tally.ok,
        tally.failed,
        tally.skipped,
        tally.inspected,
        tally.max_rss_kb / 1024,
        started.elapsed().as_secs_f64(),
        tally.cpu
    );
    assert!(
        tally.problems.is_empty(),
        "{} problems:\n{}",
        tally.problems.len(),
        tally.problems.join("\n")
    );
    // Damage must have been refused somewhere, and files written: the test saw both.
    assert!(tally.failed > 0 && tally.ok > 0);
}
