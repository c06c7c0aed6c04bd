//! `osprey aggregate`'s streaming inputs and outputs through the real
//! binary: a stream of the store as input (against the same aggregation of
//! the file, itself held to DuckDB in `aggregate.rs`), a named consumer
//! resumed after a clean end and after a kill, NDJSON over TCP from two
//! connections with a malformed line, results put into a stream and read
//! back, `--max-latency` letting windows out while stdin is still open, and
//! the chain analyze → stream → aggregate → stream.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::TcpStream;
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use serde_json::Value;

use crate::common::{Proc, osprey, parse_ndjson, ready_or, wait_until};
use crate::stream::os;

/// 2025-12-01T17:00:00Z, in seconds.
const T0: i64 = 1_764_608_400;

/// Records per minute of generated data.
const PER_MINUTE: i64 = 40;

/// The aggregation every test runs.
const FLAGS: &[&str] = &[
    "--time-format",
    "epoch_s",
    "--window",
    "tumbling:1m",
    "--group-by",
    "sensor",
    "--agg",
    "count(*) as n, sum(temp) as sum, min(temp) as min, max(temp) as max, avg(temp) as avg",
    "--backend",
    "cpu",
];

/// NDJSON records for the minutes `from..to` after [`T0`], in time order:
/// five sensors, temperatures with fractions.
fn records(from: i64, to: i64) -> String {
    let mut out = String::new();
    for m in from..to {
        for i in 0..PER_MINUTE {
            let n = m * PER_MINUTE + i;
            let ts = (T0 + m * 60) as f64 + i as f64 * 60.0 / PER_MINUTE as f64 + 0.25;
            let temp = (n * 37 % 101) as f64 / 4.0 - 5.0;
            out += &format!(
                "{{\"ts\":{ts},\"sensor\":\"s{}\",\"temp\":{temp}}}\n",
                n % 5
            );
        }
    }
    out
}

/// `aggregate` with [`FLAGS`] and `extra` against the store in `dir`.
fn aggregate(dir: &Path, input: &str, extra: &[&str]) -> crate::common::Run {
    let args = [&["aggregate", input][..], FLAGS, extra].concat();
    os(dir, &args, "").success()
}

/// Result rows by (window start, sensor).
fn by_window(rows: &[Value]) -> BTreeMap<(String, String), Value> {
    let mut out = BTreeMap::new();
    for r in rows {
        let key = (
            r["window_start"].as_str().expect("window_start").to_owned(),
            r["sensor"].as_str().expect("sensor").to_owned(),
        );
        assert!(
            out.insert(key.clone(), r.clone()).is_none(),
            "{key:?} twice"
        );
    }
    out
}

/// Asserts that two sets of result rows hold the same windows with the
/// same aggregates: counts, min and max equal; sum and avg within 1e-12
/// relative (the order records arrive in differs between inputs).
#[track_caller]
fn same_windows(what: &str, ours: &[Value], expected: &[Value]) {
    let (ours, expected) = (by_window(ours), by_window(expected));
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "{what}: windows"
    );
    for (key, e) in &expected {
        let o = &ours[key];
        for exact in ["window_end", "n", "min", "max"] {
            assert_eq!(o[exact], e[exact], "{what} {key:?} {exact}");
        }
        for rel in ["sum", "avg"] {
            let (a, b) = (o[rel].as_f64().unwrap(), e[rel].as_f64().unwrap());
            assert!(
                a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs()),
                "{what} {key:?} {rel}: {a} vs {b}"
            );
        }
    }
}

/// The file's own aggregation: what every other input must give.
fn file_windows(dir: &Path, name: &str, text: &str) -> Vec<Value> {
    std::fs::write(dir.join(name), text).unwrap();
    let path = dir.join(name);
    aggregate(dir, path.to_str().unwrap(), &[]).records()
}

/// A stream read as a named consumer gives the windows of the file it was
/// put from, over two shards (read one after the other, so the lateness
/// takes their order); a second run of the consumer sees only the records
/// put since, a third nothing.
#[test]
fn a_stream_gives_the_files_windows_and_a_consumer_resumes_after_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (first, second) = (records(0, 5), records(5, 10));
    let whole = file_windows(dir, "all.ndjson", &format!("{first}{second}"));
    let early = file_windows(dir, "first.ndjson", &first);
    assert_eq!(whole.len(), 50, "ten minutes of five sensors");
    os(dir, &["stream", "create", "s", "--shards", "2"], "").success();
    os(dir, &["put", "s"], &first).success();
    let shards = os(dir, &["stream", "describe", "s"], "").success().stdout;
    let described: Value = serde_json::from_str(&shards).unwrap();
    assert!(
        described["shards"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["next_seq"].as_u64() > Some(0)),
        "records in both shards: {shards}"
    );

    let late = ["--lateness", "1h", "--consumer", "c"];
    let run1 = aggregate(dir, "stream:s", &late);
    same_windows("first run", &run1.records(), &early);
    os(dir, &["put", "s"], &second).success();
    let run2 = aggregate(dir, "stream:s", &late);
    let both = [run1.records(), run2.records()].concat();
    same_windows("both runs", &both, &whole);
    assert!(
        run2.stderr.contains(&format!("{} rows", 5 * PER_MINUTE)),
        "the second run reads only the new records: {}",
        run2.stderr
    );
    let run3 = aggregate(dir, "stream:s", &late);
    assert_eq!(run3.stdout, "", "nothing new");
    assert!(run3.stderr.contains(" 0 rows"), "{}", run3.stderr);

    // Without a consumer, from the oldest record: everything.
    let all = aggregate(dir, "stream:s", &["--lateness", "1h"]);
    same_windows("whole stream", &all.records(), &whole);
    // Following, --until-idle ends the run as the end of the stream does.
    let idle = ["--lateness", "1h", "--follow", "--until-idle", "1s"];
    let followed = aggregate(dir, "stream:s", &idle);
    same_windows("followed until idle", &followed.records(), &whole);
    // Flags that only make sense for a stream, elsewhere.
    let path = dir.join("all.ndjson");
    let wrong = os(
        dir,
        &[
            &["aggregate", path.to_str().unwrap(), "--follow"][..],
            FLAGS,
        ]
        .concat(),
        "",
    );
    assert!(wrong.fails_with(2).contains("apply to stream:NAME input"));
    let missing = os(
        dir,
        &[&["aggregate", "stream:nope"][..], FLAGS].concat(),
        "",
    );
    assert!(missing.fails_with(3).contains("\"nope\""));
}

/// A follower, fed by puts of another process as it runs, killed while a
/// window is open, has checkpointed exactly the first record of that window:
/// a second run goes on from there, so every window is written once over
/// the two runs, none lost, none twice.
#[test]
fn a_killed_follower_resumes_at_the_first_record_of_the_open_window() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (first, second) = (records(0, 5), records(5, 10));
    let whole = file_windows(dir, "all.ndjson", &format!("{first}{second}"));
    os(dir, &["stream", "create", "f"], "").success();
    let args = [
        &["aggregate", "stream:f"][..],
        FLAGS,
        &["--follow", "--consumer", "c"],
    ]
    .concat();
    let mut follower = Proc::spawn(
        osprey()
            .args(&args)
            .arg("--data-dir")
            .arg(dir.join("data"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let rx = follower.stdout_lines();
    // Put while it follows, in two puts: it sees them as another process
    // adds them.
    let cut = first
        .match_indices('\n')
        .nth((2 * PER_MINUTE - 1) as usize)
        .unwrap()
        .0
        + 1;
    os(dir, &["put", "f"], &first[..cut]).success();
    std::thread::sleep(Duration::from_millis(200));
    os(dir, &["put", "f"], &first[cut..]).success();
    let stored = parse_ndjson(&os(dir, &["read", "f"], "").success().stdout);
    assert_eq!(stored.len(), (5 * PER_MINUTE) as usize);
    // The first record of minute 4, the window still open after the first part.
    let open_from = stored[(4 * PER_MINUTE) as usize]["seq"].as_u64().unwrap();
    // Minutes 0 to 3 close as minute 4's records arrive: 4 x 5 rows.
    let run1 = rx.json(20, "the follower's closed windows");
    // The checkpoint moves as windows are written; it must come to rest on
    // the first record of the open window (the second run shows it goes no
    // further: a record skipped would be missing from minute 4).
    let checkpoint = dir.join("data/streams/f/consumers/c.json");
    let saved = || -> Vec<u64> {
        let saved: Option<BTreeMap<String, u64>> = std::fs::read(&checkpoint)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        saved.iter().flat_map(|s| s.values().copied()).collect()
    };
    wait_until(|| {
        let at = saved();
        ready_or(at == [open_from], || {
            format!("the checkpoint is {at:?}, not at the open window's first record {open_from}")
        })
    });
    follower.kill_now();
    assert!(
        rx.to_end("the killed follower").is_empty(),
        "the open window was not written"
    );

    os(dir, &["put", "f"], &second).success();
    let run2 = aggregate(dir, "stream:f", &["--consumer", "c"]).records();
    assert_eq!(run2.len(), 30, "minutes 4 to 9");
    same_windows("the two runs", &[run1, run2].concat(), &whole);
}

/// NDJSON lines from two TCP connections at once aggregate as the file
/// does; a malformed line goes to the error output with its peer and line,
/// and the rest goes on. `--until-idle` ends the run once both have closed.
#[test]
fn tcp_input_from_two_connections_with_a_malformed_line() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let text = records(0, 6);
    let whole = file_windows(dir, "all.ndjson", &text);
    let errors = dir.join("errors.ndjson");
    let args = [
        &["aggregate", "tcp://127.0.0.1:0"][..],
        FLAGS,
        &[
            "--lateness",
            "1h",
            "--until-idle",
            "2s",
            "--max-latency",
            "100ms",
        ],
    ]
    .concat();
    let mut child = Proc::spawn(
        osprey()
            .args(&args)
            .arg("--errors")
            .arg(&errors)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let stderr = child.stderr_lines();
    let port = stderr.listening_port("aggregate");
    let out = child.stdout_lines();
    let mut a = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut b = TcpStream::connect(("127.0.0.1", port)).unwrap();
    for (i, line) in text.lines().enumerate() {
        let conn = if i % 2 == 0 { &mut a } else { &mut b };
        writeln!(conn, "{line}").unwrap();
        if i == 10 {
            a.write_all(b"{\"ts\": oops\n").unwrap();
        }
    }
    drop((a, b));
    let status = child.wait_exit("aggregate tcp:// --until-idle");
    let summary = stderr.to_end("aggregate's stderr").join("\n");
    assert_eq!(status.code(), Some(5), "a refused line: exit 5\n{summary}");
    let rows: Vec<Value> = out
        .to_end("aggregate's stdout")
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    same_windows("tcp", &rows, &whole);
    let refused = parse_ndjson(&std::fs::read_to_string(&errors).unwrap());
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["kind"], "error");
    assert_eq!(refused[0]["record"], "{\"ts\": oops");
    assert_eq!(refused[0]["line"], 7, "the line within its connection");
    assert!(
        refused[0]["peer"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:"),
        "{}",
        refused[0]
    );
    assert!(summary.contains("1 refused"), "{summary}");
}

/// `--output stream:NAME` puts one record a result row, which `osprey read`
/// gives back as the rows aggregate prints; a missing stream is an input
/// error that says how to make it.
#[test]
fn results_put_into_a_stream_read_back_with_osprey_read() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::write(dir.join("all.ndjson"), records(0, 4)).unwrap();
    let input = dir.join("all.ndjson");
    let input = input.to_str().unwrap();
    let printed = aggregate(dir, input, &[]).records();
    let args = [
        &["aggregate", input][..],
        FLAGS,
        &["--output", "stream:results"],
    ]
    .concat();
    let line = os(dir, &args, "").fails_with(3);
    assert!(
        line.contains("\"results\"") && line.contains("stream create"),
        "{line}"
    );
    os(dir, &["stream", "create", "results", "--shards", "2"], "").success();
    os(dir, &args, "").success();
    let stored = parse_ndjson(&os(dir, &["read", "results"], "").success().stdout);
    assert_eq!(stored.len(), printed.len());
    assert_eq!(printed.len(), 20);
    // Each row goes under its group's key, so a group's rows keep their order
    // within its shard; `read` gives shard after shard.
    let sorted = |rows: Vec<&Value>| {
        let mut rows: Vec<String> = rows.into_iter().map(Value::to_string).collect();
        rows.sort();
        rows
    };
    assert_eq!(
        sorted(stored.iter().map(|s| &s["data"]).collect()),
        sorted(printed.iter().collect())
    );
    for s in &stored {
        assert_eq!(s["partition_key"], s["data"]["sensor"], "{s}");
    }
    let set = |field: &str| -> std::collections::BTreeSet<String> {
        stored
            .iter()
            .map(|s| s[field].as_str().unwrap().to_owned())
            .collect()
    };
    let (keys, shards) = (set("partition_key"), set("shard"));
    assert!(
        keys.len() > 1 && shards.len() == 2,
        "{keys:?} over {shards:?}"
    );
    for key in keys {
        let of = |rows: &[Value], data: bool| -> Vec<Value> {
            rows.iter()
                .map(|r| if data { r["data"].clone() } else { r.clone() })
                .filter(|r| r["sensor"].as_str() == Some(key.as_str()))
                .collect()
        };
        assert_eq!(of(&stored, true), of(&printed, false), "rows of {key}");
    }
    let parquet = [&args[..], &["--output-format", "parquet"]].concat();
    os(dir, &parquet, "").fails_with(2);
}

/// With `--max-latency`, a window's row comes out as soon as a record of a
/// later window arrives, while stdin is still open; without it, the rows
/// wait in the chunker's batch.
#[test]
fn max_latency_lets_windows_out_while_stdin_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let spawn = |extra: &[&str]| {
        let args = [
            &[
                "aggregate",
                "-",
                "--time-format",
                "epoch_s",
                "--window",
                "tumbling:1s",
            ][..],
            &["--agg", "count(*) as n", "--backend", "cpu"],
            extra,
        ]
        .concat();
        Proc::spawn(
            osprey()
                .args(&args)
                .current_dir(dir.path())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
        )
    };
    let record = |t: f64| format!("{{\"ts\":{t},\"v\":1}}\n");

    let mut slow = spawn(&["--max-latency", "50ms"]);
    let mut stdin = slow.stdin.take().unwrap();
    let rx = slow.stdout_lines();
    stdin.write_all(record(0.5).as_bytes()).unwrap();
    stdin.write_all(record(0.7).as_bytes()).unwrap();
    stdin.write_all(record(1.5).as_bytes()).unwrap();
    stdin.flush().unwrap();
    let first = rx.json(1, "the first window while stdin is open");
    assert_eq!(first[0]["window_start"], "1970-01-01T00:00:00Z");
    assert_eq!(first[0]["n"], 2);
    stdin.write_all(record(2.5).as_bytes()).unwrap();
    stdin.flush().unwrap();
    let second = rx.json(1, "the second window while stdin is open");
    assert_eq!(second[0]["window_start"], "1970-01-01T00:00:01Z");
    drop(stdin);
    let last = rx.json(1, "the last window at the end of the input");
    assert_eq!(last[0]["window_start"], "1970-01-01T00:00:02Z");
    assert!(slow.wait_exit("aggregate -").success());

    // The control: the same records with no latency bound stay in the batch.
    let mut held = spawn(&[]);
    let mut stdin = held.stdin.take().unwrap();
    let rx = held.stdout_lines();
    for t in [0.5, 0.7, 1.5, 2.5] {
        stdin.write_all(record(t).as_bytes()).unwrap();
    }
    stdin.flush().unwrap();
    assert_eq!(
        rx.next_within(Duration::from_secs(2)),
        Err(RecvTimeoutError::Timeout),
        "no row before the batch fills or the input ends"
    );
    drop(stdin);
    assert_eq!(rx.json(3, "every window at the end").len(), 3);
    assert!(held.wait_exit("aggregate -").success());
}

/// The chain: `osprey analyze --output stream:frames`, `osprey aggregate
/// stream:frames --output stream:stats`, `osprey read stats` gives the row
/// that aggregating analyze's printed records gives.
#[test]
fn analyze_to_a_stream_to_aggregate_to_a_stream() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let clip = crate::common::small_clip().to_str().unwrap();
    let analyze = ["analyze", clip, "--backend", "cpu", "--source", "cam1"];
    os(dir, &["stream", "create", "frames"], "").success();
    os(dir, &["stream", "create", "stats"], "").success();
    os(
        dir,
        &[&analyze[..], &["--output", "stream:frames"]].concat(),
        "",
    )
    .success();
    let printed = os(dir, &analyze, "").success().stdout;
    std::fs::write(dir.join("frames.ndjson"), &printed).unwrap();
    const SCHEMA: &str = "pts:timestamp,source:string,kind:string,scene.score:f64";
    let sql = "SELECT source, COUNT(*) AS frames, AVG(scene.score) AS score FROM input \
               WHERE kind = 'frame' GROUP BY source, TUMBLE(pts, INTERVAL '1' MINUTE)";
    let query = |input: &str, extra: &[&str]| {
        let args = [
            &["aggregate", input, "--sql", sql, "--time-format", "epoch_s"][..],
            &["--backend", "cpu", "--schema", SCHEMA],
            extra,
        ]
        .concat();
        os(dir, &args, "").success()
    };
    let frames = dir.join("frames.ndjson");
    let expected = query(frames.to_str().unwrap(), &[]).records();
    assert_eq!(expected.len(), 1, "{expected:?}");
    assert_eq!(expected[0]["source"], "cam1");
    let frames_printed = parse_ndjson(&printed)
        .iter()
        .filter(|r| r["kind"] == "frame")
        .count();
    assert_eq!(expected[0]["frames"].as_u64(), Some(frames_printed as u64));
    query("stream:frames", &["--output", "stream:stats"]);
    let stored = parse_ndjson(&os(dir, &["read", "stats"], "").success().stdout);
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0]["data"], expected[0]);
    assert_eq!(stored[0]["partition_key"], "cam1", "the row's GROUP BY key");
}
