//! One way to consume a stream of the store: [`Consumer`], which `osprey
//! read` and delivery use (and a query over a stream can).
//!
//! A consumer reads every shard from a [`StartingPosition`] or a named
//! consumer's checkpoint, parents before the children of a split or merge,
//! finds shards made while it runs, and saves checkpoints
//! ([`StreamReader`] does the reading). When it is caught up it waits for
//! the stream's files to change ([`Wake`]) rather than sleeping a fixed
//! time, so a record written by another process reaches a follower at once.

pub mod wake;

use std::time::Duration;

pub use wake::Wake;

use crate::error::Result;
use crate::store::{Checkpoint, Record, StartingPosition, Store, StreamReader};

/// A reader of one stream that can wait for new records.
#[derive(Debug)]
pub struct Consumer<'s> {
    store: &'s Store,
    reader: StreamReader,
    wake: Wake,
}

impl<'s> Consumer<'s> {
    /// A consumer of `stream` from `from`, or, for shards that consumer
    /// `name` has a checkpoint for, from there.
    ///
    /// # Errors
    /// As [`StreamReader::new`]: no such stream, a checkpoint past a
    /// shard's end, or the store cannot be read.
    pub fn new(
        store: &'s Store,
        stream: &str,
        from: StartingPosition,
        name: Option<&str>,
    ) -> Result<Self> {
        // The watch comes first, so that nothing written after the first
        // look goes unnoticed.
        let wake = Wake::new(&store.stream_dir(stream));
        let reader = StreamReader::new(store, stream, from, name)?;
        Ok(Consumer {
            store,
            reader,
            wake,
        })
    }

    /// Drops, from now on, records whose id was among the last `window` ids
    /// read (see [`StreamReader::drop_duplicates`]).
    pub fn drop_duplicates(&mut self, window: usize) {
        self.reader.drop_duplicates(window);
    }

    /// Reads up to `max_records` records and about `max_bytes` bytes, each
    /// with its shard id, without waiting; empty when caught up.
    ///
    /// # Errors
    /// As [`StreamReader::poll`].
    pub fn poll(&mut self, max_records: usize, max_bytes: usize) -> Result<Vec<(String, Record)>> {
        self.reader.poll(self.store, max_records, max_bytes)
    }

    /// Waits until new records may have arrived (the stream's files
    /// changed), or `timeout` passed.
    pub fn wait(&mut self, timeout: Duration) {
        self.wake.wait(timeout);
    }

    /// Reads as [`Consumer::poll`]; when caught up, waits for records for
    /// at most `timeout` and reads again. Empty when none came in time.
    ///
    /// # Errors
    /// As [`StreamReader::poll`].
    pub fn poll_wait(
        &mut self,
        max_records: usize,
        max_bytes: usize,
        timeout: Duration,
    ) -> Result<Vec<(String, Record)>> {
        let batch = self.poll(max_records, max_bytes)?;
        if !batch.is_empty() {
            return Ok(batch);
        }
        self.wait(timeout);
        self.poll(max_records, max_bytes)
    }

    /// Saves the positions (past every record read) as the named
    /// consumer's checkpoint; nothing without a name.
    ///
    /// # Errors
    /// As [`Store::save_checkpoint`].
    pub fn checkpoint(&mut self) -> Result<()> {
        self.reader.checkpoint(self.store)
    }

    /// Saves as the named consumer's checkpoint the positions held back, in
    /// each shard, to the first record of `pending` (read, not yet done
    /// with), so a restart reads those again; see
    /// [`StreamReader::checkpoint_before`].
    ///
    /// # Errors
    /// As [`Store::save_checkpoint`].
    pub fn checkpoint_before(&mut self, pending: &[(String, Record)]) -> Result<()> {
        self.reader.checkpoint_before(self.store, pending)
    }

    /// Per shard, the next sequence number to read.
    pub fn positions(&self) -> &Checkpoint {
        self.reader.positions()
    }

    /// Records dropped as duplicates so far.
    pub fn duplicates_dropped(&self) -> u64 {
        self.reader.duplicates_dropped()
    }

    /// True when new records wake the consumer (else it looks again after
    /// each wait's timeout).
    pub fn wakes_on_records(&self) -> bool {
        self.wake.is_live()
    }
}
