//! `dcmask serve`: the workbench, a local web app over the engine.
//!
//! Every API call needs the random token printed with the URL; requests whose Host is
//! not ours are refused (DNS rebinding), and so are state-changing requests from another
//! origin. Sessions live in memory (headers) and in a private folder (uploads, pixels),
//! both removed with the session. Every limit is in [`limits`]; docs/api.md lists them.

mod api;
mod assets;
mod conn;
mod diff;
mod disk;
mod edit;
mod evidence;
mod export;
mod limits;
mod object;
mod pixel;
mod render;
mod risk;
mod session;
#[cfg(test)]
mod tests;
mod work;

use anyhow::{Context, Result};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use clap::Args;
use dcmask_engine::pixel::{RegionRules, TextDetector};
use dcmask_engine::Key;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on; anything but loopback exposes patient data to the network.
    #[arg(long, default_value = "127.0.0.1:8484")]
    bind: SocketAddr,
    #[command(flatten)]
    tools: crate::pixel_tools::ToolArgs,
    /// Where the server's private folder of open files is made [default: the system's
    /// temporary directory]
    #[arg(long, value_name = "DIR")]
    temp_dir: Option<PathBuf>,
    #[command(flatten)]
    limits: limits::LimitFlags,
}

/// Stack of the server's threads: deep structures in hostile files are walked and
/// dropped recursively, and an overflow would end the process, not just the request.
const STACK: usize = 256 << 20;

/// What every handler shares.
pub struct App {
    token: String,
    key: Key,
    sessions: session::Sessions,
    allowed_hosts: Vec<String>,
    /// `http://` + each allowed host: the origins of our own page.
    allowed_origins: Vec<String>,
    /// OCR for Clean Pixel Data, loaded on first use.
    detector: Option<Arc<dyn TextDetector>>,
    /// Region rules of Clean Pixel Data: the shipped ones and `--region-rules`.
    regions: Arc<RegionRules>,
    store: Arc<disk::Store>,
    work: work::Work,
    limits: limits::Limits,
    /// Every Apply, edit and export is appended to it ([`crate::audit`]).
    audit: crate::audit::Log,
}

/// The Host headers of requests to a server on `port` (also named `bound`).
fn allowed_hosts(port: u16, bound: Option<String>) -> Vec<String> {
    let mut hosts = vec![
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ];
    hosts.extend(bound);
    if port == 80 {
        hosts.extend(["127.0.0.1".into(), "localhost".into()]);
    }
    hosts
}

impl App {
    fn new(
        token: String,
        key: Key,
        allowed_hosts: Vec<String>,
        detector: Option<Arc<dyn TextDetector>>,
        regions: RegionRules,
        store: Arc<disk::Store>,
        limits: limits::Limits,
    ) -> App {
        let allowed_origins = allowed_hosts
            .iter()
            .map(|h| format!("http://{h}"))
            .collect();
        App {
            token,
            key,
            sessions: session::Sessions::default(),
            allowed_hosts,
            allowed_origins,
            detector,
            regions: Arc::new(regions),
            work: work::Work::new(&limits),
            store,
            limits,
            audit: crate::audit::Log::workbench(),
        }
    }
}

pub type Shared = Arc<App>;

/// A JSON error: `{"error": "..."}` with a status. Messages never carry patient data,
/// and quote at most a short prefix of what the client sent ([`clip`]).
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl ApiError {
    /// The client's request is wrong (400).
    pub fn bad(msg: impl AsRef<str>) -> ApiError {
        ApiError(StatusCode::BAD_REQUEST, clip(msg.as_ref()))
    }
    pub fn not_found(what: &str) -> ApiError {
        ApiError(StatusCode::NOT_FOUND, format!("{what} not found"))
    }
    /// The client's file cannot be used for this (422): the engine's message.
    pub fn unprocessable(msg: impl AsRef<str>) -> ApiError {
        ApiError(StatusCode::UNPROCESSABLE_ENTITY, clip(msg.as_ref()))
    }
    pub fn forbidden(msg: &str) -> ApiError {
        ApiError(StatusCode::FORBIDDEN, msg.into())
    }
    pub fn too_large(msg: String) -> ApiError {
        ApiError(StatusCode::PAYLOAD_TOO_LARGE, msg)
    }
    pub fn too_slow(msg: &str) -> ApiError {
        ApiError(StatusCode::REQUEST_TIMEOUT, msg.into())
    }
    /// The server has no room now (503): memory, storage, workers or sessions.
    pub fn busy(msg: impl Into<String>) -> ApiError {
        ApiError(StatusCode::SERVICE_UNAVAILABLE, msg.into())
    }
    pub fn storage_full() -> ApiError {
        ApiError::busy("the server's storage for open files is full: close files or sessions")
    }
    /// The server's own failure (500), without detail: it might hold a value.
    pub fn internal() -> ApiError {
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal server error".into(),
        )
    }
    /// A failure of the server's own disk; only its kind is logged.
    pub fn from_io(e: std::io::Error) -> ApiError {
        if e.kind() == std::io::ErrorKind::StorageFull {
            return ApiError::storage_full();
        }
        tracing::error!("disk: {}", e.kind());
        ApiError::internal()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

/// What of a client's text an error message may quote.
const QUOTED: usize = 32;
/// The longest error message sent.
const MESSAGE: usize = 300;

/// A message safe to send back: each part between backticks or double quotes (where
/// serde and the engine quote what they were given) cut to [`QUOTED`] characters,
/// control characters escaped, the whole cut to [`MESSAGE`].
pub fn clip(msg: &str) -> String {
    let mut out = String::new();
    let mut quote: Option<char> = None;
    let mut quoted = 0usize;
    for c in msg.chars() {
        match quote {
            Some(q) if c == q => {
                quote = None;
                out.push(c);
            }
            Some(_) => {
                quoted += 1;
                if quoted <= QUOTED {
                    out.extend(c.escape_debug());
                } else if quoted == QUOTED + 1 {
                    out.push('…');
                }
            }
            None if c == '`' || c == '"' => {
                quote = Some(c);
                quoted = 0;
                out.push(c);
            }
            None if c.is_control() => out.extend(c.escape_debug()),
            None => out.push(c),
        }
    }
    if out.chars().count() > MESSAGE {
        out = out.chars().take(MESSAGE).collect::<String>() + "…";
    }
    out
}

pub fn run(args: ServeArgs) -> Result<()> {
    let key = args.tools.key()?;
    let regions = crate::batch::Regions::load(args.tools.region_rules.as_deref())?;
    if regions.user > 0 {
        tracing::info!(
            rules = regions.user,
            "region rules added to the shipped ones"
        );
    }
    let detector = Arc::new(crate::ocr::Cached::new(crate::pixel_tools::detector(
        args.tools.ocr_models.as_deref(),
    )?)) as Arc<dyn TextDetector>;
    let parent = args.temp_dir.clone().unwrap_or_else(std::env::temp_dir);
    let limits = limits::Limits::from_flags(&args.limits, &parent);
    limits::raise_open_files(limits.max_connections);
    let store = disk::Store::create(&parent, limits.max_storage)
        .with_context(|| format!("cannot create a private folder in {}", parent.display()))?;
    // A panic's message may quote a value: only where it happened is logged.
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(at, "panic (its message is not shown: it may quote a value)");
    }));
    return_large_buffers();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(STACK)
        .max_blocking_threads(64)
        .build()?;
    let result = runtime.block_on(serve(
        args.bind,
        key,
        regions.rules,
        detector,
        store.clone(),
        limits,
    ));
    runtime.shutdown_timeout(Duration::from_secs(5));
    store.remove();
    result
}

/// Buffers of 1 MiB and more (a file's pixels, read back for work) are mapped and
/// unmapped on their own. glibc would otherwise raise that threshold each time such a
/// buffer is freed, and keep later ones in its heaps once freed: measured, the resident
/// size grew by about a file per upload of 20 MiB files, with no leak.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_large_buffers() {
    // SAFETY: mallopt only sets an allocator parameter; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_large_buffers() {}

async fn serve(
    bind: SocketAddr,
    key: Key,
    regions: RegionRules,
    detector: Arc<dyn TextDetector>,
    store: Arc<disk::Store>,
    limits: limits::Limits,
) -> Result<()> {
    if !bind.ip().is_loopback() {
        tracing::warn!("listening on {bind}, which is not loopback: anyone who can reach it and learns the token sees the open files");
    }
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("cannot listen on {bind}"))?;
    let addr = listener.local_addr()?;
    let mut token = [0u8; 16];
    getrandom::fill(&mut token).map_err(|e| anyhow::anyhow!("no randomness for the token: {e}"))?;
    let token: String = token.iter().map(|b| format!("{b:02x}")).collect();
    tracing::info!(
        "limits: files up to {}, {} on disk and {} of memory for all sessions, {} connections",
        limits::human(limits.max_upload),
        limits::human(limits.max_storage),
        limits::human(limits.max_memory),
        limits.max_connections,
    );
    let app = Arc::new(App::new(
        token.clone(),
        key,
        allowed_hosts(addr.port(), Some(addr.to_string())),
        Some(detector),
        regions,
        store,
        limits.clone(),
    ));
    tokio::spawn(session::reap_idle(app.clone()));
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        addr.ip().to_string()
    };
    println!(
        "dcmask workbench: http://{host}:{}/?token={token}",
        addr.port()
    );
    tracing::info!("open the URL above in a browser; Ctrl+C stops the server");
    conn::serve(listener, router(app), &limits, shutdown()).await;
    tracing::info!("stopped; the open files are deleted");
    Ok(())
}

/// Ctrl+C, or SIGTERM where there is one.
async fn shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// The whole app: API (token), page, and the checks every request goes through.
fn router(app: Shared) -> Router {
    api::routes()
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .merge(assets::routes())
        .layer(middleware::from_fn_with_state(app.clone(), origin_check))
        .layer(middleware::from_fn_with_state(app.clone(), host_check))
        .layer(middleware::from_fn(catch_panic))
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn(security_headers))
        .with_state(app)
}

/// The policy of the page and of every JSON answer: our own scripts, styles and
/// images only (frames are `blob:` URLs), no framing, no plugins.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' blob: data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

/// Headers on every response; `no-store` on every API answer (they carry patient data:
/// state, trees, pixels, exports, the linkage).
async fn security_headers(req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CSP));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    if api {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    } else {
        h.entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-cache"));
    }
    res
}

/// Error answers not made by [`ApiError`] (axum's rejections of a path, query or body,
/// in plain text) become JSON like ours, their text cut by [`clip`].
async fn json_errors(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    let json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if status.as_u16() < 400 || json {
        return res;
    }
    let (parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let msg = if status.is_server_error() {
        ApiError::internal().1
    } else if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_lowercase()
    } else {
        clip(&text)
    };
    let mut out = ApiError(status, msg).into_response();
    for (k, v) in &parts.headers {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
            out.headers_mut().insert(k.clone(), v.clone());
        }
    }
    out
}

/// A panic while handling a request is answered 500 (without its message); the
/// connection, the server and the other sessions go on.
async fn catch_panic(req: Request, next: Next) -> Response {
    match tokio::spawn(next.run(req)).await {
        Ok(res) => res,
        Err(_) => {
            tracing::error!("a request handler panicked; answered 500");
            ApiError::internal().into_response()
        }
    }
}

/// Refuses requests addressed to another host name (DNS rebinding).
async fn host_check(State(app): State<Shared>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !app.allowed_hosts.iter().any(|h| h == host) {
        return ApiError(StatusCode::FORBIDDEN, "unexpected Host header".into()).into_response();
    }
    next.run(req).await
}

/// Refuses requests that change something when a browser says they come from another
/// site or origin (a page elsewhere posting to the workbench). Clients that send
/// neither header (scripts, curl) still need the token.
async fn origin_check(State(app): State<Shared>, req: Request, next: Next) -> Response {
    if !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        let h = req.headers();
        let foreign_origin = h.get(header::ORIGIN).is_some_and(|o| {
            let o = o.to_str().unwrap_or("");
            !app.allowed_origins
                .iter()
                .any(|a| a.eq_ignore_ascii_case(o))
        });
        let foreign_site = h
            .get("sec-fetch-site")
            .is_some_and(|s| !matches!(s.to_str(), Ok("same-origin" | "none")));
        if foreign_origin || foreign_site {
            return ApiError::forbidden("request from another site or origin refused")
                .into_response();
        }
    }
    next.run(req).await
}

/// Requires the access token on every API call (header, or `token` query for downloads).
async fn guard(State(app): State<Shared>, req: Request, next: Next) -> Response {
    let header_ok = req
        .headers()
        .get("x-dcmask-token")
        .and_then(|h| h.to_str().ok())
        .is_some_and(|t| constant_time_eq(t, &app.token));
    let query_ok = req.uri().query().is_some_and(|q| {
        q.split('&')
            .filter_map(|kv| kv.strip_prefix("token="))
            .any(|t| constant_time_eq(t, &app.token))
    });
    if !(header_ok || query_ok) {
        return ApiError(
            StatusCode::UNAUTHORIZED,
            "missing or wrong access token".into(),
        )
        .into_response();
    }
    next.run(req).await
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}
