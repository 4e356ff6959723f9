//! The site icon, embedded in the binary: `/favicon.ico` (which browsers ask for on every site whether a page
//! names it or not) and `/favicon.svg`, which the pages link.

use std::sync::LazyLock;

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;

use crate::state::AppState;

pub const SVG: &str = include_str!("../../assets/favicon.svg");
const ICO: &[u8] = include_bytes!("../../assets/favicon.ico");

/// The icon as a `data:` URI, for the sign-in pages: their Content-Security-Policy allows images from
/// `data:` only, and a page that carries secrets in its URL should not make a second request anyway.
pub static DATA_URI: LazyLock<String> = LazyLock::new(|| {
    format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(SVG)
    )
});

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/favicon.ico", get(ico))
        .route("/favicon.svg", get(svg))
}

fn icon(kind: &'static str, body: &'static [u8]) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            // Not versioned in its name: a day, so a new icon shows up without a forced reload.
            (header::CACHE_CONTROL, "public, max-age=86400"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

async fn ico() -> Response {
    icon("image/x-icon", ICO)
}

async fn svg() -> Response {
    icon("image/svg+xml", SVG.as_bytes())
}
