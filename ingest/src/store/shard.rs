//! One shard's log: append-only segment files, group commit, reads by
//! sequence number and time, retention, and what is done about damage.
//!
//! Appends are written at once (one positional write per batch) under the
//! log's lock and become readable, and acknowledgeable, only once durable.
//! Durability is a group commit: the first caller that needs an fsync does one
//! for everyone whose frames are in the file by then, and the others wait for
//! it, so one fsync serves many batches and throughput holds.
//!
//! Damage never costs more than the records it
//! covers: readers skip it and go on at the next valid frame, and it is
//! reported (a warning naming stream, shard, segment, offset, length and the
//! sequence numbers it hides; counted in [`LogStats`]; listed by
//! [`ShardLog::verify`]). The only bytes a writer removes are a torn tail: the
//! end of the last segment, with no valid frame after it, as a crash in the
//! middle of a write leaves it. Even those are first copied to the shard's
//! `quarantine/` folder. Sequence numbers never go backwards
//! ([`super::high_water`]). A read-only log (another process's reader) never
//! changes files; [`ShardLog::refresh`] takes in what the writer has added.

use std::fs;
use std::ops::Range;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use serde::Serialize;

use super::files::StoreFiles;
use super::frame;
use super::fsutil::{io_err, sync_dir, timed_sync};
use super::high_water::{self, HighWater};
use super::record::{PutRecord, Record};
use super::segment::{Damage, Format, FrameCursor, Segment, Step};
use super::summary;
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
    /// Damaged ranges found so far.
    pub damaged_ranges: usize,
    /// Bytes in them.
    pub damaged_bytes: u64,
}

/// What kind of damage a [`Finding`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// Bytes in a segment that hold no valid frame, with valid frames (or a
    /// later segment) after them.
    Damaged,
    /// Sequence numbers between two segments that no segment holds: a
    /// segment was deleted or cut short.
    MissingSegment,
    /// Records the shard acknowledged that are past the end of its last
    /// segment: it was cut short or deleted.
    MissingTail,
    /// Bytes at the end of the last segment with no valid frame after them:
    /// a write a crash interrupted (or one in progress). Trimmed, after a
    /// copy to `quarantine/`, by the next writer; not counted as damage.
    TornTail,
    /// The high-water mark file cannot be read.
    DamagedHighWater,
}

/// One problem [`ShardLog::verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// What it is.
    pub kind: FindingKind,
    /// The segment file it is in or after, when there is one.
    pub segment: Option<String>,
    /// Where the bytes start in it.
    pub offset: u64,
    /// How many bytes.
    pub len: u64,
    /// The first sequence number it hides.
    pub first_seq: u64,
    /// One past the last sequence number it hides (`first_seq` when none).
    pub end_seq: u64,
    /// In words.
    pub detail: String,
}

impl Finding {
    /// True for findings that are damage (everything but a torn tail).
    pub fn is_damage(&self) -> bool {
        self.kind != FindingKind::TornTail
    }
}

/// What [`ShardLog::verify`] read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ShardCheck {
    /// Segment files read.
    pub segments: usize,
    /// Bytes read.
    pub bytes: u64,
    /// Valid records found.
    pub records: u64,
    /// Problems found, in file order.
    pub findings: Vec<Finding>,
}

/// One shard's log.
#[derive(Debug)]
pub struct ShardLog {
    dir: PathBuf,
    /// `stream/shard`, for messages.
    label: String,
    config: LogConfig,
    writable: bool,
    files: Arc<StoreFiles>,
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
    /// The high-water mark as last saved (writable logs).
    hw: HighWater,
    /// True once this writer has saved `hw` (with no `clean_end`).
    hw_open: bool,
    /// In a read-only log, damage seen at the end of the last segment and
    /// not taken in yet: (segment, offset, first seen, file size then).
    suspect: Option<(u64, u64, std::time::Instant, u64)>,
}

/// How long damage at the end of the last segment must stay as it is before
/// a reader in another process takes it for damage rather than a write in
/// progress.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(200);

fn warn_damage(label: &str, seg: &Segment, d: &Damage) {
    tracing::warn!(
        shard = label,
        segment = %seg.path.display(),
        offset = d.offset,
        length = d.len,
        first_seq = d.seqs.start,
        end_seq = d.seqs.end,
        "Damaged bytes in a segment: skipped; the records they held ({}..{}) cannot be read, every other record can.",
        d.seqs.start,
        d.seqs.end
    );
}

impl ShardLog {
    /// Opens (or, writable, creates) the log in `dir` whose first record is
    /// `start_seq`; `label` names it in messages.
    ///
    /// # Errors
    /// [`IngestError::Storage`] when the folder or a segment cannot be read or
    /// repaired.
    pub fn open(
        dir: &Path,
        label: &str,
        start_seq: u64,
        config: LogConfig,
        writable: bool,
        files: Arc<StoreFiles>,
    ) -> Result<ShardLog> {
        if writable {
            super::fsutil::create_dir(dir)?;
        }
        let hw = match high_water::load(dir) {
            Ok(hw) => hw,
            Err(reason) => {
                tracing::warn!(
                    shard = label,
                    reason,
                    "The shard's high-water mark is damaged: sequence numbers go on from its segments."
                );
                None
            }
        };
        let listed = list_segments(dir)?;
        let mut segments = Vec::with_capacity(listed.len());
        let count = listed.len();
        let mut suspect = None;
        for (i, (first_seq, path)) in listed.into_iter().enumerate() {
            let sealed = i + 1 < count;
            let seg = match summary::load(&path, first_seq) {
                Some(seg) => seg,
                None => {
                    // A writer may be appending to the last segment now.
                    let guard = (!writable && !sealed).then_some(None);
                    let (seg, stopped) =
                        Segment::open_guarded(&files, path.clone(), first_seq, guard)
                            .map_err(io_err("cannot read", &path))?;
                    let size = seg.len + seg.tail;
                    suspect = stopped.map(|at| (first_seq, at, std::time::Instant::now(), size));
                    if writable
                        && sealed
                        && let Ok(len) = fs::metadata(&path).map(|m| m.len())
                    {
                        let _ignored = summary::write(&seg, len);
                    }
                    seg
                }
            };
            for d in &seg.damage {
                warn_damage(label, &seg, d);
            }
            if let Some(prev) = segments.last() {
                let prev: &Segment = prev;
                if prev.tail > 0 {
                    tracing::warn!(shard = label, segment = %prev.path.display(), offset = prev.len, length = prev.tail,
                        "Damaged bytes at the end of a sealed segment: left in place, never trimmed.");
                }
                if prev.end_seq < first_seq
                    && !hw
                        .as_ref()
                        .is_some_and(|h| h.is_skipped(prev.end_seq, first_seq))
                {
                    tracing::warn!(shard = label, segment = %path.display(), first_seq = prev.end_seq, end_seq = first_seq,
                        "Records {}..{} are missing before this segment (a segment was deleted or cut short).", prev.end_seq, first_seq);
                }
            }
            segments.push(seg);
        }
        let segs_end = segments.last().map_or(start_seq, |s| s.end_seq);
        let mut next_seq = segs_end.max(start_seq);
        let mut hw_state = hw.clone().unwrap_or_default();
        if writable {
            if let Some(last) = segments.last_mut()
                && last.tail > 0
            {
                trim_torn_tail(dir, label, last, &files)?;
            }
            if let Some(h) = &hw {
                // A `clean_end` is exact only when the whole store was
                // closed cleanly after it was written.
                // (So is a shard with no segment file at all: no writer
                // has opened it since its end was saved.)
                let floor = if files.clean_before || count == 0 {
                    h.floor()
                } else {
                    h.reserved
                };
                if floor > next_seq {
                    if (files.clean_before || count == 0) && h.clean_end.is_some() {
                        tracing::warn!(
                            shard = label,
                            first_seq = next_seq,
                            end_seq = floor,
                            "Records {}..{} were stored but their segment is gone or cut short; new records start after them.",
                            next_seq,
                            floor
                        );
                    } else {
                        hw_state.skip(next_seq, floor);
                    }
                    next_seq = floor;
                }
            }
            let reuse_last = segments
                .last()
                .is_some_and(|s| s.end_seq == next_seq && s.format == Format::V2);
            if !reuse_last {
                if let Some(last) = segments.last()
                    && let Ok(len) = fs::metadata(&last.path).map(|m| m.len())
                {
                    let _ignored = summary::write(last, len);
                }
                segments
                    .push(Segment::create(dir, next_seq).map_err(io_err("cannot create", dir))?);
                sync_dir(dir)?;
            }
        }
        let last_ts = segments.last().map_or(i64::MIN, |s| s.last_ts);
        if writable {
            files
                .open_writers
                .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        }
        Ok(ShardLog {
            dir: dir.to_path_buf(),
            label: label.to_owned(),
            config,
            writable,
            files,
            state: Mutex::new(LogState {
                segments,
                next_seq,
                last_ts,
                closed: false,
                failed: false,
                scratch: Vec::new(),
                hw: hw_state,
                hw_open: false,
                suspect,
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
        let end = first + records.len() as u64;
        if end > st.hw.reserved {
            // Durable before any of these numbers is handed out. (The store
            // is marked as open, not clean, before any append: a crash then
            // makes the next writer start at `reserved`, above all of them.)
            let mut hw = st.hw.clone();
            hw.reserved = hw.reserved.max(end.saturating_add(high_water::LEAP));
            hw.clean_end = None;
            high_water::save(&self.dir, &hw)?;
            st.hw = hw;
        }
        if !st.hw_open {
            if let Some(last) = st.segments.last() {
                // It is appended to from now on: its summary would be stale.
                summary::remove(&last.path);
            }
            st.hw_open = true;
        }
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
        let path = seg.path.clone();
        let file = match self.files.get(&path) {
            Ok(f) => f,
            Err(e) => {
                st.scratch = buf;
                return Err(io_err("cannot open", &path)(e));
            }
        };
        if let Err(e) = file.write_all_at(&buf, seg.len) {
            let restored = file.set_len(seg.len).is_ok();
            st.failed = !restored;
            st.scratch = buf;
            return Err(io_err("cannot write", &path)(e));
        }
        let seg = st
            .segments
            .last_mut()
            .expect("a writable log has a segment");
        for (i, (offset, len)) in frames.into_iter().enumerate() {
            seg.note(first + i as u64, offset, ts, len);
        }
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

    /// Seals the active segment (fsynced, with its summary) and starts the
    /// next one.
    fn roll(&self, st: &mut LogState) -> Result<()> {
        let seg = st.segments.last().expect("a writable log has a segment");
        let file = self
            .files
            .get(&seg.path)
            .map_err(io_err("cannot open", &seg.path))?;
        if self.config.durability == Durability::Fsync {
            timed_sync(&file).map_err(io_err("cannot sync", &seg.path))?;
            self.durable.fetch_max(st.next_seq, Ordering::AcqRel);
        }
        if let Ok(m) = file.metadata() {
            let _ignored = summary::write(seg, m.len());
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
            let (path, target) = {
                let st = self.lock();
                let seg = st.segments.last().expect("a writable log has a segment");
                (seg.path.clone(), st.next_seq)
            };
            let result = self.files.get(&path).and_then(|f| timed_sync(&f));
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
            bytes: st.segments.iter().map(|s| s.len + s.tail).sum(),
            segments: st.segments.len(),
            damaged_ranges: st.segments.iter().map(|s| s.damage.len()).sum(),
            damaged_bytes: st.segments.iter().map(Segment::damaged_bytes).sum(),
        }
    }

    /// The sequence number of the first record taken at or after `ts`, or
    /// the next sequence number when there is none.
    ///
    /// # Errors
    /// [`IngestError::Storage`] when the segment cannot be read.
    pub fn seq_at_time(&self, ts: i64) -> Result<u64> {
        let limit = self.durable.load(Ordering::Acquire);
        let (path, offset, seg_len, format) = {
            let st = self.lock();
            let Some(seg) = st
                .segments
                .iter()
                .find(|s| s.last_ts >= ts && s.end_seq > s.first_seq)
            else {
                return Ok(limit.min(st.next_seq));
            };
            (
                seg.path.clone(),
                seg.offset_of_time(ts),
                seg.len,
                seg.format,
            )
        };
        let file = self
            .files
            .get(&path)
            .map_err(io_err("cannot read", &path))?;
        let mut cursor = FrameCursor::new(file, offset, seg_len, format);
        loop {
            match cursor.next().map_err(io_err("cannot read", &path))? {
                Step::Frame { seq, ts: t, .. } if seq < limit => {
                    if t >= ts {
                        return Ok(seq);
                    }
                }
                Step::Damaged { .. } => {}
                _ => return Ok(limit),
            }
        }
    }

    /// Notes damage a read came upon that the log did not know of (a
    /// segment damaged after its summary was written), and warns once.
    fn note_damage(&self, first_seq: u64, d: Damage) {
        let mut st = self.lock();
        let Some(seg) = st.segments.iter_mut().find(|s| s.first_seq == first_seq) else {
            return;
        };
        if seg.damage.iter().any(|k| k.offset == d.offset) {
            return;
        }
        warn_damage(&self.label, seg, &d);
        let at = seg.damage.partition_point(|k| k.offset < d.offset);
        seg.damage.insert(at, d);
    }

    /// Reads up to `max_records` records and about `max_bytes` bytes (at
    /// least one record when there is one) from sequence number `from` on;
    /// a position before the trim horizon reads from the trim horizon.
    /// Damaged ranges are skipped: the records after them are returned.
    ///
    /// # Errors
    /// [`IngestError::Storage`] when a segment cannot be read, or
    /// [`IngestError::Corrupt`] when a valid frame does not decode.
    pub fn read(&self, from: u64, max_records: usize, max_bytes: usize) -> Result<ReadBatch> {
        let limit = self.durable.load(Ordering::Acquire);
        let max_records = max_records.max(1);
        let mut out = ReadBatch {
            records: Vec::new(),
            next_seq: from,
        };
        let mut bytes = 0;
        while out.records.len() < max_records && out.next_seq < limit {
            let (path, offset, seg_first, seg_end, seg_len, format) = {
                let st = self.lock();
                out.next_seq = out.next_seq.max(trim_horizon(&st));
                let i = st.segments.partition_point(|s| s.first_seq <= out.next_seq);
                let Some(seg) = i.checked_sub(1).map(|i| &st.segments[i]) else {
                    break;
                };
                if out.next_seq >= seg.end_seq {
                    // A gap after a damaged or missing segment: go on at the next one.
                    match st.segments.get(i) {
                        Some(next) => {
                            out.next_seq = next.first_seq;
                            continue;
                        }
                        None => break,
                    }
                }
                (
                    seg.path.clone(),
                    seg.offset_of_seq(out.next_seq),
                    seg.first_seq,
                    seg.end_seq,
                    seg.len,
                    seg.format,
                )
            };
            let file = self
                .files
                .get(&path)
                .map_err(io_err("cannot read", &path))?;
            let mut cursor = FrameCursor::new(file, offset, seg_len, format);
            let mut damaged: Option<(u64, u64, u64)> = None;
            loop {
                let step = cursor.next().map_err(io_err("cannot read", &path))?;
                match step {
                    Step::Frame { seq, len, .. } => {
                        if let Some((d_off, d_len, from_seq)) = damaged.take() {
                            self.note_damage(
                                seg_first,
                                Damage {
                                    offset: d_off,
                                    len: d_len,
                                    seqs: from_seq..seq.max(from_seq),
                                },
                            );
                        }
                        if seq < out.next_seq {
                            continue;
                        }
                        if seq >= limit || seq >= seg_end {
                            return Ok(out);
                        }
                        if !out.records.is_empty() && bytes + len > max_bytes {
                            return Ok(out);
                        }
                        let record =
                            frame::decode(cursor.frame(), cursor.is_v1()).ok_or_else(|| {
                                IngestError::Corrupt {
                                    path: path.clone(),
                                    reason: format!("record {seq} does not decode"),
                                }
                            })?;
                        out.records.push(record);
                        out.next_seq = seq + 1;
                        bytes += len;
                        if out.records.len() >= max_records {
                            return Ok(out);
                        }
                    }
                    Step::Damaged { offset, len } => {
                        damaged = Some((offset, len, out.next_seq));
                    }
                    Step::End => break,
                }
            }
            // The whole segment was read: what it held below `limit` is out.
            let past = seg_end.min(limit);
            if out.next_seq >= past {
                if out.next_seq >= limit {
                    break;
                }
                continue;
            }
            out.next_seq = past;
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
        // The segments leave the log under its lock; their files are
        // removed after it is released: unlinking a 64 MiB file takes
        // milliseconds, which appends to this shard would otherwise wait.
        // A crash in between leaves files the next expiry removes again.
        let mut gone = Vec::new();
        {
            let mut st = self.lock();
            let mut total: u64 = st.segments.iter().map(|s| s.len).sum();
            while let Some(first) = st.segments.first() {
                let sealed = st.segments.len() > 1 || st.closed;
                let too_old = first.last_ts < min_ts;
                let too_big = max_bytes.is_some_and(|m| total > m);
                if !sealed || !(too_old || too_big) {
                    break;
                }
                let first = st.segments.remove(0);
                total -= first.len;
                self.files.forget(&first.path);
                gone.push(first.path);
            }
        }
        let mut failed = None;
        for path in &gone {
            summary::remove(path);
            if let Err(e) = fs::remove_file(path) {
                failed.get_or_insert_with(|| io_err("cannot remove", path)(e));
            }
        }
        if let Some(e) = failed {
            return Err(e);
        }
        if !gone.is_empty() {
            sync_dir(&self.dir)?;
        }
        Ok(gone.len())
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
        for seg in &st.segments {
            if !listed.iter().any(|(seq, _)| *seq == seg.first_seq) {
                self.files.forget(&seg.path);
            }
        }
        let newest = listed.last().map(|(seq, _)| *seq);
        let known = st.segments.last().map(|s| s.first_seq);
        if known.is_some() {
            let sealed = newest > known;
            self.scan_last(&mut st, sealed)?;
        }
        for (first_seq, path) in listed {
            if known.is_some_and(|k| first_seq <= k) {
                continue;
            }
            st.segments.push(Segment::empty_at(path, first_seq));
            let sealed = Some(first_seq) != newest;
            self.scan_last(&mut st, sealed)?;
        }
        if let Some(last) = st.segments.last() {
            st.next_seq = st.next_seq.max(last.end_seq);
            self.durable.fetch_max(st.next_seq, Ordering::AcqRel);
        }
        Ok(())
    }

    /// Reads on in the last segment of a read-only log. Unless it is
    /// `sealed`, damage there is taken in only once looks [`SETTLE`] apart
    /// find it at the same place with no byte added to the file in between:
    /// until then the view stops before it (a writer in another process may
    /// be in the middle of copying those bytes, which a later look finds
    /// whole). Real damage in the segment a writer is appending to therefore
    /// holds such readers back until the segment is sealed.
    fn scan_last(&self, st: &mut LogState, sealed: bool) -> Result<()> {
        let suspect = st.suspect.take();
        let Some(last) = st.segments.last_mut() else {
            return Ok(());
        };
        let path = last.path.clone();
        let first_seq = last.first_seq;
        let guard = if sealed { None } else { Some(None) };
        let (mut found, mut stopped) = last
            .scan(&self.files, guard)
            .map_err(io_err("cannot read", &path))?;
        if stopped.is_some() {
            // Most often a write still being copied: one more look at once.
            std::thread::yield_now();
            let (more, again) = last
                .scan(&self.files, guard)
                .map_err(io_err("cannot read", &path))?;
            found.extend(more);
            stopped = again;
        }
        if let Some(at) = stopped {
            let size = last.len + last.tail;
            st.suspect = Some((first_seq, at, std::time::Instant::now(), size));
            if let Some((seg, was, seen, was_size)) = suspect
                && seg == first_seq
                && was == at
            {
                st.suspect = Some((seg, at, seen, size));
                // The same damage, and no byte added since it was first
                // seen: no writer is copying; once it has stayed so for
                // SETTLE, it is damage.
                let still = size == was_size && {
                    std::thread::sleep(SETTLE.saturating_sub(seen.elapsed()));
                    std::fs::metadata(&path).is_ok_and(|m| m.len() == size)
                };
                if still {
                    let (more, again) = last
                        .scan(&self.files, Some(Some(at)))
                        .map_err(io_err("cannot read", &path))?;
                    found = more;
                    let size = last.len + last.tail;
                    st.suspect = again.map(|s| (first_seq, s, std::time::Instant::now(), size));
                }
            }
        }
        for d in &found {
            warn_damage(&self.label, last, d);
        }
        Ok(())
    }

    /// Reads every segment file of the shard from disk (summaries aside)
    /// and reports every damaged range, missing range and torn tail.
    ///
    /// # Errors
    /// [`IngestError::Storage`] when the folder or a file cannot be read.
    pub fn verify(&self) -> Result<ShardCheck> {
        verify_dir(&self.dir, &self.files)
    }
}

impl Drop for ShardLog {
    /// A clean close: the active segment synced and summarised, and the
    /// exact end written as the high-water mark.
    fn drop(&mut self) {
        if !self.writable {
            return;
        }
        let st = self
            .state
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.files
            .open_writers
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
        if st.failed {
            // Not clean: the store stays marked open, so the next writer
            // starts above every reserved number.
            self.files
                .unclean
                .store(true, std::sync::atomic::Ordering::Release);
            return;
        }
        if !st.hw_open && st.hw.clean_end == Some(st.next_seq) {
            // Nothing was appended: the files are as they were found.
            return;
        }
        let synced = match st.segments.last() {
            Some(last) => self
                .files
                .get(&last.path)
                .and_then(|f| f.sync_data().and_then(|()| f.metadata()))
                .map(|meta| {
                    let _ignored = summary::write(last, meta.len());
                }),
            None => Ok(()),
        };
        match synced {
            Ok(()) => {
                let mut hw = st.hw.clone();
                // Reserved ahead, so the next writer's first append need
                // not wait for a save.
                hw.reserved = hw
                    .reserved
                    .max(st.next_seq.saturating_add(high_water::LEAP / 2));
                hw.clean_end = Some(st.next_seq);
                if let Err(e) = high_water::save(&self.dir, &hw) {
                    tracing::warn!(shard = self.label, error = %e, "Cannot save the shard's high-water mark.");
                    self.files
                        .unclean
                        .store(true, std::sync::atomic::Ordering::Release);
                }
            }
            Err(e) => {
                self.files
                    .unclean
                    .store(true, std::sync::atomic::Ordering::Release);
                tracing::warn!(shard = self.label, error = %e, "Cannot sync the shard at close.");
            }
        }
    }
}

/// Copies the torn tail of `seg` (the last segment) to the shard's
/// `quarantine/` folder, then cuts it off the segment.
fn trim_torn_tail(dir: &Path, label: &str, seg: &mut Segment, files: &StoreFiles) -> Result<()> {
    use std::io::{Seek as _, SeekFrom, Write as _};
    let path = seg.path.clone();
    let quarantine = dir.join("quarantine");
    super::fsutil::create_dir(&quarantine)?;
    let name = format!(
        "{}.{}.torn",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("segment"),
        seg.len
    );
    // Never over an earlier tail cut at the same offset.
    let target = (0..)
        .map(|i| {
            quarantine.join(if i == 0 {
                name.clone()
            } else {
                format!("{name}.{i}")
            })
        })
        .find(|p| !p.exists())
        .expect("an unused name exists");
    // Copied whole (streamed, whatever its size) and synced before one byte goes.
    let copied = (|| -> std::io::Result<u64> {
        let mut from = fs::File::open(&path)?;
        from.seek(SeekFrom::Start(seg.len))?;
        let mut to = fs::File::create_new(&target)?;
        let n = std::io::copy(&mut from, &mut to)?;
        to.flush()?;
        to.sync_all()?;
        Ok(n)
    })()
    .map_err(io_err("cannot copy a torn tail to", &target))?;
    sync_dir(&quarantine)?;
    if copied < seg.tail {
        return Err(IngestError::Corrupt {
            path,
            reason: format!(
                "its torn tail of {} bytes could not be copied aside whole ({copied} bytes)",
                seg.tail
            ),
        });
    }
    tracing::warn!(shard = label, segment = %path.display(), offset = seg.len, length = seg.tail,
        quarantine = %target.display(), "Moved a torn tail (a write a crash interrupted) aside.");
    let file = files.get(&path).map_err(io_err("cannot open", &path))?;
    file.set_len(seg.len)
        .and_then(|()| file.sync_all())
        .map_err(io_err("cannot repair", &path))?;
    seg.tail = 0;
    Ok(())
}

/// [`ShardLog::verify`] for the shard folder `dir`.
pub fn verify_dir(dir: &Path, files: &StoreFiles) -> Result<ShardCheck> {
    let mut check = ShardCheck::default();
    let hw = match high_water::load(dir) {
        Ok(hw) => hw,
        Err(reason) => {
            check.findings.push(Finding {
                kind: FindingKind::DamagedHighWater,
                segment: None,
                offset: 0,
                len: 0,
                first_seq: 0,
                end_seq: 0,
                detail: format!("{} cannot be read: {reason}", high_water::FILE),
            });
            None
        }
    };
    let listed = list_segments(dir)?;
    let count = listed.len();
    let mut prev_end: Option<u64> = None;
    for (i, (first_seq, path)) in listed.into_iter().enumerate() {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_owned();
        let mut seg =
            Segment::open(files, path.clone(), first_seq).map_err(io_err("cannot read", &path))?;
        if i + 1 == count && !seg.damage.is_empty() {
            // A writer may be copying the end of the last segment: damage
            // counts only when a second look, SETTLE later, finds it too.
            std::thread::sleep(SETTLE);
            let again = Segment::open(files, path.clone(), first_seq)
                .map_err(io_err("cannot read", &path))?;
            let first_look = std::mem::take(&mut seg.damage);
            seg = again;
            seg.damage.retain(|d| first_look.contains(d));
        }
        check.segments += 1;
        check.bytes += seg.len + seg.tail;
        check.records += seg.records;
        if let Some(end) = prev_end
            && end < first_seq
            && !hw.as_ref().is_some_and(|h| h.is_skipped(end, first_seq))
        {
            check.findings.push(Finding {
                kind: FindingKind::MissingSegment,
                segment: Some(name.clone()),
                offset: 0,
                len: 0,
                first_seq: end,
                end_seq: first_seq,
                detail: format!("records {end}..{first_seq} are in no segment"),
            });
        }
        for d in &seg.damage {
            check.findings.push(Finding {
                kind: FindingKind::Damaged,
                segment: Some(name.clone()),
                offset: d.offset,
                len: d.len,
                first_seq: d.seqs.start,
                end_seq: d.seqs.end,
                detail: format!(
                    "{} damaged bytes at offset {} hide records {}..{}",
                    d.len, d.offset, d.seqs.start, d.seqs.end
                ),
            });
        }
        if seg.tail > 0 {
            let last = i + 1 == count;
            check.findings.push(Finding {
                kind: if last { FindingKind::TornTail } else { FindingKind::Damaged },
                segment: Some(name.clone()),
                offset: seg.len,
                len: seg.tail,
                first_seq: seg.end_seq,
                end_seq: seg.end_seq,
                detail: if last {
                    format!("{} bytes at the end of the last segment hold no valid frame (a torn write)", seg.tail)
                } else {
                    format!("{} bytes at the end of a sealed segment hold no valid frame", seg.tail)
                },
            });
        }
        prev_end = Some(seg.end_seq);
    }
    if let (Some(end), Some(clean)) = (prev_end, hw.as_ref().and_then(|h| h.clean_end))
        && end < clean
    {
        check.findings.push(Finding {
            kind: FindingKind::MissingTail,
            segment: None,
            offset: 0,
            len: 0,
            first_seq: end,
            end_seq: clean,
            detail: format!("records {end}..{clean} were stored but no segment holds them"),
        });
    }
    Ok(check)
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

    /// A cache as a store gives its shards after a clean close.
    fn files() -> Arc<StoreFiles> {
        let mut files = StoreFiles::new(4, true);
        files.clean_before = true;
        Arc::new(files)
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
        let log = ShardLog::open(dir.path(), "t", 5, small(), true, files()).unwrap();
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
        let log = ShardLog::open(dir.path(), "t", 5, small(), true, files()).unwrap();
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
        let log = ShardLog::open(dir.path(), "t", 0, LogConfig::default(), true, files()).unwrap();
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
        let ro = ShardLog::open(dir.path(), "t", 0, LogConfig::default(), false, files()).unwrap();
        assert_eq!(ro.read(0, 100, 1 << 20).unwrap().records.len(), 5);
        assert!(fs::metadata(&seg).unwrap().len() > full);
        let log = ShardLog::open(dir.path(), "t", 0, LogConfig::default(), true, files()).unwrap();
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
        let log = ShardLog::open(dir.path(), "t", 0, LogConfig::default(), true, files()).unwrap();
        assert_eq!(log.stats().next_seq, 7);
        // Both tails were copied aside before the trims, neither over the other.
        let mut kept: Vec<u64> = fs::read_dir(dir.path().join("quarantine"))
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .collect();
        kept.sort_unstable();
        assert_eq!(kept, [(buf.len() / 2) as u64, 100]);
        // The read-only reader takes in what was added since.
        ro.refresh().unwrap();
        assert_eq!(ro.read(5, 100, 1 << 20).unwrap().records.len(), 2);
    }

    #[test]
    fn retention_by_age_and_size() {
        let dir = tempfile::tempdir().unwrap();
        let log = ShardLog::open(dir.path(), "t", 0, small(), true, files()).unwrap();
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
        let log = ShardLog::open(dir.path(), "t", 0, LogConfig::default(), true, files()).unwrap();
        put(&log, 2, 1, 1);
        assert_eq!(log.close().unwrap(), 2);
        let r = PutRecord::new("k", vec![1]);
        assert!(log.append(&[&r], 2).unwrap().is_none());
        log.reopen();
        assert!(log.append(&[&r], 2).unwrap().is_some());
    }
}
