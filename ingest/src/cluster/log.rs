//! JetStream as the [`Log`] of osprey streams.
//!
//! Stream `S` of `n` shards is the JetStream stream `OSPREY_S` on the
//! subjects `osprey.S.*`, one subject per shard (`osprey.S.shardId-...`),
//! the shards' hash-key ranges those the store gives `n` shards. A put is
//! a publish acknowledged by JetStream, with the partition key (its
//! explicit hash key, and the record id, as `Nats-Msg-Id`, JetStream's
//! de-duplication) in headers; a batch's publishes go out together, at
//! most [`PUT_WINDOW`] unacknowledged at once, and each record is answered
//! once JetStream acknowledged it. A shard is read by an ordered consumer
//! filtered on its subject, from a stream sequence (it asks for 200
//! messages at a time, what one shard's reader holds at most); a Kinesis
//! GetRecords is one fetch, without waiting, of a short-lived consumer
//! from the iterator's sequence. Sequence numbers are JetStream's stream
//! sequences (growing within each shard, not dense).

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, consumer, stream};
use futures_util::{Stream, StreamExt as _};
use serde::{Deserialize, Serialize};

use super::{CALL_TIMEOUT, Cluster, ClusterError, call_error, check_name};
use crate::error::{IngestError, Result};
use crate::log::{Log, LogReader, ShardRange, route};
use crate::store::{
    Checkpoint, GetRecords, PutAck, PutOutcome, PutRecord, Record, ShardDescription, ShardIterator,
    StartingPosition, StreamDescription,
};

/// The header holding a record's partition key.
pub const PARTITION_KEY: &str = "Osprey-Partition-Key";

/// The header holding a record's explicit hash key (decimal), if it has
/// one.
pub const EXPLICIT_HASH_KEY: &str = "Osprey-Explicit-Hash-Key";

/// The header JetStream de-duplicates by: the record's id.
const MSG_ID: &str = "Nats-Msg-Id";

/// Publishes of one put awaiting their acknowledgements at most.
pub const PUT_WINDOW: usize = 256;

/// How long a GetRecords' consumer lives on the server if it is not
/// deleted (the worker died between its fetch and its delete).
const FETCH_CONSUMER_LIFE: Duration = Duration::from_secs(30);

/// The longest a reader's wait lasts, so a stop is seen within it.
const WAIT_STEP: Duration = Duration::from_millis(250);

/// Cluster streams whose shard counts a worker keeps at most.
const MAX_KNOWN_STREAMS: usize = 4096;

/// A cluster stream as the bucket of streams keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StreamInfo {
    shards: u32,
}

/// The JetStream stream of osprey stream `stream`.
pub fn jetstream_name(stream: &str) -> String {
    format!("OSPREY_{stream}")
}

/// The subject of `shard` of `stream`.
pub fn subject(stream: &str, shard: &str) -> String {
    format!("osprey.{stream}.{shard}")
}

impl Cluster {
    /// Makes stream `name` of `shards` shards, keeping records for
    /// `retention_hours`, unless the cluster has it (then with the same
    /// shard count).
    ///
    /// # Errors
    /// A bad name, another shard count, the server's refusal.
    pub fn create_stream(
        &self,
        name: &str,
        shards: u32,
        retention_hours: u32,
    ) -> std::result::Result<(), ClusterError> {
        check_name("stream", name)?;
        let config = stream::Config {
            name: jetstream_name(name),
            subjects: vec![format!("osprey.{name}.*")],
            max_age: Duration::from_secs(u64::from(retention_hours) * 3600),
            ..Default::default()
        };
        self.call(
            "create a JetStream stream",
            CALL_TIMEOUT,
            self.js.get_or_create_stream(config),
        )?;
        let info =
            serde_json::to_vec(&StreamInfo { shards }).map_err(|e| call_error("encode", e))?;
        let made = self
            .runtime
            .handle()
            .block_on(self.streams.create(name, info.into()));
        if made.is_err() {
            let found = self.shard_count(name)?;
            if found != shards {
                return Err(ClusterError::ShardCount {
                    stream: name.to_owned(),
                    found,
                    wanted: shards,
                });
            }
        }
        Ok(())
    }

    /// The shard count of stream `name`, read from the bucket once and
    /// then kept (a cluster stream is neither split nor merged).
    fn shard_count(&self, name: &str) -> std::result::Result<u32, ClusterError> {
        let known = self
            .shard_counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(&n) = known.get(name) {
            return Ok(n);
        }
        drop(known);
        let value = self.call("read a stream", CALL_TIMEOUT, self.streams.get(name))?;
        let info: StreamInfo = value
            .and_then(|v| serde_json::from_slice(&v).ok())
            .ok_or_else(|| ClusterError::NoSuchStream(name.to_owned()))?;
        let mut known = self
            .shard_counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if known.len() < MAX_KNOWN_STREAMS {
            known.insert(name.to_owned(), info.shards);
        }
        Ok(info.shards)
    }

    /// A reader of `shard` of `stream` from sequence `from` (the next to
    /// read) whose checkpoints go to `checkpoint` (the lease writes them).
    ///
    /// # Errors
    /// The consumer cannot be made.
    pub fn shard_reader(
        self: &Arc<Self>,
        stream: &str,
        shard: &str,
        from: u64,
        checkpoint: Arc<Mutex<Option<u64>>>,
    ) -> std::result::Result<ShardReader, ClusterError> {
        let messages = self.ordered(stream, shard, from)?;
        Ok(ShardReader {
            cluster: Arc::clone(self),
            shard: shard.to_owned(),
            messages,
            pending: VecDeque::new(),
            positions: Checkpoint::from([(shard.to_owned(), from)]),
            checkpoint,
        })
    }

    /// The sequence a reader of `stream` starting at `from` starts at.
    ///
    /// # Errors
    /// A position the cluster does not take; the stream cannot be read.
    pub fn start_seq(
        &self,
        stream: &str,
        from: StartingPosition,
    ) -> std::result::Result<u64, ClusterError> {
        let last = || -> std::result::Result<u64, ClusterError> {
            let mut s = self.call(
                "read a stream",
                CALL_TIMEOUT,
                self.js.get_stream(jetstream_name(stream)),
            )?;
            let info = self.call("read a stream", CALL_TIMEOUT, s.info())?;
            Ok(info.state.last_sequence)
        };
        match from {
            StartingPosition::TrimHorizon => Ok(1),
            StartingPosition::Latest => Ok(last()? + 1),
            StartingPosition::AtSequence(n) => Ok(n.max(1)),
            StartingPosition::AfterSequence(n) => Ok(n.saturating_add(1)),
            StartingPosition::AtTimestamp(_) => Err(ClusterError::Unsupported(
                "a time starting position is not supported on a cluster stream yet".into(),
            )),
        }
    }

    fn ordered(
        &self,
        stream: &str,
        shard: &str,
        from: u64,
    ) -> std::result::Result<Messages, ClusterError> {
        let config = consumer::pull::OrderedConfig {
            filter_subject: subject(stream, shard),
            deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                start_sequence: from.max(1),
            },
            ..Default::default()
        };
        self.call("read a shard", CALL_TIMEOUT, async {
            let s = self.js.get_stream(jetstream_name(stream)).await?;
            let c = s.create_consumer(config).await?;
            let m = c.messages().await?;
            Ok::<_, async_nats::Error>(Box::pin(m) as Messages)
        })
    }
}

/// One shard's messages as an ordered consumer delivers them.
type Messages = Pin<
    Box<
        dyn Stream<Item = std::result::Result<jetstream::Message, consumer::pull::OrderedError>>
            + Send,
    >,
>;

/// `e` as the log's error: a missing stream as the store says it (the
/// Kinesis API answers it as `ResourceNotFoundException`), what the
/// cluster does not do as an invalid argument.
fn log_error(e: ClusterError) -> IngestError {
    match e {
        ClusterError::NoSuchStream(stream) => IngestError::NoSuchStream { stream },
        ClusterError::Unsupported(what) => IngestError::InvalidArgument(what),
        e => e.into(),
    }
}

/// The headers a record is published with.
fn headers_of(record: &PutRecord) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(PARTITION_KEY, record.partition_key.as_str());
    if let Some(key) = record.explicit_hash_key {
        headers.insert(EXPLICIT_HASH_KEY, key.to_string().as_str());
    }
    if let Some(id) = &record.id {
        headers.insert(MSG_ID, id.as_str());
    }
    headers
}

impl Cluster {
    /// Publishes `records` to their shards of `stream` (of `shards`), at
    /// most [`PUT_WINDOW`] awaiting their acknowledgements, and answers
    /// each once JetStream acknowledged it.
    async fn publish_all(
        &self,
        stream: &str,
        shards: &[ShardRange],
        records: &[PutRecord],
    ) -> Vec<PutOutcome> {
        let failed =
            |e: &dyn std::fmt::Display| -> IngestError { call_error("put a record", e).into() };
        let mut out = Vec::with_capacity(records.len());
        for chunk in records.chunks(PUT_WINDOW) {
            let mut sent = Vec::with_capacity(chunk.len());
            for record in chunk {
                let routed = record.validate().and_then(|()| {
                    route(shards, record.hash_key())
                        .ok_or_else(|| IngestError::Internal("a hash key in no shard".into()))
                });
                let range = match routed {
                    Ok(found) => found,
                    Err(e) => {
                        sent.push(Err(e));
                        continue;
                    }
                };
                let data = bytes::Bytes::from(record.data.clone());
                let publish = self.js.publish_with_headers(
                    subject(stream, &range.id),
                    headers_of(record),
                    data,
                );
                sent.push(match tokio::time::timeout(CALL_TIMEOUT, publish).await {
                    Ok(Ok(ack)) => Ok((Arc::from(range.id.as_str()), ack)),
                    Ok(Err(e)) => Err(failed(&e)),
                    Err(_) => Err(failed(&"timed out")),
                });
            }
            for publish in sent {
                out.push(match publish {
                    Err(e) => Err(e),
                    Ok((shard, ack)) => match tokio::time::timeout(CALL_TIMEOUT, ack).await {
                        Ok(Ok(ack)) => Ok(PutAck {
                            shard,
                            seq: ack.sequence,
                        }),
                        Ok(Err(e)) => Err(failed(&e)),
                        Err(_) => Err(failed(&"timed out")),
                    },
                });
            }
        }
        out
    }

    /// Up to `max_records` records of `iterator`'s shard from its sequence,
    /// what JetStream has now: one fetch, without waiting, of a consumer
    /// made for it and deleted after.
    async fn fetch(
        &self,
        iterator: &ShardIterator,
        max_records: usize,
        max_bytes: usize,
    ) -> std::result::Result<Vec<Record>, async_nats::Error> {
        let s = self.js.get_stream(jetstream_name(&iterator.stream)).await?;
        let config = consumer::pull::Config {
            filter_subject: subject(&iterator.stream, &iterator.shard),
            deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                start_sequence: iterator.next_seq.max(1),
            },
            ack_policy: consumer::AckPolicy::None,
            inactive_threshold: FETCH_CONSUMER_LIFE,
            ..Default::default()
        };
        let c: consumer::PullConsumer = s.create_consumer(config).await?;
        let name = c.cached_info().name.clone();
        let mut fetch = c.fetch().max_messages(max_records.max(1));
        if max_bytes > 0 {
            fetch = fetch.max_bytes(max_bytes);
        }
        let mut batch = fetch.messages().await?;
        let mut records = Vec::new();
        while let Some(message) = batch.next().await {
            records.push(record_of(&message?)?);
        }
        drop(batch);
        // A consumer left behind goes at its inactive threshold.
        let _ = s.delete_consumer(&name).await;
        Ok(records)
    }
}

impl Log for Cluster {
    fn shards(&self, stream: &str) -> Result<Vec<ShardRange>> {
        let n = self.shard_count(stream).map_err(log_error)?;
        Ok(ShardRange::even(n))
    }

    fn has_stream(&self, stream: &str) -> Result<bool> {
        match self.shard_count(stream) {
            Ok(_) => Ok(true),
            Err(ClusterError::NoSuchStream(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    fn describe(&self, stream: &str) -> Result<StreamDescription> {
        let shards = self.shards(stream)?;
        let info = self
            .call("read a stream", CALL_TIMEOUT, async {
                let mut s = self.js.get_stream(jetstream_name(stream)).await?;
                Ok::<_, async_nats::Error>(s.info().await?.clone())
            })
            .map_err(log_error)?;
        let created_ms =
            i64::try_from(info.created.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        let hours = info.config.max_age.as_secs().div_ceil(3600);
        let shards: Vec<ShardDescription> = shards
            .into_iter()
            .map(|s| ShardDescription {
                id: s.id,
                state: "open",
                hash_start: s.hash_start.to_string(),
                hash_end: s.hash_end.to_string(),
                parent: None,
                adjacent_parent: None,
                starting_seq: 1,
                ending_seq: None,
                trim_horizon_seq: info.state.first_sequence.max(1),
                next_seq: info.state.last_sequence + 1,
                bytes: 0,
                damaged_ranges: 0,
                damaged_bytes: 0,
            })
            .collect();
        Ok(StreamDescription {
            name: stream.to_owned(),
            created: crate::store::time::format_ms(created_ms),
            retention_hours: u32::try_from(hours).unwrap_or(u32::MAX),
            retention_bytes: None,
            open_shards: shards.len(),
            shards,
        })
    }

    fn put_records(&self, stream: &str, records: &[PutRecord]) -> Result<Vec<PutOutcome>> {
        let shards = self.shards(stream)?;
        Ok(self
            .runtime
            .handle()
            .block_on(self.publish_all(stream, &shards, records)))
    }

    fn shard_iterator(
        &self,
        stream: &str,
        shard: &str,
        position: StartingPosition,
    ) -> Result<ShardIterator> {
        if route_id(&self.shards(stream)?, shard).is_none() {
            return Err(IngestError::NoSuchShard {
                stream: stream.to_owned(),
                shard: shard.to_owned(),
            });
        }
        Ok(ShardIterator {
            stream: stream.to_owned(),
            shard: shard.to_owned(),
            next_seq: self.start_seq(stream, position).map_err(log_error)?,
        })
    }

    fn get_records(
        &self,
        iterator: &ShardIterator,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<GetRecords> {
        let records = self
            .call(
                "read a shard",
                CALL_TIMEOUT,
                self.fetch(iterator, max_records, max_bytes),
            )
            .map_err(log_error)?;
        let next_seq = records.last().map_or(iterator.next_seq, |r| r.seq + 1);
        let millis_behind_latest = match records.last() {
            Some(last) if records.len() >= max_records => {
                (crate::store::time::now_ms() - last.timestamp_ms).max(0)
            }
            _ => 0,
        };
        Ok(GetRecords {
            records,
            next: Some(ShardIterator {
                next_seq,
                ..iterator.clone()
            }),
            millis_behind_latest,
        })
    }

    fn reader<'a>(
        &'a self,
        _stream: &str,
        _from: StartingPosition,
        _consumer: Option<&str>,
    ) -> Result<Box<dyn LogReader + 'a>> {
        // A whole cluster stream is read shard by shard, by the consumer
        // group's workers ([`super::group`]).
        Err(ClusterError::Unsupported(
            "a cluster stream is read by a consumer group, one shard per lease".into(),
        )
        .into())
    }
}

/// The shard of `shards` whose id is `id`.
fn route_id<'s>(shards: &'s [ShardRange], id: &str) -> Option<&'s ShardRange> {
    shards.iter().find(|s| s.id == id)
}

/// One shard of a cluster stream, read in order; its checkpoints go to
/// the lease that holds it.
pub struct ShardReader {
    cluster: Arc<Cluster>,
    shard: String,
    messages: Messages,
    pending: VecDeque<Record>,
    positions: Checkpoint,
    checkpoint: Arc<Mutex<Option<u64>>>,
}

impl std::fmt::Debug for ShardReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardReader")
            .field("shard", &self.shard)
            .field("positions", &self.positions)
            .finish_non_exhaustive()
    }
}

/// `message` as a stored record.
fn record_of(message: &jetstream::Message) -> Result<Record> {
    let info = message
        .info()
        .map_err(|e| IngestError::from(call_error("read a message's sequence", e)))?;
    let header = |name: &str| {
        message
            .headers
            .as_ref()
            .and_then(|h| h.get(name))
            .map(|v| v.as_str().to_owned())
    };
    let nanos = info.published.unix_timestamp_nanos();
    Ok(Record {
        seq: info.stream_sequence,
        timestamp_ms: i64::try_from(nanos / 1_000_000).unwrap_or(0),
        partition_key: header(PARTITION_KEY).unwrap_or_default(),
        explicit_hash_key: header(EXPLICIT_HASH_KEY).and_then(|k| k.parse().ok()),
        id: header(MSG_ID),
        data: message.payload.to_vec(),
    })
}

impl ShardReader {
    /// Takes the next message if one comes within `timeout`, into
    /// `pending`; false when none came.
    fn next_within(&mut self, timeout: Duration) -> Result<bool> {
        let next = self
            .cluster
            .runtime
            .handle()
            .block_on(async { tokio::time::timeout(timeout, self.messages.next()).await });
        match next {
            Ok(Some(Ok(message))) => {
                self.pending.push_back(record_of(&message)?);
                Ok(true)
            }
            Ok(Some(Err(e))) => Err(call_error("read a shard", e).into()),
            Ok(None) => Err(call_error("read a shard", "the consumer ended").into()),
            Err(_) => Ok(false),
        }
    }
}

impl LogReader for ShardReader {
    fn poll(&mut self, max_records: usize, max_bytes: usize) -> Result<Vec<(String, Record)>> {
        let mut out = Vec::new();
        let mut bytes = 0;
        while out.len() < max_records.max(1) && bytes < max_bytes {
            if self.pending.is_empty() && !self.next_within(Duration::ZERO)? {
                break;
            }
            let Some(record) = self.pending.pop_front() else {
                break;
            };
            bytes += record.data.len();
            self.positions.insert(self.shard.clone(), record.seq + 1);
            out.push((self.shard.clone(), record));
        }
        Ok(out)
    }

    fn wait(&mut self, timeout: Duration) {
        if self.pending.is_empty() {
            // An error shows again at the next poll.
            let _ = self.next_within(timeout.min(WAIT_STEP));
        }
    }

    fn wakes_on_records(&self) -> bool {
        true
    }

    fn positions(&self) -> &Checkpoint {
        &self.positions
    }

    fn first_seq(&self, _shard: &str) -> Result<u64> {
        Ok(1)
    }

    fn save_checkpoint(&self, _consumer: &str, positions: &Checkpoint) -> Result<()> {
        if let Some(&next) = positions.get(&self.shard) {
            *self
                .checkpoint
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(next);
        }
        Ok(())
    }
}
