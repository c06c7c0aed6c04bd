//! Many sources in one [`Runner`], supervised: files give the same bytes
//! as [`Analysis::run`], a source that cannot be reached is retried with
//! backoff until its retry time runs out, the stop flag ends everything
//! promptly with its events closed.

#![expect(
    clippy::unwrap_used,
    reason = "helpers of tests: a test fails loudly at the first surprise"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use osprey_kernels::{BackendChoice, Device, KernelSet};
use osprey_video::ClipSpec;
use osprey_video::VideoError;
use osprey_video::analysis::{Analysis, AnalysisOptions};
use osprey_video::live::{
    LiveOptions, LiveSource, RecordVolume, Runner, RunnerMessage, SourceTotals, Supervision,
};
use osprey_video::source::SourceSpec;
use serde_json::Value;

use crate::common::{PATIENCE, TestResult, clip, s};

/// Options with `kernels` only, small chunks.
pub fn options(kernels: &str) -> AnalysisOptions {
    let mut o = AnalysisOptions::default();
    o.backend.kernels = KernelSet::parse(kernels).unwrap();
    o.chunk_frames = 4;
    o
}

/// Short supervision for tests: stalls in 1.5 s, backoff 0.2 s to 1 s.
pub fn quick(retry_for: Option<Duration>) -> Supervision {
    Supervision {
        stall_timeout: Duration::from_millis(1500),
        retry_for,
        backoff_min: Duration::from_millis(200),
        backoff_max: Duration::from_secs(1),
    }
}

/// A source named `name` reading `uri`.
pub fn source(
    name: &str,
    uri: &str,
    analysis: AnalysisOptions,
    supervision: Supervision,
) -> LiveSource {
    LiveSource {
        name: name.into(),
        spec: SourceSpec::new(uri),
        analysis,
        supervision,
        live: LiveOptions::default(),
        volume: RecordVolume::All,
        record: None,
    }
}

/// A record and when it reached the caller.
#[derive(Debug)]
pub struct Arrived {
    /// When, on the monotonic clock.
    pub at: Instant,
    /// When, in Unix seconds.
    pub unix: f64,
    /// The record.
    pub value: Value,
}

/// What a runner said, per source.
#[derive(Debug, Default)]
pub struct Log {
    /// Every line's bytes, in order.
    pub raw: Vec<Vec<u8>>,
    /// Every record, parsed, with the time its message arrived.
    pub records: Vec<Vec<Arrived>>,
    /// `Opened` messages seen.
    pub opened: Vec<u32>,
    /// How each source ended.
    pub ended: Vec<Option<(Instant, Result<SourceTotals, VideoError>)>>,
    /// Frames the `Records` messages counted.
    pub frames: Vec<usize>,
}

impl Log {
    /// The frame indices of `source`'s frame records.
    pub fn frames_of(&self, source: usize) -> Vec<u64> {
        self.of(source, "frame", None)
            .iter()
            .map(|v| v["frame"].as_u64().unwrap())
            .collect()
    }

    /// The records of `source` of `kind` (and `type`, when given).
    pub fn of(&self, source: usize, kind: &str, kind_type: Option<&str>) -> Vec<&Value> {
        self.records[source]
            .iter()
            .map(|a| &a.value)
            .filter(|v| v["kind"] == kind && kind_type.is_none_or(|t| v["type"] == t))
            .collect()
    }
}

/// A runner pumped on its own thread, so that tests wait with timeouts.
pub struct Watch {
    messages: Receiver<(Instant, RunnerMessage)>,
    /// The runner's stop flag.
    pub stop: Arc<AtomicBool>,
    /// While set, nobody reads the runner: a caller that cannot keep up.
    pub pause: Arc<AtomicBool>,
    /// What came so far.
    pub log: Log,
}

impl Watch {
    /// Starts `sources` on the CPU device.
    pub fn start(sources: Vec<LiveSource>) -> Watch {
        Watch::start_on(sources, &Device::open(BackendChoice::Cpu).unwrap())
    }

    /// Starts `sources` with backends made from `device`.
    pub fn start_on(sources: Vec<LiveSource>, device: &Device) -> Watch {
        let n = sources.len();
        let stop = Arc::new(AtomicBool::new(false));
        let mut runner = Runner::start(sources, device, Arc::clone(&stop)).unwrap();
        let (tx, rx) = channel();
        let pause = Arc::new(AtomicBool::new(false));
        let paused = Arc::clone(&pause);
        std::thread::spawn(move || {
            loop {
                while paused.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(10));
                }
                let Some(m) = runner.next() else {
                    return;
                };
                if tx.send((Instant::now(), m)).is_err() {
                    return;
                }
            }
        });
        Watch {
            messages: rx,
            stop,
            pause,
            log: Log {
                raw: vec![Vec::new(); n],
                records: (0..n).map(|_| Vec::new()).collect(),
                opened: vec![0; n],
                ended: (0..n).map(|_| None).collect(),
                frames: vec![0; n],
            },
        }
    }

    /// Takes messages until `done` says so (true) or `timeout` passes
    /// (false); `None` for `done` waits for the runner's end.
    pub fn until(&mut self, timeout: Duration, mut done: impl FnMut(&Log) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if done(&self.log) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.messages.recv_timeout(left) {
                Ok((at, m)) => self.take(at, m),
                Err(RecvTimeoutError::Timeout) => return false,
                Err(RecvTimeoutError::Disconnected) => return done(&self.log),
            }
        }
    }

    /// Takes every message until the runner ends.
    pub fn wait_for_end(&mut self) {
        loop {
            match self.messages.recv_timeout(PATIENCE) {
                Ok((at, m)) => self.take(at, m),
                Err(RecvTimeoutError::Disconnected) => return,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("the runner did not end within {PATIENCE:?}")
                }
            }
        }
    }

    fn take(&mut self, at: Instant, message: RunnerMessage) {
        match message {
            RunnerMessage::Opened { source, .. } => self.log.opened[source] += 1,
            RunnerMessage::Records {
                source,
                lines,
                frames,
            } => {
                assert!(lines.is_empty() || lines.ends_with(b"\n"));
                for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                    let value: Value = serde_json::from_slice(line).unwrap();
                    self.log.records[source].push(Arrived {
                        at,
                        unix: osprey_video::wall_clock::now(),
                        value,
                    });
                }
                assert!(
                    self.log.ended[source].is_none(),
                    "records after the end of {source}"
                );
                self.log.raw[source].extend_from_slice(&lines);
                self.log.frames[source] += frames;
            }
            RunnerMessage::Ended { source, result } => {
                assert!(self.log.ended[source].is_none(), "{source} ended twice");
                self.log.ended[source] = Some((at, result));
            }
        }
    }
}

/// The NDJSON bytes `Analysis::run` writes for `input` on `device`, as the
/// CLI does.
fn analysis_bytes(
    device: &Device,
    input: &str,
    name: &str,
    options: AnalysisOptions,
) -> TestResult<Vec<u8>> {
    let backend = device.frame_backend(options.backend.clone())?;
    let mut out = Vec::new();
    Analysis::open(input, name, options)?
        .start(backend)
        .run(&mut |r| {
            serde_json::to_writer(&mut out, r).map_err(|e| VideoError::Internal(e.to_string()))?;
            out.push(b'\n');
            Ok::<(), VideoError>(())
        })?;
    Ok(out)
}

/// Keeps the lines of `bytes` that `volume` keeps.
fn filtered(bytes: &[u8], volume: RecordVolume) -> Vec<u8> {
    let mut out = Vec::new();
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        let v: Value = serde_json::from_slice(line).unwrap();
        if v["kind"] != "frame" || volume.keeps_frame(v["frame"].as_u64().unwrap()) {
            out.extend_from_slice(line);
        }
    }
    out
}

#[test]
fn files_through_a_runner_give_the_bytes_of_analysis_run() -> TestResult {
    let dir = tempfile::tempdir()?;
    let spec = |frames, cut_every| ClipSpec {
        width: 64,
        height: 48,
        fps: 10,
        frames,
        cut_every,
    };
    let a = clip(dir.path(), "a.mp4", &spec(30, 7))?;
    let b = clip(dir.path(), "b.mp4", &spec(45, 10))?;
    let opts = options("stats,scene,black,freeze");
    let cpu = Device::open(BackendChoice::Cpu)?;
    let expect_a = analysis_bytes(&cpu, s(&a), "a", opts.clone())?;
    let expect_b = analysis_bytes(&cpu, s(&b), "b", opts.clone())?;
    let every = RecordVolume::EveryNth(4);
    let mut thinned = source("b", s(&b), opts.clone(), Supervision::file());
    thinned.volume = every;
    let mut watch = Watch::start(vec![
        source("a", s(&a), opts.clone(), Supervision::file()),
        source("b", s(&b), opts, Supervision::file()),
        thinned,
    ]);
    watch.wait_for_end();
    let log = &watch.log;
    assert_eq!(log.raw[0], expect_a);
    assert_eq!(log.raw[1], expect_b);
    assert_eq!(log.raw[2], filtered(&expect_b, every));
    assert!(log.raw[2].len() < expect_b.len());
    assert_eq!(log.opened, [1, 1, 1]);
    assert_eq!(log.frames, [30, 45, 45]);
    for (i, frames) in [(0, 30), (1, 45)] {
        let Some((_, Ok(totals))) = &log.ended[i] else {
            panic!("{i} ended {:?}", log.ended[i]);
        };
        assert_eq!(totals.frames, frames);
        assert_eq!((totals.dropped_frames, totals.reconnects), (0, 0));
        assert!(totals.backend.starts_with("cpu"), "{}", totals.backend);
        let cuts = log.of(i, "event", Some("scene_cut")).len() as u64;
        assert!(cuts >= 3, "{cuts} cuts");
        assert_eq!(totals.events.total(), log.of(i, "event", None).len() as u64);
    }
    // Files are not live: no status records, no wall clock.
    assert!(
        log.records
            .iter()
            .flatten()
            .all(|a| a.value["kind"] != "status" && a.value.get("ts").is_none())
    );
    Ok(())
}

#[test]
fn sources_share_one_gpu_device() -> TestResult {
    // lavapipe where there is no GPU: never skipped.
    let gpu = Device::open(BackendChoice::Gpu)?;
    let dir = tempfile::tempdir()?;
    let spec = |frames, cut_every| ClipSpec {
        width: 96,
        height: 64,
        fps: 10,
        frames,
        cut_every,
    };
    let a = clip(dir.path(), "a.mp4", &spec(24, 5))?;
    let b = clip(dir.path(), "b.mp4", &spec(32, 9))?;
    let opts = options("stats,scene,motion,black,freeze,blur");
    let expect_a = analysis_bytes(&gpu, s(&a), "a", opts.clone())?;
    let expect_b = analysis_bytes(&gpu, s(&b), "b", opts.clone())?;
    let sources = [("a", &a), ("b", &b), ("a", &a), ("b", &b)]
        .into_iter()
        .map(|(name, path)| source(name, s(path), opts.clone(), Supervision::file()))
        .collect();
    let mut watch = Watch::start_on(sources, &gpu);
    watch.wait_for_end();
    let log = &watch.log;
    for (i, expected) in [&expect_a, &expect_b, &expect_a, &expect_b]
        .into_iter()
        .enumerate()
    {
        assert_eq!(&log.raw[i], expected, "source {i}");
        let Some((_, Ok(totals))) = &log.ended[i] else {
            panic!("{i} ended {:?}", log.ended[i]);
        };
        assert!(!totals.backend.starts_with("cpu"), "{}", totals.backend);
    }
    Ok(())
}

#[test]
fn a_file_that_fails_ends_with_its_error_and_no_retry() {
    let mut watch = Watch::start(vec![source(
        "gone",
        "/definitely/not/here.mp4",
        options("stats"),
        Supervision::file(),
    )]);
    watch.wait_for_end();
    let Some((_, Err(e))) = &watch.log.ended[0] else {
        panic!("{:?}", watch.log.ended[0]);
    };
    assert!(matches!(e, VideoError::Open { .. }), "{e}");
    assert!(watch.log.raw[0].is_empty());
}

/// A port nobody listens on.
fn refused_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn an_unreachable_camera_is_retried_with_backoff_until_retry_for_runs_out() {
    let port = refused_port();
    let uri = format!("rtsp://admin:secret@127.0.0.1:{port}/cam");
    let retry_for = Duration::from_millis(2500);
    let started = Instant::now();
    let mut watch = Watch::start(vec![source(
        "cam",
        &uri,
        options("stats"),
        quick(Some(retry_for)),
    )]);
    watch.wait_for_end();
    let log = &watch.log;
    let (ended_at, result) = log.ended[0].as_ref().unwrap();
    let Err(VideoError::GaveUp {
        input,
        attempts,
        last,
    }) = result
    else {
        panic!("{result:?}");
    };
    // Backoff 0.2, 0.4, 0.8, 1 (±20%) within 2.5 s: 4 to 6 attempts.
    assert!((4..=6).contains(attempts), "{attempts} attempts");
    assert_eq!(input, &format!("rtsp://admin:***@127.0.0.1:{port}/cam"));
    assert!(!last.contains("secret") && !last.is_empty(), "{last}");
    let spent = ended_at.duration_since(started);
    assert!(spent <= retry_for + Duration::from_secs(2), "{spent:?}");
    let downs = log.of(0, "status", Some("source_down"));
    assert_eq!(downs.len() as u32, *attempts);
    for (i, d) in downs.iter().enumerate() {
        assert_eq!(d["attempt"], i as u64 + 1);
        assert!(d["ts"].is_string() && d["reason"].is_string(), "{d}");
    }
    // Doubling delays, each within 20% of its nominal value; the last
    // record has none: it gave up.
    let nominal = [0.2, 0.4, 0.8, 1.0, 1.0, 1.0];
    for (d, n) in downs.iter().zip(nominal).take(downs.len() - 1) {
        let retry_in = d["retry_in"].as_f64().unwrap();
        assert!(
            (n * 0.8..=n * 1.2).contains(&retry_in),
            "{retry_in} for {n}"
        );
    }
    assert!(downs.last().unwrap().get("retry_in").is_none());
    assert!(!String::from_utf8_lossy(&log.raw[0]).contains("secret"));
    // Never up, so never offline.
    assert!(log.of(0, "event", None).is_empty());
    assert_eq!(log.opened, [0]);
}

#[test]
fn the_stop_flag_ends_a_retrying_source_within_a_second() {
    let port = refused_port();
    let mut watch = Watch::start(vec![source(
        "cam",
        &format!("rtsp://127.0.0.1:{port}/cam"),
        options("stats"),
        quick(None),
    )]);
    assert!(watch.until(
        PATIENCE,
        |log| log.of(0, "status", Some("source_down")).len() >= 2
    ));
    let stopped = Instant::now();
    watch.stop.store(true, Ordering::Relaxed);
    watch.wait_for_end();
    let (ended_at, result) = watch.log.ended[0].as_ref().unwrap();
    assert!(ended_at.duration_since(stopped) < Duration::from_millis(1200));
    let totals = result.as_ref().unwrap();
    assert_eq!(totals.frames, 0);
    assert!(totals.reconnects >= 1);
}
