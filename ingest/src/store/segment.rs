//! Segment files: a shard's log is a run of them, each named by the sequence
//! number of its first record (`00000000000000000042.seg`) and holding frames
//! ([`super::frame`]) back to back.
//!
//! A [`Segment`] keeps what reads need in memory: its sequence-number and
//! time ranges, its valid length, and a sparse index (one entry every
//! [`INDEX_EVERY`] bytes) from sequence numbers and times to file offsets.
//! [`FrameCursor`] walks the frames of a file with positional reads, so
//! readers never share a file cursor with the writer.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::frame::{self, Decoded};

/// Bytes between two entries of a segment's sparse index.
pub const INDEX_EVERY: u64 = 64 << 10;

/// Bytes a cursor reads at once.
const CHUNK: usize = 256 << 10;

/// One entry of the sparse index: the frame at `offset` holds `seq`, taken at `ts`.
#[derive(Debug, Clone, Copy)]
pub struct IndexEntry {
    /// The record's sequence number.
    pub seq: u64,
    /// Where its frame starts in the file.
    pub offset: u64,
    /// Its arrival time.
    pub ts: i64,
}

/// One segment file and what the store knows of it.
#[derive(Debug)]
pub struct Segment {
    /// Sequence number of its first record (and of the file's name).
    pub first_seq: u64,
    /// The file.
    pub path: PathBuf,
    /// The file, open for positional reads (and writes, in a writable log).
    pub file: Arc<File>,
    /// One past the sequence number of its last valid record.
    pub end_seq: u64,
    /// Bytes of valid frames.
    pub len: u64,
    /// Arrival time of its last record (`i64::MIN` while empty).
    pub last_ts: i64,
    /// The sparse index, in file order.
    pub index: Vec<IndexEntry>,
}

impl Segment {
    /// The file name of the segment that starts at `first_seq`.
    pub fn file_name(first_seq: u64) -> String {
        format!("{first_seq:020}.seg")
    }

    /// The first sequence number in a segment's file name, if it is one.
    pub fn parse_name(name: &str) -> Option<u64> {
        let digits = name.strip_suffix(".seg")?;
        (digits.len() == 20).then(|| digits.parse().ok()).flatten()
    }

    /// Creates the empty segment file that starts at `first_seq` in `dir`
    /// (the caller makes the folder entry durable).
    pub fn create(dir: &Path, first_seq: u64) -> io::Result<Segment> {
        let path = dir.join(Self::file_name(first_seq));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok(Segment::empty(path, first_seq, file))
    }

    /// Opens an existing segment file and scans its frames.
    pub fn open(path: PathBuf, first_seq: u64, writable: bool) -> io::Result<(Segment, u64)> {
        let file = OpenOptions::new().read(true).write(writable).open(&path)?;
        let mut seg = Segment::empty(path, first_seq, file);
        let garbage = seg.scan()?;
        Ok((seg, garbage))
    }

    fn empty(path: PathBuf, first_seq: u64, file: File) -> Segment {
        Segment {
            first_seq,
            path,
            file: Arc::new(file),
            end_seq: first_seq,
            len: 0,
            last_ts: i64::MIN,
            index: Vec::new(),
        }
    }

    /// Reads on from the end of the valid frames, taking in every further
    /// frame whose checksum holds and whose sequence number comes next.
    /// Returns the bytes left in the file after them (a torn tail, or frames
    /// a writer has not finished).
    pub fn scan(&mut self) -> io::Result<u64> {
        let mut cursor = FrameCursor::new(Arc::clone(&self.file), self.len);
        loop {
            match cursor.next()? {
                Step::Frame {
                    offset,
                    len,
                    seq,
                    ts,
                } if seq == self.end_seq => {
                    self.note(seq, offset, ts, len as u64);
                }
                Step::Frame { .. } | Step::Invalid | Step::End => break,
            }
        }
        let file_len = self.file.metadata()?.len();
        Ok(file_len.saturating_sub(self.len))
    }

    /// Takes in a frame appended at `offset`.
    pub fn note(&mut self, seq: u64, offset: u64, ts: i64, len: u64) {
        let indexed = self.index.last().map_or(0, |e| e.offset + INDEX_EVERY);
        if self.index.is_empty() || offset >= indexed {
            self.index.push(IndexEntry { seq, offset, ts });
        }
        self.end_seq = seq + 1;
        self.len = offset + len;
        self.last_ts = ts;
    }

    /// The offset of an indexed frame at or before the record `seq`.
    pub fn offset_of_seq(&self, seq: u64) -> u64 {
        let i = self.index.partition_point(|e| e.seq <= seq);
        i.checked_sub(1).map_or(0, |i| self.index[i].offset)
    }

    /// The offset of an indexed frame at or before the first record taken at
    /// or after `ts`.
    pub fn offset_of_time(&self, ts: i64) -> u64 {
        let i = self.index.partition_point(|e| e.ts < ts);
        i.checked_sub(1).map_or(0, |i| self.index[i].offset)
    }
}

/// What a [`FrameCursor`] found next.
#[derive(Debug, Clone, Copy)]
pub enum Step {
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
    /// Bytes that are no frame.
    Invalid,
    /// The end of the file, or a frame cut short by it.
    End,
}

/// Walks the frames of a segment file from an offset with positional reads.
#[derive(Debug)]
pub struct FrameCursor {
    file: Arc<File>,
    buf: Vec<u8>,
    buf_start: u64,
    pos: usize,
    frame: (usize, usize),
}

impl FrameCursor {
    /// A cursor at `offset` of `file`, which must be the start of a frame.
    pub fn new(file: Arc<File>, offset: u64) -> FrameCursor {
        FrameCursor {
            file,
            buf: Vec::new(),
            buf_start: offset,
            pos: 0,
            frame: (0, 0),
        }
    }

    /// The next frame, or why there is none.
    pub fn next(&mut self) -> io::Result<Step> {
        loop {
            let offset = self.buf_start + self.pos as u64;
            match frame::peek(&self.buf[self.pos..]) {
                Decoded::Frame {
                    len,
                    seq,
                    timestamp_ms,
                } => {
                    self.frame = (self.pos, len);
                    self.pos += len;
                    return Ok(Step::Frame {
                        offset,
                        len,
                        seq,
                        ts: timestamp_ms,
                    });
                }
                Decoded::Invalid => return Ok(Step::Invalid),
                Decoded::Short { need } => {
                    self.buf.drain(..self.pos);
                    self.buf_start = offset;
                    self.pos = 0;
                    let have = self.buf.len();
                    let want = need.unwrap_or(frame::HEADER).max(CHUNK);
                    self.buf.resize(have + want, 0);
                    let n = read_full_at(&self.file, &mut self.buf[have..], offset + have as u64)?;
                    self.buf.truncate(have + n);
                    if n == 0 {
                        return Ok(Step::End);
                    }
                }
            }
        }
    }

    /// The bytes of the frame [`FrameCursor::next`] returned last.
    pub fn frame(&self) -> &[u8] {
        &self.buf[self.frame.0..self.frame.0 + self.frame.1]
    }
}

/// Reads into `buf` at `offset` until it is full or the file ends.
fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
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
#[expect(
    clippy::unwrap_used,
    reason = "a test fails loudly at the first surprise"
)]
mod tests {
    use super::*;
    use crate::store::record::PutRecord;

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
        let seg = Segment::create(dir.path(), 10).unwrap();
        let mut buf = Vec::new();
        let data = vec![7u8; 1000];
        for i in 0..200 {
            frame::encode(
                &mut buf,
                10 + i,
                100 + i as i64,
                &PutRecord::new("k", data.clone()),
            );
        }
        let whole = buf.len() as u64;
        buf.extend_from_slice(&[1, 2, 3]);
        seg.file.write_all_at(&buf, 0).unwrap();
        let (seg, garbage) = Segment::open(seg.path.clone(), 10, false).unwrap();
        assert_eq!((seg.end_seq, seg.len, garbage), (210, whole, 3));
        assert_eq!(seg.last_ts, 299);
        assert!(
            seg.index.len() >= 3 && seg.index.len() < 10,
            "{}",
            seg.index.len()
        );
        let at = seg.offset_of_seq(150);
        let mut c = FrameCursor::new(Arc::clone(&seg.file), at);
        let Step::Frame { seq, .. } = c.next().unwrap() else {
            panic!()
        };
        assert!(seq <= 150 && seq + 70 > 150, "{seq}");
        assert_eq!(seg.offset_of_time(100), 0);
    }
}
