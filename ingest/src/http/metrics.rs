//! Request metrics: a tower layer that counts every answer by route and
//! status and times it by route ([`RequestMetricsLayer`]), through the
//! `metrics` facade (no recorder, no cost but the call).
//!
//! The route is the router's matched path (`/`, `/api/sources/{name}`), so
//! the labels stay few; a request no route matched is `other`. Applied with
//! `Router::layer`, the layer runs after routing, where the matched path is
//! known.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::MatchedPath;
use axum::response::Response;
use hyper::{Request, StatusCode};
use tower::{Layer, Service};

pub use crate::metrics::{
    HTTP_REQUEST_SECONDS as REQUEST_SECONDS, HTTP_REQUESTS as REQUESTS_TOTAL,
};

/// The route of a request no route matched (or refused before routing).
pub(super) const OTHER: &str = "other";

/// Counts one answer.
pub(super) fn record(route: String, status: StatusCode, took: Duration) {
    metrics::histogram!(REQUEST_SECONDS, "route" => route.clone()).record(took.as_secs_f64());
    metrics::counter!(REQUESTS_TOTAL, "route" => route, "status" => status.as_str().to_owned())
        .increment(1);
}

/// Wraps a router's services in [`RequestMetrics`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestMetricsLayer;

impl<S> Layer<S> for RequestMetricsLayer {
    type Service = RequestMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestMetrics { inner }
    }
}

/// A service that counts and times the answers of the one it wraps.
#[derive(Debug, Clone)]
pub struct RequestMetrics<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for RequestMetrics<S>
where
    S: Service<Request<B>, Response = Response>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or(OTHER, MatchedPath::as_str)
            .to_owned();
        let start = Instant::now();
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = answer.await?;
            record(route, response.status(), start.elapsed());
            Ok(response)
        })
    }
}
