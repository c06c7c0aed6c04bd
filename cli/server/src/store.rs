//! Opening the stores (telemetry and video) the commands and the server
//! write to.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use osprey_ingest::store::{Durability, LogConfig, Store, StoreConfig};
use osprey_ingest::video::VideoStore;

/// Segment size in bytes, from `OSPREY_SEGMENT_BYTES` (for tests that need
/// many segments), else the store's default.
fn segment_bytes() -> u64 {
    std::env::var("OSPREY_SEGMENT_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&b| b >= 4096)
        .unwrap_or(LogConfig::default().segment_bytes)
}

/// Opens the store in `dir` for writing.
pub fn open_store(dir: &Path, durability: Durability) -> Result<Store> {
    let config = StoreConfig {
        log: LogConfig {
            durability,
            segment_bytes: segment_bytes(),
        },
        ..StoreConfig::default()
    };
    Store::open(dir, config)
        .with_context(|| format!("cannot open the store in {:?}", dir.display().to_string()))
}

/// Opens the video store of `data_dir` for writing.
pub fn open_video_store(data_dir: &Path) -> Result<Arc<VideoStore>> {
    let store = VideoStore::open(data_dir).with_context(|| {
        format!(
            "cannot open the video store in {:?}",
            data_dir.display().to_string()
        )
    })?;
    Ok(Arc::new(store))
}
