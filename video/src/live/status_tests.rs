//! Tests of [`SourceStatus`] and of the metrics a running source moves: a
//! literal frame kept and encoded, a `test:` source through a [`Runner`],
//! and an RTSP camera that goes down and comes back (the test RTSP
//! server on 127.0.0.1). The sources run on their own threads, so these
//! read one global Prometheus recorder, each under its own source name.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use osprey_kernels::{Device, KernelSet, OwnedFrame, PixelFormat};
use osprey_rtsp_server::{Mount, TestServer};

use super::{LiveOptions, LiveSource, RecordVolume, Runner, SourceStatus, Supervision};
use crate::analysis::AnalysisOptions;
use crate::source::SourceSpec;

/// Long enough for anything these tests wait for on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(60);

/// The global recorder, installed once for this test binary.
fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| PrometheusBuilder::new().install_recorder().unwrap())
}

/// The value of the sample `name{labels}` in the rendered metrics.
fn sample(name: &str, labels: &str) -> Option<f64> {
    let prefix = format!("{name}{{{labels}}} ");
    recorder()
        .render()
        .lines()
        .find_map(|l| l.strip_prefix(&prefix).and_then(|v| v.parse().ok()))
}

/// The mean RGB of a JPEG, and its size.
fn decoded(jpeg: &[u8]) -> ((u32, u32), [f64; 3]) {
    let img = image::load_from_memory(jpeg).unwrap().to_rgb8();
    let n = f64::from(img.width() * img.height());
    let mut mean = [0.0; 3];
    for p in img.pixels() {
        for (m, &c) in mean.iter_mut().zip(&p.0) {
            *m += f64::from(c) / n;
        }
    }
    (img.dimensions(), mean)
}

fn is_red(mean: [f64; 3]) -> bool {
    mean[0] > 230.0 && mean[1] < 25.0 && mean[2] < 25.0
}

#[test]
fn the_latest_frame_is_kept_as_decoded_and_encoded_on_request() {
    let status = SourceStatus::default();
    assert_eq!(status.latest_jpeg(64), None);
    // BT.601 limited-range red, 7x5 with padded rows, then as NV12.
    let mut i420 = OwnedFrame::zeroed(PixelFormat::I420, 7, 5, 3);
    i420.planes[0].fill(81);
    i420.planes[1].fill(90);
    i420.planes[2].fill(240);
    status.analyzed(1, Some(&i420.view()), 1_700_000_000.5);
    let (size, mean) = decoded(&status.latest_jpeg(64).unwrap());
    assert_eq!(size, (7, 5));
    assert!(is_red(mean), "{mean:?}");
    // Downscaled: aspect kept, height even.
    assert_eq!(decoded(&status.latest_jpeg(4).unwrap()).0, (4, 2));
    // A later chunk replaces it (green: Y 145, U 54, V 34), in place.
    let mut nv12 = OwnedFrame::zeroed(PixelFormat::Nv12, 9, 3, 1);
    nv12.planes[0].fill(145);
    for pair in nv12.planes[1].chunks_exact_mut(2) {
        pair.copy_from_slice(&[54, 34]);
    }
    status.analyzed(2, Some(&nv12.view()), 1_700_000_001.0);
    status.analyzed(1, Some(&nv12.view()), 1_700_000_002.0);
    let (size, mean) = decoded(&status.latest_jpeg(64).unwrap());
    assert_eq!(size, (9, 3));
    assert!(
        mean[1] > 230.0 && mean[0] < 25.0 && mean[2] < 25.0,
        "{mean:?}"
    );
    let snap = status.snapshot();
    assert_eq!(snap.frames_analyzed, 4);
    assert_eq!(snap.last_frame_ts, Some(1_700_000_002.0));
}

/// A live source named `name` on `uri`, stats only, quick to retry.
fn live(name: &str, uri: &str) -> LiveSource {
    let mut analysis = AnalysisOptions::default();
    analysis.backend.kernels = KernelSet::parse("stats").unwrap();
    analysis.chunk_frames = 4;
    LiveSource {
        name: name.into(),
        spec: SourceSpec::new(uri),
        analysis,
        supervision: Supervision {
            stall_timeout: Duration::from_millis(1500),
            retry_for: None,
            backoff_min: Duration::from_millis(200),
            backoff_max: Duration::from_secs(1),
        },
        live: LiveOptions::default(),
        volume: RecordVolume::All,
        record: None,
    }
}

/// Takes the runner's messages until `done` holds for the status of its
/// first source; false after [`PATIENCE`].
fn until(runner: &mut Runner, done: impl Fn(&SourceStatus) -> bool) -> bool {
    let status = Arc::clone(&runner.statuses()[0]);
    let started = Instant::now();
    while started.elapsed() < PATIENCE {
        if done(&status) {
            return true;
        }
        if runner.next().is_none() {
            return done(&status);
        }
    }
    false
}

/// Stops the runner and takes its messages to the end.
fn stop(runner: &mut Runner, flag: &AtomicBool) {
    flag.store(true, Ordering::Relaxed);
    while runner.next().is_some() {}
}

#[test]
fn a_test_source_counts_its_frames_and_keeps_its_latest_frame() {
    recorder();
    let flag = Arc::new(AtomicBool::new(false));
    let source = live("status-test", "test:red?width=65&height=49&fps=25");
    let mut runner = Runner::start(vec![source], &Device::cpu(), Arc::clone(&flag)).unwrap();
    let status = Arc::clone(&runner.statuses()[0]);
    let label = r#"source="status-test""#;
    assert!(until(&mut runner, |s| {
        let snap = s.snapshot();
        snap.frames_analyzed >= 40 && snap.fps_analyzed > 0.0
    }));
    let snap = status.snapshot();
    assert!(snap.up);
    assert_eq!(snap.size, Some((65, 49)));
    assert!(snap.backend.starts_with("cpu"), "{}", snap.backend);
    assert!(snap.fps_in > 5.0 && snap.fps_in < 40.0, "{snap:?}");
    assert!(snap.frames_decoded >= snap.frames_analyzed);
    let now = crate::wall_clock::now();
    assert!(snap.last_frame_ts.is_some_and(|ts| (now - ts).abs() < 5.0));
    assert_eq!(sample(crate::metrics::SOURCE_UP, label), Some(1.0));
    let (size, mean) = decoded(&status.latest_jpeg(32).unwrap());
    assert_eq!(size, (32, 24));
    assert!(is_red(mean), "{mean:?}");
    stop(&mut runner, &flag);
    let snap = status.snapshot();
    assert!(!snap.up);
    let counted = |name| sample(name, label).unwrap_or(-1.0);
    assert_eq!(
        counted(crate::metrics::FRAMES_ANALYZED),
        snap.frames_analyzed as f64
    );
    // The decode thread may still count a chunk on its way out.
    assert!(counted(crate::metrics::FRAMES_DECODED) >= snap.frames_analyzed as f64);
    assert_eq!(counted(crate::metrics::SOURCE_UP), 0.0);
    let chunks = sample(
        &format!("{}_count", crate::metrics::KERNEL_SECONDS),
        r#"kernel="stats",backend="cpu""#,
    );
    assert!(chunks.is_some_and(|n| n >= 10.0), "{chunks:?}");
}

#[test]
fn a_camera_that_goes_down_reads_down_in_the_metrics_and_comes_back() {
    recorder();
    let server = TestServer::start(&[Mount::new("cam").size(160, 120)]).unwrap();
    let flag = Arc::new(AtomicBool::new(false));
    let source = live("status-rtsp", &server.url("cam"));
    let mut runner = Runner::start(vec![source], &Device::cpu(), Arc::clone(&flag)).unwrap();
    let label = r#"source="status-rtsp""#;
    assert!(until(&mut runner, |s| s.snapshot().frames_analyzed >= 8));
    let snap = runner.statuses()[0].snapshot();
    assert_eq!(
        (snap.up, snap.codec.as_deref(), snap.size),
        (true, Some("h264"), Some((160, 120)))
    );
    assert!(snap.decoder.is_some());
    assert_eq!(sample(crate::metrics::SOURCE_UP, label), Some(1.0));
    server.stop().unwrap();
    assert!(until(&mut runner, |s| !s.snapshot().up));
    assert_eq!(sample(crate::metrics::SOURCE_UP, label), Some(0.0));
    server.restart().unwrap();
    assert!(until(&mut runner, |s| s.snapshot().up));
    let reconnects = sample(crate::metrics::SOURCE_RECONNECTS, label);
    assert!(reconnects.is_some_and(|n| n >= 1.0), "{reconnects:?}");
    assert_eq!(
        reconnects,
        Some(f64::from(runner.statuses()[0].snapshot().reconnects))
    );
    assert_eq!(sample(crate::metrics::SOURCE_UP, label), Some(1.0));
    stop(&mut runner, &flag);
    assert_eq!(sample(crate::metrics::SOURCE_UP, label), Some(0.0));
}
