//! The control API under `/api` (JSON), `/healthz` and `/readyz`: small
//! handlers over the running server, seen through [`Control`], which is
//! the axum state. Input is checked by the extractors of [`extract`];
//! every refusal is `{"error": "..."}` with its status ([`error`]).
//! `docs/api.md` documents each route.

mod auth;
mod error;
mod events;
mod extract;
mod filter;
mod health;
mod live;
mod named;
mod queries;
mod sources;
mod streams;
mod videos;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;

use super::control::Control;

pub(crate) use auth::require_token;
pub(crate) use error::ApiError;

/// The state every handler gets: the running server.
pub(crate) type Ctl = Arc<dyn Control>;

/// Largest JSON body `/api` takes (a camera or a query).
const MAX_BODY: usize = 64 * 1024;

/// The `/api` routes (guarded by the token when one is set).
pub(crate) fn routes() -> Router<Ctl> {
    Router::new()
        .route("/api/sources", get(sources::list).post(sources::create))
        .route(
            "/api/sources/{name}",
            get(sources::one)
                .put(sources::replace)
                .delete(sources::remove),
        )
        .route("/api/sources/{name}/latest.jpg", get(sources::latest_jpeg))
        .route("/api/events", get(events::recent))
        .route("/api/events/live", get(live::feed))
        .route("/api/streams", get(streams::list))
        .route("/api/queries", get(queries::list).post(queries::create))
        .route(
            "/api/queries/{name}",
            get(queries::one)
                .put(queries::replace)
                .delete(queries::remove),
        )
        .route("/api/videos/{stream}/live.m3u8", get(videos::live))
        .route("/api/videos/{stream}/clip.mp4", get(videos::clip_mp4))
        .route("/api/videos/{stream}/{file}", get(videos::hls))
        .route("/api", get(error::no_route))
        .route("/api/{*rest}", get(error::no_route))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

/// `/healthz` and `/readyz`: open, whatever the token.
pub(crate) fn health_routes() -> Router<Ctl> {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
}

/// Runs a call into [`Control`] off the async workers (it may touch disk
/// or start a pipeline).
async fn blocking<T: Send + 'static>(
    control: Ctl,
    call: impl FnOnce(&dyn Control) -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(move || call(control.as_ref()))
        .await
        .map_err(|e| ApiError::internal(format!("the request's task failed: {e}")))
}

#[cfg(test)]
mod tests;
