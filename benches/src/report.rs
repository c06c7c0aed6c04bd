//! The report of one `osprey bench` run: what `report.json` holds.
//!
//! One schema for every machine, so that two reports can be compared
//! (`osprey bench compare`). [`SCHEMA_VERSION`] grows when a field changes
//! meaning or goes; new optional fields do not change it.
//!
//! ```text
//! Report
//! ├─ schema_version, osprey { version, profile, commit }, command, started_at, finished_at,
//! │  quick, runs, workloads
//! ├─ machine { cpu_model, logical_cores, memory_bytes, os, kernel, load_average,
//! │            adapters [{ name, backend, device_type, driver, driver_info }],
//! │            gstreamer, ffmpeg, duckdb }          (a tool's version, or null when missing)
//! ├─ results [Measurement]
//! │    workload   "frames" | "aggregate" | "streams" | "live" | "video"
//! │    case       what was measured, e.g. "kernels/all/1080p-synthetic"
//! │    subject    who did it: "osprey-cpu", "osprey-gpu", "ffmpeg", "gstreamer-decode", "duckdb"
//! │    input      the input, in words
//! │    unit       what `items` counts: "frames", "rows", "records", "sources"
//! │    items      items one run is given (frames offered, for live)
//! │    runs       [{ wall_s, cpu_s, peak_rss_bytes, items }], one a run, in run order
//! │               (items: what the run handled; for live, the frames analysed)
//! │    wall_s, cpu_s, peak_rss_bytes, per_second   { median, min, max } over the runs
//! │    stages     GPU only: { upload_ms, dispatch_ms, readback_ms } a frame (median)
//! │    latency    { what, samples, p50_ms, p90_ms, p99_ms, max_ms, histogram [{ upto_ms, count }] }
//! │    realtime   live only: { sources, target_fps, slowest_fps, keeps_up }
//! │    ratios     [{ to, speedup }]: `to`'s median wall time over this one's, same case
//! └─ notes [{ workload, subject, text }]: peers skipped, cases left out, and why
//! ```
//!
//! Times are seconds (`_s`) or milliseconds (`_ms`), sizes bytes. CPU time
//! is user plus system time: of the child process (from `wait4`) for a
//! subject run as a process, of the whole bench process during the run for
//! one run in process. Peak RSS: the child's `VmHWM` read every 5 ms while
//! it runs, or the bench process's `VmHWM`, reset before the run (so it
//! includes the inputs the process holds, frames or nothing).

use serde::{Deserialize, Serialize};

/// The version of the report's schema; see the module docs.
pub const SCHEMA_VERSION: u32 = 1;

/// One `osprey bench` run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`] of the program that wrote it.
    pub schema_version: u32,
    /// The osprey build that ran.
    pub osprey: Build,
    /// The command line, as run.
    pub command: String,
    /// When the run started (RFC 3339, UTC).
    pub started_at: String,
    /// When it finished (RFC 3339, UTC).
    pub finished_at: String,
    /// Tiny inputs (`--quick`).
    pub quick: bool,
    /// Runs of each subject (`--runs`).
    pub runs: u32,
    /// The workloads run, in order.
    pub workloads: Vec<String>,
    /// The machine it ran on.
    pub machine: Machine,
    /// One entry a case and subject.
    pub results: Vec<Measurement>,
    /// Subjects skipped and cases left out, with why.
    pub notes: Vec<Note>,
}

/// An osprey build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Build {
    /// The crate version.
    pub version: String,
    /// `release` or `debug`.
    pub profile: String,
    /// The git commit it was built from, when known.
    pub commit: Option<String>,
}

/// What the report says about the machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// The CPU's model name.
    pub cpu_model: String,
    /// Logical cores the process may use.
    pub logical_cores: u32,
    /// Physical memory.
    pub memory_bytes: u64,
    /// The operating system (`PRETTY_NAME` of os-release).
    pub os: String,
    /// The kernel release.
    pub kernel: String,
    /// The 1, 5 and 15 minute load averages when the run started.
    pub load_average: Option<[f64; 3]>,
    /// The GPU adapters wgpu sees.
    pub adapters: Vec<Adapter>,
    /// `gst-launch-1.0 --version`'s GStreamer version, when installed.
    pub gstreamer: Option<String>,
    /// `ffmpeg -version`'s version, when installed.
    pub ffmpeg: Option<String>,
    /// DuckDB's version as python3 imports it, when installed.
    pub duckdb: Option<String>,
}

/// One wgpu adapter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adapter {
    /// Its name, e.g. `NVIDIA H100`.
    pub name: String,
    /// The graphics API, e.g. `Vulkan`.
    pub backend: String,
    /// Discrete, integrated, virtual, cpu.
    pub device_type: String,
    /// The driver's name.
    pub driver: String,
    /// The driver's version details.
    pub driver_info: String,
}

/// The runs of one subject on one case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// The workload, e.g. `frames`.
    pub workload: String,
    /// What was measured, e.g. `kernels/all/1080p-synthetic`.
    pub case: String,
    /// Who did it, e.g. `osprey-cpu` or `ffmpeg`.
    pub subject: String,
    /// The input, in words.
    pub input: String,
    /// What `items` counts.
    pub unit: String,
    /// Items one run is given (for live, the frames the sources offer).
    pub items: u64,
    /// Each run's figures, in run order.
    pub runs: Vec<RunFigures>,
    /// Wall time of a run.
    pub wall_s: Spread,
    /// CPU time of a run.
    pub cpu_s: Spread,
    /// Peak resident memory of a run.
    pub peak_rss_bytes: Spread,
    /// Items a run handled a second of its wall time.
    pub per_second: Spread,
    /// The GPU's stages apart, when the subject is a GPU backend in process.
    pub stages: Option<Stages>,
    /// Latencies, for the workloads that measure them.
    pub latency: Option<Latency>,
    /// Whether live sources kept up (the live workload), over its runs.
    pub realtime: Option<Realtime>,
    /// Speed against the other subjects of the same case.
    pub ratios: Vec<Ratio>,
}

/// One run's figures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RunFigures {
    /// Wall time.
    pub wall_s: f64,
    /// User plus system CPU time.
    pub cpu_s: f64,
    /// Peak resident memory.
    pub peak_rss_bytes: u64,
    /// Items the run handled: the case's `items`, or for live the frames
    /// analysed.
    pub items: u64,
}

/// The median and range of one figure over the runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// The median (the mean of the middle two for an even count).
    pub median: f64,
    /// The smallest.
    pub min: f64,
    /// The largest.
    pub max: f64,
}

impl Spread {
    /// The spread of `values`; `None` when there are none.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Spread> {
        let mut v: Vec<f64> = values.into_iter().collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Spread {
            median,
            min: v[0],
            max: v[n - 1],
        })
    }
}

/// The GPU backend's stages, milliseconds a frame (the median over runs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stages {
    /// Packing planes into wgpu's staging memory.
    pub upload_ms: f64,
    /// Encoding, submitting and waiting for the GPU (the transfer included).
    pub dispatch_ms: f64,
    /// Mapping the results and copying them out.
    pub readback_ms: f64,
}

/// Latencies of one run's items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// What is timed, e.g. `put to read`.
    pub what: String,
    /// Items timed.
    pub samples: u64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
    /// Counts by upper bound, ascending.
    pub histogram: Vec<Bucket>,
}

/// Whether live sources kept up with their frame rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Realtime {
    /// Sources analysed at once.
    pub sources: u32,
    /// Frames a second each source sends.
    pub target_fps: f64,
    /// Frames a second of the slowest source, in the worst run.
    pub slowest_fps: f64,
    /// Whether every source kept up in every run (at least 90% of the
    /// target over the run, startup excluded).
    pub keeps_up: bool,
}

/// One bucket of a latency histogram.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// The bucket's upper bound (exclusive).
    pub upto_ms: f64,
    /// Items in it.
    pub count: u64,
}

/// This subject's speed against another of the same case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ratio {
    /// The other subject.
    pub to: String,
    /// Its median wall time over this subject's: above 1, this one is faster.
    pub speedup: f64,
}

/// Something the report leaves out, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    /// The workload concerned.
    pub workload: String,
    /// The subject concerned (a peer, a backend), or empty.
    pub subject: String,
    /// What happened, e.g. `ffmpeg not found on PATH: skipped`.
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_take_the_middle_of_sorted_values() {
        assert_eq!(Spread::of([]), None);
        let one = Spread::of([2.0]).expect("one value");
        assert_eq!((one.median, one.min, one.max), (2.0, 2.0, 2.0));
        let odd = Spread::of([3.0, 1.0, 2.0]).expect("values");
        assert_eq!((odd.median, odd.min, odd.max), (2.0, 1.0, 3.0));
        let even = Spread::of([4.0, 1.0, 2.0, 3.0]).expect("values");
        assert_eq!((even.median, even.min, even.max), (2.5, 1.0, 4.0));
    }
}
