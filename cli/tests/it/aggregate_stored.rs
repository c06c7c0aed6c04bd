//! `osprey aggregate` over stored data: a Hive-style tree of Parquet files
//! (written by pyarrow, several row groups each) against DuckDB's
//! `read_parquet(..., hive_partitioning = true)` on the same tree and the
//! same query; the files and row groups a WHERE time range leaves unread;
//! the same output bytes whatever the number of decoding threads; and
//! NDJSON and CSV files (gzip, zstd) in a tree read as its Parquet files.

use std::path::Path;
use std::process::Command;

use crate::common::run_in;

/// Writes the tree under `dir/tree`: hours 17, 18 and 19 of 2025-12-01,
/// 900 rows an hour in time order with a few seconds of jitter, row groups
/// of 200 rows; and `dir/one.parquet`, all of it in one file, the times
/// shuffled so that some rows are late, and the same rows as `one.ndjson`.
fn make_tree(dir: &Path) {
    let script = r#"
import random, os, json, datetime, pyarrow as pa, pyarrow.parquet as pq
random.seed(11)
t0 = 1764608400 * 1_000_000  # 2025-12-01T17:00:00Z
everything = []
for h in range(3):
    rows = []
    for i in range(900):
        ts = t0 + h * 3_600_000_000 + i * 4_000_000 + random.randrange(0, 3_000_000)
        rows.append((ts, f"s{random.randrange(20):02d}", round(random.gauss(20, 5), 3)))
    everything += rows
    d = f"tree/year=2025/month=12/day=01/hour={17 + h}"
    os.makedirs(d, exist_ok=True)
    t = pa.table({"ts": pa.array([r[0] for r in rows], pa.timestamp("us", tz="UTC")),
                  "sensor": [r[1] for r in rows], "temp": [r[2] for r in rows]})
    pq.write_table(t, f"{d}/part-0.parquet", row_group_size=200)
random.shuffle(everything)
t = pa.table({"ts": pa.array([r[0] for r in everything], pa.timestamp("us", tz="UTC")),
              "sensor": [r[1] for r in everything], "temp": [r[2] for r in everything]})
pq.write_table(t, "one.parquet", row_group_size=250)
with open("one.ndjson", "w") as f:
    for ts, sensor, temp in everything:
        secs = datetime.datetime.fromtimestamp(ts // 1_000_000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        iso = f"{secs}.{ts % 1_000_000:06d}Z"
        f.write(json.dumps({"ts": iso, "sensor": sensor, "temp": temp}) + "\n")
"#;
    let status = Command::new("python3")
        .args(["-c", script])
        .current_dir(dir)
        .status()
        .expect("python3 runs (scripts/setup.sh installs pyarrow)");
    assert!(status.success());
}

/// Compares osprey's rows (`ours.ndjson`) with DuckDB's on the tree, in
/// Python: the same (window, sensor, hour) rows, counts and extremes equal,
/// sums within 1e-9 relative. Prints what differs.
fn same_as_duckdb(dir: &Path, duck_where: &str) {
    let script = format!(
        r#"
import json, duckdb, datetime
ours = {{}}
for line in open("ours.ndjson"):
    r = json.loads(line)
    ours[(r["window_start"], r["sensor"], r["hour"])] = r
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
q = """SELECT strftime(time_bucket(INTERVAL 10 MINUTE, ts), '%Y-%m-%dT%H:%M:%SZ') AS ws, sensor, hour,
              count(*), sum(temp), min(temp), max(temp)
       FROM read_parquet('tree/**/*.parquet', hive_partitioning = true)
       WHERE {duck_where} GROUP BY ALL"""
theirs = con.execute(q).fetchall()
assert len(theirs) == len(ours), (len(theirs), len(ours))
assert len(theirs) > 100, len(theirs)
for ws, sensor, hour, n, s, mn, mx in theirs:
    o = ours[(ws, sensor, hour)]
    assert (o["n"], o["mn"], o["mx"]) == (n, mn, mx), (o, n, mn, mx)
    assert abs(o["s"] - s) <= 1e-9 * abs(s), (o, s)
print("same", len(theirs))
"#
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .current_dir(dir)
        .output()
        .expect("python3 runs (scripts/setup.sh installs duckdb)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.starts_with("same"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const SQL: &str = "SELECT sensor, hour, count(*) AS n, sum(temp) AS s, min(temp) AS mn, max(temp) AS mx \
    FROM input WHERE ts >= '2025-12-01T17:30:00Z' AND ts < '2025-12-01T19:00:00Z' \
    GROUP BY sensor, hour, TUMBLE(ts, INTERVAL '10' MINUTE)";

#[test]
fn a_hive_tree_matches_duckdb_and_the_time_range_skips_files_and_row_groups() {
    let dir = tempfile::tempdir().unwrap();
    make_tree(dir.path());
    let run = |input: &str, extra: &[&str]| {
        let mut args = vec!["aggregate", input, "--sql", SQL, "--lateness", "10s"];
        args.extend_from_slice(extra);
        run_in(dir.path(), &args).success()
    };
    let tree = run("tree", &[]);
    std::fs::write(dir.path().join("ours.ndjson"), &tree.stdout).unwrap();
    same_as_duckdb(
        dir.path(),
        "ts >= TIMESTAMPTZ '2025-12-01 17:30:00+00' AND ts < TIMESTAMPTZ '2025-12-01 19:00:00+00'",
    );
    // Hour 19 is outside the range by its path; the first half of hour 17
    // (row groups 0 to 1 of 0 to 4) by its statistics.
    let summary = |r: &crate::common::Run| {
        r.stderr
            .lines()
            .find(|l| l.starts_with("osprey: aggregate: read "))
            .unwrap_or_else(|| panic!("no read summary:\n{}", r.stderr))
            .to_owned()
    };
    assert_eq!(
        summary(&tree),
        "osprey: aggregate: read 2 of 3 files (8 of 10 row groups); skipped by the WHERE time range: 1 files by their path, 0 by their statistics"
    );
    // Without skipping by path, hour 19 is opened and its statistics skip it.
    let opened = run("tree", &["--no-path-skip"]);
    assert!(
        summary(&opened).contains("read 2 of 3 files (8 of 15 row groups)")
            && summary(&opened).ends_with("0 files by their path, 1 by their statistics"),
        "{}",
        summary(&opened)
    );
    // A glob reads the same rows; so does one thread.
    let glob = run("tree/year=2025/*/*/hour=*/*.parquet", &["--threads", "1"]);
    assert_eq!(glob.stdout, tree.stdout);
    assert_eq!(opened.stdout, tree.stdout);
}

#[test]
fn threads_change_nothing_in_the_output_late_rows_included() {
    let dir = tempfile::tempdir().unwrap();
    make_tree(dir.path());
    // Batches of 300 rows across row groups of 250, shuffled times: many
    // rows are late, and which ones depends on the batches.
    let with = |input: &str, threads: &str| {
        let r = run_in(
            dir.path(),
            &[
                "aggregate",
                input,
                "--window",
                "tumbling:10m",
                "--group-by",
                "sensor",
                "--agg",
                "count(*),sum(temp)",
                "--batch-rows",
                "300",
                "--threads",
                threads,
                "--errors",
                "late.ndjson",
            ],
        );
        let late = std::fs::read_to_string(dir.path().join("late.ndjson")).unwrap();
        (r.code, r.stdout, late)
    };
    let one = with("one.parquet", "1");
    let four = with("one.parquet", "4");
    assert!(
        one.2.lines().count() > 100,
        "late rows: {}",
        one.2.lines().count()
    );
    assert_eq!(one, four);
    // The same rows as text, cut by the chunker into the same batches: the
    // same windows and as many late rows.
    let text = with("one.ndjson", "4");
    assert_eq!((text.0, &text.1), (one.0, &one.1));
    assert_eq!(text.2.lines().count(), one.2.lines().count());
}

/// The tree again with hour 18 as gzip'd NDJSON (times as RFC 3339 text,
/// one malformed line, refused with its file and line) and hour 19 as
/// zstd'd CSV (made by the `zstd` tool), beside a file of
/// another name: the same rows read from text give the same output bytes
/// as the Parquet tree, which the test above holds to DuckDB; the WHERE
/// range skips hour 19 by its path; a glob that matches the stray file
/// fails; `--format` is refused.
#[test]
fn ndjson_and_csv_files_of_a_tree_read_as_its_parquet_files_do() {
    let dir = tempfile::tempdir().unwrap();
    make_tree(dir.path());
    let script = r#"
import csv, datetime, gzip, json, os, shutil, subprocess, pyarrow.parquet as pq
src = "tree/year=2025/month=12/day=01"
dst = "mixed/year=2025/month=12/day=01"
for h in (17, 18, 19):
    os.makedirs(f"{dst}/hour={h}", exist_ok=True)
shutil.copy(f"{src}/hour=17/part-0.parquet", f"{dst}/hour=17/part-0.parquet")
def rows(h):
    t = pq.read_table(f"{src}/hour={h}/part-0.parquet").to_pylist()
    for r in t:
        r["ts"] = r["ts"].astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return t
with gzip.open(f"{dst}/hour=18/part-0.ndjson.gz", "wt") as f:
    for i, r in enumerate(rows(18)):
        f.write(json.dumps(r) + "\n")
        if i == 0:
            f.write("{not json\n")
with open(f"{dst}/hour=19/part-0.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["ts", "sensor", "temp"])
    for r in rows(19):
        w.writerow([r["ts"], r["sensor"], repr(r["temp"])])
subprocess.run(["zstd", "-q", "--rm", f"{dst}/hour=19/part-0.csv"], check=True)
open(f"{dst}/hour=19/README.txt", "w").write("not data\n")
"#;
    let status = Command::new("python3")
        .args(["-c", script])
        .current_dir(dir.path())
        .status()
        .expect("python3 runs (scripts/setup.sh installs pyarrow; zstd comes with it)");
    assert!(status.success());
    let agg = |input: &str, sql: &str, extra: &[&str]| {
        let mut args = vec!["aggregate", input, "--sql", sql, "--lateness", "10s"];
        args.extend_from_slice(extra);
        run_in(dir.path(), &args)
    };
    let all = "SELECT sensor, hour, count(*) AS n, sum(temp) AS s, min(temp) AS mn, max(temp) AS mx \
        FROM input GROUP BY sensor, hour, TUMBLE(ts, INTERVAL '10' MINUTE)";
    let parquet = agg("tree", all, &[]).success();
    let mixed = agg(
        "mixed",
        all,
        &["--threads", "3", "--errors", "errors.ndjson"],
    );
    // A refused record makes the run exit 5, once the others are in.
    assert_eq!(mixed.code, 5, "{}", mixed.stderr);
    assert!(
        mixed.stderr.contains("1 records were refused"),
        "{}",
        mixed.stderr
    );
    assert_eq!(mixed.stdout, parquet.stdout);
    // The malformed line is named by its file and its line in that file.
    let errors = std::fs::read_to_string(dir.path().join("errors.ndjson")).unwrap();
    let errors: Vec<serde_json::Value> = errors
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["kind"], "error");
    assert_eq!(errors[0]["line"], 2);
    assert_eq!(errors[0]["record"], "{not json");
    let file = errors[0]["file"].as_str().unwrap_or_default();
    assert!(file.ends_with("hour=18/part-0.ndjson.gz"), "{errors:?}");
    assert!(parquet.stdout.lines().count() > 300, "{}", parquet.stdout);
    let skipped = agg("mixed", SQL, &[]);
    assert_eq!(skipped.code, 5, "hour 18's bad line: {}", skipped.stderr);
    assert_eq!(skipped.stdout, agg("tree", SQL, &[]).success().stdout);
    assert!(
        skipped
            .stderr
            .contains("read 2 of 3 files (3 of 5 row groups); skipped by the WHERE time range: 1 files by their path"),
        "{}",
        skipped.stderr
    );
    let stray = agg("mixed/**/hour=19/*", all, &["--backend", "cpu"]);
    assert!(
        stray.fails_with(3).contains("README.txt: not a data file"),
        "{}",
        stray.stderr
    );
    let format = agg("mixed", all, &["--format", "csv", "--backend", "cpu"]);
    assert!(
        format.fails_with(2).contains("--format does not apply"),
        "{}",
        format.stderr
    );
}
