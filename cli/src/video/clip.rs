//! `osprey video clip NAME --start T --end T -o clip.mp4`: the frames of a
//! time range as one MP4 (fragmented, H.264/H.265 as stored), from the key
//! frame at or before the start; one JSON line on stdout says what it
//! holds. Also the error mapping `osprey video clip` and `images` share.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Args;
use osprey_ingest::video::VideoStore;
use osprey_video::playback::{PlaybackError, clip};

use super::time_arg::parse_ns;
use crate::args::stream::DataDirArg;

/// Arguments of `osprey video clip` (exit 3 when the range holds no media).
#[derive(Debug, Args)]
pub struct ClipArgs {
    /// The video stream's name
    pub name: String,
    /// Start (RFC 3339 or Unix seconds); the clip starts at the key frame at
    /// or before it
    #[arg(long, value_name = "T")]
    pub start: String,
    /// End (RFC 3339 or Unix seconds)
    #[arg(long, value_name = "T")]
    pub end: String,
    /// The MP4 file to write
    #[arg(short, long, value_name = "PATH")]
    pub output: PathBuf,
    /// The store.
    #[command(flatten)]
    pub data: DataDirArg,
}

/// A range of a video stream that holds no media (exit 3).
#[derive(Debug, thiserror::Error)]
#[error("no media in video stream {stream:?} between {start} and {end}")]
pub struct NoMedia {
    /// The stream.
    pub stream: String,
    /// The range's start, RFC 3339.
    pub start: String,
    /// The range's end, RFC 3339.
    pub end: String,
}

impl NoMedia {
    /// The error for `[start_ns, end_ns)` of `stream`.
    pub fn new(stream: &str, start_ns: u64, end_ns: u64) -> NoMedia {
        NoMedia {
            stream: stream.to_owned(),
            start: rfc3339(start_ns),
            end: rfc3339(end_ns),
        }
    }
}

/// Unix ns as RFC 3339 to the millisecond (`2026-12-06T10:00:00.000Z`).
pub fn rfc3339(ns: u64) -> String {
    chrono::DateTime::from_timestamp_nanos(i64::try_from(ns).unwrap_or(i64::MAX))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// A playback error as the CLI says it: no media as [`NoMedia`], the others
/// as they are (their exit codes in `exit.rs`).
pub fn playback_error(
    err: PlaybackError,
    stream: &str,
    start_ns: u64,
    end_ns: u64,
) -> anyhow::Error {
    match err {
        PlaybackError::NoMedia => NoMedia::new(stream, start_ns, end_ns).into(),
        other => other.into(),
    }
}

/// The range of `--start` and `--end`, and the store opened for reading.
pub fn open(data: &DataDirArg, start: &str, end: &str) -> Result<(VideoStore, u64, u64)> {
    let start_ns = parse_ns(start).context("--start")?;
    let end_ns = parse_ns(end).context("--end")?;
    let store = VideoStore::open_read_only(&data.data_dir)?;
    Ok((store, start_ns, end_ns))
}

/// `osprey video clip`.
pub fn run(args: &ClipArgs) -> Result<()> {
    let (store, start_ns, end_ns) = open(&args.data, &args.start, &args.end)?;
    let clip = clip::mp4(&store, &args.name, start_ns, end_ns)
        .map_err(|e| playback_error(e, &args.name, start_ns, end_ns))?;
    std::fs::write(&args.output, &clip.data)
        .with_context(|| format!("cannot write {:?}", args.output))?;
    if clip.track_changed {
        tracing::warn!(
            "The track changes (size or parameter sets) at {}: the clip ends there.",
            rfc3339(clip.end_ns)
        );
    }
    let summary = serde_json::json!({
        "path": args.output,
        "frames": clip.frames,
        "start": rfc3339(clip.start_ns),
        "end": rfc3339(clip.end_ns),
        "bytes": clip.data.len(),
        "track_changed": clip.track_changed,
    });
    println!("{summary}");
    Ok(())
}
