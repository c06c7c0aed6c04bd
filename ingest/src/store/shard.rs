//! One shard's log: append-only segment files, group commit, reads by
//! sequence number and time, retention.
//!
//! Appends are written at once (one positional write per batch) under the
//! log's lock and become readable, and acknowledgeable, only once durable.
//! Durability is a group commit: the first caller that needs an fsync does one
//! for everyone whose frames are in the file by then, and the others wait for
//! it, so one fsync serves many batches and throughput holds.
//!
//! A log opened writable trims a torn tail (frames cut short or failing their
//! checksum, as a crash leaves them) before it appends again. A read-only log
//! (another process's reader) never changes files; [`ShardLog::refresh`]
//! takes in what the writer has added since.

use std::fs;
use std::ops::Range;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::frame;
use super::fsutil::{io_err, sync_dir};
use super::record::{PutRecord, Record};
use super::segment::{FrameCursor, Segment, Step};
use crate::error::{IngestError, Result};

/// When an append counts as done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Once its segment file is fsynced (group commit): survives a crash of
    /// the machine.
    #[default]
    Fsync,
    /// Once it is written to the OS: survives a crash of osprey, not of the
    /// machine.
    Os,
}

/// How a shard's log is written.
#[derive(Debug, Clone, Copy)]
pub struct LogConfig {
    /// A segment that reaches this size is sealed and a new one started.
    pub segment_bytes: u64,
    /// When appends are acknowledged.
    pub durability: Durability,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 64 << 20,
            durability: Durability::Fsync,
        }
    }
}

/// A batch of records read from a shard.
#[derive(Debug, Default)]
pub struct ReadBatch {
    /// The records, in sequence-number order.
    pub records: Vec<Record>,
    /// Where the next read starts.
    pub next_seq: u64,
}

/// The shard's sizes and ranges, as `describe` shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogStats {
    /// The oldest sequence number still held (the trim horizon).
    pub first_seq: u64,
    /// The sequence number the next record gets; readable records are below it.
    pub next_seq: u64,
    /// Bytes held on disk.
    pub bytes: u64,
    /// Segment files.
    pub segments: usize,
}

/// One shard's log.
#[derive(Debug)]
pub struct ShardLog {
    dir: PathBuf,
    config: LogConfig,
    writable: bool,
    state: Mutex<LogState>,
    /// Records below this sequence number are durable and readable.
    durable: AtomicU64,
    syncing: Mutex<bool>,
    synced: Condvar,
}

#[derive(Debug)]
struct LogState {
    segments: Vec<Segment>,
    next_seq: u64,
    last_ts: i64,
    closed: bool,
    failed: bool,
    scratch: Vec<u8>,
}

impl ShardLog {
    /// Opens (or, writable, creates) the log in `dir` whose first record is
    /// `start_seq`.
    ///
    /// # Errors
    /// [`IngestError::Storage`] when the folder or a segment cannot be read or
    /// repaired.
    pub fn open(dir: &Path, start_seq: u64, config: LogConfig, writable: bool) -> Result<ShardLog> {
        if writable {
            super::fsutil::create_dir(dir)?;
        }
        let mut segments = Vec::new();
        for (first_seq, path) in list_segments(dir)? {
            let (seg, garbage) = Segment::open(path.clone(), first_seq, writable)
                .map_err(io_err("cannot read", &path))?;
            if garbage > 0 && writable {
                tracing::warn!(path = %path.display(), bytes = garbage, "Dropped a torn tail.");
                seg.file
                    .set_len(seg.len)
                    .and_then(|()| seg.file.sync_all())
                    .map_err(io_err("cannot repair", &path))?;
            }
            if let Some(prev) = segments.last()
                && prev_end(prev) != first_seq
            {
                tracing::warn!(path = %path.display(), "Sequence numbers missing before this segment.");
            }
            segments.push(seg);
        }
        if writable {
            // Frames after a torn segment would follow a gap: start afresh.
            if segments.is_empty() {
                segments
                    .push(Segment::create(dir, start_seq).map_err(io_err("cannot create", dir))?);
                sync_dir(dir)?;
            }
        }
        let next_seq = segments.last().map_or(start_seq, |s| s.end_seq);
        let last_ts = segments.last().map_or(i64::MIN, |s| s.last_ts);
        Ok(ShardLog {
            dir: dir.to_path_buf(),
            config,
            writable,
            state: Mutex::new(LogState {
                segments,
                next_seq,
                last_ts,
                closed: false,
                failed: false,
                scratch: Vec::new(),
            }),
            durable: AtomicU64::new(next_seq),
            syncing: Mutex::new(false),
            synced: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, LogState> {
        // A panic while the lock was held cannot leave the log inconsistent:
        // every change of it is one assignment after the I/O succeeded.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Appends `records` (already validated) at time `now_ms` and returns
    /// their sequence numbers; `None` when the shard is closed (split or
    /// merged), so the caller routes them again. The records are durable
    /// only after [`ShardLog::wait_durable`].
    ///
    /// # Errors
    /// [`IngestError::Storage`] when the write fails; the log is left as it
    /// was (or refuses further appends when it cannot be restored).
    pub fn append(&self, records: &[&PutRecord], now_ms: i64) -> Result<Option<Range<u64>>> {
        if !self.writable {
            return Err(IngestError::ReadOnly);
        }
        let mut st = self.lock();
        if st.closed {
            return Ok(None);
        }
        if st.failed {
            return Err(IngestError::Storage {
                action: "cannot append to",
                path: self.dir.clone(),
                source: std::io::Error::other("an earlier write failed and could not be undone"),
            });
        }
        let ts = now_ms.max(st.last_ts);
        let first = st.next_seq;
        let mut buf = std::mem::take(&mut st.scratch);
        buf.clear();
        let seg_len = st.segments.last().map_or(0, |s| s.len);
        let mut frames = Vec::with_capacity(records.len());
        for (i, record) in records.iter().enumerate() {
            let at = buf.len();
            frame::encode(&mut buf, first + i as u64, ts, record);
            frames.push((seg_len + at as u64, (buf.len() - at) as u64));
        }
        let seg = st
            .segments
            .last_mut()
            .expect("a writable log has a segment");
        if let Err(e) = seg.file.write_all_at(&buf, seg.len) {
            let restored = seg.file.set_len(seg.len).is_ok();
            let path = seg.path.clone();
            st.failed = !restored;
            st.scratch = buf;
            return Err(io_err("cannot write", &path)(e));
        }
        for (i, (offset, len)) in frames.into_iter().enumerate() {
            seg.note(first + i as u64, offset, ts, len);
        }
        let end = first + records.len() as u64;
        st.next_seq = end;
        st.last_ts = ts;
        st.scratch = buf;
        if st
            .segments
            .last()
            .is_some_and(|s| s.len >= self.config.segment_bytes)
        {
            self.roll(&mut st)?;
        }
        if self.config.durability == Durability::Os {
            self.durable.fetch_max(end, Ordering::AcqRel);
        }
        Ok(Some(first..end))
    }

    /// Seals the active segment (fsynced) and starts the next one.
    fn roll(&self, st: &mut LogState) -> Result<()> {
        let seg = st.segments.last().expect("a writable log has a segment");
        if self.config.durability == Durability::Fsync {
            seg.file
                .sync_data()
                .map_err(io_err("cannot sync", &seg.path))?;
            self.durable.fetch_max(st.next_seq, Ordering::AcqRel);
        }
        let next =
            Segment::create(&self.dir, st.next_seq).map_err(io_err("cannot create", &self.dir))?;
        sync_dir(&self.dir)?;
        st.segments.push(next);
        Ok(())
    }

    /// Returns once every record below `end` is durable, doing the fsync
    /// itself when no other caller is doing one (group commit).
    ///
    /// # Errors
    /// [`IngestError::Storage`] when the fsync fails.
    pub fn wait_durable(&self, end: u64) -> Result<()> {
        loop {
            if self.durable.load(Ordering::Acquire) >= end {
                return Ok(());
            }
            let mut syncing = self
                .syncing
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if self.durable.load(Ordering::Acquire) >= end {
                return Ok(());
            }
            if *syncing {
                let _unused = self
                    .synced
                    .wait(syncing)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                continue;
            }
            *syncing = true;
            drop(syncing);
            let (file, path, target) = {
                let st = self.lock();
                let seg = st.segments.last().expect("a writable log has a segment");
                (Arc::clone(&seg.file), seg.path.clone(), st.next_seq)
            };
            let result = file.sync_data();
            if result.is_ok() {
                self.durable.fetch_max(target, Ordering::AcqRel);
            }
            *self
                .syncing
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = false;
            self.synced.notify_all();
            result.map_err(io_err("cannot sync", &path))?;
        }
    }

    /// Stops appends for good (a split or merge) and returns the sequence
    /// number after the last record, once all of them are durable.
    ///
    /// # Errors
    /// [`IngestError::Storage`] when the fsync fails.
    pub fn close(&self) -> Result<u64> {
        let end = {
            let mut st = self.lock();
            st.closed = true;
            st.next_seq
        };
        self.wait_durable(end)?;
        Ok(end)
    }

    /// Takes back a [`ShardLog::close`] whose split or merge failed.
    pub fn reopen(&self) {
        self.lock().closed = false;
    }

    /// The shard's ranges and sizes.
    pub fn stats(&self) -> LogStats {
        let st = self.lock();
        let next_seq = self.durable.load(Ordering::Acquire).min(st.next_seq);
        LogStats {
            first_seq: trim_horizon(&st),
            next_seq,
            bytes: st.segments.iter().map(|s| s.len).sum(),
            segments: st.segments.len(),
        }
    }

    /// The sequence number of the first record taken at or after `ts`, or
    /// the next sequence number when there is none.
    ///
    /// # Errors
    /// [`IngestError::Storage`] when the segment cannot be read.
    pub fn seq_at_time(&self, ts: i64) -> Result<u64> {
        let limit = self.durable.load(Ordering::Acquire);
        let (file, path, offset) = {
            let st = self.lock();
            let Some(seg) = st
                .segments
                .iter()
                .find(|s| s.last_ts >= ts && s.end_seq > s.first_seq)
            else {
                return Ok(limit.min(st.next_seq));
            };
            (
                Arc::clone(&seg.file),
                seg.path.clone(),
                seg.offset_of_time(ts),
            )
        };
        let mut cursor = FrameCursor::new(file, offset);
        loop {
            match cursor.next().map_err(io_err("cannot read", &path))? {
                Step::Frame { seq, ts: t, .. } if seq < limit => {
                    if t >= ts {
                        return Ok(seq);
                    }
                }
                _ => return Ok(limit),
            }
        }
    }

    /// Reads up to `max_records` records and about `max_bytes` bytes (at
    /// least one record when there is one) from sequence number `from` on;
    /// a position before the trim horizon reads from the trim horizon.
    ///
    /// # Errors
    /// [`IngestError::Storage`] when a segment cannot be read, or
    /// [`IngestError::Corrupt`] when a valid frame does not decode.
    pub fn read(&self, from: u64, max_records: usize, max_bytes: usize) -> Result<ReadBatch> {
        let limit = self.durable.load(Ordering::Acquire);
        let mut out = ReadBatch {
            records: Vec::new(),
            next_seq: from,
        };
        let mut bytes = 0;
        while out.records.len() < max_records.max(1) && out.next_seq < limit {
            let (file, path, offset, seg_end) = {
                let st = self.lock();
                out.next_seq = out.next_seq.max(trim_horizon(&st));
                let i = st.segments.partition_point(|s| s.first_seq <= out.next_seq);
                let Some(seg) = i.checked_sub(1).map(|i| &st.segments[i]) else {
                    break;
                };
                if out.next_seq >= seg.end_seq {
                    // A gap after a damaged segment: go on at the next one.
                    match st.segments.get(i) {
                        Some(next) => {
                            out.next_seq = next.first_seq;
                            continue;
                        }
                        None => break,
                    }
                }
                let offset = seg.offset_of_seq(out.next_seq);
                (Arc::clone(&seg.file), seg.path.clone(), offset, seg.end_seq)
            };
            let before = out.next_seq;
            let mut cursor = FrameCursor::new(file, offset);
            loop {
                let step = cursor.next().map_err(io_err("cannot read", &path))?;
                let Step::Frame { seq, len, .. } = step else {
                    break;
                };
                if seq < out.next_seq {
                    continue;
                }
                if seq != out.next_seq || seq >= limit || seq >= seg_end {
                    break;
                }
                if !out.records.is_empty() && bytes + len > max_bytes {
                    return Ok(out);
                }
                let record = frame::decode(cursor.frame()).ok_or_else(|| IngestError::Corrupt {
                    path: path.clone(),
                    reason: format!("record {seq} does not decode"),
                })?;
                out.records.push(record);
                out.next_seq = seq + 1;
                bytes += len;
                if out.records.len() >= max_records.max(1) {
                    return Ok(out);
                }
            }
            if out.next_seq == before || out.next_seq < seg_end.min(limit) {
                break;
            }
        }
        Ok(out)
    }

    /// Removes sealed segments whose newest record is older than `min_ts`,
    /// and the oldest sealed ones while the log holds more than `max_bytes`;
    /// returns how many went. The active segment stays unless the shard is
    /// closed.
    ///
    /// # Errors
    /// [`IngestError::Storage`] when a file cannot be removed.
    pub fn expire(&self, min_ts: i64, max_bytes: Option<u64>) -> Result<usize> {
        if !self.writable {
            return Err(IngestError::ReadOnly);
        }
        let mut st = self.lock();
        let mut removed = 0;
        while let Some(first) = st.segments.first() {
            let sealed = st.segments.len() > 1 || st.closed;
            let total: u64 = st.segments.iter().map(|s| s.len).sum();
            let too_old = first.last_ts < min_ts;
            let too_big = max_bytes.is_some_and(|m| total > m);
            if !sealed || !(too_old || too_big) {
                break;
            }
            fs::remove_file(&first.path).map_err(io_err("cannot remove", &first.path))?;
            st.segments.remove(0);
            removed += 1;
        }
        drop(st);
        if removed > 0 {
            sync_dir(&self.dir)?;
        }
        Ok(removed)
    }

    /// Takes in, in a read-only log, the segments and records that the
    /// writer added (or removed) since the last look.
    ///
    /// # Errors
    /// [`IngestError::Storage`] when the folder or a segment cannot be read.
    pub fn refresh(&self) -> Result<()> {
        if self.writable {
            return Ok(());
        }
        let listed = list_segments(&self.dir)?;
        let mut st = self.lock();
        st.segments
            .retain(|s| listed.iter().any(|(seq, _)| *seq == s.first_seq));
        if let Some(last) = st.segments.last_mut() {
            last.scan()
                .map_err(io_err("cannot read", &last.path.clone()))?;
        }
        let known = st.segments.last().map(|s| s.first_seq);
        for (first_seq, path) in listed {
            if known.is_some_and(|k| first_seq <= k) {
                continue;
            }
            let (seg, _) = Segment::open(path.clone(), first_seq, false)
                .map_err(io_err("cannot read", &path))?;
            st.segments.push(seg);
        }
        if let Some(last) = st.segments.last() {
            st.next_seq = st.next_seq.max(last.end_seq);
            self.durable.fetch_max(st.next_seq, Ordering::AcqRel);
        }
        Ok(())
    }
}

fn prev_end(seg: &Segment) -> u64 {
    seg.end_seq
}

fn trim_horizon(st: &LogState) -> u64 {
    st.segments.first().map_or(st.next_seq, |s| s.first_seq)
}

/// The segment files in `dir`, by first sequence number.
fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("cannot read", dir)(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_err("cannot read", dir))?;
        if let Some(seq) = entry.file_name().to_str().and_then(Segment::parse_name) {
            out.push((seq, entry.path()));
        }
    }
    out.sort_unstable();
    Ok(out)
}

#[cfg(test)]
#[expect(
    clippy::unwrap_used,
    reason = "a test fails loudly at the first surprise"
)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn put(log: &ShardLog, n: usize, size: usize, ts: i64) -> Range<u64> {
        let records: Vec<PutRecord> = (0..n)
            .map(|i| PutRecord::new(format!("k{i}"), vec![b'x'; size]))
            .collect();
        let refs: Vec<&PutRecord> = records.iter().collect();
        let seqs = log.append(&refs, ts).unwrap().unwrap();
        log.wait_durable(seqs.end).unwrap();
        seqs
    }

    fn small() -> LogConfig {
        LogConfig {
            segment_bytes: 4096,
            durability: Durability::Fsync,
        }
    }

    #[test]
    fn append_read_across_segments_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let log = ShardLog::open(dir.path(), 5, small(), true).unwrap();
        assert_eq!(log.read(0, 10, 1 << 20).unwrap().records.len(), 0);
        assert_eq!(put(&log, 3, 10, 1000), 5..8);
        for _ in 0..20 {
            put(&log, 10, 100, 2000);
        }
        let stats = log.stats();
        assert_eq!((stats.first_seq, stats.next_seq), (5, 208));
        assert!(stats.segments > 5, "{stats:?}");
        let all = log.read(0, 1000, 1 << 20).unwrap();
        assert_eq!(all.records.len(), 203);
        assert!(all.records.iter().zip(5..).all(|(r, s)| r.seq == s));
        assert_eq!(all.next_seq, 208);
        // Bounded by count and by bytes, at least one record.
        assert_eq!(log.read(100, 7, 1 << 20).unwrap().records.len(), 7);
        let b = log.read(100, 1000, 500).unwrap();
        assert!(
            b.records.len() >= 3 && b.records.len() <= 5,
            "{}",
            b.records.len()
        );
        assert_eq!(log.read(100, 1000, 1).unwrap().records.len(), 1);
        drop(log);
        let log = ShardLog::open(dir.path(), 5, small(), true).unwrap();
        assert_eq!(log.stats().next_seq, 208);
        assert_eq!(put(&log, 1, 1, 3000), 208..209);
        assert_eq!(log.seq_at_time(1500).unwrap(), 8);
        assert_eq!(log.seq_at_time(0).unwrap(), 5);
        assert_eq!(log.seq_at_time(2500).unwrap(), 208);
        assert_eq!(log.seq_at_time(9999).unwrap(), 209);
    }

    #[test]
    fn torn_tail_is_dropped_and_appends_go_on() {
        let dir = tempfile::tempdir().unwrap();
        let log = ShardLog::open(dir.path(), 0, LogConfig::default(), true).unwrap();
        put(&log, 5, 50, 1);
        drop(log);
        let seg = dir.path().join(Segment::file_name(0));
        let full = fs::metadata(&seg).unwrap().len();
        // Half a frame, as a crash in the middle of a write leaves it.
        let mut buf = Vec::new();
        frame::encode(&mut buf, 5, 1, &PutRecord::new("k", vec![1; 50]));
        let mut f = fs::OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(&buf[..buf.len() / 2]).unwrap();
        drop(f);
        // A reader in another process sees the five, changes nothing.
        let ro = ShardLog::open(dir.path(), 0, LogConfig::default(), false).unwrap();
        assert_eq!(ro.read(0, 100, 1 << 20).unwrap().records.len(), 5);
        assert!(fs::metadata(&seg).unwrap().len() > full);
        let log = ShardLog::open(dir.path(), 0, LogConfig::default(), true).unwrap();
        assert_eq!(fs::metadata(&seg).unwrap().len(), full);
        assert_eq!(put(&log, 2, 50, 2), 5..7);
        let all = log.read(0, 100, 1 << 20).unwrap().records;
        assert_eq!(
            all.iter().map(|r| r.seq).collect::<Vec<_>>(),
            (0..7).collect::<Vec<_>>()
        );
        // Garbage (a bad checksum) is dropped the same way.
        drop(log);
        let mut f = fs::OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(&[0x55; 100]).unwrap();
        drop(f);
        let log = ShardLog::open(dir.path(), 0, LogConfig::default(), true).unwrap();
        assert_eq!(log.stats().next_seq, 7);
        // The read-only reader takes in what was added since.
        ro.refresh().unwrap();
        assert_eq!(ro.read(5, 100, 1 << 20).unwrap().records.len(), 2);
    }

    #[test]
    fn retention_by_age_and_size() {
        let dir = tempfile::tempdir().unwrap();
        let log = ShardLog::open(dir.path(), 0, small(), true).unwrap();
        for t in 0..10 {
            put(&log, 10, 400, 1000 * t);
        }
        let before = log.stats();
        assert!(before.segments >= 10, "{before:?}");
        assert_eq!(log.expire(i64::MIN, None).unwrap(), 0);
        let removed = log.expire(3500, None).unwrap();
        assert!(removed >= 3, "{removed}");
        let after = log.stats();
        assert!(after.first_seq >= 30, "{after:?}");
        let r = log.read(0, 1000, 1 << 20).unwrap().records;
        assert_eq!(r[0].seq, after.first_seq);
        assert!(r[0].timestamp_ms >= 3000);
        log.expire(i64::MIN, Some(8000)).unwrap();
        let small = log.stats();
        assert!(small.bytes <= 8000 + 4096 + 1000, "{small:?}");
        assert_eq!(small.next_seq, 100);
        // The active segment stays while the shard is open.
        log.expire(i64::MAX, None).unwrap();
        assert_eq!(log.stats().segments, 1);
        assert_eq!(log.close().unwrap(), 100);
        log.expire(i64::MAX, None).unwrap();
        let gone = log.stats();
        assert_eq!(
            (gone.segments, gone.first_seq, gone.next_seq),
            (0, 100, 100)
        );
    }

    #[test]
    fn closed_log_refuses_appends() {
        let dir = tempfile::tempdir().unwrap();
        let log = ShardLog::open(dir.path(), 0, LogConfig::default(), true).unwrap();
        put(&log, 2, 1, 1);
        assert_eq!(log.close().unwrap(), 2);
        let r = PutRecord::new("k", vec![1]);
        assert!(log.append(&[&r], 2).unwrap().is_none());
        log.reopen();
        assert!(log.append(&[&r], 2).unwrap().is_some());
    }
}
