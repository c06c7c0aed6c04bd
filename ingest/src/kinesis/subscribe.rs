//! `SubscribeToShard`: a registered consumer's records pushed as they
//! arrive, in the AWS event-stream framing ([`eventstream`]): an
//! `initial-response` event, then `SubscribeToShardEvent`s, each with the
//! records read since the last (at most [`EVENT_BYTES`] of data), the
//! `ContinuationSequenceNumber` to subscribe again from (the last record's,
//! for `AFTER_SEQUENCE_NUMBER`), `MillisBehindLatest`, and, once a closed
//! shard is drained, its `ChildShards` (the last event). An event goes out
//! when records came, and at least every second when none did.
//!
//! A subscription lasts [`LIFETIME`] (AWS's 5 minutes) unless told shorter,
//! and ends early when its client goes away; at most [`AHEAD`] events wait
//! to be sent, so a slow client holds little memory. Payloads are JSON, or
//! CBOR when the request was.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::Frame;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::api::{ApiError, error_body, invalid, starting_position, str_field};
use super::{cbor, consumers, eventstream};
use crate::store::{GetRecords, ShardIterator, Store};

/// How long a subscription lasts, as AWS's do.
pub(crate) const LIFETIME: Duration = Duration::from_secs(300);

/// Most bytes of record data in one event.
pub(crate) const EVENT_BYTES: usize = 1 << 20;

/// Most events waiting to be sent.
const AHEAD: usize = 2;

/// How often a caught-up subscription looks for new records.
const POLL: Duration = Duration::from_millis(100);

/// How long a subscription with nothing new stays silent at most.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// The content type of the answer.
pub(crate) const CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

/// A subscription checked and ready to push.
#[derive(Debug)]
pub(crate) struct Subscription {
    store: Arc<Store>,
    iterator: ShardIterator,
    cbor: bool,
    lifetime: Duration,
}

/// Checks a SubscribeToShard request (`ConsumerARN`, `ShardId`,
/// `StartingPosition`) and finds where it starts.
///
/// # Errors
/// An unknown consumer or shard, a bad position.
pub(crate) fn open(
    store: &Arc<Store>,
    req: &Value,
    cbor: bool,
    lifetime: Duration,
) -> Result<Subscription, ApiError> {
    if req.get("ConsumerARN").is_none() {
        return Err(invalid("ConsumerARN is required"));
    }
    let (stream, _) = consumers::find(store, req)?;
    let shard = str_field(req, "ShardId")?;
    let position = req
        .get("StartingPosition")
        .ok_or_else(|| invalid("StartingPosition is required"))?;
    let position = starting_position(position, ["Type", "SequenceNumber", "Timestamp"])?;
    let iterator = store.shard_iterator(&stream, shard, position)?;
    Ok(Subscription {
        store: Arc::clone(store),
        iterator,
        cbor,
        lifetime,
    })
}

impl Subscription {
    /// The answer's body: the events, pushed by a task of their own.
    pub(crate) fn body(self) -> axum::body::Body {
        let (tx, rx) = mpsc::channel(AHEAD);
        tokio::spawn(self.push(tx));
        axum::body::Body::new(Events(rx))
    }

    fn payload(&self, json: &[u8]) -> (Vec<u8>, &'static str) {
        if self.cbor {
            let mut out = Vec::new();
            cbor::answer_cbor(json, &mut out);
            (out, cbor::CONTENT_TYPE)
        } else {
            (json.to_vec(), "application/json")
        }
    }

    async fn push(self, tx: mpsc::Sender<Bytes>) {
        let (payload, content_type) = self.payload(b"{}");
        if tx
            .send(eventstream::event(
                "initial-response",
                content_type,
                &payload,
            ))
            .await
            .is_err()
        {
            return;
        }
        let deadline = Instant::now() + self.lifetime;
        let mut at = Some(self.iterator.clone());
        let mut continuation = self.iterator.next_seq.saturating_sub(1);
        let mut last_event = Instant::now();
        while let Some(iterator) = at.take() {
            let store = Arc::clone(&self.store);
            let read = tokio::task::spawn_blocking(move || {
                store.get_records(&iterator, 10_000, EVENT_BYTES)
            })
            .await;
            let got = match read {
                Ok(Ok(got)) => got,
                Ok(Err(e)) => {
                    let ApiError(name, msg) = e.into();
                    let (payload, content_type) = self.payload(&error_body(name, &msg));
                    let _ = tx
                        .send(eventstream::exception(name, content_type, &payload))
                        .await;
                    return;
                }
                Err(_) => return,
            };
            if let Some(last) = got.records.last() {
                continuation = last.seq;
            }
            let drained = got.next.is_none();
            let due = !got.records.is_empty() || drained || last_event.elapsed() >= HEARTBEAT;
            if due {
                let json = self.event_json(&got, continuation);
                let (payload, content_type) = self.payload(&json);
                let event = eventstream::event("SubscribeToShardEvent", content_type, &payload);
                if tx.send(event).await.is_err() {
                    return;
                }
                last_event = Instant::now();
            }
            if drained || Instant::now() >= deadline {
                return;
            }
            if got.records.is_empty() {
                tokio::time::sleep(POLL).await;
            }
            at = got.next;
        }
    }

    /// A SubscribeToShardEvent's JSON.
    fn event_json(&self, got: &GetRecords, continuation: u64) -> Vec<u8> {
        let records: Vec<Value> = got.records.iter().map(super::api::record_value).collect();
        let mut event = json!({
            "Records": records,
            "ContinuationSequenceNumber": continuation.to_string(),
            "MillisBehindLatest": got.millis_behind_latest,
        });
        if got.next.is_none() {
            event["ChildShards"] = self.children().into();
        }
        serde_json::to_vec(&event).unwrap_or_default()
    }

    /// The shards the drained one was split or merged into.
    fn children(&self) -> Vec<Value> {
        let Ok(meta) = self.store.stream_meta(&self.iterator.stream) else {
            return Vec::new();
        };
        let shard = self.iterator.shard.as_str();
        meta.shards
            .iter()
            .filter(|s| s.parents().any(|p| p == shard))
            .map(|s| {
                json!({
                    "ShardId": s.id,
                    "ParentShards": s.parents().collect::<Vec<_>>(),
                    "HashKeyRange": {
                        "StartingHashKey": s.hash_start.to_string(),
                        "EndingHashKey": s.hash_end.to_string(),
                    },
                })
            })
            .collect()
    }
}

/// The answer's body: the events as they come.
struct Events(mpsc::Receiver<Bytes>);

impl hyper::body::Body for Events {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|event| event.map(|bytes| Ok(Frame::data(bytes))))
    }
}
