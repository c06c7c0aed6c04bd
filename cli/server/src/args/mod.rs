//! The flags of the commands a server runs, as clap parses them: `osprey
//! analyze` ([`AnalyzeArgs`]: a camera is a source with these options),
//! `osprey aggregate` ([`crate::aggregate::args::AggregateArgs`]: a query)
//! and `osprey deliver` ([`stream::DeliverArgs`]: a delivery). A server's
//! config writes its cameras, queries and deliveries in these flags, so
//! they live here, beside the engines that take them; the binary adds them
//! to its command line.
//!
//! Only syntax is checked here (numbers are numbers, enums are known
//! values); each engine turns its arguments into a checked config before
//! it does any work. Doc comments are the help text.

pub mod live;
pub mod record;
pub mod stream;
pub mod suite;

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, FromArgMatches, ValueEnum};
use osprey_kernels::BackendChoice;
use osprey_kernels::metrics::scene::DEFAULT_THRESHOLD;

use suite::{BlackArgs, BlurArgs, FreezeArgs, MotionArgs, ThumbnailArgs};

/// One command's flags parsed as clap parses them on osprey's command line:
/// `argv` starts with the command's name (`["aggregate", "stream:in",
/// ...]`).
///
/// # Errors
/// clap's error for flags the command does not take.
pub fn parse<A: Args + FromArgMatches>(
    argv: impl IntoIterator<Item = impl Into<OsString> + Clone>,
) -> Result<A, clap::Error> {
    let command = A::augment_args(clap::Command::new("osprey"));
    A::from_arg_matches(&command.try_get_matches_from(argv)?)
}

/// Arguments of `osprey analyze`.
#[derive(Debug, Clone, Args)]
pub struct AnalyzeArgs {
    /// Sources: video file paths or URIs (file://, http://, rtsp://,
    /// v4l2:///dev/video0, test:ball), each optionally named, NAME=URI (the
    /// records' source; default: a file's stem, or the URI without its
    /// password)
    #[arg(value_name = "SRC", required_unless_present = "sources")]
    pub inputs: Vec<String>,

    /// Compute backend: auto takes a GPU adapter when wgpu finds one, else the CPU
    #[arg(long, value_enum, default_value_t = BackendArg::Auto)]
    pub backend: BackendArg,

    /// Kernels to run, comma-separated, or all: stats (ffmpeg's signalstats),
    /// scene (ffmpeg's scdet), motion (Frigate's motion detector), black
    /// (ffmpeg's blackdetect), freeze (ffmpeg's freezedetect), blur (ffmpeg's
    /// blurdetect and the variance of the Laplacian)
    #[arg(long, default_value = "all", value_name = "LIST")]
    pub kernels: String,

    /// Where records go: a file path, - for stdout, stream:NAME for a
    /// stream of the store in --data-dir (one record a line, the source as
    /// partition key; create it first with `osprey stream create NAME`), or
    /// an HTTP webhook, http://HOST[:PORT][/PATH] (each chunk's records one
    /// POST of NDJSON, retried with backoff for up to 300 s)
    #[arg(short, long, default_value = "-", value_name = "PATH")]
    pub output: PathBuf,

    /// The store's data directory, for --output stream:NAME and --record
    #[arg(long, value_name = "DIR", default_value = osprey_ingest::store::DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,

    /// Scene score (0 to 100) at or above which a frame is a cut, as scdet's threshold
    #[arg(long, default_value_t = DEFAULT_THRESHOLD, value_name = "SCORE")]
    pub scene_threshold: f64,

    /// Frames decoded and analysed together (1 to 256; memory grows with it)
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub chunk_frames: usize,

    /// Name written as each record's source, for one SRC [default: the
    /// file's stem, or the URI without its password]
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,

    /// blackdetect's options.
    #[command(flatten)]
    pub black: BlackArgs,

    /// freezedetect's options.
    #[command(flatten)]
    pub freeze: FreezeArgs,

    /// The motion detector's options.
    #[command(flatten)]
    pub motion: MotionArgs,

    /// blurdetect's options.
    #[command(flatten)]
    pub blur: BlurArgs,

    /// Thumbnail options.
    #[command(flatten)]
    pub thumbnails: ThumbnailArgs,

    /// Live and many-source options.
    #[command(flatten)]
    pub live: live::LiveArgs,

    /// Recording options.
    #[command(flatten)]
    pub recording: record::RecordArgs,
}

/// `--backend` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    /// A GPU adapter when wgpu finds one, else the CPU
    Auto,
    /// A GPU adapter, or exit code 4
    Gpu,
    /// The CPU twins; wgpu is never touched
    Cpu,
}

impl From<BackendArg> for BackendChoice {
    fn from(arg: BackendArg) -> BackendChoice {
        match arg {
            BackendArg::Auto => BackendChoice::Auto,
            BackendArg::Gpu => BackendChoice::Gpu,
            BackendArg::Cpu => BackendChoice::Cpu,
        }
    }
}
