//! The API's errors as AWS's REST-JSON answers them: the HTTP status, the
//! error's name in `x-amzn-ErrorType` and in the body's `__type`, and a
//! message, so that botocore raises the matching exception class.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use hyper::StatusCode;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use osprey_ingest::video::VideoError;

use crate::playback::PlaybackError;

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KvsError {
    pub(crate) status: StatusCode,
    pub(crate) name: &'static str,
    pub(crate) message: String,
}

impl KvsError {
    /// `InvalidArgumentException` (400).
    pub(crate) fn invalid(message: impl Into<String>) -> KvsError {
        KvsError {
            status: StatusCode::BAD_REQUEST,
            name: "InvalidArgumentException",
            message: message.into(),
        }
    }

    /// `ResourceNotFoundException` (404).
    pub(crate) fn not_found(message: impl Into<String>) -> KvsError {
        KvsError {
            status: StatusCode::NOT_FOUND,
            name: "ResourceNotFoundException",
            message: message.into(),
        }
    }

    /// A 400 of another name.
    pub(crate) fn named(name: &'static str, message: impl Into<String>) -> KvsError {
        KvsError {
            status: StatusCode::BAD_REQUEST,
            name,
            message: message.into(),
        }
    }

    /// `NotAuthorizedException` (401), for a signature refused.
    pub(crate) fn not_authorized(message: impl Into<String>) -> KvsError {
        KvsError {
            status: StatusCode::UNAUTHORIZED,
            name: "NotAuthorizedException",
            message: message.into(),
        }
    }

    /// A failure of the server's own (500), logged.
    pub(crate) fn internal(what: &str, error: &dyn std::fmt::Display) -> KvsError {
        tracing::error!(error = %error, "KVS {what} failed.");
        KvsError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            name: "InternalFailure",
            message: format!("{what} failed; retry later"),
        }
    }
}

impl From<VideoError> for KvsError {
    fn from(error: VideoError) -> Self {
        match &error {
            VideoError::NotFound(_) | VideoError::NoFragment { .. } => {
                KvsError::not_found(error.to_string())
            }
            VideoError::Exists(_) => KvsError::named("ResourceInUseException", error.to_string()),
            VideoError::Invalid(_) => KvsError::invalid(error.to_string()),
            VideoError::Locked(_) => {
                KvsError::named("ClientLimitExceededException", error.to_string())
            }
            VideoError::Damaged { .. } | VideoError::Io { .. } => {
                KvsError::internal("the store", &error)
            }
        }
    }
}

impl From<PlaybackError> for KvsError {
    fn from(error: PlaybackError) -> Self {
        match error {
            PlaybackError::Store(e) => e.into(),
            PlaybackError::NoMedia => {
                KvsError::not_found("no fragments found in the range asked for")
            }
            PlaybackError::Invalid(m) => KvsError::invalid(m),
            PlaybackError::Media(m) => KvsError::named("InvalidMediaFrameException", m),
        }
    }
}

impl IntoResponse for KvsError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "__type": self.name, "message": self.message });
        let mut response = Response::new(Body::from(body.to_string()));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert("x-amzn-ErrorType", HeaderValue::from_static(self.name));
        headers.insert("x-amzn-RequestId", HeaderValue::from_static("osprey"));
        response
    }
}
