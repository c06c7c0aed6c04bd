//! The dashboard: `GET /` and its assets, embedded in the binary from
//! `cli/server/assets/` (no CDN: it works offline). A page to leave open on a
//! wall: each camera's latest frame with its state and fps, the event
//! timeline with thumbnails, per-minute charts of the cameras and the
//! queries, the streams with their rates. It reads `/api` only: it polls
//! `/api/sources`, `/api/streams` and `/api/queries`, and listens to
//! `/api/events/live`; a recording camera's live video and its events'
//! clips play from `/api/videos/` (hls.js, vendored, where the browser has
//! no native HLS).

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

/// The page.
const INDEX: &str = include_str!("../../assets/index.html");
/// Its script.
const SCRIPT: &str = include_str!("../../assets/dashboard.js");
/// Its style sheet.
const STYLE: &str = include_str!("../../assets/dashboard.css");
/// hls.js (cli/server/assets/vendor/README.md says which and whence), for the
/// live player where the browser has no native HLS.
const HLS_JS: &str = include_str!("../../assets/vendor/hls.min.js");
/// Its icon.
const ICON: &str = include_str!("../../assets/favicon.svg");

/// `GET /`, `/assets/dashboard.js`, `/assets/dashboard.css`,
/// `/assets/vendor/hls.min.js`, `/favicon.svg`.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| asset("text/html; charset=utf-8", INDEX)))
        .route(
            "/assets/dashboard.js",
            get(|| asset("text/javascript; charset=utf-8", SCRIPT)),
        )
        .route(
            "/assets/dashboard.css",
            get(|| asset("text/css; charset=utf-8", STYLE)),
        )
        .route(
            "/assets/vendor/hls.min.js",
            get(|| asset("text/javascript; charset=utf-8", HLS_JS)),
        )
        .route("/favicon.svg", get(|| asset("image/svg+xml", ICON)))
}

/// One embedded asset; `no-cache` so an upgraded binary's page is seen.
async fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}
