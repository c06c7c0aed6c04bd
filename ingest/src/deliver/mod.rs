//! Firehose-style delivery of a stream (`osprey deliver <stream> --to
//! DIR|URL`) into files (NDJSON, Parquet or Arrow IPC, [`files`]), to an
//! HTTP webhook (batches of NDJSON POSTed with retry and backoff,
//! [`webhook`]) or to a message broker ([`broker`]).
//!
//! Records are buffered until [`DeliverConfig::max_bytes`] of data or
//! [`DeliverConfig::max_age`] since the oldest one (or, without
//! [`DeliverConfig::follow`], the end of the stream), then
//! handed as one batch to the [`Destination`]: one file, or one POST. Each
//! batch is named by its oldest record's arrival time, shard and sequence
//! number (`year=2026/month=12/day=01/hour=17/<stream>-<time>-<shard>-<seq>`),
//! the name its file gets and the name its records get under the errors
//! folder when they cannot be delivered: a record that cannot be converted
//! (data that is not JSON, for NDJSON; not a JSON object or not fitting the
//! inferred columns, for Parquet), or, for a webhook with `--errors-to`, a
//! batch the endpoint refused for its content. Those go as NDJSON lines with
//! their shard, sequence number, reason and data.
//!
//! After each batch is delivered or set aside (its file written, fsynced
//! and renamed, or its POST acknowledged), the named consumer's checkpoint
//! ([`DeliverConfig::consumer`]) moves, in each shard, to the first record
//! not yet in a delivered batch, even when a batch closes in the middle of
//! what one poll read. So a crash delivers again at most the batch it was
//! writing, and a failed batch is delivered by the next run; none is lost.

pub mod broker;
pub mod files;
pub mod webhook;

use std::fs::{self, File};
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::de::IgnoredAny;

use crate::IngestError;
use crate::log::{Log, LogReader};
use crate::store::time::format_ms;
use crate::store::{Checkpoint, Record, StartingPosition, Store};

#[cfg(test)]
mod tests;

pub use broker::ToBroker;
pub use files::{FileFormat, FilesConfig, ToFiles};
pub use webhook::ToWebhook;

/// The longest a caught-up delivery waits before looking for records
/// again, when no change of the stream's files wakes it first.
const FOLLOW_WAIT: Duration = Duration::from_millis(20);

/// An error of any type, boxed: what a format writer returns.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a delivery stops.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliverError {
    /// Reading the stream or converting its records failed.
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// A folder for a batch's file cannot be made.
    #[error("cannot create {0:?}")]
    CreateDir(String, #[source] std::io::Error),
    /// A batch's file cannot be written.
    #[error("cannot write {path:?}")]
    Write {
        /// The file, as shown.
        path: String,
        /// Why.
        #[source]
        source: BoxError,
    },
    /// A record set aside cannot be encoded as a JSON line.
    #[error("cannot encode record as JSON")]
    Encode(#[source] serde_json::Error),
    /// A batch that is neither delivered nor set aside: the message says
    /// which records, why, and that the checkpoint stays before them.
    #[error("{0}")]
    NotDelivered(String),
}

/// Shorthand for results of delivery.
pub type Result<T, E = DeliverError> = std::result::Result<T, E>;

/// A batch: records with the shard each came from, in poll order (so in
/// sequence order within each shard).
pub type Batch = [(String, Record)];

/// Where batches go.
pub trait Destination {
    /// Delivers one non-empty batch, or sets aside what cannot be delivered
    /// (in the errors folder), adding what it did to `tally`.
    ///
    /// # Errors
    /// Anything that leaves records neither delivered nor set aside; the
    /// run then stops and the checkpoint stays before the batch.
    fn deliver(&mut self, batch: &Batch, tally: &mut Tally) -> Result<()>;

    /// The closing line of a run, after `osprey: `.
    fn summary(&self, tally: &Tally) -> String;
}

/// What a run delivered.
#[derive(Debug, Default)]
pub struct Tally {
    /// Records delivered.
    pub records: u64,
    /// Files written or POSTs acknowledged.
    pub batches: u64,
    /// Records set aside in the errors folder.
    pub errors: u64,
    /// Attempts beyond the first (webhooks).
    pub retries: u64,
}

/// What a delivery reads and when it hands a batch on.
#[derive(Debug, Clone)]
pub struct DeliverConfig {
    /// The stream delivered.
    pub stream: String,
    /// Where shards without a checkpoint start.
    pub from: StartingPosition,
    /// The consumer whose checkpoint marks what is delivered.
    pub consumer: String,
    /// Go on as records arrive, rather than stop at the end of the stream.
    pub follow: bool,
    /// Deliver a batch once this many bytes of data are buffered.
    pub max_bytes: usize,
    /// Deliver a batch once its oldest record waited this long.
    pub max_age: Duration,
}

/// Delivers `config.stream` of `store` to `destination` until the end of
/// the stream (or, following, until the process is stopped); returns what
/// was delivered.
///
/// # Errors
/// [`DeliverError`]: the stream cannot be read, or a batch is neither
/// delivered nor set aside (the checkpoint then stays before it).
pub fn run(
    store: &Store,
    config: &DeliverConfig,
    destination: &mut dyn Destination,
) -> Result<Tally> {
    run_until(store, config, destination, &AtomicBool::new(false))
}

/// As [`run`], until `stop` is set too (the server's shutdown, or the
/// delivery's removal): the records read by then are delivered as one last
/// batch and checkpointed, so nothing read is left behind; it returns
/// within about 20 ms of the flag, plus that batch's delivery.
///
/// # Errors
/// As [`run`].
pub fn run_until(
    store: &Store,
    config: &DeliverConfig,
    destination: &mut dyn Destination,
    stop: &AtomicBool,
) -> Result<Tally> {
    let mut reader = Log::reader(store, &config.stream, config.from, Some(&config.consumer))?;
    run_reader(reader.as_mut(), config, destination, stop)
}

/// As [`run_until`], reading through `reader` (the store's, or a shard of
/// a cluster stream a worker holds the lease of, whose checkpoints go to
/// the lease): the checkpoints of `config.consumer` saved through it.
///
/// # Errors
/// As [`run`].
pub fn run_reader(
    reader: &mut dyn LogReader,
    config: &DeliverConfig,
    destination: &mut dyn Destination,
    stop: &AtomicBool,
) -> Result<Tally> {
    let mut delivered = Delivered {
        reader,
        consumer: &config.consumer,
        saved: None,
    };
    // Records read and in no delivered batch yet, in poll order: each batch
    // is a prefix of them. Their data adds up to `bytes`; the oldest came
    // at `since`.
    let mut pending: Vec<(String, Record)> = Vec::new();
    let (mut bytes, mut since) = (0, None::<Instant>);
    let mut tally = Tally::default();
    loop {
        let polled = delivered.reader.poll(1000, 4 << 20)?;
        let caught_up = polled.is_empty();
        let start = pending.len();
        pending.extend(polled);
        // `pending[..done]` went out during this turn.
        let mut done = 0;
        for (i, (_, record)) in pending.iter().enumerate().skip(start) {
            bytes += record.data.len();
            since.get_or_insert_with(Instant::now);
            if bytes >= config.max_bytes {
                let (batch, rest) = pending[done..].split_at(i + 1 - done);
                delivered.batch(destination, batch, rest, &mut tally)?;
                (done, bytes, since) = (i + 1, 0, None);
            }
        }
        let stopping = stop.load(Ordering::Relaxed);
        let due = since.is_some_and(|t| t.elapsed() >= config.max_age)
            || (caught_up && !config.follow)
            || stopping;
        if due && done < pending.len() {
            delivered.batch(destination, &pending[done..], &[], &mut tally)?;
            (done, bytes, since) = (pending.len(), 0, None);
        }
        pending.drain(..done);
        if stopping {
            break;
        }
        if caught_up {
            if !config.follow {
                break;
            }
            // Until records arrive (the stream's files change), or at most
            // until the buffer's oldest record is due.
            let due_in = since.map_or(FOLLOW_WAIT, |t| {
                config.max_age.saturating_sub(t.elapsed()).min(FOLLOW_WAIT)
            });
            delivered.reader.wait(due_in);
        }
    }
    Ok(tally)
}

/// The reader of a delivery and the checkpoint it saved last.
struct Delivered<'r, 'a> {
    reader: &'r mut (dyn LogReader + 'a),
    consumer: &'r str,
    saved: Option<Checkpoint>,
}

impl Delivered<'_, '_> {
    /// Hands `batch` to `destination`, then, once it is delivered (or set
    /// aside), saves the consumer's checkpoint before `rest`, the records
    /// read after it: a crash at any point delivers again at most the batch
    /// in flight, and the checkpoint never passes a record not yet
    /// delivered.
    fn batch(
        &mut self,
        destination: &mut dyn Destination,
        batch: &Batch,
        rest: &Batch,
        tally: &mut Tally,
    ) -> Result<()> {
        destination.deliver(batch, tally)?;
        let mut at = self.reader.positions().clone();
        for (shard, r) in rest {
            at.entry(shard.clone())
                .and_modify(|p| *p = (*p).min(r.seq))
                .or_insert(r.seq);
        }
        if self.saved.as_ref() != Some(&at) {
            self.reader.save_checkpoint(self.consumer, &at)?;
            self.saved = Some(at);
        }
        Ok(())
    }
}

/// A batch's place in time and its name, from its oldest record:
/// `year=2026/month=12/day=01/hour=17` and
/// `<stream>-2026-12-01T17-43-30-250Z-<shard>-<seq>`.
#[derive(Debug)]
pub struct BatchName {
    /// The time prefix, a relative folder path.
    pub prefix: String,
    /// The name without extension.
    pub name: String,
}

impl BatchName {
    /// The name of `batch` (non-empty) of `stream`.
    pub fn of(stream: &str, batch: &Batch) -> Self {
        let Some((shard, first)) = batch.first() else {
            return BatchName {
                prefix: "empty".into(),
                name: stream.to_owned(),
            };
        };
        let stamp = format_ms(first.timestamp_ms);
        // 2026-12-01T17:43:30.250Z: the prefix and a name that sorts by time.
        let part = |r: std::ops::Range<usize>| stamp.get(r).unwrap_or("00").to_owned();
        let prefix = format!(
            "year={}/month={}/day={}/hour={}",
            part(0..4),
            part(5..7),
            part(8..10),
            part(11..13)
        );
        let shard_no = shard.rsplit('-').next().unwrap_or(shard);
        let name = format!(
            "{stream}-{}-{shard_no}-{}",
            stamp.replace([':', '.'], "-"),
            first.seq
        );
        BatchName { prefix, name }
    }
}

/// The records' data as NDJSON, one line a record; a record whose data is
/// not one line of JSON goes to `bad` with its index and reason instead.
pub fn ndjson_lines(batch: &Batch, bad: &mut Vec<(usize, String)>) -> Vec<u8> {
    let mut out = Vec::with_capacity(batch.iter().map(|(_, r)| r.data.len() + 1).sum());
    for (i, (_, r)) in batch.iter().enumerate() {
        // serde_json skips strings without checking their UTF-8.
        if std::str::from_utf8(&r.data).is_err()
            || serde_json::from_slice::<IgnoredAny>(&r.data).is_err()
        {
            bad.push((i, "data is not JSON".into()));
        } else if r.data.contains(&b'\n') {
            bad.push((i, "data spans more than one line".into()));
        } else {
            out.extend_from_slice(&r.data);
            out.push(b'\n');
        }
    }
    out
}

/// Writes the records of `batch` listed in `bad` (index, reason) to
/// `errors_dir/<prefix>/<name>.ndjson` as `{"shard","seq","reason","data"}`
/// lines, in batch order; returns how many.
pub fn set_aside(
    errors_dir: &Path,
    name: &BatchName,
    batch: &Batch,
    bad: &mut [(usize, String)],
) -> Result<u64> {
    if bad.is_empty() {
        return Ok(0);
    }
    bad.sort_by_key(|(i, _)| *i);
    let mut out = Vec::new();
    for (i, reason) in bad.iter() {
        let Some((shard, r)) = batch.get(*i) else {
            continue;
        };
        let data = String::from_utf8_lossy(&r.data);
        let line =
            serde_json::json!({"shard": shard, "seq": r.seq, "reason": reason, "data": data});
        serde_json::to_writer(&mut out, &line).map_err(DeliverError::Encode)?;
        out.push(b'\n');
    }
    let path = errors_dir
        .join(&name.prefix)
        .join(format!("{}.ndjson", name.name));
    write_whole(&path, |f| Ok(f.write_all(&out)?))?;
    Ok(bad.len() as u64)
}

/// Writes `path` aside, fsyncs it and renames it into place, so a reader
/// (or a crash) never sees half a file.
///
/// # Errors
/// [`DeliverError::CreateDir`] or [`DeliverError::Write`].
pub fn write_whole(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> Result<(), BoxError>,
) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| DeliverError::CreateDir(dir.display().to_string(), e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp: PathBuf = dir.join(format!(".{name}.tmp"));
    let failed = |source: BoxError| DeliverError::Write {
        path: path.display().to_string(),
        source,
    };
    let file = File::create(&tmp).map_err(|e| failed(e.into()))?;
    let mut out = BufWriter::new(file);
    write(&mut out).map_err(failed)?;
    let file = out
        .into_inner()
        .map_err(|e| failed(e.into_error().into()))?;
    file.sync_all().map_err(|e| failed(e.into()))?;
    fs::rename(&tmp, path).map_err(|e| failed(e.into()))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| failed(e.into()))?;
    Ok(())
}
