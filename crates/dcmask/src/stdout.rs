//! Standard output that ends quietly when its reader goes away
//! (`dcmask profile show basic | head -1`): Rust ignores SIGPIPE, so `println!` would panic.

use std::io::{self, Write};

/// Standard output was closed by its reader: the conventional quiet end, not a failure.
#[derive(Debug)]
pub struct Closed;

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("standard output was closed")
    }
}

impl std::error::Error for Closed {}

/// Runs `f` on the locked, buffered standard output and flushes it; a closed pipe is
/// [`Closed`], which `main` ends on quietly with exit code 0.
pub fn write(f: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> anyhow::Result<()> {
    let mut w = io::BufWriter::new(io::stdout().lock());
    match f(&mut w).and_then(|()| w.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(Closed.into()),
        Err(e) => Err(anyhow::Error::new(e).context("cannot write to standard output")),
    }
}
