//! Result rows out: NDJSON lines (to stdout, a file, or a stream of the
//! store), or one Parquet or Arrow IPC file; and the error output (late and
//! refused records, with their reason and where they came from).
//!
//! Rows into a stream go through the same adapter as `osprey analyze
//! --output stream:NAME` ([`StreamLines`]): the rows written since the last
//! flush are put as one batch when the engine hands on a batch of closed
//! windows, retried while the store is busy. Each row's partition key is
//! its GROUP BY key values joined with `/` (the window start when there are
//! no keys, [`Plan::partition_fields`](super::plan::Plan::partition_fields)),
//! so rows spread over the shards as their groups do, and the rows of one
//! group stay in one shard, in order.
//!
//! A result row holds `window_start` and `window_end` (RFC 3339, UTC), the
//! keys and the aggregates, named as the plan says. Counts are integers;
//! NaN and infinities, which JSON lacks, are written as the strings `"NaN"`,
//! `"Infinity"` and `"-Infinity"`; an aggregate over no values is `null`.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use arrow::array::{
    ArrayRef, Float64Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use osprey_ingest::{NdjsonSink, StreamLines};
use osprey_kernels::window::acc::AggValue;
use osprey_kernels::window::keys::KeyValue;
use serde_json::{Map, Value};

use super::args::OutputFormat;
use super::input::{Origin, STREAM_PREFIX, stream_name};
use crate::exit::UsageError;

/// RFC 3339 in UTC, with fractional seconds only when there are some.
pub fn rfc3339(us: i64) -> String {
    match chrono::DateTime::from_timestamp_micros(us) {
        Some(t) if us % 1_000_000 == 0 => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        None => us.to_string(),
    }
}

/// A key as JSON.
pub fn key_json(k: &KeyValue) -> Value {
    match k {
        KeyValue::Null => Value::Null,
        KeyValue::Str(s) => Value::String(s.to_string()),
        KeyValue::Int(i) => Value::from(*i),
        KeyValue::Bool(b) => Value::Bool(*b),
        KeyValue::Float(bits) => float_json(f64::from_bits(*bits)),
    }
}

fn float_json(v: f64) -> Value {
    if v.is_nan() {
        Value::String("NaN".into())
    } else if v.is_infinite() {
        Value::String(if v > 0.0 { "Infinity" } else { "-Infinity" }.into())
    } else {
        serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
    }
}

/// One result column's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// A window bound (µs).
    Time(i64),
    /// A key.
    Key(KeyValue),
    /// An aggregate.
    Agg(AggValue),
}

/// A JSON object whose fields keep the plan's order, written without
/// building `serde_json::Value`s (result rows are many).
struct Ordered<'a> {
    names: &'a [String],
    cells: &'a [Cell],
    /// The text of the window bounds, by cell.
    times: &'a [Option<&'a str>],
}

/// One cell, serialised in place.
struct CellJson<'a>(&'a Cell, Option<&'a str>);

impl serde::Serialize for CellJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let float = |v: f64, s: S| {
            if v.is_nan() {
                s.serialize_str("NaN")
            } else if v.is_infinite() {
                s.serialize_str(if v > 0.0 { "Infinity" } else { "-Infinity" })
            } else {
                s.serialize_f64(v)
            }
        };
        match (self.0, self.1) {
            (_, Some(text)) => s.serialize_str(text),
            (Cell::Time(us), None) => s.serialize_str(&rfc3339(*us)),
            (Cell::Key(KeyValue::Str(v)), _) => s.serialize_str(v),
            (Cell::Key(KeyValue::Int(i)), _) => s.serialize_i64(*i),
            (Cell::Key(KeyValue::Bool(b)), _) => s.serialize_bool(*b),
            (Cell::Key(KeyValue::Float(bits)), _) => float(f64::from_bits(*bits), s),
            (Cell::Key(KeyValue::Null) | Cell::Agg(AggValue::Null), _) => s.serialize_unit(),
            (Cell::Agg(AggValue::Int(i)), _) => s.serialize_u64(*i),
            (Cell::Agg(AggValue::Float(f)), _) => float(*f, s),
        }
    }
}

impl serde::Serialize for Ordered<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = s.serialize_map(Some(self.names.len()))?;
        for ((n, c), t) in self.names.iter().zip(self.cells).zip(self.times) {
            map.serialize_entry(n, &CellJson(c, *t))?;
        }
        map.end()
    }
}

/// Where result rows go.
pub enum ResultSink {
    /// NDJSON, row by row; the last window bounds' text is kept, as they repeat.
    Ndjson(NdjsonSink<Box<dyn Write>>, [(i64, String); 2]),
    /// Parquet or Arrow IPC, written at the end.
    File {
        /// Parquet or Arrow.
        format: OutputFormat,
        /// The file.
        file: File,
        /// Column names.
        names: Vec<String>,
        /// Rows so far.
        rows: Vec<Vec<Cell>>,
    },
}

impl ResultSink {
    /// Writes one row.
    ///
    /// # Errors
    /// When the output cannot be written.
    pub fn write(&mut self, names: &[String], row: Vec<Cell>) -> Result<()> {
        match self {
            ResultSink::Ndjson(sink, cache) => {
                // Window bounds repeat row after row: format each once.
                for cell in &row {
                    if let Cell::Time(us) = cell
                        && !cache.iter().any(|(t, _)| t == us)
                    {
                        cache.swap(0, 1);
                        cache[0] = (*us, rfc3339(*us));
                    }
                }
                let times: Vec<Option<&str>> = row
                    .iter()
                    .map(|cell| match cell {
                        Cell::Time(us) => {
                            cache.iter().find(|(t, _)| t == us).map(|(_, s)| s.as_str())
                        }
                        _ => None,
                    })
                    .collect();
                sink.write(&Ordered {
                    names,
                    cells: &row,
                    times: &times,
                })?;
            }
            ResultSink::File { rows, .. } => rows.push(row),
        }
        Ok(())
    }

    /// Flushes NDJSON so readers see rows as windows close.
    ///
    /// # Errors
    /// When the output cannot be written.
    pub fn flush(&mut self) -> Result<()> {
        if let ResultSink::Ndjson(sink, _) = self {
            sink.flush()?;
        }
        Ok(())
    }

    /// Finishes the output.
    ///
    /// # Errors
    /// When the output cannot be written.
    pub fn finish(self) -> Result<()> {
        match self {
            ResultSink::Ndjson(mut sink, _) => Ok(sink.flush()?),
            ResultSink::File {
                format,
                file,
                names,
                rows,
            } => {
                let batch = to_batch(&names, &rows)?;
                match format {
                    OutputFormat::Parquet => {
                        let mut w =
                            parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None)
                                .context("cannot write parquet")?;
                        w.write(&batch).context("cannot write parquet")?;
                        w.close().context("cannot write parquet")?;
                    }
                    OutputFormat::Arrow | OutputFormat::Ndjson => {
                        let mut w = arrow::ipc::writer::FileWriter::try_new(file, &batch.schema())
                            .context("cannot write arrow")?;
                        w.write(&batch).context("cannot write arrow")?;
                        w.finish().context("cannot write arrow")?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// The result rows as one Arrow batch: window bounds as timestamps, counts
/// as Int64, other aggregates as Float64, integer keys as Int64 and other
/// keys as text.
fn to_batch(names: &[String], rows: &[Vec<Cell>]) -> Result<RecordBatch> {
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (c, name) in names.iter().enumerate() {
        let cells = rows.iter().map(|r| &r[c]);
        let first = rows.first().map(|r| &r[c]);
        let (ty, array): (DataType, ArrayRef) = match first {
            Some(Cell::Time(_)) => {
                let mut b = TimestampMicrosecondBuilder::with_capacity(rows.len());
                for cell in cells {
                    match cell {
                        Cell::Time(t) => b.append_value(*t),
                        _ => b.append_null(),
                    }
                }
                (
                    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                    Arc::new(b.finish().with_timezone("UTC")),
                )
            }
            Some(Cell::Key(_)) => {
                let all_int = rows
                    .iter()
                    .all(|r| matches!(r[c], Cell::Key(KeyValue::Int(_) | KeyValue::Null)));
                if all_int {
                    let mut b = Int64Builder::with_capacity(rows.len());
                    for cell in cells {
                        match cell {
                            Cell::Key(KeyValue::Int(i)) => b.append_value(*i),
                            _ => b.append_null(),
                        }
                    }
                    (DataType::Int64, Arc::new(b.finish()))
                } else {
                    let mut b = StringBuilder::new();
                    for cell in cells {
                        match cell {
                            Cell::Key(KeyValue::Null) => b.append_null(),
                            Cell::Key(k) => match key_json(k) {
                                Value::String(s) => b.append_value(s),
                                other => b.append_value(other.to_string()),
                            },
                            _ => b.append_null(),
                        }
                    }
                    (DataType::Utf8, Arc::new(b.finish()))
                }
            }
            _ => {
                let ints = rows
                    .iter()
                    .all(|r| matches!(r[c], Cell::Agg(AggValue::Int(_) | AggValue::Null)))
                    && rows
                        .iter()
                        .any(|r| matches!(r[c], Cell::Agg(AggValue::Int(_))));
                if ints {
                    let mut b = Int64Builder::with_capacity(rows.len());
                    for cell in cells {
                        match cell {
                            Cell::Agg(AggValue::Int(i)) => {
                                b.append_value(i64::try_from(*i).unwrap_or(i64::MAX))
                            }
                            _ => b.append_null(),
                        }
                    }
                    (DataType::Int64, Arc::new(b.finish()))
                } else {
                    let mut b = Float64Builder::with_capacity(rows.len());
                    for cell in cells {
                        match cell {
                            Cell::Agg(AggValue::Float(f)) => b.append_value(*f),
                            Cell::Agg(AggValue::Int(i)) => b.append_value(*i as f64),
                            _ => b.append_null(),
                        }
                    }
                    (DataType::Float64, Arc::new(b.finish()))
                }
            }
        };
        fields.push(Field::new(name, ty, true));
        columns.push(array);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .context("cannot build the result batch")
}

/// Where result rows go, as `--output` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination<'a> {
    /// `-`: standard output.
    Stdout,
    /// A file.
    File(&'a Path),
    /// `stream:NAME`: a stream of the store.
    Stream(String),
}

impl<'a> Destination<'a> {
    /// Reads `--output`.
    ///
    /// # Errors
    /// [`UsageError`] for `stream:` without a name, or an empty path.
    pub fn parse(path: &'a Path) -> Result<Self> {
        if path == Path::new("-") {
            return Ok(Destination::Stdout);
        }
        if let Some(name) = path.to_str().and_then(|p| p.strip_prefix(STREAM_PREFIX)) {
            return Ok(Destination::Stream(stream_name(name, "--output")?));
        }
        if path.as_os_str().is_empty() {
            return Err(
                UsageError("--output is empty: give a path, or - for stdout".into()).into(),
            );
        }
        Ok(Destination::File(path))
    }

    /// The format: `format` when given, else from a file's extension, else NDJSON.
    pub fn format(&self, format: Option<OutputFormat>) -> OutputFormat {
        let by_extension = match self {
            Destination::File(path) => match path.extension().and_then(|e| e.to_str()) {
                Some("parquet") => OutputFormat::Parquet,
                Some("arrow" | "ipc" | "feather") => OutputFormat::Arrow,
                _ => OutputFormat::Ndjson,
            },
            Destination::Stdout | Destination::Stream(_) => OutputFormat::Ndjson,
        };
        format.unwrap_or(by_extension)
    }
}

/// Where a stream output is and what its records are keyed by.
#[derive(Debug, Clone, Copy)]
pub struct StreamTarget<'a> {
    /// The store's data directory.
    pub data_dir: &'a Path,
    /// The partition key of a record that has none of `key_fields`.
    pub partition_key: &'a str,
    /// The result columns whose values key each record (the GROUP BY keys,
    /// or the window start when there are none).
    pub key_fields: &'a [String],
}

/// Opens the result output.
///
/// # Errors
/// When the file cannot be created, the stream does not exist, or Parquet or
/// Arrow is asked for on stdout or a stream.
pub fn open(
    dest: &Destination<'_>,
    format: Option<OutputFormat>,
    names: &[String],
    target: StreamTarget<'_>,
) -> Result<ResultSink> {
    let format = dest.format(format);
    let create = |path: &Path| {
        File::create(path).with_context(|| format!("cannot create {}", path.display()))
    };
    let out: Box<dyn Write> = match (dest, format) {
        (Destination::File(path), OutputFormat::Parquet | OutputFormat::Arrow) => {
            return Ok(ResultSink::File {
                format,
                file: create(path)?,
                names: names.to_vec(),
                rows: Vec::new(),
            });
        }
        (
            Destination::Stdout | Destination::Stream(_),
            OutputFormat::Parquet | OutputFormat::Arrow,
        ) => {
            return Err(anyhow::anyhow!(UsageError(
                "parquet and arrow output need --output FILE".into()
            )));
        }
        (Destination::Stdout, OutputFormat::Ndjson) => Box::new(std::io::stdout()),
        (Destination::File(path), OutputFormat::Ndjson) => Box::new(create(path)?),
        (Destination::Stream(name), OutputFormat::Ndjson) => {
            let store = crate::stream::open_store(target.data_dir, Default::default())?;
            let lines = StreamLines::new(store, name, target.partition_key).with_context(|| {
                format!(
                    "cannot write to stream {name:?} (create it with `osprey stream create {name}`)"
                )
            })?;
            Box::new(lines.keyed_by_fields(target.key_fields.to_vec()))
        }
    };
    Ok(ResultSink::Ndjson(
        NdjsonSink::new(out),
        [(i64::MIN, String::new()), (i64::MIN, String::new())],
    ))
}

/// The error output: one NDJSON object a late or refused record.
pub struct ErrorSink {
    sink: NdjsonSink<Box<dyn Write>>,
    /// Late records written.
    pub late: u64,
    /// Refused records written.
    pub refused: u64,
}

impl ErrorSink {
    /// Opens `path`, or stderr for `-`.
    ///
    /// # Errors
    /// When the file cannot be created.
    pub fn open(path: &Path) -> Result<Self> {
        let out: Box<dyn Write> = if path == Path::new("-") {
            Box::new(std::io::stderr())
        } else {
            Box::new(
                File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
            )
        };
        Ok(ErrorSink {
            sink: NdjsonSink::new(out),
            late: 0,
            refused: 0,
        })
    }

    /// A record that arrived after its windows closed.
    ///
    /// # Errors
    /// When the output cannot be written.
    pub fn late(&mut self, record: Value, watermark: Option<i64>) -> Result<()> {
        self.late += 1;
        let reason = match watermark {
            Some(w) => format!(
                "late: all its windows had closed when it arrived (the watermark reached {} by the end of its batch)",
                rfc3339(w)
            ),
            None => "late: its windows closed before it arrived".to_owned(),
        };
        let mut map = Map::new();
        map.insert("kind".into(), "late".into());
        map.insert("reason".into(), reason.into());
        map.insert("record".into(), record);
        Ok(self.sink.write(&Value::Object(map))?)
    }

    /// A record the chunker or the converter refused, with where it came
    /// from when that is known: `line` (files, stdin), `peer` and `line`
    /// (TCP), or `shard` and `seq` (streams).
    ///
    /// # Errors
    /// When the output cannot be written.
    pub fn refused(&mut self, origin: Option<&Origin>, reason: &str, raw: &str) -> Result<()> {
        self.refused += 1;
        let mut map = Map::new();
        map.insert("kind".into(), "error".into());
        match origin {
            None => {}
            Some(Origin::Line(l)) => {
                map.insert("line".into(), (*l).into());
            }
            Some(Origin::Tcp { peer, line }) => {
                map.insert("peer".into(), peer.to_string().into());
                map.insert("line".into(), (*line).into());
            }
            Some(Origin::Stream { shard, seq }) => {
                map.insert("shard".into(), shard.as_str().into());
                map.insert("seq".into(), (*seq).into());
            }
        }
        map.insert("reason".into(), reason.into());
        map.insert("record".into(), raw.into());
        Ok(self.sink.write(&Value::Object(map))?)
    }

    /// Flushes.
    ///
    /// # Errors
    /// When the output cannot be written.
    pub fn flush(&mut self) -> Result<()> {
        Ok(self.sink.flush()?)
    }
}
