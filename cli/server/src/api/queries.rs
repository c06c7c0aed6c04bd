//! `/api/queries`: list, add, replace and remove queries (`osprey
//! aggregate` runs over a stream).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::extract::JsonObject;
use super::{ApiError, Ctl, blocking, named};
use crate::config::QueryConfig;
use crate::control::QueryView;

/// `GET /api/queries`: every query with its state and counts.
pub(super) async fn list(State(control): State<Ctl>) -> Result<Json<Vec<QueryView>>, ApiError> {
    Ok(Json(blocking(control, |c| c.queries()).await?))
}

/// `GET /api/queries/{name}`: one query.
pub(super) async fn one(
    State(control): State<Ctl>,
    Path(name): Path<String>,
) -> Result<Json<QueryView>, ApiError> {
    blocking(control, move |c| named::find(c, &name))
        .await?
        .map(Json)
}

/// `POST /api/queries`: adds a query (201) or replaces the one of the
/// same name (200).
pub(super) async fn create(
    State(control): State<Ctl>,
    JsonObject(body): JsonObject,
) -> Result<(StatusCode, Json<QueryView>), ApiError> {
    put(control, serde_json::Value::Object(body)).await
}

/// `PUT /api/queries/{name}`: as `POST`, the name from the path.
pub(super) async fn replace(
    State(control): State<Ctl>,
    Path(name): Path<String>,
    body: JsonObject,
) -> Result<(StatusCode, Json<QueryView>), ApiError> {
    put(control, body.named(&name)?).await
}

/// Checks a query's keys (those of a `[[queries]]` table) and puts it.
async fn put(
    control: Ctl,
    body: serde_json::Value,
) -> Result<(StatusCode, Json<QueryView>), ApiError> {
    let query: QueryConfig = serde_json::from_value(body)
        .map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))?;
    if query.sql.is_some() == query.flags.is_some() {
        return Err(ApiError::bad_request(
            "invalid query: give one of sql and flags",
        ));
    }
    named::upsert(control, query.name.clone(), move |c| c.put_query(query)).await
}

/// `DELETE /api/queries/{name}`: stops and removes a query (204).
pub(super) async fn remove(
    State(control): State<Ctl>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    blocking(control, move |c| c.remove_query(&name)).await??;
    Ok(StatusCode::NO_CONTENT)
}
