//! A [`Write`](std::io::Write) that puts every complete line into a stream of the embedded
//! store: how `osprey analyze --output stream:NAME` makes its NDJSON records a
//! stream that `osprey read`, `osprey deliver` and `osprey aggregate` consume.
//!
//! Bytes gather until [`Write::flush`](std::io::Write::flush) ([`Lines`]: the
//! [`NdjsonSink`](super::NdjsonSink) flushes once a chunk of frames), which
//! puts the complete lines as one batch, so a chunk costs one group commit. Under load the store refuses with a
//! retryable error: the sink then waits and tries again (backpressure on the
//! producer) for up to [`RETRY_FOR`], and only then fails. A record the store
//! refuses for good (too large, for instance) fails the flush with the reason:
//! nothing is dropped silently.
//!
//! Every record goes under one partition key, or, with
//! [`StreamLines::keyed_by_fields`], under the values of some of its own JSON
//! fields (the GROUP BY keys of `osprey aggregate`'s result rows), so that the
//! records spread over the shards as their keys do.

use std::io;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::lines::{LineBatches, Lines, non_blank};
use crate::store::{PutRecord, Store};

/// How long a refused batch is retried before the flush fails.
pub const RETRY_FOR: Duration = Duration::from_secs(30);

// The longest partition key the store takes, in characters: one constant.
use crate::store::record::MAX_PARTITION_KEY_CHARS as MAX_KEY_CHARS;

/// What joins the values of several key fields in a partition key.
pub const KEY_SEPARATOR: char = '/';

/// Lines into a stream, one record a line, under one partition key or one
/// made of each line's key fields.
pub type StreamLines = Lines<StreamPut>;

/// The stream end of [`StreamLines`]: where a batch of lines is put.
pub struct StreamPut {
    store: Store,
    stream: String,
    partition_key: String,
    key_fields: Vec<String>,
}

impl std::fmt::Debug for StreamPut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamPut")
            .field("stream", &self.stream)
            .field("partition_key", &self.partition_key)
            .field("key_fields", &self.key_fields)
            .finish_non_exhaustive()
    }
}

impl Lines<StreamPut> {
    /// Lines put into `stream` of `store` under `partition_key` (cut to the
    /// store's 256 characters; an empty key becomes `osprey`).
    ///
    /// # Errors
    /// The store's own when `stream` does not exist.
    pub fn new(store: Store, stream: &str, partition_key: &str) -> crate::Result<Self> {
        store.describe_stream(stream)?;
        let key: String = partition_key.chars().take(MAX_KEY_CHARS).collect();
        Ok(Lines::with_target(StreamPut {
            store,
            stream: stream.to_owned(),
            partition_key: if key.is_empty() { "osprey".into() } else { key },
            key_fields: Vec::new(),
        }))
    }

    /// Keys each record by the values of `fields` in its line, joined with
    /// [`KEY_SEPARATOR`] (strings as they are, other values as JSON, a
    /// missing one as nothing) and cut to 256 characters; a line that is not
    /// a JSON object, or has none of the fields, goes under the key given to
    /// [`StreamLines::new`].
    #[must_use]
    pub fn keyed_by_fields(mut self, fields: Vec<String>) -> Self {
        self.target_mut().key_fields = fields;
        self
    }
}

impl StreamPut {
    /// The partition key of `line`.
    fn key_of(&self, line: &[u8]) -> String {
        if self.key_fields.is_empty() {
            return self.partition_key.clone();
        }
        let Ok(object) = serde_json::from_slice::<serde_json::Map<String, Value>>(line) else {
            return self.partition_key.clone();
        };
        let mut key = String::new();
        let mut found = false;
        for (i, field) in self.key_fields.iter().enumerate() {
            if i > 0 {
                key.push(KEY_SEPARATOR);
            }
            match object.get(field) {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) => {
                    key.push_str(s);
                    found = true;
                }
                Some(other) => {
                    key.push_str(&other.to_string());
                    found = true;
                }
            }
        }
        let key: String = key.chars().take(MAX_KEY_CHARS).collect();
        if found && !key.is_empty() {
            key
        } else {
            self.partition_key.clone()
        }
    }

    /// Puts `batch`, retrying while the store is overloaded.
    fn put(&self, batch: &[PutRecord]) -> io::Result<()> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(10);
        loop {
            let refusal = match self.store.put_records(&self.stream, batch) {
                Ok(outcomes) => match outcomes.into_iter().find_map(Result::err) {
                    None => return Ok(()),
                    Some(e) if e.is_retryable() => e,
                    Some(e) => return Err(self.refused(&e)),
                },
                Err(e) if e.is_retryable() => e,
                Err(e) => return Err(self.refused(&e)),
            };
            if started.elapsed() >= RETRY_FOR {
                return Err(self.refused(&refusal));
            }
            tracing::debug!(stream = %self.stream, error = %refusal, "Store busy; retrying.");
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }

    fn refused(&self, e: &crate::IngestError) -> io::Error {
        io::Error::other(format!("stream {:?} refused a record: {e}", self.stream))
    }
}

impl LineBatches for StreamPut {
    fn send(&mut self, batch: &[u8]) -> io::Result<u64> {
        // Records put twice after a partial failure would be duplicates, so
        // the sink fails on the first refusal and a retried flush puts the
        // whole batch again (the store answers per record).
        let records: Vec<PutRecord> = non_blank(batch)
            .map(|line| PutRecord::new(self.key_of(line), line.to_vec()))
            .collect();
        self.put(&records)?;
        Ok(records.len() as u64)
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
    fn records_keyed_by_their_fields_spread_over_the_shards() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
        let options = StreamOptions {
            shards: 4,
            ..StreamOptions::default()
        };
        store.create_stream("out", options).unwrap();
        let sink = StreamLines::new(store, "out", "rows")
            .unwrap()
            .keyed_by_fields(vec!["sensor".into(), "zone".into()]);
        assert_eq!(
            sink.target().key_of(br#"{"sensor":"s1","zone":3,"n":1}"#),
            "s1/3"
        );
        assert_eq!(sink.target().key_of(br#"{"sensor":"s1","n":1}"#), "s1/");
        assert_eq!(
            sink.target().key_of(br#"{"n":1}"#),
            "rows",
            "no key field: the fallback"
        );
        assert_eq!(sink.target().key_of(b"not json"), "rows");
        let long = format!(r#"{{"sensor":"{}"}}"#, "x".repeat(300));
        assert_eq!(sink.target().key_of(long.as_bytes()).chars().count(), 256);
        let mut sink = sink;
        for i in 0..64 {
            writeln!(sink, r#"{{"sensor":"s{i}","zone":1}}"#).unwrap();
        }
        sink.flush().unwrap();
        let described = sink.target().store.describe_stream("out").unwrap();
        let used = described.shards.iter().filter(|s| s.next_seq > 0).count();
        assert_eq!(used, 4, "64 keys land on every one of 4 shards");
    }

    #[test]
    fn a_missing_stream_and_an_oversized_line_are_errors() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let err = StreamLines::new(store(a.path()), "nope", "k").unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
        let mut sink = StreamLines::new(store(b.path()), "out", "").unwrap();
        assert_eq!(sink.target().partition_key, "osprey");
        let mut big = vec![b'x'; crate::store::MAX_DATA_BYTES + 1];
        big.push(b'\n');
        sink.write_all(&big).unwrap();
        let err = sink.flush().unwrap_err();
        assert!(err.to_string().contains("refused a record"), "{err}");
        assert_eq!(sink.records(), 0);
    }
}
