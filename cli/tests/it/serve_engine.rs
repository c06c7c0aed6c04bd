//! `osprey serve --config`: the engine end to end, against the real binary.
//! A test camera and an RTSP camera ([`TestServer`]) put their frame
//! records into the `frames` stream and a query over it writes rows; a
//! SIGHUP after the file changed adds a camera and removes another without
//! restarting the third; a SIGTERM under load exits 0 within the bound and
//! leaves every frame the server had written readable.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use osprey_rtsp_server::{Mount, TestServer};
use serde_json::Value;

use crate::common::{Lines, Proc, osprey, parse_ndjson, ready_or, run_in, wait_until};

/// The shutdown bound the server promises (its `shutdown::BOUND`).
const BOUND: Duration = Duration::from_secs(10);

/// A `[[cameras]]` table.
fn camera(name: &str, uri: &str) -> String {
    format!("[[cameras]]\nname = \"{name}\"\nuri = \"{uri}\"\nkernels = [\"stats\"]\n")
}

/// A 320x240 test pattern at 10 fps.
const BALL: &str = "test:ball?width=320&height=240&fps=10";

/// The file: `cameras` and, with `query_out`, a query counting frame
/// records a second into that file.
fn write_config(dir: &Path, cameras: &[String], query_out: Option<&Path>) {
    let mut text =
        "data_dir = \"data\"\nbackend = \"cpu\"\n[http]\nlisten = \"127.0.0.1:0\"\n".to_owned();
    for c in cameras {
        text.push_str(c);
    }
    if let Some(out) = query_out {
        text.push_str(&format!(
            "[[queries]]\nname = \"per_second\"\ninput = \"frames\"\noutput = \"{}\"\nflags = [\"--window\", \"tumbling:1s\", \"--group-by\", \"source\", \"--agg\", \"count(*) as n\", \"--errors\", \"{}\"]\n",
            out.display(),
            dir.join("late.ndjson").display()
        ));
    }
    std::fs::write(dir.join("osprey.toml"), text).unwrap();
}

/// A running `osprey serve --config`, its address.
struct Server {
    proc: Proc,
    err: Lines,
    addr: String,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let mut cmd = osprey();
        cmd.current_dir(dir)
            .args(["serve", "--config", "osprey.toml"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut proc = Proc::spawn(&mut cmd);
        let err = proc.stderr_lines();
        let addr = err.announced("osprey: serving on http://", "serve --config");
        Server { proc, err, addr }
    }

    /// `GET path`'s body as JSON.
    fn get(&self, path: &str) -> Value {
        let body = self.get_text(path);
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body:?}"))
    }

    /// `GET path`'s body.
    fn get_text(&self, path: &str) -> String {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        text.split_once("\r\n\r\n")
            .map_or("", |(_, b)| b)
            .to_owned()
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.proc.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal}");
    }
}

/// The frame numbers of each camera in the `frames` stream, in order.
fn frames_by_source(dir: &Path) -> std::collections::BTreeMap<String, Vec<u64>> {
    let read = run_in(dir, &["read", "frames", "--data-dir", "data"]).success();
    let mut out = std::collections::BTreeMap::<String, Vec<u64>>::new();
    for r in parse_ndjson(&read.stdout) {
        let data = &r["data"];
        if data["kind"] == "frame" {
            let source = data["source"].as_str().unwrap_or_default().to_owned();
            out.entry(source)
                .or_default()
                .push(data["frame"].as_u64().unwrap());
        }
    }
    out
}

#[test]
fn cameras_fill_the_frames_stream_a_query_writes_rows_and_sighup_reloads_by_name() {
    let rtsp = TestServer::start(&[Mount::new("cam").fps(10)]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rows = dir.path().join("rows.ndjson");
    let kept = camera("kept", BALL);
    let rtsp_cam = camera("rtsp", &rtsp.url("cam"));
    write_config(dir.path(), &[kept.clone(), rtsp_cam], Some(&rows));
    let server = Server::start(dir.path());

    // Both cameras' frames reach the stream; the API lists them up.
    wait_until(|| {
        let f = frames_by_source(dir.path());
        ready_or(f.len() == 2 && f.values().all(|v| v.len() >= 5), || {
            format!("frames so far: {:?}", f.keys().collect::<Vec<_>>())
        })
    });
    let sources = server.get("/api/sources");
    let names: Vec<&str> = sources
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["kept", "rtsp"]);
    // The query's rows: frames counted per source and second.
    wait_until(|| {
        let text = std::fs::read_to_string(&rows).unwrap_or_default();
        let n = parse_ndjson(&text)
            .iter()
            .filter(|r| r["source"] == "kept" && r["n"].as_u64() > Some(0))
            .count();
        ready_or(n >= 1, || format!("rows so far: {text:?}"))
    });
    // Its counters follow (updated once its read is handled).
    wait_until(|| {
        let queries = server.get("/api/queries");
        let running = queries[0]["state"] == "running";
        ready_or(running && queries[0]["rows"].as_u64() > Some(0), || {
            format!("{queries}")
        })
    });

    // Edit: the RTSP camera goes, a new test camera comes; SIGHUP.
    write_config(dir.path(), &[kept, camera("added", BALL)], Some(&rows));
    server.signal("HUP");
    wait_until(|| {
        let f = frames_by_source(dir.path());
        ready_or(f.get("added").is_some_and(|v| v.len() >= 3), || {
            format!("added's frames: {:?}", f.get("added").map(Vec::len))
        })
    });
    let before = frames_by_source(dir.path());
    let rtsp_before = before["rtsp"].len();
    let kept_before = before["kept"].len();
    wait_until(|| {
        let f = frames_by_source(dir.path());
        ready_or(f["kept"].len() >= kept_before + 5, || "kept stalled".into())
    });
    let after = frames_by_source(dir.path());
    assert_eq!(
        after["rtsp"].len(),
        rtsp_before,
        "the removed camera goes on"
    );
    // The kept camera never restarted: its frame numbers never went back.
    let kept = &after["kept"];
    assert!(
        kept.windows(2).all(|w| w[1] > w[0]),
        "kept's frame numbers restarted: {kept:?}"
    );
    let names: Vec<String> = server
        .get("/api/sources")
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["kept", "added"]);

    // A file that does not load changes nothing.
    std::fs::write(dir.path().join("osprey.toml"), "data_dir = [\n").unwrap();
    server.signal("HUP");
    let n = after["added"].len();
    wait_until(|| {
        let f = frames_by_source(dir.path());
        ready_or(f["added"].len() > n + 3, || {
            "added stopped after a bad reload".into()
        })
    });
    let mut server = server;
    server.signal("TERM");
    let status = server.proc.wait_exit("serve --config");
    let err = server.err.to_end("serve --config").join("\n");
    assert!(status.success(), "{status}: {err}");
    assert!(err.contains("the configuration was not reloaded"), "{err}");
}

#[test]
fn a_looping_file_camera_runs_past_its_end_into_a_query_and_a_delivery() {
    // 12 frames at 25 fps: the file ends after 0.48 s.
    let clip = crate::common::small_clip();
    let dir = tempfile::tempdir().unwrap();
    let rows = dir.path().join("rows.ndjson");
    let looped = format!(
        "[[cameras]]\nname = \"looped\"\nuri = \"{}\"\nloop = true\nkernels = [\"stats\"]\n",
        clip.display()
    );
    write_config(dir.path(), &[looped], Some(&rows));
    let delivery = "[[deliveries]]\nname = \"archive\"\nstream = \"frames\"\nto = \"archive\"\nbuffer_seconds = 0.5\n";
    let mut text = std::fs::read_to_string(dir.path().join("osprey.toml")).unwrap();
    text.push_str(delivery);
    std::fs::write(dir.path().join("osprey.toml"), text).unwrap();
    let started = Instant::now();
    let mut server = Server::start(dir.path());

    // Frames keep coming past the file's end: four rounds and more, their
    // numbers and pts growing without a repeat.
    let frames = |dir: &Path| -> Vec<(u64, f64)> {
        let read = run_in(dir, &["read", "frames", "--data-dir", "data"]).success();
        parse_ndjson(&read.stdout)
            .iter()
            .map(|r| &r["data"])
            .filter(|d| d["kind"] == "frame")
            .map(|d| (d["frame"].as_u64().unwrap(), d["pts"].as_f64().unwrap()))
            .collect()
    };
    wait_until(|| {
        let f = frames(dir.path());
        ready_or(f.len() >= 4 * 12, || format!("{} frames so far", f.len()))
    });
    let f = frames(dir.path());
    assert!(
        f.windows(2).all(|w| w[1].0 > w[0].0 && w[1].1 > w[0].1),
        "frame numbers or pts went back: {f:?}"
    );
    let (last, pts) = *f.last().unwrap();
    assert!(last >= 47 && pts > 3.0 * 0.48, "{f:?}");
    // Paced at real time: 48 frames of 25 fps take about 1.9 s, not the
    // few milliseconds decoding them takes.
    assert!(
        started.elapsed() >= Duration::from_secs_f64(1.5),
        "{:?}",
        started.elapsed()
    );
    // The camera stays up.
    let sources = server.get("/api/sources");
    assert_eq!(sources[0]["name"], "looped");
    assert_eq!(sources[0]["state"], "up", "{sources}");
    // The query writes rows; the delivery writes files of frame records.
    wait_until(|| {
        let text = std::fs::read_to_string(&rows).unwrap_or_default();
        let n = parse_ndjson(&text)
            .iter()
            .filter(|r| r["source"] == "looped" && r["n"].as_u64() > Some(0))
            .count();
        ready_or(n >= 1, || format!("rows so far: {text:?}"))
    });
    wait_until(|| {
        let delivered: usize = walk(&dir.path().join("archive"))
            .iter()
            .map(|p| {
                let text = std::fs::read_to_string(p).unwrap_or_default();
                parse_ndjson(&text)
                    .iter()
                    .filter(|r| r["kind"] == "frame" && r["source"] == "looped")
                    .count()
            })
            .sum();
        ready_or(delivered > 12, || format!("{delivered} frames delivered"))
    });
    server.signal("TERM");
    let status = server.proc.wait_exit("serve --config");
    let err = server.err.to_end("serve --config").join("\n");
    assert!(status.success(), "{status}: {err}");
}

/// Every file under `dir`, at any depth.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

#[test]
fn sigterm_under_load_exits_0_within_the_bound_and_loses_no_written_frame() {
    let dir = tempfile::tempdir().unwrap();
    let rows = dir.path().join("rows.ndjson");
    let cameras: Vec<String> = ["a", "b", "c"].iter().map(|n| camera(n, BALL)).collect();
    write_config(dir.path(), &cameras, Some(&rows));
    let mut server = Server::start(dir.path());
    // Under way: every camera has frames in the stream.
    wait_until(|| {
        let s = server.get("/api/sources");
        let written: Vec<u64> = s
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["frames_analyzed"].as_u64().unwrap_or(0))
            .collect();
        ready_or(
            written.len() == 3 && written.iter().all(|&n| n >= 10),
            || format!("frames so far: {written:?}"),
        )
    });
    let sources = server.get("/api/sources");
    server.signal("TERM");
    let asked = Instant::now();
    let status = server.proc.wait_exit("serve --config");
    let took = asked.elapsed();
    let err = server.err.to_end("serve --config").join("\n");
    assert!(status.success(), "{status}: {err}");
    assert!(took < BOUND, "took {took:?}: {err}");
    // Every frame written before the signal is readable, in order (a live
    // source may drop frames under load: numbers may skip, never go back).
    let frames = frames_by_source(dir.path());
    for s in sources.as_array().unwrap() {
        let name = s["name"].as_str().unwrap();
        let got = &frames[name];
        let counted = s["frames_analyzed"].as_u64().unwrap();
        assert!(
            got.len() as u64 >= counted,
            "{name}: {} < {counted}",
            got.len()
        );
        assert_eq!(got.first(), Some(&0), "{name}");
        let ordered = got.windows(2).all(|w| w[1] > w[0]);
        assert!(ordered, "{name}: frames out of order: {got:?}");
    }
    // The store was closed cleanly: the next writer finds it so.
    let lock = std::fs::read(dir.path().join("data/LOCK")).unwrap();
    assert_eq!(lock, b"clean\n");
}

/// The value of the sample `name` (with its labels) in a Prometheus text.
fn sample(metrics: &str, name: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[test]
fn a_camera_whose_server_dies_shows_down_in_metrics_comes_back_and_its_events_reach_a_webhook() {
    let rtsp = TestServer::start(&[Mount::new("door").fps(10)]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let hook = crate::webhook::Server::start(dir.path(), "200");
    let door = format!(
        "{}stall_timeout = \"1s\"\noutputs = [\"{}\"]\n",
        camera("door", &rtsp.url("door")),
        hook.url
    );
    write_config(dir.path(), &[door], None);
    let mut server = Server::start(dir.path());
    let up = r#"osprey_source_up{source="door"}"#;
    let metric = |name: &str| sample(&server.get_text("/metrics"), name);
    wait_until(|| ready_or(metric(up) == Some(1.0), || "door never came up".into()));

    rtsp.stop().unwrap();
    wait_until(|| ready_or(metric(up) == Some(0.0), || "door never went down".into()));
    let events = |ty: &str| {
        hook.accepted()
            .iter()
            .flatten()
            .filter(|r| r["kind"] == "event" && r["type"] == ty && r["source"] == "door")
            .count()
    };
    wait_until(|| {
        ready_or(events("camera_offline_start") >= 1, || {
            "no camera_offline_start at the webhook".into()
        })
    });

    rtsp.restart().unwrap();
    wait_until(|| ready_or(metric(up) == Some(1.0), || "door never came back".into()));
    wait_until(|| {
        ready_or(events("camera_offline_end") >= 1, || {
            "no camera_offline_end at the webhook".into()
        })
    });
    let text = server.get_text("/metrics");
    assert!(
        sample(&text, r#"osprey_frames_analyzed_total{source="door"}"#) > Some(0.0),
        "{text}"
    );
    assert!(
        sample(&text, r#"osprey_source_reconnects_total{source="door"}"#) >= Some(1.0),
        "{text}"
    );
    assert!(text.contains("osprey_http_requests_total{"), "{text}");
    server.signal("TERM");
    let status = server.proc.wait_exit("serve --config");
    assert!(status.success(), "{status:?}");
}

/// A query whose output folder is missing fails, shows `retrying` with the
/// error, and runs again on its own once the folder exists; its rows file
/// is appended to across a restart of the server, so the rows written
/// before stay.
#[test]
fn a_failed_query_runs_again_and_its_rows_file_outlives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let rows = dir.path().join("out").join("rows.ndjson");
    write_config(dir.path(), &[camera("cam", BALL)], Some(&rows));
    let mut server = Server::start(dir.path());
    wait_until(|| {
        let q = server.get("/api/queries");
        let error = q[0]["error"].as_str().unwrap_or_default();
        ready_or(
            q[0]["state"] == "retrying" && error.contains("out/rows.ndjson"),
            || format!("{q}"),
        )
    });
    std::fs::create_dir(dir.path().join("out")).unwrap();
    let rows_of = || parse_ndjson(&std::fs::read_to_string(&rows).unwrap_or_default());
    wait_until(|| {
        let n = rows_of().len();
        ready_or(n >= 2, || {
            format!("{n} rows; {}", server.get("/api/queries"))
        })
    });
    wait_until(|| {
        let q = server.get("/api/queries");
        ready_or(
            q[0]["state"] == "running" && q[0]["error"].is_null(),
            || format!("{q}"),
        )
    });
    server.signal("TERM");
    assert!(server.proc.wait_exit("serve --config").success());
    let before = std::fs::read_to_string(&rows).unwrap();
    let written = parse_ndjson(&before).len();

    let server = Server::start(dir.path());
    wait_until(|| {
        let n = rows_of().len();
        ready_or(n >= written + 2, || format!("{n} rows after the restart"))
    });
    let after = std::fs::read_to_string(&rows).unwrap();
    assert!(after.starts_with(&before), "the restart lost rows");
    // No window twice: each (window, source) once.
    let mut windows: Vec<(String, String)> = parse_ndjson(&after)
        .iter()
        .map(|r| (r["window_start"].to_string(), r["source"].to_string()))
        .collect();
    let all = windows.len();
    windows.sort();
    windows.dedup();
    assert_eq!(windows.len(), all, "a window written twice: {after}");
    let mut server = server;
    server.signal("TERM");
    assert!(server.proc.wait_exit("serve --config").success());
}
