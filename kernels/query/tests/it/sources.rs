//! Queries over inputs read by `osprey_query::source` through library calls
//! alone: an NDJSON file and a stored stream (with a consumer whose
//! checkpoint a second run starts from), exact result rows out of a memory
//! sink.

use crate::common::{MINUTE, Shared, per_minute};
use osprey_ingest::chunk::{ChunkConfig, RecordFormat};
use osprey_ingest::store::{PutRecord, StartingPosition, Store, StoreConfig, StreamOptions};
use osprey_kernels::window::acc::AggValue;
use osprey_kernels::window::keys::KeyValue;
use osprey_query::{
    Cell, ErrorSink, Outputs, Query, QueryOptions, ResultSink, Source, StreamSource,
};

const RECORDS: [&str; 4] = [
    r#"{"ts":"1970-01-01T00:00:01Z","k":"a","v":1.0}"#,
    r#"{"ts":"1970-01-01T00:00:10Z","k":"b","v":5.0}"#,
    r#"{"ts":"1970-01-01T00:00:30Z","k":"a","v":2.0}"#,
    r#"{"ts":"1970-01-01T00:01:05Z","k":"a","v":4.0}"#,
];

/// The query, with lateness enough for a stream's shards to interleave.
fn query() -> Query {
    per_minute(QueryOptions {
        lateness: 10 * MINUTE,
        ..QueryOptions::default()
    })
}

fn chunk_config(query: &Query) -> ChunkConfig {
    ChunkConfig {
        time_field: Some(query.plan().time_field.clone()),
        keep_raw: true,
        ..ChunkConfig::default()
    }
}

/// Runs `source` through a new query: the result rows, and the error
/// output's lines.
fn run(source: &mut Source<'_>) -> (Vec<Vec<Cell>>, Vec<String>) {
    let mut query = query();
    let errors = Shared::default();
    let mut out = Outputs {
        rows: ResultSink::memory(),
        errors: ErrorSink::new(Box::new(errors.clone())),
    };
    let config = chunk_config(&query);
    if let Source::Stream(s) = source {
        s.track(&mut query);
    }
    source
        .feed(&mut query, &mut out, config)
        .expect("the input is read");
    query.finish(&mut out).expect("the query finishes");
    out.errors.flush().expect("memory takes the errors");
    let rows = out.rows.finish().expect("a memory sink finishes");
    let text = String::from_utf8(errors.0.take()).expect("the error output is UTF-8");
    (rows, text.lines().map(str::to_owned).collect())
}

fn row(start: i64, key: &str, n: u64, total: f64) -> Vec<Cell> {
    vec![
        Cell::Time(start),
        Cell::Time(start + MINUTE),
        Cell::Key(KeyValue::Str(key.into())),
        Cell::Agg(AggValue::Int(n)),
        Cell::Agg(AggValue::Float(total)),
    ]
}

fn expected() -> Vec<Vec<Cell>> {
    vec![
        row(0, "a", 2, 3.0),
        row(0, "b", 1, 5.0),
        row(MINUTE, "a", 1, 4.0),
    ]
}

#[test]
fn a_query_over_an_ndjson_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.ndjson");
    let mut text = RECORDS.join("\n");
    text.push_str("\nnot json\n");
    std::fs::write(&path, text).unwrap();
    let mut source = Source::Text {
        reader: Box::new(std::fs::File::open(&path).unwrap()),
        format: RecordFormat::Ndjson,
        name: "in.ndjson".into(),
        threads: 2,
    };
    let (rows, errors) = run(&mut source);
    assert_eq!(rows, expected());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains(r#""line":5"#) && errors[0].contains("not json"),
        "{errors:?}"
    );
}

#[test]
fn a_query_over_a_stored_stream_checkpoints_its_consumer() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
    let options = StreamOptions {
        shards: 2,
        ..StreamOptions::default()
    };
    store.create_stream("t", options).unwrap();
    let records: Vec<PutRecord> = RECORDS
        .iter()
        .enumerate()
        .map(|(i, r)| PutRecord::new(format!("key{i}"), r.as_bytes()))
        .collect();
    store.put_records("t", &records).unwrap();
    let open =
        || StreamSource::open(&store, "t", StartingPosition::TrimHorizon, Some("q")).unwrap();
    let mut source = Source::Stream(Box::new(open()));
    let (rows, errors) = run(&mut source);
    assert_eq!(rows, expected());
    assert!(errors.is_empty(), "{errors:?}");
    if let Source::Stream(s) = &source {
        s.finish().unwrap();
    }
    // The consumer's checkpoint is at the end: a second run reads nothing.
    let mut again = Source::Stream(Box::new(open()));
    let (rows, _) = run(&mut again);
    assert!(rows.is_empty(), "{rows:?}");
}
