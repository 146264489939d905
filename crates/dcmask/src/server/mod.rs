//! `dcmask serve`: the workbench, a local web app over the engine.
//!
//! Every API call needs the random token printed with the URL; requests whose Host is
//! not ours are refused (DNS rebinding); sessions live in memory only.

mod api;
mod assets;
mod diff;
mod edit;
mod pixel;
mod render;
mod session;

use anyhow::{Context, Result};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Json;
use clap::Args;
use dcmask_engine::pixel::{RegionRules, TextDetector};
use dcmask_engine::Key;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on; anything but loopback exposes patient data to the network.
    #[arg(long, default_value = "127.0.0.1:8484")]
    bind: SocketAddr,
    /// Key file; by default a key created on first use in the data directory.
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// More burned-in text regions for +Pixel: a CSV with the columns of the shipped
    /// pixel-regions.csv, applied with the shipped rules.
    #[arg(long, value_name = "CSV")]
    region_rules: Option<PathBuf>,
    /// OCR models for +Pixel instead of the embedded ones (`det.onnx`, `rec.onnx`,
    /// optional `dict.txt`, PP-OCR layout).
    #[arg(long, value_name = "DIR")]
    ocr_models: Option<PathBuf>,
}

/// What every handler shares.
pub struct App {
    token: String,
    key: Key,
    sessions: session::Sessions,
    allowed_hosts: Vec<String>,
    /// OCR for Clean Pixel Data, loaded on first use.
    detector: Option<Arc<dyn TextDetector>>,
    /// Region rules of Clean Pixel Data: the shipped ones and `--region-rules`.
    regions: Arc<RegionRules>,
}

pub type Shared = Arc<App>;

/// A JSON error: `{"error": "..."}` with a status. Messages never carry patient data.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl ApiError {
    pub fn bad(msg: impl Into<String>) -> ApiError {
        ApiError(StatusCode::BAD_REQUEST, msg.into())
    }
    pub fn not_found(what: &str) -> ApiError {
        ApiError(StatusCode::NOT_FOUND, format!("{what} not found"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

impl From<dcmask_engine::Error> for ApiError {
    fn from(e: dcmask_engine::Error) -> ApiError {
        ApiError::bad(e.to_string())
    }
}

pub fn run(args: ServeArgs) -> Result<()> {
    let key = crate::keystore::load_key(args.key_file.as_deref())?;
    let regions = crate::batch::Regions::load(args.region_rules.as_deref())?;
    if regions.user > 0 {
        tracing::info!(
            rules = regions.user,
            "region rules added to the shipped ones"
        );
    }
    let regions = regions.rules;
    let detector = Arc::new(crate::ocr::Cached::new(crate::pixel_tools::detector(
        args.ocr_models.as_deref(),
    )?)) as Arc<dyn TextDetector>;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(serve(args.bind, key, regions, detector))
}

async fn serve(
    bind: SocketAddr,
    key: Key,
    regions: RegionRules,
    detector: Arc<dyn TextDetector>,
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
    let port = addr.port();
    let mut allowed_hosts = vec![
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        addr.to_string(),
    ];
    if port == 80 {
        allowed_hosts.extend(["127.0.0.1".into(), "localhost".into()]);
    }
    let detector = Some(detector);
    let app = Arc::new(App {
        token: token.clone(),
        key,
        sessions: session::Sessions::default(),
        allowed_hosts,
        detector,
        regions: Arc::new(regions),
    });
    tokio::spawn(session::reap_idle(app.clone()));
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        addr.ip().to_string()
    };
    println!("dcmask workbench: http://{host}:{port}/?token={token}");
    tracing::info!("open the URL above in a browser; Ctrl+C stops the server");
    let router = api::routes()
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .merge(assets::routes())
        .layer(middleware::from_fn_with_state(app.clone(), host_check))
        .with_state(app);
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
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
