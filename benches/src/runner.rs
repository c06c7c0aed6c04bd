//! Alternating runs of the subjects of one case, and their figures.
//!
//! Each run of a case runs every subject once, starting with a different
//! one each time, so that a machine that slows down (other builds, heat)
//! slows every subject alike. A subject run as a process is timed from its
//! start to `wait4`, which also gives its CPU time and peak RSS; one run
//! in this process takes the process's CPU time and peak RSS around it.

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{BenchError, Result};
use crate::report::{Latency, Measurement, Ratio, Realtime, RunFigures, Spread, Stages};
use crate::{Progress, rusage};

/// One run's figures, and what else it measured.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Wall time, CPU time, peak RSS.
    pub figures: RunFigures,
    /// The GPU's stages, milliseconds a frame.
    pub stages: Option<Stages>,
    /// Latencies of the run's items.
    pub latency: Option<Latency>,
    /// Whether live sources kept up.
    pub realtime: Option<Realtime>,
    /// Items the run handled, when it is not the case's `items` (live).
    pub items: Option<u64>,
}

impl Sample {
    /// A sample of figures only.
    pub fn of(wall: Duration, cpu: Duration, peak_rss_bytes: u64) -> Sample {
        Sample {
            figures: RunFigures {
                wall_s: wall.as_secs_f64(),
                cpu_s: cpu.as_secs_f64(),
                peak_rss_bytes,
                items: 0,
            },
            stages: None,
            latency: None,
            realtime: None,
            items: None,
        }
    }
}

/// One subject of a case: its name and how to run it once.
pub struct Contender<'a> {
    /// Its name, e.g. `osprey-cpu`.
    pub subject: String,
    run: Box<dyn FnMut() -> Result<Sample> + 'a>,
}

impl<'a> Contender<'a> {
    /// A subject that `run` runs once a call.
    pub fn new(subject: impl Into<String>, run: impl FnMut() -> Result<Sample> + 'a) -> Self {
        Contender {
            subject: subject.into(),
            run: Box::new(run),
        }
    }
}

/// What a case measures, for the report.
#[derive(Debug, Clone)]
pub struct Case {
    /// The workload.
    pub workload: &'static str,
    /// Its name, e.g. `kernels/all/720p-synthetic`.
    pub name: String,
    /// The input, in words.
    pub input: String,
    /// What `items` counts.
    pub unit: &'static str,
    /// Items a run handles.
    pub items: u64,
}

/// Runs each contender `runs` times, alternating, and returns one
/// measurement each, with speedups of osprey's subjects against the others.
///
/// # Errors
/// The first run that fails.
pub fn alternate(
    case: &Case,
    contenders: &mut [Contender<'_>],
    runs: u32,
    progress: &dyn Progress,
) -> Result<Vec<Measurement>> {
    let n = contenders.len();
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); n];
    for run in 0..runs as usize {
        for k in 0..n {
            let i = (run + k) % n;
            let c = &mut contenders[i];
            progress.step(&format!(
                "{} {} {} (run {}/{runs})",
                case.workload,
                case.name,
                c.subject,
                run + 1
            ));
            samples[i].push((c.run)()?);
        }
    }
    let mut out: Vec<Measurement> = contenders
        .iter()
        .zip(samples)
        .map(|(c, s)| measurement(case, &c.subject, s))
        .collect();
    let walls: Vec<(String, f64)> = out
        .iter()
        .map(|m| (m.subject.clone(), m.wall_s.median))
        .collect();
    for m in &mut out {
        if !m.subject.starts_with("osprey") {
            continue;
        }
        m.ratios = walls
            .iter()
            .filter(|(s, _)| *s != m.subject)
            .map(|(s, wall)| Ratio {
                to: s.clone(),
                speedup: wall / m.wall_s.median,
            })
            .collect();
    }
    Ok(out)
}

fn spread(values: impl IntoIterator<Item = f64>) -> Spread {
    Spread::of(values).unwrap_or(Spread {
        median: 0.0,
        min: 0.0,
        max: 0.0,
    })
}

fn measurement(case: &Case, subject: &str, samples: Vec<Sample>) -> Measurement {
    let runs: Vec<RunFigures> = samples
        .iter()
        .map(|s| RunFigures {
            items: s.items.unwrap_or(case.items),
            ..s.figures
        })
        .collect();
    let stages: Vec<Stages> = samples.iter().filter_map(|s| s.stages).collect();
    let stages = (!stages.is_empty()).then(|| Stages {
        upload_ms: spread(stages.iter().map(|s| s.upload_ms)).median,
        dispatch_ms: spread(stages.iter().map(|s| s.dispatch_ms)).median,
        readback_ms: spread(stages.iter().map(|s| s.readback_ms)).median,
    });
    // The latencies of the run with the median wall time.
    let wall = spread(runs.iter().map(|r| r.wall_s)).median;
    let latency = samples
        .iter()
        .filter(|s| s.latency.is_some())
        .min_by(|a, b| {
            (a.figures.wall_s - wall)
                .abs()
                .total_cmp(&(b.figures.wall_s - wall).abs())
        })
        .and_then(|s| s.latency.clone());
    // Live sources: the worst run decides.
    let realtime = samples
        .iter()
        .filter_map(|s| s.realtime)
        .reduce(|a, b| Realtime {
            slowest_fps: a.slowest_fps.min(b.slowest_fps),
            keeps_up: a.keeps_up && b.keeps_up,
            ..a
        });
    Measurement {
        workload: case.workload.to_owned(),
        case: case.name.clone(),
        subject: subject.to_owned(),
        input: case.input.clone(),
        unit: case.unit.to_owned(),
        items: case.items,
        wall_s: spread(runs.iter().map(|r| r.wall_s)),
        cpu_s: spread(runs.iter().map(|r| r.cpu_s)),
        peak_rss_bytes: spread(runs.iter().map(|r| r.peak_rss_bytes as f64)),
        per_second: spread(runs.iter().map(|r| r.items as f64 / r.wall_s.max(1e-9))),
        runs,
        stages,
        latency,
        realtime,
        ratios: Vec::new(),
    }
}

/// Runs `work` in this process and times it: wall time, the process's CPU
/// time and its peak RSS (reset first) over the call. `work` returns the
/// GPU's stages when it has them.
///
/// # Errors
/// Those of `work`.
pub fn in_process(work: impl FnOnce() -> Result<Option<Stages>>) -> Result<Sample> {
    rusage::reset_peak_rss();
    let cpu0 = rusage::process_cpu();
    let t0 = Instant::now();
    let stages = work()?;
    let wall = t0.elapsed();
    let cpu = rusage::process_cpu().saturating_sub(cpu0);
    let mut sample = Sample::of(wall, cpu, rusage::peak_rss());
    sample.stages = stages;
    Ok(sample)
}

/// `cmd`'s program and first arguments, for errors.
pub fn describe(cmd: &Command) -> String {
    let mut words = vec![cmd.get_program().to_string_lossy().into_owned()];
    words.extend(
        cmd.get_args()
            .take(3)
            .map(|a| a.to_string_lossy().into_owned()),
    );
    words.join(" ")
}

/// The last lines of a log file, for errors.
pub fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(4)..].join(" / ")
}

/// Runs `cmd` as a child process to its end and times it: wall time from
/// spawn to `wait4`, the child's CPU time (`wait4`) and peak RSS
/// ([`rusage::Watch`]). Its stdin is
/// empty, its stdout goes to `stdout` (or nowhere), its stderr to `log`.
///
/// # Errors
/// [`BenchError::Process`] when it cannot start or does not exit 0.
pub fn child(cmd: &mut Command, stdout: Option<File>, log: &Path) -> Result<Sample> {
    let err = File::create(log).map_err(|e| BenchError::io("create", log, e))?;
    cmd.stdin(Stdio::null())
        .stdout(stdout.map_or_else(Stdio::null, Stdio::from))
        .stderr(err);
    let t0 = Instant::now();
    let mut proc = cmd.spawn().map_err(|e| BenchError::Process {
        command: describe(cmd),
        reason: format!("cannot start: {e}"),
    })?;
    let watch = rusage::Watch::start(&proc);
    let usage = rusage::wait(&mut proc).map_err(|e| BenchError::Process {
        command: describe(cmd),
        reason: format!("cannot wait for it: {e}"),
    })?;
    let wall = t0.elapsed();
    let peak = watch.finish();
    if usage.code != Some(0) {
        return Err(BenchError::Process {
            command: describe(cmd),
            reason: format!(
                "{} ({})",
                match (usage.code, usage.signal) {
                    (Some(c), _) => format!("exit code {c}"),
                    (None, Some(s)) => format!("killed by signal {s}"),
                    _ => "ended oddly".to_owned(),
                },
                tail(log)
            ),
        });
    }
    Ok(Sample::of(wall, usage.cpu, peak))
}

/// Runs `cmd` to its end, untimed (making an input, setting up a case).
///
/// # Errors
/// [`BenchError::Process`] when it cannot start or does not exit 0.
pub fn setup(cmd: &mut Command, log: &Path) -> Result<()> {
    child(cmd, None, log).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Silent;

    #[test]
    fn runs_alternate_and_ratios_compare_median_walls() {
        let order = std::cell::RefCell::new(Vec::new());
        let case = Case {
            workload: "frames",
            name: "t".into(),
            input: "none".into(),
            unit: "frames",
            items: 10,
        };
        let mut fast_walls = [0.1, 0.3, 0.2].into_iter();
        let mut slow_walls = [0.4, 0.4, 0.4].into_iter();
        let mut contenders = [
            Contender::new("osprey-cpu", || {
                order.borrow_mut().push("o");
                let w = fast_walls.next().expect("three runs");
                Ok(Sample::of(Duration::from_secs_f64(w), Duration::ZERO, 1))
            }),
            Contender::new("ffmpeg", || {
                order.borrow_mut().push("f");
                let w = slow_walls.next().expect("three runs");
                Ok(Sample::of(Duration::from_secs_f64(w), Duration::ZERO, 1))
            }),
        ];
        let m = alternate(&case, &mut contenders, 3, &Silent).expect("runs");
        assert_eq!(*order.borrow(), ["o", "f", "f", "o", "o", "f"]);
        assert_eq!(m[0].runs.len(), 3);
        assert!((m[0].wall_s.median - 0.2).abs() < 1e-9);
        assert!((m[0].per_second.max - 100.0).abs() < 1e-6);
        assert_eq!(m[0].ratios.len(), 1);
        assert!((m[0].ratios[0].speedup - 2.0).abs() < 1e-9);
        assert!(m[1].ratios.is_empty());
    }

    #[test]
    fn a_child_is_timed_and_its_failure_named() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("log");
        let s = child(Command::new("sleep").arg("0.2"), None, &log).expect("sleep runs");
        assert!(s.figures.wall_s >= 0.2, "{s:?}");
        assert!(s.figures.peak_rss_bytes > 0);
        let err = child(
            Command::new("sh").args(["-c", "echo broken >&2; exit 3"]),
            None,
            &log,
        )
        .expect_err("exit 3");
        let text = err.to_string();
        assert!(
            text.contains("exit code 3") && text.contains("broken"),
            "{text}"
        );
    }
}
