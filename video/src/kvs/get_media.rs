//! GetMedia (`POST /getMedia`) and GetMediaForFragmentList: fragments as
//! one streamed Matroska (`video/webm`, as KVS answers): a header with the
//! track, then each fragment's clusters and tags ([`super::mkv::writer`]);
//! a new header where the track changes. GetMedia starts where its
//! `StartSelector` says (`EARLIEST`, `NOW`, `FRAGMENT_NUMBER`,
//! `SERVER_TIMESTAMP`, `PRODUCER_TIMESTAMP`, `CONTINUATION_TOKEN`: the
//! fragment after the one whose token it is) and follows the stream as
//! fragments are appended, until the client goes or no fragment comes for
//! the API's live idle time. A few fragments are made ahead of the client
//! at most.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::{IntoResponse as _, Response};
use bytes::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use osprey_ingest::video::{FragmentMeta, Track};
use serde_json::Value;
use tokio::sync::mpsc;

use super::error::KvsError;
use super::mkv::writer;
use super::put_media::now_ns;
use super::request::{stream_in, text, timestamp};
use super::{Shared, blocking, channel_body};

/// Chunks (a fragment each, or a header) made ahead of the client.
const AHEAD: usize = 4;

/// Most fragments GetMediaForFragmentList takes (as KVS).
const MAX_LIST: usize = 1000;

/// Serves GetMedia.
pub(crate) async fn get_media(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match shared.json_call(&parts, body).await {
        Ok((_, body)) => body,
        Err(response) => return response,
    };
    let worker = Arc::clone(&shared);
    let start = blocking(move || start_of(&worker, &body)).await;
    match start {
        Ok((name, from)) => {
            let (tx, rx) = mpsc::channel(AHEAD);
            tokio::spawn(async move {
                let mut sender = Sender::new(Arc::clone(&shared), name, tx);
                sender.follow(from).await;
            });
            media_response(rx)
        }
        Err(e) => e.into_response(),
    }
}

/// Serves GetMediaForFragmentList.
pub(crate) async fn get_media_for_fragment_list(
    State(shared): State<Arc<Shared>>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = match shared.json_call(&parts, body).await {
        Ok((_, body)) => body,
        Err(response) => return response,
    };
    let worker = Arc::clone(&shared);
    let listed = blocking(move || {
        let info = stream_in(&worker.store, &body)?;
        let numbers = numbers(&body)?;
        let kept = worker.store.fragments(&info.name, None)?;
        if let Some(missing) = numbers
            .iter()
            .find(|&&n| kept.binary_search_by_key(&n, |m| m.number).is_err())
        {
            return Err(KvsError::not_found(format!(
                "stream {:?} has no fragment {missing}",
                info.name
            )));
        }
        Ok((info.name, numbers))
    })
    .await;
    match listed {
        Ok((name, numbers)) => {
            let (tx, rx) = mpsc::channel(AHEAD);
            tokio::spawn(async move {
                let mut sender = Sender::new(Arc::clone(&shared), name, tx);
                for number in numbers {
                    if sender.send(number).await.is_err() {
                        return;
                    }
                }
            });
            media_response(rx)
        }
        Err(e) => e.into_response(),
    }
}

/// The fragment numbers a GetMediaForFragmentList names.
fn numbers(body: &Value) -> Result<Vec<u64>, KvsError> {
    let bad = || KvsError::invalid("Fragments must be a list of fragment numbers");
    let list = body
        .get("Fragments")
        .and_then(Value::as_array)
        .ok_or_else(bad)?;
    if list.is_empty() || list.len() > MAX_LIST {
        return Err(KvsError::invalid(format!(
            "Fragments must name 1 to {MAX_LIST} fragments"
        )));
    }
    list.iter()
        .map(|n| n.as_str().and_then(|n| n.parse().ok()).ok_or_else(bad))
        .collect()
}

fn media_response(rx: mpsc::Receiver<Bytes>) -> Response {
    let mut response = Response::new(channel_body(rx));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("video/webm"));
    response
}

/// The stream a GetMedia reads and the first fragment number it may send.
fn start_of(shared: &Shared, body: &Value) -> Result<(String, u64), KvsError> {
    let info = stream_in(&shared.store, body)?;
    let selector = body
        .get("StartSelector")
        .ok_or_else(|| KvsError::invalid("StartSelector is needed"))?;
    let kept = shared.store.fragments(&info.name, None)?;
    let after_last = kept.last().map_or(0, |m| m.number + 1);
    let first_where = |keep: &dyn Fn(&FragmentMeta) -> bool| {
        kept.iter()
            .find(|m| keep(m))
            .map_or(after_last, |m| m.number)
    };
    let needs = |field: &str| KvsError::invalid(format!("this StartSelectorType needs {field}"));
    let from = match text(selector, "StartSelectorType")? {
        Some("EARLIEST") => kept.first().map_or(0, |m| m.number),
        Some("NOW") => after_last,
        Some("FRAGMENT_NUMBER") => text(selector, "AfterFragmentNumber")?
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| needs("AfterFragmentNumber"))?,
        Some("CONTINUATION_TOKEN") => text(selector, "ContinuationToken")?
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| needs("a ContinuationToken this server gave"))?
            .saturating_add(1),
        Some("SERVER_TIMESTAMP") => {
            let t =
                timestamp(selector, "StartTimestamp")?.ok_or_else(|| needs("StartTimestamp"))?;
            first_where(&|m| m.server_ns >= t)
        }
        Some("PRODUCER_TIMESTAMP") => {
            let t =
                timestamp(selector, "StartTimestamp")?.ok_or_else(|| needs("StartTimestamp"))?;
            first_where(&|m| m.producer_ns.saturating_add(m.duration_ns) > t)
        }
        _ => {
            return Err(KvsError::invalid(
                "StartSelectorType must be NOW, EARLIEST, FRAGMENT_NUMBER, SERVER_TIMESTAMP, \
                 PRODUCER_TIMESTAMP or CONTINUATION_TOKEN",
            ));
        }
    };
    Ok((info.name, from))
}

/// Why sending stopped: the client went or the stream is unreadable.
#[derive(Debug)]
struct Stop;

/// Sends fragments of one stream as Matroska.
struct Sender {
    shared: Arc<Shared>,
    name: String,
    tx: mpsc::Sender<Bytes>,
    track: Option<Track>,
}

impl Sender {
    fn new(shared: Arc<Shared>, name: String, tx: mpsc::Sender<Bytes>) -> Sender {
        Sender {
            shared,
            name,
            tx,
            track: None,
        }
    }

    /// Sends fragment `number` (after a header when its track is new).
    async fn send(&mut self, number: u64) -> Result<(), Stop> {
        let (store, name) = (Arc::clone(&self.shared.store), self.name.clone());
        let fragment = blocking(move || Ok(store.read(&name, number)?))
            .await
            .map_err(|e| {
                tracing::debug!(error = ?e, "GetMedia stopped.");
                Stop
            })?;
        if self.track.as_ref() != Some(&fragment.track) {
            let header = writer::header(&fragment.track);
            self.tx.send(Bytes::from(header)).await.map_err(|_| Stop)?;
            self.track = Some(fragment.track.clone());
        }
        let bytes = writer::fragment(&fragment, now_ns());
        self.tx.send(Bytes::from(bytes)).await.map_err(|_| Stop)
    }

    /// Sends every fragment numbered `from` on, then those appended, until
    /// the client goes or none comes for the live idle time.
    async fn follow(&mut self, from: u64) {
        let Ok(mut newest) = self.shared.store.subscribe(&self.name) else {
            return;
        };
        let mut next = from;
        loop {
            newest.borrow_and_update();
            let (store, name) = (Arc::clone(&self.shared.store), self.name.clone());
            let Ok(kept) = blocking(move || Ok(store.fragments(&name, None)?)).await else {
                return;
            };
            let due: Vec<u64> = kept
                .iter()
                .map(|m| m.number)
                .filter(|&n| n >= next)
                .take(AHEAD)
                .collect();
            if due.is_empty() {
                let idle = self.shared.live_idle;
                match tokio::time::timeout(idle, newest.changed()).await {
                    Ok(Ok(())) => continue,
                    _ => return,
                }
            }
            for number in due {
                if self.send(number).await.is_err() {
                    return;
                }
                next = number + 1;
            }
        }
    }
}
