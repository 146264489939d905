//! Connections: accepted up to a cap, their request headers, bodies and responses each
//! under a timeout, so idle or slow clients cannot hold the server.
//!
//! hyper's HTTP/1 server times the headers (`header_read_timeout`, which also closes a
//! keep-alive connection idle that long); request bodies are timed here ([`TimedBody`]:
//! a pause without a byte, and the average rate once past a grace time); responses
//! whose client stops reading are cut ([`WriteDeadline`]).

use super::limits::{Limits, RATE_GRACE};
use axum::body::{Body, Bytes};
use axum::Router;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::Sleep;
use tower::ServiceExt;

/// Serves `router` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: &Limits,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let body = BodyLimits {
        idle: limits.body_timeout,
        min_rate: limits.min_body_rate,
    };
    let write_timeout = limits.write_timeout;
    tokio::pin!(shutdown);
    loop {
        // Past the cap, connections wait in the listen queue until one closes.
        let slot = tokio::select! {
            s = slots.clone().acquire_owned() => s.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!("cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let req = req.map(|b| Body::new(TimedBody::new(b, body)));
            router.clone().oneshot(req)
        });
        let io = TokioIo::new(WriteDeadline::new(stream, write_timeout));
        let conn = http.serve_connection(io, service);
        tokio::spawn(async move {
            let _slot = slot;
            if let Err(e) = conn.await {
                tracing::debug!("connection ended: {e}");
            }
        });
    }
}

#[derive(Clone, Copy)]
struct BodyLimits {
    idle: Duration,
    min_rate: u64,
}

/// A request body that arrived too slowly (kept in the error's source chain, so
/// handlers can answer 408).
#[derive(Debug)]
pub struct SlowBody(&'static str);

impl std::fmt::Display for SlowBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for SlowBody {}

/// Whether an error was caused by a body arriving too slowly.
pub fn is_slow_body(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(e) = cur {
        if e.is::<SlowBody>() {
            return true;
        }
        cur = e.source();
    }
    false
}

/// The request body, failing when no byte comes for `idle`, or when, after
/// [`RATE_GRACE`] of waiting, the bytes so far are fewer than `min_rate` per second of
/// waiting past the grace. Only time spent waiting for the client counts, not time the
/// handler spends between reads.
///
/// It also pauses (wakes itself and says "not yet") after every [`BURST`] bytes: a
/// reader that takes all that is ready (multer, under axum's Multipart, reads until the
/// body has nothing more) would otherwise hold most of a fast upload in memory before
/// handing any of it on.
struct TimedBody {
    inner: Incoming,
    limits: BodyLimits,
    timer: Option<Pin<Box<Sleep>>>,
    waiting_since: Option<Instant>,
    waited: Duration,
    received: u64,
    burst: u64,
}

/// Bytes a body hands out before it pauses once.
const BURST: u64 = 1 << 20;

impl TimedBody {
    fn new(inner: Incoming, limits: BodyLimits) -> TimedBody {
        TimedBody {
            inner,
            limits,
            timer: None,
            waiting_since: None,
            waited: Duration::ZERO,
            received: 0,
            burst: 0,
        }
    }

    fn too_slow(&self) -> bool {
        let Some(counted) = self.waited.checked_sub(RATE_GRACE) else {
            return false;
        };
        (self.received as f64) < self.limits.min_rate as f64 * counted.as_secs_f64()
    }
}

impl hyper::body::Body for TimedBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.burst >= BURST {
            this.burst = 0;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                if let Some(since) = this.waiting_since.take() {
                    this.waited += since.elapsed();
                }
                this.timer = None;
                if let Some(Ok(f)) = &frame {
                    let n = f.data_ref().map_or(0, |d| d.len() as u64);
                    this.received += n;
                    this.burst += n;
                }
                if frame.is_some() && this.too_slow() {
                    return Poll::Ready(Some(Err(Box::new(SlowBody(
                        "the request body arrived too slowly",
                    )))));
                }
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                this.waiting_since.get_or_insert_with(Instant::now);
                let idle = this.limits.idle;
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                if timer.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Some(Err(Box::new(SlowBody(
                        "the request body stopped arriving",
                    )))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A connection whose writes fail when the client has not taken any byte for `timeout`.
struct WriteDeadline<T> {
    io: T,
    timeout: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<T> WriteDeadline<T> {
    fn new(io: T, timeout: Duration) -> WriteDeadline<T> {
        WriteDeadline {
            io,
            timeout,
            stalled: None,
        }
    }

    fn pending<R>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        let timeout = self.timeout;
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(io::ErrorKind::TimedOut.into()));
        }
        Poll::Pending
    }

    fn done<R>(&mut self, r: io::Result<R>) -> Poll<io::Result<R>> {
        self.stalled = None;
        Poll::Ready(r)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WriteDeadline<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_write(cx, buf) {
            Poll::Ready(r) => this.done(r),
            Poll::Pending => this.pending(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_write_vectored(cx, bufs) {
            Poll::Ready(r) => this.done(r),
            Poll::Pending => this.pending(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_flush(cx) {
            Poll::Ready(r) => this.done(r),
            Poll::Pending => this.pending(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_shutdown(cx) {
            Poll::Ready(r) => this.done(r),
            Poll::Pending => this.pending(cx),
        }
    }
}
