//! `osprey video images NAME --start --end --every 1s --width 320 -o DIR`:
//! one JPEG or PNG every `--every` over a range, each the frame shown at
//! that time, named by it (`NAME-20261206T100000.000Z.jpg`); one JSON line
//! on stdout says how many were written and how many times had no media.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::{Args, ValueEnum};
use osprey_video::playback::images::{self, ImageFormat, ImageRequest};

use super::clip::{NoMedia, open, playback_error};
use crate::exit::UsageError;

/// Images decoded and held in memory at a time.
const BATCH: usize = 30;

/// The most images one command writes.
const MAX_IMAGES: u64 = 100_000;

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// JPEG, quality 85
    Jpeg,
    /// PNG
    Png,
}

/// Arguments of `osprey video images` (exit 3 when no sample time has
/// media).
#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// The video stream's name
    pub name: String,
    /// Start (RFC 3339 or Unix seconds)
    #[arg(long, value_name = "T")]
    pub start: String,
    /// End (RFC 3339 or Unix seconds)
    #[arg(long, value_name = "T")]
    pub end: String,
    /// One image every this long (e.g. 1s, 500ms)
    #[arg(long, default_value = "1s", value_name = "DURATION")]
    pub every: String,
    /// Scale to this width (the height follows the aspect unless given)
    #[arg(long, value_name = "PX")]
    pub width: Option<u32>,
    /// Scale to this height
    #[arg(long, value_name = "PX")]
    pub height: Option<u32>,
    /// The image format
    #[arg(long, value_enum, default_value_t = FormatArg::Jpeg)]
    pub format: FormatArg,
    /// The folder to write the images into
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,
    /// The store.
    #[command(flatten)]
    pub data: crate::args::stream::DataDirArg,
}

/// `NAME-20261206T100000.000Z.jpg`.
fn file_name(stream: &str, ts_ns: u64, format: ImageFormat) -> String {
    let t = chrono::DateTime::from_timestamp_nanos(i64::try_from(ts_ns).unwrap_or(i64::MAX));
    format!(
        "{stream}-{}.{}",
        t.format("%Y%m%dT%H%M%S%.3fZ"),
        format.extension()
    )
}

/// `osprey video images`.
pub fn run(args: &ImagesArgs) -> Result<()> {
    let every = osprey_ingest::duration::parse(&args.every)
        .map_err(|e| UsageError(format!("--every: {e}")))?;
    if every.is_zero() {
        return Err(UsageError("--every must be longer than 0".into()).into());
    }
    let (store, start_ns, end_ns) = open(&args.data, &args.start, &args.end)?;
    let every_ns = u64::try_from(every.as_nanos()).unwrap_or(u64::MAX);
    let count = end_ns.saturating_sub(start_ns).div_ceil(every_ns);
    if count > MAX_IMAGES {
        return Err(UsageError(format!(
            "{count} images asked for; at most {MAX_IMAGES} at a time"
        ))
        .into());
    }
    let format = match args.format {
        FormatArg::Jpeg => ImageFormat::Jpeg,
        FormatArg::Png => ImageFormat::Png,
    };
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("cannot create {:?}", args.output))?;
    let (mut written, mut missing, mut bytes) = (0_u64, 0_u64, 0_u64);
    let batch_ns = every_ns.saturating_mul(BATCH as u64);
    let mut from = start_ns;
    while from < end_ns {
        let request = ImageRequest {
            start_ns: from,
            end_ns: end_ns.min(from.saturating_add(batch_ns)),
            every: Duration::from_nanos(every_ns),
            format,
            width: args.width,
            height: args.height,
            max_images: BATCH,
        };
        let batch = images::sample(&store, &args.name, &request)
            .map_err(|e| playback_error(e, &args.name, start_ns, end_ns))?;
        for image in &batch {
            let Some(data) = &image.data else {
                missing += 1;
                continue;
            };
            let path = args.output.join(file_name(&args.name, image.ts_ns, format));
            std::fs::write(&path, data).with_context(|| format!("cannot write {path:?}"))?;
            written += 1;
            bytes += data.len() as u64;
        }
        from = request.end_ns;
    }
    if written == 0 {
        return Err(NoMedia::new(&args.name, start_ns, end_ns).into());
    }
    let summary = serde_json::json!({
        "dir": args.output,
        "images": written,
        "no_media": missing,
        "bytes": bytes,
    });
    println!("{summary}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_named_by_their_time() {
        assert_eq!(
            file_name("cam", 1_796_551_200_250_000_000, ImageFormat::Jpeg),
            "cam-20261206T100000.250Z.jpg"
        );
    }
}
