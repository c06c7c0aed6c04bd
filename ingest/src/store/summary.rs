//! A sealed segment's summary, `<seq>.sum` beside `<seq>.seg`: what a scan
//! of the segment found (ranges, sparse index, damage), so that opening a
//! store does not read every frame again.
//!
//! The file is `<crc32 of the JSON, 8 hex digits>\n<JSON>`. It is trusted
//! only when its checksum holds, it names the segment's current length, and
//! the segment was not modified after it was written; otherwise the segment
//! is scanned as before. It is a cache: losing it costs a scan, never a
//! record, so it is written without syncing its folder.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::segment::{Damage, Format, IndexEntry, Segment};

#[derive(Debug, Serialize, Deserialize)]
struct Summary {
    file_len: u64,
    first_seq: u64,
    end_seq: u64,
    len: u64,
    last_ts: i64,
    records: u64,
    format: Format,
    index: Vec<IndexEntry>,
    damage: Vec<Damage>,
}

/// The summary file of the segment at `segment`.
pub(super) fn path_of(segment: &Path) -> PathBuf {
    segment.with_extension("sum")
}

/// Writes the summary of `seg`, whose file is `file_len` bytes long now.
///
/// # Errors
/// The I/O error.
pub(super) fn write(seg: &Segment, file_len: u64) -> std::io::Result<()> {
    let summary = Summary {
        file_len,
        first_seq: seg.first_seq,
        end_seq: seg.end_seq,
        len: seg.len,
        last_ts: seg.last_ts,
        records: seg.records,
        format: seg.format,
        index: seg.index.clone(),
        damage: seg.damage.clone(),
    };
    let json = serde_json::to_vec(&summary).map_err(std::io::Error::other)?;
    let path = path_of(&seg.path);
    let tmp = path.with_extension("sum.tmp");
    let mut f = File::create(&tmp)?;
    writeln!(f, "{:08x}", crc32fast::hash(&json))?;
    f.write_all(&json)?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path)
}

/// The segment at `path` as its summary describes it, when the summary can
/// be trusted.
pub(super) fn load(path: &Path, first_seq: u64) -> Option<Segment> {
    let sum_path = path_of(path);
    let seg_meta = std::fs::metadata(path).ok()?;
    let sum_meta = std::fs::metadata(&sum_path).ok()?;
    if seg_meta.modified().ok()? > sum_meta.modified().ok()? {
        return None;
    }
    let bytes = std::fs::read(&sum_path).ok()?;
    let (crc, json) = bytes.split_at_checked(9)?;
    let crc = u32::from_str_radix(std::str::from_utf8(crc.get(..8)?).ok()?, 16).ok()?;
    if crc32fast::hash(json) != crc {
        return None;
    }
    let s: Summary = serde_json::from_slice(json).ok()?;
    if s.file_len != seg_meta.len() || s.first_seq != first_seq || s.len > s.file_len {
        return None;
    }
    Some(Segment {
        first_seq,
        path: path.to_path_buf(),
        end_seq: s.end_seq,
        len: s.len,
        last_ts: s.last_ts,
        index: s.index,
        damage: s.damage,
        tail: s.file_len - s.len,
        format: s.format,
        records: s.records,
    })
}

/// Removes the summary of the segment at `segment`, if any.
pub(super) fn remove(segment: &Path) {
    let _ignored = std::fs::remove_file(path_of(segment));
}
