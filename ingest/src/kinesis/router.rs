//! The Kinesis Data Streams API as an axum router ([`KinesisApi`]): JSON 1.1
//! or CBOR ([`cbor`], the Java SDK's), `POST /` with
//! `X-Amz-Target: Kinesis_20131202.<Operation>`, so that the AWS CLI, boto3
//! and the SDKs work against osprey with an endpoint URL.
//! The listener ([`crate::http::HttpServer`]) carries it; the operations
//! are [`api`]'s.
//!
//! Given credentials, every request's SigV4 signature is checked
//! ([`sigv4`]); without, signed requests are accepted unchecked. The
//! operations touch the disk (a put waits for its fsync), so each runs on
//! the API's own threads (`workers`: the most recently idle one takes the
//! next call, its memory still warm), not on the threads that drive
//! connections.
//!
//! The buffers of a call (its body, the records of a PutRecords, its
//! answer) are taken from small pools and given back (the answer once hyper
//! has sent it: it is the owner of the response's `Bytes`), so a busy
//! server allocates little per call, as the thread-per-connection server it
//! replaced did per connection.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::post;
use hyper::StatusCode;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::http::request::Parts;

use super::workers::{MAX_THREADS, Workers};
use super::{api, cbor, iterator, sigv4, subscribe};
use crate::http::{ServeError, abort, error_response, read_body};
use crate::store::Store;

/// How long a SubscribeToShard's request body may take to arrive.
const SUBSCRIBE_BODY_WITHIN: Duration = Duration::from_secs(10);

/// Most sets of call buffers kept for reuse.
const POOLED: usize = 32;

/// The largest body buffer kept for reuse; a larger one is given back to
/// the allocator once its call is answered.
const KEEP_BUFFER: usize = 1 << 20;

/// The largest answer buffer kept for reuse: the largest GetRecords answer
/// (10 MiB of data, in base64, and the records' fields). Made on a worker
/// thread and freed on a connection's, a buffer this size would come back
/// from the allocator as fresh pages to fault in on every call.
const KEEP_ANSWER: usize = 16 << 20;

/// Most bytes of answer buffers kept for reuse, all together (four of the
/// largest: a reader a shard of a 4-shard stream).
const KEEP_ANSWERS: usize = 64 << 20;

/// The Kinesis API over a store, ready to become a router.
#[derive(Debug, Clone)]
pub struct KinesisApi {
    state: Arc<Shared>,
}

/// What every call is served with.
struct Shared {
    store: Arc<Store>,
    /// The cluster's log on a cluster worker: its streams' data calls go
    /// there ([`super::logs`]).
    cluster: std::sync::OnceLock<Arc<dyn crate::log::Log>>,
    iterators: iterator::Iterators,
    credentials: Option<sigv4::Credentials>,
    pool: Mutex<Vec<Buffers>>,
    /// Answer buffers and their capacity in all.
    answers: Mutex<(Vec<Vec<u8>>, usize)>,
    workers: Workers,
    /// How long a SubscribeToShard lasts, in milliseconds.
    subscription_ms: AtomicU64,
}

/// The buffers of one call.
#[derive(Debug, Default)]
struct Buffers {
    body: Vec<u8>,
    scratch: api::Scratch,
}

impl KinesisApi {
    /// The API over `store`: shard iterators valid for `iterator_lifetime`,
    /// requests signed with `credentials` when given.
    ///
    /// # Errors
    /// [`ServeError::Key`]: the shard iterators' key cannot be drawn.
    pub fn new(
        store: Arc<Store>,
        iterator_lifetime: Duration,
        credentials: Option<sigv4::Credentials>,
    ) -> Result<KinesisApi, ServeError> {
        let iterators = iterator::Iterators::new(iterator_lifetime).map_err(ServeError::Key)?;
        Ok(KinesisApi {
            state: Arc::new(Shared {
                store,
                cluster: std::sync::OnceLock::new(),
                iterators,
                credentials,
                pool: Mutex::new(Vec::new()),
                answers: Mutex::new((Vec::new(), 0)),
                workers: Workers::new(MAX_THREADS),
                subscription_ms: AtomicU64::new(millis(subscribe::LIFETIME)),
            }),
        })
    }

    /// Makes a SubscribeToShard last `lifetime` rather than AWS's 5
    /// minutes (shorter for tests).
    #[must_use]
    pub fn subscription_lifetime(self, lifetime: Duration) -> KinesisApi {
        self.state
            .subscription_ms
            .store(millis(lifetime), Ordering::Relaxed);
        self
    }

    /// Serves the data calls of the streams `cluster` holds from it (a
    /// cluster worker's JetStream log), the other streams from the store.
    /// Set once; a second call changes nothing.
    #[must_use]
    pub fn with_cluster(self, cluster: Arc<dyn crate::log::Log>) -> KinesisApi {
        let _ = self.state.cluster.set(cluster);
        self
    }

    /// The router: `POST /` answers the Kinesis operations. Merge it with
    /// other routers (a `GET /` included).
    pub fn router(self) -> Router {
        Router::new().route("/", post(call)).with_state(self.state)
    }
}

impl std::fmt::Debug for Shared {
    // Not the credentials: a secret never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("store", &self.store)
            .field("signed", &self.credentials.is_some())
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn take(&self) -> Buffers {
        self.pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .unwrap_or_default()
    }

    fn give_back(&self, mut buffers: Buffers) {
        if buffers.body.capacity() > KEEP_BUFFER {
            buffers.body = Vec::new();
        }
        let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
        if pool.len() < POOLED {
            pool.push(buffers);
        }
    }

    /// An emptied answer buffer, reused when one is free.
    fn take_answer(&self) -> Vec<u8> {
        let mut answers = self.answers.lock().unwrap_or_else(PoisonError::into_inner);
        let (free, bytes) = &mut *answers;
        free.pop().map_or_else(Vec::new, |out| {
            *bytes -= out.capacity();
            out
        })
    }

    /// Keeps an answer buffer for reuse, within [`KEEP_ANSWER`] and
    /// [`KEEP_ANSWERS`].
    fn give_back_answer(&self, mut out: Vec<u8>) {
        let size = out.capacity();
        if size == 0 || size > KEEP_ANSWER {
            return;
        }
        let mut answers = self.answers.lock().unwrap_or_else(PoisonError::into_inner);
        let (free, bytes) = &mut *answers;
        if *bytes + size <= KEEP_ANSWERS {
            out.clear();
            *bytes += size;
            free.push(out);
        }
    }

    /// Checks the signature and runs the operation; its answer into `out`
    /// (as CBOR when `cbor`) and its status.
    fn answer(&self, parts: &Parts, buffers: &mut Buffers, out: &mut Vec<u8>, cbor: bool) -> u16 {
        let Buffers { body, scratch } = buffers;
        let target = parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok());
        let logs = api::Logs::new(&self.store, self.cluster.get().map(|c| &**c));
        let iterators = &self.iterators;
        let mut json = Vec::new();
        let status = match self.request(parts, body, cbor) {
            Err((name, msg)) => {
                json = api::error_body(name, &msg);
                400
            }
            // JSON answers go straight into `out`.
            Ok(Cow::Borrowed(request)) => {
                return api::handle(&logs, iterators, target, request, scratch, out);
            }
            Ok(Cow::Owned(request)) => {
                api::handle(&logs, iterators, target, &request, scratch, &mut json)
            }
        };
        if cbor {
            cbor::answer_cbor(&json, out);
        } else {
            out.clear();
            out.extend_from_slice(&json);
        }
        status
    }

    /// The JSON request of a call with `body`, its signature checked: the
    /// body itself, or its CBOR read into JSON.
    fn request<'a>(
        &self,
        parts: &Parts,
        body: &'a [u8],
        cbor: bool,
    ) -> Result<Cow<'a, [u8]>, sigv4::Refusal> {
        self.check(parts, body)?;
        if !cbor {
            return Ok(Cow::Borrowed(body));
        }
        cbor::request_json(body)
            .map(Cow::Owned)
            .map_err(|msg| ("SerializationException", msg))
    }

    /// Opens the subscription a SubscribeToShard call with `body` asks for.
    fn subscription(
        self: &Arc<Self>,
        parts: &Parts,
        body: &[u8],
        cbor: bool,
    ) -> Result<subscribe::Subscription, api::ApiError> {
        let request = self
            .request(parts, body, cbor)
            .map_err(|(name, msg)| api::ApiError(name, msg))?;
        let request = if request.iter().all(u8::is_ascii_whitespace) {
            serde_json::Value::Object(serde_json::Map::new())
        } else {
            serde_json::from_slice(&request).map_err(|e| {
                api::ApiError("SerializationException", format!("malformed JSON: {e}"))
            })?
        };
        let lifetime = Duration::from_millis(self.subscription_ms.load(Ordering::Relaxed));
        subscribe::open(&self.store, &request, cbor, lifetime)
    }

    /// Checks the signature of a call with `body`, when the API has
    /// credentials.
    fn check(&self, parts: &Parts, body: &[u8]) -> Result<(), sigv4::Refusal> {
        let Some(credentials) = &self.credentials else {
            return Ok(());
        };
        let headers = sigv4::header_pairs(&parts.headers);
        let uri = &parts.uri;
        let (path, query) = (uri.path(), uri.query().unwrap_or(""));
        sigv4::verify(
            credentials,
            parts.method.as_str(),
            path,
            query,
            &headers,
            body,
        )
    }
}

/// An answer's bytes, given back to their pool once hyper has sent them.
struct Answer {
    out: Vec<u8>,
    shared: Arc<Shared>,
}

impl AsRef<[u8]> for Answer {
    fn as_ref(&self) -> &[u8] {
        &self.out
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        self.shared.give_back_answer(std::mem::take(&mut self.out));
    }
}

/// Serves one call: the body read here, the operation on a worker thread.
async fn call(State(state): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let mut buffers = state.take();
    // A subscription is exempt from the request timeout: its body is
    // bounded in time here.
    let read = read_body(body, &mut buffers.body);
    let read = if is_subscription(&parts) {
        match tokio::time::timeout(SUBSCRIBE_BODY_WITHIN, read).await {
            Ok(read) => read,
            Err(_) => Err(abort()),
        }
    } else {
        read.await
    };
    if let Err(refused) = read {
        state.give_back(buffers);
        return refused;
    }
    let cbor = cbor::wanted(
        parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
    );
    if is_subscription(&parts) {
        return subscription_call(state, parts, buffers, cbor).await;
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    let shared = Arc::clone(&state);
    state.workers.run(move || {
        let mut out = shared.take_answer();
        let status = shared.answer(&parts, &mut buffers, &mut out, cbor);
        shared.give_back(buffers);
        // A caller gone (its connection closed) drops the answer, which
        // gives the buffer back.
        let _ = tx.send((status, Answer { out, shared }));
    });
    match rx.await {
        Ok((status, answer)) => {
            let mut response = Response::new(Body::from(bytes::Bytes::from_owner(answer)));
            *response.status_mut() =
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type(cbor)));
            headers.insert("x-amzn-RequestId", HeaderValue::from_static("osprey"));
            response
        }
        Err(_) => panicked(),
    }
}

/// The content type of an answer, CBOR or JSON.
fn content_type(cbor: bool) -> &'static str {
    if cbor {
        cbor::CONTENT_TYPE
    } else {
        "application/x-amz-json-1.1"
    }
}

/// The answer to an operation that panicked.
fn panicked() -> Response {
    tracing::error!("A Kinesis operation failed (it panicked).");
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalFailure",
        "the operation failed; retry later",
    )
}

/// Whether a call is a SubscribeToShard, whose answer is a long stream.
fn is_subscription(parts: &Parts) -> bool {
    crate::http::is_streaming_target(&parts.headers)
}

/// Serves a SubscribeToShard: checked on a worker thread, then its events
/// streamed by a task of their own.
async fn subscription_call(
    state: Arc<Shared>,
    parts: Parts,
    buffers: Buffers,
    cbor: bool,
) -> Response {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let shared = Arc::clone(&state);
    state.workers.run(move || {
        let opened = shared.subscription(&parts, &buffers.body, cbor);
        shared.give_back(buffers);
        let _ = tx.send(opened);
    });
    let (status, body, content_type) = match rx.await {
        Ok(Ok(subscription)) => (StatusCode::OK, subscription.body(), subscribe::CONTENT_TYPE),
        Ok(Err(api::ApiError(name, msg))) => {
            let json = api::error_body(name, &msg);
            let answer = if cbor {
                let mut out = Vec::new();
                cbor::answer_cbor(&json, &mut out);
                out
            } else {
                json
            };
            let status = if name == "InternalFailure" {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::BAD_REQUEST
            };
            (status, Body::from(answer), content_type(cbor))
        }
        Err(_) => return panicked(),
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert("x-amzn-RequestId", HeaderValue::from_static("osprey"));
    response
}

/// Whole milliseconds of `d`, saturating.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreConfig;
    use axum::routing::get;
    use tower::ServiceExt as _;

    async fn send(router: &Router, method: &str, target: Option<&str>) -> (u16, String) {
        let mut request = Request::builder().method(method).uri("/");
        if let Some(target) = target {
            request = request.header("x-amz-target", target);
        }
        let response = router
            .clone()
            .oneshot(request.body(Body::from("{}")).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_answer_buffer_goes_back_to_its_pool_once_sent() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path(), StoreConfig::default()).unwrap());
        let api = KinesisApi::new(store, Duration::from_secs(300), None).unwrap();
        let shared = Arc::clone(&api.state);
        let router = api.router();
        let pooled = || shared.answers.lock().unwrap().0.len();
        for _ in 0..3 {
            let (status, body) = send(&router, "POST", Some("Kinesis_20131202.ListStreams")).await;
            assert_eq!(status, 200, "{body}");
            // The one buffer, taken by each call and given back after it.
            assert_eq!(pooled(), 1);
        }
        // One kept while its answer is still unsent, and a second for the
        // next call meanwhile.
        let request = Request::builder()
            .method("POST")
            .uri("/")
            .header("x-amz-target", "Kinesis_20131202.ListStreams")
            .body(Body::from("{}"))
            .unwrap();
        let unsent = router.clone().oneshot(request).await.unwrap();
        assert_eq!(pooled(), 0);
        send(&router, "POST", Some("Kinesis_20131202.ListStreams")).await;
        assert_eq!(pooled(), 1);
        drop(unsent);
        assert_eq!(pooled(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_api_merges_with_a_router_that_serves_get_slash() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path(), StoreConfig::default()).unwrap());
        let api = KinesisApi::new(store, Duration::from_secs(300), None).unwrap();
        let router = Router::new()
            .route("/", get(|| async { "the dashboard" }))
            .merge(api.router());
        assert_eq!(
            send(&router, "GET", None).await,
            (200, "the dashboard".into())
        );
        let (status, body) = send(&router, "POST", Some("Kinesis_20131202.ListStreams")).await;
        assert_eq!(status, 200);
        assert!(body.contains(r#""StreamNames":[]"#), "{body}");
        let (status, body) = send(&router, "POST", None).await;
        assert_eq!(status, 400);
        assert!(body.contains("UnknownOperationException"), "{body}");
    }
}
