//! One stream in memory: its metadata, a log per shard, routing of records
//! to the open shard whose hash-key range holds them, and resharding.
//!
//! The shard table is replaced whole (copy on write) when a split or merge
//! changes it, so puts and reads take it without holding a lock. A put that
//! finds its shard closed by a concurrent split or merge routes its records
//! again through the new table.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use super::files::StoreFiles;
use super::meta::{ShardMeta, StreamMeta, shard_id};
use super::record::PutRecord;
use super::shard::{LogConfig, ShardLog};
use crate::error::{IngestError, Result};

/// The shards of a stream as one snapshot.
#[derive(Debug)]
pub(super) struct Table {
    /// The metadata this table was built from.
    pub meta: StreamMeta,
    /// Every shard's log, by id.
    pub logs: BTreeMap<String, Arc<ShardLog>>,
    /// The open shards by hash-key range, sorted: (start, end, id).
    open: Vec<(u128, u128, Arc<str>)>,
}

impl Table {
    fn build(meta: StreamMeta, logs: BTreeMap<String, Arc<ShardLog>>) -> Table {
        let mut open: Vec<_> = meta
            .shards
            .iter()
            .filter(|s| s.is_open())
            .map(|s| (s.hash_start, s.hash_end, Arc::from(s.id.as_str())))
            .collect();
        open.sort_unstable();
        Table { meta, logs, open }
    }

    /// The open shard whose range holds `hash_key`.
    pub(super) fn route(&self, hash_key: u128) -> Option<(&Arc<str>, &Arc<ShardLog>)> {
        let i = self
            .open
            .partition_point(|(start, _, _)| *start <= hash_key);
        let (_, end, id) = self.open.get(i.checked_sub(1)?)?;
        (hash_key <= *end).then(|| self.logs.get(&**id).map(|log| (id, log)))?
    }
}

/// Where one record went: its shard and sequence number, or its error.
pub(super) type Stored = std::result::Result<(Arc<str>, u64), IngestError>;

/// Appended records waiting for durability: the log, the end to wait for,
/// and per record its index, shard and sequence number.
pub(super) type Pending = (Arc<ShardLog>, u64, Vec<(usize, Arc<str>, u64)>);

/// Records routed to one shard, with their indexes.
type Group<'r> = (Arc<str>, Arc<ShardLog>, Vec<(usize, &'r PutRecord)>);

/// A stream: its folder, its shard table, and how its logs are written.
#[derive(Debug)]
pub(super) struct Stream {
    /// Its folder, `<data-dir>/streams/<name>`.
    pub dir: PathBuf,
    config: LogConfig,
    writable: bool,
    files: Arc<StoreFiles>,
    table: RwLock<Arc<Table>>,
    /// Serialises splits and merges.
    admin: Mutex<()>,
    /// What `stream.json` looked like at the last look (read-only stores).
    seen: Mutex<Option<(std::time::SystemTime, u64)>>,
}

impl Stream {
    /// Opens the stream in `dir` and every shard's log.
    ///
    /// # Errors
    /// [`IngestError::Storage`] or [`IngestError::Corrupt`].
    pub(super) fn open(
        dir: &Path,
        config: LogConfig,
        writable: bool,
        files: Arc<StoreFiles>,
    ) -> Result<Stream> {
        let meta = StreamMeta::load(dir)?;
        let logs = open_logs(dir, &meta, config, writable, &files, &BTreeMap::new())?;
        Ok(Stream {
            dir: dir.to_path_buf(),
            config,
            writable,
            files,
            table: RwLock::new(Arc::new(Table::build(meta, logs))),
            admin: Mutex::new(()),
            seen: Mutex::new(None),
        })
    }

    /// The current shard table.
    pub(super) fn table(&self) -> Arc<Table> {
        Arc::clone(
            &self
                .table
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    fn set_table(&self, table: Table) {
        *self
            .table
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(table);
    }

    /// Appends valid records, each with its index in the caller's batch.
    /// Returns the records that failed already, per index, and what to wait
    /// for ([`wait`]) before the others count as stored.
    pub(super) fn append(
        &self,
        records: Vec<(usize, &PutRecord)>,
        now_ms: i64,
    ) -> (Vec<(usize, Stored)>, Vec<Pending>) {
        let mut out = Vec::with_capacity(records.len());
        let mut pending = records;
        let mut waits: Vec<Pending> = Vec::new();
        for attempt in 0.. {
            if pending.is_empty() {
                break;
            }
            if attempt > 0 {
                // A split or merge closed a shard and is about to publish
                // its children.
                std::thread::sleep(Duration::from_millis(1));
            }
            let table = self.table();
            let mut groups: BTreeMap<&str, Group<'_>> = BTreeMap::new();
            for (i, r) in std::mem::take(&mut pending) {
                match table.route(r.hash_key()) {
                    Some((id, log)) => groups
                        .entry(id)
                        .or_insert_with(|| (Arc::clone(id), Arc::clone(log), Vec::new()))
                        .2
                        .push((i, r)),
                    None => out.push((
                        i,
                        Err(IngestError::InvalidRecord(
                            "no open shard takes its hash key".into(),
                        )),
                    )),
                }
            }
            for (_, (id, log, group)) in groups {
                let refs: Vec<&PutRecord> = group.iter().map(|(_, r)| *r).collect();
                match log.append(&refs, now_ms) {
                    Ok(Some(seqs)) => {
                        let acks = group
                            .iter()
                            .zip(seqs.clone())
                            .map(|((i, _), s)| (*i, Arc::clone(&id), s))
                            .collect();
                        waits.push((log, seqs.end, acks));
                    }
                    Ok(None) if attempt < 2000 => pending.extend(group),
                    Ok(None) => out.extend(group.into_iter().map(|(i, _)| {
                        (
                            i,
                            Err(IngestError::Overloaded(
                                "the shard is being resharded".into(),
                            )),
                        )
                    })),
                    Err(e) => out.extend(group.into_iter().map(|(i, _)| (i, Err(copy_of(&e))))),
                }
            }
        }
        (out, waits)
    }
}

/// How many shards' fsyncs one batch runs at once.
const FSYNC_THREADS: usize = 16;

/// Waits until the appended records in `waits` are durable; returns per
/// index the shard and sequence number, or the error the fsync met.
pub(super) fn wait(waits: Vec<Pending>) -> Vec<(usize, Stored)> {
    let mut out = Vec::new();
    {
        // The shards' fsyncs run side by side, on at most FSYNC_THREADS
        // threads: a batch over many shards waits for about the slowest, not
        // for their sum, and never holds more files open at once than that
        // (a batch over 1000 shards under `ulimit -n 256` must not run out).
        let synced: Vec<Result<()>> = match waits.as_slice() {
            [] => Vec::new(),
            [(log, end, _)] => vec![log.wait_durable(*end)],
            many => {
                let next = std::sync::atomic::AtomicUsize::new(0);
                let results: Vec<std::sync::OnceLock<Result<()>>> =
                    many.iter().map(|_| std::sync::OnceLock::new()).collect();
                let work = || {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some((log, end, _)) = many.get(i) else {
                            break;
                        };
                        let _set = results[i].set(log.wait_durable(*end));
                    }
                };
                std::thread::scope(|scope| {
                    for _ in 1..many.len().min(FSYNC_THREADS) {
                        scope.spawn(work);
                    }
                    work();
                });
                results
                    .into_iter()
                    .map(|r| {
                        r.into_inner().unwrap_or_else(|| {
                            Err(IngestError::Internal("an fsync thread panicked".into()))
                        })
                    })
                    .collect()
            }
        };
        for ((_, _, acks), result) in waits.into_iter().zip(synced) {
            match result {
                Ok(()) => out.extend(acks.into_iter().map(|(i, id, s)| (i, Ok((id, s))))),
                Err(e) => out.extend(acks.into_iter().map(|(i, _, _)| (i, Err(copy_of(&e))))),
            }
        }
    }
    out
}

impl Stream {
    /// Splits open shard `shard` at `hash_key`: the first child takes the
    /// parent's range below it, the second the rest.
    ///
    /// # Errors
    /// [`IngestError::NoSuchShard`], [`IngestError::InvalidArgument`] (a
    /// closed shard, a key outside its range) or [`IngestError::Storage`].
    pub(super) fn split(
        &self,
        stream: &str,
        shard: &str,
        hash_key: u128,
    ) -> Result<(String, String)> {
        let _admin = self
            .admin
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let table = self.table();
        let parent = open_shard(&table, stream, shard)?;
        if !(parent.hash_start < hash_key && hash_key <= parent.hash_end) {
            return Err(IngestError::InvalidArgument(format!(
                "cannot split shard {shard:?} at {hash_key}: the key must be above {} and at most {}",
                parent.hash_start, parent.hash_end
            )));
        }
        let ranges = [
            (parent.hash_start, hash_key - 1),
            (hash_key, parent.hash_end),
        ];
        let parents = [shard.to_owned()];
        let ids = self.reshard(&table, &parents, &ranges, [Some(shard.to_owned()), None])?;
        Ok((ids[0].clone(), ids[1].clone()))
    }

    /// Merges open shards `shard` and `adjacent`, whose ranges must touch.
    ///
    /// # Errors
    /// As [`Stream::split`], and when the ranges do not touch.
    pub(super) fn merge(&self, stream: &str, shard: &str, adjacent: &str) -> Result<String> {
        let _admin = self
            .admin
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let table = self.table();
        let a = open_shard(&table, stream, shard)?;
        let b = open_shard(&table, stream, adjacent)?;
        let (lo, hi) = if a.hash_start < b.hash_start {
            (a, b)
        } else {
            (b, a)
        };
        if lo.hash_end.checked_add(1) != Some(hi.hash_start) {
            return Err(IngestError::InvalidArgument(format!(
                "cannot merge shards {shard:?} and {adjacent:?}: their hash-key ranges are not adjacent"
            )));
        }
        let ranges = [(lo.hash_start, hi.hash_end)];
        let parents = [shard.to_owned(), adjacent.to_owned()];
        let ids = self.reshard(
            &table,
            &parents,
            &ranges,
            [Some(shard.to_owned()), Some(adjacent.to_owned())],
        )?;
        Ok(ids[0].clone())
    }

    /// Closes `parents`, creates children over `ranges` that start past the
    /// parents' last sequence numbers, and saves the new shard map; undoes
    /// the close when something fails.
    fn reshard(
        &self,
        table: &Table,
        parents: &[String],
        ranges: &[(u128, u128)],
        lineage: [Option<String>; 2],
    ) -> Result<Vec<String>> {
        if !self.writable {
            return Err(IngestError::ReadOnly);
        }
        let logs: Vec<&Arc<ShardLog>> = parents.iter().filter_map(|p| table.logs.get(p)).collect();
        let reopen = || logs.iter().for_each(|l| l.reopen());
        let mut ends = Vec::new();
        for log in &logs {
            match log.close() {
                Ok(end) => ends.push(end),
                Err(e) => {
                    reopen();
                    return Err(e);
                }
            }
        }
        let start = ends.iter().copied().max().unwrap_or(0);
        let mut meta = table.meta.clone();
        for s in &mut meta.shards {
            if let Some(i) = parents.iter().position(|p| *p == s.id) {
                s.ending_seq = Some(ends[i]);
            }
        }
        let mut ids = Vec::new();
        for &(hash_start, hash_end) in ranges {
            let id = shard_id(meta.next_shard_index);
            meta.next_shard_index += 1;
            let (parent, adjacent_parent) = if ranges.len() == 1 {
                (lineage[0].clone(), lineage[1].clone())
            } else {
                (lineage[0].clone(), None)
            };
            meta.shards.push(ShardMeta {
                id: id.clone(),
                hash_start,
                hash_end,
                parent,
                adjacent_parent,
                starting_seq: start,
                ending_seq: None,
            });
            ids.push(id);
        }
        let result = open_logs(
            &self.dir,
            &meta,
            self.config,
            true,
            &self.files,
            &table.logs,
        )
        .and_then(|logs| meta.save(&self.dir).map(|()| logs));
        match result {
            Ok(logs) => {
                self.set_table(Table::build(meta, logs));
                Ok(ids)
            }
            Err(e) => {
                reopen();
                Err(e)
            }
        }
    }

    /// Sets the retention in hours, saved in `stream.json`.
    ///
    /// # Errors
    /// [`IngestError::InvalidArgument`] for 0 hours, [`IngestError::Storage`].
    pub(super) fn set_retention(&self, hours: u32) -> Result<()> {
        if !self.writable {
            return Err(IngestError::ReadOnly);
        }
        if hours == 0 {
            return Err(IngestError::InvalidArgument(
                "retention must be at least 1 hour".into(),
            ));
        }
        let _admin = self
            .admin
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let table = self.table();
        let mut meta = table.meta.clone();
        meta.retention_hours = hours;
        meta.save(&self.dir)?;
        let logs = table.logs.clone();
        self.set_table(Table::build(meta, logs));
        Ok(())
    }

    /// In a read-only store, takes in what the writing process changed: a new
    /// shard map, new records, removed segments.
    ///
    /// # Errors
    /// [`IngestError::Storage`] or [`IngestError::Corrupt`].
    pub(super) fn refresh(&self) -> Result<()> {
        if self.writable {
            return Ok(());
        }
        let path = self.dir.join(super::meta::FILE);
        let stamp = std::fs::metadata(&path)
            .ok()
            .and_then(|m| Some((m.modified().ok()?, m.len())));
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let table = self.table();
        if stamp != *seen {
            let meta = StreamMeta::load(&self.dir)?;
            let logs = open_logs(
                &self.dir,
                &meta,
                self.config,
                false,
                &self.files,
                &table.logs,
            )?;
            *seen = stamp;
            self.set_table(Table::build(meta, logs));
        }
        for log in self.table().logs.values() {
            log.refresh()?;
        }
        Ok(())
    }
}

/// The same error again, for each record of a batch that met it: a storage
/// error keeps its action, path, kind (a full disk stays retryable) and
/// message.
fn copy_of(e: &IngestError) -> IngestError {
    match e {
        IngestError::Storage {
            action,
            path,
            source,
        } => IngestError::Storage {
            action,
            path: path.clone(),
            source: std::io::Error::new(source.kind(), source.to_string()),
        },
        IngestError::Overloaded(m) => IngestError::Overloaded(m.clone()),
        other => IngestError::Internal(other.to_string()),
    }
}

fn open_shard<'t>(table: &'t Table, stream: &str, shard: &str) -> Result<&'t ShardMeta> {
    let meta = table
        .meta
        .shard(shard)
        .ok_or_else(|| IngestError::NoSuchShard {
            stream: stream.to_owned(),
            shard: shard.to_owned(),
        })?;
    if !meta.is_open() {
        return Err(IngestError::InvalidArgument(format!(
            "shard {shard:?} of stream {stream:?} is closed (split or merged already)"
        )));
    }
    Ok(meta)
}

/// The log of every shard in `meta`, reusing those in `known`.
fn open_logs(
    dir: &Path,
    meta: &StreamMeta,
    config: LogConfig,
    writable: bool,
    files: &Arc<StoreFiles>,
    known: &BTreeMap<String, Arc<ShardLog>>,
) -> Result<BTreeMap<String, Arc<ShardLog>>> {
    let mut logs = BTreeMap::new();
    for s in &meta.shards {
        let log = match known.get(&s.id) {
            Some(log) => Arc::clone(log),
            None => {
                let log = ShardLog::open(
                    &dir.join("shards").join(&s.id),
                    &format!("{}/{}", meta.name, s.id),
                    s.starting_seq,
                    config,
                    writable,
                    Arc::clone(files),
                )?;
                if writable && !s.is_open() {
                    log.close()?;
                }
                Arc::new(log)
            }
        };
        logs.insert(s.id.clone(), log);
    }
    Ok(logs)
}
