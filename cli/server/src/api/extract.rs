//! Extractors that check input and refuse it as [`ApiError`] (JSON), not
//! axum's plain-text rejections: [`JsonObject`] for bodies, [`Params`]
//! for query strings.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// A JSON object body (any content type; at most the route's body limit).
#[derive(Debug)]
pub(super) struct JsonObject(pub(super) serde_json::Map<String, serde_json::Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::new(e.status(), e.body_text().to_lowercase()))?;
        match serde_json::from_slice(&bytes) {
            Ok(serde_json::Value::Object(map)) => Ok(JsonObject(map)),
            Ok(_) => Err(ApiError::bad_request("the body must be a JSON object")),
            Err(e) => Err(ApiError::bad_request(format!("the body is not JSON: {e}"))),
        }
    }
}

/// Query-string parameters of type `T` (unknown ones refused when `T`
/// says `deny_unknown_fields`).
#[derive(Debug)]
pub(super) struct Params<T>(pub(super) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(t)| Params(t))
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}

impl JsonObject {
    /// The object for `PUT .../{name}`: its `name` is the path's (added
    /// when missing; another one is refused).
    pub(super) fn named(mut self, name: &str) -> Result<serde_json::Value, ApiError> {
        match self.0.get("name") {
            None => {
                self.0.insert("name".into(), name.into());
            }
            Some(serde_json::Value::String(n)) if n == name => {}
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "the body's name {other} is not the path's {name:?}"
                )));
            }
        }
        Ok(serde_json::Value::Object(self.0))
    }
}
