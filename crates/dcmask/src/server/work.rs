//! Work on files (parsing, de-identifying, decoding, exporting) off the async threads,
//! within the memory budget and a few workers, with panics kept inside the request.
//!
//! Memory is counted in MiB permits of one semaphore: work takes what its file may cost
//! while it runs; an open file's header takes its share as long as the file is open.
//! Work that finds no room waits, up to the queue timeout, then answers 503.

use super::limits::Limits;
use super::ApiError;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

const MIB: u64 = 1 << 20;

pub struct Work {
    memory: Arc<Semaphore>,
    total: u32,
    workers: Arc<Semaphore>,
    count: usize,
    queue_timeout: Duration,
}

/// Memory held for as long as this lives.
pub struct Held {
    _permit: OwnedSemaphorePermit,
}

impl Work {
    pub fn new(limits: &Limits) -> Work {
        let total = (limits.max_memory / MIB).clamp(1, u64::from(u32::MAX >> 4)) as u32;
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        Work {
            memory: Arc::new(Semaphore::new(total as usize)),
            total,
            workers: Arc::new(Semaphore::new(workers)),
            count: workers,
            queue_timeout: limits.queue_timeout,
        }
    }

    /// How many pieces of work run at once.
    pub fn workers(&self) -> usize {
        self.count
    }

    /// Permits for `bytes`: at least one, at most all (the largest work runs alone).
    fn permits(&self, bytes: u64) -> u32 {
        bytes.div_ceil(MIB).clamp(1, u64::from(self.total)) as u32
    }

    /// Runs `f` on a blocking thread once `bytes` of memory and a worker are free. A
    /// panic in `f` is caught here and answered 500 without its message (which might
    /// quote a value); the server and other sessions go on.
    pub async fn run<T, F>(&self, bytes: u64, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let wait = |what| ApiError::busy(format!("the server is busy ({what}): try again"));
        let memory = tokio::time::timeout(
            self.queue_timeout,
            self.memory.clone().acquire_many_owned(self.permits(bytes)),
        )
        .await
        .map_err(|_| wait("no memory free for this file"))?
        .map_err(|_| ApiError::internal())?;
        let worker = tokio::time::timeout(self.queue_timeout, self.workers.clone().acquire_owned())
            .await
            .map_err(|_| wait("every worker is taken"))?
            .map_err(|_| ApiError::internal())?;
        let joined = tokio::task::spawn_blocking(move || {
            let _held = (memory, worker);
            std::panic::catch_unwind(AssertUnwindSafe(f))
        })
        .await;
        match joined {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) | Err(_) => {
                tracing::error!(
                    "work on a file failed inside the server (a panic); the request answered 500"
                );
                Err(ApiError::internal())
            }
        }
    }

    /// Holds `bytes` of memory until the returned value is dropped (an open file's
    /// header), waiting for room like [`Work::run`].
    pub async fn hold(&self, bytes: u64) -> Result<Held, ApiError> {
        tokio::time::timeout(
            self.queue_timeout,
            self.memory.clone().acquire_many_owned(self.permits(bytes)),
        )
        .await
        .map_err(|_| {
            ApiError::busy("the server's memory for open files is full: close files or sessions")
        })?
        .map(|p| Held { _permit: p })
        .map_err(|_| ApiError::internal())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(memory: u64) -> Limits {
        let flags = <super::super::limits::LimitFlags as clap::FromArgMatches>::from_arg_matches(
            &<super::super::limits::LimitFlags as clap::Args>::augment_args(clap::Command::new(
                "t",
            ))
            .get_matches_from([
                "t",
                "--max-memory",
                &memory.to_string(),
                "--queue-timeout",
                "200ms",
            ]),
        )
        .unwrap();
        Limits::from_flags(&flags, std::path::Path::new("/"))
    }

    #[tokio::test]
    async fn a_panic_is_a_500_and_memory_comes_back() {
        let work = Work::new(&limits(4 * MIB));
        let r: Result<(), ApiError> = work.run(4 * MIB, || panic!("Doe^Jane")).await;
        let e = r.unwrap_err();
        assert_eq!(e.0.as_u16(), 500);
        assert!(!e.1.contains("Doe"));
        // The permits of the panicked work are back: all memory can be held again.
        let held = work.hold(4 * MIB).await.unwrap();
        // Nothing left: more work waits, then gives up with a 503.
        let busy = work.run(MIB, || ()).await.unwrap_err();
        assert_eq!(busy.0.as_u16(), 503);
        assert_eq!(work.hold(MIB).await.err().map(|e| e.0.as_u16()), Some(503));
        drop(held);
        assert_eq!(work.run(MIB, || 7).await.unwrap(), 7);
    }
}
