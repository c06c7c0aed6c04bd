//! The telemetry-stream subcommands' shared parts, and `osprey stream`:
//! create, list, describe, delete, split and merge streams in the store.

use std::io::Write as _;

use anyhow::Result;
use osprey_ingest::store::{Durability, Store, StreamOptions};

use crate::args::stream::{StreamArgs, StreamCommand};
use crate::exit::UsageError;
pub use osprey_server::store::open_store;

/// Some records of a put were refused; the others were stored (exit code 5).
#[derive(Debug, thiserror::Error)]
#[error("{failed} of {total} records were refused (see the lines above); the others were stored")]
pub struct RecordsFailed {
    /// Records refused.
    pub failed: u64,
    /// Records read.
    pub total: u64,
}

/// `osprey stream verify` found damage (exit code 6).
#[derive(Debug, thiserror::Error)]
#[error("stream {stream:?}: {ranges} damaged range(s) found (listed on stdout)")]
pub struct DamageFound {
    /// The stream.
    pub stream: String,
    /// Damaged ranges found.
    pub ranges: usize,
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
            let mut names: Vec<(String, Option<String>)> = store
                .list_streams()?
                .into_iter()
                .map(|n| (n, None))
                .collect();
            names.extend(
                store
                    .damaged_streams()
                    .into_iter()
                    .map(|(n, why)| (n, Some(why))),
            );
            names.sort();
            for (name, damage) in names {
                match damage {
                    None => writeln!(out, "{name}")?,
                    Some(why) => writeln!(out, "{name}\tdamaged: {why}")?,
                }
            }
        }
        StreamCommand::Verify(a) => {
            let store = Store::open_read_only(&a.data.data_dir)?;
            verify(&store, &a.name, &mut out)?;
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

/// `osprey stream verify NAME`: every finding as a JSON line on `out`, a
/// summary on stderr, [`DamageFound`] when there is damage.
fn verify(store: &Store, name: &str, out: &mut impl std::io::Write) -> Result<()> {
    let started = std::time::Instant::now();
    let check = store.verify_stream(name)?;
    let (mut segments, mut bytes, mut records) = (0, 0u64, 0u64);
    for (shard, c) in &check.shards {
        segments += c.segments;
        bytes += c.bytes;
        records += c.records;
        for f in &c.findings {
            let mut line = serde_json::to_value(f)?;
            if let Some(obj) = line.as_object_mut() {
                obj.insert("stream".into(), name.into());
                obj.insert("shard".into(), shard.as_str().into());
                obj.insert("damage".into(), f.is_damage().into());
            }
            writeln!(out, "{line}")?;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let ranges = check.damage().count();
    eprintln!(
        "osprey: verified stream {name:?}: {} shard(s), {segments} segment(s), {:.1} MB, {records} records in {secs:.2} s ({:.0} MB/s); {ranges} damaged range(s)",
        check.shards.len(),
        bytes as f64 / 1e6,
        bytes as f64 / 1e6 / secs.max(1e-9)
    );
    if ranges > 0 {
        return Err(DamageFound {
            stream: name.to_owned(),
            ranges,
        }
        .into());
    }
    Ok(())
}
