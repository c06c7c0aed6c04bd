//! The log under a stream, behind one interface: what producers, queries,
//! deliveries and the Kinesis API need of a stream (its shards and their
//! hash-key ranges, records put under partition keys and answered once
//! durable, a shard read from an iterator, each shard read in order from a
//! position or a checkpoint, with a wait once caught up, checkpoints
//! saved). Two logs implement it:
//!
//! - [`store`]: the embedded store of one machine ([`crate::Store`]), a
//!   thin adapter over [`crate::consume::Consumer`];
//! - [`crate::cluster`]: NATS JetStream, one JetStream stream per osprey
//!   stream and one subject per shard, for osprey on many machines.
//!
//! The query engine reads through [`LogReader`], and `osprey put`, the
//! server's cameras and the Kinesis API's data calls put and read through
//! [`Log`]: none of them knows which log is underneath.

pub mod store;

use std::time::Duration;

use crate::error::Result;
use crate::store::{
    Checkpoint, GetRecords, PutOutcome, PutRecord, Record, ShardIterator, StartingPosition,
    StreamDescription,
};

/// A shard and the hash keys it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardRange {
    /// Its id (`shardId-000000000000`).
    pub id: String,
    /// The lowest hash key it takes.
    pub hash_start: u128,
    /// The highest hash key it takes.
    pub hash_end: u128,
}

impl ShardRange {
    /// `n` shards splitting the hash keys evenly, numbered from 0, as the
    /// store creates a stream's shards.
    pub fn even(n: u32) -> Vec<ShardRange> {
        crate::store::meta::even_ranges(n)
            .into_iter()
            .zip(0u32..)
            .map(|((hash_start, hash_end), i)| ShardRange {
                id: crate::store::meta::shard_id(i),
                hash_start,
                hash_end,
            })
            .collect()
    }
}

/// The shard of `shards` whose range holds `hash_key` (the MD5 of a
/// partition key, [`crate::store::hash_key_of`]), as the store routes it.
pub fn route(shards: &[ShardRange], hash_key: u128) -> Option<&ShardRange> {
    shards
        .iter()
        .find(|s| (s.hash_start..=s.hash_end).contains(&hash_key))
}

/// A log of streams: the embedded store or JetStream.
pub trait Log: Send + Sync + std::fmt::Debug {
    /// The open shards of `stream`, in order.
    ///
    /// # Errors
    /// No such stream, or the log cannot be reached.
    fn shards(&self, stream: &str) -> Result<Vec<ShardRange>>;

    /// True when the log holds `stream`.
    ///
    /// # Errors
    /// The log cannot be reached.
    fn has_stream(&self, stream: &str) -> Result<bool>;

    /// `stream` as DescribeStream shows it: every shard, with its range.
    ///
    /// # Errors
    /// No such stream, or the log cannot be reached.
    fn describe(&self, stream: &str) -> Result<StreamDescription>;

    /// Puts `records`, each into the shard its hash key falls in (the MD5
    /// of its partition key, or its explicit hash key), and answers per
    /// record, in order, once the log has them durably (JetStream:
    /// acknowledged): the shard and the sequence number, or why that
    /// record was refused.
    ///
    /// # Errors
    /// The whole call refused: no such stream, a log that cannot be
    /// reached, overloaded.
    fn put_records(&self, stream: &str, records: &[PutRecord]) -> Result<Vec<PutOutcome>>;

    /// Puts `record` as [`Log::put_records`] does and returns the shard and
    /// the record's sequence number.
    ///
    /// # Errors
    /// An invalid record, no such stream, a log that cannot be reached.
    fn put(&self, stream: &str, record: &PutRecord) -> Result<(String, u64)> {
        let outcome = self
            .put_records(stream, std::slice::from_ref(record))?
            .pop()
            .ok_or_else(|| crate::IngestError::Internal("a put answered no record".into()))?;
        outcome.map(|ack| (ack.shard.to_string(), ack.seq))
    }

    /// An iterator of `shard` of `stream` at `position`, for
    /// [`Log::get_records`].
    ///
    /// # Errors
    /// No such stream or shard, a position past the shard's end or one the
    /// log does not take.
    fn shard_iterator(
        &self,
        stream: &str,
        shard: &str,
        position: StartingPosition,
    ) -> Result<ShardIterator>;

    /// Up to `max_records` records (and about `max_bytes` bytes) of the
    /// shard from `iterator`, without waiting, and where to read next.
    ///
    /// # Errors
    /// No such stream or shard, a log that cannot be read.
    fn get_records(
        &self,
        iterator: &ShardIterator,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<GetRecords>;

    /// A reader of `stream` from `from`, or, for shards that consumer
    /// `consumer` has a checkpoint for, from there.
    ///
    /// # Errors
    /// No such stream, a checkpoint past a shard's end, a log that cannot be
    /// read.
    fn reader<'a>(
        &'a self,
        stream: &str,
        from: StartingPosition,
        consumer: Option<&str>,
    ) -> Result<Box<dyn LogReader + 'a>>;
}

/// Reads shards of one stream in order, each from its position.
pub trait LogReader: Send + std::fmt::Debug {
    /// Reads up to `max_records` records and about `max_bytes` bytes, each
    /// with its shard id, in order within each shard, without waiting;
    /// empty when caught up.
    ///
    /// # Errors
    /// The log cannot be read.
    fn poll(&mut self, max_records: usize, max_bytes: usize) -> Result<Vec<(String, Record)>>;

    /// Waits until new records may have arrived, or `timeout` passed.
    fn wait(&mut self, timeout: Duration);

    /// True when new records end [`LogReader::wait`] (else the caller
    /// should wait briefly and look again).
    fn wakes_on_records(&self) -> bool;

    /// Per shard, the next sequence number to read.
    fn positions(&self) -> &Checkpoint;

    /// The first sequence number of `shard` (its records start there).
    ///
    /// # Errors
    /// No such shard, a log that cannot be read.
    fn first_seq(&self, shard: &str) -> Result<u64>;

    /// Saves `positions` as the reader's consumer's checkpoint.
    ///
    /// # Errors
    /// The log refuses it. (A cluster shard's checkpoint goes into its
    /// lease at the next renewal, which a worker that lost the lease
    /// cannot write.)
    fn save_checkpoint(&self, consumer: &str, positions: &Checkpoint) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_the_stores_ranges() {
        let shards = ShardRange::even(6);
        assert_eq!(route(&shards, 0).unwrap().id, "shardId-000000000000");
        assert_eq!(
            route(&shards, u128::MAX).unwrap().id,
            "shardId-000000000005"
        );
        let key = crate::store::hash_key_of("a");
        let i = shards
            .iter()
            .position(|s| s.hash_start <= key && key <= s.hash_end);
        assert_eq!(route(&shards, key).map(|s| &s.id), i.map(|i| &shards[i].id));
    }
}
