//! `stream:NAME` input: a stream of the store read as `osprey read` reads
//! it, each record one NDJSON object, with the consumer's checkpoint moved
//! only past records whose windows are all written
//! (`osprey_query::checkpoint`).

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use osprey_ingest::chunk::{Chunker, RawRecord};
use osprey_ingest::store::{Checkpoint, Store, StreamReader};

use super::Run;
use super::args::AggregateArgs;
use super::input::Origin;
use osprey_query::Shown;

/// How long a caught-up `--follow` waits before looking for new records.
pub(super) const STREAM_POLL: Duration = Duration::from_millis(20);

/// Bytes of records one read of a stream takes at most.
pub(super) const STREAM_READ_BYTES: usize = 64 << 20;

/// A stream being read, as `osprey read` reads it: every shard from
/// `--from` or the consumer's checkpoint, parents before children.
pub(super) struct StreamSource {
    pub(super) store: Store,
    pub(super) name: String,
    pub(super) consumer: Option<String>,
    pub(super) reader: StreamReader,
}

impl StreamSource {
    pub(super) fn open(args: &AggregateArgs, name: &str) -> Result<Self> {
        let from = args.stream.position()?;
        let store = Store::open_read_only(&args.data.data_dir)?;
        let consumer = args.stream.consumer.clone();
        let reader = StreamReader::new(&store, name, from, consumer.as_deref())?;
        Ok(StreamSource {
            store,
            name: name.to_owned(),
            consumer,
            reader,
        })
    }

    /// Saves `positions` as the consumer's checkpoint (nothing without one).
    pub(super) fn save(&self, positions: &Checkpoint) -> Result<()> {
        if let Some(c) = &self.consumer {
            self.store
                .save_checkpoint(&self.name, c, positions)
                .with_context(|| format!("cannot save the checkpoint of consumer {c:?}"))?;
        }
        Ok(())
    }

    /// Reads the stream until its end (or, with `follow`, until killed or
    /// `until_idle` without records). Each read is chunked and pushed whole;
    /// when the query tracks a consumer's progress, each record is then
    /// noted with the row the chunker made of it (by its origin), and the
    /// positions whose windows are all written are checkpointed as the
    /// watermark closes them.
    pub(super) fn read(
        &mut self,
        run: &mut Run,
        mut chunker: Chunker,
        follow: bool,
        until_idle: Option<Duration>,
    ) -> Result<()> {
        let mut last = Instant::now();
        let max = run.query.batch_rows().max(1024);
        loop {
            let batch = self.reader.poll(&self.store, max, STREAM_READ_BYTES)?;
            if batch.is_empty() {
                if !follow || until_idle.is_some_and(|d| last.elapsed() >= d) {
                    return Ok(());
                }
                std::thread::sleep(STREAM_POLL);
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
                    Ok(text) => run.push(&mut chunker, RawRecord::Json(text), Some(origin))?,
                    Err(e) => {
                        let bytes = e.as_bytes();
                        let head = &bytes[..bytes.len().min(super::input::HEAD_BYTES)];
                        let head = String::from_utf8_lossy(head);
                        let shown = Shown::Head {
                            head: &head,
                            bytes: bytes.len(),
                        };
                        run.out.errors.refused(
                            Some(&origin),
                            "record data is not UTF-8 text",
                            shown,
                        )?;
                    }
                }
            }
            run.drain(&mut chunker)?;
            run.out.errors.flush()?;
            if let Some(progress) = run.query.progress_mut() {
                for shard in self.reader.positions().keys() {
                    if !progress.knows(shard) {
                        let meta = self.store.stream_meta(&self.name)?;
                        let first = meta.shard(shard).map_or(0, |m| m.starting_seq);
                        progress.start_shard(shard, first);
                    }
                }
                for (shard, seq) in &read {
                    progress.read(shard, *seq);
                }
            }
            if let Some(safe) = run.query.checkpoint() {
                self.save(&safe)?;
            }
        }
    }
}
