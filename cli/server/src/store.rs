//! Opening the stores (telemetry and video) the commands and the server
//! write to, with the store's path in the error.

use std::path::Path;

use anyhow::{Context as _, Result};
use osprey_ingest::store::{Durability, Store, StoreConfig};
use osprey_ingest::video::VideoStore;

/// Opens the store in `dir` for writing ([`StoreConfig::for_writing`]).
pub fn open_store(dir: &Path, durability: Durability) -> Result<Store> {
    Store::open(dir, StoreConfig::for_writing(durability))
        .with_context(|| format!("cannot open the store in {:?}", dir.display().to_string()))
}

/// Opens the video store of `dir` for writing.
pub fn open_video_store(dir: &Path) -> Result<VideoStore> {
    VideoStore::open(dir).with_context(|| {
        format!(
            "cannot open the video store in {:?}",
            dir.display().to_string()
        )
    })
}
