//! The stylesheet and the one small script, built into the binary: a force network has no
//! internet, and a page must not depend on anything but this server.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::http::AppState;

const CSS: &str = include_str!("../../static/bwv.css");
const JS: &str = include_str!("../../static/bwv.js");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/static/bwv.css",
            get(|| asset("text/css; charset=utf-8", CSS)),
        )
        .route(
            "/static/bwv.js",
            get(|| asset("text/javascript; charset=utf-8", JS)),
        )
}

async fn asset(media_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, media_type),
            (header::CACHE_CONTROL, "private, max-age=300"),
        ],
        body,
    )
}
