//! `GET /api/streams`: every stream of the store with its rates.

use axum::Json;
use axum::extract::State;

use super::{ApiError, Ctl, blocking};
use crate::control::StreamView;

/// `GET /api/streams`.
pub(super) async fn list(State(control): State<Ctl>) -> Result<Json<Vec<StreamView>>, ApiError> {
    Ok(Json(blocking(control, |c| c.streams()).await?))
}
