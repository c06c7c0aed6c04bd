//! `osprey aggregate --sql "... JOIN ref ON ..." --reference ref=FILE`:
//! inner and left joins with a CSV reference table against DuckDB's join of
//! the same files; a reference read again when its file changes, a reload
//! that fails keeping the old table; a reference from a stream compacted by
//! key, read again when it grows; and a join of two streams refused.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{Proc, osprey, parse_ndjson, run_in};

/// `data.parquet` (3000 rows, sensors s00..s24, 30 minutes) and
/// `sites.csv` (sensors s00..s19: s20..s24 have no site; a threshold each).
fn make_files(dir: &Path) {
    let script = r#"
import random, pyarrow as pa, pyarrow.parquet as pq
random.seed(5)
t0 = 1764608400 * 1_000_000
rows = [(t0 + i * 600_000, f"s{random.randrange(25):02d}", round(random.gauss(20, 5), 3)) for i in range(3000)]
pq.write_table(pa.table({"ts": pa.array([r[0] for r in rows], pa.timestamp("us", tz="UTC")),
                         "sensor": [r[1] for r in rows], "temp": [r[2] for r in rows]}), "data.parquet")
with open("sites.csv", "w") as f:
    f.write("sensor,site,lim\n")
    for i in range(20):
        f.write(f"s{i:02d},{['north', 'south', 'east'][i % 3]},{15 + i % 4}\n")
"#;
    let status = Command::new("python3")
        .args(["-c", script])
        .current_dir(dir)
        .status()
        .expect("python3 runs (scripts/setup.sh installs pyarrow)");
    assert!(status.success());
}

const OSPREY_SQL: &str = "SELECT sites.site, count(*) AS n, sum(temp) AS s, max(sites.lim) AS lim \
    FROM input {JOIN} sites ON input.sensor = sites.sensor WHERE temp > 12 \
    GROUP BY sites.site, TUMBLE(ts, INTERVAL '10' MINUTE)";

/// Compares `ours.ndjson` with DuckDB's join of the same files.
fn same_as_duckdb(dir: &Path, join: &str) {
    let script = format!(
        r#"
import json, duckdb
ours = {{}}
for line in open("ours.ndjson"):
    r = json.loads(line)
    ours[(r["window_start"], r["site"])] = r
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
theirs = con.execute("""SELECT strftime(time_bucket(INTERVAL 10 MINUTE, ts), '%Y-%m-%dT%H:%M:%SZ'), s.site,
    count(*), sum(temp), max(s.lim)
    FROM 'data.parquet' i {join} read_csv('sites.csv') s ON i.sensor = s.sensor WHERE temp > 12
    GROUP BY ALL""").fetchall()
assert len(theirs) == len(ours), (len(theirs), len(ours))
for ws, site, n, s, lim in theirs:
    o = ours[(ws, site)]
    assert (o["n"], o["lim"]) == (n, lim), (o, n, lim)
    assert abs(o["s"] - s) <= 1e-9 * abs(s), (o, s)
print("same", len(theirs), sum(1 for t in theirs if t[1] is None))
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
        "{join}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Only the left join has rows of sensors without a site.
    let no_site: usize = stdout.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert_eq!(no_site > 0, join.starts_with("LEFT"), "{stdout}");
}

#[test]
fn inner_and_left_joins_match_duckdb() {
    let dir = tempfile::tempdir().unwrap();
    make_files(dir.path());
    for join in ["JOIN", "LEFT JOIN"] {
        let sql = OSPREY_SQL.replace("{JOIN}", join);
        let run = run_in(
            dir.path(),
            &[
                "aggregate",
                "data.parquet",
                "--sql",
                &sql,
                "--reference",
                "sites=sites.csv",
            ],
        )
        .success();
        std::fs::write(dir.path().join("ours.ndjson"), &run.stdout).unwrap();
        same_as_duckdb(dir.path(), join);
    }
    // Unbound, the joined name is a stream: refused (exit 2).
    let sql = OSPREY_SQL.replace("{JOIN}", "JOIN");
    let err = run_in(dir.path(), &["aggregate", "data.parquet", "--sql", &sql]).fails_with(2);
    assert!(
        err.contains("joins between two streams are not supported"),
        "{err}"
    );
    // A key twice in the reference names the key.
    std::fs::write(
        dir.path().join("dup.csv"),
        "sensor,site,lim\ns01,a,1\ns01,b,2\n",
    )
    .unwrap();
    let err = run_in(
        dir.path(),
        &[
            "aggregate",
            "data.parquet",
            "--sql",
            &sql,
            "--reference",
            "sites=dup.csv",
            "--backend",
            "cpu",
        ],
    )
    .fails_with(1);
    assert!(err.contains("key \"s01\" is in rows 1 and 2"), "{err}");
}

#[test]
fn a_changed_reference_is_read_again_and_a_bad_change_keeps_the_old_table() {
    let dir = tempfile::tempdir().unwrap();
    let sites = dir.path().join("sites.csv");
    std::fs::write(&sites, "sensor,site\na,north\n").unwrap();
    let sql = "SELECT sites.site, count(*) AS n FROM input JOIN sites ON input.sensor = sites.sensor \
               GROUP BY sites.site, TUMBLE(ts, INTERVAL '1' MINUTE)";
    let mut child = Proc::spawn(
        osprey()
            .args(["aggregate", "--sql", sql, "--reference", "sites=sites.csv"])
            .args(["--max-latency", "20ms", "--lateness", "0s"])
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let mut stdin = child.stdin.take().unwrap();
    let stdout = crate::common::Lines::of(child.stdout.take().unwrap());
    let line =
        |minute: u32| format!("{{\"ts\":\"2026-12-01T17:{minute:02}:10Z\",\"sensor\":\"a\"}}\n");
    // Minute 0 under the first table; minute 1 closes it.
    stdin.write_all(line(0).as_bytes()).unwrap();
    stdin.write_all(line(1).as_bytes()).unwrap();
    stdin.flush().unwrap();
    let first = stdout.json(1, "minute 0's row");
    assert_eq!(first[0]["site"], "north");
    std::thread::sleep(Duration::from_millis(50));
    std::fs::write(&sites, "sensor,site\na,south\n").unwrap();
    stdin.write_all(line(2).as_bytes()).unwrap();
    stdin.flush().unwrap();
    // Minute 1 was enriched before the change; minute 2 after it.
    let second = stdout.json(1, "minute 1's row");
    assert_eq!(second[0]["site"], "north");
    std::thread::sleep(Duration::from_millis(50));
    std::fs::write(&sites, "sensor,site\na,east\na,west\n").unwrap();
    stdin.write_all(line(3).as_bytes()).unwrap();
    drop(stdin);
    let rest = parse_ndjson(&stdout.to_end("the rest").join("\n"));
    let sites_seen: Vec<&str> = rest.iter().map(|r| r["site"].as_str().unwrap()).collect();
    // Minute 2 under the second table, minute 3 too: the third is refused.
    assert_eq!(sites_seen, ["south", "south"]);
    let code = child.wait_exit("osprey aggregate");
    assert!(code.success());
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(
        err.contains("key \"a\" is in rows 1 and 2") && err.contains("keeps the table it had"),
        "{err}"
    );
}

/// `--reference sites=stream:sites`: a stream of the store compacted by
/// key (every sensor put first with a stale site, then with its own) joins
/// as the CSV of the last values does, byte for byte; and a running query
/// reads it again when it grows.
#[test]
fn a_stream_compacted_by_key_joins_as_its_last_values() {
    let dir = tempfile::tempdir().unwrap();
    make_files(dir.path());
    let data = dir.path().join("data");
    let put = |args: &[&str], stdin: &str| {
        let mut child = osprey()
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    put(&["stream", "create", "sites", "--shards", "2"], "");
    let mut records = String::new();
    for i in 0..20 {
        records += &format!("{{\"sensor\":\"s{i:02}\",\"site\":\"stale\",\"lim\":99}}\n");
    }
    for line in std::fs::read_to_string(dir.path().join("sites.csv"))
        .unwrap()
        .lines()
        .skip(1)
    {
        let cells: Vec<&str> = line.split(',').collect();
        records += &format!(
            "{{\"sensor\":\"{}\",\"site\":\"{}\",\"lim\":{}}}\n",
            cells[0], cells[1], cells[2]
        );
    }
    put(
        &["put", "sites", "--partition-key-field", "sensor"],
        &records,
    );
    let sql = OSPREY_SQL.replace("{JOIN}", "LEFT JOIN");
    let with = |reference: &str| {
        run_in(
            dir.path(),
            &[
                "aggregate",
                "data.parquet",
                "--sql",
                &sql,
                "--reference",
                reference,
                "--data-dir",
                data.to_str().unwrap(),
            ],
        )
        .success()
        .stdout
    };
    let from_stream = with("sites=stream:sites");
    assert!(!from_stream.contains("stale"), "{from_stream}");
    assert_eq!(from_stream, with("sites=sites.csv"));

    // A running query reads the stream again once it has new records:
    // s00 moves from north to a new site between two minutes.
    let sql = "SELECT sites.site, count(*) AS n FROM input JOIN sites ON input.sensor = sites.sensor \
               GROUP BY sites.site, TUMBLE(ts, INTERVAL '1' MINUTE)";
    let mut child = Proc::spawn(
        osprey()
            .args([
                "aggregate",
                "--sql",
                sql,
                "--reference",
                "sites=stream:sites",
            ])
            .args([
                "--max-latency",
                "20ms",
                "--lateness",
                "0s",
                "--backend",
                "cpu",
            ])
            .arg("--data-dir")
            .arg(&data)
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let mut stdin = child.stdin.take().unwrap();
    let stdout = crate::common::Lines::of(child.stdout.take().unwrap());
    let line =
        |minute: u32| format!("{{\"ts\":\"2026-12-01T17:{minute:02}:10Z\",\"sensor\":\"s00\"}}\n");
    stdin.write_all(line(0).as_bytes()).unwrap();
    stdin.write_all(line(1).as_bytes()).unwrap();
    stdin.flush().unwrap();
    assert_eq!(stdout.json(1, "minute 0's row")[0]["site"], "north");
    put(
        &["put", "sites", "--partition-key-field", "sensor"],
        "{\"sensor\":\"s00\",\"site\":\"moved\",\"lim\":1}\n",
    );
    // The stream is looked at again at most once a second.
    std::thread::sleep(Duration::from_millis(1200));
    stdin.write_all(line(2).as_bytes()).unwrap();
    drop(stdin);
    let rest = parse_ndjson(&stdout.to_end("the rest").join("\n"));
    let sites_seen: Vec<&str> = rest.iter().map(|r| r["site"].as_str().unwrap()).collect();
    // Minute 1 was enriched before the put, minute 2 after it.
    assert_eq!(sites_seen, ["north", "moved"]);
    assert!(child.wait_exit("osprey aggregate").success());
}
