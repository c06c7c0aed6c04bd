//! `osprey deliver`: a stream into NDJSON and Parquet files under time
//! prefixes, refused records under errors/ with their reason, resumption
//! from the consumer's checkpoint; the Parquet files read back with DuckDB.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::stream::os;

/// Every file under `dir` whose name ends with `ext`, sorted.
fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(ext) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Runs one DuckDB query and returns its single row as text.
fn duckdb(sql: &str) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import duckdb, sys; print(duckdb.sql(sys.argv[1]).fetchall()[0])",
            sql,
        ])
        .output()
        .expect("python3 runs (scripts/setup.sh installs duckdb)");
    assert!(
        out.status.success(),
        "duckdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn parquet_and_ndjson_delivery_with_errors_and_resumption() {
    let dir = tempfile::tempdir().unwrap();
    os(dir.path(), &["stream", "create", "s", "--shards", "2"], "").success();
    let mut input: String = (0..300)
        .map(|i| format!("{{\"dev\":\"d{}\",\"t\":{i},\"v\":{}.5}}\n", i % 5, i))
        .collect();
    input.push_str("[1,2]\n\"just a string\"\n");
    let clash = os(
        dir.path(),
        &[
            "put",
            "s",
            "--partition-key-field",
            "dev",
            "--partition-key",
            "x",
        ],
        "",
    );
    assert_eq!(clash.code, 2, "{}", clash.stderr);
    os(dir.path(), &["put", "s", "--partition-key", "k"], &input).success();

    let pq = dir.path().join("pq");
    let r = os(
        dir.path(),
        &[
            "deliver",
            "s",
            "--to",
            pq.to_str().unwrap(),
            "--format",
            "parquet",
        ],
        "",
    )
    .success();
    assert!(
        r.stderr.contains("delivered 300 records in 1 files"),
        "{}",
        r.stderr
    );
    let parquet = files(&pq, ".parquet");
    assert_eq!(parquet.len(), 1, "{parquet:?}");
    let rel = parquet[0]
        .strip_prefix(&pq)
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        rel.starts_with("year=20")
            && rel.contains("/month=")
            && rel.contains("/day=")
            && rel.contains("/hour="),
        "{rel}"
    );
    let glob = format!("{}/**/*.parquet", pq.display());
    assert_eq!(
        duckdb(&format!(
            "select count(*), sum(t), count(distinct dev), sum(v) from read_parquet('{glob}')"
        )),
        format!(
            "({}, {}, 5, {:?})",
            300,
            (0..300).sum::<i64>(),
            (0..300).map(|i| f64::from(i) + 0.5).sum::<f64>()
        )
    );
    let errors = files(&pq.join("errors"), ".ndjson");
    let lines: Vec<serde_json::Value> = errors
        .iter()
        .flat_map(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["data"], "[1,2]");
    assert!(
        lines[0]["reason"]
            .as_str()
            .unwrap()
            .contains("must be a JSON object"),
        "{lines:?}"
    );
    assert!(lines[0]["seq"].is_u64() && lines[0]["shard"].is_string());

    // Arrow IPC, read back with pyarrow.
    let ar = dir.path().join("ar");
    os(
        dir.path(),
        &[
            "deliver",
            "s",
            "--to",
            ar.to_str().unwrap(),
            "--format",
            "arrow",
            "--consumer",
            "ar",
        ],
        "",
    )
    .success();
    let arrow = files(&ar, ".arrow");
    assert_eq!(arrow.len(), 1, "{arrow:?}");
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, pyarrow.ipc as ipc; t = ipc.open_file(sys.argv[1]).read_all(); print(t.num_rows, sum(t.column('t').to_pylist()))",
            arrow[0].to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("300 {}", (0..300).sum::<i64>())
    );

    // NDJSON, small buffers: several files; every JSON value is fine here.
    let nd = dir.path().join("nd");
    let nd_arg = nd.to_str().unwrap();
    os(
        dir.path(),
        &[
            "deliver",
            "s",
            "--to",
            nd_arg,
            "--consumer",
            "nd",
            "--buffer-mib",
            "0.002",
        ],
        "",
    )
    .success();
    let count = |d: &Path| {
        files(d, ".ndjson")
            .iter()
            .filter(|p| !p.starts_with(d.join("errors")))
            .map(|p| std::fs::read_to_string(p).unwrap().lines().count())
            .sum::<usize>()
    };
    assert!(
        files(&nd, ".ndjson").len() > 3,
        "{:?}",
        files(&nd, ".ndjson")
    );
    assert_eq!(count(&nd), 302);
    // The consumer's checkpoint: a second run delivers only what is new.
    os(
        dir.path(),
        &["put", "s", "--partition-key", "k"],
        "{\"dev\":\"new\",\"t\":1000,\"v\":0.5}\n",
    )
    .success();
    let r = os(
        dir.path(),
        &["deliver", "s", "--to", nd_arg, "--consumer", "nd"],
        "",
    )
    .success();
    assert!(
        r.stderr.contains("delivered 1 records in 1 files"),
        "{}",
        r.stderr
    );
    assert_eq!(count(&nd), 303);
    assert_eq!(
        duckdb(&format!(
            "select count(*) from read_json_auto('{}/year=*/*/*/*/*.ndjson')",
            nd.display()
        )),
        "(303,)"
    );
    os(
        dir.path(),
        &["deliver", "s", "--to", nd_arg, "--buffer-mib", "0"],
        "",
    )
    .fails_with(2);
    // gzip: DuckDB reads it back.
    let gz = dir.path().join("gz");
    let gz_arg = gz.to_str().unwrap();
    os(
        dir.path(),
        &[
            "deliver",
            "s",
            "--to",
            gz_arg,
            "--consumer",
            "gz",
            "--compression",
            "gzip",
        ],
        "",
    )
    .success();
    assert_eq!(files(&gz, ".ndjson.gz").len(), 1);
    assert_eq!(
        duckdb(&format!(
            "select count(*) from read_json_auto('{}/year=*/*/*/*/*.ndjson.gz')",
            gz.display()
        )),
        "(303,)"
    );
    let clash = [
        "deliver",
        "s",
        "--to",
        gz_arg,
        "--format",
        "parquet",
        "--compression",
        "gzip",
    ];
    os(dir.path(), &clash, "").fails_with(2);
}

#[test]
fn zstd_ndjson_files_read_back_in_duckdb() {
    let dir = tempfile::tempdir().unwrap();
    os(dir.path(), &["stream", "create", "z", "--shards", "3"], "").success();
    let input: String = (0..500)
        .map(|i| format!("{{\"dev\":\"d{}\",\"t\":{i},\"v\":{i}.25}}\n", i % 7))
        .collect();
    os(
        dir.path(),
        &["put", "z", "--partition-key-field", "dev"],
        &input,
    )
    .success();
    let zst = dir.path().join("zst");
    let run = os(
        dir.path(),
        &[
            "deliver",
            "z",
            "--to",
            zst.to_str().unwrap(),
            "--compression",
            "zstd",
            "--buffer-mib",
            "0.005",
        ],
        "",
    )
    .success();
    assert!(
        run.stderr.contains("delivered 500 records in"),
        "{}",
        run.stderr
    );
    let packed = files(&zst, ".ndjson.zst");
    assert!(packed.len() > 1, "{packed:?}");
    assert!(files(&zst, ".ndjson").is_empty(), "only compressed files");
    let magic = std::fs::read(&packed[0]).unwrap();
    assert_eq!(&magic[..4], [0x28, 0xb5, 0x2f, 0xfd], "a zstd frame");
    assert_eq!(
        duckdb(&format!(
            "select count(*), count(distinct t), sum(t), count(distinct dev), sum(v) \
             from read_json_auto('{}/year=*/*/*/*/*.ndjson.zst')",
            zst.display()
        )),
        format!(
            "(500, 500, {}, 7, {:?})",
            (0..500).sum::<i64>(),
            (0..500).map(|i| f64::from(i) + 0.25).sum::<f64>()
        )
    );
}

/// The records of each NDJSON file under `dir`, each file checked whole
/// (every line a JSON object, the last one ended): the `n` of each.
fn delivered_by_file(dir: &Path) -> Vec<Vec<u64>> {
    let mut out = Vec::new();
    for file in files(dir, ".ndjson") {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.ends_with('\n'), "{file:?} is cut short");
        let ns = text.lines().map(|line| {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{file:?} holds a broken line {line:?}: {e}"));
            v["n"].as_u64().unwrap()
        });
        out.push(ns.collect());
    }
    out
}

/// The records of every NDJSON file under `dir`, as [`delivered_by_file`].
fn delivered(dir: &Path) -> Vec<u64> {
    delivered_by_file(dir).concat()
}

/// `deliver` killed with SIGKILL in the middle of writing many files, then
/// run again with the same consumer: what it promises holds. Every file is
/// whole, no record is lost, the checkpoint the killed run left is never
/// past a record it did not deliver, and the second run starts at that
/// checkpoint. The checkpoint follows each file, though files close in the
/// middle of what one poll read and mix the two shards: the records
/// delivered twice are at most those of the one file the killed run wrote
/// last (written, its checkpoint not yet saved).
#[test]
fn sigkill_mid_delivery_loses_nothing_and_the_next_run_resumes_at_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    const N: u64 = 20_000;
    os(d, &["stream", "create", "s", "--shards", "2"], "").success();
    let input: String = (0..N)
        .map(|n| {
            format!(
                "{{\"dev\":\"d{}\",\"n\":{n},\"pad\":\"{}\"}}\n",
                n % 4,
                "x".repeat(24)
            )
        })
        .collect();
    os(d, &["put", "s", "--partition-key-field", "dev"], &input).success();
    // Where each record is: n -> (shard, seq).
    let stored = crate::common::parse_ndjson(&os(d, &["read", "s"], "").success().stdout);
    assert_eq!(stored.len() as u64, N);
    let at: std::collections::HashMap<u64, (String, u64)> = stored
        .iter()
        .map(|r| {
            (
                r["data"]["n"].as_u64().unwrap(),
                (
                    r["shard"].as_str().unwrap().to_owned(),
                    r["seq"].as_u64().unwrap(),
                ),
            )
        })
        .collect();

    // Files of about 5 KiB, each fsynced: hundreds of them, so the kill
    // lands while files are being written.
    let (out1, out2) = (d.join("out1"), d.join("out2"));
    let deliver = |to: &Path| {
        let mut cmd = crate::common::osprey();
        cmd.args(["deliver", "s", "--buffer-mib", "0.005", "--to"])
            .arg(to)
            .arg("--data-dir")
            .arg(d.join("data"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        cmd
    };
    let mut first = crate::common::Proc::spawn(&mut deliver(&out1));
    crate::common::wait_until(|| {
        let written = files(&out1, ".ndjson").len();
        crate::common::ready_or(written >= 30 || !first.alive(), || {
            format!("the first run wrote {written} files")
        })
    });
    assert!(first.alive(), "the first run ended before the kill");
    first.kill_now();
    let files1 = delivered_by_file(&out1);
    let run1 = files1.concat();
    let checkpoint: std::collections::BTreeMap<String, u64> =
        std::fs::read(d.join("data/streams/s/consumers/deliver.json"))
            .ok()
            .map(|b| serde_json::from_slice(&b).unwrap())
            .unwrap_or_default();
    let before = |n: &u64| {
        let (shard, seq) = &at[n];
        checkpoint.get(shard).is_some_and(|c| seq < c)
    };

    let second = os(
        d,
        &[
            "deliver",
            "s",
            "--buffer-mib",
            "0.005",
            "--to",
            out2.to_str().unwrap(),
        ],
        "",
    )
    .success();
    let run2 = delivered(&out2);
    // Neither run delivers a record twice by itself.
    let once = |ns: &[u64], what: &str| {
        let set: std::collections::BTreeSet<u64> = ns.iter().copied().collect();
        assert_eq!(set.len(), ns.len(), "{what} delivered a record twice");
        set
    };
    let (set1, set2) = (once(&run1, "the killed run"), once(&run2, "the second run"));
    // Nothing lost: what the checkpoint passed was delivered by the first
    // run, and the second delivers exactly the rest.
    for n in 0..N {
        if before(&n) {
            assert!(
                set1.contains(&n),
                "record {n} is behind the checkpoint, never delivered"
            );
        } else {
            assert!(
                set2.contains(&n),
                "record {n} past the checkpoint, not delivered again"
            );
        }
    }
    assert!(
        set2.iter().all(|n| !before(n)),
        "the second run went back before the checkpoint"
    );
    assert!(
        second
            .stderr
            .contains(&format!("delivered {} records", set2.len())),
        "{}",
        second.stderr
    );
    // Delivered twice: what the killed run wrote past its checkpoint, at
    // most one batch, the one in flight. The run wrote 30 files or more
    // before the kill, so it saved a checkpoint after at least 29.
    assert!(
        checkpoint.len() == 2 && set1.iter().filter(|n| before(n)).count() >= 29 * 50,
        "the killed run saved no checkpoint after its files: {checkpoint:?}"
    );
    let twice: std::collections::BTreeSet<u64> = set1.intersection(&set2).copied().collect();
    let in_flight = files1.iter().find(|f| f.iter().any(|n| twice.contains(n)));
    if let Some(file) = in_flight {
        let file: std::collections::BTreeSet<u64> = file.iter().copied().collect();
        assert_eq!(
            twice,
            file,
            "{} records delivered twice, not one file's {}",
            twice.len(),
            file.len()
        );
    }
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!(
            "deliver kill test: {} records in {} files delivered before the kill, {} of them again\n",
            set1.len(),
            files1.len(),
            twice.len()
        )
        .as_bytes(),
    );
}
