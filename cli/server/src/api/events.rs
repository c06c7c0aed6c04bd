//! `GET /api/events?source=&type=&since=&until=&limit=`: recent camera
//! events read back from the store's events streams
//! ([`Control::event_streams`](crate::control::Control::event_streams)).
//!
//! Each shard is read from `since` (a shard iterator `AT_TIMESTAMP`) or
//! from its oldest record, but never more than its share of
//! [`SCAN_RECORDS`] records back from its end, up to its end when the
//! request came or the first record put after `until`. The newest `limit`
//! records that pass the filter are answered, newest first; so a request
//! costs at most [`SCAN_RECORDS`] records read and `limit` records per
//! shard held, however long the streams are. Times are when the store
//! took each record.

use std::collections::VecDeque;

use axum::Json;
use axum::extract::State;
use osprey_ingest::IngestError;
use osprey_ingest::store::{StartingPosition, Store, time};
use serde::{Deserialize, Serialize};

use super::extract::Params;
use super::filter::EventFilter;
use super::{ApiError, Ctl, blocking};

/// Records answered when `limit` is not given.
const DEFAULT_LIMIT: usize = 100;
/// The most records one request answers.
const MAX_LIMIT: usize = 1000;
/// The most records one request reads, all shards together.
const SCAN_RECORDS: u64 = 100_000;
/// Records a read of a shard returns at most.
const BATCH_RECORDS: usize = 1000;
/// Bytes a read of a shard returns at most.
const BATCH_BYTES: usize = 1 << 20;

/// The query string.
#[derive(Debug, Deserialize)]
pub(super) struct EventsParams {
    /// `source=` and `type=`.
    #[serde(flatten)]
    filter: EventFilter,
    /// Records put at or after this time (ms since the epoch or RFC 3339).
    since: Option<String>,
    /// Records put at or before this time.
    until: Option<String>,
    /// How many (default 100, at most 1000).
    limit: Option<String>,
}

/// One event as answered.
#[derive(Debug, Serialize)]
pub(super) struct StoredEvent {
    /// When the store took it (RFC 3339 UTC).
    time: String,
    /// The stream it was read from.
    stream: String,
    /// Its shard.
    shard: String,
    /// Its sequence number in the shard.
    seq: u64,
    /// The record as the camera wrote it.
    event: serde_json::Value,
}

/// What a request asks for, checked.
struct Ask {
    filter: EventFilter,
    since: Option<i64>,
    until: Option<i64>,
    limit: usize,
}

/// `GET /api/events`.
pub(super) async fn recent(
    State(control): State<Ctl>,
    Params(params): Params<EventsParams>,
) -> Result<Json<Vec<StoredEvent>>, ApiError> {
    let ask = check(params)?;
    blocking(control, move |c| read(c.store(), &c.event_streams(), &ask))
        .await?
        .map(Json)
}

fn check(params: EventsParams) -> Result<Ask, ApiError> {
    let when = |key: &str, text: Option<String>| {
        text.map(|t| {
            time::parse(&t).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "{key} must be milliseconds since the epoch or RFC 3339 UTC, not {t:?}"
                ))
            })
        })
        .transpose()
    };
    let limit = match params.limit {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!("limit must be 1 to {MAX_LIMIT}, not {text:?}"))
            })?,
    };
    Ok(Ask {
        filter: params.filter,
        since: when("since", params.since)?,
        until: when("until", params.until)?,
        limit,
    })
}

/// The newest `ask.limit` records of `streams` that pass, newest first.
fn read(store: &Store, streams: &[String], ask: &Ask) -> Result<Vec<StoredEvent>, ApiError> {
    let mut shards = Vec::new();
    for stream in streams {
        match store.describe_stream(stream) {
            Ok(d) => shards.extend(d.shards.into_iter().map(|s| (stream.clone(), s))),
            // A camera's events stream is created with its first event.
            Err(IngestError::NoSuchStream { .. }) => {}
            Err(e) => return Err(ApiError::internal(e.to_string())),
        }
    }
    let share = SCAN_RECORDS / u64::try_from(shards.len().max(1)).unwrap_or(u64::MAX);
    let mut found = Vec::new();
    for (stream, shard) in &shards {
        let floor = shard
            .trim_horizon_seq
            .max(shard.next_seq.saturating_sub(share));
        found.extend(read_shard(
            store,
            stream,
            &shard.id,
            floor,
            shard.next_seq,
            ask,
        )?);
    }
    found.sort_by_key(|&(time, seq, _)| std::cmp::Reverse((time, seq)));
    found.truncate(ask.limit);
    Ok(found.into_iter().map(|(_, _, e)| e).collect())
}

/// The newest `ask.limit` records that pass in one shard, from sequence
/// number `floor` (or `since`, if later) to `end`, as (time, seq, event).
fn read_shard(
    store: &Store,
    stream: &str,
    shard: &str,
    floor: u64,
    end: u64,
    ask: &Ask,
) -> Result<VecDeque<(i64, u64, StoredEvent)>, ApiError> {
    let internal = |e: IngestError| ApiError::internal(e.to_string());
    let mut kept = VecDeque::with_capacity(ask.limit);
    if floor >= end {
        return Ok(kept);
    }
    let start = match ask.since {
        Some(ms) => {
            let at = store
                .shard_iterator(stream, shard, StartingPosition::AtTimestamp(ms))
                .map_err(internal)?;
            at.next_seq.max(floor)
        }
        None => floor,
    };
    if start >= end {
        return Ok(kept);
    }
    let mut iterator = store
        .shard_iterator(stream, shard, StartingPosition::AtSequence(start))
        .map_err(internal)?;
    loop {
        let batch = store
            .get_records(&iterator, BATCH_RECORDS, BATCH_BYTES)
            .map_err(internal)?;
        for r in &batch.records {
            if r.seq >= end || ask.until.is_some_and(|until| r.timestamp_ms > until) {
                return Ok(kept);
            }
            if !ask.filter.matches(&r.data) {
                continue;
            }
            let Ok(event) = serde_json::from_slice(&r.data) else {
                continue;
            };
            if kept.len() == ask.limit {
                kept.pop_front();
            }
            kept.push_back((
                r.timestamp_ms,
                r.seq,
                StoredEvent {
                    time: time::format_ms(r.timestamp_ms),
                    stream: stream.to_owned(),
                    shard: shard.to_owned(),
                    seq: r.seq,
                    event,
                },
            ));
        }
        match batch.next {
            Some(next) if !batch.records.is_empty() && next.next_seq < end => iterator = next,
            _ => return Ok(kept),
        }
    }
}
