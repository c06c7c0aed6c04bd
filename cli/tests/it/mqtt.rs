//! MQTT out and in against a real mosquitto started on a free port of
//! 127.0.0.1 (persistence in the test's folder, so a restart keeps the
//! sessions), with `mosquitto_sub` and `mosquitto_pub` as the independent
//! clients: `osprey analyze --output mqtt://` (events in order on
//! `PREFIX/SOURCE/events`, retained motion and availability), `osprey
//! deliver --to mqtt://` across a broker restart (queued, then delivered;
//! drops counted only past `?queue=`), the last will of a killed osprey, and
//! `osprey put STREAM mqtt://...` across a broker restart (nothing missed).

use std::io::{BufRead, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{Lines, Proc, arg, osprey, parse_ndjson, run, run_in, wait_until};
use crate::motion_events::vanishing_clip;

/// A program of the mosquitto packages: on PATH, or in /usr/sbin (the
/// broker, which a test's PATH may lack).
fn tool(name: &str) -> PathBuf {
    let sbin = Path::new("/usr/sbin").join(name);
    if sbin.exists() {
        return sbin;
    }
    Path::new("/usr/bin").join(name)
}

/// A mosquitto on a free port, persisting into the folder it was given;
/// killed when dropped.
struct Broker {
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
    /// Lines of its log (it logs subscriptions and connections).
    log: Option<Receiver<String>>,
}

impl Broker {
    fn start(dir: &Path) -> Broker {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut broker = Broker {
            dir: dir.to_owned(),
            port,
            child: None,
            log: None,
        };
        broker.up();
        broker
    }

    /// Starts mosquitto on its port and waits until it accepts connections.
    fn up(&mut self) {
        let conf = self.dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {} 127.0.0.1\nallow_anonymous true\npersistence true\n\
                 persistence_location {}/\nlog_dest stderr\nlog_type all\n\
                 # Run as root, it would drop to user mosquitto, which cannot\n\
                 # write its sessions into the test's folder.\nuser root\n",
                self.port,
                self.dir.display()
            ),
        )
        .unwrap();
        let mut child = Command::new(tool("mosquitto"))
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        self.child = Some(child);
        self.log = Some(rx);
        let port = self.port;
        wait_until(|| {
            TcpStream::connect(("127.0.0.1", port))
                .map(drop)
                .map_err(|e| format!("mosquitto on {port}: {e}"))
        });
    }

    /// Stops it (SIGTERM: it saves its sessions) and waits for the end.
    fn down(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let _ = child.wait();
        }
    }

    /// Waits for a log line holding `text`.
    fn logged(&self, text: &str) {
        let log = self.log.as_ref().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while let Ok(line) = log.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            if line.contains(text) {
                return;
            }
        }
        panic!("mosquitto never logged {text:?}");
    }

    fn url(&self, path: &str) -> String {
        format!("mqtt://127.0.0.1:{}/{path}", self.port)
    }

    /// `mosquitto_sub` of `topic` as the persistent session `id` (QoS 1),
    /// printing `RETAIN TOPIC PAYLOAD` lines; started once the broker logs
    /// its subscription.
    fn subscriber(&self, id: &str, topic: &str) -> Subscriber {
        let mut child = Command::new(tool("mosquitto_sub"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-q", "1", "-c", "-i", id, "-t", topic, "-F", "%r %t %p"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (tx, rx) = channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        self.logged(&format!("{id} 1 {topic}"));
        Subscriber { child, lines: rx }
    }

    /// Publishes `lines` on `topic` at QoS 1, one message a line.
    fn publish(&self, topic: &str, lines: &str) {
        let mut child = Command::new(tool("mosquitto_pub"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-q", "1", "-t", topic, "-l"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(lines.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success());
    }

    /// The retained messages of `topics` now, `RETAIN TOPIC PAYLOAD`.
    fn retained(&self, topics: &[&str]) -> Vec<String> {
        let mut cmd = Command::new(tool("mosquitto_sub"));
        cmd.args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["--retained-only", "-W", "1", "-F", "%r %t %p"]);
        for t in topics {
            cmd.args(["-t", t]);
        }
        let out = cmd.output().unwrap();
        let mut lines: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        lines.sort();
        lines
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An independent subscriber's lines; killed when dropped.
struct Subscriber {
    child: Child,
    lines: Receiver<String>,
}

impl Subscriber {
    /// The next `n` lines (panics after 20 s without them).
    fn take(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            match self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) => out.push(line),
                Err(_) => panic!("{} of {n} messages came: {out:#?}", out.len()),
            }
        }
        out
    }

    /// Lines that came within `wait` (none expected).
    fn more(&self, wait: Duration) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(wait) {
            out.push(line);
        }
        out
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `i` of the records among `lines` (on `out/t/records`).
fn ids(lines: Vec<String>) -> Vec<u64> {
    lines
        .iter()
        .map(|l| split(l))
        .filter(|(_, t, _)| *t == "out/t/records")
        .map(|(_, _, p)| {
            serde_json::from_str::<Value>(p).unwrap()["i"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

/// The `i` of the records `sub` gets until it has every one of `want`, in
/// the order each first came; availability messages (the broker's own last
/// will for osprey at its shutdown, `online` again) passed over. A record
/// before `want` may come again (at least once: a broker stopped before it
/// got or gave an acknowledgement sends it again) unless it is in `never`;
/// any other is a failure.
fn records(sub: &Subscriber, want: Range<u64>, never: Range<u64>) -> Vec<u64> {
    let mut out: Vec<u64> = Vec::new();
    while !want.clone().all(|i| out.contains(&i)) {
        for i in ids(sub.take(1)) {
            assert!(
                i < want.end && !never.contains(&i),
                "record {i} came, waiting for {want:?}"
            );
            if want.contains(&i) && !out.contains(&i) {
                out.push(i);
            }
        }
    }
    out
}

/// Waits for a line of `log` holding `text`.
#[track_caller]
fn said(log: &Lines, text: &str) {
    while let Some(line) = log.next(text) {
        if line.contains(text) {
            return;
        }
    }
    panic!("osprey ended before saying {text:?}");
}

/// `(retain, topic, payload)` of a subscriber's line.
fn split(line: &str) -> (&str, &str, &str) {
    let mut parts = line.splitn(3, ' ');
    let mut next = || parts.next().unwrap_or_default();
    (next(), next(), next())
}

/// analyze of a clip with one motion period: every event, in order, on
/// `osprey/cam/events` as the file output has it, every frame on
/// `osprey/cam/frames`, motion `ON` then `OFF` (retained), `available`
/// `online` first and `offline` last (retained).
#[test]
fn analyze_publishes_events_motion_and_availability() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let sub = broker.subscriber("events-sub", "osprey/#");
    let clip = vanishing_clip();
    let analyze = |output: &str| {
        run(&[
            "analyze",
            arg(clip),
            "--source",
            "cam",
            "--kernels",
            "motion",
            "--backend",
            "cpu",
            "--output",
            output,
        ])
        .success()
    };
    let file = dir.path().join("records.ndjson");
    analyze(file.to_str().unwrap());
    let records = parse_ndjson(&std::fs::read_to_string(&file).unwrap());
    let events: Vec<&Value> = records.iter().filter(|r| r["kind"] == "event").collect();
    assert!(
        events.iter().any(|e| e["type"] == "motion_start")
            && events.iter().any(|e| e["type"] == "motion_end"),
        "the clip has a motion period: {events:?}"
    );
    analyze(&broker.url("osprey"));
    // The records, two motion states, online and offline.
    let lines = sub.take(records.len() + 4);
    assert_eq!(split(&lines[0]), ("0", "osprey/available", "online"));
    assert_eq!(
        split(&lines[lines.len() - 1]),
        ("0", "osprey/available", "offline")
    );
    let on_topic = |topic: &str| -> Vec<Value> {
        lines
            .iter()
            .map(|l| split(l))
            .filter(|(_, t, _)| *t == topic)
            .map(|(_, _, p)| serde_json::from_str(p).unwrap())
            .collect()
    };
    let published = on_topic("osprey/cam/events");
    assert_eq!(
        published.iter().collect::<Vec<_>>(),
        events,
        "every event, in order"
    );
    let frames = on_topic("osprey/cam/frames");
    assert_eq!(frames.len(), records.len() - events.len());
    let motion: Vec<&str> = lines
        .iter()
        .map(|l| split(l))
        .filter(|(_, t, _)| *t == "osprey/cam/motion")
        .map(|(_, _, p)| p)
        .collect();
    assert_eq!(motion, ["ON", "OFF"]);
    assert_eq!(
        broker.retained(&["osprey/available", "osprey/cam/motion"]),
        ["1 osprey/available offline", "1 osprey/cam/motion OFF"]
    );
}

/// `osprey deliver --to mqtt://` following a stream: records published on
/// `PREFIX/STREAM/records`; the broker restarted: what was put meanwhile
/// is queued, then delivered; away again with `?queue=10`, 30 records put:
/// the 10 newest come, the 20 oldest are dropped and said; SIGKILL: the
/// last will says `offline`.
#[test]
fn deliver_queues_across_a_broker_restart_and_leaves_a_last_will() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let mut broker = Broker::start(dir.path());
    run(&["stream", "create", "t", "--data-dir", data_arg]).success();
    let put = |from: usize, to: usize| {
        let lines: String = (from..to).map(|i| format!("{{\"i\":{i}}}\n")).collect();
        crate::common::run_stdin(
            dir.path(),
            &["put", "t", "--data-dir", data_arg],
            lines.as_bytes(),
        )
        .success();
    };
    let sub = broker.subscriber("deliver-sub", "out/#");
    let mut deliver = Proc::spawn(
        osprey()
            .args(["deliver", "t", "--follow", "--buffer-seconds", "0.05"])
            .args(["--data-dir", data_arg, "--to"])
            .arg(broker.url("out?queue=10"))
            .stderr(Stdio::piped()),
    );
    let log = deliver.stderr_lines();
    assert_eq!(split(&sub.take(1)[0]), ("0", "out/available", "online"));
    put(0, 5);
    assert_eq!(records(&sub, 0..5, 0..0), [0, 1, 2, 3, 4]);

    // Away within the bound: queued, then delivered after `online`.
    broker.down();
    said(&log, "unreachable");
    put(5, 10);
    broker.up();
    assert_eq!(records(&sub, 5..10, 0..0), [5, 6, 7, 8, 9]);

    // Away past the bound: the oldest 20 of 30 dropped, and said.
    broker.down();
    put(10, 40);
    wait_until(|| {
        let s = run(&["read", "t", "--data-dir", data_arg])
            .stdout
            .lines()
            .count();
        crate::common::ready_or(s == 40, || format!("{s} of 40 records put"))
    });
    std::thread::sleep(Duration::from_millis(300));
    broker.up();
    let newest = records(&sub, 30..40, 10..30);
    assert_eq!(
        newest,
        (30..40).collect::<Vec<_>>(),
        "the 20 oldest dropped"
    );
    said(&log, "20 messages were dropped while it was away");
    let late: Vec<u64> = ids(sub.more(Duration::from_millis(300)))
        .into_iter()
        .filter(|i| (10..30).contains(i))
        .collect();
    assert!(late.is_empty(), "dropped records came: {late:?}");

    // Killed: the broker says `offline` for it.
    deliver.kill_now();
    assert_eq!(split(&sub.take(1)[0]), ("0", "out/available", "offline"));
}

/// `osprey put STREAM mqtt://HOST/sensors/#`: 50 messages, the broker
/// restarted, 50 more while osprey reconnects: all 100 in the stream, each
/// with its topic.
#[test]
fn put_from_mqtt_misses_nothing_across_a_broker_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let mut broker = Broker::start(dir.path());
    run(&["stream", "create", "s", "--data-dir", data_arg]).success();
    let mut put = Proc::spawn(
        osprey()
            .args(["put", "s", "--data-dir", data_arg])
            .arg(broker.url("sensors/#")),
    );
    broker.logged("osprey-put-s 1 sensors/#");
    let lines = |from: usize, to: usize| -> String {
        (from..to).map(|i| format!("{{\"i\":{i}}}\n")).collect()
    };
    broker.publish("sensors/a", &lines(0, 50));
    broker.down();
    broker.up();
    broker.publish("sensors/b", &lines(50, 100));
    let read = || -> Vec<Value> {
        parse_ndjson(&run_in(dir.path(), &["read", "s", "--data-dir", data_arg]).stdout)
    };
    wait_until(|| {
        let n = read().len();
        crate::common::ready_or(n >= 100, || format!("{n} of 100 records stored"))
    });
    put.kill_now();
    let mut seen: Vec<(u64, String)> = read()
        .iter()
        .map(|r| {
            let data = &r["data"];
            (
                data["i"].as_u64().unwrap(),
                data["topic"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    seen.sort();
    seen.dedup();
    let want: Vec<(u64, String)> = (0..100)
        .map(|i| (i, if i < 50 { "sensors/a" } else { "sensors/b" }.to_owned()))
        .collect();
    assert_eq!(seen, want);
}
