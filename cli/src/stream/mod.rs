//! The telemetry-stream subcommands' shared parts, and `osprey stream`:
//! create, list, describe, delete, split and merge streams in the store.
//!
//! - [`base64`]: base64 both ways (the Kinesis API's data, `read`'s binary data).
//! - [`lines`]: input lines and CSV rows to records (put from files, stdin, TCP).
//! - [`tcp`]: the NDJSON listener of `osprey put --listen`.
//! - [`output`]: records as NDJSON lines (`osprey read`).

pub mod base64;
pub mod lines;
pub mod output;
pub mod tcp;

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, Result};
use osprey_ingest::store::{Durability, LogConfig, Store, StoreConfig, StreamOptions};

use crate::args::stream::{StreamArgs, StreamCommand};
use crate::exit::UsageError;

/// Some records of a put were refused; the others were stored (exit code 5).
#[derive(Debug, thiserror::Error)]
#[error("{failed} of {total} records were refused (see the lines above); the others were stored")]
pub struct RecordsFailed {
    /// Records refused.
    pub failed: u64,
    /// Records read.
    pub total: u64,
}

/// Opens the store in `dir` for writing.
pub fn open_store(dir: &Path, durability: Durability) -> Result<Store> {
    let config = StoreConfig {
        log: LogConfig {
            durability,
            ..LogConfig::default()
        },
        ..StoreConfig::default()
    };
    Store::open(dir, config)
        .with_context(|| format!("cannot open the store in {:?}", dir.display().to_string()))
}

/// Runs `osprey stream ...`.
pub fn run(args: &StreamArgs) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match &args.command {
        StreamCommand::Create(a) => {
            let store = open_store(&a.data.data_dir, Durability::Fsync)?;
            let options = StreamOptions {
                shards: a.shards,
                retention_hours: a.retention_hours,
                retention_bytes: a.retention_mib.map(|m| m.saturating_mul(1 << 20)),
            };
            let d = store.create_stream(&a.name, options)?;
            writeln!(out, "{}", serde_json::to_string_pretty(&d)?)?;
        }
        StreamCommand::List(a) => {
            let store = Store::open_read_only(&a.data_dir)?;
            for name in store.list_streams()? {
                writeln!(out, "{name}")?;
            }
        }
        StreamCommand::Describe(a) => {
            let store = Store::open_read_only(&a.data.data_dir)?;
            let d = store.describe_stream(&a.name)?;
            writeln!(out, "{}", serde_json::to_string_pretty(&d)?)?;
        }
        StreamCommand::Delete(a) => {
            open_store(&a.data.data_dir, Durability::Fsync)?.delete_stream(&a.name)?;
        }
        StreamCommand::Split(a) => {
            let store = open_store(&a.data.data_dir, Durability::Fsync)?;
            let key = if a.hash_key == "middle" {
                let meta = store.stream_meta(&a.name)?;
                let shard = meta.shard(&a.shard).ok_or_else(|| {
                    osprey_ingest::IngestError::NoSuchShard {
                        stream: a.name.clone(),
                        shard: a.shard.clone(),
                    }
                })?;
                shard.hash_start + (shard.hash_end - shard.hash_start) / 2 + 1
            } else {
                a.hash_key.parse::<u128>().map_err(|_| {
                    UsageError(format!(
                        "invalid hash key {:?}: use a decimal number below 2^128, or middle",
                        a.hash_key
                    ))
                })?
            };
            let (lo, hi) = store.split_shard(&a.name, &a.shard, key)?;
            writeln!(out, "{}", serde_json::json!({ "children": [lo, hi] }))?;
        }
        StreamCommand::Merge(a) => {
            let store = open_store(&a.data.data_dir, Durability::Fsync)?;
            let child = store.merge_shards(&a.name, &a.shard, &a.adjacent)?;
            writeln!(out, "{}", serde_json::json!({ "child": child }))?;
        }
    }
    out.flush()?;
    Ok(())
}
