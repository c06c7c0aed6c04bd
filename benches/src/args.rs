//! The flags of `osprey bench` (and of the `osprey-bench` binary), and the
//! checked options they become.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::error::{BenchError, Result};

/// One workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    /// Frame analysis: each kernel and all of them, kernel-only per backend
    /// and end to end against GStreamer decode-only and ffmpeg's filters
    Frames,
    /// Live cameras: the most real-time test cameras one process keeps up with
    Live,
    /// Window aggregation at 1, 10k and 1M keys and with percentiles, against DuckDB
    Aggregate,
    /// Stream put and get, and put-to-read latency
    Streams,
    /// Video streams: recording, clips and images
    Video,
}

impl Workload {
    /// Every workload, in the order `all` runs them.
    pub const ALL: [Workload; 5] = [
        Workload::Frames,
        Workload::Aggregate,
        Workload::Streams,
        Workload::Live,
        Workload::Video,
    ];

    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Frames => "frames",
            Workload::Live => "live",
            Workload::Aggregate => "aggregate",
            Workload::Streams => "streams",
            Workload::Video => "video",
        }
    }
}

/// What to run: one workload or all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WorkloadArg {
    /// Frame analysis
    Frames,
    /// Live cameras
    Live,
    /// Window aggregation
    Aggregate,
    /// Stream put, get and latency
    Streams,
    /// Video recording, clips and images
    Video,
    /// Every workload
    All,
}

/// A compute backend of osprey.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendKind {
    /// The CPU twins
    Cpu,
    /// The GPU (wgpu) kernels, when wgpu finds an adapter
    Gpu,
}

impl BackendKind {
    /// Its name, as `--backend` takes it.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Cpu => "cpu",
            BackendKind::Gpu => "gpu",
        }
    }

    /// The subject name of osprey on this backend, e.g. `osprey-cpu`.
    pub fn subject(self) -> &'static str {
        match self {
            BackendKind::Cpu => "osprey-cpu",
            BackendKind::Gpu => "osprey-gpu",
        }
    }
}

/// A tool osprey is compared against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Peer {
    /// ffmpeg's filters (signalstats, scdet, blackdetect, freezedetect, blurdetect)
    Ffmpeg,
    /// GStreamer's decode-only pipeline (gst-launch-1.0)
    Gstreamer,
    /// DuckDB (python3's duckdb module)
    Duckdb,
}

impl Peer {
    /// Every peer.
    pub const ALL: [Peer; 3] = [Peer::Ffmpeg, Peer::Gstreamer, Peer::Duckdb];

    /// Its name, as `--against` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Peer::Ffmpeg => "ffmpeg",
            Peer::Gstreamer => "gstreamer",
            Peer::Duckdb => "duckdb",
        }
    }

    /// How it is looked for, in words.
    pub fn probe(self) -> &'static str {
        match self {
            Peer::Ffmpeg => "`ffmpeg -version` did not run",
            Peer::Gstreamer => "`gst-launch-1.0 --version` did not run",
            Peer::Duckdb => "python3 cannot import duckdb",
        }
    }
}

/// The flags of a bench run.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// The workload to run
    #[arg(value_enum, default_value_t = WorkloadArg::All)]
    pub workload: WorkloadArg,

    /// osprey's backends to measure, comma-separated (gpu is skipped with a
    /// note when wgpu finds no adapter)
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [BackendKind::Cpu, BackendKind::Gpu], value_name = "LIST")]
    pub backend: Vec<BackendKind>,

    /// Tools to compare against, comma-separated (a missing one is skipped
    /// with a note)
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = Peer::ALL, value_name = "LIST")]
    pub against: Vec<Peer>,

    /// Tiny inputs and one run each: seconds, to check that everything works
    #[arg(long)]
    pub quick: bool,

    /// Runs of each subject on each case, alternating [default: 3, 1 with --quick]
    #[arg(long, value_name = "N")]
    pub runs: Option<u32>,

    /// Folder for report.json, report.md, the plots and the inputs
    /// (kept there, so that a second run reuses them)
    #[arg(long, default_value = "osprey-bench", value_name = "DIR")]
    pub out: PathBuf,
}

/// A bench run, checked.
#[derive(Debug, Clone)]
pub struct Options {
    /// Workloads, in order.
    pub workloads: Vec<Workload>,
    /// osprey's backends.
    pub backends: Vec<BackendKind>,
    /// Peers asked for.
    pub against: Vec<Peer>,
    /// Tiny inputs.
    pub quick: bool,
    /// Runs of each subject on each case.
    pub runs: u32,
    /// The output folder.
    pub out: PathBuf,
    /// The osprey binary, for the work that runs it as a child process
    /// (end to end analysis, streams, live, video); `None` skips that work
    /// with a note.
    pub osprey: Option<PathBuf>,
    /// The command line, for the report.
    pub command: String,
}

/// The most runs `--runs` takes.
const MAX_RUNS: u32 = 100;

impl Options {
    /// The options of `args`, the osprey binary `osprey`, and the command
    /// line `command`.
    pub fn from_args(args: &BenchArgs, osprey: Option<PathBuf>, command: String) -> Options {
        let workloads = match args.workload {
            WorkloadArg::Frames => vec![Workload::Frames],
            WorkloadArg::Live => vec![Workload::Live],
            WorkloadArg::Aggregate => vec![Workload::Aggregate],
            WorkloadArg::Streams => vec![Workload::Streams],
            WorkloadArg::Video => vec![Workload::Video],
            WorkloadArg::All => Workload::ALL.to_vec(),
        };
        let mut backends = args.backend.clone();
        backends.dedup();
        let mut against = args.against.clone();
        against.dedup();
        Options {
            workloads,
            backends,
            against,
            quick: args.quick,
            runs: args.runs.unwrap_or(if args.quick { 1 } else { 3 }),
            out: args.out.clone(),
            osprey,
            command,
        }
    }

    /// Checks the options.
    ///
    /// # Errors
    /// [`BenchError::Usage`] for no backend, or runs out of 1 to 100.
    pub fn check(&self) -> Result<()> {
        if self.backends.is_empty() {
            return Err(BenchError::Usage("--backend needs cpu, gpu or both".into()));
        }
        if !(1..=MAX_RUNS).contains(&self.runs) {
            return Err(BenchError::Usage(format!(
                "--runs must be between 1 and {MAX_RUNS}, not {}",
                self.runs
            )));
        }
        Ok(())
    }
}
