//! The embedded stream store: Kinesis Data Streams semantics in a data
//! directory, with no server to run.
//!
//! ```text
//! <data-dir>/LOCK                                   held by the one writing process
//! <data-dir>/streams/<name>/stream.json             shards, ranges, lineage, retention
//! <data-dir>/streams/<name>/shards/<shard>/<seq>.seg  the shard's log, in segments
//! <data-dir>/streams/<name>/shards/<shard>/<seq>.sum  a sealed segment's summary
//! <data-dir>/streams/<name>/shards/<shard>/hwm.json  the shard's high-water mark
//! <data-dir>/streams/<name>/shards/<shard>/quarantine/  torn tails moved aside
//! <data-dir>/streams/<name>/consumers/<name>.json   checkpoints
//! ```
//!
//! Damage is contained: a stream whose `stream.json` cannot be read is
//! listed as damaged ([`Store::damaged_streams`]) and can be deleted, and
//! every other stream works; damaged bytes in a segment cost only the records
//! they held ([`shard`]); [`Store::verify_stream`] reads every byte and
//! reports every damaged range.
//!
//! A [`Store`] opened with [`Store::open`] writes; any number opened with
//! [`Store::open_read_only`] (other processes' readers) read alongside it and
//! [`Store::refresh`] to see what it added. [`Store::put_records`] routes each
//! record to a shard by the MD5 of its partition key and answers per record;
//! it returns only once the stored records are durable (group commit). A call
//! that would take the bytes in flight past [`StoreConfig::max_inflight_bytes`]
//! is refused whole with a retryable [`IngestError::Overloaded`], so memory
//! stays bounded. Reads go through shard iterators ([`Store::shard_iterator`],
//! [`Store::get_records`]) or a [`StreamReader`] over all shards, parents
//! before their children.

pub mod consumer;
mod files;
mod frame;
pub(crate) mod fsutil;
pub mod high_water;
pub mod iterator;
pub mod meta;
pub mod names;
pub mod reader;
pub mod record;
mod segment;
pub mod shard;
mod stream;
mod summary;
pub mod time;

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Serialize;

pub use consumer::Checkpoint;
pub use iterator::{GetRecords, ShardIterator, StartingPosition};
pub use meta::{ShardMeta, StreamMeta};
pub use reader::StreamReader;
pub use record::{MAX_DATA_BYTES, PutRecord, Record, hash_key_of};
pub use shard::{Durability, Finding, FindingKind, LogConfig, LogStats, ShardCheck};

use crate::error::{IngestError, Result};
use crate::metrics as metric_names;
use files::StoreFiles;
use fsutil::{create_dir, io_err, sync_dir};
use stream::Stream;

/// The default data directory.
pub const DEFAULT_DATA_DIR: &str = "./osprey-data";

/// What `LOCK` holds while a writer has the store open, and after it closed
/// it cleanly (every shard's exact end saved).
const OPEN: &[u8] = b"open\n";
const CLEAN: &[u8] = b"clean\n";

/// The default retention, in hours.
pub const DEFAULT_RETENTION_HOURS: u32 = 24;

/// How a store writes and how much it takes in at once.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// How each shard's log is written.
    pub log: LogConfig,
    /// Bytes of records in puts not yet acknowledged, above which a new put
    /// is refused (retryable).
    pub max_inflight_bytes: usize,
    /// Reads the clock, in milliseconds since the epoch (tests set it).
    pub clock: fn() -> i64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            log: LogConfig::default(),
            max_inflight_bytes: 256 << 20,
            clock: time::now_ms,
        }
    }
}

impl StoreConfig {
    /// The config osprey's commands and server write a store with:
    /// `durability`, and segments of `OSPREY_SEGMENT_BYTES` bytes when that
    /// holds a number of at least 4096 (tests that need many segments),
    /// else the default size.
    pub fn for_writing(durability: Durability) -> StoreConfig {
        let segment_bytes = std::env::var("OSPREY_SEGMENT_BYTES")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|&b| b >= 4096)
            .unwrap_or(LogConfig::default().segment_bytes);
        StoreConfig {
            log: LogConfig {
                durability,
                segment_bytes,
            },
            ..StoreConfig::default()
        }
    }
}

/// Options of a new stream.
#[derive(Debug, Clone, Copy)]
pub struct StreamOptions {
    /// Shards, 1 to 1024.
    pub shards: u32,
    /// Records older than this many hours are removed (in whole segments).
    pub retention_hours: u32,
    /// Each shard keeps at most about this many bytes, when set.
    pub retention_bytes: Option<u64>,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            shards: 1,
            retention_hours: DEFAULT_RETENTION_HOURS,
            retention_bytes: None,
        }
    }
}

/// The answer to one record of a put: where it is stored, or why not.
pub type PutOutcome = std::result::Result<PutAck, IngestError>;

/// Where a put record is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutAck {
    /// The shard's id.
    pub shard: Arc<str>,
    /// The record's sequence number in it.
    pub seq: u64,
}

/// A stream as `describe` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct StreamDescription {
    /// The stream's name.
    pub name: String,
    /// When it was created (RFC 3339 UTC).
    pub created: String,
    /// Retention in hours.
    pub retention_hours: u32,
    /// Retention in bytes per shard, when set.
    pub retention_bytes: Option<u64>,
    /// Open shards.
    pub open_shards: usize,
    /// Every shard.
    pub shards: Vec<ShardDescription>,
}

/// A shard as `describe` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ShardDescription {
    /// Its id.
    pub id: String,
    /// `open`, or `closed` after a split or merge.
    pub state: &'static str,
    /// The lowest hash key it takes (decimal).
    pub hash_start: String,
    /// The highest hash key it takes (decimal).
    pub hash_end: String,
    /// The shard it was split from, or the first merged into it.
    pub parent: Option<String>,
    /// The second shard merged into it.
    pub adjacent_parent: Option<String>,
    /// Its first sequence number.
    pub starting_seq: u64,
    /// One past its last sequence number, once closed.
    pub ending_seq: Option<u64>,
    /// The oldest sequence number still held.
    pub trim_horizon_seq: u64,
    /// The sequence number the next record gets.
    pub next_seq: u64,
    /// Bytes on disk.
    pub bytes: u64,
    /// Damaged ranges found in its segments so far (`osprey stream verify`
    /// reads every byte to find them all).
    pub damaged_ranges: usize,
    /// Bytes in them.
    pub damaged_bytes: u64,
}

/// What [`Store::verify_stream`] found in a stream.
#[derive(Debug, Clone, Serialize)]
pub struct StreamCheck {
    /// The stream's name.
    pub stream: String,
    /// Per shard id, what was read and found.
    pub shards: Vec<(String, ShardCheck)>,
}

impl StreamCheck {
    /// Findings that are damage, with their shard ids.
    pub fn damage(&self) -> impl Iterator<Item = (&str, &Finding)> {
        self.shards
            .iter()
            .flat_map(|(id, c)| c.findings.iter().map(move |f| (id.as_str(), f)))
            .filter(|(_, f)| f.is_damage())
    }
}

/// Runs `run` on `target` every `every` on a thread of its own, for as
/// long as `target` lives (the retention passes of both stores).
/// `OSPREY_RETENTION_EVERY_MS` overrides `every` (tests that crash a
/// process in the middle of retention set it).
pub(crate) fn spawn_every<T: Send + Sync + 'static>(
    target: &Arc<T>,
    every: Duration,
    run: fn(&T),
) -> std::thread::JoinHandle<()> {
    let every = std::env::var("OSPREY_RETENTION_EVERY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(every, Duration::from_millis);
    let weak = Arc::downgrade(target);
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(every);
            let Some(target) = weak.upgrade() else { return };
            run(&target);
        }
    })
}

/// The embedded stream store in one data directory.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    config: StoreConfig,
    writable: bool,
    _lock: Option<File>,
    streams: RwLock<HashMap<String, Arc<Stream>>>,
    /// Streams that cannot be opened, with the reason.
    damaged: RwLock<HashMap<String, String>>,
    files: Arc<StoreFiles>,
    inflight: AtomicUsize,
}

impl Store {
    /// Opens (creating it when missing) the data directory `dir` for writing,
    /// repairing torn tails that a crash left.
    ///
    /// # Errors
    /// [`IngestError::Locked`] when another process writes it,
    /// [`IngestError::Storage`] or [`IngestError::Corrupt`].
    pub fn open(dir: &Path, config: StoreConfig) -> Result<Store> {
        create_dir(&dir.join("streams"))?;
        let lock_path = dir.join("LOCK");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err("cannot open", &lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(IngestError::Locked {
                    dir: dir.to_path_buf(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(io_err("cannot lock", &lock_path)(e));
            }
        }
        // Whether the writer before closed cleanly, then "open" until this
        // one closes cleanly (see `Drop`), durably before any append.
        let clean_before = std::fs::read(&lock_path).is_ok_and(|b| b == CLEAN);
        let mut store = Store::new(dir, config, true, None);
        if let Some(files) = Arc::get_mut(&mut store.files) {
            files.clean_before = clean_before;
        }
        lock.set_len(0)
            .and_then(|()| lock.write_all_at(OPEN, 0))
            .and_then(|()| lock.sync_all())
            .map_err(io_err("cannot write", &lock_path))?;
        store._lock = Some(lock);
        store.load_all()?;
        Ok(store)
    }

    /// Opens the data directory `dir` for reading only, alongside a process
    /// that writes it; [`Store::refresh`] takes in what it added since.
    ///
    /// # Errors
    /// [`IngestError::Storage`] or [`IngestError::Corrupt`].
    pub fn open_read_only(dir: &Path) -> Result<Store> {
        let store = Store::new(dir, StoreConfig::default(), false, None);
        store.load_all()?;
        Ok(store)
    }

    fn new(dir: &Path, config: StoreConfig, writable: bool, lock: Option<File>) -> Store {
        Store {
            dir: dir.to_path_buf(),
            config,
            writable,
            _lock: lock,
            streams: RwLock::new(HashMap::new()),
            damaged: RwLock::new(HashMap::new()),
            files: Arc::new(StoreFiles::sized_to_limit(writable)),
            inflight: AtomicUsize::new(0),
        }
    }

    fn streams_dir(&self) -> PathBuf {
        self.dir.join("streams")
    }

    /// The folder of stream `name` (whether or not it exists).
    pub fn stream_dir(&self, name: &str) -> PathBuf {
        self.streams_dir().join(name)
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Loads every stream; a writable store also clears what an interrupted
    /// create or delete left.
    fn load_all(&self) -> Result<()> {
        let root = self.streams_dir();
        let entries = match std::fs::read_dir(&root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !self.writable => return Ok(()),
            Err(e) => return Err(io_err("cannot read", &root)(e)),
        };
        let mut map = HashMap::new();
        let mut damaged = HashMap::new();
        let known = self
            .streams
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for entry in entries {
            let entry = entry.map_err(io_err("cannot read", &root))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                if self.writable {
                    std::fs::remove_dir_all(entry.path())
                        .map_err(io_err("cannot remove", &entry.path()))?;
                }
                continue;
            }
            if let Some(stream) = known.get(&name) {
                map.insert(name, Arc::clone(stream));
                continue;
            }
            match Stream::open(
                &entry.path(),
                self.config.log,
                self.writable,
                Arc::clone(&self.files),
            ) {
                Ok(stream) => {
                    map.insert(name, Arc::new(stream));
                }
                Err(e) => {
                    let reason = crate::error::chain(&e);
                    tracing::warn!(
                        stream = name,
                        reason,
                        "Stream damaged: the other streams work; `osprey stream delete` removes it."
                    );
                    damaged.insert(name, reason);
                }
            }
        }
        *self
            .streams
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = map;
        *self
            .damaged
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = damaged;
        Ok(())
    }

    fn stream(&self, name: &str) -> Result<Arc<Stream>> {
        if let Some(s) = self
            .streams
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(name)
        {
            return Ok(Arc::clone(s));
        }
        if let Some(reason) = self
            .damaged
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(name)
        {
            return Err(IngestError::Damaged {
                stream: name.to_owned(),
                reason: reason.clone(),
            });
        }
        let missing = || IngestError::NoSuchStream {
            stream: name.to_owned(),
        };
        if self.writable || names::check("stream", name).is_err() {
            return Err(missing());
        }
        // A read-only store sees streams created after it opened.
        let dir = self.streams_dir().join(name);
        if !dir.join(meta::FILE).exists() {
            return Err(missing());
        }
        let stream = Arc::new(Stream::open(
            &dir,
            self.config.log,
            false,
            Arc::clone(&self.files),
        )?);
        self.streams
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(name.to_owned(), Arc::clone(&stream));
        Ok(stream)
    }

    fn check_writable(&self) -> Result<()> {
        if self.writable {
            Ok(())
        } else {
            Err(IngestError::ReadOnly)
        }
    }

    /// Creates stream `name`.
    ///
    /// # Errors
    /// [`IngestError::InvalidArgument`] (name, shard count),
    /// [`IngestError::StreamExists`], [`IngestError::Storage`].
    pub fn create_stream(&self, name: &str, options: StreamOptions) -> Result<StreamDescription> {
        self.check_writable()?;
        names::check("stream", name)?;
        if !(1..=1024).contains(&options.shards) {
            return Err(IngestError::InvalidArgument(format!(
                "invalid shard count {}: it must be 1 to 1024",
                options.shards
            )));
        }
        if options.retention_hours == 0 {
            return Err(IngestError::InvalidArgument(
                "retention must be at least 1 hour".into(),
            ));
        }
        let mut streams = self
            .streams
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let dir = self.streams_dir().join(name);
        if streams.contains_key(name) || dir.exists() || self.is_damaged(name) {
            return Err(IngestError::StreamExists {
                stream: name.to_owned(),
            });
        }
        let shards = meta::even_ranges(options.shards)
            .into_iter()
            .enumerate()
            .map(|(i, (hash_start, hash_end))| ShardMeta {
                id: meta::shard_id(i as u32),
                hash_start,
                hash_end,
                parent: None,
                adjacent_parent: None,
                starting_seq: 0,
                ending_seq: None,
            })
            .collect();
        let meta = StreamMeta {
            name: name.to_owned(),
            created_ms: (self.config.clock)(),
            retention_hours: options.retention_hours,
            retention_bytes: options.retention_bytes,
            next_shard_index: options.shards,
            shards,
        };
        // Built aside and renamed into place: a crash leaves all or nothing.
        let tmp = self.streams_dir().join(format!(".{name}.creating"));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(io_err("cannot remove", &tmp))?;
        }
        create_dir(&tmp)?;
        meta.save(&tmp)?;
        for shard in &meta.shards {
            // Numbers reserved from the start: the first appends need not
            // wait for a save.
            let shard_dir = tmp.join("shards").join(&shard.id);
            create_dir(&shard_dir)?;
            high_water::create(
                &shard_dir,
                &high_water::HighWater {
                    reserved: high_water::LEAP,
                    clean_end: Some(0),
                    skipped: Vec::new(),
                },
            )?;
        }
        sync_dir(&tmp.join("shards"))?;
        std::fs::rename(&tmp, &dir).map_err(io_err("cannot create", &dir))?;
        sync_dir(&self.streams_dir())?;
        let stream = match Stream::open(&dir, self.config.log, true, Arc::clone(&self.files)) {
            Ok(stream) => Arc::new(stream),
            Err(e) => {
                // All or nothing: a stream that cannot be opened is taken back.
                let doomed = self.streams_dir().join(format!(".{name}.deleting"));
                if std::fs::rename(&dir, &doomed).is_ok() {
                    let _ignored = std::fs::remove_dir_all(&doomed);
                }
                return Err(e);
            }
        };
        streams.insert(name.to_owned(), Arc::clone(&stream));
        drop(streams);
        tracing::info!(stream = name, shards = options.shards, "Stream created.");
        self.describe_stream(name)
    }

    /// Deletes stream `name` and all its records.
    ///
    /// # Errors
    /// [`IngestError::NoSuchStream`], [`IngestError::Storage`].
    pub fn delete_stream(&self, name: &str) -> Result<()> {
        self.check_writable()?;
        let mut streams = self
            .streams
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let was_damaged = self
            .damaged
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(name)
            .is_some();
        if streams.remove(name).is_none() && !was_damaged {
            return Err(IngestError::NoSuchStream {
                stream: name.to_owned(),
            });
        }
        let dir = self.streams_dir().join(name);
        let doomed = self.streams_dir().join(format!(".{name}.deleting"));
        std::fs::rename(&dir, &doomed).map_err(io_err("cannot remove", &dir))?;
        sync_dir(&self.streams_dir())?;
        std::fs::remove_dir_all(&doomed).map_err(io_err("cannot remove", &doomed))?;
        tracing::info!(stream = name, "Stream deleted.");
        Ok(())
    }

    fn is_damaged(&self, name: &str) -> bool {
        self.damaged
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains_key(name)
    }

    /// The streams that cannot be opened, with the reason, sorted by name.
    pub fn damaged_streams(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .damaged
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        out.sort();
        out
    }

    /// Reads every segment of every shard of stream `name` from disk and
    /// reports every damaged range, missing range and torn tail. Only reads:
    /// nothing is changed.
    ///
    /// # Errors
    /// [`IngestError::NoSuchStream`], [`IngestError::Damaged`] (its
    /// metadata cannot be read), [`IngestError::Storage`].
    pub fn verify_stream(&self, name: &str) -> Result<StreamCheck> {
        let stream = self.stream(name)?;
        let table = stream.table();
        let mut shards = Vec::new();
        for (id, log) in &table.logs {
            shards.push((id.clone(), log.verify()?));
        }
        Ok(StreamCheck {
            stream: name.to_owned(),
            shards,
        })
    }

    /// The names of the streams that can be opened, sorted (see
    /// [`Store::damaged_streams`] for the others).
    ///
    /// # Errors
    /// [`IngestError::Storage`] when a read-only store cannot list the folder.
    pub fn list_streams(&self) -> Result<Vec<String>> {
        if !self.writable {
            self.load_all()?;
        }
        let mut names: Vec<String> = self
            .streams
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .keys()
            .cloned()
            .collect();
        names.sort();
        Ok(names)
    }

    /// Stream `name` with its shards, their hash-key ranges and sequence-number ranges.
    ///
    /// # Errors
    /// [`IngestError::NoSuchStream`].
    pub fn describe_stream(&self, name: &str) -> Result<StreamDescription> {
        let stream = self.stream(name)?;
        stream.refresh()?;
        let table = stream.table();
        let shards: Vec<ShardDescription> = table
            .meta
            .shards
            .iter()
            .map(|s| {
                let stats = table.logs.get(&s.id).map(|l| l.stats());
                ShardDescription {
                    id: s.id.clone(),
                    state: if s.is_open() { "open" } else { "closed" },
                    hash_start: s.hash_start.to_string(),
                    hash_end: s.hash_end.to_string(),
                    parent: s.parent.clone(),
                    adjacent_parent: s.adjacent_parent.clone(),
                    starting_seq: s.starting_seq,
                    ending_seq: s.ending_seq,
                    trim_horizon_seq: stats.map_or(s.starting_seq, |st| st.first_seq),
                    next_seq: stats.map_or(s.starting_seq, |st| st.next_seq),
                    bytes: stats.map_or(0, |st| st.bytes),
                    damaged_ranges: stats.map_or(0, |st| st.damaged_ranges),
                    damaged_bytes: stats.map_or(0, |st| st.damaged_bytes),
                }
            })
            .collect();
        Ok(StreamDescription {
            name: table.meta.name.clone(),
            created: time::format_ms(table.meta.created_ms),
            retention_hours: table.meta.retention_hours,
            retention_bytes: table.meta.retention_bytes,
            open_shards: table.meta.shards.iter().filter(|s| s.is_open()).count(),
            shards,
        })
    }

    /// Puts `records` into stream `name` and answers per record, in order:
    /// the shard and sequence number of each stored one (durable by then), or
    /// why it was refused (an invalid record does not stop the others).
    ///
    /// # Errors
    /// For the whole call: [`IngestError::NoSuchStream`], or
    /// [`IngestError::Overloaded`] (retryable) when too many bytes are in
    /// flight already.
    pub fn put_records(&self, name: &str, records: &[PutRecord]) -> Result<Vec<PutOutcome>> {
        Ok(self.begin_put(name, records)?.wait())
    }

    /// The first half of [`Store::put_records`]: validates and appends the
    /// records, and returns what [`PendingPut::wait`] waits on for their
    /// durability. A caller that pipelines (the TCP listener) reads its next
    /// batch meanwhile; the bytes count as in flight until the wait ends.
    ///
    /// # Errors
    /// As [`Store::put_records`].
    pub fn begin_put(&self, name: &str, records: &[PutRecord]) -> Result<PendingPut<'_>> {
        self.check_writable()?;
        let stream = self.stream(name)?;
        let bytes: usize = records.iter().map(PutRecord::size).sum();
        let guard = self.admit(bytes).inspect_err(|_| {
            metrics::counter!(metric_names::STORE_PUT_REFUSED, "stream" => name.to_owned())
                .increment(1);
        })?;
        let mut out: Vec<Option<PutOutcome>> = Vec::with_capacity(records.len());
        let mut valid = Vec::with_capacity(records.len());
        for (i, r) in records.iter().enumerate() {
            match r.validate() {
                Ok(()) => {
                    out.push(None);
                    valid.push((i, r));
                }
                Err(e) => out.push(Some(Err(e))),
            }
        }
        let (failed, waits) = stream.append(valid, (self.config.clock)());
        for (i, result) in failed {
            out[i] = Some(result.map(|(shard, seq)| PutAck { shard, seq }));
        }
        // Counted once a call: the records appended (those with no answer
        // yet) and their data and partition key bytes.
        let (appended, appended_bytes) = out
            .iter()
            .zip(records)
            .filter(|(answer, _)| answer.is_none())
            .fold((0u64, 0u64), |(n, b), (_, r)| {
                (n + 1, b + (r.data.len() + r.partition_key.len()) as u64)
            });
        if appended > 0 {
            let label = [("stream", name.to_owned())];
            metrics::counter!(metric_names::STORE_RECORDS_PUT, &label).increment(appended);
            metrics::counter!(metric_names::STORE_BYTES_PUT, &label).increment(appended_bytes);
        }
        Ok(PendingPut {
            out,
            waits,
            _guard: guard,
        })
    }

    /// Counts `bytes` in flight, or refuses them when that would pass the limit.
    fn admit(&self, bytes: usize) -> Result<InflightGuard<'_>> {
        let before = self.inflight.fetch_add(bytes, Ordering::AcqRel);
        let guard = InflightGuard {
            counter: &self.inflight,
            bytes,
        };
        if before > 0 && before + bytes > self.config.max_inflight_bytes {
            return Err(IngestError::Overloaded(format!(
                "{} MiB of records are waiting to be stored already",
                before >> 20
            )));
        }
        Ok(guard)
    }

    /// Splits shard `shard` of stream `name` at `hash_key`; returns the two
    /// children's ids. The parent stays readable until drained.
    ///
    /// # Errors
    /// [`IngestError::NoSuchStream`], [`IngestError::NoSuchShard`],
    /// [`IngestError::InvalidArgument`], [`IngestError::Storage`].
    pub fn split_shard(&self, name: &str, shard: &str, hash_key: u128) -> Result<(String, String)> {
        self.check_writable()?;
        let ids = self.stream(name)?.split(name, shard, hash_key)?;
        tracing::info!(stream = name, shard, children = ?ids, "Shard split.");
        Ok(ids)
    }

    /// Merges shards `shard` and `adjacent` of stream `name`; returns the
    /// child's id. Both parents stay readable until drained.
    ///
    /// # Errors
    /// As [`Store::split_shard`].
    pub fn merge_shards(&self, name: &str, shard: &str, adjacent: &str) -> Result<String> {
        self.check_writable()?;
        let id = self.stream(name)?.merge(name, shard, adjacent)?;
        tracing::info!(stream = name, shard, adjacent, child = %id, "Shards merged.");
        Ok(id)
    }

    /// An iterator on shard `shard` of stream `name` at `position`.
    ///
    /// # Errors
    /// [`IngestError::NoSuchStream`], [`IngestError::NoSuchShard`],
    /// [`IngestError::Storage`].
    pub fn shard_iterator(
        &self,
        name: &str,
        shard: &str,
        position: StartingPosition,
    ) -> Result<ShardIterator> {
        let stream = self.stream(name)?;
        let table = stream.table();
        let log = table
            .logs
            .get(shard)
            .ok_or_else(|| IngestError::NoSuchShard {
                stream: name.to_owned(),
                shard: shard.to_owned(),
            })?;
        if !self.writable
            && matches!(
                position,
                StartingPosition::AtSequence(_) | StartingPosition::AfterSequence(_)
            )
        {
            log.refresh()?;
        }
        let stats = log.stats();
        let past_end = |n: u64| {
            IngestError::InvalidArgument(format!(
                "sequence number {n} is past the end of shard {shard:?} of stream {name:?} (its last record is {})",
                stats
                    .next_seq
                    .checked_sub(1)
                    .map_or_else(|| "none yet".to_owned(), |s| s.to_string())
            ))
        };
        let next_seq = match position {
            StartingPosition::TrimHorizon => stats.first_seq,
            StartingPosition::Latest => stats.next_seq,
            StartingPosition::AtSequence(n) if n >= stats.next_seq => return Err(past_end(n)),
            StartingPosition::AtSequence(n) => n,
            StartingPosition::AfterSequence(n) if n >= stats.next_seq => {
                return Err(past_end(n));
            }
            StartingPosition::AfterSequence(n) => n.saturating_add(1),
            StartingPosition::AtTimestamp(ts) => log.seq_at_time(ts)?,
        };
        Ok(ShardIterator {
            stream: name.to_owned(),
            shard: shard.to_owned(),
            next_seq,
        })
    }

    /// Per shard id of stream `name`, the sequence number its next record
    /// gets (the end of what a reader can read).
    ///
    /// # Errors
    /// [`IngestError::NoSuchStream`], [`IngestError::Storage`].
    pub fn shard_ends(&self, name: &str) -> Result<HashMap<String, u64>> {
        let stream = self.stream(name)?;
        stream.refresh()?;
        Ok(stream
            .table()
            .logs
            .iter()
            .map(|(id, log)| (id.clone(), log.stats().next_seq))
            .collect())
    }

    /// Reads up to `max_records` records and about `max_bytes` bytes at
    /// `iterator`.
    ///
    /// # Errors
    /// [`IngestError::NoSuchStream`], [`IngestError::NoSuchShard`],
    /// [`IngestError::Storage`], [`IngestError::Corrupt`].
    pub fn get_records(
        &self,
        iterator: &ShardIterator,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<GetRecords> {
        let stream = self.stream(&iterator.stream)?;
        let table = stream.table();
        let no_shard = || IngestError::NoSuchShard {
            stream: iterator.stream.clone(),
            shard: iterator.shard.clone(),
        };
        let log = table.logs.get(&iterator.shard).ok_or_else(no_shard)?;
        let meta = table.meta.shard(&iterator.shard).ok_or_else(no_shard)?;
        let batch = log.read(iterator.next_seq, max_records, max_bytes)?;
        if !batch.records.is_empty() {
            let bytes: usize = batch
                .records
                .iter()
                .map(|r| r.data.len() + r.partition_key.len())
                .sum();
            let label = [("stream", iterator.stream.clone())];
            metrics::counter!(metric_names::STORE_RECORDS_READ, &label)
                .increment(batch.records.len() as u64);
            metrics::counter!(metric_names::STORE_BYTES_READ, &label).increment(bytes as u64);
        }
        let latest = log.stats().next_seq;
        let millis_behind_latest = match batch.records.last() {
            Some(r) if batch.next_seq < latest => ((self.config.clock)() - r.timestamp_ms).max(0),
            _ => 0,
        };
        let drained = meta.ending_seq.is_some_and(|end| batch.next_seq >= end);
        Ok(GetRecords {
            records: batch.records,
            next: (!drained).then(|| ShardIterator {
                next_seq: batch.next_seq,
                ..iterator.clone()
            }),
            millis_behind_latest,
        })
    }

    /// Removes, in every stream, segments past their stream's retention;
    /// returns how many went.
    ///
    /// # Errors
    /// [`IngestError::Storage`].
    pub fn enforce_retention(&self) -> Result<usize> {
        self.check_writable()?;
        let now = (self.config.clock)();
        let streams: Vec<Arc<Stream>> = self
            .streams
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        let mut removed = 0;
        for stream in streams {
            let table = stream.table();
            let min_ts = now.saturating_sub(i64::from(table.meta.retention_hours) * 3_600_000);
            for log in table.logs.values() {
                removed += log.expire(min_ts, table.meta.retention_bytes)?;
            }
        }
        if removed > 0 {
            tracing::debug!(segments = removed, "Expired segments removed.");
        }
        Ok(removed)
    }

    /// Runs [`Store::enforce_retention`] every `every` on a thread of its own,
    /// for as long as the store lives.
    /// `OSPREY_RETENTION_EVERY_MS` overrides `every` (tests that crash a
    /// process in the middle of retention set it).
    pub fn spawn_retention(self: &Arc<Self>, every: Duration) -> std::thread::JoinHandle<()> {
        spawn_every(self, every, |store| {
            if let Err(e) = store.enforce_retention() {
                tracing::error!(error = %e, "Retention failed.");
            }
        })
    }

    /// In a read-only store, takes in what the writing process added to
    /// stream `name` since the last look.
    ///
    /// # Errors
    /// [`IngestError::NoSuchStream`], [`IngestError::Storage`].
    pub fn refresh(&self, name: &str) -> Result<()> {
        self.stream(name)?.refresh()
    }

    /// The checkpoint of consumer `consumer` on stream `name`.
    ///
    /// # Errors
    /// [`IngestError::NoSuchStream`], [`IngestError::InvalidArgument`] (the
    /// name), [`IngestError::Storage`], [`IngestError::Corrupt`].
    pub fn checkpoint(&self, name: &str, consumer: &str) -> Result<Checkpoint> {
        names::check("consumer", consumer)?;
        consumer::load(&self.stream(name)?.dir, consumer)
    }

    /// Saves the checkpoint of consumer `consumer` on stream `name` (also
    /// through a read-only store: checkpoints belong to their consumer).
    ///
    /// # Errors
    /// As [`Store::checkpoint`].
    pub fn save_checkpoint(
        &self,
        name: &str,
        consumer: &str,
        checkpoint: &Checkpoint,
    ) -> Result<()> {
        names::check("consumer", consumer)?;
        consumer::save(&self.stream(name)?.dir, consumer, checkpoint)
    }

    /// Sets the retention of stream `name`, in hours.
    ///
    /// # Errors
    /// [`IngestError::NoSuchStream`], [`IngestError::InvalidArgument`],
    /// [`IngestError::Storage`].
    pub fn set_retention(&self, name: &str, hours: u32) -> Result<()> {
        self.check_writable()?;
        self.stream(name)?.set_retention(hours)
    }

    /// The shard map of stream `name` now.
    ///
    /// # Errors
    /// [`IngestError::NoSuchStream`].
    pub fn stream_meta(&self, name: &str) -> Result<StreamMeta> {
        Ok(self.stream(name)?.table().meta.clone())
    }
}

impl Drop for Store {
    /// Closes every stream; when every shard closed cleanly, marks the store
    /// clean so the next writer can trust each shard's saved end.
    fn drop(&mut self) {
        let Some(lock) = self._lock.take() else {
            return;
        };
        self.streams
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        if self.files.open_writers.load(Ordering::Acquire) == 0
            && !self.files.unclean.load(Ordering::Acquire)
        {
            let marked = lock
                .set_len(0)
                .and_then(|()| lock.write_all_at(CLEAN, 0))
                .and_then(|()| lock.sync_all());
            if let Err(e) = marked {
                tracing::warn!(error = %e, "Cannot mark the store closed cleanly.");
            }
        }
    }
}

/// A put whose records are appended but not yet known to be durable.
#[derive(Debug)]
#[must_use = "records count as stored only after `wait`"]
pub struct PendingPut<'a> {
    out: Vec<Option<PutOutcome>>,
    waits: Vec<stream::Pending>,
    _guard: InflightGuard<'a>,
}

impl PendingPut<'_> {
    /// Waits until the records are durable and answers per record, in the
    /// order they were put.
    pub fn wait(self) -> Vec<PutOutcome> {
        let PendingPut {
            mut out,
            waits,
            _guard,
        } = self;
        for (i, result) in stream::wait(waits) {
            out[i] = Some(result.map(|(shard, seq)| PutAck { shard, seq }));
        }
        out.into_iter()
            .map(|o| o.unwrap_or_else(|| Err(IngestError::InvalidRecord("not stored".into()))))
            .collect()
    }
}

/// Takes its bytes off the in-flight count when the put ends.
#[derive(Debug)]
struct InflightGuard<'a> {
    counter: &'a AtomicUsize,
    bytes: usize,
}

impl Drop for InflightGuard<'_> {
    fn drop(&mut self) {
        self.counter.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests;
