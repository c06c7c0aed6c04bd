//! `osprey serve --cluster`: three workers on one JetStream server share a
//! 6-shard stream as a consumer group. The stream is fed at a steady rate
//! straight into JetStream by nats-py, routed as osprey routes
//! (`cluster_feed.py`); one worker is SIGKILLed mid-run and started again.
//! Every record is aggregated: the rows equal `osprey aggregate` over the
//! same records on one machine, a window written twice only as the exact
//! same row (at least once); the lease history (`cluster_leases.py`) shows
//! no shard owned by two workers at once and the killed worker's shards
//! taken over within the lease time.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{Lines, Proc, osprey, parse_ndjson, run_in};
use crate::nats_server::NatsServer;

/// The lease time and renewal interval the workers use.
const LEASE_MS: i64 = 2000;
const RENEW_MS: i64 = 500;

/// One worker: its folder, process and stderr.
struct Worker {
    proc: Proc,
    err: Lines,
}

/// The config of worker `id` (in its own folder), its query appending to
/// `out`.
fn write_config(dir: &Path, out: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let text = format!(
        "data_dir = \"data\"\nbackend = \"cpu\"\n[http]\nlisten = \"127.0.0.1:0\"\n\
         [cluster]\nurl = \"nats://unused:1\"\nlease_seconds = {}\nrenew_seconds = {}\n\
         [[streams]]\nname = \"telemetry\"\nshards = 6\n\
         [[queries]]\nname = \"per_device\"\ninput = \"telemetry\"\noutput = \"{}\"\n\
         flags = [\"--window\", \"tumbling:1s\", \"--group-by\", \"device\", \"--agg\", \"count(*) as n, sum(value) as total\"]\n",
        LEASE_MS as f64 / 1000.0,
        RENEW_MS as f64 / 1000.0,
        out.display()
    );
    std::fs::write(dir.join("osprey.toml"), text).unwrap();
}

impl Worker {
    /// Starts worker `id` in `dir` on the cluster at `url` (the flags
    /// override the file's url and set the id).
    fn start(dir: &Path, url: &str, id: &str) -> Worker {
        let mut cmd = osprey();
        cmd.current_dir(dir)
            .args(["serve", "--config", "osprey.toml", "--cluster", url])
            .args(["--worker-id", id])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut proc = Proc::spawn(&mut cmd);
        let err = proc.stderr_lines();
        err.announced("osprey: serving on http://", id);
        Worker { proc, err }
    }
}

/// The rows of an NDJSON file, as JSON values.
fn rows(path: &Path) -> Vec<Value> {
    parse_ndjson(&std::fs::read_to_string(path).unwrap_or_default())
}

/// The rows of windows before `before` (the sentinels' window), keyed by
/// window start and device.
fn keyed(rows: &[Value], before: &str) -> BTreeMap<(String, String), Vec<Value>> {
    let mut out: BTreeMap<(String, String), Vec<Value>> = BTreeMap::new();
    for r in rows {
        let start = r["window_start"].as_str().unwrap().to_owned();
        if start.as_str() < before {
            let device = r["device"].as_str().unwrap().to_owned();
            out.entry((start, device)).or_default().push(r.clone());
        }
    }
    out
}

fn python(script: &str, args: &[&str]) -> String {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "it", script]
        .iter()
        .collect();
    let out = Command::new("python3")
        .arg(path)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn three_workers_share_a_stream_through_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(dir.path());
    let out = dir.path().join("rows.ndjson");
    let ids = ["w1", "w2", "w3"];
    for id in ids {
        write_config(&dir.path().join(id), &out);
    }
    let mut workers: Vec<Worker> = ids
        .iter()
        .map(|id| Worker::start(&dir.path().join(id), &nats.url, id))
        .collect();

    // 300 records/s for 6 s, 12 devices, 1 s of event time a second.
    let input = dir.path().join("input.ndjson");
    let feed = {
        let (url, input) = (nats.url.clone(), input.clone());
        std::thread::spawn(move || {
            let input = input.to_str().unwrap();
            python(
                "cluster_feed.py",
                &[&url, "telemetry", "6", "300", "6", input],
            )
        })
    };
    std::thread::sleep(Duration::from_millis(2000));
    workers[1].proc.kill_now();
    let killed = Instant::now();
    std::thread::sleep(Duration::from_millis(3000));
    workers[1] = Worker::start(&dir.path().join("w2"), &nats.url, "w2");
    let fed: usize = feed.join().unwrap().trim().parse().unwrap();
    assert_eq!(fed, 1800 + 12);

    // One machine, the same records.
    let single = dir.path().join("single.ndjson");
    run_in(
        dir.path(),
        &[
            "aggregate",
            input.to_str().unwrap(),
            "--window",
            "tumbling:1s",
            "--group-by",
            "device",
            "--agg",
            "count(*) as n, sum(value) as total",
            "--backend",
            "cpu",
            "--output",
            single.to_str().unwrap(),
        ],
    )
    .success();
    let single = rows(&single);
    let sentinel = single
        .iter()
        .map(|r| r["window_start"].as_str().unwrap().to_owned())
        .max()
        .unwrap();
    let expected = keyed(&single, &sentinel);
    assert_eq!(expected.len(), 6 * 12, "{single:?}");

    // Every window of the cluster's, as one machine wrote it.
    let deadline = Instant::now() + Duration::from_secs(20);
    let got = loop {
        let got = keyed(&rows(&out), &sentinel);
        if got.len() >= expected.len() || Instant::now() > deadline {
            break got;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut twice = 0;
    for (key, want) in &expected {
        let Some(seen) = got.get(key) else {
            panic!(
                "window {key:?} missing; stderr of w1: {:?}",
                workers[0].err.to_end("w1")
            );
        };
        // At least once: a window written again is the same row.
        for row in seen {
            assert_eq!(row, &want[0], "window {key:?}");
        }
        twice += seen.len() - 1;
    }
    assert_eq!(got.len(), expected.len(), "windows the single run has not");
    let total: u64 = got.values().map(|v| v[0]["n"].as_u64().unwrap()).sum();
    assert_eq!(total, 1800, "every record aggregated once per window");

    // The lease history: one owner at a time, takeovers within the lease.
    let keys: Vec<String> = (0..6)
        .map(|i| format!("per_device.telemetry.shardId-{i:012}"))
        .collect();
    let mut args = vec![nats.url.as_str()];
    args.extend(keys.iter().map(String::as_str));
    let history: Value = serde_json::from_str(&python("cluster_leases.py", &args)).unwrap();
    let mut owners = BTreeSet::new();
    let mut taken_from_w2 = 0;
    for key in &keys {
        let revs = history[key].as_array().unwrap();
        assert!(!revs.is_empty(), "{key}: no lease");
        for pair in revs.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            let (wa, wb) = (a["worker"].as_str().unwrap(), b["worker"].as_str().unwrap());
            owners.insert(wb.to_owned());
            if wa.is_empty() || wb.is_empty() || wa == wb {
                continue;
            }
            // A takeover: only after the holder's last renewal aged a
            // whole lease (it stopped before that), and soon after it.
            let gap = b["at_ms"].as_i64().unwrap() - a["at_ms"].as_i64().unwrap();
            assert!(
                gap >= LEASE_MS - 50,
                "{key}: {wb} took {wa}'s lease after {gap} ms"
            );
            assert!(
                gap <= LEASE_MS + 2 * RENEW_MS + 1500,
                "{key}: failover took {gap} ms"
            );
            if wa == "w2" {
                taken_from_w2 += 1;
            }
        }
    }
    assert!(
        taken_from_w2 >= 1,
        "no shard of the killed worker was taken: {history}"
    );
    assert!(
        owners.contains("w2"),
        "the restarted worker took no shard: {history}"
    );
    eprintln!(
        "cluster: {} windows, {twice} written twice; killed at {:?} before the end",
        got.len(),
        killed.elapsed()
    );
    for mut w in workers {
        w.proc.kill_now();
    }
    drop(nats);
}
