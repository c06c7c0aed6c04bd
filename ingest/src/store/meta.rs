//! A stream's metadata file, `stream.json`: its shards with their hash-key
//! ranges, lineage (parents of split and merged shards) and sequence-number
//! starts and ends, and its retention. It is replaced atomically on every
//! change, so a crash leaves the old or the new shard map.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::fsutil::{io_err, write_atomic};
use crate::error::{IngestError, Result};

/// The metadata file of a stream, in its folder.
pub const FILE: &str = "stream.json";

/// What `stream.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamMeta {
    /// The stream's name.
    pub name: String,
    /// When it was created, in milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// Records older than this are removed (in whole segments).
    pub retention_hours: u32,
    /// Each shard keeps at most about this many bytes, when set.
    pub retention_bytes: Option<u64>,
    /// The number the next new shard's id gets.
    pub next_shard_index: u32,
    /// Every shard, open and closed, in creation order.
    pub shards: Vec<ShardMeta>,
}

/// One shard in `stream.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardMeta {
    /// `shardId-000000000000`, as Kinesis names them.
    pub id: String,
    /// The lowest hash key it takes.
    #[serde(with = "decimal")]
    pub hash_start: u128,
    /// The highest hash key it takes.
    #[serde(with = "decimal")]
    pub hash_end: u128,
    /// The shard it was split from, or the first of the two merged into it.
    pub parent: Option<String>,
    /// The second shard merged into it.
    pub adjacent_parent: Option<String>,
    /// Its first sequence number (past every parent's last).
    pub starting_seq: u64,
    /// One past its last sequence number, once closed by a split or merge.
    pub ending_seq: Option<u64>,
}

impl ShardMeta {
    /// True while it takes new records.
    pub fn is_open(&self) -> bool {
        self.ending_seq.is_none()
    }

    /// Its parents, the split or merged shards it came from.
    pub fn parents(&self) -> impl Iterator<Item = &str> {
        self.parent
            .iter()
            .chain(&self.adjacent_parent)
            .map(String::as_str)
    }
}

/// The id of the shard numbered `index`.
pub fn shard_id(index: u32) -> String {
    format!("shardId-{index:012}")
}

/// Hash-key ranges that cut the 128-bit space into `n` even shards.
pub fn even_ranges(n: u32) -> Vec<(u128, u128)> {
    let step = u128::MAX / u128::from(n.max(1));
    (0..n)
        .map(|i| {
            let start = u128::from(i) * step;
            let end = if i + 1 == n {
                u128::MAX
            } else {
                u128::from(i + 1) * step - 1
            };
            (start, end)
        })
        .collect()
}

impl StreamMeta {
    /// Reads `stream.json` in `dir`.
    ///
    /// # Errors
    /// [`IngestError::Storage`] or [`IngestError::Corrupt`].
    pub fn load(dir: &Path) -> Result<StreamMeta> {
        let path = dir.join(FILE);
        let bytes = std::fs::read(&path).map_err(io_err("cannot read", &path))?;
        serde_json::from_slice(&bytes).map_err(|e| IngestError::Corrupt {
            path,
            reason: e.to_string(),
        })
    }

    /// Replaces `stream.json` in `dir` atomically.
    ///
    /// # Errors
    /// [`IngestError::Storage`].
    pub fn save(&self, dir: &Path) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(IngestError::Encode)?;
        write_atomic(&dir.join(FILE), &bytes)
    }

    /// The shard with id `id`.
    pub fn shard(&self, id: &str) -> Option<&ShardMeta> {
        self.shards.iter().find(|s| s.id == id)
    }
}

/// u128 hash keys as decimal strings, as Kinesis writes them (JSON numbers
/// lose their precision in most readers).
mod decimal {
    use serde::{Deserialize as _, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_the_space() {
        for n in [1, 2, 3, 7] {
            let r = even_ranges(n);
            assert_eq!(r[0].0, 0);
            assert_eq!(r[r.len() - 1].1, u128::MAX);
            for w in r.windows(2) {
                assert_eq!(w[0].1 + 1, w[1].0);
            }
        }
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let meta = StreamMeta {
            name: "s".into(),
            created_ms: 1,
            retention_hours: 24,
            retention_bytes: None,
            next_shard_index: 1,
            shards: vec![ShardMeta {
                id: shard_id(0),
                hash_start: 0,
                hash_end: u128::MAX,
                parent: None,
                adjacent_parent: None,
                starting_seq: 0,
                ending_seq: None,
            }],
        };
        meta.save(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert!(
            text.contains("\"340282366920938463463374607431768211455\""),
            "{text}"
        );
        assert_eq!(StreamMeta::load(dir.path()).unwrap(), meta);
        std::fs::write(dir.path().join(FILE), b"{").unwrap();
        assert!(matches!(
            StreamMeta::load(dir.path()),
            Err(IngestError::Corrupt { .. })
        ));
    }
}
