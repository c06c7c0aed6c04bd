//! One CSV file, two ways into `osprey aggregate`: read as a file, and put
//! into a stream (`osprey put`) then read as `stream:NAME`. Both must type
//! every cell the same way (one rule, `osprey_ingest::codec::csv_cell`), so
//! they give the same windows; and DuckDB, reading the same file, agrees.

use std::process::Command;

use serde_json::{Value, json};

use crate::stream::os;

/// Cells that the two paths once typed differently: a code with a leading
/// zero, a number in exponent form, a number padded with spaces, an empty
/// cell, booleans, an integer past 2^53.
const CSV: &str = "ts,code,qty,pad,note,flag,big\n\
                   1764608400,007,1e3, 12 ,,true,9007199254740993\n\
                   1764608401,007,2, 3 ,x,FALSE,9007199254740993\n\
                   1764608402,8,3.5,5,y,True,1\n";

/// The aggregation both paths run.
const FLAGS: &[&str] = &[
    "--time-format",
    "epoch_s",
    "--window",
    "tumbling:1m",
    "--group-by",
    "code,flag,note",
    "--agg",
    "count(*) as n, sum(qty) as qty, sum(pad) as pad",
    "--backend",
    "cpu",
];

/// Result rows without their window, sorted by their JSON text.
fn rows(records: &[Value]) -> Vec<Value> {
    let mut rows: Vec<Value> = records
        .iter()
        .map(|r| {
            let mut r = r.clone();
            let map = r.as_object_mut().unwrap();
            map.remove("window_start");
            map.remove("window_end");
            r
        })
        .collect();
    rows.sort_by_key(Value::to_string);
    rows
}

#[test]
fn a_csv_file_and_the_stream_put_from_it_aggregate_alike() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let path = dir.join("d.csv");
    std::fs::write(&path, CSV).unwrap();
    let path = path.to_str().unwrap();

    let file = os(dir, &[&["aggregate", path][..], FLAGS].concat(), "").success();
    os(dir, &["stream", "create", "s"], "").success();
    os(dir, &["put", "s", path], "").success();
    let stream = os(dir, &[&["aggregate", "stream:s"][..], FLAGS].concat(), "").success();

    // `007` keeps its zero, so the column is text and `8` is "8"; `1e3` is
    // 1000 and ` 12 ` is 12; the empty note is null, not ""; booleans in
    // any case are booleans.
    let expected = rows(&[
        json!({"code": "007", "flag": true, "note": null, "n": 1, "qty": 1000.0, "pad": 12.0}),
        json!({"code": "007", "flag": false, "note": "x", "n": 1, "qty": 2.0, "pad": 3.0}),
        json!({"code": "8", "flag": true, "note": "y", "n": 1, "qty": 3.5, "pad": 5.0}),
    ]);
    assert_eq!(rows(&file.records()), expected, "the file: {}", file.stderr);
    assert_eq!(
        rows(&stream.records()),
        expected,
        "the stream: {}",
        stream.stderr
    );

    // DuckDB reads the file the same way.
    let out = Command::new("python3")
        .current_dir(dir)
        .args([
            "-c",
            "import duckdb, json\n\
             rows = duckdb.sql(\"SELECT code, flag, note, count(*) AS n, sum(qty) AS qty, \
             sum(pad)::DOUBLE AS pad FROM read_csv('d.csv') GROUP BY ALL\").fetchall()\n\
             for r in rows:\n    \
             print(json.dumps(dict(zip(['code', 'flag', 'note', 'n', 'qty', 'pad'], r))))",
        ])
        .output()
        .expect("python3 runs (scripts/setup.sh installs duckdb)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let oracle = crate::common::parse_ndjson(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(rows(&oracle), expected, "DuckDB");
}
