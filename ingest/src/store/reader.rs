//! A reader over every shard of a stream, as `osprey read` and delivery use
//! it: it starts each shard at a [`StartingPosition`] (or where a named
//! consumer's checkpoint says), reads a child shard only once its parents are
//! drained (so records of one partition key stay in order across a split or
//! merge), finds shards created while it runs, and saves checkpoints. It can
//! drop records whose id it saw among the last N ids
//! ([`StreamReader::drop_duplicates`]): a producer that retried wrote them
//! twice. That window lives in memory, not in the checkpoint.

use std::collections::{BTreeMap, HashSet, VecDeque};

use super::Store;
use super::consumer::Checkpoint;
use super::iterator::{ShardIterator, StartingPosition};
use super::record::Record;
use crate::error::{IngestError, Result};

/// Reads a whole stream, shard by shard.
#[derive(Debug)]
pub struct StreamReader {
    stream: String,
    consumer: Option<String>,
    /// Per shard, the next sequence number to read.
    positions: Checkpoint,
    saved: Checkpoint,
    dedup: Option<Dedup>,
}

/// The last ids seen, oldest first, and the same as a set.
#[derive(Debug, Default)]
struct Dedup {
    window: usize,
    order: VecDeque<String>,
    seen: HashSet<String>,
    dropped: u64,
}

impl Dedup {
    /// True when `id` was among the last ids; else takes it in.
    fn is_duplicate(&mut self, id: &str) -> bool {
        if self.seen.contains(id) {
            self.dropped += 1;
            return true;
        }
        if self.order.len() == self.window
            && let Some(old) = self.order.pop_front()
        {
            self.seen.remove(&old);
        }
        self.order.push_back(id.to_owned());
        self.seen.insert(id.to_owned());
        false
    }
}

impl StreamReader {
    /// A reader of stream `stream` from `from`, or, for shards that
    /// consumer `consumer` has a checkpoint for, from there.
    ///
    /// # Errors
    /// As [`Store::shard_iterator`] and [`Store::checkpoint`].
    pub fn new(
        store: &Store,
        stream: &str,
        from: StartingPosition,
        consumer: Option<&str>,
    ) -> Result<StreamReader> {
        let saved = match consumer {
            Some(c) => store.checkpoint(stream, c)?,
            None => Checkpoint::new(),
        };
        let mut reader = StreamReader {
            stream: stream.to_owned(),
            consumer: consumer.map(str::to_owned),
            positions: Checkpoint::new(),
            saved: saved.clone(),
            dedup: None,
        };
        let meta = store.stream_meta(stream)?;
        let ends = store.shard_ends(stream)?;
        for shard in &meta.shards {
            let next = match saved.get(&shard.id) {
                Some(&seq) => {
                    let end = ends.get(&shard.id).copied().unwrap_or(shard.starting_seq);
                    if seq > end {
                        return Err(IngestError::InvalidArgument(format!(
                            "consumer {:?} is at sequence number {seq} of shard {:?} of stream {stream:?}, past the shard's end ({end}): its checkpoint is not from this store, or the shard's records were lost; delete the checkpoint or read with another consumer name",
                            consumer.unwrap_or_default(),
                            shard.id
                        )));
                    }
                    seq
                }
                None => store.shard_iterator(stream, &shard.id, from)?.next_seq,
            };
            reader.positions.insert(shard.id.clone(), next);
        }
        Ok(reader)
    }

    /// Drops, from now on, records whose id was among the last `window` ids
    /// read (records without an id always pass).
    pub fn drop_duplicates(&mut self, window: usize) {
        self.dedup = (window > 0).then(|| Dedup {
            window,
            ..Dedup::default()
        });
    }

    /// Records dropped as duplicates so far.
    pub fn duplicates_dropped(&self) -> u64 {
        self.dedup.as_ref().map_or(0, |d| d.dropped)
    }

    /// Reads up to `max_records` records and about `max_bytes` bytes from
    /// the shards that are ready, each with its shard id. An empty answer
    /// means the reader is caught up; with a read-only store it looks for new
    /// records first.
    ///
    /// # Errors
    /// As [`Store::get_records`].
    pub fn poll(
        &mut self,
        store: &Store,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<Vec<(String, Record)>> {
        let mut out = self.poll_once(store, max_records, max_bytes)?;
        if out.is_empty() {
            store.refresh(&self.stream)?;
            out = self.poll_once(store, max_records, max_bytes)?;
        }
        if let Some(dedup) = &mut self.dedup {
            out.retain(|(_, r)| !r.id.as_deref().is_some_and(|id| dedup.is_duplicate(id)));
        }
        Ok(out)
    }

    fn poll_once(
        &mut self,
        store: &Store,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<Vec<(String, Record)>> {
        let meta = store.stream_meta(&self.stream)?;
        let mut out = Vec::new();
        let mut bytes = 0;
        for shard in &meta.shards {
            if !self.positions.contains_key(&shard.id) {
                // Made by a split or merge since the reader started.
                let next = self
                    .saved
                    .get(&shard.id)
                    .copied()
                    .unwrap_or(shard.starting_seq);
                self.positions.insert(shard.id.clone(), next);
            }
        }
        for shard in &meta.shards {
            if out.len() >= max_records || bytes >= max_bytes {
                break;
            }
            let drained = |id: &str| match (meta.shard(id), self.positions.get(id)) {
                (Some(p), Some(&pos)) => p.ending_seq.is_some_and(|end| pos >= end),
                _ => true,
            };
            if !shard.parents().all(drained) || (drained(&shard.id) && !shard.is_open()) {
                continue;
            }
            let iterator = ShardIterator {
                stream: self.stream.clone(),
                shard: shard.id.clone(),
                next_seq: self.positions[&shard.id],
            };
            let got = store.get_records(&iterator, max_records - out.len(), max_bytes - bytes)?;
            let next = match (&got.next, got.records.last()) {
                (Some(it), _) => it.next_seq,
                (None, _) => shard.ending_seq.unwrap_or(iterator.next_seq),
            };
            self.positions.insert(shard.id.clone(), next);
            for r in got.records {
                bytes += r.data.len();
                out.push((shard.id.clone(), r));
            }
        }
        Ok(out)
    }

    /// Saves the positions as the named consumer's checkpoint (nothing when
    /// the reader has no consumer name, or nothing moved).
    ///
    /// # Errors
    /// As [`Store::save_checkpoint`].
    pub fn checkpoint(&mut self, store: &Store) -> Result<()> {
        self.checkpoint_before(store, &[])
    }

    /// Saves as the named consumer's checkpoint the positions held back, in
    /// each shard, to the first record of `pending`: records read but not
    /// yet done with (not yet delivered, say), each with its shard. A
    /// restart reads those again and nothing before them. Nothing when the
    /// reader has no consumer name, or nothing moved.
    ///
    /// Across a split or merge this stays a checkpoint a restart can use: a
    /// child is read only once its parents are drained, so while a parent's
    /// record is pending every record read from its children is too (a
    /// caller that finishes records in the order read keeps that true).
    ///
    /// # Errors
    /// As [`Store::save_checkpoint`].
    pub fn checkpoint_before(&mut self, store: &Store, pending: &[(String, Record)]) -> Result<()> {
        let Some(consumer) = &self.consumer else {
            return Ok(());
        };
        let mut at = self.positions.clone();
        for (shard, r) in pending {
            at.entry(shard.clone())
                .and_modify(|p| *p = (*p).min(r.seq))
                .or_insert(r.seq);
        }
        if at == self.saved {
            return Ok(());
        }
        store.save_checkpoint(&self.stream, consumer, &at)?;
        self.saved = at;
        Ok(())
    }

    /// Per shard, the next sequence number to read.
    pub fn positions(&self) -> &BTreeMap<String, u64> {
        &self.positions
    }
}
