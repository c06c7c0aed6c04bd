//! Live sources end to end: GStreamer's RTSP server in this process
//! ([`osprey_rtsp_server::TestServer`], live H.264 test patterns on
//! 127.0.0.1) and the `osprey` binary as a child, as a camera user runs it.
//! Servers are stopped, restarted and stalled under a running osprey;
//! short stall timeouts and retry limits keep each test to seconds.

use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use osprey_rtsp_server::{Mount, TestServer};
use serde_json::Value;

use crate::common::{Lines, Proc, osprey};

/// A password that must never appear in any output.
const SECRET: &str = "s3cret-never-printed";

/// A running `osprey analyze`, its stdout read as records.
struct Live {
    proc: Proc,
    out: Lines,
    err: Lines,
    /// Every record read so far.
    seen: Vec<Value>,
}

impl Live {
    /// Starts `osprey analyze --backend cpu ARGS...` with `envs` set.
    fn start(args: &[&str], envs: &[(&str, &str)]) -> Live {
        let mut cmd = osprey();
        cmd.args(["analyze", "--backend", "cpu"])
            .args(args)
            .envs(envs.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut proc = Proc::spawn(&mut cmd);
        let out = proc.stdout_lines();
        let err = proc.stderr_lines();
        Live {
            proc,
            out,
            err,
            seen: Vec::new(),
        }
    }

    /// Reads records until one satisfies `done`, within `within`; returns
    /// it. Panics, naming `what`, when none comes.
    #[track_caller]
    fn until(&mut self, within: Duration, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.out.next_within(left).unwrap_or_else(|e| {
                panic!("{what}: not within {within:?} ({e:?}); {}", self.tail())
            });
            let record: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("{what}: bad JSON line {line:?}: {e}"));
            self.seen.push(record.clone());
            if done(&record) {
                return record;
            }
        }
    }

    /// The first record read so far that satisfies `done`, or else the next
    /// one to come, as [`Live::until`].
    #[track_caller]
    fn seen_or_until(&mut self, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        match self.seen.iter().find(|r| done(r)) {
            Some(r) => r.clone(),
            None => self.until(WAIT, what, done),
        }
    }

    /// The last few records read and, per source, its first and last
    /// frame index and records other than frames, for failure messages.
    fn tail(&self) -> String {
        let mut per_source =
            std::collections::BTreeMap::<String, (Option<u64>, Option<u64>, Vec<String>)>::new();
        for r in &self.seen {
            let entry = per_source.entry(r["source"].to_string()).or_default();
            match r["frame"].as_u64() {
                Some(f) if r["kind"] == "frame" => {
                    entry.0.get_or_insert(f);
                    entry.1 = Some(f);
                }
                _ => entry.2.push(r.to_string()),
            }
        }
        let last = &self.seen[self.seen.len().saturating_sub(2)..];
        format!("per source (first frame, last frame, others): {per_source:?}; last: {last:?}")
    }

    /// Sends `signal` (`TERM`, `INT`).
    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.proc.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal}");
    }

    /// Waits for the end: the exit status, the rest of stdout as records
    /// (also added to `seen`), and all of stderr.
    fn end(&mut self, what: &str) -> (ExitStatus, Vec<Value>, String) {
        let rest: Vec<Value> = self
            .out
            .to_end(what)
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{what}: {l:?}: {e}")))
            .collect();
        self.seen.extend(rest.iter().cloned());
        let err = self.err.to_end(what).join("\n");
        let status = self.proc.wait_exit(what);
        assert!(!err.contains("panicked"), "{what}: {err}");
        (status, rest, err)
    }
}

/// Whether `r` is a record of `kind` (and `type`, when given) of `source`.
fn is(r: &Value, kind: &str, ty: Option<&str>, source: &str) -> bool {
    r["kind"] == kind && r["source"] == source && ty.is_none_or(|t| r["type"] == t)
}

/// A record's `ts` as Unix seconds; it must be RFC 3339 UTC with
/// milliseconds.
fn ts(r: &Value) -> f64 {
    let text = r["ts"].as_str().unwrap_or_else(|| panic!("no ts: {r}"));
    assert!(
        text.ends_with('Z') && text.len() == 24,
        "RFC 3339 UTC ms: {text}"
    );
    unix(text)
}

/// An RFC 3339 time as Unix seconds.
fn unix(text: &str) -> f64 {
    let t = chrono::DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    t.timestamp_millis() as f64 / 1000.0
}

/// Now, in Unix seconds.
fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Frame indices of `source`'s frame records in `records`.
fn frames_of(records: &[Value], source: &str) -> Vec<u64> {
    records
        .iter()
        .filter(|r| is(r, "frame", None, source))
        .map(|r| r["frame"].as_u64().unwrap())
        .collect()
}

/// A port nothing listens on.
fn refused_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

const WAIT: Duration = Duration::from_secs(30);

#[test]
fn records_carry_wall_clock_time_and_sigterm_ends_cleanly() {
    let server = TestServer::start(&[Mount::new("cam0")]).unwrap();
    let url = server.url("cam0");
    let src = format!("cam={url}");
    let mut live = Live::start(
        &[&src, "--kernels", "stats,motion", "--rtsp-transport", "tcp"],
        &[],
    );
    let up = live.until(WAIT, "source_up", |r| {
        is(r, "status", Some("source_up"), "cam")
    });
    assert_eq!(
        (up["width"].as_u64(), up["height"].as_u64()),
        (Some(320), Some(240)),
        "{up}"
    );
    let mut last = 0.0;
    for i in 0..25 {
        let frame = live.until(WAIT, "frames", |r| is(r, "frame", None, "cam"));
        let t = ts(&frame);
        // Capture time, within a second of the host clock (a local server),
        // and monotonic.
        assert!(
            (now() - t).abs() < 1.0,
            "frame {i}: ts {t} against now {}",
            now()
        );
        assert!(t >= last, "ts goes back: {t} after {last}");
        last = t;
    }
    // The ball moves: a motion period opens, and stays open until the end.
    live.seen_or_until("motion_start", |r| {
        is(r, "event", Some("motion_start"), "cam")
    });
    live.signal("TERM");
    let (status, rest, err) = live.end("after SIGTERM");
    assert_eq!(status.code(), Some(0), "{err}");
    let end = rest
        .iter()
        .find(|r| is(r, "event", Some("motion_end"), "cam"))
        .unwrap_or_else(|| panic!("no motion_end after SIGTERM: {rest:?}"));
    assert_eq!(end["eos"], true, "{end}");
    assert!(
        err.lines().any(|l| l.starts_with("osprey: cam: ")),
        "summary: {err}"
    );
}

#[test]
fn a_second_signal_exits_at_once() {
    let server = TestServer::start(&[Mount::new("cam0")]).unwrap();
    let src = format!("cam={}", server.url("cam0"));
    let mut live = Live::start(&[&src, "--kernels", "stats"], &[]);
    live.until(WAIT, "frames", |r| is(r, "frame", None, "cam"));
    // SIGINT starts the clean stop, which takes a camera's teardown; SIGTERM
    // right behind it ends the process there.
    let pid = live.proc.id();
    let status = Command::new("sh")
        .args(["-c", &format!("kill -INT {pid}; kill -TERM {pid}")])
        .status()
        .unwrap();
    assert!(status.success());
    let (status, _, err) = live.end("two signals");
    // The code of whichever signal came second (they may arrive together
    // and be handled in either order).
    assert!(
        matches!(status.code(), Some(130 | 143)),
        "{status:?}: {err}"
    );
    assert!(
        !err.contains("osprey: cam: "),
        "no summary after the second signal: {err}"
    );
}

/// A 10 fps camera `cam` over TCP analysed with `stats` and the given
/// `--stall-timeout`, once its frame 5 is out.
fn one_camera_running(stall_timeout: &str) -> (TestServer, Live) {
    let server = TestServer::start(&[Mount::new("cam0").fps(10)]).unwrap();
    let src = format!("cam={}", server.url("cam0"));
    let mut live = Live::start(
        &[
            &src,
            "--kernels",
            "stats",
            "--stall-timeout",
            stall_timeout,
            "--rtsp-transport",
            "tcp",
        ],
        &[],
    );
    live.until(WAIT, "first frames", |r| {
        is(r, "frame", None, "cam") && r["frame"] == 5
    });
    (server, live)
}

#[test]
fn a_server_that_dies_and_comes_back_is_reconnected() {
    let (server, mut live) = one_camera_running("2s");
    server.stop().unwrap();
    let down = live.until(WAIT, "source_down", |r| {
        is(r, "status", Some("source_down"), "cam")
    });
    assert!(down["reason"].is_string(), "{down}");
    assert!(live.proc.alive(), "osprey ended with its camera");
    server.restart().unwrap();
    live.until(WAIT, "source_up again", |r| {
        is(r, "status", Some("source_up"), "cam")
    });
    live.until(WAIT, "frames again", |r| is(r, "frame", None, "cam"));
    let offline = live
        .seen
        .iter()
        .filter(|r| r["type"] == "camera_offline_start")
        .count();
    assert_eq!(offline, 1, "camera_offline_start once: {}", live.tail());
    assert!(live.proc.alive(), "osprey ended after its camera came back");
}

#[test]
fn a_resolution_change_mid_stream_keeps_going() {
    let server = TestServer::start(&[Mount::new("cam0").fps(10)]).unwrap();
    let src = format!("cam={}", server.url("cam0"));
    let mut live = Live::start(&[&src, "--kernels", "stats,motion"], &[]);
    live.until(WAIT, "320x240", |r| {
        is(r, "frame", None, "cam") && r["width"] == 320
    });
    server.set_size("cam0", 240, 160).unwrap();
    live.until(WAIT, "240x160", |r| {
        is(r, "frame", None, "cam") && r["width"] == 240 && r["height"] == 160
    });
    live.until(WAIT, "more frames", |r| is(r, "frame", None, "cam"));
    live.signal("TERM");
    let (status, _, err) = live.end("resolution change");
    assert_eq!(status.code(), Some(0), "{err}");
}

#[test]
fn a_stalled_stream_is_noticed_within_the_stall_timeout() {
    let (server, mut live) = one_camera_running("1s");
    server.stall("cam0").unwrap();
    let stalled = Instant::now();
    let down = live.until(WAIT, "source_down", |r| {
        is(r, "status", Some("source_down"), "cam")
    });
    // 1 s of stall timeout, with room for frames already on their way and
    // a busy machine; GStreamer's own timeout would take about 20 s.
    assert!(
        stalled.elapsed() < Duration::from_secs(4),
        "{:?}: {down}",
        stalled.elapsed()
    );
    server.resume("cam0").unwrap();
    live.until(WAIT, "frames again", |r| is(r, "frame", None, "cam"));
}

#[test]
fn wrong_credentials_are_redacted_and_not_retried_in_a_tight_loop() {
    let mount = Mount::new("cam0").credentials("admin", "right-password");
    let server = TestServer::start(&[mount]).unwrap();
    let url = server.url_with("cam0", "admin", SECRET);
    let mut live = Live::start(&[&url, "--kernels", "stats", "--retry-for", "3s"], &[]);
    let (status, _, err) = live.end("wrong credentials");
    assert_eq!(status.code(), Some(3), "{err}");
    let records = &live.seen;
    let all = format!("{records:?}{err}");
    assert!(!all.contains(SECRET), "the password was printed: {all}");
    let redacted = url.replace(SECRET, "***");
    assert!(err.contains(&redacted), "the source named, redacted: {err}");
    let downs: Vec<&Value> = records
        .iter()
        .filter(|r| r["type"] == "source_down")
        .collect();
    assert!(!downs.is_empty(), "no source_down: {records:?}");
    // Refused credentials are retried at the slowest rate: no second try
    // within 3 s.
    assert!(downs.len() <= 2, "a tight loop: {downs:?}");
    let reason = downs[0]["reason"].as_str().unwrap().to_lowercase();
    assert!(
        reason.contains("auth") || reason.contains("401"),
        "{reason}"
    );
    assert!(
        records.iter().all(|r| r["source"] == redacted.as_str()),
        "{records:?}"
    );
}

#[test]
fn a_wrong_path_and_a_refused_port_give_up_with_exit_3() {
    let server = TestServer::start(&[Mount::new("cam0")]).unwrap();
    let refused = format!("rtsp://127.0.0.1:{}/cam0", refused_port());
    for (url, why) in [(server.url("nope"), "not found"), (refused, "connect")] {
        let started = Instant::now();
        let mut live = Live::start(&[&url, "--kernels", "stats", "--retry-for", "2s"], &[]);
        let (status, _, err) = live.end(&url);
        assert_eq!(status.code(), Some(3), "{url}: {err}");
        let last = err.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("osprey: ") && last.contains(&url),
            "{url}: {err}"
        );
        assert!(last.to_lowercase().contains(why), "{url}: {last}");
        let downs = live
            .seen
            .iter()
            .filter(|r| r["type"] == "source_down")
            .count();
        assert!(downs >= 1, "{url}: {:?}", live.seen);
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{url}: {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn four_sources_in_one_process_and_one_dies() {
    let three: Vec<Mount> = ["a", "b", "c"].map(|p| Mount::new(p).fps(10)).to_vec();
    let server = TestServer::start(&three).unwrap();
    let other = TestServer::start(&[Mount::new("d").fps(10)]).unwrap();
    let srcs: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|p| format!("{p}={}", server.url(p)))
        .chain([format!("d={}", other.url("d"))])
        .collect();
    let mut args: Vec<&str> = srcs.iter().map(String::as_str).collect();
    args.extend([
        "--kernels",
        "stats",
        "--stall-timeout",
        "2s",
        "--rtsp-transport",
        "tcp",
    ]);
    let mut live = Live::start(&args, &[]);
    for name in ["a", "b", "c", "d"] {
        live.seen_or_until(name, |r| is(r, "frame", None, name) && r["frame"] == 10);
    }
    other.stop().unwrap();
    live.until(WAIT, "d down", |r| {
        is(r, "status", Some("source_down"), "d")
    });
    let at_stop: Vec<usize> = ["a", "b", "c"]
        .map(|n| frames_of(&live.seen, n).len())
        .to_vec();
    for (name, before) in ["a", "b", "c"].into_iter().zip(at_stop) {
        let target = (before + 20) as u64;
        live.until(WAIT, name, |r| {
            is(r, "frame", None, name) && r["frame"].as_u64() >= Some(target)
        });
    }
    live.signal("TERM");
    let (status, _, err) = live.end("four sources");
    assert_eq!(status.code(), Some(0), "{err}");
    for name in ["a", "b", "c"] {
        let frames = frames_of(&live.seen, name);
        let expected: Vec<u64> = (0..frames.len() as u64).collect();
        assert_eq!(frames, expected, "{name} missed frames");
        assert!(
            !live
                .seen
                .iter()
                .any(|r| is(r, "status", Some("source_down"), name)),
            "{name} went down"
        );
        assert!(
            err.lines()
                .any(|l| l.starts_with(&format!("osprey: {name}: "))),
            "{err}"
        );
    }
}

#[test]
fn the_example_sources_file_with_a_password_from_the_environment() {
    // Only cam0 asks for the password: the test server keeps one role per
    // user name, so two mounts of one user would let only the last in.
    let mounts = [
        Mount::new("cam0").credentials("admin", SECRET),
        Mount::new("cam1"),
    ];
    let server = TestServer::start(&mounts).unwrap();
    let example = include_str!("../../examples/sources.toml");
    let base = server.url("");
    let text = example
        .replace("rtsp://127.0.0.1:8554/", &base)
        .replace("records = \"every:25\"", "records = \"every:3\"");
    assert_ne!(text, example, "the example's URIs were replaced");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sources.toml");
    std::fs::write(&file, text).unwrap();
    // The example records "front" into a video stream: of a data
    // directory of the test's own, not the working folder's.
    let data = dir.path().join("data");
    let mut live = Live::start(
        &[
            "--sources",
            file.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[("CAM0_PASSWORD", SECRET)],
    );
    for _ in 0..3 {
        live.until(WAIT, "front frames", |r| is(r, "frame", None, "front"));
    }
    live.seen_or_until("back up", |r| is(r, "status", Some("source_up"), "back"));
    live.signal("INT");
    let (status, _, err) = live.end("sources file");
    assert_eq!(status.code(), Some(0), "{err}");
    let front = frames_of(&live.seen, "front");
    assert!(front.iter().all(|f| f % 3 == 0), "every:3 {front:?}");
    let fragments = data.join("video/streams/front-video/fragments");
    let kept = std::fs::read_dir(&fragments).map_or(0, Iterator::count);
    assert!(kept > 0, "front recorded into front-video: {err}");
    // fps = 5 of a 25 fps stream, every third analysed frame written: one
    // record about every 0.6 s (1 / 25 s apart without the detect rate).
    let times: Vec<f64> = live
        .seen
        .iter()
        .filter(|r| is(r, "frame", None, "front"))
        .map(ts)
        .collect();
    for pair in times.windows(2) {
        assert!(pair[1] - pair[0] > 0.4, "fps 5, every:3: {times:?}");
    }
    assert!(
        frames_of(&live.seen, "back").is_empty(),
        "back writes events only"
    );
    let all = format!("{:?}{err}", live.seen);
    assert!(!all.contains(SECRET), "the password was printed: {all}");
}

#[test]
fn aggregate_windows_of_a_live_source_fall_on_real_seconds() {
    let server = TestServer::start(&[Mount::new("cam0")]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("frames.ndjson");
    let src = format!("cam={}", server.url("cam0"));
    let started = now();
    let mut live = Live::start(
        &[&src, "--kernels", "stats", "-o", out.to_str().unwrap()],
        &[],
    );
    crate::common::wait_until(|| {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        let frames = text
            .lines()
            .filter(|l| l.contains("\"kind\":\"frame\""))
            .count();
        crate::common::ready_or(frames >= 75, || format!("{frames} frames"))
    });
    live.signal("TERM");
    let (status, _, err) = live.end("analyze");
    assert_eq!(status.code(), Some(0), "{err}");
    let ended = now();
    let run = crate::common::run(&[
        "aggregate",
        out.to_str().unwrap(),
        "--backend",
        "cpu",
        "--sql",
        "SELECT avg(stats.y_avg) AS y FROM input WHERE kind = 'frame' GROUP BY TUMBLE(ts, INTERVAL '1' SECOND)",
    ])
    .success();
    let rows = run.records();
    assert!(rows.len() >= 3, "{rows:?}");
    for row in &rows {
        let start = unix(row["window_start"].as_str().unwrap());
        assert_eq!(start.fract(), 0.0, "{row}");
        assert!(
            start >= started.floor() - 1.0 && start <= ended,
            "{row} outside {started}..{ended}"
        );
        assert!(row["y"].as_f64().unwrap() > 0.0, "{row}");
    }
}
