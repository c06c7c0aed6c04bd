//! `osprey video create|list|describe|delete|verify|fragments`.
//!
//! Commands that change the store open it for writing (they fail while
//! another process, such as `osprey serve`, writes it); the others open it
//! read-only, so they work alongside a recording server.

use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::Args;
use osprey_ingest::video::{
    FragmentMeta, Retention, TimeBase, TimeRange, VideoStore, VideoStreamConfig,
};
use osprey_server::store::open_video_store;

use super::time_arg::parse_ns;
use crate::args::stream::DataDirArg;
use crate::exit::UsageError;

/// Arguments of `osprey video create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The video stream's name
    pub name: String,
    /// Keep fragments this many hours (default: keep them until deleted or
    /// --retention-mib is reached)
    #[arg(long, value_name = "H")]
    pub retention_hours: Option<u32>,
    /// Keep at most this many MiB of media, dropping the oldest fragments
    #[arg(long, value_name = "N")]
    pub retention_mib: Option<u64>,
    /// The store.
    #[command(flatten)]
    pub data: DataDirArg,
}

/// Arguments of `osprey video list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// The store.
    #[command(flatten)]
    pub data: DataDirArg,
}

/// Arguments naming one video stream.
#[derive(Debug, Args)]
pub struct NameArgs {
    /// The video stream's name
    pub name: String,
    /// The store.
    #[command(flatten)]
    pub data: DataDirArg,
}

/// Arguments of `osprey video fragments`.
#[derive(Debug, Args)]
pub struct FragmentsArgs {
    /// The video stream's name
    pub name: String,
    /// From this time (RFC 3339 or Unix seconds)
    #[arg(long, value_name = "T")]
    pub start: Option<String>,
    /// Until this time (RFC 3339 or Unix seconds)
    #[arg(long, value_name = "T")]
    pub end: Option<String>,
    /// The store.
    #[command(flatten)]
    pub data: DataDirArg,
}

/// `osprey video verify` found damage (exit code 6).
#[derive(Debug, thiserror::Error)]
#[error("video stream {stream:?}: {fragments} damaged fragment(s) found (listed on stdout)")]
pub struct VideoDamageFound {
    /// The stream.
    pub stream: String,
    /// Damaged fragments found.
    pub fragments: usize,
}

/// Opens the video store of `dir` for reading.
pub fn open_read_only(dir: &Path) -> Result<VideoStore> {
    VideoStore::open_read_only(dir).with_context(|| {
        format!(
            "cannot open the video store in {:?}",
            dir.display().to_string()
        )
    })
}

/// `osprey video create`.
pub fn create(args: &CreateArgs) -> Result<()> {
    if args.retention_hours == Some(0) || args.retention_mib == Some(0) {
        return Err(
            UsageError("--retention-hours and --retention-mib must be at least 1".into()).into(),
        );
    }
    let config = VideoStreamConfig {
        retention: Retention {
            max_age: args
                .retention_hours
                .map(|h| Duration::from_secs(u64::from(h) * 3600)),
            max_bytes: args.retention_mib.map(|m| m.saturating_mul(1 << 20)),
        },
        ..VideoStreamConfig::default()
    };
    let info = open_video_store(&args.data.data_dir)?.create(&args.name, config)?;
    print_line(&serde_json::to_string_pretty(&info)?)
}

/// `osprey video list`: one name a line, a damaged stream with its reason.
pub fn list(args: &ListArgs) -> Result<()> {
    let store = open_read_only(&args.data.data_dir)?;
    let mut names: Vec<(String, Option<String>)> =
        store.list()?.into_iter().map(|i| (i.name, None)).collect();
    names.extend(
        store
            .damaged_streams()
            .into_iter()
            .map(|(n, why)| (n, Some(why))),
    );
    names.sort();
    let mut out = std::io::stdout().lock();
    for (name, damage) in names {
        match damage {
            None => writeln!(out, "{name}")?,
            Some(why) => writeln!(out, "{name}\tdamaged: {why}")?,
        }
    }
    out.flush()?;
    Ok(())
}

/// `osprey video describe`: the stream as pretty JSON.
pub fn describe(args: &NameArgs) -> Result<()> {
    let info = open_read_only(&args.data.data_dir)?.describe(&args.name)?;
    print_line(&serde_json::to_string_pretty(&info)?)
}

/// `osprey video delete`.
pub fn delete(args: &NameArgs) -> Result<()> {
    open_video_store(&args.data.data_dir)?.delete(&args.name)?;
    Ok(())
}

/// `osprey video verify`: each damaged fragment a JSON line on stdout, a
/// summary on stderr, [`VideoDamageFound`] when there is one.
pub fn verify(args: &NameArgs) -> Result<()> {
    let store = open_read_only(&args.data.data_dir)?;
    let started = std::time::Instant::now();
    let kept = store.describe(&args.name)?;
    let damage = store.verify(&args.name)?;
    let mut out = std::io::stdout().lock();
    for d in &damage {
        let mut line = serde_json::to_value(d)?;
        if let Some(obj) = line.as_object_mut() {
            obj.insert("stream".into(), args.name.as_str().into());
        }
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    eprintln!(
        "osprey: verified video stream {:?}: {} fragment(s), {:.1} MB in {:.2} s; {} damaged fragment(s)",
        args.name,
        kept.fragments,
        kept.bytes as f64 / 1e6,
        started.elapsed().as_secs_f64(),
        damage.len()
    );
    if !damage.is_empty() {
        return Err(VideoDamageFound {
            stream: args.name.clone(),
            fragments: damage.len(),
        }
        .into());
    }
    Ok(())
}

/// `osprey video fragments`: one JSON line per fragment kept whose
/// producer time overlaps `[--start, --end)`.
pub fn fragments(args: &FragmentsArgs) -> Result<()> {
    let start_ns = args
        .start
        .as_deref()
        .map(parse_ns)
        .transpose()
        .map_err(|e| UsageError(format!("--start: {e:#}")))?;
    let end_ns = args
        .end
        .as_deref()
        .map(parse_ns)
        .transpose()
        .map_err(|e| UsageError(format!("--end: {e:#}")))?;
    let range = match (start_ns, end_ns) {
        (None, None) => None,
        (start, end) => {
            let (start_ns, end_ns) = (start.unwrap_or(0), end.unwrap_or(u64::MAX));
            if start_ns >= end_ns {
                return Err(UsageError("--start must be before --end".into()).into());
            }
            Some(TimeRange {
                base: TimeBase::Producer,
                start_ns,
                end_ns,
            })
        }
    };
    let metas = open_read_only(&args.data.data_dir)?.fragments(&args.name, range)?;
    let mut out = std::io::stdout().lock();
    for m in &metas {
        writeln!(out, "{}", fragment_line(m))?;
    }
    out.flush()?;
    Ok(())
}

/// A fragment as `osprey video fragments` prints it.
fn fragment_line(m: &FragmentMeta) -> serde_json::Value {
    serde_json::json!({
        "number": m.number,
        "producer_time": rfc3339(m.producer_ns),
        "producer_ns": m.producer_ns,
        "server_time": rfc3339(m.server_ns),
        "server_ns": m.server_ns,
        "duration_s": m.duration_ns as f64 / 1e9,
        "duration_ns": m.duration_ns,
        "size": m.size,
        "frames": m.frames,
        "codec": m.codec,
        "width": m.width,
        "height": m.height,
    })
}

/// Unix ns as RFC 3339 UTC with nanoseconds.
fn rfc3339(ns: u64) -> String {
    let t = chrono::DateTime::from_timestamp_nanos(i64::try_from(ns).unwrap_or(i64::MAX));
    t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// Prints `text` and a newline on stdout.
fn print_line(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush()?;
    Ok(())
}
