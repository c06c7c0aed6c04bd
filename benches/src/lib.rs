//! osprey's benchmark harness, the engine of `osprey bench`: it makes its
//! own inputs, runs osprey and the tools people use today (ffmpeg,
//! GStreamer, DuckDB) on them side by side, runs alternating, and writes
//! `report.json` ([`report`]), `report.md` ([`markdown`]) and SVG plots
//! ([`plots`]) into one folder; [`compare`] sets two reports side by side.
//!
//! ```text
//! Options ─► run ─► workloads::{frames, aggregate, streams, live, video}
//!                     ├─ inputs (clips, tables, records; made once, kept)
//!                     └─ runner::alternate(case, [osprey-cpu, osprey-gpu, peers..])
//!                            └─ one Sample a run: wall, CPU, peak RSS (rusage)
//!          ─► Report (+ machine facts) ─► report.json, report.md, *.svg
//! ```
//!
//! - [`args`]: the command's flags, shared by `osprey bench` and the
//!   `osprey-bench` binary.
//! - [`machine`]: CPU, memory, OS, wgpu adapters and the peers' versions.
//! - [`peers`]: which peers exist; a missing one is skipped with a note.
//! - [`runner`]: alternating runs and their figures.
//! - [`rusage`]: CPU time and peak memory of a child or of this process.
//! - [`inputs`]: clips, raw frames, Parquet and NDJSON tables, records.
//! - [`kinesis`]: a Kinesis API client (also `kinesis_load`'s).
//! - [`workloads`]: what each workload measures.
//!
//! This crate never links GStreamer: the frame (kernel-only) and aggregation
//! workloads run in this process on the kernels, so the `osprey-bench`
//! binary measures them on a machine without GStreamer (a lent GPU
//! machine). Whatever needs GStreamer or the whole program runs the
//! `osprey` binary as a child process, as the peers run.

pub mod args;
pub mod compare;
pub mod error;
pub mod inputs;
pub mod kinesis;
pub mod machine;
pub mod markdown;
pub mod peers;
pub mod plots;
pub mod report;
pub mod runner;
pub mod rusage;
pub mod workloads;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use args::{BackendKind, BenchArgs, Options, Peer, Workload};
pub use error::{BenchError, Result};
pub use report::Report;

use osprey_kernels::gpu::GpuContext;

use crate::peers::Peers;
use crate::report::{Build, Measurement, Note, SCHEMA_VERSION};

/// Where the harness says how far it is; the binaries draw a progress bar.
pub trait Progress: Sync {
    /// A run is about to start: `what` names the workload, case, subject
    /// and run.
    fn step(&self, what: &str);
}

/// No progress shown.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {
    fn step(&self, _what: &str) {}
}

/// What a run left behind.
#[derive(Debug)]
pub struct Outcome {
    /// The report, as written to `report.json`.
    pub report: Report,
    /// The files written: `report.json`, `report.md`, the SVG plots.
    pub files: Vec<PathBuf>,
}

/// What every workload shares while it runs.
pub struct Ctx<'a> {
    /// The options.
    pub options: &'a Options,
    /// Progress.
    pub progress: &'a dyn Progress,
    /// Inputs, made once and kept between runs (`OUT/inputs`).
    pub inputs: PathBuf,
    /// Scratch space for outputs, removed at the end (`OUT/scratch`).
    pub scratch: PathBuf,
    /// The peers found.
    pub peers: Peers,
    /// The GPU, when `--backend` asks for it and wgpu finds an adapter.
    pub gpu: Option<Arc<GpuContext>>,
    /// Measurements so far.
    pub results: Vec<Measurement>,
    /// Notes so far.
    pub notes: Vec<Note>,
}

impl Ctx<'_> {
    /// Adds a note.
    pub fn note(&mut self, workload: Workload, subject: &str, text: impl Into<String>) {
        self.notes.push(Note {
            workload: workload.name().to_owned(),
            subject: subject.to_owned(),
            text: text.into(),
        });
    }

    /// Whether `peer` was asked for and found; a peer asked for and missing
    /// gets one note a workload.
    pub fn peer(&mut self, workload: Workload, peer: Peer) -> bool {
        if !self.options.against.contains(&peer) {
            return false;
        }
        if self.peers.version(peer).is_some() {
            return true;
        }
        let text = format!("{} not found ({}): skipped", peer.name(), peer.probe());
        if !self
            .notes
            .iter()
            .any(|n| n.workload == workload.name() && n.text == text)
        {
            self.note(workload, peer.name(), text);
        }
        false
    }

    /// The osprey binary for work that needs it, or a note that the case
    /// `what` is skipped.
    pub fn osprey(&mut self, workload: Workload, what: &str) -> Option<PathBuf> {
        match &self.options.osprey {
            Some(path) => Some(path.clone()),
            None => {
                self.note(
                    workload,
                    "osprey",
                    format!("{what} needs the osprey binary (--osprey PATH): skipped"),
                );
                None
            }
        }
    }

    /// Whether the GPU backend is asked for and usable; a missing adapter
    /// gets one note.
    pub fn gpu(&mut self, workload: Workload) -> Option<Arc<GpuContext>> {
        if !self.options.backends.contains(&BackendKind::Gpu) {
            return None;
        }
        if self.gpu.is_none()
            && !self
                .notes
                .iter()
                .any(|n| n.workload == workload.name() && n.subject == "osprey-gpu")
        {
            self.note(
                workload,
                "osprey-gpu",
                "no GPU adapter found by wgpu: the GPU backend is skipped",
            );
        }
        self.gpu.clone()
    }

    /// Whether the GPU is a software one (lavapipe), which runs shaders on
    /// the CPU: workloads then run it on a few cases only.
    pub fn gpu_is_software(&self) -> bool {
        self.gpu.as_ref().is_some_and(|g| g.summary().is_cpu())
    }
}

/// The build of this program.
pub fn build() -> Build {
    Build {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        profile: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
        .to_owned(),
        commit: option_env!("OSPREY_COMMIT")
            .filter(|c| !c.is_empty())
            .map(str::to_owned),
    }
}

/// Now, as RFC 3339 in UTC.
fn now() -> String {
    chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now())
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn create_dir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|e| BenchError::io("create", path, e))
}

/// Runs the workloads of `options`, then writes the report, its tables and
/// plots into `options.out`.
///
/// # Errors
/// [`BenchError::Usage`] for options that make no sense; an input that
/// cannot be made, an osprey run that fails, an output that cannot be
/// written. A peer that is missing is a note, not an error.
pub fn run(options: &Options, progress: &dyn Progress) -> Result<Outcome> {
    options.check()?;
    let started_at = now();
    create_dir(&options.out)?;
    let inputs = options.out.join("inputs");
    let scratch = options.out.join("scratch");
    create_dir(&inputs)?;
    create_dir(&scratch)?;
    let peers = Peers::probe();
    let machine = machine::facts(&peers);
    let gpu = if options.backends.contains(&BackendKind::Gpu) {
        GpuContext::new().ok().map(Arc::new)
    } else {
        None
    };
    let mut ctx = Ctx {
        options,
        progress,
        inputs,
        scratch: scratch.clone(),
        peers,
        gpu,
        results: Vec::new(),
        notes: Vec::new(),
    };
    for &workload in &options.workloads {
        workloads::run(workload, &mut ctx)?;
    }
    let _ = std::fs::remove_dir_all(&scratch);
    let report = Report {
        schema_version: SCHEMA_VERSION,
        osprey: build(),
        command: options.command.clone(),
        started_at,
        finished_at: now(),
        quick: options.quick,
        runs: options.runs,
        workloads: options
            .workloads
            .iter()
            .map(|w| w.name().to_owned())
            .collect(),
        machine,
        results: ctx.results,
        notes: ctx.notes,
    };
    let files = write(&report, &options.out)?;
    Ok(Outcome { report, files })
}

/// Writes `report.json`, `report.md` and the plots of `report` into `dir`;
/// returns the files written.
///
/// # Errors
/// When a file cannot be written.
pub fn write(report: &Report, dir: &Path) -> Result<Vec<PathBuf>> {
    let json_path = dir.join("report.json");
    let json = serde_json::to_string_pretty(report).map_err(|e| BenchError::Report {
        path: json_path.clone(),
        reason: e.to_string(),
    })?;
    std::fs::write(&json_path, json + "\n").map_err(|e| BenchError::io("write", &json_path, e))?;
    let plots = plots::draw(report, dir)?;
    let md_path = dir.join("report.md");
    let names: Vec<String> = plots
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    std::fs::write(&md_path, markdown::render(report, &names))
        .map_err(|e| BenchError::io("write", &md_path, e))?;
    let mut files = vec![json_path, md_path];
    files.extend(plots);
    Ok(files)
}

/// Reads a `report.json`.
///
/// # Errors
/// [`BenchError::Io`] when it cannot be read, [`BenchError::Report`] when
/// it is no report or of another schema version.
pub fn read_report(path: &Path) -> Result<Report> {
    let text = std::fs::read_to_string(path).map_err(|e| BenchError::io("read", path, e))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| BenchError::Report {
        path: path.to_owned(),
        reason: format!("not JSON: {e}"),
    })?;
    let version = value
        .get("schema_version")
        .and_then(serde_json::Value::as_u64);
    if version != Some(u64::from(SCHEMA_VERSION)) {
        return Err(BenchError::Report {
            path: path.to_owned(),
            reason: match version {
                Some(v) => format!("schema version {v}, this osprey reads {SCHEMA_VERSION}"),
                None => "no schema_version: not an osprey bench report".to_owned(),
            },
        });
    }
    serde_json::from_value(value).map_err(|e| BenchError::Report {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}
