//! A shard's high-water mark, `hwm.json` in its folder: sequence numbers
//! never go backwards, whatever happens to the segment files.
//!
//! The segments alone cannot say where a shard ended once the last one is
//! truncated or deleted. So before a writer hands out a sequence number at or
//! above `reserved`, it durably moves `reserved` ahead by [`LEAP`] numbers (one
//! small atomic write per [`LEAP`] records), and a clean close records the
//! exact end in `clean_end`. A writer that opens the shard starts at the
//! highest of the segments' end, `clean_end` and, after a crash (no
//! `clean_end`), `reserved`: the numbers between the last record and
//! `reserved` are skipped (listed in `skipped`, so that `verify` does not
//! take them for lost records). Kinesis' sequence numbers are not contiguous
//! either; they only grow.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::fsutil::write_atomic;
use crate::error::{IngestError, Result};

/// The file in a shard's folder.
pub const FILE: &str = "hwm.json";

/// Sequence numbers reserved at once.
pub const LEAP: u64 = 1 << 20;

/// Ranges of skipped numbers kept; older ones are dropped (they only keep
/// `verify` from reporting a gap that is no loss).
const MAX_SKIPPED: usize = 64;

/// What `hwm.json` holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HighWater {
    /// Every sequence number handed out is below it.
    pub reserved: u64,
    /// The next sequence number, written by a clean close; `None` while a
    /// writer has the shard open (or after it crashed).
    pub clean_end: Option<u64>,
    /// Ranges `[start, end)` skipped after a crash: no record ever had them.
    #[serde(default)]
    pub skipped: Vec<(u64, u64)>,
}

impl HighWater {
    /// The lowest sequence number a writer may hand out next.
    pub fn floor(&self) -> u64 {
        self.clean_end.unwrap_or(self.reserved)
    }

    /// True when `[start, end)` was skipped on purpose.
    pub fn is_skipped(&self, start: u64, end: u64) -> bool {
        self.skipped.iter().any(|&(s, e)| s <= start && end <= e)
    }

    /// Notes `[start, end)` as skipped.
    pub fn skip(&mut self, start: u64, end: u64) {
        if start < end && !self.is_skipped(start, end) {
            self.skipped.push((start, end));
            if self.skipped.len() > MAX_SKIPPED {
                self.skipped.remove(0);
            }
        }
    }
}

/// Reads the high-water mark in shard folder `dir`: `Ok(None)` when there is
/// none (a shard from before it existed), `Err` with the reason when the file
/// is damaged.
pub fn load(dir: &Path) -> std::result::Result<Option<HighWater>, String> {
    match std::fs::read(dir.join(FILE)) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| e.to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// Replaces the high-water mark in shard folder `dir` atomically and durably.
///
/// # Errors
/// [`IngestError::Storage`].
pub fn save(dir: &Path, hw: &HighWater) -> Result<()> {
    let bytes = serde_json::to_vec(hw).map_err(IngestError::Encode)?;
    write_atomic(&dir.join(FILE), &bytes)
}

/// Writes the first high-water mark of a new shard in `dir` (a folder being
/// built aside: the file is synced, then the folder).
///
/// # Errors
/// [`IngestError::Storage`].
pub fn create(dir: &Path, hw: &HighWater) -> Result<()> {
    use std::io::Write as _;
    let path = dir.join(FILE);
    let bytes = serde_json::to_vec(hw).map_err(IngestError::Encode)?;
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(&bytes).and_then(|()| f.sync_all()))
        .map_err(super::fsutil::io_err("cannot write", &path))?;
    super::fsutil::sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), None);
        let mut hw = HighWater {
            reserved: 10,
            clean_end: Some(7),
            skipped: Vec::new(),
        };
        hw.skip(3, 5);
        hw.skip(3, 4);
        assert_eq!(hw.skipped, [(3, 5)]);
        save(dir.path(), &hw).unwrap();
        assert_eq!(load(dir.path()).unwrap(), Some(hw.clone()));
        assert_eq!(hw.floor(), 7);
        std::fs::write(dir.path().join(FILE), b"{\"reser").unwrap();
        assert!(load(dir.path()).is_err());
    }
}
