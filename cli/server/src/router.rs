//! [`build`]: the server's one HTTP face. It composes the Kinesis API
//! (`POST /` with `X-Amz-Target`, SigV4 when configured) with the Kinesis
//! Video Streams API beside it (`POST /createStream`, `/putMedia`, ...,
//! `GET /hls/v1/...`), `/metrics`,
//! `/healthz` and `/readyz` (all open), and the control API under `/api`
//! with the dashboard (`GET /` and `/assets/...`), which the bearer token
//! guards when one is set.

use std::sync::Arc;

use axum::Router;
use axum::middleware;

use super::api;
use super::control::Control;
use super::dashboard;

/// The whole router: `kinesis` (the Kinesis API and the KVS API) and `metrics` (its
/// `GET /metrics`) are merged as they come; `token` guards `/api` and the
/// dashboard.
///
/// # Panics
/// When `kinesis` or `metrics` serve a route already served here with
/// the same method (as [`Router::merge`]): `GET /`, `/assets/...`,
/// `/api/...`, `/healthz`, `/readyz`. Kinesis' `POST /` goes beside the
/// dashboard's `GET /` when it is a method route (`post(...)`).
pub fn build(
    control: Arc<dyn Control>,
    kinesis: Router,
    metrics: Router,
    token: Option<String>,
) -> Router {
    let guarded = api::routes().merge(dashboard::routes());
    let guarded = match token {
        Some(token) => guarded.route_layer(middleware::from_fn_with_state(
            Arc::<str>::from(token),
            api::require_token,
        )),
        None => guarded,
    };
    Router::new()
        .merge(api::health_routes())
        .merge(guarded)
        .with_state(control)
        .merge(kinesis)
        .merge(metrics)
}
