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

/// One worker: its folder, process, stderr and HTTP address.
struct Worker {
    proc: Proc,
    err: Lines,
    addr: String,
}

/// The config of a worker (in its own folder `dir`): `tables` after the
/// cluster's.
fn write_config(dir: &Path, tables: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let text = format!(
        "data_dir = \"data\"\nbackend = \"cpu\"\n[http]\nlisten = \"127.0.0.1:0\"\n\
         [cluster]\nurl = \"nats://unused:1\"\nlease_seconds = {}\nrenew_seconds = {}\n{tables}",
        LEASE_MS as f64 / 1000.0,
        RENEW_MS as f64 / 1000.0,
    );
    std::fs::write(dir.join("osprey.toml"), text).unwrap();
}

/// The tables of the 6-shard `telemetry` stream and its `per_device`
/// query appending to `out`.
fn telemetry_query(out: &Path) -> String {
    format!(
        "[[streams]]\nname = \"telemetry\"\nshards = 6\n\
         [[queries]]\nname = \"per_device\"\ninput = \"telemetry\"\noutput = \"{}\"\n\
         flags = [\"--window\", \"tumbling:1s\", \"--group-by\", \"device\", \"--agg\", \"count(*) as n, sum(value) as total\"]\n",
        out.display()
    )
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
        let addr = err.announced("osprey: serving on http://", id);
        Worker { proc, err, addr }
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

/// The lease history of the `shards` shards of `prefix` (`group.stream`),
/// checked: a lease goes from one worker to another only after the
/// holder's last renewal aged a whole lease (it stopped before that), and
/// soon after. Returns the workers that held a lease and the takeovers
/// (from, to).
fn lease_history(
    url: &str,
    prefix: &str,
    shards: usize,
) -> (BTreeSet<String>, Vec<(String, String)>) {
    let keys: Vec<String> = (0..shards)
        .map(|i| format!("{prefix}.shardId-{i:012}"))
        .collect();
    let mut args = vec![url];
    args.extend(keys.iter().map(String::as_str));
    let history: Value = serde_json::from_str(&python("cluster_leases.py", &args)).unwrap();
    let mut owners = BTreeSet::new();
    let mut taken = Vec::new();
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
            let gap = b["at_ms"].as_i64().unwrap() - a["at_ms"].as_i64().unwrap();
            assert!(
                gap >= LEASE_MS - 50,
                "{key}: {wb} took {wa}'s lease after {gap} ms"
            );
            assert!(
                gap <= LEASE_MS + 2 * RENEW_MS + 1500,
                "{key}: failover took {gap} ms"
            );
            taken.push((wa.to_owned(), wb.to_owned()));
        }
    }
    owners.remove("");
    (owners, taken)
}

/// `GET path` of the server at `addr`, as JSON (python's urllib the
/// client).
fn get_json(addr: &str, path: &str) -> Value {
    let script = "import sys, urllib.request\n\
                  print(urllib.request.urlopen('http://' + sys.argv[1] + sys.argv[2]).read().decode())";
    let out = Command::new("python3")
        .args(["-c", script, addr, path])
        .output()
        .unwrap();
    assert!(out.status.success(), "GET {path}: {out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn three_workers_share_a_stream_through_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(dir.path());
    let out = dir.path().join("rows.ndjson");
    let ids = ["w1", "w2", "w3"];
    for id in ids {
        write_config(&dir.path().join(id), &telemetry_query(&out));
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
    let (owners, taken) = lease_history(&nats.url, "per_device.telemetry", 6);
    let taken_from_w2 = taken.iter().filter(|(from, _)| from == "w2").count();
    assert!(
        taken_from_w2 >= 1,
        "no shard of the killed worker was taken: {taken:?}"
    );
    assert!(
        owners.contains("w2"),
        "the restarted worker took no shard: {owners:?}"
    );
    // Each worker's counters in /api/queries: the sum over the shards it
    // ran the query on (the killed worker's first run took its own along).
    let mut counted = 0;
    let mut watermarks = 0;
    for w in &workers {
        let views = get_json(&w.addr, "/api/queries");
        let view = &views[0];
        assert_eq!(view["name"], "per_device", "{views}");
        counted += view["rows"].as_u64().unwrap();
        watermarks += usize::from(view["watermark"].is_string());
    }
    let written = rows(&out).len() as u64;
    assert!(
        counted > 0 && counted <= written,
        "rows counted {counted}, written {written}"
    );
    assert!(watermarks >= 1, "no worker shows a watermark");
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

#[test]
fn producers_write_through_jetstream_and_any_worker_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(dir.path());
    let tables = "[[streams]]\nname = \"orders\"\nshards = 3\n";
    let ids = ["w1", "w2"];
    for id in ids {
        write_config(&dir.path().join(id), tables);
    }
    let mut workers: Vec<Worker> = ids
        .iter()
        .map(|id| Worker::start(&dir.path().join(id), &nats.url, id))
        .collect();

    // `osprey put --cluster`: 40 records keyed c0..c39, answered once
    // JetStream has them; no store is opened.
    let input = dir.path().join("orders.ndjson");
    let lines: String = (0..40)
        .map(|i| format!("{{\"src\":\"cli\",\"k\":\"c{i}\"}}\n"))
        .collect();
    std::fs::write(&input, lines).unwrap();
    let put = run_in(
        dir.path(),
        &[
            "put",
            "--cluster",
            &nats.url,
            "orders",
            input.to_str().unwrap(),
            "--partition-key-field",
            "k",
        ],
    )
    .success();
    assert!(
        put.stderr.contains("put 40 records into \"orders\""),
        "{}",
        put.stderr
    );
    assert!(
        !dir.path().join("osprey-data").exists(),
        "put --cluster opened a store"
    );

    let (a, b) = (&workers[0].addr, &workers[1].addr);
    let out = python(
        "cluster_kinesis.py",
        &[
            &format!("http://{a}"),
            &format!("http://{b}"),
            &nats.url,
            "orders",
            "3",
            "40",
        ],
    );
    assert_eq!(out.trim(), "ok");
    for w in &mut workers {
        w.proc.kill_now();
    }
    drop(nats);
}

#[test]
fn two_workers_deliver_a_stream_as_a_consumer_group() {
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(dir.path());
    let out = dir.path().join("delivered");
    let tables = format!(
        "[[streams]]\nname = \"events6\"\nshards = 6\n\
         [[deliveries]]\nname = \"archive\"\nstream = \"events6\"\nto = \"{}\"\n\
         buffer_seconds = 0.2\n",
        out.display()
    );
    let ids = ["w1", "w2"];
    for id in ids {
        write_config(&dir.path().join(id), &tables);
    }
    let mut workers: Vec<Worker> = ids
        .iter()
        .map(|id| Worker::start(&dir.path().join(id), &nats.url, id))
        .collect();

    // 600 records over 12 keys (every shard), put in two halves: the
    // second while both workers hold shards.
    let put = |from: usize| {
        let input = dir.path().join(format!("in{from}.ndjson"));
        let lines: String = (from..from + 300)
            .map(|i| format!("{{\"i\":{i},\"device\":\"d{}\"}}\n", i % 12))
            .collect();
        std::fs::write(&input, lines).unwrap();
        let args = [
            "put",
            "--cluster",
            &nats.url,
            "events6",
            input.to_str().unwrap(),
        ];
        run_in(dir.path(), &args).success();
    };
    put(0);
    std::thread::sleep(Duration::from_millis(1500));
    put(300);

    // Every record delivered, at least once, into the shared folder.
    let deadline = Instant::now() + Duration::from_secs(15);
    let delivered = loop {
        let mut seen: BTreeMap<u64, usize> = BTreeMap::new();
        for row in delivered_rows(&out) {
            *seen.entry(row["i"].as_u64().unwrap()).or_default() += 1;
        }
        if seen.len() >= 600 || Instant::now() > deadline {
            break seen;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        delivered.keys().copied().collect::<Vec<_>>(),
        (0..600).collect::<Vec<u64>>(),
        "records missing; w1: {:?}",
        workers[0].err.to_end("w1")
    );
    // No shard owned by two workers at once; both took part.
    let (owners, _) = lease_history(&nats.url, "deliver-archive.events6", 6);
    assert_eq!(owners, BTreeSet::from(["w1".to_owned(), "w2".to_owned()]));
    for w in &mut workers {
        w.proc.kill_now();
    }
    drop(nats);
}

/// The records of every NDJSON file delivered under `dir`.
fn delivered_rows(dir: &Path) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut folders = vec![dir.to_owned()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "errors") {
                    folders.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "ndjson") {
                rows.extend(parse_ndjson(&std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    rows
}
