//! `stream:NAME` input: a stream of the store read as `osprey read` reads
//! it, each record one NDJSON object, with the consumer's checkpoint moved
//! only past records whose windows are all written.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use osprey_ingest::chunk::{Chunker, RawRecord};
use osprey_ingest::store::{Checkpoint, Store, StreamReader};

use super::Run;
use super::args::AggregateArgs;
use super::input::{Origin, Origins};
use super::trace::Trace;
use osprey_query::{Progress, RowTime};

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
    /// with a tracker, each record's row is noted, and the positions whose
    /// windows are all written are checkpointed as the watermark closes them.
    pub(super) fn read(
        &mut self,
        run: &mut Run,
        mut chunker: Chunker,
        follow: bool,
        until_idle: Option<Duration>,
    ) -> Result<()> {
        let mut origins = Origins::default();
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
            // Per record: its shard, its sequence number, and the chunker
            // line it went in as, when it can make a row.
            let mut pushed: Vec<(String, u64, Option<u64>)> = Vec::with_capacity(batch.len());
            for (shard, record) in batch {
                let seq = record.seq;
                let origin = Origin::Stream {
                    shard: shard.clone(),
                    seq,
                };
                match String::from_utf8(record.data) {
                    Ok(text) => {
                        origins.push(origin);
                        let row = !text.trim().is_empty();
                        pushed.push((shard, seq, row.then_some(origins.line())));
                        run.push(&mut chunker, &mut origins, RawRecord::Json(text))?;
                    }
                    Err(e) => {
                        pushed.push((shard, seq, None));
                        let bytes = e.as_bytes();
                        let head = &bytes[..bytes.len().min(super::input::HEAD_BYTES)];
                        let head = String::from_utf8_lossy(head);
                        let shown = osprey_query::Shown::Head {
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
            run.drain(&mut chunker, &mut origins)?;
            run.out.errors.flush()?;
            if let Some(progress) = &mut run.progress {
                for shard in self.reader.positions().keys() {
                    if !progress.knows(shard) {
                        let meta = self.store.stream_meta(&self.name)?;
                        let first = meta.shard(shard).map_or(0, |m| m.starting_seq);
                        progress.start_shard(shard, first);
                    }
                }
                let trace = run.trace.as_mut().map(Trace::take).unwrap_or_default();
                note_records(progress, &pushed, trace);
                if let Some(safe) = progress.safe(run.query.watermark()) {
                    self.save(&safe)?;
                }
            }
        }
    }
}

/// Tells `progress` the row of each record of a read. The rows of the
/// chunker's batches are the records that could make one, less those it
/// refused, in order; when the counts disagree (a bug, or a batch whose
/// columns could not be read), every record of the read waits for the end
/// of the run.
pub(super) fn note_records(
    progress: &mut Progress,
    pushed: &[(String, u64, Option<u64>)],
    trace: Trace,
) {
    let bad: HashSet<u64> = trace.bad.into_iter().collect();
    let makes_row = |line: &Option<u64>| line.is_some_and(|l| !bad.contains(&l));
    let rows = pushed.iter().filter(|(_, _, l)| makes_row(l)).count();
    let keys_ok = !trace.with_keys || trace.keys.len() == rows;
    if trace.unknown || rows != trace.times.len() || !keys_ok {
        tracing::debug!(
            rows,
            times = trace.times.len(),
            "Rows and records do not line up; the checkpoint waits for the end of the run."
        );
        for (shard, seq, _) in pushed {
            progress.record_unknown(shard, *seq);
        }
        return;
    }
    let mut times = trace.times.into_iter();
    let mut keys = trace.keys.into_iter();
    for (shard, seq, line) in pushed {
        if !makes_row(line) {
            progress.record(shard, *seq, None);
            continue;
        }
        match times.next().flatten() {
            Some(time) => {
                let key = keys.next().unwrap_or(0);
                progress.record(shard, *seq, Some(RowTime { time, key }));
            }
            None => progress.record_unknown(shard, *seq),
        }
    }
}
