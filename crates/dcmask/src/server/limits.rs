//! The server's limits: sizes and times, from flags or defaults derived from the machine
//! (available memory, free disk space where uploads are kept).

use std::path::Path;
use std::time::Duration;

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// Every limit the server enforces (docs/api.md, "Limits").
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest file accepted in an upload (413 above).
    pub max_upload: u64,
    /// Bytes the uploads and the server's own files (cleaned pixels, exports) may take on
    /// disk, across all sessions (503 above).
    pub max_storage: u64,
    /// Memory the server's work may take at once: open files' headers and the files being
    /// decoded, de-identified or exported (work waits for room, 503 after a while).
    pub max_memory: u64,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
    /// Time for a request's headers to arrive, also how long an idle keep-alive
    /// connection is kept.
    pub header_timeout: Duration,
    /// Time a request body may go without a byte.
    pub body_timeout: Duration,
    /// Slowest average a request body may arrive at, once it has taken `RATE_GRACE`.
    pub min_body_rate: u64,
    /// Time a response may wait for the client to read it.
    pub write_timeout: Duration,
    /// Longest a request waits for memory or a worker before a 503.
    pub queue_timeout: Duration,
}

/// How long a slow body may take before its rate counts.
pub const RATE_GRACE: Duration = Duration::from_secs(10);

impl Limits {
    /// The limits from the flags, each missing one derived from the machine: memory is
    /// half the available memory, a file at most a third of that (it may be read whole
    /// and decoded), storage half the free disk space under `dir`.
    pub fn from_flags(f: &LimitFlags, dir: &Path) -> Limits {
        let max_memory = f
            .max_memory
            .unwrap_or_else(|| (available_memory().unwrap_or(4 * GIB) / 2).max(512 * MIB));
        let max_storage = f
            .max_storage
            .unwrap_or_else(|| (free_disk(dir).unwrap_or(8 * GIB) / 2).max(GIB));
        let max_upload = f.max_upload.unwrap_or(max_memory / 3).min(max_storage);
        Limits {
            max_upload,
            max_storage,
            max_memory,
            max_connections: f.max_connections,
            header_timeout: f.header_timeout,
            body_timeout: f.body_timeout,
            min_body_rate: f.min_body_rate,
            write_timeout: f.write_timeout,
            queue_timeout: f.queue_timeout,
        }
    }
}

/// The limit flags of `dcmask serve`.
#[derive(clap::Args, Clone, Debug)]
pub struct LimitFlags {
    /// Largest file accepted (e.g. 800M, 2G) [default: a third of --max-memory]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_upload: Option<u64>,
    /// Disk space for open files across all sessions [default: half the free space]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_storage: Option<u64>,
    /// Memory for the work on files at once [default: half the available memory]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_memory: Option<u64>,
    /// Connections served at once (idle ones are cheap: they time out)
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub max_connections: usize,
    /// Time for a request's headers, and for an idle connection before it is closed
    #[arg(long, value_name = "TIME", value_parser = parse_duration, default_value = "10s")]
    pub header_timeout: Duration,
    /// Time a request body may go without a byte
    #[arg(long, value_name = "TIME", value_parser = parse_duration, default_value = "30s")]
    pub body_timeout: Duration,
    /// Slowest average rate of a request body in bytes per second (after 10 s)
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "16K")]
    pub min_body_rate: u64,
    /// Time a response may wait for the client to read it
    #[arg(long, value_name = "TIME", value_parser = parse_duration, default_value = "60s")]
    pub write_timeout: Duration,
    /// Longest a request waits for memory or a worker before answering 503
    #[arg(long, value_name = "TIME", value_parser = parse_duration, default_value = "5m")]
    pub queue_timeout: Duration,
}

/// `1048576`, `512K`, `800M`, `2G`, `1T` (binary multiples; `KiB`, `MB`... accepted too).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(digits);
    let n: u64 = n.parse().map_err(|_| format!("`{s}` is not a size"))?;
    let unit = unit.trim().to_ascii_uppercase();
    let mult = match unit.trim_end_matches("IB").trim_end_matches('B') {
        "" => 1,
        "K" => 1 << 10,
        "M" => MIB,
        "G" => GIB,
        "T" => 1 << 40,
        _ => return Err(format!("`{s}`: the unit must be K, M, G or T")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{s}` is too large"))
}

/// `30` (seconds), `30s`, `500ms`, `2m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(digits);
    let n: u64 = n.parse().map_err(|_| format!("`{s}` is not a duration"))?;
    match unit.trim() {
        "" | "s" => Ok(Duration::from_secs(n)),
        "ms" => Ok(Duration::from_millis(n)),
        "m" | "min" => Ok(Duration::from_secs(n.saturating_mul(60))),
        _ => Err(format!("`{s}`: the unit must be ms, s or m")),
    }
}

/// Raises the soft limit of open files to what `connections` need (within the hard
/// limit), so connections are refused by the cap, not by running out of descriptors.
pub fn raise_open_files(connections: usize) {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let want = connections as u64 + 256;
    let mut l = getrlimit(Resource::Nofile);
    if l.current.is_some_and(|c| c < want) {
        l.current = Some(l.maximum.map_or(want, |m| m.min(want)));
        if let Err(e) = setrlimit(Resource::Nofile, l) {
            tracing::warn!("cannot raise the limit of open files: {e}");
        }
    }
}

/// MemAvailable of /proc/meminfo (Linux).
fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Bytes an unprivileged user may still write on the file system holding `dir`.
fn free_disk(dir: &Path) -> Option<u64> {
    let st = rustix::fs::statvfs(dir).ok()?;
    st.f_bavail.checked_mul(st.f_frsize)
}

/// A size as people read it: `512 MiB`, `1.5 GiB`.
pub fn human(bytes: u64) -> String {
    match bytes {
        b if b >= GIB => format!("{:.1} GiB", b as f64 / GIB as f64),
        b if b >= MIB => format!("{} MiB", b / MIB),
        b if b >= 1024 => format!("{} KiB", b / 1024),
        b => format!("{b} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("1048576"), Ok(MIB));
        assert_eq!(parse_size("512K"), Ok(512 * 1024));
        assert_eq!(parse_size("2G"), Ok(2 * GIB));
        assert_eq!(parse_size("3 MiB"), Ok(3 * MIB));
        assert_eq!(parse_size("3mb"), Ok(3 * MIB));
        assert!(parse_size("2X").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("99999999999T").is_err());
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("1h").is_err());
        assert_eq!(human(3 * MIB / 2), "1 MiB");
        assert_eq!(human(3 * GIB / 2), "1.5 GiB");
    }
}
