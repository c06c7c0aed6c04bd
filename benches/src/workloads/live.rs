//! Live cameras: the most live test cameras one `osprey analyze` process
//! analyses in real time, on each backend.
//!
//! N live test patterns (`test:ball`, 720p at 25 frames a second; 160x96
//! with `--quick`) are analysed with every kernel for a fixed time, then
//! stopped with SIGTERM (a clean end). A source keeps up when its frame
//! records come to at least 90% of 25 a second over the run, its first
//! second (startup) left out. N doubles (1, 2, 4, 8) until a run does not
//! keep up; the report notes the largest N that did. The test patterns are
//! made in the process (no decode), so this measures analysis and the
//! pipeline's overhead, not H.264 decoding (`benches/live.sh`, kept,
//! measures RTSP cameras).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::Ctx;
use crate::args::{BackendKind, Workload};
use crate::error::{BenchError, Result};
use crate::report::Realtime;
use crate::runner::{Case, Contender, Sample, describe, tail};
use crate::rusage;
use crate::workloads::measure;

/// Frames a second of each test camera.
const FPS: u32 = 25;

/// Runs the live workload.
///
/// # Errors
/// An osprey run that fails to start or ends with an error.
pub fn run(ctx: &mut Ctx<'_>) -> Result<()> {
    let w = Workload::Live;
    let Some(osprey) = ctx.osprey(w, "the live workload") else {
        return Ok(());
    };
    let quick = ctx.options.quick;
    let (counts, (width, height), seconds): (&[u32], _, u64) = if quick {
        (&[1], (160, 96), 3)
    } else {
        (&[1, 2, 4, 8], (1280, 720), 12)
    };
    let mut backends = ctx.options.backends.clone();
    if ctx.gpu(w).is_none() || ctx.gpu_is_software() {
        backends.retain(|b| *b == BackendKind::Cpu);
    }
    let log = ctx.scratch.join("live.log");
    let out = ctx.scratch.join("live.ndjson");
    let mut largest: HashMap<&'static str, u32> = HashMap::new();
    // Backends that kept up at every count so far.
    let mut going = backends.clone();
    for &n in counts {
        if going.is_empty() {
            break;
        }
        let case = Case {
            workload: w.name(),
            name: format!("cameras/{n}/{width}x{height}@{FPS}"),
            input: format!(
                "{n} live test patterns (test:ball), {width}x{height} at {FPS} frames/s, every kernel, {seconds} s"
            ),
            unit: "frames",
            items: u64::from(n) * u64::from(FPS) * seconds,
        };
        let mut contenders: Vec<Contender<'_>> = going
            .iter()
            .map(|&b| {
                let (osprey, log, out) = (&osprey, &log, &out);
                Contender::new(b.subject(), move || {
                    live_run(
                        osprey,
                        b,
                        n,
                        (width, height),
                        Duration::from_secs(seconds),
                        out,
                        log,
                    )
                })
            })
            .collect();
        let before = ctx.results.len();
        measure(
            &mut ctx.results,
            ctx.options,
            ctx.progress,
            &case,
            &mut contenders,
        )?;
        drop(contenders);
        let kept: Vec<&str> = ctx.results[before..]
            .iter()
            .filter(|m| m.realtime.is_some_and(|r| r.keeps_up))
            .map(|m| m.subject.as_str())
            .collect();
        going.retain(|b| kept.contains(&b.subject()));
        for b in &going {
            largest.insert(b.subject(), n);
        }
    }
    for b in &backends {
        let text = match largest.get(b.subject()) {
            Some(n) => format!(
                "largest real-time camera count: {n} ({width}x{height} at {FPS} frames/s, every kernel)"
            ),
            None => format!(
                "no real-time camera count: one {width}x{height} camera at {FPS} frames/s did not keep up"
            ),
        };
        ctx.note(w, b.subject(), text);
    }
    Ok(())
}

fn live_run(
    osprey: &Path,
    backend: BackendKind,
    sources: u32,
    (width, height): (u32, u32),
    run_for: Duration,
    out: &Path,
    log: &Path,
) -> Result<Sample> {
    let err = File::create(log).map_err(|e| BenchError::io("create", log, e))?;
    let mut cmd = Command::new(osprey);
    cmd.args([
        "-q",
        "analyze",
        "--kernels",
        "all",
        "--backend",
        backend.name(),
        "--output",
    ])
    .arg(out);
    for i in 0..sources {
        cmd.arg(format!(
            "cam{i}=test:ball?width={width}&height={height}&fps={FPS}"
        ));
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(err);
    let t0 = Instant::now();
    let mut child = cmd.spawn().map_err(|e| BenchError::Process {
        command: describe(&cmd),
        reason: format!("cannot start: {e}"),
    })?;
    let watch = rusage::Watch::start(&child);
    while t0.elapsed() < run_for {
        if child.try_wait().ok().flatten().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = rusage::terminate(&child);
    let usage = rusage::wait(&mut child).map_err(|e| BenchError::Process {
        command: describe(&cmd),
        reason: format!("cannot wait for it: {e}"),
    })?;
    let wall = t0.elapsed();
    let peak = watch.finish();
    if usage.code != Some(0) {
        return Err(BenchError::Process {
            command: describe(&cmd),
            reason: format!(
                "exit {:?}, signal {:?} ({})",
                usage.code,
                usage.signal,
                tail(log)
            ),
        });
    }
    let frames = frames_by_source(out)?;
    let counted = wall.as_secs_f64() - 1.0;
    let slowest = (0..sources)
        .map(|i| frames.get(&format!("cam{i}")).copied().unwrap_or(0))
        .min()
        .unwrap_or(0);
    let slowest_fps = slowest.saturating_sub(u64::from(FPS)) as f64 / counted.max(0.1);
    let mut sample = Sample::of(wall, usage.cpu, peak);
    sample.items = Some(frames.values().sum());
    sample.realtime = Some(Realtime {
        sources,
        target_fps: f64::from(FPS),
        slowest_fps,
        keeps_up: slowest_fps >= 0.9 * f64::from(FPS),
    });
    Ok(sample)
}

/// Frame records by source in an NDJSON file of `osprey analyze`.
fn frames_by_source(path: &Path) -> Result<HashMap<String, u64>> {
    let file = File::open(path).map_err(|e| BenchError::io("open", path, e))?;
    let mut out = HashMap::new();
    for line in BufReader::new(file).lines() {
        let line = line.map_err(|e| BenchError::io("read", path, e))?;
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if v["kind"] == "frame"
            && let Some(source) = v["source"].as_str()
        {
            *out.entry(source.to_owned()).or_insert(0) += 1;
        }
    }
    Ok(out)
}
