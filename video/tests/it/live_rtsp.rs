//! Live sources against GStreamer's RTSP server on 127.0.0.1
//! ([`TestServer`]), failing as cameras do: killed and restarted, stalled,
//! refusing credentials, and a caller too slow for the frames. Short
//! supervision options keep them quick (stall 1.5 s, backoff 0.2 s to 1 s).

#![expect(
    clippy::unwrap_used,
    reason = "helpers of tests: a test fails loudly at the first surprise"
)]

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use osprey_rtsp_server::{Mount, TestServer};
use osprey_video::VideoError;
use osprey_video::live::{LiveOptions, SourceTotals, Supervision};
use serde_json::Value;

use crate::common::PATIENCE;
use crate::live::{Log, Watch, options, quick, source};

/// The Unix seconds of an RFC 3339 `ts`.
fn unix(ts: &Value) -> f64 {
    let text = ts.as_str().unwrap();
    let at = chrono::DateTime::parse_from_rfc3339(text).unwrap();
    at.timestamp_millis() as f64 / 1000.0
}

/// Stops the runner and checks that every source ends with its totals
/// within about a second.
fn stop_all(watch: &mut Watch) -> Vec<SourceTotals> {
    let stopped = Instant::now();
    watch.stop.store(true, Ordering::Relaxed);
    watch.wait_for_end();
    watch
        .log
        .ended
        .iter()
        .map(|e| {
            let (at, result) = e.as_ref().unwrap();
            let took = at.duration_since(stopped);
            assert!(
                took < Duration::from_millis(1500),
                "ended {took:?} after stop"
            );
            result.as_ref().unwrap().clone()
        })
        .collect()
}

/// Number of frame records of `source` that arrived after `since`.
fn frames_since(log: &Log, source: usize, since: Instant) -> usize {
    log.records[source]
        .iter()
        .filter(|a| a.at >= since && a.value["kind"] == "frame")
        .count()
}

#[test]
fn a_camera_streams_records_on_the_wall_clock_and_stops_cleanly() {
    let server = TestServer::start(&[Mount::new("cam")]).unwrap();
    // The same camera again, analysed at 5 frames a second.
    let mut slow = source("cam5", &server.url("cam"), options("stats"), quick(None));
    slow.live.fps = Some(5.0);
    let mut watch = Watch::start(vec![
        source(
            "cam",
            &server.url("cam"),
            options("stats,motion"),
            quick(None),
        ),
        slow,
    ]);
    assert!(watch.until(PATIENCE, |log| {
        log.frames_of(0).len() >= 50 && !log.of(0, "event", Some("motion_start")).is_empty()
    }));
    let log = &watch.log;
    assert_eq!(log.opened, [1, 1]);
    let (full, fifth) = (log.frames_of(0).len(), log.frames_of(1).len());
    assert!(
        (full / 5).abs_diff(fifth) <= 4,
        "{fifth} frames at 5 fps against {full} at 25"
    );
    let ups = log.of(0, "status", Some("source_up"));
    assert_eq!(ups.len(), 1);
    assert_eq!(
        (ups[0]["width"].as_u64(), ups[0]["height"].as_u64()),
        (Some(320), Some(240))
    );
    assert_eq!(ups[0]["fps"].as_f64(), Some(25.0));
    assert_eq!(ups[0]["codec"], "h264");
    assert!(
        ups[0]["decoder"].as_str().is_some_and(|d| !d.is_empty()),
        "{}",
        ups[0]
    );
    let frames = log.frames_of(0);
    assert_eq!(frames, (0..frames.len() as u64).collect::<Vec<_>>());
    // Every frame on the wall clock: within a second of its arrival here,
    // never going back.
    let mut previous = f64::MIN;
    for a in log.records[0].iter().filter(|a| a.value["kind"] == "frame") {
        let ts = unix(&a.value["ts"]);
        assert!((a.unix - ts).abs() < 1.0, "ts {ts} arrived {}", a.unix);
        assert!(ts >= previous);
        previous = ts;
    }
    let totals = stop_all(&mut watch);
    // The ball never stops: its motion period is closed at the stop.
    let ends = watch.log.of(0, "event", Some("motion_end"));
    assert_eq!(ends.len(), 1);
    assert_eq!(ends[0]["eos"], true);
    assert_eq!(totals[0].frames, watch.log.frames_of(0).len() as u64);
    assert_eq!((totals[0].reconnects, totals[0].dropped_frames), (0, 0));
    assert_eq!(watch.log.of(1, "event", Some("motion_end")).len(), 0);
}

#[test]
fn a_camera_that_dies_and_comes_back_is_reconnected() {
    let server = TestServer::start(&[Mount::new("cam")]).unwrap();
    let mut watch = Watch::start(vec![source(
        "cam",
        &server.url("cam"),
        options("stats"),
        quick(None),
    )]);
    assert!(watch.until(PATIENCE, |log| log.frames_of(0).len() >= 25));
    server.stop().unwrap();
    assert!(watch.until(PATIENCE, |log| {
        log.of(0, "status", Some("source_down")).len() >= 2
    }));
    let before = watch.log.frames_of(0).len();
    server.restart().unwrap();
    assert!(watch.until(PATIENCE, |log| {
        !log.of(0, "event", Some("camera_offline_end")).is_empty()
            && log.frames_of(0).len() >= before + 25
    }));
    let log = &watch.log;
    // The runner never ended the source.
    assert!(log.ended[0].is_none());
    assert_eq!(log.of(0, "status", Some("source_up")).len(), 2);
    let downs = log.of(0, "status", Some("source_down"));
    assert!(
        downs
            .iter()
            .all(|d| !d["reason"].as_str().unwrap().is_empty())
    );
    let starts = log.of(0, "event", Some("camera_offline_start"));
    let ends = log.of(0, "event", Some("camera_offline_end"));
    assert_eq!((starts.len(), ends.len()), (1, 1));
    let offline = ends[0]["duration"].as_f64().unwrap();
    let span = unix(&ends[0]["ts"]) - unix(&starts[0]["ts"]);
    assert!((offline - span).abs() < 0.01, "{offline} against {span}");
    assert!(offline > 0.2 && offline < 30.0, "{offline}");
    let gaps = log.of(0, "status", Some("gap"));
    assert_eq!(gaps.len(), 1);
    let (from, to) = (unix(&gaps[0]["from"]), unix(&gaps[0]["to"]));
    assert!(to > from && (gaps[0]["duration"].as_f64().unwrap() - (to - from)).abs() < 0.01);
    // One count of frames across both connections, no hole, no repeat.
    let frames = log.frames_of(0);
    assert_eq!(frames, (0..frames.len() as u64).collect::<Vec<_>>());
    assert_eq!(ends[0]["frame"].as_u64(), Some(before as u64));
    let totals = stop_all(&mut watch);
    assert!(totals[0].reconnects >= 2, "{:?}", totals[0]);
}

#[test]
fn a_stalled_camera_is_noticed_within_the_stall_timeout() {
    let server = TestServer::start(&[Mount::new("cam")]).unwrap();
    let supervision = quick(None);
    let mut watch = Watch::start(vec![source(
        "cam",
        &server.url("cam"),
        options("stats"),
        supervision,
    )]);
    assert!(watch.until(PATIENCE, |log| log.frames_of(0).len() >= 25));
    server.stall("cam").unwrap();
    let stalled = Instant::now();
    assert!(watch.until(PATIENCE, |log| {
        !log.of(0, "status", Some("source_down")).is_empty()
    }));
    let log = &watch.log;
    let down = log.records[0]
        .iter()
        .find(|a| a.value["type"] == "source_down")
        .unwrap();
    let last_frame = log.records[0]
        .iter()
        .filter(|a| a.value["kind"] == "frame")
        .map(|a| a.at)
        .max()
        .unwrap();
    let noticed = down.at.duration_since(stalled);
    assert!(
        noticed <= supervision.stall_timeout + Duration::from_secs(1),
        "noticed {noticed:?} after the stall"
    );
    // Not before the stall timeout: the supervisor times it from the last
    // frame it took from the decoder, which this test receives a little
    // later (analysis, then the channel), so 100 ms of that path is allowed.
    let quiet = down.at.duration_since(last_frame);
    assert!(
        quiet + Duration::from_millis(100) >= supervision.stall_timeout,
        "down after {quiet:?} without frames"
    );
    assert!(down.value["reason"].as_str().unwrap().contains("stalled"));
    assert_eq!(log.of(0, "event", Some("camera_offline_start")).len(), 1);
    server.resume("cam").unwrap();
    let back = Instant::now();
    assert!(watch.until(PATIENCE, |log| frames_since(log, 0, back) >= 10));
    assert_eq!(
        watch.log.of(0, "event", Some("camera_offline_end")).len(),
        1
    );
    stop_all(&mut watch);
}

#[test]
fn refused_credentials_and_wrong_paths_are_retried_at_the_slowest_rate() {
    let server = TestServer::start(&[Mount::new("cam").credentials("admin", "right")]).unwrap();
    let supervision = Supervision {
        backoff_min: Duration::from_millis(50),
        ..quick(None)
    };
    let mut watch = Watch::start(vec![
        source(
            "cam",
            &server.url_with("cam", "admin", "wrong-secret"),
            options("stats"),
            supervision,
        ),
        source(
            "nowhere",
            &server.url_with("nowhere", "admin", "right"),
            options("stats"),
            supervision,
        ),
    ]);
    let window = Duration::from_millis(3500);
    assert!(!watch.until(window, |log| {
        !log.frames_of(0).is_empty() || !log.frames_of(1).is_empty()
    }));
    let log = &watch.log;
    for (i, words) in [(0, "unauthorized"), (1, "not found")] {
        let downs = log.of(i, "status", Some("source_down"));
        // At 1 s (±20%) a try: 3 to 5 in 3.5 s; doubling from 50 ms would
        // have made 7 or more.
        assert!((2..=5).contains(&downs.len()), "{} attempts", downs.len());
        for d in &downs {
            assert!(d["retry_in"].as_f64().unwrap() >= 0.8, "{d}");
            let reason = d["reason"].as_str().unwrap();
            assert!(reason.to_lowercase().contains(words), "{reason}");
        }
    }
    let all = String::from_utf8_lossy(&log.raw.concat()).into_owned();
    assert!(
        !all.contains("wrong-secret") && !all.contains("right"),
        "{all}"
    );
    assert_eq!(log.opened, [0, 0]);
    stop_all(&mut watch);
}

#[test]
fn four_cameras_one_stalled_the_others_miss_no_frame() {
    let mounts: Vec<Mount> = (0..4)
        .map(|i| Mount::new(format!("cam{i}")).size(160, 120))
        .collect();
    let server = TestServer::start(&mounts).unwrap();
    let sources = (0..4)
        .map(|i| {
            source(
                &format!("cam{i}"),
                &server.url(&format!("cam{i}")),
                options("stats,scene"),
                quick(None),
            )
        })
        .collect();
    let mut watch = Watch::start(sources);
    assert!(watch.until(PATIENCE, |log| (0..4).all(|i| log.frames_of(i).len() >= 25)));
    server.stall("cam3").unwrap();
    assert!(watch.until(PATIENCE, |log| {
        !log.of(3, "status", Some("source_down")).is_empty()
    }));
    let window = Instant::now();
    let seconds = 3.0;
    assert!(!watch.until(Duration::from_secs_f64(seconds), |log| {
        log.ended.iter().any(Option::is_some)
    }));
    let log = &watch.log;
    for i in 0..3 {
        let frames = log.frames_of(i);
        assert_eq!(
            frames,
            (0..frames.len() as u64).collect::<Vec<_>>(),
            "cam{i}"
        );
        // 25 fps, with room for a loaded machine.
        let recent = frames_since(log, i, window);
        assert!(
            recent as f64 >= 0.6 * 25.0 * seconds,
            "cam{i}: {recent} frames in {seconds} s"
        );
        assert!(
            log.of(i, "status", Some("source_down")).is_empty(),
            "cam{i}"
        );
    }
    let totals = stop_all(&mut watch);
    assert!(
        totals[..3]
            .iter()
            .all(|t| t.dropped_frames == 0 && t.reconnects == 0)
    );
}

#[test]
fn a_caller_that_cannot_keep_up_makes_a_camera_drop_its_oldest_frames() {
    let server = TestServer::start(&[Mount::new("cam")]).unwrap();
    let mut cam = source("cam", &server.url("cam"), options("stats"), quick(None));
    cam.live = LiveOptions {
        queue_frames: 8,
        ..LiveOptions::default()
    };
    let mut watch = Watch::start(vec![cam]);
    assert!(watch.until(PATIENCE, |log| log.frames_of(0).len() >= 10));
    watch.pause.store(true, Ordering::Relaxed);
    std::thread::sleep(Duration::from_secs(2));
    watch.pause.store(false, Ordering::Relaxed);
    assert!(watch.until(PATIENCE, |log| {
        !log.of(0, "status", Some("frames_dropped")).is_empty()
    }));
    let totals = stop_all(&mut watch);
    let log = &watch.log;
    let reported: u64 = log
        .of(0, "status", Some("frames_dropped"))
        .iter()
        .map(|s| s["dropped"].as_u64().unwrap())
        .sum();
    // 2 s at 25 fps, of which the queue and the channel hold a few chunks.
    assert!(reported >= 10, "{reported} dropped");
    assert_eq!(totals[0].dropped_frames, reported);
    // The dropped frames are the holes in the indices; nothing else is.
    let frames = log.frames_of(0);
    assert!(frames.windows(2).all(|w| w[0] < w[1]));
    let last = *frames.last().unwrap();
    assert_eq!(last + 1 - frames.len() as u64, reported);
    assert_eq!(totals[0].frames, frames.len() as u64);
    // Never the cause of a reconnection.
    assert!(log.of(0, "status", Some("source_down")).is_empty());
}

#[test]
fn a_retry_time_that_runs_out_ends_the_camera_with_an_error() {
    let server = TestServer::start(&[Mount::new("cam")]).unwrap();
    let mut watch = Watch::start(vec![source(
        "cam",
        &server.url("cam"),
        options("stats"),
        quick(Some(Duration::from_secs(2))),
    )]);
    assert!(watch.until(PATIENCE, |log| log.frames_of(0).len() >= 10));
    server.stop().unwrap();
    watch.wait_for_end();
    let (_, result) = watch.log.ended[0].as_ref().unwrap();
    assert!(
        matches!(result, Err(VideoError::GaveUp { attempts, .. }) if *attempts >= 2),
        "{result:?}"
    );
    // The offline period opened and was closed at the end.
    assert_eq!(
        watch.log.of(0, "event", Some("camera_offline_start")).len(),
        1
    );
    let ends = watch.log.of(0, "event", Some("camera_offline_end"));
    assert_eq!(ends.len(), 1);
    assert_eq!(ends[0]["eos"], true);
}

#[test]
fn a_camera_that_changes_resolution_keeps_going_at_the_new_size() {
    let server = TestServer::start(&[Mount::new("cam")]).unwrap();
    let mut watch = Watch::start(vec![source(
        "cam",
        &server.url("cam"),
        options("stats,scene,motion,blur"),
        quick(None),
    )]);
    assert!(watch.until(PATIENCE, |log| log.frames_of(0).len() >= 10));
    server.set_size("cam", 160, 96).unwrap();
    let small = |v: &Value| v["width"] == 160 && v["height"] == 96;
    assert!(watch.until(PATIENCE, |log| {
        log.of(0, "frame", None).iter().filter(|v| small(v)).count() >= 10
    }));
    let log = &watch.log;
    let frames = log.of(0, "frame", None);
    assert_eq!(frames[0]["width"], 320);
    // One switch, then the new size only; no reconnection, no hole.
    let first_small = frames.iter().position(|v| small(v)).unwrap();
    assert!(frames[first_small..].iter().all(|v| small(v)));
    assert!(log.of(0, "status", Some("source_down")).is_empty());
    let indices = log.frames_of(0);
    assert_eq!(indices, (0..indices.len() as u64).collect::<Vec<_>>());
    stop_all(&mut watch);
}
