//! Segment files: a shard's log is a run of them, each named by the sequence
//! number of its first record (`00000000000000000042.seg`) and holding frames
//! ([`super::frame`]) back to back.
//!
//! A [`Segment`] keeps what reads need in memory: its sequence-number and
//! time ranges, its valid length, a sparse index (one entry every
//! [`INDEX_EVERY`] bytes, and one after every damaged range) from sequence
//! numbers and times to file offsets, and the damaged ranges found in it.
//! [`FrameCursor`] walks the frames of a file with positional reads, so
//! readers never share a file cursor with the writer, and finds the next
//! valid frame again after damage.
//!
//! A sealed segment gets a summary beside it ([`super::summary`]), so that
//! opening a store reads a few bytes per segment instead of every frame.

use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::files::StoreFiles;
use super::frame::{self, Decoded};

/// Bytes between two entries of a segment's sparse index.
pub(super) const INDEX_EVERY: u64 = 64 << 10;

/// Bytes a cursor reads at once.
const CHUNK: usize = 256 << 10;

/// One entry of the sparse index: the frame at `offset` holds `seq`, taken at `ts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct IndexEntry {
    /// The record's sequence number.
    pub seq: u64,
    /// Where its frame starts in the file.
    pub offset: u64,
    /// Its arrival time.
    pub ts: i64,
}

/// A range of a segment file that holds no valid frame, with valid frames
/// after it (or, at the end of a sealed segment, the records it hides).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Damage {
    /// Where the damaged bytes start.
    pub offset: u64,
    /// How many bytes are damaged.
    pub len: u64,
    /// The sequence numbers of the records they held (none when the damage
    /// hides no record, as with garbage between two intact frames).
    pub seqs: Range<u64>,
}

/// How the frames of a segment are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum Format {
    /// `[length][crc32][body]`, the first format: read, never appended to.
    V1,
    /// With a magic and a header checksum ([`frame`]).
    V2,
}

/// One segment file and what the store knows of it.
#[derive(Debug, Clone)]
pub(super) struct Segment {
    /// Sequence number of its first record (and of the file's name).
    pub first_seq: u64,
    /// The file.
    pub path: PathBuf,
    /// One past the sequence number of its last valid record.
    pub end_seq: u64,
    /// Bytes up to the end of its last valid frame.
    pub len: u64,
    /// Arrival time of its last record (`i64::MIN` while empty).
    pub last_ts: i64,
    /// The sparse index, in file order.
    pub index: Vec<IndexEntry>,
    /// Damaged ranges before `len`, in file order.
    pub damage: Vec<Damage>,
    /// Bytes after `len` that hold no valid frame: a torn tail, frames a
    /// writer has not finished, or damage at the end of the file.
    pub tail: u64,
    /// How its frames are written.
    pub format: Format,
    /// Valid records in it.
    pub records: u64,
}

impl Segment {
    /// The file name of the segment that starts at `first_seq`.
    pub(super) fn file_name(first_seq: u64) -> String {
        format!("{first_seq:020}.seg")
    }

    /// The first sequence number in a segment's file name, if it is one.
    pub(super) fn parse_name(name: &str) -> Option<u64> {
        let digits = name.strip_suffix(".seg")?;
        (digits.len() == 20).then(|| digits.parse().ok()).flatten()
    }

    /// Creates the empty segment file that starts at `first_seq` in `dir`
    /// (the caller makes the folder entry durable).
    pub(super) fn create(dir: &Path, first_seq: u64) -> io::Result<Segment> {
        let path = dir.join(Self::file_name(first_seq));
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok(Segment::empty(path, first_seq, Format::V2))
    }

    /// Opens an existing segment file and scans all of its frames.
    pub(super) fn open(files: &StoreFiles, path: PathBuf, first_seq: u64) -> io::Result<Segment> {
        Ok(Segment::open_guarded(files, path, first_seq, None)?.0)
    }

    /// [`Segment::open`] with a [`Guard`]; also returns where the scan
    /// stopped at damage it did not accept.
    pub(super) fn open_guarded(
        files: &StoreFiles,
        path: PathBuf,
        first_seq: u64,
        guard: Guard,
    ) -> io::Result<(Segment, Option<u64>)> {
        let file = files.get(&path)?;
        let format = detect_format(&file)?;
        let mut seg = Segment::empty(path, first_seq, format);
        let (_, stopped) = seg.scan_file(&file, guard)?;
        Ok((seg, stopped))
    }

    /// A segment at `path` not scanned yet; its format is found by the
    /// first [`Segment::scan`].
    pub(super) fn empty_at(path: PathBuf, first_seq: u64) -> Segment {
        Segment::empty(path, first_seq, Format::V2)
    }

    fn empty(path: PathBuf, first_seq: u64, format: Format) -> Segment {
        Segment {
            first_seq,
            path,
            end_seq: first_seq,
            len: 0,
            last_ts: i64::MIN,
            index: Vec::new(),
            damage: Vec::new(),
            tail: 0,
            format,
            records: 0,
        }
    }

    /// Reads on from the end of the valid frames, taking in every further
    /// valid frame and noting the damaged ranges between them; returns the
    /// damaged ranges found now. What is left after the last valid frame is
    /// [`Segment::tail`].
    pub(super) fn scan(
        &mut self,
        files: &StoreFiles,
        guard: Guard,
    ) -> io::Result<(Vec<Damage>, Option<u64>)> {
        let file = files.get(&self.path)?;
        self.scan_file(&file, guard)
    }

    fn scan_file(
        &mut self,
        file: &Arc<std::fs::File>,
        guard: Guard,
    ) -> io::Result<(Vec<Damage>, Option<u64>)> {
        let mut stopped = None;
        let known = self.damage.len();
        let mut cursor = FrameCursor::new(Arc::clone(file), self.len, u64::MAX, self.format);
        let mut damaged_at: Option<(u64, u64)> = None;
        loop {
            match cursor.next()? {
                Step::Frame {
                    offset,
                    len,
                    seq,
                    ts,
                } if seq >= self.end_seq => {
                    let (d_off, d_len) = damaged_at.take().unwrap_or((offset, 0));
                    if seq > self.end_seq || d_len > 0 {
                        self.damage.push(Damage {
                            offset: d_off,
                            len: d_len,
                            seqs: self.end_seq..seq,
                        });
                        // Reads that start past the damage start here.
                        self.index.push(IndexEntry { seq, offset, ts });
                    }
                    self.note(seq, offset, ts, len as u64);
                }
                Step::Frame { offset, len, .. } => {
                    // A frame out of order (an old copy): no record of this log.
                    let (d_off, _) = damaged_at.unwrap_or((offset, 0));
                    damaged_at = Some((d_off, offset + len as u64 - d_off));
                }
                Step::Damaged { offset, len } => {
                    if damaged_at.is_none()
                        && let Some(accept) = guard
                        && accept != Some(offset)
                    {
                        stopped = Some(offset);
                        break;
                    }
                    let (d_off, _) = damaged_at.unwrap_or((offset, 0));
                    damaged_at = Some((d_off, offset + len - d_off));
                }
                Step::End => break,
            }
        }
        let file_len = file.metadata()?.len();
        self.tail = file_len.saturating_sub(self.len);
        Ok((self.damage[known..].to_vec(), stopped))
    }

    /// Takes in a frame appended at `offset`.
    pub(super) fn note(&mut self, seq: u64, offset: u64, ts: i64, len: u64) {
        let indexed = self.index.last().map_or(0, |e| e.offset + INDEX_EVERY);
        if self.index.is_empty() || offset >= indexed {
            self.index.push(IndexEntry { seq, offset, ts });
        }
        self.end_seq = seq + 1;
        self.len = offset + len;
        self.last_ts = ts;
        self.tail = 0;
        self.records += 1;
    }

    /// The offset of an indexed frame at or before the record `seq`.
    pub(super) fn offset_of_seq(&self, seq: u64) -> u64 {
        let i = self.index.partition_point(|e| e.seq <= seq);
        i.checked_sub(1).map_or(0, |i| self.index[i].offset)
    }

    /// The offset of an indexed frame at or before the first record taken at
    /// or after `ts`.
    pub(super) fn offset_of_time(&self, ts: i64) -> u64 {
        let i = self.index.partition_point(|e| e.ts < ts);
        i.checked_sub(1).map_or(0, |i| self.index[i].offset)
    }

    /// Damaged bytes in it, the tail excluded.
    pub(super) fn damaged_bytes(&self) -> u64 {
        self.damage.iter().map(|d| d.len).sum()
    }
}

/// Which damage a scan takes in: `None`, all of it (no writer can be in the
/// middle of writing the file); `Some(at)`, only a range starting at `at`
/// (`Some(None)`: none), stopping before any other. A reader in another
/// process than the writer's can catch a frame the writer is copying into the
/// page cache half done while a later page is whole already: that looks like
/// damage for a moment, and must not be skipped as such.
pub(super) type Guard = Option<Option<u64>>;

/// Tells a v1 segment (its first bytes a valid v1 frame) from a v2 one.
fn detect_format(file: &std::fs::File) -> io::Result<Format> {
    let mut head = [0u8; 4];
    let n = read_full_at(file, &mut head, 0)?;
    if n < 4 || head == frame::MAGIC {
        return Ok(Format::V2);
    }
    let mut cursor = FrameCursor::new(Arc::new(file.try_clone()?), 0, u64::MAX, Format::V1);
    Ok(match cursor.next()? {
        Step::Frame { .. } => Format::V1,
        _ => Format::V2,
    })
}

/// What a [`FrameCursor`] found next.
#[derive(Debug, Clone, Copy)]
pub(super) enum Step {
    /// A valid frame; its bytes are [`FrameCursor::frame`].
    Frame {
        /// Where it starts.
        offset: u64,
        /// Its length, header included.
        len: usize,
        /// Its sequence number.
        seq: u64,
        /// Its arrival time.
        ts: i64,
    },
    /// `len` bytes from `offset` that are no frame, with a valid frame
    /// right after them.
    Damaged {
        /// Where they start.
        offset: u64,
        /// How many.
        len: u64,
    },
    /// The end of the file (or of the range read), or bytes up to it that
    /// hold no valid frame.
    End,
}

/// Walks the frames of a segment file from an offset with positional reads.
#[derive(Debug)]
pub(super) struct FrameCursor {
    file: Arc<std::fs::File>,
    /// Reads stop at this offset.
    end: u64,
    format: Format,
    buf: Vec<u8>,
    buf_start: u64,
    pos: u64,
    frame: (usize, usize),
}

impl FrameCursor {
    /// A cursor at `offset` of `file` that reads no further than `end`.
    pub(super) fn new(
        file: Arc<std::fs::File>,
        offset: u64,
        end: u64,
        format: Format,
    ) -> FrameCursor {
        FrameCursor {
            file,
            end,
            format,
            buf: Vec::new(),
            buf_start: offset,
            pos: offset,
            frame: (0, 0),
        }
    }

    /// Makes the buffer hold the bytes from `at` on, at least `want` of them
    /// when the file (and the range) has them; returns how many it holds.
    fn window(&mut self, at: u64, want: usize) -> io::Result<usize> {
        let have_end = self.buf_start + self.buf.len() as u64;
        if at >= self.buf_start && at <= have_end {
            if at + want as u64 <= have_end {
                return Ok((have_end - at) as usize);
            }
            self.buf.drain(..(at - self.buf_start) as usize);
        } else {
            self.buf.clear();
        }
        self.buf_start = at;
        let have = self.buf.len();
        let room = self.end.saturating_sub(at + have as u64);
        let read = (want.max(CHUNK) - have.min(want.max(CHUNK))).min(room as usize);
        self.buf.resize(have + read, 0);
        let n = read_full_at(&self.file, &mut self.buf[have..], at + have as u64)?;
        self.buf.truncate(have + n);
        Ok(self.buf.len())
    }

    fn peek_at(&self, at: u64) -> Decoded {
        let bytes = &self.buf[(at - self.buf_start) as usize..];
        match self.format {
            Format::V1 => frame::peek_v1(bytes),
            Format::V2 => frame::peek(bytes),
        }
    }

    /// The frame at `at` when one is there, reading as much as it needs.
    fn frame_at(&mut self, at: u64) -> io::Result<Option<(usize, u64, i64)>> {
        let mut want = frame::HEADER;
        loop {
            let have = self.window(at, want)?;
            match self.peek_at(at) {
                Decoded::Frame {
                    len,
                    seq,
                    timestamp_ms,
                } => return Ok(Some((len, seq, timestamp_ms))),
                Decoded::Invalid => return Ok(None),
                Decoded::Short { need } => {
                    let need = need.unwrap_or(frame::HEADER);
                    if have < want || need <= want {
                        // The file (or the range) ends inside the frame.
                        return Ok(None);
                    }
                    want = need;
                }
            }
        }
    }

    /// The next valid frame from `from` on, looking for its magic.
    fn resync(&mut self, from: u64) -> io::Result<Option<u64>> {
        if self.format == Format::V1 {
            return Ok(None);
        }
        let mut p = from;
        loop {
            let have = self.window(p, CHUNK)?;
            if have < frame::MAGIC.len() {
                return Ok(None);
            }
            let start = (p - self.buf_start) as usize;
            let found = self.buf[start..start + have]
                .windows(frame::MAGIC.len())
                .position(|w| w == frame::MAGIC);
            match found {
                None => p += (have - (frame::MAGIC.len() - 1)) as u64,
                Some(i) => {
                    let candidate = p + i as u64;
                    if self.frame_at(candidate)?.is_some() {
                        return Ok(Some(candidate));
                    }
                    p = candidate + 1;
                }
            }
        }
    }

    /// The next frame, or the damaged bytes before it, or the end.
    pub(super) fn next(&mut self) -> io::Result<Step> {
        let at = self.pos;
        if at >= self.end {
            return Ok(Step::End);
        }
        if let Some((len, seq, ts)) = self.frame_at(at)? {
            self.frame = ((at - self.buf_start) as usize, len);
            self.pos = at + len as u64;
            return Ok(Step::Frame {
                offset: at,
                len,
                seq,
                ts,
            });
        }
        if self.window(at, 1)? == 0 {
            return Ok(Step::End);
        }
        match self.resync(at + 1)? {
            Some(next) => {
                self.pos = next;
                Ok(Step::Damaged {
                    offset: at,
                    len: next - at,
                })
            }
            None => {
                self.pos = self.end;
                Ok(Step::End)
            }
        }
    }

    /// The bytes of the frame [`FrameCursor::next`] returned last.
    pub(super) fn frame(&self) -> &[u8] {
        &self.buf[self.frame.0..self.frame.0 + self.frame.1]
    }

    /// True when the frame returned last is a v1 frame.
    pub(super) fn is_v1(&self) -> bool {
        self.format == Format::V1
    }
}

/// Reads into `buf` at `offset` until it is full or the file ends.
pub(super) fn read_full_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::record::PutRecord;

    fn frames(first: u64, n: u64, size: usize) -> Vec<u8> {
        let mut buf = Vec::new();
        for i in 0..n {
            frame::encode(
                &mut buf,
                first + i,
                100 + i as i64,
                &PutRecord::new("k", vec![7u8; size]),
            );
        }
        buf
    }

    fn write(dir: &Path, first: u64, bytes: &[u8]) -> PathBuf {
        let seg = Segment::create(dir, first).unwrap();
        std::fs::write(&seg.path, bytes).unwrap();
        seg.path
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(Segment::file_name(42), "00000000000000000042.seg");
        assert_eq!(Segment::parse_name("00000000000000000042.seg"), Some(42));
        assert_eq!(Segment::parse_name("42.seg"), None);
        assert_eq!(Segment::parse_name("00000000000000000042.tmp"), None);
    }

    #[test]
    fn scan_stops_at_garbage_and_index_is_sparse() {
        let dir = tempfile::tempdir().unwrap();
        let files = StoreFiles::new(8, false);
        let mut buf = frames(10, 200, 1000);
        let whole = buf.len() as u64;
        buf.extend_from_slice(&[1, 2, 3]);
        let path = write(dir.path(), 10, &buf);
        let seg = Segment::open(&files, path.clone(), 10).unwrap();
        assert_eq!((seg.end_seq, seg.len, seg.tail), (210, whole, 3));
        assert!(seg.damage.is_empty());
        assert_eq!(seg.last_ts, 299);
        assert!(
            seg.index.len() >= 3 && seg.index.len() < 10,
            "{}",
            seg.index.len()
        );
        let at = seg.offset_of_seq(150);
        let mut c = FrameCursor::new(files.get(&path).unwrap(), at, seg.len, Format::V2);
        let Step::Frame { seq, .. } = c.next().unwrap() else {
            panic!()
        };
        assert!(seq <= 150 && seq + 70 > 150, "{seq}");
        assert_eq!(seg.offset_of_time(100), 0);
    }

    #[test]
    fn damage_in_the_middle_is_skipped_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let files = StoreFiles::new(8, false);
        let mut buf = frames(0, 100, 200);
        let frame_len = buf.len() / 100;
        // Four bytes in the body of record 40, and the header of record 70.
        let at = 40 * frame_len + 30;
        buf[at..at + 4].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        buf[70 * frame_len + 5] ^= 0x10;
        let path = write(dir.path(), 0, &buf);
        let seg = Segment::open(&files, path, 0).unwrap();
        assert_eq!((seg.end_seq, seg.len, seg.tail), (100, buf.len() as u64, 0));
        assert_eq!(
            seg.damage,
            vec![
                Damage {
                    offset: (40 * frame_len) as u64,
                    len: frame_len as u64,
                    seqs: 40..41
                },
                Damage {
                    offset: (70 * frame_len) as u64,
                    len: frame_len as u64,
                    seqs: 70..71
                }
            ]
        );
        // The first frame's header damaged: the rest of the segment stays.
        let mut buf = frames(5, 10, 50);
        buf[0] = b'X';
        let path = write(dir.path(), 5, &buf);
        let seg = Segment::open(&files, path, 5).unwrap();
        assert_eq!(seg.end_seq, 15);
        assert_eq!(seg.damage.len(), 1);
        assert_eq!(seg.damage[0].seqs, 5..6);
        assert_eq!(seg.damage[0].offset, 0);
    }

    #[test]
    fn v1_segments_are_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let files = StoreFiles::new(8, false);
        let mut buf = Vec::new();
        for i in 0..20u64 {
            // The v1 frame: [len][crc][body], the body as v2's.
            let mut v2 = Vec::new();
            frame::encode(&mut v2, 3 + i, 9, &PutRecord::new("k", vec![1; 30]));
            let body = &v2[frame::HEADER..];
            buf.extend_from_slice(&(body.len() as u32).to_le_bytes());
            buf.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
            buf.extend_from_slice(body);
        }
        let path = write(dir.path(), 3, &buf);
        let seg = Segment::open(&files, path.clone(), 3).unwrap();
        assert_eq!((seg.format, seg.end_seq, seg.tail), (Format::V1, 23, 0));
        let mut c = FrameCursor::new(files.get(&path).unwrap(), 0, seg.len, Format::V1);
        let Step::Frame { seq, .. } = c.next().unwrap() else {
            panic!()
        };
        let r = frame::decode(c.frame(), true).unwrap();
        assert_eq!((seq, r.seq, r.data.len()), (3, 3, 30));
    }
}
