//! Live input against GStreamer's RTSP server on 127.0.0.1 and live test
//! patterns: wall-clock times, failure kinds, credentials kept secret, audio
//! tracks ignored, mid-stream resize, max_fps, max_latency, cancel, both
//! transports, and the decoder choice.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use osprey_rtsp_server::{Mount, TestServer};
use osprey_video::source::{Credentials, DecodeChoice, SourceSpec, Transport};
use osprey_video::{
    ClipSpec, DecodeOptions, Decoder, FailureKind, FrameChunk, TimeSource, VideoError, wall_clock,
};

use crate::common::{TestResult, within};

/// An RTSP source over `transport` with a short jitter buffer.
fn rtsp(url: &str, transport: Transport) -> SourceSpec {
    let mut spec = SourceSpec::new(url);
    spec.rtsp.transport = transport;
    spec.rtsp.latency = Duration::from_millis(50);
    spec
}

/// Small chunks, so frames come out as they arrive.
fn options() -> DecodeOptions {
    DecodeOptions {
        chunk_frames: 4,
        max_latency: Some(Duration::from_millis(100)),
        ..DecodeOptions::default()
    }
}

/// Opens `spec`, failing the test on a hang.
fn open(spec: &SourceSpec, options: DecodeOptions) -> Result<Decoder, VideoError> {
    let spec = spec.clone();
    within(move || Decoder::open_spec(&spec, options))
}

/// Chunks until `frames` frames have come, checking each frame's `ts`
/// against the host clock: within [`NEAR_NOW`] of it.
fn frames_with_ts(decoder: &mut Decoder, frames: usize) -> TestResult<Vec<(f64, f64)>> {
    let mut out = Vec::new();
    while out.len() < frames {
        let chunk: FrameChunk = decoder.next_chunk()?.ok_or("the stream ended")?;
        assert!(
            chunk.issues().is_empty(),
            "false issues: {:?}",
            chunk.issues()
        );
        let now = wall_clock::now();
        for meta in chunk.metas() {
            let ts = meta.ts.ok_or("a live frame without ts")?;
            assert!(
                (now - ts).abs() < NEAR_NOW,
                "ts {ts} is {} s from now",
                now - ts
            );
            out.push((ts, meta.pts.unwrap_or(f64::NAN)));
        }
    }
    Ok(out)
}

/// How far a frame's `ts` may be from the host clock when it is handed
/// over: the wall clock, not stream time or the epoch, even when a loaded
/// machine holds a chunk back for a second or two.
const NEAR_NOW: f64 = 3.0;

fn assert_monotonic(times: &[(f64, f64)]) {
    for pair in times.windows(2) {
        assert!(pair[1].0 >= pair[0].0, "ts went backwards: {pair:?}");
    }
}

#[test]
fn rtsp_frames_carry_wall_clock_time_over_tcp_and_udp() -> TestResult {
    let server = TestServer::start(&[Mount::new("cam")])?;
    for transport in [Transport::Tcp, Transport::Udp] {
        let mut decoder = open(&rtsp(&server.url("cam"), transport), options())?;
        assert!(decoder.is_live(), "{transport:?}");
        assert_eq!(decoder.codec().as_deref(), Some("h264"));
        assert_eq!(decoder.decoder_name().as_deref(), Some("avdec_h264"));
        let info = decoder.info().ok_or("no info")?;
        assert_eq!((info.width, info.height), (320, 240));
        let times = frames_with_ts(&mut decoder, 25)?;
        assert_monotonic(&times);
        // 25 fps: the times advance with the frames (0.96 s; a loaded
        // machine's sender and receiver add jitter, not seconds).
        let span = times.last().map_or(0.0, |t| t.0) - times[0].0;
        assert!(
            (0.5..2.5).contains(&span),
            "{transport:?}: 25 frames span {span} s"
        );
    }
    Ok(())
}

#[test]
fn failures_are_classified_and_never_show_the_password() -> TestResult {
    let server = TestServer::start(&[Mount::new("locked").credentials("admin", "s3cret")])?;
    let wrong = server.url_with("locked", "admin", "wrongpass");
    let err = open(&rtsp(&wrong, Transport::Tcp), options())
        .err()
        .ok_or("opened")?;
    assert_eq!(err.failure_kind(), FailureKind::Unauthorized, "{err}");
    let text = format!("{err} {err:?}");
    assert!(!text.contains("wrongpass"), "{text}");
    assert!(text.contains("admin:***@"), "{text}");

    // Credentials given apart from the URI win over the URI's.
    let mut spec = rtsp(&wrong, Transport::Tcp);
    spec.credentials = Some(Credentials {
        user: "admin".into(),
        password: "s3cret".into(),
    });
    let mut decoder = open(&spec, options())?;
    assert!(decoder.next_chunk()?.is_some());

    let err = open(
        &rtsp(&server.url("nothing-here"), Transport::Tcp),
        options(),
    )
    .err()
    .ok_or("opened")?;
    assert_eq!(err.failure_kind(), FailureKind::NotFound, "{err}");

    // A port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let url = format!("rtsp://127.0.0.1:{port}/cam");
    let err = open(&rtsp(&url, Transport::Tcp), options())
        .err()
        .ok_or("opened")?;
    assert_eq!(err.failure_kind(), FailureKind::Refused, "{err}");
    Ok(())
}

#[test]
fn an_audio_track_is_ignored_without_false_issues() -> TestResult {
    let server = TestServer::start(&[Mount::new("cam").audio(true)])?;
    let mut decoder = open(&rtsp(&server.url("cam"), Transport::Tcp), options())?;
    let started = Instant::now();
    let mut frames = 0;
    while started.elapsed() < Duration::from_secs(4) {
        let chunk = decoder.next_chunk()?.ok_or("the stream ended")?;
        assert!(
            chunk.issues().is_empty(),
            "false issues: {:?}",
            chunk.issues()
        );
        frames += chunk.len();
    }
    assert!(frames >= 75, "only {frames} frames in 4 s");
    Ok(())
}

#[test]
fn a_resolution_change_keeps_decoding_at_the_new_size() -> TestResult {
    let server = TestServer::start(&[Mount::new("cam")])?;
    let mut decoder = open(&rtsp(&server.url("cam"), Transport::Tcp), options())?;
    decoder.next_chunk()?.ok_or("no frames")?;
    server.set_size("cam", 160, 96)?;
    let started = Instant::now();
    loop {
        let chunk = decoder.next_chunk()?.ok_or("the stream ended")?;
        let sizes: Vec<(u32, u32)> = chunk
            .views()
            .iter()
            .map(|v| (v.width(), v.height()))
            .collect();
        if sizes.contains(&(160, 96)) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still {sizes:?}"
        );
    }
    let info = decoder.info().ok_or("no info")?;
    assert_eq!((info.width, info.height), (160, 96));
    Ok(())
}

#[test]
fn test_patterns_are_live_with_wall_clock_time() -> TestResult {
    let spec = SourceSpec::new("test:ball?width=320&height=240&fps=25");
    let mut decoder = open(&spec, options())?;
    assert!(decoder.is_live());
    assert_eq!(decoder.codec().as_deref(), Some("raw"));
    assert_eq!(decoder.decoder_name(), None);
    let times = frames_with_ts(&mut decoder, 10)?;
    assert_monotonic(&times);
    let err = open(&SourceSpec::new("test:nope"), options())
        .err()
        .ok_or("opened")?;
    assert!(err.to_string().contains("no pattern \"nope\""), "{err}");
    Ok(())
}

#[test]
fn max_fps_drops_frames_evenly() -> TestResult {
    let spec = SourceSpec::new("test:ball?width=320&height=240&fps=25");
    let mut decoder = open(
        &spec,
        DecodeOptions {
            max_fps: Some(5.0),
            ..options()
        },
    )?;
    let mut pts = Vec::new();
    while pts.len() < 6 {
        let chunk = decoder.next_chunk()?.ok_or("the stream ended")?;
        assert!(chunk.issues().is_empty(), "{:?}", chunk.issues());
        pts.extend(chunk.metas().iter().filter_map(|m| m.pts));
    }
    for pair in pts.windows(2) {
        let step = pair[1] - pair[0];
        assert!(
            (0.19..0.25).contains(&step),
            "frames {step} s apart: {pts:?}"
        );
    }
    Ok(())
}

#[test]
fn max_latency_cuts_live_chunks_short() -> TestResult {
    // 10 fps and 8-frame chunks: a full chunk would take 0.8 s.
    let spec = SourceSpec::new("test:ball?width=320&height=240&fps=10");
    let mut decoder = open(
        &spec,
        DecodeOptions {
            chunk_frames: 8,
            max_latency: Some(Duration::from_millis(50)),
            ..DecodeOptions::default()
        },
    )?;
    decoder.next_chunk()?;
    for _ in 0..5 {
        let started = Instant::now();
        let chunk = decoder.next_chunk()?.ok_or("the stream ended")?;
        assert!(!chunk.is_empty());
        assert!(chunk.len() < 8, "a full chunk");
        assert!(
            started.elapsed() < Duration::from_millis(400),
            "{:?}",
            started.elapsed()
        );
    }
    Ok(())
}

#[test]
fn cancel_stops_a_stalled_pull_promptly() -> TestResult {
    let server = TestServer::start(&[Mount::new("cam")])?;
    let cancel = Arc::new(AtomicBool::new(false));
    let mut decoder = open(
        &rtsp(&server.url("cam"), Transport::Tcp),
        DecodeOptions {
            cancel: Some(Arc::clone(&cancel)),
            ..options()
        },
    )?;
    decoder.next_chunk()?.ok_or("no frames")?;
    server.stall("cam")?;
    let flag = Arc::clone(&cancel);
    let setter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(700));
        flag.store(true, Ordering::Relaxed);
        Instant::now()
    });
    // Frames in flight drain, then the pull waits on a stalled stream until
    // the cancel.
    let ended = loop {
        match decoder.next_chunk()? {
            Some(_) => continue,
            None => break Instant::now(),
        }
    };
    let cancelled_at = setter.join().map_err(|_| "setter panicked")?;
    assert!(cancel.load(Ordering::Relaxed), "ended before the cancel");
    let late = ended.saturating_duration_since(cancelled_at);
    assert!(
        late < Duration::from_millis(200),
        "returned {late:?} after the cancel"
    );
    assert!(decoder.next_chunk()?.is_none());
    drop(decoder);

    // Opening a stream that never sends a frame stops at the cancel too.
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    let setter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        flag.store(true, Ordering::Relaxed);
        Instant::now()
    });
    let err = open(
        &rtsp(&server.url("cam"), Transport::Tcp),
        DecodeOptions {
            cancel: Some(cancel),
            ..options()
        },
    )
    .err()
    .ok_or("a stalled stream opened")?;
    let late = Instant::now().saturating_duration_since(setter.join().map_err(|_| "panicked")?);
    assert!(matches!(err, VideoError::Cancelled { .. }), "{err}");
    assert!(
        late < Duration::from_millis(200),
        "returned {late:?} after the cancel"
    );
    Ok(())
}

#[test]
fn hw_fails_clearly_and_sw_decodes() -> TestResult {
    let server = TestServer::start(&[Mount::new("cam")])?;
    let mut spec = rtsp(&server.url("cam"), Transport::Tcp);
    spec.decode = DecodeChoice::Sw;
    let decoder = open(&spec, options())?;
    assert_eq!(decoder.decoder_name().as_deref(), Some("avdec_h264"));
    drop(decoder);
    spec.decode = DecodeChoice::Hw;
    match open(&spec, options()) {
        Err(err) => {
            let text = err.to_string();
            assert!(
                text.contains("no hardware decoder for video/x-h264; GStreamer has: "),
                "{text}"
            );
        }
        // A machine with a hardware H.264 decoder uses it.
        Ok(decoder) => {
            let name = decoder.decoder_name().unwrap_or_default();
            assert!(!name.starts_with("avdec"), "hw used {name}");
        }
    }
    Ok(())
}

#[test]
fn files_get_ts_from_a_start_time_or_when_asked_the_container() -> TestResult {
    let dir = tempfile::tempdir()?;
    let spec = ClipSpec {
        width: 64,
        height: 48,
        fps: 10,
        frames: 5,
        cut_every: 0,
    };
    let path = crate::common::clip(dir.path(), "clip.mp4", &spec)?;
    let path = crate::common::s(&path).to_owned();
    let all_ts = |spec: SourceSpec, container_time: bool| -> TestResult<Vec<Option<f64>>> {
        let options = DecodeOptions {
            container_time,
            ..DecodeOptions::default()
        };
        let mut decoder = open(&spec, options)?;
        assert!(!decoder.is_live());
        let mut out = Vec::new();
        while let Some(chunk) = decoder.next_chunk()? {
            out.extend(chunk.metas().iter().map(|m| m.ts));
        }
        Ok(out)
    };
    // By default a file's frames have no wall-clock time.
    assert_eq!(all_ts(SourceSpec::new(&path), false)?, [None; 5]);
    let mut started = SourceSpec::new(&path);
    started.start_time = Some(1_000.0);
    assert_eq!(
        all_ts(started, true)?,
        [
            Some(1_000.0),
            Some(1_000.1),
            Some(1_000.2),
            Some(1_000.3),
            Some(1_000.4)
        ]
    );
    // mp4mux wrote the time of writing as the creation time.
    let stamped = all_ts(SourceSpec::new(&path), true)?;
    let first = stamped[0].ok_or("no creation time")?;
    assert!((wall_clock::now() - first).abs() < 60.0, "{first}");
    Ok(())
}

#[test]
fn rtsp_frames_take_the_senders_ntp_time_once_it_reports() -> TestResult {
    let server = TestServer::start(&[Mount::new("cam")])?;
    let mut decoder = open(&rtsp(&server.url("cam"), Transport::Tcp), options())?;
    // Until the first RTCP sender report, times are the host's arrival.
    let started = Instant::now();
    let mut last = None;
    while decoder.time_source() != Some(TimeSource::Sender) {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no sender report"
        );
        let times = frames_with_ts(&mut decoder, 1)?;
        assert!(matches!(
            decoder.time_source(),
            Some(TimeSource::Host | TimeSource::Sender)
        ));
        last = times.last().copied();
    }
    let times = frames_with_ts(&mut decoder, 10)?;
    assert_eq!(decoder.time_source(), Some(TimeSource::Sender));
    assert_monotonic(&[last.into_iter().collect(), times.clone()].concat());
    // The sender's clock ticks with its frames: 40 ms apart at 25 fps.
    for pair in times.windows(2) {
        let step = pair[1].0 - pair[0].0;
        assert!((step - 0.04).abs() < 0.005, "{step}");
    }
    Ok(())
}

#[test]
fn a_udp_stream_that_sends_nothing_times_out() -> TestResult {
    let server = TestServer::start(&[Mount::new("cam")])?;
    server.stall("cam")?;
    let started = Instant::now();
    let err = open(&rtsp(&server.url("cam"), Transport::Udp), options())
        .err()
        .ok_or("a stalled stream opened")?;
    assert_eq!(err.failure_kind(), FailureKind::Timeout, "{err}");
    // rtspsrc's UDP timeout, set short by the decoder.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    Ok(())
}
