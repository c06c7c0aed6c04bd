//! A [`Write`](std::io::Write) that puts every complete line into a stream of the embedded
//! store (or of any [`Log`]: a cluster worker's cameras put into JetStream): how `osprey analyze --output stream:NAME` makes its NDJSON records a
//! stream that `osprey read`, `osprey deliver` and `osprey aggregate` consume.
//!
//! Bytes gather until [`Write::flush`](std::io::Write::flush) ([`Lines`]: the
//! [`NdjsonSink`](super::NdjsonSink) flushes once a chunk of frames), which
//! puts the complete lines as one batch, so a chunk costs one group commit.
//! Under load the store refuses with a retryable error, the whole batch or
//! some of its records (one shard's, say): the sink then waits and puts
//! again only the records that were refused (backpressure on the producer;
//! the others are stored, and putting them again would store them twice),
//! for up to [`RETRY_FOR`], and only then fails. A record the store refuses
//! for good (too large, for instance) fails the flush with the reason:
//! nothing is dropped silently.
//!
//! Every line goes under one partition key. A producer that knows each
//! record's key (`osprey aggregate`'s result rows, keyed by their GROUP BY
//! values so that they spread over the shards as their groups do) puts
//! typed records instead, each with its key ([`StreamRecords`]): nothing is
//! split back into lines or parsed again to find it.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::lines::{LineBatches, Lines, non_blank};
use crate::IngestError;
use crate::log::Log;
use crate::store::{PutOutcome, PutRecord, Store};

/// How long a refused batch is retried before the flush fails.
pub const RETRY_FOR: Duration = Duration::from_secs(30);

/// Longest partition key the store takes, in characters (the store's own
/// limit: one constant).
pub use crate::store::record::MAX_PARTITION_KEY_CHARS as MAX_KEY_CHARS;

/// What joins the values of several key fields in a partition key.
pub const KEY_SEPARATOR: char = '/';

/// Lines into a stream, one record a line, under one partition key.
pub type StreamLines = Lines<StreamPut>;

/// The stream end of [`StreamLines`]: where a batch of lines is put.
#[derive(Debug)]
pub struct StreamPut {
    records: StreamRecords,
    partition_key: String,
}

impl Lines<StreamPut> {
    /// Lines put into `stream` of `store` under `partition_key` (see
    /// [`partition_key`]).
    ///
    /// # Errors
    /// The store's own when `stream` does not exist.
    pub fn new(store: Store, stream: &str, partition_key: &str) -> crate::Result<Self> {
        Ok(Lines::with_target(StreamPut {
            records: StreamRecords::new(store, stream)?,
            partition_key: self::partition_key(partition_key),
        }))
    }
}

/// `key` as a partition key: cut to the store's 256 characters, and
/// `osprey` when it is empty.
pub fn partition_key(key: &str) -> String {
    let key: String = key.chars().take(MAX_KEY_CHARS).collect();
    if key.is_empty() { "osprey".into() } else { key }
}

/// Records, each with its partition key, into a stream of the store: they
/// gather until [`StreamRecords::flush`], which puts them as one batch,
/// retrying the refused ones while the store is busy (see the module docs).
pub struct StreamRecords {
    log: Arc<dyn Log>,
    stream: String,
    pending: Vec<PutRecord>,
    records: u64,
}

impl std::fmt::Debug for StreamRecords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamRecords")
            .field("stream", &self.stream)
            .field("pending", &self.pending.len())
            .field("records", &self.records)
            .finish_non_exhaustive()
    }
}

impl StreamRecords {
    /// Records into `stream` of `store` (owned, or shared with others
    /// that put and read in the same process, as the server's are).
    ///
    /// # Errors
    /// The store's own when `stream` does not exist.
    pub fn new(store: impl Into<Arc<Store>>, stream: &str) -> crate::Result<Self> {
        let store: Arc<Store> = store.into();
        Self::on_log(store, stream)
    }

    /// Records into `stream` of `log` (the store, or a cluster's JetStream).
    ///
    /// # Errors
    /// The log's own when `stream` does not exist or it cannot be reached.
    pub fn on_log(log: Arc<dyn Log>, stream: &str) -> crate::Result<Self> {
        log.shards(stream)?;
        Ok(StreamRecords {
            log,
            stream: stream.to_owned(),
            pending: Vec::new(),
            records: 0,
        })
    }

    /// Adds a record under `key` (the caller's: 1 to 256 characters, see
    /// [`partition_key`]), to be put at the next flush.
    pub fn push(&mut self, key: String, data: Vec<u8>) {
        self.pending.push(PutRecord::new(key, data));
    }

    /// Records stored so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Puts the records added since the last flush as one batch, retrying
    /// the refused ones while the store is overloaded.
    ///
    /// # Errors
    /// When the store refuses a record for good, or stays busy for
    /// [`RETRY_FOR`]: an [`io::Error`] naming the stream and the reason. The
    /// batch is not kept then: the caller stops (nothing is dropped silently).
    pub fn flush(&mut self) -> io::Result<()> {
        let batch = std::mem::take(&mut self.pending);
        self.records += self.put(batch)?;
        Ok(())
    }

    /// Puts `batch`, retrying the refused records while the store is
    /// overloaded; returns how many records it held.
    fn put(&self, batch: Vec<PutRecord>) -> io::Result<u64> {
        if batch.is_empty() {
            return Ok(0);
        }
        let n = batch.len() as u64;
        put_retrying(batch, RETRY_FOR, |records| {
            self.log.put_records(&self.stream, records)
        })
        .map_err(|e| io::Error::other(format!("stream {:?} refused a record: {e}", self.stream)))?;
        Ok(n)
    }
}

/// Puts `batch` with `put` (the store's `put_records`, which answers per
/// record), and puts again, after a pause that doubles up to half a second,
/// only the records refused with a retryable error, until every record is
/// stored or `retry_for` has passed.
///
/// # Errors
/// The first refusal that is not retryable, or the last retryable one once
/// `retry_for` has passed.
fn put_retrying(
    mut batch: Vec<PutRecord>,
    retry_for: Duration,
    mut put: impl FnMut(&[PutRecord]) -> crate::Result<Vec<PutOutcome>>,
) -> crate::Result<()> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(10);
    loop {
        let refusal = match put(&batch) {
            Ok(outcomes) => {
                let mut refusal = None;
                let mut outcomes = outcomes.into_iter();
                // Keep the refused records, in order; a stored one is done.
                let mut failed = Ok(());
                batch.retain(|_| match outcomes.next() {
                    Some(Ok(_)) => false,
                    Some(Err(e)) if e.is_retryable() => {
                        refusal.get_or_insert(e);
                        true
                    }
                    Some(Err(e)) => {
                        if failed.is_ok() {
                            failed = Err(e);
                        }
                        true
                    }
                    None => true,
                });
                failed?;
                match refusal {
                    None if batch.is_empty() => return Ok(()),
                    None => {
                        return Err(IngestError::Internal(format!(
                            "the store answered for fewer records than were put ({} unanswered)",
                            batch.len()
                        )));
                    }
                    Some(e) => e,
                }
            }
            Err(e) if e.is_retryable() => e,
            Err(e) => return Err(e),
        };
        if started.elapsed() >= retry_for {
            return Err(refusal);
        }
        tracing::debug!(records = batch.len(), error = %refusal, "Store busy; retrying the refused records.");
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}

impl LineBatches for StreamPut {
    fn send(&mut self, batch: &[u8]) -> io::Result<u64> {
        // A retryable refusal puts again only the refused records; a record
        // refused for good fails the flush, and the lines stay for a retried
        // flush to put again (those stored then are stored twice).
        let records: Vec<PutRecord> = non_blank(batch)
            .map(|line| PutRecord::new(self.partition_key.clone(), line.to_vec()))
            .collect();
        self.records.put(records)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;
    use crate::store::{StoreConfig, StreamOptions};

    fn store(dir: &std::path::Path) -> Store {
        let store = Store::open(dir, StoreConfig::default()).unwrap();
        store
            .create_stream("out", StreamOptions::default())
            .unwrap();
        store
    }

    #[test]
    fn complete_lines_become_records_at_flush() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = StreamLines::new(store(dir.path()), "out", "cam1").unwrap();
        sink.write_all(b"{\"a\":1}\n{\"a\":2}\n{\"a\"").unwrap();
        assert_eq!(sink.records(), 0, "nothing is put before a flush");
        sink.flush().unwrap();
        assert_eq!(sink.records(), 2);
        sink.write_all(b":3}\n").unwrap();
        sink.flush().unwrap();
        sink.flush().unwrap();
        assert_eq!(sink.records(), 3);
    }

    #[test]
    fn records_under_their_own_keys_spread_over_the_shards() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
        let options = StreamOptions {
            shards: 4,
            ..StreamOptions::default()
        };
        store.create_stream("out", options).unwrap();
        let store = Arc::new(store);
        let mut sink = StreamRecords::new(Arc::clone(&store), "out").unwrap();
        for i in 0..64 {
            sink.push(
                format!("s{i}/1"),
                format!(r#"{{"sensor":"s{i}"}}"#).into_bytes(),
            );
        }
        assert_eq!(sink.records(), 0, "nothing is put before a flush");
        sink.flush().unwrap();
        sink.flush().unwrap();
        assert_eq!(sink.records(), 64);
        let described = store.describe_stream("out").unwrap();
        let used = described.shards.iter().filter(|s| s.next_seq > 0).count();
        assert_eq!(used, 4, "64 keys land on every one of 4 shards");
        assert_eq!(partition_key(&"x".repeat(300)).chars().count(), 256);
        assert_eq!(partition_key(""), "osprey");
    }

    #[test]
    fn a_retry_puts_again_only_the_refused_records() {
        let busy = || IngestError::Overloaded("shard busy".into());
        let ack = |seq: u64| {
            Ok(crate::store::PutAck {
                shard: std::sync::Arc::from("shardId-000000000000"),
                seq,
            })
        };
        let batch: Vec<PutRecord> = (0..4)
            .map(|i| PutRecord::new(format!("k{i}"), vec![b'0' + i]))
            .collect();
        let mut puts: Vec<Vec<u8>> = Vec::new();
        put_retrying(batch, Duration::from_secs(5), |records| {
            puts.push(records.iter().map(|r| r.data[0]).collect());
            // First put: records 1 and 3 (one shard's) are refused.
            Ok(records
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    if puts.len() == 1 && i % 2 == 1 {
                        Err(busy())
                    } else {
                        ack(u64::from(r.data[0]))
                    }
                })
                .collect())
        })
        .unwrap();
        assert_eq!(
            puts,
            [b"0123".to_vec(), b"13".to_vec()],
            "stored records are not put twice"
        );
        // A refusal for good stops the retries.
        let mut tries = 0;
        let err = put_retrying(
            vec![PutRecord::new("k", b"x".to_vec())],
            Duration::from_secs(5),
            |_| {
                tries += 1;
                Ok(vec![Err(IngestError::InvalidArgument("too large".into()))])
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("too large"), "{err}");
        assert_eq!(tries, 1);
        // A busy store is retried until `retry_for` has passed.
        let err = put_retrying(
            vec![PutRecord::new("k", b"x".to_vec())],
            Duration::from_millis(30),
            |_| Err(busy()),
        )
        .unwrap_err();
        assert!(err.is_retryable(), "{err}");
    }

    #[test]
    fn a_missing_stream_and_an_oversized_line_are_errors() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let err = StreamLines::new(store(a.path()), "nope", "k").unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
        let mut sink = StreamLines::new(store(b.path()), "out", "").unwrap();
        assert_eq!(sink.target().partition_key, "osprey");
        let c = tempfile::tempdir().unwrap();
        assert!(StreamRecords::new(store(c.path()), "nope").is_err());
        let mut big = vec![b'x'; crate::store::MAX_DATA_BYTES + 1];
        big.push(b'\n');
        sink.write_all(&big).unwrap();
        let err = sink.flush().unwrap_err();
        assert!(err.to_string().contains("refused a record"), "{err}");
        assert_eq!(sink.records(), 0);
    }
}
