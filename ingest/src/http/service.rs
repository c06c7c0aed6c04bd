//! What every request goes through before and after the router: the checks
//! that need no route (a body announced past [`MAX_BODY`], an unknown
//! `Expect`), the body bound, the `request` timeout, and the way a handler
//! ends a broken connection without an answer ([`abort`]).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse as _, Response};
use http_body_util::Limited;
use hyper::body::Incoming;
use hyper::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, EXPECT, HeaderValue};
use hyper::{Request, StatusCode};
use tower::ServiceExt as _;

use super::metrics::{OTHER, record};
use super::watch::Activity;
use super::{MAX_BODY, STREAMING_ROUTES};

/// Marks an answer that must not be sent: the connection is closed instead.
#[derive(Debug, Clone, Copy)]
struct Abort;

/// Why a request got no answer (hyper then closes the connection).
#[derive(Debug, thiserror::Error)]
pub(super) enum NoAnswer {
    /// The handler gave up on a broken request ([`abort`]).
    #[error("request abandoned by its handler")]
    Aborted,
    /// The request (its body included) was not answered within the limit.
    #[error("request not answered within {0:?}")]
    TimedOut(Duration),
}

/// An answer that is never sent: the connection is closed instead, as for
/// a request body cut short, which leaves nothing sensible to answer.
pub fn abort() -> Response {
    let mut response = StatusCode::BAD_REQUEST.into_response();
    response.extensions_mut().insert(Abort);
    response
}

/// The JSON of an error named `name` (`{"__type":...,"message":...}`, the
/// shape the AWS SDKs read).
pub(super) fn error_json(name: &str, message: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "__type": name, "message": message }))
        .expect("a map of strings writes into a Vec")
}

/// An error answer with `status` and the JSON of an error named `name`.
pub fn error_response(status: StatusCode, name: &str, message: &str) -> Response {
    let mut response = Response::new(Body::from(error_json(name, message)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    headers.insert("x-amzn-RequestId", HeaderValue::from_static("osprey"));
    response
}

/// An error answer after which the connection closes.
fn closing(status: StatusCode, message: &str) -> Response {
    let mut response = error_response(status, "SerializationException", message);
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Why a request is refused before it reaches the router, if it is.
fn refusal(request: &Request<Incoming>) -> Option<Response> {
    let headers = request.headers();
    let length = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if length.is_some_and(|n| n > MAX_BODY as u64) {
        return Some(closing(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large",
        ));
    }
    match headers.get(EXPECT) {
        Some(v) if !v.as_bytes().eq_ignore_ascii_case(b"100-continue") => Some(closing(
            StatusCode::BAD_REQUEST,
            &format!(
                "cannot meet expectation {:?}",
                String::from_utf8_lossy(v.as_bytes())
            ),
        )),
        _ => None,
    }
}

/// Serves one request of a connection whose clock is `activity`: the checks,
/// then `router` with the body bounded, within `limit`.
///
/// # Errors
/// [`NoAnswer`]: the connection is closed without an answer.
pub(super) async fn serve(
    router: Router,
    activity: Arc<Activity>,
    limit: Duration,
    request: Request<Incoming>,
) -> Result<Response, NoAnswer> {
    let busy = activity.busy(request.version() == hyper::Version::HTTP_2);
    if let Some(response) = refusal(&request) {
        record(OTHER.into(), response.status(), Duration::ZERO);
        return Ok(response);
    }
    if STREAMING_ROUTES.contains(&request.uri().path())
        || super::is_streaming_target(request.headers())
    {
        let request = request.map(|body| Limited::new(body, usize::MAX));
        let Ok(response) = router.oneshot(request).await;
        // Busy until the streamed answer ends (or the connection does).
        return Ok(response.map(|body| {
            use http_body_util::BodyExt as _;
            Body::new(body.map_frame(move |frame| {
                let _busy = &busy;
                frame
            }))
        }));
    }
    let request = request.map(|body| Limited::new(body, MAX_BODY));
    let answered: Result<Result<Response, Infallible>, _> =
        tokio::time::timeout(limit, router.oneshot(request)).await;
    match answered {
        Err(_) => Err(NoAnswer::TimedOut(limit)),
        Ok(Ok(response)) if response.extensions().get::<Abort>().is_some() => {
            Err(NoAnswer::Aborted)
        }
        Ok(Ok(response)) => Ok(response),
    }
}

/// Reads a whole request body into `into` (emptied first, its capacity
/// kept), at most [`MAX_BODY`] bytes.
///
/// # Errors
/// The answer to give instead: 413 for a body past the limit; [`abort`]
/// for one that breaks off.
pub async fn read_body(body: Body, into: &mut Vec<u8>) -> Result<(), Response> {
    use http_body_util::BodyExt as _;
    into.clear();
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| body_error(&*e.into_inner()))?;
        if let Ok(data) = frame.into_data() {
            if into.len() + data.len() > MAX_BODY {
                return Err(closing(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "request body too large",
                ));
            }
            into.extend_from_slice(&data);
        }
    }
    Ok(())
}

/// The answer to a body that cannot be read: 413 past the limit, 400 for a
/// malformed encoding (a bad chunk), [`abort`] for one cut short.
fn body_error(error: &(dyn std::error::Error + 'static)) -> Response {
    if error.is::<http_body_util::LengthLimitError>() {
        return closing(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
    }
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData
            )
        {
            return closing(StatusCode::BAD_REQUEST, "malformed request body");
        }
        cause = e.source();
    }
    tracing::debug!(error = %error, "Request body broke off.");
    abort()
}
