//! Progress on stderr: an indicatif bar on a terminal, a plain line every 2 s otherwise,
//! nothing with `--quiet`. It shows counts, sizes and rates only, never a path.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub struct Counters {
    pub files: AtomicU64,
    pub bytes: AtomicU64,
    pub files_total: u64,
    pub bytes_total: u64,
}

pub struct Progress {
    counters: Arc<Counters>,
    bar: Option<ProgressBar>,
    ticker: Option<(Sender<()>, JoinHandle<()>)>,
}

impl Progress {
    pub fn start(files_total: u64, bytes_total: u64, quiet: bool) -> Progress {
        let counters = Arc::new(Counters {
            files: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            files_total,
            bytes_total,
        });
        if quiet {
            return Progress {
                counters,
                bar: None,
                ticker: None,
            };
        }
        if std::io::stderr().is_terminal() {
            let bar =
                ProgressBar::with_draw_target(Some(bytes_total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {wide_bar} {msg} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta}",
                )
                .expect("valid template"),
            );
            bar.set_message(format!("0/{files_total} files"));
            return Progress {
                counters,
                bar: Some(bar),
                ticker: None,
            };
        }
        let (tx, rx) = channel();
        let c = counters.clone();
        let started = Instant::now();
        let handle = std::thread::spawn(move || loop {
            match rx.recv_timeout(Duration::from_secs(2)) {
                Err(RecvTimeoutError::Timeout) => eprintln!("dcmask: {}", line(&c, started)),
                _ => return,
            }
        });
        Progress {
            counters,
            bar: None,
            ticker: Some((tx, handle)),
        }
    }

    /// One file finished (processed, skipped, failed or resumed) with `bytes` of input.
    pub fn file_done(&self, bytes: u64) {
        let files = self.counters.files.fetch_add(1, Ordering::Relaxed) + 1;
        self.counters.bytes.fetch_add(bytes, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
            bar.set_message(format!("{files}/{} files", self.counters.files_total));
        }
    }

    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
        if let Some((tx, handle)) = self.ticker {
            drop(tx);
            let _ = handle.join();
        }
    }
}

fn line(c: &Counters, started: Instant) -> String {
    let files = c.files.load(Ordering::Relaxed);
    let bytes = c.bytes.load(Ordering::Relaxed);
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    let rate = bytes as f64 / secs;
    let eta = if rate > 0.0 {
        format!(
            "{:.0} s",
            (c.bytes_total.saturating_sub(bytes)) as f64 / rate
        )
    } else {
        "?".into()
    };
    format!(
        "{files}/{} files, {:.1}/{:.1} MB, {:.1} MB/s, {:.0} files/s, ETA {eta}",
        c.files_total,
        mb(bytes),
        mb(c.bytes_total),
        mb(rate as u64),
        files as f64 / secs,
    )
}

pub fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1_000_000.0
}
