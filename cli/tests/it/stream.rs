//! Telemetry streams through the real binary: `osprey stream`, `osprey put`
//! from stdin, files and TCP, `osprey read` with every `--from` and a named
//! consumer, bad records and the exit codes.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::common::{
    PATIENCE, Proc, Run, osprey, output, parse_ndjson, ready_or, to_run, wait_until,
};

/// Runs osprey with `args` against the store in `dir`, feeding `stdin`.
pub fn os(dir: &Path, args: &[&str], stdin: &str) -> Run {
    os_env(dir, &[], args, stdin)
}

/// [`os`] with environment variables `env` set.
pub fn os_env(dir: &Path, env: &[(&str, &str)], args: &[&str], stdin: &str) -> Run {
    let mut cmd = osprey();
    cmd.args(args).arg("--data-dir").arg(dir.join("data"));
    cmd.envs(env.iter().copied());
    to_run(output(&mut cmd, stdin.as_bytes()))
}

/// A `put --listen` server on a free port, and that port.
pub fn listen(dir: &Path, stream: &str, extra: &[&str]) -> (Proc, u16) {
    listen_env(dir, stream, extra, &[])
}

/// [`listen`] with environment variables set for the server.
pub fn listen_env(dir: &Path, stream: &str, extra: &[&str], env: &[(&str, &str)]) -> (Proc, u16) {
    let mut cmd: Command = osprey();
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(["put", stream, "--listen", "tcp://127.0.0.1:0", "--data-dir"])
        .arg(dir.join("data"))
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = Proc::spawn(&mut cmd);
    // The reading thread drains stderr to the end, so logging never blocks.
    let port = child.stderr_lines().listening_port("the server");
    (child, port)
}

fn read(dir: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["read", "s"];
    all.extend_from_slice(args);
    parse_ndjson(&os(dir, &all, "").success().stdout)
}

#[test]
fn stream_lifecycle_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d: Value = serde_json::from_str(
        &os(dir.path(), &["stream", "create", "s", "--shards", "3"], "")
            .success()
            .stdout,
    )
    .unwrap();
    assert_eq!(d["shards"].as_array().unwrap().len(), 3);
    assert_eq!(d["shards"][0]["id"], "shardId-000000000000");
    assert_eq!(d["shards"][0]["hash_start"], "0");
    os(dir.path(), &["stream", "create", "t"], "").success();
    assert_eq!(
        os(dir.path(), &["stream", "list"], "").success().stdout,
        "s\nt\n"
    );
    let line = os(dir.path(), &["stream", "create", "s"], "").fails_with(1);
    assert_eq!(
        line,
        "osprey: cannot create stream \"s\": it exists already"
    );
    let line = os(dir.path(), &["stream", "describe", "nope"], "").fails_with(3);
    assert_eq!(line, "osprey: cannot open stream \"nope\": no such stream");
    os(dir.path(), &["read", "nope"], "").fails_with(3);
    os(dir.path(), &["put", "nope"], "{}\n").fails_with(3);
    let line = os(dir.path(), &["stream", "create", "a/b"], "").fails_with(2);
    assert!(line.contains("invalid stream name"), "{line}");
    os(dir.path(), &["stream", "create", "x", "--shards", "0"], "").fails_with(2);
    os(dir.path(), &["read", "s", "--from", "yesterday"], "").fails_with(2);
    let split = os(
        dir.path(),
        &["stream", "split", "s", "shardId-000000000000", "middle"],
        "",
    )
    .success();
    assert!(
        split.stdout.contains("shardId-000000000003"),
        "{}",
        split.stdout
    );
    os(
        dir.path(),
        &["stream", "split", "s", "shardId-000000000000", "middle"],
        "",
    )
    .fails_with(2);
    let merged = os(
        dir.path(),
        &[
            "stream",
            "merge",
            "s",
            "shardId-000000000003",
            "shardId-000000000004",
        ],
        "",
    )
    .success();
    assert!(
        merged.stdout.contains("shardId-000000000005"),
        "{}",
        merged.stdout
    );
    let d: Value = serde_json::from_str(
        &os(dir.path(), &["stream", "describe", "s"], "")
            .success()
            .stdout,
    )
    .unwrap();
    assert_eq!(d["open_shards"], 3);
    assert_eq!(d["shards"][5]["adjacent_parent"], "shardId-000000000004");
    os(dir.path(), &["stream", "delete", "t"], "").success();
    assert_eq!(
        os(dir.path(), &["stream", "list"], "").success().stdout,
        "s\n"
    );
}

#[test]
fn put_ndjson_and_csv_with_bad_records() {
    let dir = tempfile::tempdir().unwrap();
    os(dir.path(), &["stream", "create", "s", "--shards", "2"], "").success();
    let big = format!("{{\"dev\":\"big\",\"pad\":\"{}\"}}\n", "x".repeat(1 << 20));
    let input = format!(
        "{{\"dev\":\"a\",\"t\":1}}\nnot json\n\n{{\"t\":2}}\n{big}{{\"dev\":\"b\",\"t\":3}}\n"
    );
    let r = os(
        dir.path(),
        &["put", "s", "--partition-key-field", "dev"],
        &input,
    );
    assert_eq!(r.code, 5, "{}", r.stderr);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert!(
        lines[0].starts_with("osprey: stdin:2: malformed JSON: "),
        "{}",
        r.stderr
    );
    assert_eq!(
        lines[1],
        "osprey: stdin:4: no field \"dev\" for the partition key"
    );
    assert!(
        lines[2].starts_with(
            "osprey: stdin:5: invalid record: record of 1048598 bytes, more than the limit"
        ),
        "{}",
        lines[2]
    );
    assert_eq!(lines[3], "osprey: put 2 records into \"s\", 3 refused");
    let csv = dir.path().join("x.csv");
    std::fs::write(&csv, "dev,t,note\nc,4,\"quoted, comma\"\nd,5\ne,6,ok\n").unwrap();
    let r = os(
        dir.path(),
        &[
            "put",
            "s",
            csv.to_str().unwrap(),
            "--partition-key-field",
            "dev",
        ],
        "",
    );
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("x.csv:3: 2 fields where the header has 3"),
        "{}",
        r.stderr
    );
    let missing = dir.path().join("missing.ndjson");
    os(dir.path(), &["put", "s", missing.to_str().unwrap()], "").fails_with(3);
    let all = read(dir.path(), &[]);
    let mut devs: Vec<&str> = all
        .iter()
        .map(|r| r["partition_key"].as_str().unwrap())
        .collect();
    devs.sort_unstable();
    assert_eq!(devs, ["a", "b", "c", "e"]);
    let c = all.iter().find(|r| r["partition_key"] == "c").unwrap();
    assert_eq!(c["data"]["note"], "quoted, comma");
    assert_eq!(c["data"]["t"], 4);
    // A clean run exits 0; a constant key puts everything in one shard.
    let r = os(
        dir.path(),
        &["put", "s", "--partition-key", "same"],
        "{\"n\":1}\n{\"n\":2}\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let same: Vec<Value> = read(dir.path(), &[])
        .into_iter()
        .filter(|r| r["partition_key"] == "same")
        .collect();
    assert_eq!(same.len(), 2);
    assert_eq!(same[0]["shard"], same[1]["shard"]);
    assert_eq!(
        same[0]["seq"].as_u64().unwrap() + 1,
        same[1]["seq"].as_u64().unwrap()
    );
}

#[test]
fn read_positions_and_consumer_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    os(dir.path(), &["stream", "create", "s"], "").success();
    let batch = |from: u32| {
        (from..from + 5)
            .map(|n| format!("{{\"n\":{n}}}\n"))
            .collect::<String>()
    };
    os(dir.path(), &["put", "s", "--partition-key", "k"], &batch(0)).success();
    std::thread::sleep(std::time::Duration::from_millis(30));
    os(dir.path(), &["put", "s", "--partition-key", "k"], &batch(5)).success();
    let all = read(dir.path(), &[]);
    assert_eq!(all.len(), 10);
    let ns = |v: &[Value]| {
        v.iter()
            .map(|r| r["data"]["n"].as_u64().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(ns(&all), (0..10).collect::<Vec<_>>());
    assert!(read(dir.path(), &["--from", "latest"]).is_empty());
    assert_eq!(ns(&read(dir.path(), &["--from", "seq:7"])), [7, 8, 9]);
    assert_eq!(ns(&read(dir.path(), &["--from", "after-seq:7"])), [8, 9]);
    let t5 = all[5]["timestamp"].as_str().unwrap();
    assert_eq!(
        ns(&read(dir.path(), &["--from", &format!("time:{t5}")]))[0],
        5
    );
    let ms5 = all[5]["timestamp_ms"].as_i64().unwrap();
    assert_eq!(
        ns(&read(dir.path(), &["--from", &format!("time:{ms5}")])).len(),
        5
    );
    // A named consumer goes on where it stopped.
    assert_eq!(
        ns(&read(dir.path(), &["--consumer", "app", "--limit", "4"])),
        [0, 1, 2, 3]
    );
    assert_eq!(
        ns(&read(dir.path(), &["--consumer", "app", "--limit", "3"])),
        [4, 5, 6]
    );
    os(
        dir.path(),
        &["put", "s", "--partition-key", "k"],
        &batch(10),
    )
    .success();
    assert_eq!(
        ns(&read(dir.path(), &["--consumer", "app"])),
        (7..15).collect::<Vec<_>>()
    );
    assert!(read(dir.path(), &["--consumer", "app"]).is_empty());
    // Ids from a field; a retried record is dropped by the reader.
    os(dir.path(), &["stream", "create", "ids"], "").success();
    let input = "{\"id\":\"r1\",\"n\":1}\n{\"id\":\"r2\",\"n\":2}\n{\"id\":\"r1\",\"n\":1}\n";
    os(
        dir.path(),
        &["put", "ids", "--id-field", "id", "--partition-key", "k"],
        input,
    )
    .success();
    let all = parse_ndjson(&os(dir.path(), &["read", "ids"], "").success().stdout);
    assert_eq!(all.len(), 3);
    assert_eq!(all[2]["id"], "r1");
    let unique = parse_ndjson(
        &os(dir.path(), &["read", "ids", "--drop-duplicates", "100"], "")
            .success()
            .stdout,
    );
    assert_eq!(ns(&unique), [1, 2]);
}

#[test]
fn tcp_listener_acks_each_line_and_follow_sees_them() {
    let dir = tempfile::tempdir().unwrap();
    os(dir.path(), &["stream", "create", "s", "--shards", "2"], "").success();
    let (mut server, port) = listen(dir.path(), "s", &["--partition-key-field", "dev"]);
    // A follower in its own process, alongside the writer.
    let mut follower = Proc::spawn(
        osprey()
            .args(["read", "s", "--follow", "--data-dir"])
            .arg(dir.path().join("data"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(PATIENCE)).unwrap();
    let big = format!(
        "{{\"dev\":\"z\",\"pad\":\"{}\"}}\n",
        "y".repeat((1 << 20) + 10)
    );
    let input =
        format!("{{\"dev\":\"a\",\"n\":1}}\nbad\n\n{big}{{\"dev\":\"b\",\"n\":2}}\n{{\"n\":3}}\n");
    sock.write_all(input.as_bytes()).unwrap();
    sock.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answers = String::new();
    sock.read_to_string(&mut answers).unwrap();
    let answers = parse_ndjson(&answers);
    assert_eq!(answers.len(), 5, "{answers:?}");
    assert!(
        answers[0]["shard"]
            .as_str()
            .unwrap()
            .starts_with("shardId-")
    );
    assert_eq!(answers[0]["seq"], 0);
    assert_eq!(
        (
            answers[1]["line"].as_u64(),
            answers[1]["retryable"].as_bool()
        ),
        (Some(2), Some(false))
    );
    assert!(
        answers[2]["error"]
            .as_str()
            .unwrap()
            .contains("more than the limit"),
        "{answers:?}"
    );
    assert_eq!(answers[2]["line"], 4);
    assert!(answers[3]["seq"].is_u64());
    assert_eq!(
        answers[4]["error"],
        "no field \"dev\" for the partition key"
    );
    let out = follower.stdout_lines();
    let mut got: Vec<String> = out
        .json(2, "the follower")
        .iter()
        .map(|r| r["partition_key"].as_str().unwrap().to_owned())
        .collect();
    got.sort();
    assert_eq!(got, ["a", "b"]);
    // Nothing more comes: the refused lines were not stored.
    assert!(
        out.next_within(Duration::from_millis(300)).is_err(),
        "a third record was followed"
    );
    follower.kill_now();
    // A second server on the same data directory is refused while the first runs.
    let r = os(
        dir.path(),
        &["put", "s", "--listen", "tcp://127.0.0.1:0"],
        "",
    );
    let line = r.fails_with(1);
    assert!(
        line.contains("is in use by another osprey process"),
        "{line}"
    );
    assert!(server.alive());
}

/// `osprey analyze --output stream:NAME` puts the same records it would
/// print, one a line, under the source as partition key; `osprey read` gives
/// them back in order. A missing stream is an input error naming it.
#[test]
fn analyze_writes_its_records_into_a_stream() {
    let dir = tempfile::tempdir().unwrap();
    let clip = crate::common::small_clip().to_str().unwrap();
    let analyze = ["analyze", clip, "--backend", "cpu", "--source", "cam1"];
    let missing = os(
        dir.path(),
        &[&analyze[..], &["--output", "stream:frames"]].concat(),
        "",
    );
    let line = missing.fails_with(3);
    assert!(
        line.contains("\"frames\"") && line.contains("stream create"),
        "{line}"
    );

    os(dir.path(), &["stream", "create", "frames"], "").success();
    os(
        dir.path(),
        &[&analyze[..], &["--output", "stream:frames"]].concat(),
        "",
    )
    .success();
    let printed = parse_ndjson(&os(dir.path(), &analyze, "").success().stdout);
    let read = os(
        dir.path(),
        &["read", "frames", "--from", "trim-horizon"],
        "",
    )
    .success();
    let stored = parse_ndjson(&read.stdout);
    assert_eq!(stored.len(), printed.len(), "{}", read.stderr);
    assert!(printed.len() >= 12, "a record a frame at least");
    for (s, p) in stored.iter().zip(&printed) {
        assert_eq!(s["partition_key"], "cam1", "{s}");
        assert_eq!(&s["data"], p);
    }
    let empty = os(
        dir.path(),
        &[&analyze[..], &["--output", "stream:"]].concat(),
        "",
    );
    assert!(empty.fails_with(2).contains("needs a stream name"));
}

/// The trim horizon and next sequence number of shard 0 of stream `name`.
fn horizon(dir: &Path, name: &str) -> (u64, u64) {
    let d: Value =
        serde_json::from_str(&os(dir, &["stream", "describe", name], "").success().stdout).unwrap();
    let shard = &d["shards"][0];
    (
        shard["trim_horizon_seq"].as_u64().unwrap(),
        shard["next_seq"].as_u64().unwrap(),
    )
}

/// `--retention-mib` in a running process: `put` from stdin removes
/// nothing (no process stays to sweep), while a `put --listen` server's
/// sweep (every minute; `OSPREY_RETENTION_EVERY_MS` makes it 50 ms here)
/// brings the shard down to at most 1 MiB by itself, oldest segments
/// first, and goes on taking and serving records.
#[test]
fn a_running_server_sweeps_retention_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    os(d, &["stream", "create", "r", "--retention-mib", "1"], "").success();
    // 3000 records of 1000 bytes of data: 3 MiB.
    let record = |n: u64| {
        let head = format!("{{\"n\":{n},\"pad\":\"");
        format!("{head}{}\"}}\n", "x".repeat(998 - head.len()))
    };
    assert_eq!(record(0).len(), 1001);
    let input: String = (0..3000).map(record).collect();
    let small = [("OSPREY_SEGMENT_BYTES", "65536")];
    os_env(d, &small, &["put", "r", "--partition-key", "k"], &input).success();
    assert_eq!(
        horizon(d, "r"),
        (0, 3000),
        "nothing swept without a process"
    );

    let env = [small[0], ("OSPREY_RETENTION_EVERY_MS", "50")];
    let (mut server, port) = listen_env(d, "r", &["--partition-key", "k"], &env);
    wait_until(|| {
        let (low, next) = horizon(d, "r");
        ready_or(low > 0, || {
            format!("no sweep: records {low} to {next} kept")
        })
    });
    let (low, next) = horizon(d, "r");
    assert_eq!(next, 3000);
    let kept = parse_ndjson(&os(d, &["read", "r"], "").success().stdout);
    let seqs: Vec<u64> = kept.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(
        seqs,
        (low..3000).collect::<Vec<_>>(),
        "the newest records, in order"
    );
    // At most 1 MiB kept (records and their framing), and no more than a
    // 64 KiB segment below it.
    let bytes = kept.len() * 1000;
    assert!(
        ((1 << 20) / 2..=1 << 20).contains(&bytes),
        "{} records kept",
        kept.len()
    );
    // The server goes on: a record put now is read back.
    let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(PATIENCE)).unwrap();
    sock.write_all(record(3000).as_bytes()).unwrap();
    sock.shutdown(std::net::Shutdown::Write).unwrap();
    let mut ack = String::new();
    sock.read_to_string(&mut ack).unwrap();
    assert_eq!(parse_ndjson(&ack)[0]["seq"], 3000, "{ack}");
    assert!(server.alive());
}

/// A named consumer's checkpoint across a split and a merge: each read goes
/// on where the last stopped, a parent's records come before its
/// children's, and over all the reads every record comes exactly once.
#[test]
fn consumer_checkpoints_hold_across_split_and_merge() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    os(d, &["stream", "create", "c"], "").success();
    let put = |from: u64, to: u64| {
        let input: String = (from..to)
            .map(|n| format!("{{\"dev\":\"d{}\",\"n\":{n}}}\n", n % 5))
            .collect();
        os(d, &["put", "c", "--partition-key-field", "dev"], &input).success();
    };
    let read = |limit: Option<&str>| -> Vec<u64> {
        let mut args = vec!["read", "c", "--consumer", "app"];
        if let Some(l) = limit {
            args.extend(["--limit", l]);
        }
        parse_ndjson(&os(d, &args, "").success().stdout)
            .iter()
            .map(|r| r["data"]["n"].as_u64().unwrap())
            .collect()
    };
    put(0, 10);
    let mut got = read(Some("4"));
    assert_eq!(got, [0, 1, 2, 3]);
    let split = os(
        d,
        &["stream", "split", "c", "shardId-000000000000", "middle"],
        "",
    )
    .success();
    assert!(
        split.stdout.contains("shardId-000000000002"),
        "{}",
        split.stdout
    );
    put(10, 20);
    // The parent's rest first, then some of the children's.
    let second = read(Some("9"));
    assert_eq!(second[..6], [4, 5, 6, 7, 8, 9], "{second:?}");
    assert!(second[6..].iter().all(|&n| n >= 10), "{second:?}");
    got.extend(&second);
    let merged = os(
        d,
        &[
            "stream",
            "merge",
            "c",
            "shardId-000000000001",
            "shardId-000000000002",
        ],
        "",
    )
    .success();
    assert!(
        merged.stdout.contains("shardId-000000000003"),
        "{}",
        merged.stdout
    );
    put(20, 30);
    let third = read(None);
    got.extend(&third);
    assert!(read(None).is_empty(), "the checkpoint is at the end");
    // Every record once; the merged shard's records after its parents'.
    let mut all = got.clone();
    all.sort_unstable();
    assert_eq!(all, (0..30).collect::<Vec<_>>(), "{got:?}");
    let first_new = third.iter().position(|&n| n >= 20).unwrap();
    assert!(
        third[first_new..].iter().all(|&n| n >= 20) && third[..first_new].iter().all(|&n| n < 20),
        "{third:?}"
    );
    // Within a key, the order they were put in.
    for dev in 0..5 {
        let of: Vec<u64> = got.iter().copied().filter(|n| n % 5 == dev).collect();
        assert!(of.windows(2).all(|w| w[0] < w[1]), "d{dev}: {of:?}");
    }
}

/// Overload of `put --listen`: with 64 connections being served, the next
/// one is told `{"error":"too many connections; retry later",
/// "retryable":true}` and closed; the 64 go on, and once one closes, a new
/// connection is served again.
#[test]
fn a_listener_past_its_connections_refuses_with_a_retryable_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    os(d, &["stream", "create", "s"], "").success();
    let (mut server, port) = listen(d, "s", &["--partition-key", "k"]);
    let connect = || {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        std::io::BufReader::new(s)
    };
    // One record on a connection, and its answer line.
    let put = |c: &mut std::io::BufReader<TcpStream>, n: u32| -> Value {
        c.get_mut()
            .write_all(format!("{{\"n\":{n}}}\n").as_bytes())
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(c, &mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"))
    };
    // 64 connections, each shown to be served by an acknowledged record.
    let mut held: Vec<_> = (0..64)
        .map(|n| {
            let mut c = connect();
            let ack = put(&mut c, n);
            assert!(ack["seq"].is_u64(), "{ack}");
            c
        })
        .collect();
    let mut extra = connect();
    let mut refusal = String::new();
    extra.read_to_string(&mut refusal).unwrap();
    assert_eq!(
        refusal,
        "{\"error\":\"too many connections; retry later\",\"retryable\":true}\n"
    );
    assert!(put(&mut held[0], 64)["seq"].is_u64(), "a held one goes on");
    drop(held.pop());
    wait_until(|| {
        let mut c = connect();
        let _ = c
            .get_mut()
            .write_all(b"{\"n\":65}\n")
            .and_then(|()| c.get_mut().shutdown(std::net::Shutdown::Write));
        let mut answer = String::new();
        let _ = c.read_to_string(&mut answer);
        let ack = serde_json::from_str::<Value>(answer.trim()).unwrap_or(Value::Null);
        ready_or(ack["seq"].is_u64(), || {
            format!("no connection was served again: {answer:?}")
        })
    });
    assert!(server.alive());
}
