//! `osprey video put NAME SRC`: record a source into a video stream.
//!
//! Each fragment, once durable, is printed on stdout as one JSON line (its
//! metadata: number, producer and server times in Unix ns, duration, size,
//! frames, codec, size in pixels); a progress line on stderr (a terminal
//! only) counts fragments and seconds of media; a summary line on stderr
//! ends the run. The stream is created (keeping everything) when it does
//! not exist. A live source (RTSP, a camera) that drops, fails or stalls
//! for 10 s is connected again, as `osprey analyze` does (backoff from 1 s
//! doubling to 30 s, for ever): each connection starts a new fragment on a
//! key frame, and fragment numbers grow on; a file ends at its end. The first SIGINT or SIGTERM stops the recording cleanly: the
//! fragment in progress is appended, the summary printed, exit 0; a second
//! one exits at once.

use std::io::{IsTerminal as _, Write as _};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use osprey_ingest::video::{FragmentMeta, VideoError as StoreError, VideoStore, VideoStreamConfig};
use osprey_video::record::{PutOptions, PutSummary, put};
use osprey_video::source::SourceSpec;

use crate::args::stream::DataDirArg;
use crate::video::time_arg::parse_ns;

/// Arguments of `osprey video put`.
#[derive(Debug, Args)]
pub struct PutArgs {
    /// The video stream's name (created, keeping everything, when it does
    /// not exist)
    pub name: String,
    /// The source: a video file, an RTSP URI, a camera (v4l2:///dev/video0)
    /// or a test source (test:ball). H.264 and H.265 are kept as they come;
    /// a test source and a camera giving raw frames are encoded with x264
    /// (nothing encoded to keep); other codecs are refused
    pub source: String,
    /// Fragment length to aim at, in seconds (cut at the first key frame
    /// past it)
    #[arg(long, default_value_t = 2.0, value_name = "S")]
    pub fragment_seconds: f64,
    /// For a file: the producer time of its first frame (RFC 3339 or Unix
    /// seconds; default: when the put starts). Live sources use their own
    /// clock (RTCP sender reports), else the arrival time
    #[arg(long, value_name = "T")]
    pub start_time: Option<String>,
    /// The store.
    #[command(flatten)]
    pub data: DataDirArg,
}

/// `osprey video put`.
pub fn run(args: &PutArgs) -> Result<()> {
    if !(args.fragment_seconds.is_finite() && args.fragment_seconds > 0.0) {
        bail!(
            "--fragment-seconds {} must be a positive number",
            args.fragment_seconds
        );
    }
    let options = PutOptions {
        fragment: Duration::try_from_secs_f64(args.fragment_seconds)
            .context("--fragment-seconds is out of range")?,
        start_time_ns: args.start_time.as_deref().map(parse_ns).transpose()?,
        ..PutOptions::default()
    };
    let stop = crate::analyze::signals::stop_flag()?;
    let store = VideoStore::open(&args.data.data_dir)
        .with_context(|| format!("cannot open the video store in {:?}", args.data.data_dir))?;
    match store.create(&args.name, VideoStreamConfig::default()) {
        Ok(_) => eprintln!("osprey: created video stream {:?}", args.name),
        Err(StoreError::Exists(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let spec = SourceSpec::new(args.source.clone());
    let progress = Progress::new();
    let mut stdout = std::io::stdout().lock();
    let mut so_far = PutSummary::default();
    let mut on_fragment = |meta: &FragmentMeta| {
        if let Ok(line) = serde_json::to_string(meta) {
            // A closed stdout must not stop the recording.
            let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
        }
        so_far.fragments += 1;
        so_far.media_ns += meta.duration_ns;
        progress.show(&so_far);
    };
    let summary = put(&spec, &store, &args.name, &options, &stop, &mut on_fragment)
        .with_context(|| format!("recording {} into {:?}", spec.redacted(), args.name))?;
    progress.bar.finish_and_clear();
    eprintln!("{}", summary_line(&args.name, &summary));
    Ok(())
}

/// The last line on stderr.
fn summary_line(name: &str, s: &PutSummary) -> String {
    let mut line = format!(
        "osprey video put: {name}: {} fragments, {:.1} s of media, {} frames, {} bytes",
        s.fragments,
        s.media_ns as f64 / 1e9,
        s.frames,
        s.bytes
    );
    if s.dropped > 0 {
        line.push_str(&format!(
            " ({} frames before a key frame dropped)",
            s.dropped
        ));
    }
    line
}

/// Fragments and seconds of media so far, on stderr when it is a terminal.
struct Progress {
    bar: ProgressBar,
}

impl Progress {
    fn new() -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress {
                bar: ProgressBar::hidden(),
            };
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}") {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress { bar }
    }

    fn show(&self, s: &PutSummary) {
        self.bar.set_message(format!(
            "{} fragments, {:.1} s of media",
            s.fragments,
            s.media_ns as f64 / 1e9
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_says_what_was_kept_and_dropped() {
        let s = PutSummary {
            fragments: 3,
            frames: 75,
            bytes: 1234,
            media_ns: 6_000_000_000,
            dropped: 0,
        };
        assert_eq!(
            summary_line("cam", &s),
            "osprey video put: cam: 3 fragments, 6.0 s of media, 75 frames, 1234 bytes"
        );
        let s = PutSummary { dropped: 4, ..s };
        assert!(summary_line("cam", &s).ends_with(" (4 frames before a key frame dropped)"));
    }
}
