//! The one HTTP listener of the server: any `axum::Router` served on
//! tokio and hyper, HTTP/1.1 and HTTP/2 on the same port (HTTP/2 by ALPN
//! `h2` over TLS, or by prior knowledge over plain TCP: h2c), over TLS
//! (rustls) when a certificate and key are configured ([`HttpServer`]).
//!
//! It keeps a peer from wedging the server:
//! - At most [`HttpServerConfig::max_connections`] connections are served at
//!   once; one beyond is answered 503 (`ProvisionedThroughputExceededException`,
//!   which the SDKs retry) by a small task of its own (at most
//!   [`MAX_REFUSERS`] at once; past that, new connections wait in the listen
//!   queue), so memory stays bounded however many connect. An HTTP/2
//!   connection takes one slot and serves at most [`MAX_STREAMS`] requests
//!   at once (more are refused with `REFUSED_STREAM`), with a request head
//!   (header list) of at most [`MAX_HEAD`] bytes and flow-control windows
//!   that bound what its streams hold unread.
//! - [`Timeouts`]: a connection silent for `first_byte` before its first
//!   request or for `idle` between requests is closed quietly; a request
//!   head must arrive within `request` of its first byte, the handler
//!   (body included) must answer within `request`, and an answer must be
//!   taken within `request`; else the connection is closed without an answer.
//!   On HTTP/2 the `request` bound holds per stream (a stream past it is
//!   reset), the connection is busy while any stream is, and `idle` runs
//!   from its last stream's end whatever frames (pings) arrive meanwhile.
//! - Request bodies are bounded: more than [`MAX_BODY`] bytes announced is
//!   answered 413 before the body is read, and a body that grows past it
//!   fails to read.
//! - A malformed request is answered once (400, 413, 431) and the connection
//!   closed (on HTTP/2, the stream); an unknown `Expect` is refused (400).
//!   A connection past the limit that speaks HTTP/2 is told `GOAWAY`
//!   (`REFUSED_STREAM`: nothing was processed, retry) instead of the 503.
//! - [`HttpServer::serve`] stops on a future: it stops accepting, lets the
//!   requests in flight finish (for at most `request`; an HTTP/2 peer is
//!   sent `GOAWAY`), and returns.
//!
//! Every request is counted in `osprey_http_requests_total{route,status}`
//! and timed in `osprey_http_request_duration_seconds{route}`, the route
//! being the router's matched path or `other` ([`RequestMetricsLayer`]).
//!
//! The routes in [`STREAMING_ROUTES`] (Kinesis Video Streams' PutMedia and
//! GetMedia) and the Kinesis operations in [`STREAMING_TARGETS`]
//! (SubscribeToShard) are long exchanges streamed both ways: their request bodies
//! are not bounded by [`MAX_BODY`] nor their handlers by the `request`
//! timeout, and the connection counts as busy until the answer's body ends;
//! their handlers bound what they hold and how long they wait themselves.
//!
//! A handler that finds its request broken (a body cut short) answers with
//! [`abort`]: the connection is then closed without an answer.

mod error;
mod metrics;
mod refuse;
mod server;
mod service;
#[cfg(test)]
mod tests;
mod tls;
mod watch;

pub use error::ServeError;
pub use metrics::{REQUEST_SECONDS, REQUESTS_TOTAL, RequestMetrics, RequestMetricsLayer};
pub use server::{HttpServer, HttpServerConfig, Timeouts, TlsFiles};
pub use service::{abort, error_response, read_body};

/// The routes whose exchange is a long stream (see the module's doc): KVS'
/// PutMedia (a chunked upload of hours) and GetMedia (a live download).
pub const STREAMING_ROUTES: &[&str] = &["/putMedia", "/getMedia"];

/// The Kinesis operations whose exchange is a long stream, like the
/// [`STREAMING_ROUTES`]: SubscribeToShard (minutes of events pushed).
pub const STREAMING_TARGETS: &[&str] = &["Kinesis_20131202.SubscribeToShard"];

/// Whether a request with `headers` names one of the [`STREAMING_TARGETS`].
pub fn is_streaming_target(headers: &hyper::HeaderMap) -> bool {
    headers
        .get("x-amz-target")
        .and_then(|t| t.to_str().ok())
        .is_some_and(|t| STREAMING_TARGETS.contains(&t))
}

/// The largest request body (PutRecords allows 5 MiB of data, in base64).
pub const MAX_BODY: usize = 8 << 20;

/// The largest request head (request line and headers; on HTTP/2 the
/// header list).
pub const MAX_HEAD: usize = 64 << 10;

/// Most requests (streams) an HTTP/2 connection has open at once.
pub const MAX_STREAMS: u32 = 100;

/// Most refusals (503 answers to connections past the limit) under way at
/// once.
pub const MAX_REFUSERS: usize = 64;
