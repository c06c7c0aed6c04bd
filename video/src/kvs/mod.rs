//! The Kinesis Video Streams API (REST-JSON, as AWS defines it) over the
//! store's video streams, so that boto3's `kinesisvideo`,
//! `kinesis-video-media` and `kinesis-video-archived-media` clients and the
//! producer SDKs work with an endpoint URL: control (CreateStream,
//! DescribeStream, ListStreams, DeleteStream, UpdateDataRetention,
//! GetDataEndpoint, tags: `control`), media (PutMedia: `put_media`,
//! GetMedia: `get_media`) and archived media (ListFragments,
//! GetMediaForFragmentList, GetClip, GetImages: `archived`; HLS: `hls`);
//! docs/kvs.md lists what is served and what is not.
//!
//! Errors are AWS's REST-JSON errors (`error`); given credentials, every
//! call but the HLS GETs (which carry their session's token) must be signed
//! (SigV4; PutMedia's streamed body as `x-amz-content-sha256` declares it,
//! `UNSIGNED-PAYLOAD` by default). Store work runs on tokio's blocking pool.

mod archived;
mod control;
mod error;
mod get_media;
mod hls;
mod mkv;
mod put_media;
mod request;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::{IntoResponse as _, Response};
use axum::routing::{MethodRouter, get, post};
use osprey_ingest::kinesis::sigv4::Credentials;
use osprey_ingest::video::VideoStore;
use serde_json::Value;

pub use self::hls::{HlsFileError, hls_file};

use self::error::KvsError;
use self::request::{Call, json_response};

/// How long GetMedia waits for a new fragment before it ends its answer.
pub const DEFAULT_LIVE_IDLE: Duration = Duration::from_secs(3);

/// How long PutMedia waits for the producer's next bytes before it ends.
pub const PUT_MEDIA_IDLE: Duration = Duration::from_secs(30);

/// The KVS API on a video store; [`KvsApi::router`] serves it.
#[derive(Debug)]
pub struct KvsApi {
    store: Arc<VideoStore>,
    credentials: Option<Credentials>,
    scheme: &'static str,
    live_idle: Duration,
}

/// What every call is served with.
pub(crate) struct Shared {
    store: Arc<VideoStore>,
    credentials: Option<Credentials>,
    scheme: &'static str,
    live_idle: Duration,
    sessions: hls::Sessions,
}

impl std::fmt::Debug for Shared {
    // Not the credentials: a secret never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("store", &self.store.dir())
            .field("signed", &self.credentials.is_some())
            .finish_non_exhaustive()
    }
}

impl KvsApi {
    /// The API over `store`, checking SigV4 when `credentials` are given.
    #[must_use]
    pub fn new(store: Arc<VideoStore>, credentials: Option<Credentials>) -> KvsApi {
        KvsApi {
            store,
            credentials,
            scheme: "http",
            live_idle: DEFAULT_LIVE_IDLE,
        }
    }

    /// The scheme clients reach it by (`https` behind TLS), for the URLs it
    /// answers (GetDataEndpoint, HLS); `http` unless told.
    #[must_use]
    pub fn with_scheme(mut self, scheme: &'static str) -> KvsApi {
        self.scheme = scheme;
        self
    }

    /// How long GetMedia follows a stream with no new fragment before it
    /// ends its answer ([`DEFAULT_LIVE_IDLE`] unless told).
    #[must_use]
    pub fn with_live_idle(mut self, idle: Duration) -> KvsApi {
        self.live_idle = idle;
        self
    }

    /// Its routes (`POST /createStream`, `/putMedia`, `/getClip`, ... and
    /// the HLS playlist and segment GETs under `/hls/v1/`), to merge into
    /// the server's router beside the Kinesis API's `POST /`.
    pub fn router(self) -> Router {
        let shared = Arc::new(Shared {
            store: self.store,
            credentials: self.credentials,
            scheme: self.scheme,
            live_idle: self.live_idle,
            sessions: hls::Sessions::default(),
        });
        Router::new()
            .route("/createStream", op(control::create_stream))
            .route("/describeStream", op(control::describe_stream))
            .route("/listStreams", op(control::list_streams))
            .route("/deleteStream", op(control::delete_stream))
            .route("/updateDataRetention", op(control::update_data_retention))
            .route("/getDataEndpoint", op(control::get_data_endpoint))
            .route("/tagStream", op(control::tag_stream))
            .route("/untagStream", op(control::untag_stream))
            .route("/listTagsForStream", op(control::list_tags_for_stream))
            .route("/listFragments", op(archived::list_fragments))
            .route("/getImages", op(archived::get_images))
            .route("/getHLSStreamingSessionURL", op(hls::get_session_url))
            .route("/putMedia", post(put_media::put_media))
            .route("/getMedia", post(get_media::get_media))
            .route(
                "/getMediaForFragmentList",
                post(get_media::get_media_for_fragment_list),
            )
            .route("/getClip", post(archived::get_clip))
            .route("/hls/v1/{file}", get(hls::serve_file))
            .with_state(shared)
    }
}

/// An operation that answers JSON, run on the blocking pool.
type JsonOp = fn(&Shared, &Call, &Value) -> Result<Value, KvsError>;

/// The route of a JSON operation.
fn op(operation: JsonOp) -> MethodRouter<Arc<Shared>> {
    post(move |State(shared): State<Arc<Shared>>, request: Request| {
        json_call(shared, request, operation)
    })
}

/// Serves one JSON operation.
async fn json_call(shared: Arc<Shared>, request: Request, operation: JsonOp) -> Response {
    let (parts, body) = request.into_parts();
    let (call, body) = match shared.json_call(&parts, body).await {
        Ok(parsed) => parsed,
        Err(response) => return response,
    };
    let done = tokio::task::spawn_blocking(move || operation(&shared, &call, &body)).await;
    match done {
        Ok(Ok(value)) => json_response(&value),
        Ok(Err(e)) => e.into_response(),
        Err(e) => KvsError::internal("an operation", &e).into_response(),
    }
}

/// A response body streamed from `chunks` until their sender goes.
fn channel_body(chunks: tokio::sync::mpsc::Receiver<bytes::Bytes>) -> axum::body::Body {
    axum::body::Body::from_stream(futures_util::stream::unfold(
        chunks,
        |mut chunks| async move {
            let chunk = chunks.recv().await?;
            Some((Ok::<_, std::convert::Infallible>(chunk), chunks))
        },
    ))
}

/// Runs store work on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, KvsError> + Send + 'static,
) -> Result<T, KvsError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| Err(KvsError::internal("store work", &e)))
}

#[cfg(test)]
mod tests;
