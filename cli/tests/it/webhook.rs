//! `osprey deliver --to http://...` against a real HTTP server on 127.0.0.1
//! (Python's `http.server`, written to the test's folder): every record
//! arrives exactly once and in order per shard across retries (503, 429 with
//! Retry-After), batches follow the buffer hints, a server that always fails
//! makes the run give up with the checkpoint kept, a 400 stops the run or is
//! set aside with `--errors-to`, and bad destinations fail clearly.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{Proc, arg, osprey, parse_ndjson, ready_or, wait_until};
use crate::stream::os;

/// The server: each POST is answered with the first line of `plan`
/// ("STATUS [RETRY-AFTER]"), which is consumed unless it is the last one, and
/// recorded as `req-NNNN.json`: the answer's status, when the request came
/// (`at`, seconds on a monotonic clock), the headers and the (gunzipped)
/// body.
const SERVER: &str = r#"
import gzip, http.server, json, os, sys, threading, time
out = sys.argv[1]
lock = threading.Lock()
count = [0]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = gzip.decompress(raw) if self.headers.get("Content-Encoding") == "gzip" else raw
        with lock:
            path = os.path.join(out, "plan")
            lines = [l for l in open(path).read().splitlines() if l.strip()]
            if len(lines) > 1:
                open(path, "w").write("\n".join(lines[1:]) + "\n")
            answer = lines[0].split()
            n = count[0]
            count[0] += 1
        status = int(answer[0])
        record = {"status": status, "at": time.monotonic(), "headers": {k.lower(): v for k, v in self.headers.items()},
                  "body": body.decode()}
        tmp = os.path.join(out, "req-%04d.tmp" % n)
        json.dump(record, open(tmp, "w"))
        os.rename(tmp, os.path.join(out, "req-%04d.json" % n))
        reply = b"ok" if status < 300 else b"bad batch: field x\nis wrong"
        self.send_response(status)
        if len(answer) > 1:
            self.send_header("Retry-After", answer[1])
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(os.path.join(out, "port.tmp"), "w").write(str(server.server_address[1]))
os.rename(os.path.join(out, "port.tmp"), os.path.join(out, "port"))
server.serve_forever()
"#;

/// A running test server, killed when dropped.
pub(crate) struct Server {
    _child: Proc,
    dir: PathBuf,
    pub(crate) url: String,
}

impl Server {
    /// Starts the server in `dir/http` answering with `plan`.
    pub(crate) fn start(dir: &Path, plan: &str) -> Server {
        let dir = dir.join("http");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("server.py"), SERVER).unwrap();
        let mut server = Server {
            _child: Proc::spawn(
                Command::new("python3")
                    .arg(dir.join("server.py"))
                    .arg(&dir)
                    .stdout(Stdio::null()),
            ),
            url: String::new(),
            dir,
        };
        server.plan(plan);
        let port_file = server.dir.join("port");
        wait_until(|| ready_or(port_file.exists(), || "the server did not start".into()));
        let port = std::fs::read_to_string(port_file).unwrap();
        server.url = format!("http://127.0.0.1:{}/in", port.trim());
        server
    }

    /// Answers from now on follow `plan`.
    fn plan(&self, plan: &str) {
        let tmp = self.dir.join("plan.tmp");
        std::fs::write(&tmp, plan).unwrap();
        std::fs::rename(tmp, self.dir.join("plan")).unwrap();
    }

    /// The requests seen so far, in order.
    fn requests(&self) -> Vec<Value> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy();
                name.starts_with("req-") && name.ends_with(".json")
            })
            .collect();
        paths.sort();
        paths
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }

    /// The bodies answered 2xx, each as its records.
    pub(crate) fn accepted(&self) -> Vec<Vec<Value>> {
        self.requests()
            .iter()
            .filter(|r| r["status"].as_u64().unwrap() < 300)
            .map(|r| parse_ndjson(r["body"].as_str().unwrap()))
            .collect()
    }

    /// Waits until `n` bodies were answered 2xx.
    fn wait_accepted(&self, n: usize) {
        wait_until(|| {
            let came = self.accepted().len();
            ready_or(came >= n, || format!("{came} of {n} batches came"))
        });
    }
}

/// `n` records starting at `t = from` over 5 devices, one JSON object a line.
fn records(from: u32, n: u32) -> String {
    (from..from + n)
        .map(|t| {
            format!(
                "{{\"dev\":\"d{}\",\"t\":{t},\"pad\":\"{}\"}}\n",
                t % 5,
                "x".repeat(20)
            )
        })
        .collect()
}

/// A stream `s` of 2 shards holding `records(0, n)`, the device as partition key.
fn stream_with(dir: &Path, n: u32) {
    os(dir, &["stream", "create", "s", "--shards", "2"], "").success();
    os(
        dir,
        &["put", "s", "--partition-key-field", "dev"],
        &records(0, n),
    )
    .success();
}

/// Checks that `bodies` hold `t = 0..n` exactly once each, and that each
/// device's (so each shard's) records come in put order.
#[track_caller]
fn exactly_once_in_order(bodies: &[Vec<Value>], n: u64) {
    let mut last: BTreeMap<String, i64> = BTreeMap::new();
    let mut seen: Vec<u64> = Vec::new();
    for r in bodies.iter().flatten() {
        let (dev, t) = (r["dev"].as_str().unwrap(), r["t"].as_u64().unwrap());
        let before = last.insert(dev.to_owned(), t as i64).unwrap_or(-1);
        assert!(before < t as i64, "{dev}: {t} after {before}");
        seen.push(t);
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..n).collect::<Vec<_>>());
}

fn deliver<'a>(url: &'a str, more: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["deliver", "s", "--to", url];
    args.extend_from_slice(more);
    args
}

#[test]
fn retries_until_acknowledged_every_record_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    stream_with(dir.path(), 300);
    let server = Server::start(dir.path(), "503\n503\n429 1\n200\n");
    let started = Instant::now();
    let args = deliver(
        &server.url,
        &[
            "--buffer-mib",
            "0.002",
            "--header",
            "Authorization: Bearer x",
            "--compression",
            "gzip",
        ],
    );
    let run = os(dir.path(), &args, "").success();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was honoured"
    );
    let requests = server.requests();
    // The waits between attempts: the backoff's (200 ms at first, doubling,
    // jittered down to half) after each 503, then the second that the 429's
    // Retry-After asks for, where the backoff alone would wait at most 0.8 s.
    let gap =
        |i: usize| requests[i + 1]["at"].as_f64().unwrap() - requests[i]["at"].as_f64().unwrap();
    assert!(
        gap(0) >= 0.1 && gap(1) >= 0.2,
        "backoff: {} s, {} s",
        gap(0),
        gap(1)
    );
    assert!(gap(2) >= 1.0, "Retry-After: 1 waited only {} s", gap(2));
    let accepted = server.accepted();
    assert!(accepted.len() > 3, "several batches: {}", accepted.len());
    assert_eq!(requests.len(), accepted.len() + 3);
    assert!(
        run.stderr.contains(&format!(
            "delivered 300 records in {} requests to {} (3 retries)",
            accepted.len(),
            server.url
        )),
        "{}",
        run.stderr
    );
    // The three refused attempts carried the batch that then passed.
    for r in &requests[..3] {
        assert_eq!(r["body"], requests[3]["body"]);
    }
    for r in &requests {
        let h = &r["headers"];
        assert_eq!(h["content-type"], "application/x-ndjson");
        assert_eq!(h["content-encoding"], "gzip");
        assert_eq!(h["authorization"], "Bearer x");
    }
    exactly_once_in_order(&accepted, 300);
    // --buffer-mib: each batch but the last is just past 0.002 MiB of data.
    let limit = (0.002 * f64::from(1 << 20)) as usize;
    let data = |b: &Vec<Value>| b.iter().map(|r| r.to_string().len()).sum::<usize>();
    for b in &accepted[..accepted.len() - 1] {
        let d = data(b);
        assert!(
            d >= limit && d < limit + 100,
            "{d} bytes of data in a batch"
        );
    }
    // The checkpoint moved: a second run has nothing to send.
    let run = os(dir.path(), &deliver(&server.url, &[]), "").success();
    assert!(
        run.stderr.contains("delivered 0 records in 0 requests"),
        "{}",
        run.stderr
    );
    assert_eq!(server.requests().len(), requests.len());
}

#[test]
fn with_follow_a_batch_goes_once_its_oldest_record_waited_buffer_seconds() {
    let dir = tempfile::tempdir().unwrap();
    os(dir.path(), &["stream", "create", "s", "--shards", "2"], "").success();
    let server = Server::start(dir.path(), "200\n");
    let mut follower = Proc::spawn(
        osprey()
            .args(deliver(&server.url, &["--follow", "--buffer-seconds", "1"]))
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .stderr(Stdio::null()),
    );
    let put = |from, n| {
        os(
            dir.path(),
            &["put", "s", "--partition-key-field", "dev"],
            &records(from, n),
        )
        .success();
    };
    put(0, 10);
    server.wait_accepted(1);
    put(10, 7);
    server.wait_accepted(2);
    follower.kill_now();
    let accepted = server.accepted();
    assert_eq!(accepted.len(), 2);
    assert_eq!(accepted[0].len(), 10, "{:?}", accepted[0]);
    assert_eq!(accepted[1].len(), 7, "{:?}", accepted[1]);
    exactly_once_in_order(&accepted, 17);
}

#[test]
fn a_server_that_always_fails_makes_the_run_give_up_and_the_next_run_resend() {
    let dir = tempfile::tempdir().unwrap();
    stream_with(dir.path(), 50);
    let server = Server::start(dir.path(), "500\n");
    let started = Instant::now();
    let args = deliver(&server.url, &["--retry-seconds", "1.5", "-q"]);
    let line = os(dir.path(), &args, "").fails_with(1);
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(1500), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    for part in [
        "gave up on webhook",
        "HTTP 500 Internal Server Error: bad batch: field x is wrong",
        "50 records from shardId-",
        "checkpoint stays before them",
    ] {
        assert!(line.contains(part), "{part:?} in {line}");
    }
    let attempts = server.requests().len();
    assert!(attempts > 2, "{attempts} attempts");
    assert!(server.accepted().is_empty());
    // Same consumer, the server healed: every record is sent.
    server.plan("200\n");
    os(dir.path(), &deliver(&server.url, &[]), "").success();
    let accepted = server.accepted();
    assert_eq!(accepted.len(), 1);
    exactly_once_in_order(&accepted, 50);
}

#[test]
fn a_400_stops_the_run_unless_errors_to_sets_the_batch_aside() {
    let dir = tempfile::tempdir().unwrap();
    stream_with(dir.path(), 20);
    let server = Server::start(dir.path(), "400\n");
    let line = os(dir.path(), &deliver(&server.url, &[]), "").fails_with(1);
    for part in [
        "refused the batch with HTTP 400: bad batch: field x is wrong",
        "give --errors-to DIR",
        "checkpoint stays before them",
    ] {
        assert!(line.contains(part), "{part:?} in {line}");
    }
    assert_eq!(server.requests().len(), 1, "a 400 is not retried");
    // A 401 says the credentials are wrong: it stops even with --errors-to.
    let errors = dir.path().join("errors");
    server.plan("401\n");
    let with_errors = deliver(&server.url, &["--errors-to", arg(&errors)]);
    let line = os(dir.path(), &with_errors, "").fails_with(1);
    assert!(line.contains("HTTP 401"), "{line}");
    assert!(!errors.exists());
    // With --errors-to, the 400ed batch is written there and the run goes on.
    server.plan("400\n");
    let run = os(dir.path(), &with_errors, "").success();
    assert!(
        run.stderr.contains(&format!(
            "delivered 0 records in 0 requests to {}",
            server.url
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!("20 to {}", errors.display())),
        "{}",
        run.stderr
    );
    let mut lines = Vec::new();
    let mut stack = vec![errors.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                assert!(p.to_string_lossy().ends_with(".ndjson"), "{p:?}");
                lines.extend(parse_ndjson(&std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    assert_eq!(lines.len(), 20);
    for l in &lines {
        assert!(l["reason"].as_str().unwrap().contains("HTTP 400"), "{l}");
        assert!(l["shard"].is_string() && l["seq"].is_u64(), "{l}");
    }
    let data: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l["data"].as_str().unwrap()).unwrap())
        .collect();
    exactly_once_in_order(&[data], 20);
    // Set aside counts as handled: the checkpoint moved past them.
    server.plan("200\n");
    let run = os(dir.path(), &deliver(&server.url, &[]), "").success();
    assert!(run.stderr.contains("delivered 0 records"), "{}", run.stderr);
}

#[test]
fn bad_destinations_and_flags_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    stream_with(dir.path(), 3);
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/", listener.local_addr().unwrap());
    drop(listener);
    let line = os(
        dir.path(),
        &deliver(&dead, &["--retry-seconds", "0.5", "-q"]),
        "",
    )
    .fails_with(1);
    assert!(line.contains("gave up on webhook"), "{line}");
    assert!(
        line.contains("cannot connect or send: connection refused"),
        "{line}"
    );
    let usage = |args: &[&str], want: &str| {
        let line = os(dir.path(), args, "").fails_with(2);
        assert!(line.contains(want), "{want:?} in {line}");
    };
    usage(
        &deliver("https://127.0.0.1:9/", &[]),
        "https is not supported",
    );
    usage(
        &deliver(&dead, &["--header", "no colon"]),
        "expected NAME: VALUE",
    );
    usage(
        &deliver(&dead, &["--header", "Content-Length: 3"]),
        "sets this header itself",
    );
    usage(
        &deliver(&dead, &["--format", "parquet"]),
        "a webhook takes --format ndjson",
    );
    usage(
        &deliver(&dead, &["--timeout-seconds", "0"]),
        "--timeout-seconds must be above 0",
    );
    usage(
        &deliver(&dead, &["--retry-seconds=-1"]),
        "--retry-seconds must be 0 or more",
    );
    let out = dir.path().join("out");
    usage(
        &deliver(arg(&out), &["--header", "A: b"]),
        "--header applies to webhook",
    );
    usage(
        &deliver(arg(&out), &["--retry-seconds", "1"]),
        "--retry-seconds applies to webhook",
    );
}

#[test]
fn analyze_output_to_a_webhook_posts_each_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "503\n200\n");
    let clip = crate::common::small_clip();
    let run = crate::common::run(&[
        "analyze",
        arg(clip),
        "--backend",
        "cpu",
        "--chunk-frames",
        "8",
        "--output",
        &server.url,
    ])
    .success();
    let accepted = server.accepted();
    assert!(accepted.len() >= 2, "a POST a chunk: {}", accepted.len());
    assert_eq!(
        server.requests().len(),
        accepted.len() + 1,
        "one 503 retried"
    );
    let records: Vec<&Value> = accepted.iter().flatten().collect();
    let frames: Vec<u64> = records
        .iter()
        .filter(|r| r["kind"] == "frame")
        .map(|r| r["frame"].as_u64().unwrap())
        .collect();
    assert_eq!(frames, (0..12).collect::<Vec<_>>(), "{}", run.stderr);
    assert!(records.iter().all(|r| r["source"] == "small-64x48"));
    assert!(run.stdout.is_empty());
}
