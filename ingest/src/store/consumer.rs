//! Named consumers' checkpoints: per shard, the sequence number a consumer
//! reads next, in `consumers/<name>.json` in the stream's folder, replaced
//! atomically so a crash keeps the last whole checkpoint.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::fsutil::{create_dir, io_err, write_atomic};
use crate::error::{IngestError, Result};

/// Per shard id, the next sequence number to read.
pub type Checkpoint = BTreeMap<String, u64>;

fn path(stream_dir: &Path, consumer: &str) -> PathBuf {
    stream_dir
        .join("consumers")
        .join(format!("{consumer}.json"))
}

/// The checkpoint of `consumer`, empty when it has none yet.
///
/// # Errors
/// [`IngestError::Storage`] or [`IngestError::Corrupt`].
pub fn load(stream_dir: &Path, consumer: &str) -> Result<Checkpoint> {
    let path = path(stream_dir, consumer);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| IngestError::Corrupt {
            path,
            reason: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Checkpoint::new()),
        Err(e) => Err(io_err("cannot read", &path)(e)),
    }
}

/// Saves the checkpoint of `consumer`.
///
/// # Errors
/// [`IngestError::Storage`].
pub fn save(stream_dir: &Path, consumer: &str, checkpoint: &Checkpoint) -> Result<()> {
    let path = path(stream_dir, consumer);
    create_dir(path.parent().unwrap_or(stream_dir))?;
    let bytes = serde_json::to_vec(checkpoint).map_err(IngestError::Encode)?;
    write_atomic(&path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_and_load() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path(), "app").unwrap().is_empty());
        let mut c = Checkpoint::new();
        c.insert("shardId-000000000000".into(), 42);
        save(dir.path(), "app", &c).unwrap();
        assert_eq!(load(dir.path(), "app").unwrap(), c);
        assert!(load(dir.path(), "other").unwrap().is_empty());
    }
}
