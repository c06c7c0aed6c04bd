//! Command-line arguments, as clap parses them.
//!
//! Only syntax is checked here (numbers are numbers, enums are known values);
//! each subcommand turns its arguments into a checked config before it does
//! any work. Doc comments are the help text.

pub mod bench;
pub mod stream;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use osprey_server::args::AnalyzeArgs;

/// Analyse video with compute kernels on any GPU wgpu reaches, or on the CPU.
///
/// Results go to stdout (or --output) as NDJSON, one record a line; logs,
/// progress and the final summary go to stderr.
#[derive(Debug, Parser)]
#[command(name = "osprey", version, after_help = crate::exit::HELP)]
pub struct Cli {
    /// More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Log only errors on stderr (the final summary line stays)
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyse video files, cameras and RTSP streams and write one NDJSON record a frame
    #[command(after_help = analyze_help())]
    Analyze(Box<AnalyzeArgs>),
    /// List the GPU adapters wgpu sees and the one `--backend auto` takes
    Devices(DevicesArgs),
    /// Write a synthetic H.264 test clip with hard cuts (no network needed)
    Generate(GenerateArgs),
    /// Aggregate telemetry records over event-time windows (flags or streaming SQL)
    #[command(after_help = crate::exit::HELP)]
    Aggregate(Box<crate::aggregate::args::AggregateArgs>),
    /// Create, list, describe, delete, split and merge telemetry streams
    Stream(stream::StreamArgs),
    /// Put records (NDJSON or CSV from files or stdin, or NDJSON over TCP) into a stream
    #[command(after_help = crate::exit::HELP)]
    Put(stream::PutArgs),
    /// Print a stream's records as NDJSON
    Read(stream::ReadArgs),
    /// Deliver a stream into NDJSON, Parquet or Arrow files, or to an HTTP webhook, buffered by size and time
    Deliver(stream::DeliverArgs),
    /// Serve the Kinesis Data Streams API over HTTP (JSON 1.1) on the store
    Serve(stream::ServeArgs),
    /// Video streams: create them, record sources into them, read clips and images back
    Video(crate::video::VideoArgs),
    /// Benchmark osprey on this machine against ffmpeg, GStreamer and DuckDB: report.json, report.md, SVG plots
    #[command(after_help = bench::HELP)]
    Bench(bench::BenchCommand),
}

/// `osprey analyze --help`'s epilogue: examples, then the exit codes.
fn analyze_help() -> String {
    format!(
        "Examples:
  osprey analyze clip.mp4
  osprey analyze front=rtsp://admin:***@10.0.0.5/1 back=rtsp://10.0.0.6/1 --records events
  osprey analyze --sources cameras.toml -o cams.ndjson --append
      (passwords in the sources file, or in environment variables it names)

Live sources (rtsp://, v4l2://, test:) are reconnected when they fail or stall, for
--retry-for; the run goes on while any source runs, and ends with the exit code of
the first source that failed (3 for a source given up). SIGINT or SIGTERM end the
run cleanly (open events closed with \"eos\":true, summary, exit 0); a second one
exits at once (130, 143).

{}",
        crate::exit::HELP
    )
}

/// Arguments of `osprey devices`.
#[derive(Debug, Args)]
pub struct DevicesArgs {
    /// Print one JSON object instead of a table
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `osprey generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The MP4 file to write
    #[arg(value_name = "OUT.mp4")]
    pub output: PathBuf,

    /// Width in pixels (even, as H.264 4:2:0 needs)
    #[arg(long, default_value_t = 640)]
    pub width: u32,

    /// Height in pixels (even)
    #[arg(long, default_value_t = 360)]
    pub height: u32,

    /// Frames per second
    #[arg(long, default_value_t = 25)]
    pub fps: u32,

    /// Total frames
    #[arg(long, default_value_t = 150)]
    pub frames: u32,

    /// Frames between hard cuts (0 for none)
    #[arg(long, default_value_t = 50)]
    pub cut_every: u32,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;
    use osprey_server::args::BackendArg;

    use super::*;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn analyze_defaults() {
        let cli = Cli::try_parse_from(["osprey", "analyze", "clip.mp4"]).unwrap();
        let Command::Analyze(a) = cli.command else {
            panic!("not analyze: {cli:?}");
        };
        assert_eq!(a.inputs, ["clip.mp4"]);
        assert_eq!(a.backend, BackendArg::Auto);
        assert_eq!(a.kernels, "all");
        assert_eq!(a.output, PathBuf::from("-"));
        assert_eq!(a.scene_threshold, 10.0);
        assert_eq!(a.chunk_frames, 8);
        assert_eq!(a.source, None);
        assert_eq!(a.black.black_min_duration, 2.0);
        assert_eq!(a.black.black_ratio, 0.98);
        assert_eq!(a.black.black_pixel, 0.10);
        assert_eq!(a.freeze.freeze_noise, "-60dB");
        assert_eq!(a.freeze.freeze_min_duration, 2.0);
        assert_eq!(a.motion.motion_threshold, 30);
        assert_eq!(a.motion.motion_contour_area, 10);
        assert_eq!(a.motion.motion_frame_height, 100);
        assert_eq!(a.motion.motion_alpha, 0.01);
        assert!(!a.motion.no_motion_contrast);
        assert_eq!(a.motion.lightning_threshold, 0.8);
        assert_eq!(a.motion.motion_start_frames, 2);
        assert_eq!(a.motion.motion_end_frames, 15);
        assert_eq!(a.blur.blur_low, 15.0 / 255.0);
        assert_eq!(a.blur.blur_radius, 50);
        assert_eq!(a.blur.blur_block_pct, 80);
        assert_eq!(a.thumbnails.thumbnail_width, 320);
    }

    #[test]
    fn repeatable_zones_and_negative_values() {
        let cli = Cli::try_parse_from([
            "osprey",
            "analyze",
            "clip.mp4",
            "--zone",
            "door:0,0,10,0,10,10",
            "--zone",
            "yard:1,1,2,2,3,1",
            "--mask",
            "0,0,5,0,5,5",
            "--freeze-noise",
            "-50dB",
        ])
        .unwrap();
        let Command::Analyze(a) = cli.command else {
            panic!("not analyze: {cli:?}");
        };
        assert_eq!(a.motion.zones.len(), 2);
        assert_eq!(a.motion.masks, vec!["0,0,5,0,5,5"]);
        assert_eq!(a.freeze.freeze_noise, "-50dB");
    }

    #[test]
    fn global_flags_go_anywhere() {
        let cli = Cli::try_parse_from(["osprey", "devices", "-vv"]).unwrap();
        assert_eq!(cli.verbose, 2);
        assert!(Cli::try_parse_from(["osprey", "-q", "-v", "devices"]).is_err());
    }

    #[test]
    fn help_documents_exit_codes() {
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("Exit codes:"), "{help}");
    }
}
