//! Recording (`osprey video put`): a file's fragments span its real
//! duration from `--start-time` and decode alone (ffprobe counts their
//! frames); a recording killed with SIGKILL keeps every fragment it
//! acknowledged, each decodable, and nothing torn; `osprey analyze
//! --record` records an RTSP camera over the analysis' own connection.

use std::path::Path;
use std::process::{Command, Stdio};

use osprey_ingest::video::{Fragment, VideoStore};
use osprey_rtsp_server::{Mount, TestServer};
use serde_json::Value;

use crate::common::{Proc, osprey, ready_or, run, wait_until};

/// 2026-12-06T10:00:00Z in Unix ns.
const START_NS: u64 = 1_796_551_200_000_000_000;

/// Writes `fragment` as an H.264 Annex-B elementary stream: the avcC's
/// parameter sets, then every access unit's NAL units, each after a start
/// code; what a decoder needs to start on it alone.
fn annex_b(fragment: &Fragment, path: &Path) {
    let avcc = &fragment.track.codec_data;
    assert_eq!(avcc[0], 1, "avcC version");
    let mut out = Vec::new();
    let mut at = 5;
    let mut sets = Vec::new();
    for count_mask in [0x1f_u8, 0xff] {
        let count = avcc[at] & count_mask;
        at += 1;
        for _ in 0..count {
            let len = usize::from(u16::from_be_bytes([avcc[at], avcc[at + 1]]));
            sets.push(&avcc[at + 2..at + 2 + len]);
            at += 2 + len;
        }
    }
    for set in sets {
        out.extend([0, 0, 0, 1]);
        out.extend(set);
    }
    for frame in &fragment.frames {
        let mut rest = &frame.data[..];
        while !rest.is_empty() {
            let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            out.extend([0, 0, 0, 1]);
            out.extend(&rest[4..4 + len]);
            rest = &rest[4 + len..];
        }
    }
    std::fs::write(path, out).unwrap();
}

/// Frames ffmpeg decodes from an Annex-B file, failing on any decode error.
fn decoded_frames(path: &Path) -> u64 {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "{stderr}");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// Each fragment of `stream` decodes alone to as many frames as it holds.
fn fragments_decode(data: &Path, stream: &str, numbers: &[u64]) {
    let store = VideoStore::open_read_only(data).unwrap();
    for &n in numbers {
        let fragment = store.read(stream, n).unwrap();
        let file = data.join(format!("f{n}.h264"));
        annex_b(&fragment, &file);
        assert_eq!(
            decoded_frames(&file),
            fragment.frames.len() as u64,
            "fragment {n}"
        );
    }
}

#[test]
fn a_file_is_recorded_in_fragments_over_its_real_duration() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("a.mp4");
    let data = dir.path().join("data");
    let (clip_arg, data_arg) = (clip.to_str().unwrap(), data.to_str().unwrap());
    // 5 s at 10 fps, a key frame every 2 s: fragments of 2, 2 and 1 s.
    let gen_args = [
        "generate", "--width", "320", "--height", "240", "--fps", "10",
    ];
    run(&[&gen_args[..], &["--frames", "50", clip_arg]].concat()).success();
    let put = run(&[
        "video",
        "put",
        "cam",
        clip_arg,
        "--fragment-seconds",
        "1",
        "--start-time",
        "2026-12-06T10:00:00Z",
        "--data-dir",
        data_arg,
    ])
    .success();
    let acked = put.records();
    let got: Vec<(u64, u64, u64, u64)> = acked
        .iter()
        .map(|f| {
            let n = |k: &str| f[k].as_u64().unwrap();
            (n("number"), n("producer_ns"), n("duration_ns"), n("frames"))
        })
        .collect();
    let s = 1_000_000_000;
    assert_eq!(
        got,
        vec![
            (1, START_NS, 2 * s, 20),
            (2, START_NS + 2 * s, 2 * s, 20),
            (3, START_NS + 4 * s, s, 10)
        ]
    );
    assert!(
        acked
            .iter()
            .all(|f| f["codec"] == "h264" && f["width"] == 320)
    );
    let summary = put.stderr.lines().last().unwrap_or_default();
    assert_eq!(
        summary.split(", ").take(3).collect::<Vec<_>>(),
        [
            "osprey video put: cam: 3 fragments",
            "5.0 s of media",
            "50 frames"
        ],
        "{}",
        put.stderr
    );
    fragments_decode(&data, "cam", &[1, 2, 3]);
}

#[test]
fn sources_that_cannot_be_recorded_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let missing = run(&[
        "video",
        "put",
        "cam",
        "/nonexistent/a.mp4",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    let line = missing.stderr.lines().last().unwrap_or_default().to_owned();
    assert_ne!(missing.code, 0);
    assert!(line.contains("no such file"), "{}", missing.stderr);
    let bad = run(&[
        "video",
        "put",
        "cam",
        "test:ball",
        "--fragment-seconds",
        "0",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert_eq!(
        bad.fails_with(1),
        "osprey: --fragment-seconds 0 must be a positive number"
    );
}

#[test]
fn a_put_of_a_camera_that_drops_reconnects_and_records_on() {
    let server = TestServer::start(&[Mount::new("cam0").size(320, 240)]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut put = Proc::spawn(
        osprey()
            .args(["video", "put", "rec", &server.url("cam0")])
            .args(["--fragment-seconds", "0.5", "--data-dir"])
            .arg(&data)
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let lines = put.stdout_lines();
    let before: Vec<Value> = lines.json(2, "fragments before the drop");
    // The camera goes away and comes back on the same port.
    server.stop().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    server.restart().unwrap();
    // Fragments of the new connection come (the one in progress at the
    // drop may come first).
    let after: Vec<Value> = lines.json(3, "fragments after the drop");
    let pid = put.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert!(put.wait_exit("video put").success());
    assert!(server.clients_connected() >= 2, "no reconnection");
    let all: Vec<Value> = before.into_iter().chain(after).collect();
    let numbers: Vec<u64> = all.iter().map(|f| f["number"].as_u64().unwrap()).collect();
    assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1), "{numbers:?}");
    // The two runs are apart in time: the drop shows as a gap.
    let ns = |f: &Value, key: &str| i128::from(f[key].as_u64().unwrap());
    let end = |f: &Value| ns(f, "producer_ns") + ns(f, "duration_ns");
    let gap = all
        .windows(2)
        .map(|w| ns(&w[1], "producer_ns") - end(&w[0]))
        .max()
        .unwrap();
    assert!(
        gap > 200_000_000,
        "no gap between the connections: {gap} ns"
    );
    // Every fragment decodes, and one clip spans both connections.
    let store = VideoStore::open_read_only(&data).unwrap();
    let kept: Vec<u64> = store
        .fragments("rec", None)
        .unwrap()
        .iter()
        .map(|m| m.number)
        .collect();
    drop(store);
    fragments_decode(&data, "rec", &kept);
    let seconds = |ns: i128| format!("{:.3}", ns as f64 / 1e9);
    let (start, end_s) = (
        seconds(ns(&all[0], "producer_ns")),
        seconds(end(all.last().unwrap())),
    );
    let clip = dir.path().join("all.mp4");
    run(&[
        "video",
        "clip",
        "rec",
        "--start",
        &start,
        "--end",
        &end_s,
        "--data-dir",
        data.to_str().unwrap(),
        "-o",
        clip.to_str().unwrap(),
    ])
    .success();
    let frames: u64 = all.iter().map(|f| f["frames"].as_u64().unwrap()).sum();
    let clipped = decoded_frames(&clip);
    assert!(clipped + 1 >= frames, "{clipped} of {frames} frames");
}

#[test]
fn a_killed_recording_keeps_every_acknowledged_fragment() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut put = Proc::spawn(
        osprey()
            .args([
                "video",
                "put",
                "cam",
                "test:ball?width=320&height=240&fps=25",
            ])
            .args(["--fragment-seconds", "0.4", "--data-dir"])
            .arg(&data)
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let lines = put.stdout_lines();
    let acked: Vec<Value> = lines.json(3, "acknowledged fragments");
    put.kill_now();
    let numbers: Vec<u64> = acked
        .iter()
        .map(|f| f["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, vec![1, 2, 3]);
    let store = VideoStore::open(&data).unwrap();
    let kept = store.fragments("cam", None).unwrap();
    // Every acknowledged fragment is kept as it was acknowledged; one more
    // may have become durable before the kill, none is torn.
    for (meta, acked) in kept.iter().zip(&acked) {
        assert_eq!(serde_json::to_value(meta).unwrap(), *acked);
    }
    assert!((3..=4).contains(&kept.len()), "{kept:?}");
    assert_eq!(store.verify("cam").unwrap(), vec![]);
    drop(store);
    let verify = run(&[
        "video",
        "verify",
        "cam",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert_eq!(verify.code, 0, "osprey video verify: {}", verify.stderr);
    let all: Vec<u64> = kept.iter().map(|m| m.number).collect();
    fragments_decode(&data, "cam", &all);
}

#[test]
fn analysis_and_recording_share_one_rtsp_connection() {
    let server = TestServer::start(&[Mount::new("cam0")]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut analyze = Proc::spawn(
        osprey()
            .args(["analyze", &server.url("cam0"), "--source", "cam"])
            .args(["--kernels", "stats,motion", "--backend", "cpu"])
            .args(["--record", "rec", "--clip-pre", "1s", "--clip-post", "2s"])
            .arg("--data-dir")
            .arg(&data)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let (stdout, stderr) = (analyze.stdout_lines(), analyze.stderr_lines());
    // Two fragments (key frames every second, 2 s fragments) are durable.
    wait_until(|| {
        let kept = VideoStore::open_read_only(&data)
            .and_then(|s| s.fragments("rec", None))
            .map_or(0, |f| f.len());
        ready_or(kept >= 2, || format!("{kept} fragments"))
    });
    let pid = analyze.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert!(analyze.wait_exit("analyze").success());
    assert_eq!(server.clients_connected(), 1, "one connection for both");
    let records: Vec<Value> = stdout
        .to_end("records")
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(records.iter().filter(|r| r["kind"] == "frame").count() >= 50);
    let events: Vec<&Value> = records.iter().filter(|r| r["kind"] == "event").collect();
    assert!(!events.is_empty(), "the ball moves");
    for e in events {
        let command = e["clip"].as_str().unwrap();
        assert!(command.starts_with("osprey video clip rec --start "), "{e}");
        assert!(e["clip_start"].as_str() < e["clip_end"].as_str(), "{e}");
    }
    let summary = stderr.to_end("stderr").join("\n");
    assert!(summary.contains("osprey: cam: recorded "), "{summary}");
    let store = VideoStore::open_read_only(&data).unwrap();
    let kept: Vec<u64> = store
        .fragments("rec", None)
        .unwrap()
        .iter()
        .map(|m| m.number)
        .collect();
    assert!(kept.len() >= 2, "{kept:?}");
    // Producer times are the sender's clock, near now.
    let first = store.read("rec", kept[0]).unwrap().meta.producer_ns as f64 / 1e9;
    let now = osprey_video::wall_clock::now();
    assert!((now - 120.0..now).contains(&first), "{first} against {now}");
    drop(store);
    fragments_decode(&data, "rec", &kept);
}

#[test]
fn a_server_camera_records_over_its_analysis_connection() {
    let server = TestServer::start(&[Mount::new("cam0")]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "data_dir = \"data\"\nbackend = \"cpu\"\n[http]\nlisten = \"127.0.0.1:0\"\n\
         [[cameras]]\nname = \"cam\"\nuri = \"{}\"\nkernels = [\"stats\", \"motion\"]\nrecord = \"rec\"\n\
         clip_pre = \"1s\"\nclip_post = \"500ms\"\n",
        server.url("cam0")
    );
    std::fs::write(dir.path().join("osprey.toml"), config).unwrap();
    let mut serve = Proc::spawn(
        osprey()
            .current_dir(dir.path())
            .args(["serve", "--config", "osprey.toml"])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let data = dir.path().join("data");
    wait_until(|| {
        let kept = VideoStore::open_read_only(&data)
            .and_then(|s| s.fragments("rec", None))
            .map_or(0, |f| f.len());
        ready_or(kept >= 2, || format!("{kept} fragments"))
    });
    let pid = serve.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert!(serve.wait_exit("serve").success());
    assert_eq!(server.clients_connected(), 1, "one connection for both");
    let store = VideoStore::open_read_only(&data).unwrap();
    let kept: Vec<u64> = store
        .fragments("rec", None)
        .unwrap()
        .iter()
        .map(|m| m.number)
        .collect();
    drop(store);
    fragments_decode(&data, "rec", &kept);
    // The ball's motion events (closed at the stop at the latest) name
    // their clip on the server's clip endpoint, around their time.
    let read = crate::common::run_in(dir.path(), &["read", "events", "--data-dir", "data"]);
    let events: Vec<Value> = crate::common::parse_ndjson(&read.success().stdout)
        .into_iter()
        .map(|r| r["data"].clone())
        .collect();
    assert!(!events.is_empty(), "no events");
    let time = |v: &Value| {
        chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap())
            .unwrap()
            .timestamp_millis()
    };
    for e in &events {
        let (start, end) = (time(&e["clip_start"]), time(&e["clip_end"]));
        let lasted = (e["duration"].as_f64().unwrap_or(0.0) * 1000.0).round() as i64;
        assert!((end - start - lasted - 1500).abs() <= 1, "{e}");
        assert_eq!(end - 500, time(&e["ts"]), "{e}");
        assert_eq!(
            e["clip"],
            format!(
                "/api/videos/rec/clip.mp4?start={}&end={}",
                e["clip_start"].as_str().unwrap(),
                e["clip_end"].as_str().unwrap()
            ),
            "{e}"
        );
    }
}
