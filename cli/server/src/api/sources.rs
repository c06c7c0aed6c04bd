//! `/api/sources`: list, add, replace and remove cameras, and the latest
//! frame of one as a JPEG.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::extract::{JsonObject, Params};
use super::{ApiError, Ctl, blocking, named};
use crate::config;
use crate::control::SourceView;

/// Width of `latest.jpg` when `?width=` is not given.
const DEFAULT_WIDTH: u32 = 640;
/// The widest `latest.jpg` served.
const MAX_WIDTH: u32 = 1920;

/// `GET /api/sources`: every source, in configuration order.
pub(super) async fn list(State(control): State<Ctl>) -> Result<Json<Vec<SourceView>>, ApiError> {
    Ok(Json(blocking(control, |c| c.sources()).await?))
}

/// `GET /api/sources/{name}`: one source.
pub(super) async fn one(
    State(control): State<Ctl>,
    Path(name): Path<String>,
) -> Result<Json<SourceView>, ApiError> {
    blocking(control, move |c| named::find(c, &name))
        .await?
        .map(Json)
}

/// `POST /api/sources`: adds a camera (201) or replaces the one of the
/// same name (200).
pub(super) async fn create(
    State(control): State<Ctl>,
    JsonObject(body): JsonObject,
) -> Result<(StatusCode, Json<SourceView>), ApiError> {
    put(control, serde_json::Value::Object(body)).await
}

/// `PUT /api/sources/{name}`: as `POST`, the name from the path.
pub(super) async fn replace(
    State(control): State<Ctl>,
    Path(name): Path<String>,
    body: JsonObject,
) -> Result<(StatusCode, Json<SourceView>), ApiError> {
    put(control, body.named(&name)?).await
}

/// Checks a camera's keys and puts it: 201 when new, 200 when it replaced
/// one; the answer is the source as listed.
async fn put(
    control: Ctl,
    body: serde_json::Value,
) -> Result<(StatusCode, Json<SourceView>), ApiError> {
    let camera = config::camera_from_json(body).map_err(ApiError::bad_request)?;
    named::upsert(control, camera.name.clone(), move |c| c.put_camera(camera)).await
}

/// `DELETE /api/sources/{name}`: stops and removes a camera (204).
pub(super) async fn remove(
    State(control): State<Ctl>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    blocking(control, move |c| c.remove_camera(&name)).await??;
    Ok(StatusCode::NO_CONTENT)
}

/// `?width=N` of `latest.jpg`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct JpegParams {
    /// Most pixels wide (default 640, at most 1920).
    width: Option<u32>,
}

/// `GET /api/sources/{name}/latest.jpg?width=N`: the latest analysed
/// frame; 404 for an unknown source, 503 before its first frame.
pub(super) async fn latest_jpeg(
    State(control): State<Ctl>,
    Path(name): Path<String>,
    Params(params): Params<JpegParams>,
) -> Result<Response, ApiError> {
    let width = params.width.unwrap_or(DEFAULT_WIDTH);
    if width == 0 {
        return Err(ApiError::bad_request("width must be at least 1"));
    }
    let width = width.min(MAX_WIDTH);
    let jpeg = blocking(control, move |c| {
        c.latest_jpeg(&name, width)?.ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("source {name:?} has no frame yet"),
            )
        })
    })
    .await??;
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        jpeg,
    )
        .into_response())
}
