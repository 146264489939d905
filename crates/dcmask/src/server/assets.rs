//! The page and its assets, embedded in the binary (no build step, no files at run time).

use super::Shared;
use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/", get(|| async { asset("index.html") }))
        .route(
            "/assets/{*path}",
            get(|Path(path): Path<String>| async move { asset(&path) }),
        )
}

fn asset(path: &str) -> impl IntoResponse {
    match ASSETS.iter().find(|(p, _)| *p == path) {
        Some((p, bytes)) => {
            let mime = match p.rsplit('.').next() {
                Some("html") => "text/html; charset=utf-8",
                Some("js") => "text/javascript; charset=utf-8",
                Some("css") => "text/css; charset=utf-8",
                Some("svg") => "image/svg+xml",
                Some("png") => "image/png",
                _ => "application/octet-stream",
            };
            (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, mime),
                    (header::CACHE_CONTROL, "no-cache"),
                    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                ],
                *bytes,
            )
                .into_response()
        }
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}
