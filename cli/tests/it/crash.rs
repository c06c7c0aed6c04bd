//! The crash test: producers write over TCP while the `osprey put --listen`
//! process is killed with SIGKILL, twice; after each restart every record
//! that was acknowledged must be readable, exactly once, in order per shard.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::common::{PATIENCE, parse_ndjson, ready_or, wait_until};
use crate::stream::{listen_env, os};

/// What one producer sent and had acknowledged: per record (producer,
/// number) the (shard, seq) the server answered.
type Acked = Arc<Mutex<HashMap<(u64, u64), (String, u64)>>>;

/// Sends records `{"k":..,"p":P,"n":N}` as fast as the server takes them
/// until the connection breaks; every ack line is matched to its record.
fn producer(port: u16, p: u64, start: u64, acked: Acked) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let Ok(sock) = TcpStream::connect(("127.0.0.1", port)) else {
            return;
        };
        // Nothing here may hang the test: a dead server ends both halves.
        let _ = sock.set_read_timeout(Some(PATIENCE));
        let _ = sock.set_write_timeout(Some(PATIENCE));
        let Ok(read_half) = sock.try_clone() else {
            return;
        };
        let reader = std::thread::spawn(move || {
            for (n, line) in (start..).zip(BufReader::new(read_half).lines()) {
                let Ok(line) = line else { break };
                // A kill in the middle of an answer leaves half a line: no ack.
                let Ok(v) = serde_json::from_str::<Value>(&line) else {
                    break;
                };
                let shard = v["shard"]
                    .as_str()
                    .expect("no record is refused here")
                    .to_owned();
                let seq = v["seq"].as_u64().expect("an ack has a seq");
                acked.lock().unwrap().insert((p, n), (shard, seq));
            }
        });
        let mut sock = sock;
        let mut n = start;
        loop {
            let mut chunk = String::new();
            for _ in 0..50 {
                // Eight keys per producer, over all shards.
                chunk.push_str(&format!(
                    "{{\"k\":\"p{p}-{}\",\"p\":{p},\"n\":{n}}}\n",
                    n % 8
                ));
                n += 1;
            }
            if sock.write_all(chunk.as_bytes()).is_err() {
                break;
            }
        }
        let _ = reader.join();
    })
}

/// Runs producers against a fresh server until `more` further records are
/// acknowledged (they are still writing then), then SIGKILLs it.
fn round(dir: &std::path::Path, start: u64, more: usize, acked: &Acked, env: &[(&str, &str)]) {
    let started = std::time::Instant::now();
    let (mut server, port) = listen_env(dir, "s", &["--partition-key-field", "k"], env);
    let before = acked.lock().unwrap().len();
    let producers: Vec<_> = (0..3)
        .map(|p| producer(port, p, start, Arc::clone(acked)))
        .collect();
    // However long a loaded machine takes to fsync them: the condition is
    // waited on, and the producers, which write until the connection breaks,
    // are then still writing.
    wait_until(|| {
        let came = acked.lock().unwrap().len() - before;
        ready_or(came >= more, || {
            format!("{came} of {more} acknowledgements came")
        })
    });
    let killed = std::time::Instant::now();
    server.kill_now(); // SIGKILL
    for p in producers {
        p.join().unwrap();
    }
    let _ = std::io::stderr().write_all(
        format!(
            "crash test: server up {:.1} s, producers done {:.1} s after the kill\n",
            (killed - started).as_secs_f64(),
            killed.elapsed().as_secs_f64()
        )
        .as_bytes(),
    );
}

/// Reads the whole stream and checks every acknowledged record.
fn check(dir: &std::path::Path, acked: &Acked) -> usize {
    check_above(dir, acked, &BTreeMap::new())
}

/// Per shard, the oldest sequence number retention kept.
fn trim_horizons(dir: &std::path::Path) -> BTreeMap<String, u64> {
    let d: Value =
        serde_json::from_str(&os(dir, &["stream", "describe", "s"], "").success().stdout).unwrap();
    d["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_owned(),
                s["trim_horizon_seq"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// [`check`], where retention may have removed records below each shard's
/// trim horizon in `horizons`.
fn check_above(dir: &std::path::Path, acked: &Acked, horizons: &BTreeMap<String, u64>) -> usize {
    let out = os(dir, &["read", "s"], "").success();
    let records = parse_ndjson(&out.stdout);
    let mut by_pos = HashMap::new();
    let mut seen = HashSet::new();
    let mut last_seq: BTreeMap<String, u64> = BTreeMap::new();
    let mut last_n: HashMap<String, u64> = HashMap::new();
    for r in &records {
        let shard = r["shard"].as_str().unwrap().to_owned();
        let seq = r["seq"].as_u64().unwrap();
        let (p, n) = (
            r["data"]["p"].as_u64().unwrap(),
            r["data"]["n"].as_u64().unwrap(),
        );
        if let Some(prev) = last_seq.insert(shard.clone(), seq) {
            assert!(seq > prev, "{shard}: seq {seq} after {prev}");
        }
        // Within a shard one key's records keep the order they were sent in.
        let key = r["partition_key"].as_str().unwrap().to_owned();
        if let Some(prev) = last_n.insert(key.clone(), n) {
            assert!(n > prev, "key {key}: record {n} after {prev}");
        }
        assert!(seen.insert((p, n)), "record ({p}, {n}) read twice");
        by_pos.insert((shard, seq), (p, n));
    }
    let acked = acked.lock().unwrap();
    for (&(p, n), (shard, seq)) in acked.iter() {
        if horizons.get(shard).is_some_and(|h| seq < h) {
            continue;
        }
        let got = by_pos.get(&(shard.clone(), *seq));
        assert_eq!(
            got,
            Some(&(p, n)),
            "acknowledged record ({p}, {n}) at {shard}/{seq} is lost"
        );
    }
    acked.len()
}

#[test]
fn sigkill_loses_no_acknowledged_record() {
    let dir = tempfile::tempdir().unwrap();
    os(dir.path(), &["stream", "create", "s", "--shards", "4"], "").success();
    let acked: Acked = Arc::default();
    round(dir.path(), 0, 20_000, &acked, &[]);
    let first = check(dir.path(), &acked);
    assert!(
        first >= 20_000,
        "only {first} records acknowledged before the kill"
    );
    // The restarted server repairs any torn tail and appends after it.
    round(dir.path(), 1 << 32, 20_000, &acked, &[]);
    let total = check(dir.path(), &acked);
    assert!(total >= first + 20_000, "{total} after {first}");
    let _ = std::io::stderr()
        .write_all(format!("crash test: {total} acknowledged records checked\n").as_bytes());
}

#[test]
fn sigkill_during_segment_rollover_and_retention_loses_no_acknowledged_record() {
    // Segments of 64 KiB roll over every few hundred records, and retention
    // (64 KiB a shard, so about one segment is kept) runs every 20 ms: the
    // kills land in the middle of both.
    let env = [
        ("OSPREY_SEGMENT_BYTES", "65536"),
        ("OSPREY_RETENTION_EVERY_MS", "20"),
    ];
    let dir = tempfile::tempdir().unwrap();
    os(
        dir.path(),
        &[
            "stream",
            "create",
            "s",
            "--shards",
            "2",
            "--retention-mib",
            "1",
        ],
        "",
    )
    .success();
    let acked: Acked = Arc::default();
    for round_no in 0..4u64 {
        round(dir.path(), round_no << 32, 20_000, &acked, &env);
        let horizons = trim_horizons(dir.path());
        check_above(dir.path(), &acked, &horizons);
    }
    assert!(
        trim_horizons(dir.path()).values().any(|&h| h > 0),
        "retention removed segments while the kills went on"
    );
    let all = acked.lock().unwrap().len();
    assert!(all >= 80_000, "{all}");
    // Every round's records got numbers above the previous rounds'.
    let mut ranges: BTreeMap<(String, u64), (u64, u64)> = BTreeMap::new();
    for (&(_, n), (shard, seq)) in acked.lock().unwrap().iter() {
        let e = ranges
            .entry((shard.clone(), n >> 32))
            .or_insert((*seq, *seq));
        *e = (e.0.min(*seq), e.1.max(*seq));
    }
    for ((shard, r), (low, _)) in &ranges {
        if let Some((_, (_, high))) = r
            .checked_sub(1)
            .and_then(|p| ranges.get_key_value(&(shard.clone(), p)))
        {
            assert!(
                low > high,
                "{shard}: round {r} starts at {low}, not above {high}"
            );
        }
    }
}
