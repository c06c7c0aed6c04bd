//! `osprey aggregate --anomaly` and `RANDOM_CUT_FOREST`: anomaly scores
//! held to an independent implementation, PyPI's `rrcf`, on a synthetic
//! series with injected anomalies (`anomaly_rrcf.py`); the same bits from
//! the flags and from SQL, on one thread and several; a seed that changes
//! the scores; the memory limit and the parameters' ranges; a following
//! query's checkpoint.
//!
//! The data: three sensors, 500 records each, a sine of period 50 with
//! Gaussian noise (σ 0.1), 8 spikes of 2.5 to 4 per sensor and a level
//! shift (6 records 3 up) in one. Forests of 20 trees of 64 points (a few
//! seconds for rrcf), KDA's default time decay and shingle.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::{Proc, osprey, parse_ndjson, ready_or, run_in, wait_until};
use crate::stream::os;

/// The oracle script beside this file.
fn script() -> String {
    format!("{}/tests/it/anomaly_rrcf.py", env!("CARGO_MANIFEST_DIR"))
}

/// Runs the oracle script with `args` in `dir`; its stdout.
fn oracle(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg(script())
        .args(args)
        .current_dir(dir)
        .output()
        .expect("python3 runs (scripts/setup.sh installs numpy and rrcf)");
    assert!(
        out.status.success(),
        "anomaly_rrcf.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The forest every run here uses: 20 trees of 64 points.
const FOREST: [&str; 4] = ["--rcf-trees", "20", "--rcf-sample", "64"];

/// `osprey aggregate data.ndjson --anomaly v --group-by sensor` with `seed`
/// and `extra`.
fn scores(dir: &Path, seed: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "aggregate",
        "data.ndjson",
        "--anomaly",
        "v",
        "--group-by",
        "sensor",
        "--rcf-seed",
        seed,
    ];
    args.extend(FOREST);
    args.extend(extra);
    run_in(dir, &args).success().stdout
}

#[test]
fn scores_rank_the_injected_anomalies_and_agree_with_rrcf() {
    let dir = tempfile::tempdir().unwrap();
    oracle(dir.path(), &["make", "data.ndjson"]);
    let ours = scores(dir.path(), "1", &[]);
    std::fs::write(dir.path().join("ours.ndjson"), &ours).unwrap();
    let seed2 = scores(dir.path(), "2", &[]);
    std::fs::write(dir.path().join("seed2.ndjson"), &seed2).unwrap();
    // The record's time, key and field, then the score, in that order.
    let first = ours.lines().next().unwrap();
    assert!(
        first.starts_with(r#"{"ts":"2025-12-01T17:00:00Z","sensor":"a","v":"#)
            && first.ends_with(r#","ANOMALY_SCORE":0.0}"#),
        "{first}"
    );
    let report = oracle(
        dir.path(),
        &[
            "check",
            "data.ndjson",
            "ours.ndjson",
            "seed2.ndjson",
            "20",
            "64",
            "100000",
            "1",
        ],
    );
    let r: Value = serde_json::from_str(report.trim()).unwrap();
    let f = |k: &str| r[k].as_f64().unwrap();
    eprintln!("anomaly scores against rrcf: {r}");
    // Both rank the injected records on top: osprey nearly perfectly, and
    // within 0.02 of rrcf (one or two of the 1,350 normal records more or
    // less above a spike).
    assert!(f("auc_osprey") >= 0.97, "{r}");
    assert!((f("auc_osprey") - f("auc_rrcf")).abs() <= 0.02, "{r}");
    // The same algorithm with other random numbers. A normal record's
    // score is an average of 20 heavy-tailed CoDisps, so which of two
    // normal records scores higher is mostly sampling noise: two seeds of
    // osprey itself correlate only about 0.4 by rank (0.40 and 0.43 for
    // seeds 2 and 3 against 1, when this was written), and osprey against
    // rrcf must correlate as well as that, less 0.1 for noise, and at least
    // 0.3 (0.45 when written).
    assert!(f("spearman") >= 0.3, "{r}");
    assert!(f("spearman") >= f("spearman_seeds") - 0.1, "{r}");
    // The distributions are the same: the typical score within 10% (the
    // medians of seeds 1 to 3 spread over 3%; 1.025 when written), and the
    // Kolmogorov-Smirnov distance under 0.08, about 1.3 times the 1%
    // critical value of two independent samples of this size (1.63 ·
    // √(2/1350) = 0.063); 0.047 when written, 0.049 and 0.052 between seeds.
    assert!((0.9..=1.1).contains(&f("median_ratio")), "{r}");
    assert!(f("ks") <= 0.08, "{r}");
}

#[test]
fn flags_sql_and_threads_give_the_same_bits_and_the_seed_matters() {
    let dir = tempfile::tempdir().unwrap();
    oracle(dir.path(), &["make", "data.ndjson"]);
    let one = scores(dir.path(), "1", &["--threads", "1"]);
    assert_eq!(one.lines().count(), 1500);
    assert_eq!(scores(dir.path(), "1", &["--threads", "3"]), one);
    let sql = run_in(
        dir.path(),
        &[
            "aggregate",
            "data.ndjson",
            "--threads",
            "2",
            "--sql",
            "SELECT ts, sensor, v, RANDOM_CUT_FOREST(v, 20, 64, 100000, 1, 1) \
             OVER (PARTITION BY sensor) FROM input",
        ],
    )
    .success()
    .stdout;
    assert_eq!(sql, one);
    let other = scores(dir.path(), "2", &[]);
    assert_eq!(other.lines().count(), 1500);
    assert_ne!(other, one);
}

#[test]
fn forests_past_the_memory_limit_and_bad_parameters_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    oracle(dir.path(), &["make", "data.ndjson"]);
    let run = run_in(
        dir.path(),
        &[
            "aggregate",
            "data.ndjson",
            "--anomaly",
            "v",
            "--group-by",
            "sensor",
            "--memory-limit",
            "5M",
        ],
    );
    let line = run.fails_with(1);
    assert!(
        line.contains("the anomaly forests need") && line.contains("--memory-limit"),
        "{line}"
    );
    let run = run_in(
        dir.path(),
        &[
            "aggregate",
            "data.ndjson",
            "--anomaly",
            "v",
            "--rcf-trees",
            "5000",
        ],
    );
    assert!(
        run.fails_with(2).contains("numberOfTrees"),
        "{}",
        run.stderr
    );
    let run = run_in(
        dir.path(),
        &["aggregate", "data.ndjson", "--rcf-trees", "5"],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
}

/// A following anomaly query over a stream moves its consumer's checkpoint
/// past each record whose row it has written: killed, and started again
/// after more records came, it scores only the new ones.
#[test]
fn a_killed_follower_goes_on_after_the_records_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let records = |from: u32, to: u32| -> String {
        (from..to)
            .map(|i| {
                format!(
                    "{{\"ts\":{},\"v\":{}}}\n",
                    1_764_608_400 + i,
                    f64::from(i % 7)
                )
            })
            .collect()
    };
    os(dir, &["stream", "create", "f"], "").success();
    os(dir, &["put", "f"], &records(0, 40)).success();
    let last = parse_ndjson(&os(dir, &["read", "f"], "").success().stdout)
        .last()
        .and_then(|r| r["seq"].as_u64())
        .unwrap();
    let args = [
        "aggregate",
        "stream:f",
        "--anomaly",
        "v",
        "--rcf-trees",
        "5",
    ];
    let mut follower = Proc::spawn(
        osprey()
            .args(args)
            .args(["--follow", "--consumer", "c", "--data-dir"])
            .arg(dir.join("data"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let rx = follower.stdout_lines();
    assert_eq!(rx.json(40, "the follower's rows").len(), 40);
    let checkpoint = dir.join("data/streams/f/consumers/c.json");
    wait_until(|| {
        let saved: Option<BTreeMap<String, u64>> = std::fs::read(&checkpoint)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let at: Vec<u64> = saved.iter().flat_map(|s| s.values().copied()).collect();
        ready_or(at.len() == 1 && at[0] > last, || {
            format!("the checkpoint is {at:?}, not past the last record {last}")
        })
    });
    follower.kill_now();
    os(dir, &["put", "f"], &records(40, 70)).success();
    let again = os(dir, &[&args[..], &["--consumer", "c"]].concat(), "").success();
    assert_eq!(again.records().len(), 30, "{}", again.stdout);
}
