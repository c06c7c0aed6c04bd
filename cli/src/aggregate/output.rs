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
//!
//! An error-output line holds the record as it came in ([`Shown`]), so late
//! and refused records can be replayed: a JSON object as `"record":{...}`,
//! byte for byte; other text (a CSV line, malformed JSON) as a string; a
//! record over the 1 MiB limit as its first bytes and its length.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use arrow::array::{
    ArrayRef, Float64Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use osprey_ingest::{IngestError, StreamLines};
use osprey_kernels::window::acc::AggValue;
use osprey_kernels::window::keys::KeyValue;
use serde_json::ser::{CompactFormatter, Formatter as _};
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

/// NDJSON result rows, each written straight into a reused line buffer:
/// no `serde_json::Value`s, no per-row allocation. The bytes are those
/// serde_json writes for the same row (its escaping, its `ryu` floats and
/// `itoa` integers, through its own formatter), field by field in the
/// plan's order.
pub struct NdjsonRows {
    out: BufWriter<Box<dyn Write>>,
    /// The line being built.
    line: Vec<u8>,
    /// Each column's name as a JSON string followed by `:`.
    keys: Vec<Box<[u8]>>,
    /// The last two window bounds and their text as JSON strings: bounds
    /// repeat row after row, so each is formatted once.
    times: [(i64, Vec<u8>); 2],
}

impl NdjsonRows {
    /// Rows with the columns `names`, to `out`, through a 64 KiB buffer.
    fn new(out: Box<dyn Write>, names: &[String]) -> Self {
        let keys = names
            .iter()
            .map(|n| {
                let mut k = Vec::with_capacity(n.len() + 3);
                json_str(&mut k, n);
                k.push(b':');
                k.into_boxed_slice()
            })
            .collect();
        NdjsonRows {
            out: BufWriter::with_capacity(64 * 1024, out),
            line: Vec::with_capacity(1024),
            keys,
            times: [(i64::MIN, Vec::new()), (i64::MIN, Vec::new())],
        }
    }

    /// Writes the row whose column `c` is `cell(c)`.
    fn write<'a>(&mut self, mut cell: impl FnMut(usize) -> CellRef<'a>) -> Result<()> {
        let NdjsonRows {
            out,
            line,
            keys,
            times,
        } = self;
        line.clear();
        line.push(b'{');
        for (c, key) in keys.iter().enumerate() {
            if c > 0 {
                line.push(b',');
            }
            line.extend_from_slice(key);
            match cell(c) {
                CellRef::Time(us) => line.extend_from_slice(time_json(times, us)),
                CellRef::Key(k) => key_bytes(line, k),
                CellRef::Agg(AggValue::Int(i)) => num(line, |f, w| f.write_u64(w, i)),
                CellRef::Agg(AggValue::Float(v)) => float_bytes(line, v),
                CellRef::Agg(AggValue::Null) => line.extend_from_slice(b"null"),
            }
        }
        line.extend_from_slice(b"}\n");
        out.write_all(line).map_err(IngestError::from)?;
        Ok(())
    }

    /// Pushes buffered rows to the output and flushes it.
    fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(IngestError::from)?;
        Ok(())
    }
}

/// One cell of a row being written, borrowed.
#[derive(Debug, Clone, Copy)]
pub enum CellRef<'a> {
    /// A window bound (µs).
    Time(i64),
    /// A key.
    Key(&'a KeyValue),
    /// An aggregate.
    Agg(AggValue),
}

impl<'a> From<&'a Cell> for CellRef<'a> {
    fn from(cell: &'a Cell) -> Self {
        match cell {
            Cell::Time(us) => CellRef::Time(*us),
            Cell::Key(k) => CellRef::Key(k),
            Cell::Agg(a) => CellRef::Agg(*a),
        }
    }
}

/// The text of window bound `us` as a JSON string, from `cache` when it
/// holds it (else formatted into the older entry).
fn time_json(cache: &mut [(i64, Vec<u8>); 2], us: i64) -> &[u8] {
    let at = match cache.iter().position(|(t, _)| *t == us) {
        Some(at) => at,
        None => {
            cache.swap(0, 1);
            let (t, text) = &mut cache[0];
            *t = us;
            text.clear();
            json_str(text, &rfc3339(us));
            0
        }
    };
    &cache[at].1
}

/// `s` as a JSON string, escaped as serde_json escapes it.
fn json_str(line: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(line, s).expect("a string always serialises into a Vec");
}

/// A number through serde_json's compact formatter (`itoa`, `ryu`).
fn num(
    line: &mut Vec<u8>,
    write: impl FnOnce(&mut CompactFormatter, &mut Vec<u8>) -> std::io::Result<()>,
) {
    write(&mut CompactFormatter, line).expect("writing into a Vec cannot fail");
}

/// A float as the JSON of [`float_json`]: a number, or `"NaN"`,
/// `"Infinity"`, `"-Infinity"`.
fn float_bytes(line: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        line.extend_from_slice(b"\"NaN\"");
    } else if v.is_infinite() {
        line.extend_from_slice(if v > 0.0 {
            b"\"Infinity\"".as_slice()
        } else {
            b"\"-Infinity\"".as_slice()
        });
    } else {
        num(line, |f, w| f.write_f64(w, v));
    }
}

/// A key as the JSON of [`key_json`].
fn key_bytes(line: &mut Vec<u8>, k: &KeyValue) {
    match k {
        KeyValue::Null => line.extend_from_slice(b"null"),
        KeyValue::Str(s) => json_str(line, s),
        KeyValue::Int(i) => num(line, |f, w| f.write_i64(w, *i)),
        KeyValue::Bool(b) => line.extend_from_slice(if *b { b"true" } else { b"false" }),
        KeyValue::Float(bits) => float_bytes(line, f64::from_bits(*bits)),
    }
}

/// Where result rows go.
pub enum ResultSink {
    /// NDJSON, row by row.
    Ndjson(NdjsonRows),
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
    /// Writes one row, its cells in the order of the columns.
    ///
    /// # Errors
    /// When the output cannot be written.
    pub fn write(&mut self, row: Vec<Cell>) -> Result<()> {
        match self {
            ResultSink::Ndjson(rows) => rows.write(|c| CellRef::from(&row[c]))?,
            ResultSink::File { rows, .. } => rows.push(row),
        }
        Ok(())
    }

    /// Writes one row whose column `c` is `cell(c)`, for each column: NDJSON
    /// straight from the borrowed cells, without building a row.
    ///
    /// # Errors
    /// When the output cannot be written.
    pub fn write_with<'a>(
        &mut self,
        columns: usize,
        mut cell: impl FnMut(usize) -> CellRef<'a>,
    ) -> Result<()> {
        match self {
            ResultSink::Ndjson(rows) => rows.write(cell)?,
            ResultSink::File { rows, .. } => rows.push(
                (0..columns)
                    .map(|c| match cell(c) {
                        CellRef::Time(us) => Cell::Time(us),
                        CellRef::Key(k) => Cell::Key(k.clone()),
                        CellRef::Agg(a) => Cell::Agg(a),
                    })
                    .collect(),
            ),
        }
        Ok(())
    }

    /// Flushes NDJSON so readers see rows as windows close.
    ///
    /// # Errors
    /// When the output cannot be written.
    pub fn flush(&mut self) -> Result<()> {
        if let ResultSink::Ndjson(rows) = self {
            rows.flush()?;
        }
        Ok(())
    }

    /// Finishes the output.
    ///
    /// # Errors
    /// When the output cannot be written.
    pub fn finish(self) -> Result<()> {
        match self {
            ResultSink::Ndjson(mut rows) => rows.flush(),
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
    Ok(ResultSink::Ndjson(NdjsonRows::new(out, names)))
}

/// A late or refused record as the error output shows it.
#[derive(Debug, Clone, Copy)]
pub enum Shown<'a> {
    /// The record's text as it came in. A JSON object is written as that
    /// object, byte for byte (`"record":{...}`); any other text (a CSV line,
    /// malformed JSON) as a JSON string. Either way the record can be fed
    /// to osprey again: an object as its JSON, a string as its text.
    Text(&'a str),
    /// A record rebuilt from its columns (a Parquet row, which has no text).
    Value(&'a Value),
    /// A record too long (or not text) to show: its first bytes, as
    /// `record_head`, and its length in bytes, as `record_bytes`.
    Head {
        /// Its first bytes, as text.
        head: &'a str,
        /// Its length in bytes.
        bytes: usize,
    },
}

/// True when `text` is one JSON object, which can be written inside
/// another line as it is.
fn is_object(text: &str) -> bool {
    text.starts_with('{')
        && !text.contains('\n')
        && serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}

/// The error output: one NDJSON object a late or refused record.
pub struct ErrorSink {
    out: BufWriter<Box<dyn Write>>,
    line: Vec<u8>,
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
            out: BufWriter::with_capacity(64 * 1024, out),
            line: Vec::with_capacity(1024),
            late: 0,
            refused: 0,
        })
    }

    /// Writes `fields` and then the record as one line.
    fn write(&mut self, fields: Map<String, Value>, record: Shown<'_>) -> Result<()> {
        let mut fields = fields;
        let raw = match record {
            Shown::Text(t) if is_object(t.trim()) => Some(t.trim()),
            Shown::Text(t) => {
                fields.insert("record".into(), t.into());
                None
            }
            Shown::Value(v) => {
                fields.insert("record".into(), v.clone());
                None
            }
            Shown::Head { head, bytes } => {
                fields.insert("record_head".into(), head.into());
                fields.insert("record_bytes".into(), bytes.into());
                None
            }
        };
        self.line.clear();
        serde_json::to_writer(&mut self.line, &Value::Object(fields))
            .map_err(IngestError::Encode)?;
        if let Some(raw) = raw {
            // `{...,"reason":"..."}` becomes `{...,"reason":"...","record":RAW}`.
            self.line.pop();
            self.line.extend_from_slice(b",\"record\":");
            self.line.extend_from_slice(raw.as_bytes());
            self.line.push(b'}');
        }
        self.line.push(b'\n');
        self.out.write_all(&self.line).map_err(IngestError::from)?;
        Ok(())
    }

    /// A record that arrived after its windows closed.
    ///
    /// # Errors
    /// When the output cannot be written.
    pub fn late(&mut self, record: Shown<'_>, watermark: Option<i64>) -> Result<()> {
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
        self.write(map, record)
    }

    /// A record the reader, the chunker or the converter refused, with
    /// where it came from when that is known: `line` (files, stdin), `peer`
    /// and `line` (TCP), or `shard` and `seq` (streams).
    ///
    /// # Errors
    /// When the output cannot be written.
    pub fn refused(
        &mut self,
        origin: Option<&Origin>,
        reason: &str,
        record: Shown<'_>,
    ) -> Result<()> {
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
        self.write(map, record)
    }

    /// Flushes.
    ///
    /// # Errors
    /// When the output cannot be written.
    pub fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(IngestError::from)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;

    /// A writer whose bytes the test reads back.
    #[derive(Clone, Default)]
    struct Shared(Rc<RefCell<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The line serde_json writes for `row` through `Value`s, field by field.
    fn by_value(names: &[String], row: &[Cell]) -> String {
        let fields: Vec<String> = names
            .iter()
            .zip(row)
            .map(|(n, c)| {
                let v = match c {
                    Cell::Time(us) => Value::String(rfc3339(*us)),
                    Cell::Key(k) => key_json(k),
                    Cell::Agg(AggValue::Int(i)) => Value::from(*i),
                    Cell::Agg(AggValue::Float(f)) => float_json(*f),
                    Cell::Agg(AggValue::Null) => Value::Null,
                };
                format!("{}:{v}", Value::String(n.clone()))
            })
            .collect();
        format!("{{{}}}\n", fields.join(","))
    }

    #[test]
    fn rows_are_written_as_serde_json_writes_them() {
        let floats = [
            0.0,
            -0.0,
            0.1,
            1e21,
            1e-7,
            5e-324,
            f64::MAX,
            f64::MIN,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        let keys = [
            KeyValue::Null,
            KeyValue::Str("".into()),
            KeyValue::Str("a\"b\\c\u{1}\t\n\u{2028} é 😀".into()),
            KeyValue::Int(i64::MIN),
            KeyValue::Int(0),
            KeyValue::Bool(true),
            KeyValue::Bool(false),
            KeyValue::Float((-0.0f64).to_bits()),
            KeyValue::Float(f64::NAN.to_bits()),
            KeyValue::Float(2.5f64.to_bits()),
        ];
        let names: Vec<String> = ["window_start", "window_end", "k\"ey", "n", "f", "none"]
            .map(String::from)
            .to_vec();
        let out = Shared::default();
        let mut sink = ResultSink::Ndjson(NdjsonRows::new(Box::new(out.clone()), &names));
        let mut expected = String::new();
        let times = [0, 1_500_000, -1, 1_764_608_400_123_456, i64::MAX, 0];
        for (i, k) in keys.iter().enumerate() {
            for (j, f) in floats.iter().enumerate() {
                let row = vec![
                    Cell::Time(times[(i + j) % times.len()]),
                    Cell::Time(times[(i + 2 * j + 1) % times.len()]),
                    Cell::Key(k.clone()),
                    Cell::Agg(AggValue::Int(if j % 2 == 0 { u64::MAX } else { j as u64 })),
                    Cell::Agg(AggValue::Float(*f)),
                    Cell::Agg(AggValue::Null),
                ];
                expected.push_str(&by_value(&names, &row));
                if j % 2 == 0 {
                    sink.write(row).unwrap();
                } else {
                    sink.write_with(row.len(), |c| CellRef::from(&row[c]))
                        .unwrap();
                }
            }
        }
        sink.finish().unwrap();
        let written = String::from_utf8(out.0.take()).unwrap();
        assert_eq!(written.lines().count(), keys.len() * floats.len());
        for (w, e) in written.lines().zip(expected.lines()) {
            assert_eq!(w, e);
        }
        assert_eq!(written, expected);
    }

    #[test]
    fn a_row_without_columns_is_an_empty_object() {
        let out = Shared::default();
        let mut sink = ResultSink::Ndjson(NdjsonRows::new(Box::new(out.clone()), &[]));
        sink.write(Vec::new()).unwrap();
        sink.finish().unwrap();
        assert_eq!(out.0.take(), b"{}\n");
    }
}
