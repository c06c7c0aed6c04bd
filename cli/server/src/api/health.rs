//! `/healthz` (the process serves) and `/readyz` (every camera started,
//! the store open).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::Ctl;

/// `GET /healthz`: 200 while the process serves.
pub(super) async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "ok": true }))
}

/// `GET /readyz`: 200 once [`Control::ready`](crate::control::Control::ready), else 503.
pub(super) async fn readyz(State(control): State<Ctl>) -> (StatusCode, Json<serde_json::Value>) {
    let ready = control.ready();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(serde_json::json!({ "ready": ready })))
}
