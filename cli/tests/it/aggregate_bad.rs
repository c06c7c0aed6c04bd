//! `osprey aggregate` on bad input (issue 12): over-long lines are refused in
//! bounded memory with a short error record, refusals set exit code 5, the
//! schema widens and finds a late time field, error and late records carry
//! the original record so they can be replayed, Parquet string and Date32
//! time columns are read, and SQL mistakes get clear messages.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::{Proc, osprey, parse_ndjson, run_in, run_stdin};

/// Runs python3 with `script` in `dir` and returns its stdout.
fn python(dir: &Path, script: &str) -> String {
    let out = Command::new("python3")
        .args(["-c", script])
        .current_dir(dir)
        .output()
        .expect("python3 runs (scripts/setup.sh installs duckdb and pyarrow)");
    assert!(
        out.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const CPU: [&str; 2] = ["--backend", "cpu"];

/// The largest resident set of process `pid` so far, in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// A line of 300 MiB without a newline, then good records: osprey keeps
/// its memory far below the line's size, refuses the line with its length
/// and first bytes only, aggregates the rest and exits 5.
#[test]
fn an_over_long_line_is_refused_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Proc::spawn(
        osprey()
            .args([
                "aggregate",
                "-",
                "--window",
                "tumbling:1m",
                "--agg",
                "count(*)",
                "--errors",
                "errors.ndjson",
            ])
            .args(CPU)
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let mut peak = 0;
        stdin.write_all(b"{\"ts\":1764608400,\"v\":1}\n").unwrap();
        let block = vec![b'x'; 1 << 20];
        for _ in 0..300 {
            if stdin.write_all(&block).is_err() {
                break;
            }
            peak = peak.max(peak_rss_kib(pid).unwrap_or(0));
        }
        stdin
            .write_all(b"\n{\"ts\":1764608401,\"v\":2}\n{\"ts\":1764608402,\"v\":3}\n")
            .unwrap();
        peak
    });
    let (stdout, stderr) = (child.stdout_lines(), child.stderr_lines());
    let status = child.wait_exit("aggregate of an over-long line");
    let peak = writer.join().unwrap();
    let stderr = stderr.to_end("aggregate's stderr").join("\n");
    assert_eq!(status.code(), Some(5), "{stderr}");
    assert!(
        peak < 150 * 1024,
        "peak RSS {peak} KiB while reading the line"
    );
    let rows = parse_ndjson(&stdout.to_end("aggregate's stdout").join("\n"));
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["count"], 3);
    let errors = std::fs::read_to_string(dir.path().join("errors.ndjson")).unwrap();
    assert!(
        errors.len() < 2000,
        "a short error record: {} bytes",
        errors.len()
    );
    let errors = parse_ndjson(&errors);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["line"], 2);
    assert_eq!(errors[0]["record_bytes"], 300 << 20);
    assert_eq!(errors[0]["record_head"], "x".repeat(256));
    assert!(
        errors[0]["reason"].as_str().unwrap().contains("1 MiB"),
        "{}",
        errors[0]
    );
    assert!(stderr.contains("1 refused"), "{stderr}");
}

/// Every record refused: exit 5 with one `osprey:` line naming the count,
/// not 0.
#[test]
fn refused_records_exit_5() {
    let dir = tempfile::tempdir().unwrap();
    let input = "{\"ts\":\"never\",\"v\":1}\nnot json\n{\"v\":2}\n";
    let run = run_stdin(
        dir.path(),
        &[
            "aggregate",
            "-",
            "--schema",
            "ts:timestamp,v:f64",
            "--window",
            "tumbling:1m",
            "--agg",
            "count(*)",
            "--errors",
            "errors.ndjson",
            "--backend",
            "cpu",
        ],
        input.as_bytes(),
    );
    let line = run.fails_with(5);
    assert!(line.contains("3 refused"), "{line}");
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    let errors = std::fs::read_to_string(dir.path().join("errors.ndjson")).unwrap();
    assert_eq!(parse_ndjson(&errors).len(), 3);
}

/// 150 integers then a float, and a time field first seen after 150
/// records without one: the column widens to f64 as DuckDB's does and the
/// late time field is found; sums match DuckDB's over the same file.
#[test]
fn schema_widens_and_finds_a_late_time_field_as_duckdb_does() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for i in 0..150 {
        text += &format!("{{\"kind\":\"hello\",\"n\":{i}}}\n");
    }
    for i in 0..300 {
        let v = if i == 200 {
            "2.5".to_owned()
        } else {
            i.to_string()
        };
        text += &format!(
            "{{\"ts\":{},\"k\":\"k{}\",\"v\":{v}}}\n",
            1_764_608_400 + i,
            i % 3
        );
    }
    std::fs::write(dir.path().join("in.ndjson"), &text).unwrap();
    let run = run_in(
        dir.path(),
        &[
            "aggregate",
            "in.ndjson",
            "--window",
            "tumbling:1h",
            "--group-by",
            "k",
            "--agg",
            "count(*),sum(v)",
            "--errors",
            "errors.ndjson",
            "--backend",
            "cpu",
        ],
    );
    // The 150 records without a time are refused; the run goes on.
    let line = run.fails_with(5);
    assert!(line.contains("150 refused"), "{line}");
    let oracle = python(
        dir.path(),
        "import duckdb, json\n\
         rows = duckdb.sql(\"SELECT k, count(*), sum(v) FROM read_json_auto('in.ndjson') WHERE ts IS NOT NULL GROUP BY k\").fetchall()\n\
         print(json.dumps({k: [n, s] for k, n, s in rows}))",
    );
    let oracle: Value = serde_json::from_str(oracle.trim()).unwrap();
    let rows = run.records();
    assert_eq!(rows.len(), 3, "{rows:?}");
    for r in &rows {
        let k = r["k"].as_str().unwrap();
        assert_eq!(r["count"], oracle[k][0], "{r}");
        assert_eq!(
            r["sum_v"].as_f64().unwrap(),
            oracle[k][1].as_f64().unwrap(),
            "{r}"
        );
    }
}

/// Refused and late records carry the record exactly as it came (nested
/// objects, key order, number forms), so they can be fed back in.
#[test]
fn error_and_late_records_keep_the_original_and_replay() {
    let dir = tempfile::tempdir().unwrap();
    let late = r#"{"z":1.50,"ts":1764608401,"nested":{"b":true,"a":[1,2]},"v":7}"#;
    let bad = r#"{"v":1,"ts":"never","deep":{"x":{"y":null}}}"#;
    let input = format!(
        "{{\"ts\":1764608400,\"v\":1}}\n{{\"ts\":1764608700,\"v\":2}}\n{late}\n{bad}\nnot json at all\n"
    );
    let run = run_stdin(
        dir.path(),
        &[
            "aggregate",
            "-",
            "--schema",
            "ts:timestamp,v:f64",
            "--window",
            "tumbling:1m",
            "--agg",
            "count(*),sum(v)",
            "--errors",
            "errors.ndjson",
            "--backend",
            "cpu",
        ],
        input.as_bytes(),
    );
    run.fails_with(5);
    let errors = std::fs::read_to_string(dir.path().join("errors.ndjson")).unwrap();
    let lines: Vec<&str> = errors.lines().collect();
    assert_eq!(lines.len(), 3, "{errors}");
    let with = |kind: &str| {
        lines
            .iter()
            .copied()
            .filter(|l| serde_json::from_str::<Value>(l).unwrap()["kind"] == kind)
            .collect::<Vec<_>>()
    };
    let late_lines = with("late");
    assert_eq!(late_lines.len(), 1, "{errors}");
    assert!(
        late_lines[0].contains(&format!("\"record\":{late}")),
        "{}",
        late_lines[0]
    );
    let error_lines = with("error");
    assert!(
        error_lines[0].contains(&format!("\"record\":{bad}")),
        "{}",
        error_lines[0]
    );
    assert_eq!(
        serde_json::from_str::<Value>(error_lines[1]).unwrap()["record"],
        "not json at all"
    );
    // Replayed with room for lateness, the late record counts.
    let replay: String = late_lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["record"].to_string() + "\n")
        .collect();
    let again = run_stdin(
        dir.path(),
        &[
            "aggregate",
            "-",
            "--window",
            "tumbling:1m",
            "--agg",
            "count(*),sum(v)",
            "--backend",
            "cpu",
        ],
        replay.as_bytes(),
    )
    .success();
    let rows = again.records();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["sum_v"], 7.0);
}

/// Parquet time columns written as RFC 3339 text (plain and
/// dictionary-encoded) and as Date32 are read, not refused row by row.
#[test]
fn parquet_text_and_date_time_columns_are_read() {
    let dir = tempfile::tempdir().unwrap();
    python(
        dir.path(),
        "import pyarrow as pa, pyarrow.parquet as pq, datetime\n\
         ts = [f'2025-12-01T17:0{i // 10}:{i:02d}Z' for i in range(30)]\n\
         v = pa.array([float(i) for i in range(30)])\n\
         pq.write_table(pa.table({'ts': ts, 'v': v}), 'plain.parquet', use_dictionary=False)\n\
         pq.write_table(pa.table({'ts': pa.array(ts).dictionary_encode(), 'v': v}), 'dict.parquet')\n\
         days = pa.array([datetime.date(2025, 12, 1 + i // 10) for i in range(30)], pa.date32())\n\
         pq.write_table(pa.table({'ts': days, 'v': v}), 'date.parquet')\n",
    );
    let want_minutes: Vec<(String, i64)> = (0..3)
        .map(|m| (format!("2025-12-01T17:0{m}:00Z"), 10))
        .collect();
    let want_days: Vec<(String, i64)> = (1..4)
        .map(|d| (format!("2025-12-0{d}T00:00:00Z"), 10))
        .collect();
    for (file, window, want) in [
        ("plain.parquet", "tumbling:1m", &want_minutes),
        ("dict.parquet", "tumbling:1m", &want_minutes),
        ("date.parquet", "tumbling:1d", &want_days),
    ] {
        let run = run_in(
            dir.path(),
            &[
                "aggregate",
                file,
                "--window",
                window,
                "--agg",
                "count(*)",
                "--backend",
                "cpu",
            ],
        )
        .success();
        let mut got: Vec<(String, i64)> = run
            .records()
            .iter()
            .map(|r| {
                (
                    r["window_start"].as_str().unwrap().to_owned(),
                    r["count"].as_i64().unwrap(),
                )
            })
            .collect();
        got.sort();
        assert_eq!(&got, want, "{file}: {}", run.stderr);
    }
}

/// SQL mistakes get the message the flags get: a percentile's fraction
/// out of [0, 1], a number compared with text in WHERE.
#[test]
fn sql_fraction_and_type_mismatch_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("in.ndjson"),
        "{\"ts\":1764608400,\"temp\":1.5,\"sensor\":\"a\"}\n",
    )
    .unwrap();
    let cases = [
        (
            "SELECT approx_percentile(temp, 1.5) FROM input GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)",
            "between 0 and 1",
        ),
        (
            "SELECT count(*) FROM input WHERE temp > 'abc' GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)",
            "cannot compare",
        ),
        (
            "SELECT count(*) FROM input WHERE sensor = 5 GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)",
            "cannot compare",
        ),
    ];
    for (sql, needle) in cases {
        let run = run_in(
            dir.path(),
            &["aggregate", "in.ndjson", "--sql", sql, "--backend", "cpu"],
        );
        let line = run.fails_with(2);
        assert!(line.contains(needle), "{sql}: {line}");
    }
    // A number written as text still compares as DuckDB casts it.
    let run = run_in(
        dir.path(),
        &[
            "aggregate",
            "in.ndjson",
            "--sql",
            "SELECT count(*) AS n FROM input WHERE temp > '1' GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)",
            "--backend",
            "cpu",
        ],
    )
    .success();
    assert_eq!(run.records()[0]["n"], 1);
}

/// A CSV record over the 1 MiB limit ends the run with an input error
/// naming its line (CSV quoting leaves no safe place to resume), instead of
/// being read whole.
#[test]
fn an_over_long_csv_record_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("ts,note\n1764608400,short\n1764608401,\"");
    text.push_str(&"y".repeat(3 << 20));
    text.push_str("\"\n");
    std::fs::write(dir.path().join("in.csv"), text).unwrap();
    let run = run_in(
        dir.path(),
        &[
            "aggregate",
            "in.csv",
            "--window",
            "tumbling:1m",
            "--agg",
            "count(*)",
            "--backend",
            "cpu",
        ],
    );
    let line = run.fails_with(3);
    assert!(line.contains("line 3") && line.contains("1 MiB"), "{line}");
}

/// 100,000 keys in one window under `--memory-limit 8M`: a runtime failure
/// (exit 1) soon after the first piece, naming the state's size, the open
/// slots and what to change; under the default limit (a quarter of the
/// machine's memory) the same rows aggregate.
#[test]
fn state_past_the_memory_limit_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let input: String = (0..100_000)
        .map(|k| format!("{{\"ts\":1764608400,\"k\":\"key{k}\",\"v\":{k}}}\n"))
        .collect();
    let args = [
        "aggregate",
        "-",
        "--window",
        "tumbling:1m",
        "--group-by",
        "k",
        "--agg",
        "count(*),avg(v)",
        "--backend",
        "cpu",
    ];
    let started = std::time::Instant::now();
    let limited: Vec<&str> = args
        .iter()
        .copied()
        .chain(["--memory-limit", "8M"])
        .collect();
    let run = run_stdin(dir.path(), &limited, input.as_bytes());
    let line = run.fails_with(1);
    for want in [
        "over the memory limit of 8.0 MiB",
        "open (window, group) slots",
        "fewer or coarser group keys",
        "--memory-limit",
    ] {
        assert!(line.contains(want), "{want:?} not in {line}");
    }
    assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    let run = run_stdin(dir.path(), &args, input.as_bytes());
    assert_eq!(run.success().records().len(), 100_000);
    let bad = run_in(
        dir.path(),
        &[
            "aggregate",
            "-",
            "--window",
            "tumbling:1m",
            "--agg",
            "count(*)",
            "--memory-limit",
            "lots",
        ],
    );
    assert!(bad.fails_with(2).contains("--memory-limit"));
}
