//! `osprey aggregate` against DuckDB on the same files: a seeded random data
//! set (nulls, out-of-order rows within the lateness, many keys) written by
//! pyarrow as Parquet, NDJSON and CSV; DuckDB computes the same windows with
//! epoch arithmetic in SQL. Counts, min and max must be equal; sums, means
//! and variances within 1e-12 relative; approximate distinct counts within
//! 3 standard errors of HyperLogLog (3 x 3.25%) of the exact count;
//! percentiles within 1/64 of DuckDB's exact `quantile_disc`. Both backends
//! (the GPU on lavapipe here) must write the same bytes.
//!
//! Also: flags against SQL, late and refused records, exit codes, and the
//! per-frame records of `osprey analyze` aggregated per source.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::common::{parse_ndjson, run_in, run_stdin};

/// Writes the data set into `dir` (data.parquet, data.ndjson, data.csv) and
/// DuckDB's answers to the queries in `queries` (name → SQL over `t`) as
/// JSON lines `{"q": name, "rows": [...]}` to oracle.json.
fn duckdb(dir: &Path, queries: &[(&str, String)]) -> HashMap<String, Vec<Value>> {
    let mut script = String::from(
        r#"
import json, random, datetime, duckdb, pyarrow as pa, pyarrow.parquet as pq
random.seed(7)
t0 = 1764608400 * 1_000_000  # 2025-12-01T17:00:00Z
rows = []
for i in range(6000):
    sensor = f"s{random.randrange(40):02d}"
    # Roughly in time order with jitter of up to 10 s: no row is more than
    # 20 s behind the largest time before it (the lateness is 30 s).
    ts = t0 + i * 150_000 + random.randrange(-10_000_000, 10_000_000) + random.randrange(1000)
    temp = None if random.random() < 0.05 else round(random.gauss(20, 5), 6) * (10 ** random.choice([0, 0, 0, 3, -3]))
    level = random.randrange(1, 300)
    tag = f"t{random.randrange(900)}"
    rows.append((ts, sensor, temp, level, tag))
ts = pa.array([r[0] for r in rows], pa.timestamp("us", tz="UTC"))
table = pa.table({"ts": ts, "sensor": [r[1] for r in rows], "temp": pa.array([r[2] for r in rows], pa.float64()),
                  "level": pa.array([r[3] for r in rows], pa.int64()), "tag": [r[4] for r in rows]})
pq.write_table(table, "data.parquet")
with open("data.ndjson", "w") as f:
    for (t, s, v, l, g) in rows:
        iso = datetime.datetime.fromtimestamp(t / 1e6, datetime.timezone.utc).isoformat().replace("+00:00", "Z")
        f.write(json.dumps({"ts": iso, "sensor": s, "temp": v, "level": l, "tag": g}) + "\n")
with open("data.csv", "w") as f:
    f.write("ts,sensor,temp,level,tag\n")
    for (t, s, v, l, g) in rows:
        f.write(f"{t / 1e6!r},{s},{'' if v is None else repr(v)},{l},{g}\n")
con = duckdb.connect()
con.execute("CREATE TABLE t AS SELECT *, epoch_us(ts) AS us FROM 'data.parquet'")
out = open("oracle.json", "w")
"#,
    );
    for (name, sql) in queries {
        script += &format!(
            "cur = con.execute({sql:?})\ncols = [d[0] for d in cur.description]\nout.write(json.dumps({{'q': {name:?}, 'rows': [dict(zip(cols, r)) for r in cur.fetchall()]}}, default=float) + '\\n')\n"
        );
    }
    script += "out.close()\n";
    let out = Command::new("python3")
        .args(["-c", &script])
        .current_dir(dir)
        .output()
        .expect("python3 runs (scripts/setup.sh installs duckdb and pyarrow)");
    assert!(
        out.status.success(),
        "the DuckDB oracle failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(dir.join("oracle.json")).expect("oracle.json");
    parse_ndjson(&text)
        .into_iter()
        .map(|v| {
            let name = v["q"].as_str().expect("q").to_owned();
            (name, v["rows"].as_array().expect("rows").clone())
        })
        .collect()
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    a == b || (a - b).abs() <= rel * a.abs().max(b.abs())
}

/// osprey's rows keyed by (window start in µs since the epoch, sensor).
fn by_window(rows: &[Value]) -> HashMap<(i64, String), Value> {
    rows.iter()
        .map(|r| {
            let start = r["window_start"].as_str().expect("window_start");
            let t = chrono_like(start);
            (
                (t, r["sensor"].as_str().unwrap_or("").to_owned()),
                r.clone(),
            )
        })
        .collect()
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.ffffff]Z` into µs since the epoch.
fn chrono_like(s: &str) -> i64 {
    let num = |a: usize, b: usize| -> i64 { s[a..b].parse().unwrap_or_else(|_| panic!("{s}")) };
    let (y, m, d) = (num(0, 4), num(5, 7), num(8, 10));
    let (hh, mm, ss) = (num(11, 13), num(14, 16), num(17, 19));
    let frac = match s.as_bytes().get(19) {
        Some(b'.') => {
            let digits = &s[20..s.len() - 1];
            digits.parse::<i64>().unwrap() * 10i64.pow(6 - digits.len() as u32)
        }
        _ => 0,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    ((days * 86_400 + hh * 3600 + mm * 60 + ss) * 1_000_000) + frac
}

const AGGS: &str = "count(*) as n, count(temp) as n_temp, sum(temp) as sum, min(temp) as min, max(temp) as max, \
    avg(temp) as avg, var_samp(temp) as var_samp, var_pop(temp) as var_pop, stddev_samp(temp) as stddev_samp, \
    stddev_pop(temp) as stddev_pop, approx_count_distinct(tag) as distinct_tags, p90(level) as p90, \
    first(temp) as first, last(temp) as last, max(level) as max_level";

fn oracle_sql(window_expr: &str, size_us: i64) -> String {
    format!(
        "SELECT ws AS window_start, ws + {size_us} AS window_end, sensor, count(*) AS n, count(temp) AS n_temp, \
         sum(temp) AS sum, min(temp) AS min, max(temp) AS max, avg(temp) AS avg, var_samp(temp) AS var_samp, \
         var_pop(temp) AS var_pop, stddev_samp(temp) AS stddev_samp, stddev_pop(temp) AS stddev_pop, \
         count(DISTINCT tag) AS distinct_tags, quantile_disc(level, 0.9) AS p90, \
         arg_min(temp, us) FILTER (WHERE temp IS NOT NULL) AS first, arg_max(temp, us) FILTER (WHERE temp IS NOT NULL) AS last, \
         max(level) AS max_level FROM (SELECT *, {window_expr} AS ws FROM t) GROUP BY ALL"
    )
}

/// Compares osprey's rows with DuckDB's.
fn compare(what: &str, ours: &[Value], theirs: &[Value]) {
    assert_eq!(ours.len(), theirs.len(), "{what}: result rows");
    let ours = by_window(ours);
    for t in theirs {
        let key = (
            t["window_start"].as_i64().expect("ws"),
            t["sensor"].as_str().expect("sensor").to_owned(),
        );
        let o = ours
            .get(&key)
            .unwrap_or_else(|| panic!("{what}: osprey has no row for {key:?}"));
        for exact in ["n", "n_temp", "min", "max", "max_level", "first", "last"] {
            assert_eq!(
                o[exact].as_f64(),
                t[exact].as_f64(),
                "{what} {key:?} {exact}"
            );
        }
        for rel in [
            "sum",
            "avg",
            "var_samp",
            "var_pop",
            "stddev_samp",
            "stddev_pop",
        ] {
            match (o[rel].as_f64(), t[rel].as_f64()) {
                (Some(a), Some(b)) => assert!(
                    close(a, b, 1e-12),
                    "{what} {key:?} {rel}: {a} vs DuckDB {b}"
                ),
                (a, b) => assert_eq!(a, b, "{what} {key:?} {rel}"),
            }
        }
        let (d, exact) = (
            o["distinct_tags"].as_f64().unwrap(),
            t["distinct_tags"].as_f64().unwrap(),
        );
        assert!(
            (d - exact).abs() <= 3.0 * 0.0325 * exact + 1.0,
            "{what} {key:?} distinct {d} vs {exact}"
        );
        let (p, q) = (o["p90"].as_f64().unwrap(), t["p90"].as_f64().unwrap());
        assert!(
            (p - q).abs() <= q.abs() / 64.0,
            "{what} {key:?} p90 {p} vs quantile_disc {q}"
        );
    }
}

#[test]
fn windows_match_duckdb_on_parquet_ndjson_and_csv_on_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    let minute = 60_000_000i64;
    let oracle = duckdb(
        dir.path(),
        &[
            ("tumble", oracle_sql(&format!("us // {minute} * {minute}"), minute)),
            (
                "hop",
                format!(
                    "{} ",
                    oracle_sql("hs", 2 * minute).replace(
                        "FROM t)",
                        &format!("FROM (SELECT *, us // {} * {} - j * {} AS hs FROM t, range(0, 4) r(j)))", minute / 2, minute / 2, minute / 2)
                    )
                ),
            ),
        ],
    );
    let tumble = &oracle["tumble"];
    let mut outputs = Vec::new();
    for (input, extra) in [
        ("data.parquet", vec![]),
        ("data.ndjson", vec![]),
        ("data.csv", vec!["--time-format", "epoch_s"]),
    ] {
        for backend in ["cpu", "gpu"] {
            let mut args = vec![
                "aggregate",
                input,
                "--window",
                "tumbling:1m",
                "--group-by",
                "sensor",
                "--agg",
                AGGS,
                "--lateness",
                "30s",
                "--backend",
                backend,
                "--batch-rows",
                "1000",
            ];
            args.extend(&extra);
            let run = run_in(dir.path(), &args).success();
            assert!(run.stderr.contains(" 0 late, 0 refused"), "{}", run.stderr);
            compare(&format!("{input} on {backend}"), &run.records(), tumble);
            outputs.push((format!("{input} {backend}"), run.stdout));
        }
    }
    for (name, out) in &outputs[1..] {
        assert!(*out == outputs[0].1, "{name} differs from {}", outputs[0].0);
    }
    // Hopping windows (30 s slide, 2 min size) and the same query in SQL.
    let run = run_in(
        dir.path(),
        &[
            "aggregate",
            "data.parquet",
            "--window",
            "hop:30s,2m",
            "--group-by",
            "sensor",
            "--agg",
            AGGS,
            "--lateness",
            "30s",
            "--backend",
            "gpu",
        ],
    )
    .success();
    compare("hop", &run.records(), &oracle["hop"]);
    let sql = format!(
        "SELECT sensor, {} FROM input GROUP BY sensor, HOP(ts, INTERVAL '30' SECOND, INTERVAL '2' MINUTE)",
        AGGS.replace("p90(level)", "approx_percentile(level, 0.9)")
    );
    let by_sql = run_in(
        dir.path(),
        &[
            "aggregate",
            "data.parquet",
            "--sql",
            &sql,
            "--lateness",
            "30s",
            "--backend",
            "cpu",
        ],
    )
    .success();
    assert_eq!(by_sql.stdout, run.stdout, "SQL and flags agree");
}

/// `approx_count_distinct` where HyperLogLog has to estimate: one window a
/// minute holding from 100 to 40,000 distinct values (each twice), from the
/// small-range correction through the raw estimate, within 3 standard
/// errors (3 x 3.25%) of the count the data was made with; both backends
/// write the same bytes. (The DuckDB comparison above sees about ten values
/// a window, where the estimate is all but exact.)
#[test]
fn approx_count_distinct_estimates_large_windows_on_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    const T0: i64 = 1_764_608_400;
    let distinct = [100usize, 1000, 3000, 10_000, 40_000];
    let mut input = String::new();
    for (m, &n) in distinct.iter().enumerate() {
        let rows = 2 * n;
        for j in 0..rows {
            let ts = (T0 + 60 * m as i64) as f64 + 59.0 * j as f64 / rows as f64;
            // Value i at row i and again at row n + i.
            input += &format!("{{\"ts\":{ts},\"tag\":\"u{m}-{}\"}}\n", j % n);
        }
    }
    std::fs::write(dir.path().join("tags.ndjson"), &input).unwrap();
    let outputs: Vec<String> = ["cpu", "gpu"]
        .iter()
        .map(|backend| {
            let args = [
                "aggregate",
                "tags.ndjson",
                "--time-format",
                "epoch_s",
                "--window",
                "tumbling:1m",
                "--agg",
                "count(*) as n, approx_count_distinct(tag) as d",
                "--backend",
                backend,
            ];
            run_in(dir.path(), &args).success().stdout
        })
        .collect();
    assert_eq!(outputs[0], outputs[1], "cpu and gpu differ");
    let rows = parse_ndjson(&outputs[0]);
    assert_eq!(rows.len(), distinct.len(), "{rows:?}");
    for (row, &exact) in rows.iter().zip(&distinct) {
        assert_eq!(row["n"].as_u64(), Some(2 * exact as u64), "{row}");
        let d = row["d"].as_f64().unwrap();
        let exact = exact as f64;
        assert!(
            (d - exact).abs() <= 3.0 * 0.0325 * exact,
            "{d} distinct estimated for {exact}"
        );
    }
}

#[test]
fn sql_where_having_and_sessions_match_duckdb() {
    let dir = tempfile::tempdir().unwrap();
    let gap = 2_000_000i64;
    let oracle = duckdb(
        dir.path(),
        &[
            (
                "where",
                "SELECT us // 60000000 * 60000000 AS window_start, sensor, count(*) AS n, max(temp) AS mx \
                 FROM t WHERE temp > 20 AND sensor IN ('s01', 's02', 's03') GROUP BY ALL HAVING count(*) > 2"
                    .into(),
            ),
            (
                "session",
                format!(
                    "WITH o AS (SELECT *, us - lag(us) OVER (PARTITION BY sensor ORDER BY us) AS d FROM t), \
                     s AS (SELECT *, sum(CASE WHEN d IS NULL OR d >= {gap} THEN 1 ELSE 0 END) OVER (PARTITION BY sensor ORDER BY us) AS sid FROM o) \
                     SELECT min(us) AS window_start, max(us) + {gap} AS window_end, sensor, count(*) AS n, sum(level) AS total FROM s GROUP BY sensor, sid"
                ),
            ),
        ],
    );
    let run = run_in(
        dir.path(),
        &[
            "aggregate", "data.parquet", "--backend", "cpu", "--lateness", "30s", "--sql",
            "SELECT sensor, COUNT(*) AS n, MAX(temp) AS mx FROM input WHERE temp > 20 AND sensor IN ('s01', 's02', 's03') \
             GROUP BY sensor, TUMBLE(ts, INTERVAL '1' MINUTE) HAVING COUNT(*) > 2",
        ],
    )
    .success();
    let ours = by_window(&run.records());
    assert_eq!(ours.len(), oracle["where"].len());
    assert!(!ours.is_empty());
    for t in &oracle["where"] {
        let key = (
            t["window_start"].as_i64().unwrap(),
            t["sensor"].as_str().unwrap().to_owned(),
        );
        let o = &ours[&key];
        assert_eq!(o["n"].as_i64(), t["n"].as_i64(), "{key:?}");
        assert_eq!(o["mx"].as_f64(), t["mx"].as_f64(), "{key:?}");
    }
    // Sessions need the rows of a key in time order up to the lateness:
    // a lateness of 30 s covers the data's 20 s of jitter.
    for backend in ["cpu", "gpu"] {
        let run = run_in(
            dir.path(),
            &[
                "aggregate",
                "data.ndjson",
                "--window",
                "session:2s",
                "--group-by",
                "sensor",
                "--agg",
                "count(*) as n, sum(level) as total",
                "--lateness",
                "30s",
                "--backend",
                backend,
            ],
        )
        .success();
        let ours = by_window(&run.records());
        assert_eq!(ours.len(), oracle["session"].len(), "{backend}: sessions");
        for t in &oracle["session"] {
            let key = (
                t["window_start"].as_i64().unwrap(),
                t["sensor"].as_str().unwrap().to_owned(),
            );
            let o = ours
                .get(&key)
                .unwrap_or_else(|| panic!("{backend}: no session {key:?}"));
            assert_eq!(
                chrono_like(o["window_end"].as_str().unwrap()),
                t["window_end"].as_i64().unwrap(),
                "{key:?}"
            );
            assert_eq!(o["n"].as_i64(), t["n"].as_i64(), "{key:?}");
            assert_eq!(o["total"].as_f64(), t["total"].as_f64(), "{key:?}");
        }
    }
}

#[test]
fn late_and_refused_records_go_to_the_error_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = "\
ts;sensor;temp
2025/12/01 17:00:05,a,1.5
2025/12/01 17:00:50,a,2.5
2025/12/01 17:01:30,b,warm
2025/12/01 17:02:10,a,3
2025/12/01 17:00:59,a,100
,a,1
2025/12/01 17:01:59,b,4
";
    std::fs::write(dir.path().join("in.csv"), input.replace(';', ",")).unwrap();
    let run = run_in(
        dir.path(),
        &[
            "aggregate",
            "in.csv",
            "--schema",
            "ts:timestamp,sensor:string,temp:f64",
            "--time-format",
            "%Y/%m/%d %H:%M:%S",
            "--window",
            "tumbling:1m",
            "--group-by",
            "sensor",
            "--agg",
            "count(*),sum(temp)",
            "--lateness",
            "5s",
            "--errors",
            "errors.ndjson",
            "--backend",
            "cpu",
        ],
    );
    run.fails_with(5);
    assert!(
        run.stderr
            .contains("5 rows, 2 result rows, 2 late, 2 refused"),
        "{}",
        run.stderr
    );
    let got: Vec<(String, String, i64, f64)> = run
        .records()
        .iter()
        .map(|r| {
            (
                r["window_start"].as_str().unwrap().to_owned(),
                r["sensor"].as_str().unwrap().to_owned(),
                r["count"].as_i64().unwrap(),
                r["sum_temp"].as_f64().unwrap(),
            )
        })
        .collect();
    let want = [
        ("2025-12-01T17:00:00Z".to_owned(), "a".to_owned(), 2, 4.0),
        ("2025-12-01T17:02:00Z".to_owned(), "a".to_owned(), 1, 3.0),
    ];
    assert_eq!(got, want);
    let errors = parse_ndjson(&std::fs::read_to_string(dir.path().join("errors.ndjson")).unwrap());
    let kinds: Vec<&str> = errors.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "late").count(),
        2,
        "{errors:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "error").count(),
        2,
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e["reason"]
            .as_str()
            .unwrap()
            .contains("\"warm\" is not a number")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e["reason"].as_str().unwrap().contains("time field")),
        "{errors:?}"
    );
}

#[test]
fn usage_and_input_errors_are_one_line_with_their_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.ndjson"), "{\"ts\":1,\"v\":2}\n").unwrap();
    let cases: [(&[&str], i32, &str); 7] = [
        (
            &[
                "aggregate",
                "missing.ndjson",
                "--window",
                "tumbling:1m",
                "--agg",
                "count(*)",
            ],
            3,
            "no such file",
        ),
        (
            &[
                "aggregate",
                "in.ndjson",
                "--window",
                "weekly:1",
                "--agg",
                "count(*)",
            ],
            2,
            "unknown window kind",
        ),
        (
            &[
                "aggregate",
                "in.ndjson",
                "--window",
                "tumbling:1m",
                "--agg",
                "median(v)",
            ],
            2,
            "unknown aggregate",
        ),
        (
            &[
                "aggregate",
                "in.ndjson",
                "--window",
                "tumbling:1m",
                "--agg",
                "avg(nope)",
            ],
            2,
            "no field \"nope\"",
        ),
        (
            &["aggregate", "in.ndjson", "--agg", "count(*)"],
            2,
            "--window",
        ),
        (
            &[
                "aggregate",
                "in.ndjson",
                "--sql",
                "SELECT v FROM input ORDER BY v",
            ],
            2,
            "ORDER BY",
        ),
        (
            &[
                "aggregate",
                "in.ndjson",
                "--window",
                "tumbling:1m",
                "--agg",
                "count(*)",
                "--schema",
                "ts:date",
            ],
            2,
            "unknown type",
        ),
    ];
    for (args, code, needle) in cases {
        let mut args = args.to_vec();
        args.extend(["--backend", "cpu"]);
        let run = run_in(dir.path(), &args);
        let line = run.fails_with(code);
        assert!(line.contains(needle), "{args:?}: {line}");
    }
}

#[test]
fn stdin_flags_and_sql_agree_and_parquet_output_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut input = String::new();
    for i in 0..500 {
        input += &format!(
            "{{\"ts\":{},\"k\":\"k{}\",\"v\":{}}}\n",
            1_764_608_400 + i,
            i % 7,
            f64::from(i) * 0.25
        );
    }
    let flags = run_stdin(
        dir.path(),
        &[
            "aggregate",
            "--window",
            "tumbling:1m",
            "--group-by",
            "k",
            "--agg",
            "count(*) as n, avg(v) as mean, max(v) as top",
            "--backend",
            "cpu",
        ],
        input.as_bytes(),
    )
    .success();
    let sql = run_stdin(
        dir.path(),
        &[
            "aggregate", "-", "--backend", "gpu", "--sql",
            "SELECT k, COUNT(*) AS n, AVG(v) AS mean, MAX(v) AS top FROM input GROUP BY k, TUMBLE(ts, INTERVAL '60' SECOND)",
        ],
        input.as_bytes(),
    )
    .success();
    assert_eq!(flags.stdout, sql.stdout);
    assert_eq!(
        flags.records().len(),
        9 * 7,
        "500 s over 9 minutes, every key in each"
    );
    std::fs::write(dir.path().join("in.ndjson"), &input).unwrap();
    run_in(
        dir.path(),
        &[
            "aggregate",
            "in.ndjson",
            "--window",
            "tumbling:1m",
            "--group-by",
            "k",
            "--agg",
            "count(*) as n, avg(v) as mean",
            "--output",
            "out.parquet",
            "--backend",
            "cpu",
        ],
    )
    .success();
    let out = Command::new("python3")
        .args(["-c", "import duckdb; print(duckdb.sql(\"SELECT sum(n), count(*) FROM 'out.parquet'\").fetchone())"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("(500, {})", flags.records().len())
    );
}

#[test]
fn analyze_records_aggregate_per_source_and_minute() {
    let dir = tempfile::tempdir().unwrap();
    run_in(
        dir.path(),
        &[
            "generate",
            "clip.mp4",
            "--frames",
            "100",
            "--cut-every",
            "40",
            "--width",
            "160",
            "--height",
            "120",
        ],
    )
    .success();
    let analyzed = run_in(
        dir.path(),
        &[
            "analyze",
            "clip.mp4",
            "--backend",
            "cpu",
            "--kernels",
            "scene,motion",
            "--output",
            "frames.ndjson",
        ],
    )
    .success();
    drop(analyzed);
    let records = parse_ndjson(&std::fs::read_to_string(dir.path().join("frames.ndjson")).unwrap());
    let frames: Vec<&Value> = records.iter().filter(|r| r["kind"] == "frame").collect();
    let cuts = records
        .iter()
        .filter(|r| r["kind"] == "event" && r["type"] == "scene_cut")
        .count();
    assert_eq!(frames.len(), 100);
    assert!(cuts >= 2, "the clip has cuts at frames 40 and 80");
    let ratios: Vec<f64> = frames
        .iter()
        .filter_map(|f| f["motion"]["ratio"].as_f64())
        .collect();
    let mean = ratios.iter().sum::<f64>() / ratios.len() as f64;
    let schema = "pts:timestamp,source:string,kind:string,type:string,motion.ratio:f64";
    let query = |sql: &str| {
        run_in(
            dir.path(),
            &[
                "aggregate",
                "frames.ndjson",
                "--schema",
                schema,
                "--time-format",
                "epoch_s",
                "--backend",
                "gpu",
                "--sql",
                sql,
            ],
        )
        .success()
        .records()
    };
    let motion = query(
        "SELECT source, COUNT(*) AS frames, AVG(motion.ratio) AS motion FROM input \
         WHERE kind = 'frame' GROUP BY source, TUMBLE(pts, INTERVAL '1' MINUTE)",
    );
    assert_eq!(motion.len(), 1, "{motion:?}");
    assert_eq!(motion[0]["source"], "clip");
    assert_eq!(motion[0]["window_start"], "1970-01-01T00:00:00Z");
    assert_eq!(motion[0]["frames"].as_u64(), Some(100));
    let got = motion[0]["motion"].as_f64().unwrap();
    assert!(close(got, mean, 1e-12), "{got} vs {mean}");
    let scene = query(
        "SELECT source, COUNT(*) AS cuts FROM input WHERE kind = 'event' AND \"type\" = 'scene_cut' \
         GROUP BY source, TUMBLE(pts, INTERVAL '1' MINUTE)",
    );
    assert_eq!(scene.len(), 1, "{scene:?}");
    assert_eq!(scene[0]["cuts"].as_u64(), Some(cuts as u64));
}
