//! The embedded store as a [`Log`]: a thin adapter over [`Store`] and
//! [`Consumer`], with the store's own behaviour (no copy of it).

use std::time::Duration;

use super::{Log, LogReader, ShardRange};
use crate::consume::Consumer;
use crate::error::{IngestError, Result};
use crate::store::{
    Checkpoint, GetRecords, PutOutcome, PutRecord, Record, ShardIterator, StartingPosition, Store,
    StreamDescription,
};

impl Log for Store {
    fn shards(&self, stream: &str) -> Result<Vec<ShardRange>> {
        let parse = |v: &str| {
            v.parse::<u128>()
                .map_err(|_| IngestError::Internal(format!("hash key {v:?} is not a number")))
        };
        self.describe_stream(stream)?
            .shards
            .into_iter()
            .filter(|s| s.ending_seq.is_none())
            .map(|s| {
                Ok(ShardRange {
                    hash_start: parse(&s.hash_start)?,
                    hash_end: parse(&s.hash_end)?,
                    id: s.id,
                })
            })
            .collect()
    }

    fn has_stream(&self, stream: &str) -> Result<bool> {
        match self.stream_meta(stream) {
            Ok(_) => Ok(true),
            Err(IngestError::NoSuchStream { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn describe(&self, stream: &str) -> Result<StreamDescription> {
        Store::describe_stream(self, stream)
    }

    fn put_records(&self, stream: &str, records: &[PutRecord]) -> Result<Vec<PutOutcome>> {
        Store::put_records(self, stream, records)
    }

    fn shard_iterator(
        &self,
        stream: &str,
        shard: &str,
        position: StartingPosition,
    ) -> Result<ShardIterator> {
        Store::shard_iterator(self, stream, shard, position)
    }

    fn get_records(
        &self,
        iterator: &ShardIterator,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<GetRecords> {
        Store::get_records(self, iterator, max_records, max_bytes)
    }

    fn reader<'a>(
        &'a self,
        stream: &str,
        from: StartingPosition,
        consumer: Option<&str>,
    ) -> Result<Box<dyn LogReader + 'a>> {
        Ok(Box::new(StoreReader {
            store: self,
            stream: stream.to_owned(),
            consumer: Consumer::new(self, stream, from, consumer)?,
        }))
    }
}

/// A stream of the store read by a [`Consumer`].
#[derive(Debug)]
pub struct StoreReader<'s> {
    store: &'s Store,
    stream: String,
    consumer: Consumer<'s>,
}

impl LogReader for StoreReader<'_> {
    fn poll(&mut self, max_records: usize, max_bytes: usize) -> Result<Vec<(String, Record)>> {
        self.consumer.poll(max_records, max_bytes)
    }

    fn wait(&mut self, timeout: Duration) {
        self.consumer.wait(timeout);
    }

    fn wakes_on_records(&self) -> bool {
        self.consumer.wakes_on_records()
    }

    fn positions(&self) -> &Checkpoint {
        self.consumer.positions()
    }

    fn first_seq(&self, shard: &str) -> Result<u64> {
        let meta = self.store.stream_meta(&self.stream)?;
        Ok(meta.shard(shard).map_or(0, |m| m.starting_seq))
    }

    fn save_checkpoint(&self, consumer: &str, positions: &Checkpoint) -> Result<()> {
        self.store
            .save_checkpoint(&self.stream, consumer, positions)
    }
}
