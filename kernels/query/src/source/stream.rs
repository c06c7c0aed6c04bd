//! A stream as a query's input, read through the log's [`LogReader`] (the
//! embedded store's [`Consumer`](osprey_ingest::consume::Consumer), as
//! `osprey read` reads it, or the shards of JetStream a cluster worker
//! holds), each record one NDJSON object, with the consumer's checkpoint
//! moved only past records whose windows are all written
//! ([`crate::checkpoint`]).
//!
//! Caught up and following, it waits on the reader, which wakes as soon as
//! records may have arrived (the store: the stream's files changed, another
//! process's put among them), instead of sleeping and looking again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use osprey_ingest::chunk::{Chunker, Origin, RawRecord};
use osprey_ingest::log::{Log as _, LogReader};
use osprey_ingest::store::{Checkpoint, StartingPosition, Store};

use super::feed::Feeder;
use super::text::HEAD_BYTES;
use crate::checkpoint::Progress;
use crate::error::{QueryError, Result};
use crate::query::Query;
use crate::rejects::Shown;

/// The longest a caught-up follower waits before looking again when new
/// records wake it (a wake may be missed only if the watch is lost).
const WAKE_WAIT: Duration = Duration::from_secs(1);

/// How long a caught-up follower sleeps when nothing can wake it (no
/// inotify): it looks again after this.
const POLL_WAIT: Duration = Duration::from_millis(20);

/// Bytes of records one read of a stream takes at most.
const READ_BYTES: usize = 64 << 20;

/// A stream being read: every shard from a starting position or the
/// consumer's checkpoint, parents before children.
#[derive(Debug)]
pub struct StreamSource<'s> {
    name: Option<String>,
    reader: Box<dyn LogReader + 's>,
    follow: bool,
    until_idle: Option<Duration>,
    stop: Option<Arc<AtomicBool>>,
    stopped: bool,
    counts: Option<Arc<LiveCounts>>,
}

/// A following read's counters as it goes, for whoever watches a query
/// that never ends (the server's `/api/queries`): updated after each read.
#[derive(Debug, Default)]
pub struct LiveCounts {
    /// Rows given to the engine, late ones included.
    pub rows: AtomicU64,
    /// Result rows written.
    pub windows: AtomicU64,
    /// Late records.
    pub late: AtomicU64,
    /// Refused records.
    pub refused: AtomicU64,
    /// The watermark, milliseconds since the epoch ([`i64::MIN`]: none yet).
    pub watermark_ms: AtomicI64,
}

impl LiveCounts {
    /// Counters at zero, without a watermark.
    pub fn new() -> Self {
        LiveCounts {
            watermark_ms: AtomicI64::new(i64::MIN),
            ..LiveCounts::default()
        }
    }

    /// The watermark, once there is one.
    pub fn watermark(&self) -> Option<i64> {
        Some(self.watermark_ms.load(Ordering::Relaxed)).filter(|&w| w != i64::MIN)
    }
}

impl<'s> StreamSource<'s> {
    /// Reads `stream` of `store` from `from`, or, for the shards consumer
    /// `name` has a checkpoint for, from there; to the stream's end unless
    /// [`StreamSource::follow`] is called.
    ///
    /// # Errors
    /// As [`Consumer::new`](osprey_ingest::consume::Consumer::new): no such
    /// stream, a checkpoint past a shard's end, or the store cannot be
    /// read.
    pub fn open(
        store: &'s Store,
        stream: &str,
        from: StartingPosition,
        name: Option<&str>,
    ) -> osprey_ingest::Result<Self> {
        Ok(Self::with_reader(store.reader(stream, from, name)?, name))
    }

    /// Reads what `reader` reads (any [`Log`](osprey_ingest::log::Log)'s),
    /// checkpointing as consumer `name`.
    pub fn with_reader(reader: Box<dyn LogReader + 's>, name: Option<&str>) -> Self {
        StreamSource {
            name: name.map(str::to_owned),
            reader,
            follow: false,
            until_idle: None,
            stop: None,
            stopped: false,
            counts: None,
        }
    }

    /// Goes on as records arrive instead of ending at the stream's end:
    /// until the process ends, or, with `until_idle`, until no record came
    /// for that long.
    #[must_use]
    pub fn follow(mut self, until_idle: Option<Duration>) -> Self {
        self.follow = true;
        self.until_idle = until_idle;
        self
    }

    /// Ends a following read once `stop` is set (within about a second),
    /// without finishing it: [`StreamSource::stopped`] then says so, and the
    /// caller neither closes the windows still open nor saves the end of
    /// the read, so the consumer's checkpoint stays before their records
    /// and a restarted read writes them whole.
    #[must_use]
    pub fn stop_on(mut self, stop: Arc<AtomicBool>) -> Self {
        self.stop = Some(stop);
        self
    }

    /// Keeps `counts` up to date after each read.
    #[must_use]
    pub fn count_into(mut self, counts: Arc<LiveCounts>) -> Self {
        self.counts = Some(counts);
        self
    }

    /// True when the read ended because its stop flag was set.
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// The consumer whose checkpoint this read moves, if any.
    pub fn consumer(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Per shard, the next sequence number to read.
    pub fn positions(&self) -> &Checkpoint {
        self.reader.positions()
    }

    /// Makes `query` track which positions its written windows cover, so
    /// that reading moves the consumer's checkpoint only past records
    /// whose windows are all written. Only for outputs written as windows
    /// close (NDJSON, streams): a Parquet or Arrow file is written at the
    /// end, and only [`StreamSource::finish`] may checkpoint then.
    pub fn track(&self, query: &mut Query) {
        let window = query.plan().window;
        query.track(Progress::new(window, self.positions().clone()));
    }

    /// Saves `positions` as the consumer's checkpoint (nothing without one).
    ///
    /// # Errors
    /// [`QueryError::Checkpoint`] when the log refuses it.
    pub fn save(&self, positions: &Checkpoint) -> Result<()> {
        if let Some(c) = &self.name {
            self.reader
                .save_checkpoint(c, positions)
                .map_err(|source| QueryError::Checkpoint {
                    consumer: c.clone(),
                    source,
                })?;
        }
        Ok(())
    }

    /// Saves the end of the read as the consumer's checkpoint: call once
    /// every window is written (the query finished, the output closed).
    ///
    /// # Errors
    /// As [`StreamSource::save`].
    pub fn finish(&self) -> Result<()> {
        self.save(self.positions())
    }

    /// Reads the stream until its end (or, following, until `until_idle`
    /// without records). Each read is chunked and pushed whole; when the
    /// query tracks a consumer's progress, each record is then noted with
    /// the row the chunker made of it (by its origin), and the positions
    /// whose windows are all written are checkpointed as the watermark
    /// closes them.
    pub(crate) fn read(&mut self, feed: &mut Feeder<'_>, mut chunker: Chunker) -> Result<()> {
        let mut last = Instant::now();
        let max = feed.query.batch_rows().max(1024);
        loop {
            if self
                .stop
                .as_ref()
                .is_some_and(|s| s.load(Ordering::Relaxed))
            {
                self.stopped = true;
                return Ok(());
            }
            let batch = self
                .reader
                .poll(max, READ_BYTES)
                .map_err(QueryError::Read)?;
            if batch.is_empty() {
                if !self.follow {
                    return Ok(());
                }
                let mut wait = if self.reader.wakes_on_records() {
                    WAKE_WAIT
                } else {
                    POLL_WAIT
                };
                if let Some(after) = self.until_idle {
                    let idle = last.elapsed();
                    if idle >= after {
                        return Ok(());
                    }
                    wait = wait.min(after - idle);
                }
                self.reader.wait(wait);
                continue;
            }
            last = Instant::now();
            // Each record's shard and sequence number, in the order read.
            let mut read: Vec<(String, u64)> = Vec::with_capacity(batch.len());
            for (shard, record) in batch {
                let seq = record.seq;
                let origin = Origin::Stream {
                    shard: shard.clone(),
                    seq,
                };
                read.push((shard, seq));
                match String::from_utf8(record.data) {
                    Ok(text) => feed.push(&mut chunker, RawRecord::Json(text), Some(origin))?,
                    Err(e) => {
                        let bytes = e.as_bytes();
                        let head = String::from_utf8_lossy(&bytes[..bytes.len().min(HEAD_BYTES)]);
                        let shown = Shown::Head {
                            head: &head,
                            bytes: bytes.len(),
                        };
                        feed.out.errors.refused(
                            Some(&origin),
                            "record data is not UTF-8 text",
                            shown,
                        )?;
                    }
                }
            }
            feed.drain(&mut chunker)?;
            feed.out.errors.flush()?;
            if let Some(progress) = feed.query.progress_mut() {
                for shard in self.reader.positions().keys() {
                    if !progress.knows(shard) {
                        let first = self.reader.first_seq(shard).map_err(QueryError::Read)?;
                        progress.start_shard(shard, first);
                    }
                }
                for (shard, seq) in &read {
                    progress.read(shard, *seq);
                }
            }
            if let Some(safe) = feed.query.checkpoint() {
                self.save(&safe)?;
            }
            if let Some(c) = &self.counts {
                c.rows.store(feed.query.rows(), Ordering::Relaxed);
                c.windows.store(feed.query.windows(), Ordering::Relaxed);
                c.late.store(feed.out.errors.late, Ordering::Relaxed);
                c.refused.store(feed.out.errors.refused, Ordering::Relaxed);
                let w = feed.query.watermark().unwrap_or(i64::MIN);
                c.watermark_ms.store(w, Ordering::Relaxed);
            }
        }
    }
}
