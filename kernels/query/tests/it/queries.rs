//! Queries driven through library calls alone, as a server or a bench
//! harness drives them: a plan from SQL, Arrow batches in, typed rows out of
//! a memory sink, late and refused rows in the error output.

use crate::common::{MINUTE, Shared, per_minute};
use std::sync::Arc;

use arrow::array::{Float64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use osprey_ingest::chunk::Chunk;
use osprey_kernels::cpu::aggregate::CpuAggregator;
use osprey_kernels::window::acc::AggValue;
use osprey_kernels::window::keys::KeyValue;
use osprey_query::{Cell, ErrorSink, Outputs, Query, QueryOptions, ResultSink, sql};

fn batch(rows: &[(Option<i64>, &str, f64)]) -> RecordBatch {
    let schema = Schema::new(vec![
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new("k", DataType::Utf8, true),
        Field::new("v", DataType::Float64, true),
    ]);
    let ts: TimestampMicrosecondArray = rows.iter().map(|r| r.0).collect();
    let k: StringArray = rows.iter().map(|r| Some(r.1)).collect();
    let v: Float64Array = rows.iter().map(|r| Some(r.2)).collect();
    RecordBatch::try_new(
        Arc::new(schema),
        vec![Arc::new(ts.with_timezone("UTC")), Arc::new(k), Arc::new(v)],
    )
    .expect("the columns match the schema")
}

#[test]
fn a_query_runs_through_library_calls() {
    let plan = sql::parse(
        "SELECT k, COUNT(*) AS n, SUM(v) AS total FROM input WHERE v >= 0 \
         GROUP BY k, TUMBLE(ts, INTERVAL '1' MINUTE) HAVING COUNT(*) > 1",
    )
    .unwrap();
    let mut query = Query::new(plan, QueryOptions::default(), Box::new(CpuAggregator)).unwrap();
    assert_eq!(
        query.names(),
        ["window_start", "window_end", "k", "n", "total"]
    );
    let errors = Shared::default();
    let mut out = Outputs {
        rows: ResultSink::memory(),
        errors: ErrorSink::new(Box::new(errors.clone())),
    };
    let first = batch(&[
        (Some(0), "a", 1.0),
        (Some(1), "a", 2.0),
        (Some(2), "b", 5.0),
        (None, "a", 9.0),
        (Some(3), "a", -1.0),
        (Some(MINUTE + 1), "a", 4.0),
    ]);
    let raws: Vec<String> = (0..6).map(|i| format!("{{\"row\":{i}}}")).collect();
    let chunk = Chunk {
        batch: first,
        origins: Vec::new(),
        raws,
    };
    query.push(chunk, &mut out).unwrap();
    // The first minute closed at MINUTE + 1; a row of it now is late.
    query
        .push(Chunk::from(batch(&[(Some(5), "b", 1.0)])), &mut out)
        .unwrap();
    query
        .push(
            Chunk::from(batch(&[(Some(MINUTE + 2), "a", 6.0)])),
            &mut out,
        )
        .unwrap();
    query.finish(&mut out).unwrap();
    assert_eq!(
        (query.rows(), query.windows()),
        (6, 2),
        "the late row counts"
    );
    out.errors.flush().unwrap();
    let (late, refused) = (out.errors.late, out.errors.refused);
    let rows = out.rows.finish().unwrap();
    let row = |start: i64, key: &str, n: u64, total: f64| {
        vec![
            Cell::Time(start),
            Cell::Time(start + MINUTE),
            Cell::Key(KeyValue::Str(key.into())),
            Cell::Agg(AggValue::Int(n)),
            Cell::Agg(AggValue::Float(total)),
        ]
    };
    assert_eq!(rows, [row(0, "a", 2, 3.0), row(MINUTE, "a", 2, 10.0)]);
    assert_eq!((late, refused), (1, 1));
    let text = String::from_utf8(errors.0.take()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        r#"{"kind":"error","reason":"no value for the time field","record":{"row":3}}"#
    );
    assert!(lines[1].starts_with(r#"{"kind":"late","#), "{}", lines[1]);
    assert!(
        lines[1].ends_with(r#""record":{"k":"b","ts":"1970-01-01T00:00:00.000005Z","v":1.0}}"#),
        "a row without its text is rebuilt from its columns: {}",
        lines[1]
    );
}

#[test]
fn a_missing_field_is_a_usage_error() {
    let plan =
        sql::parse("SELECT AVG(nope) FROM input GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)").unwrap();
    let mut query = Query::new(plan, QueryOptions::default(), Box::new(CpuAggregator)).unwrap();
    let mut out = Outputs {
        rows: ResultSink::memory(),
        errors: ErrorSink::new(Box::new(std::io::sink())),
    };
    let err = query
        .push(Chunk::from(batch(&[(Some(0), "a", 1.0)])), &mut out)
        .unwrap_err();
    assert!(matches!(err, osprey_query::QueryError::Usage(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        r#"the input has no field "nope" (fields: ts, k, v)"#
    );
}

/// Per-minute count and sum by `k`, on two partitions.
fn per_minute_on_two_partitions() -> Query {
    per_minute(QueryOptions {
        partitions: 2,
        ..QueryOptions::default()
    })
}

#[test]
fn deferred_rows_are_written_by_the_next_push_and_are_the_same_rows() {
    let run = |defer: bool| {
        let mut query = per_minute_on_two_partitions();
        query.defer_rows(defer);
        let mut out = Outputs {
            rows: ResultSink::memory(),
            errors: ErrorSink::new(Box::new(std::io::sink())),
        };
        let mut written = Vec::new();
        for minute in 0..4 {
            let rows: Vec<(Option<i64>, String, f64)> = (0..50)
                .map(|i| (Some(minute * MINUTE + i), format!("k{}", i % 7), i as f64))
                .collect();
            let rows: Vec<(Option<i64>, &str, f64)> =
                rows.iter().map(|(t, k, v)| (*t, k.as_str(), *v)).collect();
            query.push(Chunk::from(batch(&rows)), &mut out).unwrap();
            written.push(query.windows());
        }
        query.finish(&mut out).unwrap();
        written.push(query.windows());
        (written, out.rows.finish().unwrap())
    };
    let (now, now_rows) = run(false);
    let (later, later_rows) = run(true);
    // Each push closes the minute before it: 7 rows.
    assert_eq!(now, [0, 7, 14, 21, 28]);
    assert_eq!(
        later,
        [0, 0, 7, 14, 28],
        "one push behind, caught up by finish"
    );
    assert_eq!(now_rows, later_rows);
    assert_eq!(now_rows.len(), 28);
}

#[test]
fn the_next_chunk_prepared_beside_the_aggregation_gives_the_same_rows_and_errors() {
    // Each minute's chunk has a row without a time (refused) and a row of
    // two minutes before (late once the minute before it has closed).
    let chunks = || -> Vec<Chunk> {
        (0..5)
            .map(|minute: i64| {
                let mut rows: Vec<(Option<i64>, String, f64)> = (0..40)
                    .map(|i| (Some(minute * MINUTE + i), format!("k{}", i % 5), i as f64))
                    .collect();
                rows.insert(7, (None, "k1".into(), 1.0));
                rows.insert(20, (Some((minute - 2) * MINUTE), "k2".into(), 2.0));
                let rows: Vec<(Option<i64>, &str, f64)> =
                    rows.iter().map(|(t, k, v)| (*t, k.as_str(), *v)).collect();
                let raws = (0..rows.len())
                    .map(|i| format!("{{\"minute\":{minute},\"row\":{i}}}"))
                    .collect();
                Chunk {
                    batch: batch(&rows),
                    origins: Vec::new(),
                    raws,
                }
            })
            .collect()
    };
    let run = |pipelined: bool| {
        let mut query = per_minute_on_two_partitions();
        query.defer_rows(true);
        let errors = Shared::default();
        let mut out = Outputs {
            rows: ResultSink::memory(),
            errors: ErrorSink::new(Box::new(errors.clone())),
        };
        if pipelined {
            let mut ready = None;
            for chunk in chunks() {
                ready = match ready.take() {
                    None => Some(query.prepare(chunk).unwrap()),
                    Some(now) => query.push_prepared(now, Some(chunk), &mut out).unwrap(),
                };
            }
            let last = ready.unwrap();
            assert!(query.push_prepared(last, None, &mut out).unwrap().is_none());
        } else {
            for chunk in chunks() {
                query.push(chunk, &mut out).unwrap();
            }
        }
        query.finish(&mut out).unwrap();
        let text = String::from_utf8(errors.0.borrow().clone()).unwrap();
        (out.rows.finish().unwrap(), text, query.rows())
    };
    let (rows, errors, n) = run(false);
    let pipelined = run(true);
    assert_eq!(pipelined, (rows.clone(), errors.clone(), n));
    assert_eq!(rows.len(), 25, "5 keys in each of 5 minutes");
    // Every chunk's refused row, and the late ones, in chunk order.
    let lines: Vec<&str> = errors.lines().collect();
    let kinds: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.split("\"kind\":\"").nth(1)?.split('"').next())
        .collect();
    assert_eq!(kinds, ["error", "late"].repeat(5), "{errors}");
    let minutes: Vec<usize> = lines
        .iter()
        .filter_map(|l| {
            l.split("\"minute\":")
                .nth(1)?
                .split(',')
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(minutes, [0, 0, 1, 1, 2, 2, 3, 3, 4, 4], "{errors}");
}
