//! The chunker: NDJSON lines or CSV rows in, Arrow [`RecordBatch`]es out,
//! flushed when a batch holds `max_rows` rows or its first row has waited
//! `max_latency`.
//!
//! A row that does not fit the schema (a string where a number belongs, no
//! time where the time field is required) is not dropped: it goes to the
//! bad-record output ([`Chunker::take_bad`]) with its line number and why.
//! Without a declared schema the first `infer_rows` records (or
//! `infer_bytes` of them, whichever comes first) are held back, the schema
//! is inferred from them, and they are chunked under it. The time field is
//! always in an inferred schema, even when those records lack it (they are
//! refused; later records that have it are used). An integer column widens
//! to f64 when a later record holds a fraction, as DuckDB's inference does;
//! other fields first seen later are ignored.
//!
//! Each row of a batch comes with its [`Origin`] (a line of the input, or
//! what the caller said: a TCP peer's line, a stream's shard and sequence
//! number), and each refused record with its own, in a [`Chunk`]; with
//! `keep_raw` a chunk also holds each row's record as it came in, so a
//! caller can name a row by its original bytes: a late record is written
//! out as it arrived.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use serde_json::Value;

use super::origin::Origin;
use super::schema::{FieldType, RecordField, RecordSchema, Seen};
use super::time::{RawTime, TimeFormat};
use crate::codec::csv_cell;
use crate::error::{IngestError, Result};

/// How the chunker is set up.
#[derive(Debug, Clone)]
pub struct ChunkConfig {
    /// The declared schema; `None` infers one from the first records.
    pub schema: Option<RecordSchema>,
    /// The event-time field: inferred as a timestamp, and required in every row.
    pub time_field: Option<String>,
    /// How times are written.
    pub time_format: TimeFormat,
    /// Rows a batch holds at most (at least 1).
    pub max_rows: usize,
    /// How long the first row of a batch may wait before the batch is due.
    pub max_latency: Option<Duration>,
    /// Records inference looks at before deciding (at least 1).
    pub infer_rows: usize,
    /// Bytes of records inference holds back at most: it decides once they
    /// reach this many, even before `infer_rows`.
    pub infer_bytes: usize,
    /// Keep each row's record text in its [`Chunk`].
    pub keep_raw: bool,
}

impl Default for ChunkConfig {
    fn default() -> Self {
        ChunkConfig {
            schema: None,
            time_field: None,
            time_format: TimeFormat::Auto,
            max_rows: 65_536,
            max_latency: None,
            infer_rows: 100,
            infer_bytes: 16 << 20,
            keep_raw: false,
        }
    }
}

/// A record the chunker could not use, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRecord {
    /// 1-based line (NDJSON) or record (CSV, after the header) number: the
    /// count of records pushed.
    pub line: u64,
    /// Where it came from: as the caller gave it, else [`Origin::Line`] of `line`.
    pub origin: Origin,
    /// Why it was refused, one lowercase line.
    pub reason: String,
    /// The record as it came in (a CSV record written back as one CSV line).
    pub raw: String,
}

/// Rows of records as one Arrow batch, with where each came from.
#[derive(Debug, Clone)]
pub struct Chunk {
    /// The rows.
    pub batch: RecordBatch,
    /// Row `i`'s origin is entry `i` (empty for a batch made elsewhere,
    /// from a Parquet file say).
    pub origins: Vec<Origin>,
    /// With `keep_raw`, row `i`'s record text as it came in is entry `i`
    /// (a CSV record written back as one CSV line); else empty.
    pub raws: Vec<String>,
}

impl From<RecordBatch> for Chunk {
    /// A batch without origins or record text (a Parquet file's).
    fn from(batch: RecordBatch) -> Self {
        Chunk {
            batch,
            origins: Vec::new(),
            raws: Vec::new(),
        }
    }
}

/// One record of input, flattened to dotted field names.
#[derive(Debug, Clone)]
struct Row {
    line: u64,
    origin: Origin,
    raw: String,
    /// Its fields: JSON values, a CSV cell typed by [`csv_cell::cell_value`].
    fields: Vec<(String, Value)>,
}

/// An NDJSON line and its fields, flattened as the chunker names them (or
/// why it is not a record; nothing for a blank line): the costly part of
/// taking a line, which a reading thread can do ahead of the chunker.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedJson {
    line: String,
    fields: Option<std::result::Result<Vec<(String, Value)>, String>>,
}

impl ParsedJson {
    /// Parses `line`.
    pub fn parse(line: String) -> Self {
        let fields = (!line.trim().is_empty()).then(|| match serde_json::from_str(&line) {
            Ok(value @ Value::Object(_)) => {
                let mut fields = Vec::new();
                flatten("", value, &mut fields);
                Ok(fields)
            }
            Ok(other) => Err(format!("a record must be a JSON object, not {other}")),
            Err(e) => Err(format!("invalid JSON: {e}")),
        });
        ParsedJson { line, fields }
    }

    /// The line as it came.
    pub fn line(&self) -> &str {
        &self.line
    }
}

fn flatten(prefix: &str, value: Value, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let name = if prefix.is_empty() {
                    k
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&name, v, out);
            }
        }
        other => out.push((prefix.to_owned(), other)),
    }
}

fn seen(value: &Value, time_format: &TimeFormat) -> Seen {
    match value {
        Value::Null => Seen::Null,
        Value::Bool(_) => Seen::Bool,
        Value::Number(n) if n.is_i64() || n.is_u64() => Seen::Int,
        Value::Number(_) => Seen::Float,
        Value::String(s) if time_format.looks_like_time(s) => Seen::Time,
        _ => Seen::Text,
    }
}

/// A typed value ready for a builder.
enum Typed {
    Null,
    Ts(i64),
    Str(String),
    F64(f64),
    I64(i64),
    Bool(bool),
}

fn json_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `value` as a value of a `ty` column. A string is read for the type
/// (`"21.5"` for f64, `"1"` for bool); a CSV cell comes here already typed
/// by [`csv_cell::cell_value`], so it is read as the same JSON value would
/// be, wherever it comes from.
fn coerce(value: &Value, ty: FieldType, tf: &TimeFormat) -> std::result::Result<Typed, String> {
    match (ty, value) {
        (_, Value::Null) => Ok(Typed::Null),
        (FieldType::String, v) => Ok(Typed::Str(json_text(v))),
        (FieldType::Timestamp, Value::String(t)) => tf.parse(RawTime::Text(t)).map(Typed::Ts),
        (FieldType::Timestamp, Value::Number(n)) => {
            let n = n.as_f64().ok_or("a number out of range")?;
            tf.parse(RawTime::Number(n)).map(Typed::Ts)
        }
        (FieldType::Timestamp, v) => Err(format!("{v} is not a time")),
        (FieldType::F64, Value::String(t)) => t
            .trim()
            .parse::<f64>()
            .map(Typed::F64)
            .map_err(|_| format!("{t:?} is not a number")),
        (FieldType::F64, Value::Number(n)) => n
            .as_f64()
            .map(Typed::F64)
            .ok_or_else(|| format!("{n} is out of range")),
        (FieldType::F64, v) => Err(format!("{v} is not a number")),
        (FieldType::I64, Value::String(t)) => t
            .trim()
            .parse::<i64>()
            .map(Typed::I64)
            .map_err(|_| format!("{t:?} is not an integer")),
        (FieldType::I64, Value::Number(n)) => n
            .as_i64()
            .map(Typed::I64)
            .ok_or_else(|| format!("{n} is not a 64-bit integer")),
        (FieldType::I64, v) => Err(format!("{v} is not an integer")),
        (FieldType::Bool, Value::Bool(b)) => Ok(Typed::Bool(*b)),
        (FieldType::Bool, Value::String(t)) => match t.trim() {
            "true" | "1" => Ok(Typed::Bool(true)),
            "false" | "0" => Ok(Typed::Bool(false)),
            other => Err(format!("{other:?} is not a boolean")),
        },
        (FieldType::Bool, Value::Number(n)) => match n.as_i64() {
            Some(1) => Ok(Typed::Bool(true)),
            Some(0) => Ok(Typed::Bool(false)),
            _ => Err(format!("{n} is not a boolean")),
        },
        (FieldType::Bool, v) => Err(format!("{v} is not a boolean")),
    }
}

/// One column being built.
enum Column {
    Ts(TimestampMicrosecondBuilder),
    Str(StringBuilder),
    F64(Float64Builder),
    I64(Int64Builder),
    Bool(BooleanBuilder),
}

impl Column {
    fn new(ty: FieldType, capacity: usize) -> Self {
        match ty {
            FieldType::Timestamp => {
                Column::Ts(TimestampMicrosecondBuilder::with_capacity(capacity))
            }
            FieldType::String => Column::Str(StringBuilder::with_capacity(capacity, capacity * 8)),
            FieldType::F64 => Column::F64(Float64Builder::with_capacity(capacity)),
            FieldType::I64 => Column::I64(Int64Builder::with_capacity(capacity)),
            FieldType::Bool => Column::Bool(BooleanBuilder::with_capacity(capacity)),
        }
    }

    fn append(&mut self, v: Typed) {
        match (self, v) {
            (Column::Ts(b), Typed::Ts(x)) => b.append_value(x),
            (Column::Str(b), Typed::Str(x)) => b.append_value(x),
            (Column::F64(b), Typed::F64(x)) => b.append_value(x),
            (Column::I64(b), Typed::I64(x)) => b.append_value(x),
            (Column::Bool(b), Typed::Bool(x)) => b.append_value(x),
            (Column::Ts(b), _) => b.append_null(),
            (Column::Str(b), _) => b.append_null(),
            (Column::F64(b), _) => b.append_null(),
            (Column::I64(b), _) => b.append_null(),
            (Column::Bool(b), _) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Column::Ts(b) => Arc::new(b.finish().with_timezone("UTC")),
            Column::Str(b) => Arc::new(b.finish()),
            Column::F64(b) => Arc::new(b.finish()),
            Column::I64(b) => Arc::new(b.finish()),
            Column::Bool(b) => Arc::new(b.finish()),
        }
    }
}

/// Schema and builders, once the schema is known.
struct Building {
    schema: RecordSchema,
    arrow: SchemaRef,
    columns: Vec<Column>,
    time_index: Option<usize>,
    rows: usize,
    /// The origin of each row built.
    origins: Vec<Origin>,
    /// The record text of each row built, with `keep_raw`.
    raws: Vec<String>,
}

/// Turns records into Arrow batches; see the module docs.
pub struct Chunker {
    config: ChunkConfig,
    building: Option<Building>,
    /// Rows held back for inference.
    pending: Vec<Row>,
    /// Bytes of the records held back.
    pending_bytes: usize,
    bad: Vec<BadRecord>,
    first_at: Option<Instant>,
    header: Option<Vec<String>>,
    line: u64,
}

impl std::fmt::Debug for Chunker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chunker")
            .field("schema", &self.schema().map(RecordSchema::to_spec))
            .field("pending", &self.pending.len())
            .field("bad", &self.bad.len())
            .finish_non_exhaustive()
    }
}

impl Chunker {
    /// A chunker; with a declared schema it is ready at once.
    ///
    /// # Errors
    /// [`IngestError::InvalidSchema`] when the time field is declared with
    /// another type than `timestamp`, or not declared at all.
    pub fn new(mut config: ChunkConfig) -> Result<Self> {
        config.max_rows = config.max_rows.max(1);
        config.infer_rows = config.infer_rows.max(1);
        let mut chunker = Chunker {
            building: None,
            pending: Vec::new(),
            pending_bytes: 0,
            bad: Vec::new(),
            first_at: None,
            header: None,
            line: 0,
            config,
        };
        if let Some(schema) = chunker.config.schema.clone() {
            chunker.start(schema)?;
        }
        Ok(chunker)
    }

    /// The schema, once declared or inferred.
    pub fn schema(&self) -> Option<&RecordSchema> {
        self.building.as_ref().map(|b| &b.schema)
    }

    fn start(&mut self, schema: RecordSchema) -> Result<()> {
        let time_index = match &self.config.time_field {
            Some(name) => {
                let i = schema.index_of(name).ok_or_else(|| {
                    IngestError::InvalidSchema(format!(
                        "the time field {name:?} is not in the schema ({})",
                        schema.to_spec()
                    ))
                })?;
                if schema.fields[i].ty != FieldType::Timestamp {
                    return Err(IngestError::InvalidSchema(format!(
                        "the time field {name:?} is declared {}, not timestamp",
                        schema.fields[i].ty.name()
                    )));
                }
                Some(i)
            }
            None => None,
        };
        let cap = self.config.max_rows.min(1 << 16);
        self.building = Some(Building {
            arrow: schema.arrow(),
            columns: schema
                .fields
                .iter()
                .map(|f| Column::new(f.ty, cap))
                .collect(),
            schema,
            time_index,
            rows: 0,
            origins: Vec::new(),
            raws: Vec::new(),
        });
        Ok(())
    }

    /// Counts a line the caller refused itself (too long to read), so the
    /// line numbers of later records stay those of the input.
    pub fn skip_line(&mut self) {
        self.line += 1;
    }

    /// Sets the CSV header (field names, in column order), the names made
    /// usable by [`csv_cell::header_names`] as `osprey put` makes them.
    pub fn set_header(&mut self, names: Vec<String>) {
        self.header = Some(csv_cell::header_names(names.iter().map(String::as_str)));
    }

    /// Adds one NDJSON line; blank lines are skipped. Returns a batch when
    /// this row filled one.
    ///
    /// # Errors
    /// See [`Chunker::new`]: only when an inferred schema lacks the time field.
    pub fn push_json(&mut self, line: &str) -> Result<Option<RecordBatch>> {
        Ok(self.push_json_from(line, None)?.map(|c| c.batch))
    }

    /// Adds one NDJSON line from `origin` (`None`: its line of the input,
    /// the count of records pushed); blank lines are skipped. Returns a
    /// chunk when this row filled one.
    ///
    /// # Errors
    /// See [`Chunker::push_json`].
    pub fn push_json_from(&mut self, line: &str, origin: Option<Origin>) -> Result<Option<Chunk>> {
        self.push_parsed_from(ParsedJson::parse(line.to_owned()), origin)
    }

    /// Adds one NDJSON line parsed beforehand ([`ParsedJson::parse`], on
    /// any thread), as [`Chunker::push_json_from`] adds its text.
    ///
    /// # Errors
    /// See [`Chunker::push_json`].
    pub fn push_parsed_from(
        &mut self,
        parsed: ParsedJson,
        origin: Option<Origin>,
    ) -> Result<Option<Chunk>> {
        self.line += 1;
        let origin = origin.unwrap_or(Origin::Line(self.line));
        match parsed.fields {
            None => Ok(None),
            Some(Err(reason)) => Ok(self.refuse(&parsed.line, origin, reason)),
            Some(Ok(fields)) => self.push_row(Row {
                line: self.line,
                origin,
                raw: parsed.line,
                fields,
            }),
        }
    }

    /// Adds one CSV record (after [`Chunker::set_header`]), each cell typed
    /// by [`csv_cell::cell_value`], as `osprey put` types it.
    ///
    /// # Errors
    /// See [`Chunker::push_json`].
    pub fn push_cells(&mut self, cells: &[&str]) -> Result<Option<RecordBatch>> {
        Ok(self.push_cells_from(cells, None)?.map(|c| c.batch))
    }

    /// Adds one CSV record from `origin` (`None`: its record number).
    ///
    /// # Errors
    /// See [`Chunker::push_json`].
    pub fn push_cells_from(
        &mut self,
        cells: &[&str],
        origin: Option<Origin>,
    ) -> Result<Option<Chunk>> {
        self.line += 1;
        let origin = origin.unwrap_or(Origin::Line(self.line));
        let raw = csv_line(cells);
        let Some(header) = &self.header else {
            return Ok(self.refuse(&raw, origin, "a CSV record before the header".into()));
        };
        if let Err(reason) = csv_cell::check_width(cells.len(), header.len()) {
            return Ok(self.refuse(&raw, origin, reason));
        }
        let fields = header
            .iter()
            .zip(cells)
            .map(|(n, c)| (n.clone(), csv_cell::cell_value(c)))
            .collect();
        self.push_row(Row {
            line: self.line,
            origin,
            raw,
            fields,
        })
    }

    fn refuse(&mut self, raw: &str, origin: Origin, reason: String) -> Option<Chunk> {
        self.bad.push(BadRecord {
            line: self.line,
            origin,
            reason,
            raw: raw.to_owned(),
        });
        None
    }

    /// Refuses `row` for `reason`.
    fn refuse_row(bad: &mut Vec<BadRecord>, row: Row, reason: String) {
        bad.push(BadRecord {
            line: row.line,
            origin: row.origin,
            reason,
            raw: row.raw,
        });
    }

    fn push_row(&mut self, row: Row) -> Result<Option<Chunk>> {
        if row.fields.is_empty()
            && let Some(time) = &self.config.time_field
        {
            // It can never have a time; held back for inference, it would
            // wait for a schema that rows without fields never give.
            let reason = format!("no value for the time field {time:?}");
            Self::refuse_row(&mut self.bad, row, reason);
            return Ok(None);
        }
        if self.building.is_none() {
            self.first_at.get_or_insert_with(Instant::now);
            self.pending_bytes += row.raw.len();
            self.pending.push(row);
            if self.pending.len() < self.config.infer_rows
                && self.pending_bytes < self.config.infer_bytes
            {
                return Ok(None);
            }
            return self.infer_and_replay();
        }
        self.append(row);
        self.full()
    }

    fn full(&mut self) -> Result<Option<Chunk>> {
        match &self.building {
            Some(b) if b.rows >= self.config.max_rows => self.flush_chunk(),
            _ => Ok(None),
        }
    }

    /// Infers the schema from the held-back rows and chunks them.
    fn infer_and_replay(&mut self) -> Result<Option<Chunk>> {
        let mut order: Vec<(String, Seen)> = Vec::new();
        for row in &self.pending {
            for (name, cell) in &row.fields {
                let kind = seen(cell, &self.config.time_format);
                match order.iter_mut().find(|(n, _)| n == name) {
                    Some((_, s)) => *s = s.join(kind),
                    None => order.push((name.clone(), kind)),
                }
            }
        }
        if order.is_empty() {
            // Nothing to infer from yet (no records): stay pending.
            return Ok(None);
        }
        let time = self.config.time_field.clone();
        if let Some(t) = &time
            && !order.iter().any(|(n, _)| n == t)
        {
            // Records without it are refused; later ones may have it.
            order.push((t.clone(), Seen::Null));
        }
        let schema = RecordSchema {
            fields: order
                .into_iter()
                .map(|(name, s)| RecordField {
                    ty: s.field_type(time.as_deref() == Some(name.as_str())),
                    name,
                })
                .collect(),
        };
        tracing::debug!(schema = %schema.to_spec(), "Schema inferred.");
        self.start(schema)?;
        self.pending_bytes = 0;
        let mut out: Option<Chunk> = None;
        for row in std::mem::take(&mut self.pending) {
            self.append(row);
            if let Some(chunk) = self.full()? {
                // max_rows < infer_rows: flush what filled, keep going.
                out = Some(match out.take() {
                    None => chunk,
                    Some(mut prev) => {
                        prev.origins.extend(chunk.origins);
                        prev.raws.extend(chunk.raws);
                        Chunk {
                            batch: concat(prev.batch, chunk.batch)?,
                            ..prev
                        }
                    }
                });
            }
        }
        Ok(out)
    }

    /// Widens column `i` from i64 to f64, the rows built so far included.
    fn widen(b: &mut Building, i: usize) {
        let Column::I64(builder) = &mut b.columns[i] else {
            return;
        };
        let ints = builder.finish();
        let mut floats = Float64Builder::with_capacity(ints.len().max(b.rows));
        for v in ints.iter() {
            floats.append_option(v.map(|v| v as f64));
        }
        b.columns[i] = Column::F64(floats);
        b.schema.fields[i].ty = FieldType::F64;
        b.arrow = b.schema.arrow();
        tracing::debug!(field = %b.schema.fields[i].name, "Field widened from i64 to f64.");
    }

    fn append(&mut self, row: Row) {
        let Some(b) = &mut self.building else { return };
        let inferred = self.config.schema.is_none();
        let mut typed = Vec::with_capacity(b.schema.fields.len());
        for i in 0..b.schema.fields.len() {
            let cell = row
                .fields
                .iter()
                .find(|(n, _)| *n == b.schema.fields[i].name)
                .map(|(_, c)| c);
            if let Some(c) = cell
                && inferred
                && b.schema.fields[i].ty == FieldType::I64
                && seen(c, &self.config.time_format) == Seen::Float
            {
                // An inferred integer column meets a fraction: widen it.
                Self::widen(b, i);
            }
            let field = &b.schema.fields[i];
            let value = match cell {
                None => Typed::Null,
                Some(c) => match coerce(c, field.ty, &self.config.time_format) {
                    Ok(v) => v,
                    Err(reason) => {
                        let reason = format!("field {:?}: {reason}", field.name);
                        Self::refuse_row(&mut self.bad, row, reason);
                        return;
                    }
                },
            };
            if Some(i) == b.time_index && matches!(value, Typed::Null) {
                let reason = format!("no value for the time field {:?}", field.name);
                Self::refuse_row(&mut self.bad, row, reason);
                return;
            }
            typed.push(value);
        }
        for (col, v) in b.columns.iter_mut().zip(typed) {
            col.append(v);
        }
        b.origins.push(row.origin);
        if self.config.keep_raw {
            b.raws.push(row.raw);
        }
        if b.rows == 0 {
            self.first_at = Some(Instant::now());
        }
        b.rows += 1;
    }

    /// Whether [`Chunker::due`] can turn true at all: a latency is set and
    /// rows are waiting. A reader checks it before reading the clock, which
    /// a record at a time cost 4% of reading an NDJSON file.
    pub fn has_deadline(&self) -> bool {
        self.config.max_latency.is_some()
            && self.first_at.is_some()
            && (self.building.as_ref().is_some_and(|b| b.rows > 0) || !self.pending.is_empty())
    }

    /// True when the first buffered row has waited `max_latency` at `now`.
    pub fn due(&self, now: Instant) -> bool {
        let buffered =
            self.building.as_ref().is_some_and(|b| b.rows > 0) || !self.pending.is_empty();
        match (self.config.max_latency, self.first_at) {
            (Some(latency), Some(at)) if buffered => now.duration_since(at) >= latency,
            _ => false,
        }
    }

    /// How long until [`Chunker::due`] turns true, when it will.
    pub fn time_left(&self, now: Instant) -> Option<Duration> {
        let latency = self.config.max_latency?;
        let at = self.first_at?;
        Some(latency.saturating_sub(now.duration_since(at)))
    }

    /// The rows buffered so far as a batch (inferring the schema first when
    /// it is still pending); `None` when there are none.
    ///
    /// # Errors
    /// See [`Chunker::new`]; [`IngestError::Internal`] if Arrow refuses the
    /// columns (a bug).
    pub fn flush(&mut self) -> Result<Option<RecordBatch>> {
        Ok(self.flush_chunk()?.map(|c| c.batch))
    }

    /// The rows buffered so far as a chunk, with their origins; see
    /// [`Chunker::flush`].
    ///
    /// # Errors
    /// See [`Chunker::flush`].
    pub fn flush_chunk(&mut self) -> Result<Option<Chunk>> {
        if self.building.is_none() {
            if self.pending.is_empty() {
                return Ok(None);
            }
            let replayed = self.infer_and_replay()?;
            if replayed.is_some() {
                // Whatever is left after that batch is flushed next time.
                return Ok(replayed);
            }
        }
        let Some(b) = &mut self.building else {
            return Ok(None);
        };
        self.first_at = None;
        if b.rows == 0 {
            return Ok(None);
        }
        b.rows = 0;
        let columns: Vec<ArrayRef> = b.columns.iter_mut().map(Column::finish).collect();
        let batch = RecordBatch::try_new(Arc::clone(&b.arrow), columns)
            .map_err(|e| IngestError::Internal(format!("cannot build a batch: {e}")))?;
        Ok(Some(Chunk {
            batch,
            origins: std::mem::take(&mut b.origins),
            raws: std::mem::take(&mut b.raws),
        }))
    }

    /// The records refused since the last call.
    pub fn take_bad(&mut self) -> Vec<BadRecord> {
        std::mem::take(&mut self.bad)
    }
}

/// Two batches as one; the first is cast to the second's schema when a
/// column was widened between them.
fn concat(prev: RecordBatch, next: RecordBatch) -> Result<RecordBatch> {
    let internal = |e: arrow::error::ArrowError| IngestError::Internal(e.to_string());
    let prev = if prev.schema() == next.schema() {
        prev
    } else {
        let columns = prev
            .columns()
            .iter()
            .zip(next.schema().fields())
            .map(|(c, f)| arrow::compute::cast(c, f.data_type()))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(internal)?;
        RecordBatch::try_new(next.schema(), columns).map_err(internal)?
    };
    arrow::compute::concat_batches(&next.schema(), &[prev, next]).map_err(internal)
}

/// CSV cells as one CSV line, quoted where they need it, so a refused
/// record can be read again.
fn csv_line(cells: &[&str]) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    if w.write_record(cells).is_err() {
        return cells.join(",");
    }
    match w.into_inner() {
        Ok(mut bytes) => {
            if bytes.last() == Some(&b'\n') {
                bytes.pop();
            }
            String::from_utf8(bytes).unwrap_or_else(|_| cells.join(","))
        }
        Err(_) => cells.join(","),
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Float64Type, TimestampMicrosecondType};

    use super::*;

    fn config(schema: Option<&str>, max_rows: usize) -> ChunkConfig {
        ChunkConfig {
            schema: schema.map(|s| RecordSchema::parse(s).unwrap()),
            time_field: Some("ts".into()),
            max_rows,
            infer_rows: 3,
            ..ChunkConfig::default()
        }
    }

    #[test]
    fn declared_schema_batches_by_rows() {
        let mut c = Chunker::new(config(Some("ts:timestamp,sensor:string,temp:f64"), 2)).unwrap();
        assert!(
            c.push_json(r#"{"ts":"2025-12-01T17:00:00Z","sensor":"a","temp":1.5}"#)
                .unwrap()
                .is_none()
        );
        let b = c
            .push_json(r#"{"ts":1764608401,"sensor":"b","temp":null,"extra":1}"#)
            .unwrap()
            .expect("two rows fill a batch");
        assert_eq!(b.num_rows(), 2);
        let ts = b.column(0).as_primitive::<TimestampMicrosecondType>();
        assert_eq!(ts.value(1) - ts.value(0), 1_000_000);
        let temp = b.column(2).as_primitive::<Float64Type>();
        assert_eq!(temp.value(0), 1.5);
        assert!(temp.is_null(1));
        assert!(c.flush().unwrap().is_none());
    }

    #[test]
    fn bad_rows_go_to_the_error_output() {
        let mut c = Chunker::new(config(Some("ts:timestamp,temp:f64"), 100)).unwrap();
        c.push_json(r#"{"ts":1,"temp":"warm"}"#).unwrap();
        c.push_json("not json").unwrap();
        c.push_json(r#"{"temp":1}"#).unwrap();
        c.push_json("[1]").unwrap();
        c.push_json("").unwrap();
        c.push_json(r#"{"ts":"2025-13-01T00:00:00Z","temp":1}"#)
            .unwrap();
        c.push_json(r#"{"ts":2,"temp":"NaN"}"#).unwrap();
        let bad = c.take_bad();
        let lines: Vec<u64> = bad.iter().map(|b| b.line).collect();
        assert_eq!(lines, [1, 2, 3, 4, 6]);
        assert!(bad[0].reason.contains("\"temp\""), "{}", bad[0].reason);
        assert!(bad[2].reason.contains("time field"), "{}", bad[2].reason);
        let b = c.flush().unwrap().unwrap();
        assert_eq!(b.num_rows(), 1);
        assert!(b.column(1).as_primitive::<Float64Type>().value(0).is_nan());
    }

    #[test]
    fn infers_from_the_first_records() {
        let mut c = Chunker::new(config(None, 100)).unwrap();
        c.push_json(r#"{"ts":1764608400,"sensor":"a","n":1,"m":{"ratio":1}}"#)
            .unwrap();
        c.push_json(r#"{"ts":1764608401,"sensor":"b","n":2,"m":{"ratio":0.5}}"#)
            .unwrap();
        assert!(c.schema().is_none());
        c.push_json(r#"{"ts":1764608402,"sensor":"c","n":3,"m":{"ratio":null}}"#)
            .unwrap();
        let schema = c.schema().unwrap().to_spec();
        assert_eq!(schema, "m.ratio:f64,n:i64,sensor:string,ts:timestamp");
        c.push_json(r#"{"ts":1764608403,"sensor":"d","n":4.5}"#)
            .unwrap();
        let b = c.flush().unwrap().unwrap();
        assert_eq!(b.num_rows(), 4);
        assert!(c.take_bad().is_empty(), "n widens to f64 for 4.5");
        assert_eq!(c.schema().unwrap().fields[1].ty, FieldType::F64);
    }

    #[test]
    fn csv_cells_and_latency() {
        let mut cfg = config(None, 100);
        cfg.max_latency = Some(Duration::from_millis(0));
        cfg.time_format = "%Y/%m/%d %H:%M".parse().unwrap();
        let mut c = Chunker::new(cfg).unwrap();
        c.set_header(vec!["ts".into(), "sensor".into(), "temp".into()]);
        c.push_cells(&["2025/12/01 17:00", "a", "1"]).unwrap();
        c.push_cells(&["2025/12/01 17:01", "b", ""]).unwrap();
        c.push_cells(&["2025/12/01 17:02", "b"]).unwrap();
        assert!(c.due(Instant::now()));
        let b = c.flush().unwrap().unwrap();
        assert_eq!(b.num_rows(), 2);
        assert_eq!(
            c.schema().unwrap().to_spec(),
            "ts:timestamp,sensor:string,temp:i64"
        );
        assert!(b.column(2).is_null(1));
        assert_eq!(c.take_bad()[0].line, 3);
        assert!(!c.due(Instant::now()));
    }

    #[test]
    fn records_without_fields_are_refused_not_held() {
        let mut c = Chunker::new(config(None, 10)).unwrap();
        assert!(c.push_json("{}").unwrap().is_none());
        assert!(c.push_json("{\"nested\":{}}").unwrap().is_none());
        assert!(c.flush().unwrap().is_none());
        let bad = c.take_bad();
        assert_eq!(bad.iter().map(|b| b.line).collect::<Vec<_>>(), [1, 2]);
        assert!(
            bad[0].reason.contains("no value for the time field"),
            "{bad:?}"
        );
        c.push_json(r#"{"ts":1,"v":2}"#).unwrap();
        assert_eq!(c.flush().unwrap().unwrap().num_rows(), 1);
    }

    #[test]
    fn an_inferred_integer_widens_and_a_late_time_field_is_found() {
        let mut cfg = config(None, 100);
        cfg.keep_raw = true;
        let mut c = Chunker::new(cfg).unwrap();
        c.push_json(r#"{"hello":1}"#).unwrap();
        c.push_json(r#"{"hello":2}"#).unwrap();
        c.push_json(r#"{"ts":1,"n":1}"#).unwrap();
        assert_eq!(
            c.schema().unwrap().to_spec(),
            "hello:i64,n:i64,ts:timestamp"
        );
        c.push_json(r#"{"ts":2, "n":2.5}"#).unwrap();
        let chunk = c.flush_chunk().unwrap().unwrap();
        assert_eq!(c.schema().unwrap().fields[1].ty, FieldType::F64);
        let n = chunk.batch.column(1).as_primitive::<Float64Type>();
        assert_eq!((n.value(0), n.value(1)), (1.0, 2.5));
        assert_eq!(chunk.raws, [r#"{"ts":1,"n":1}"#, r#"{"ts":2, "n":2.5}"#]);
        assert_eq!(chunk.origins, [Origin::Line(3), Origin::Line(4)]);
        assert_eq!(c.take_bad().len(), 2, "no time in the hello records");
    }

    #[test]
    fn inference_decides_at_infer_bytes() {
        let mut cfg = config(None, 100);
        cfg.infer_rows = 1000;
        cfg.infer_bytes = 20;
        let mut c = Chunker::new(cfg).unwrap();
        c.push_json(r#"{"ts":1,"v":1}"#).unwrap();
        assert!(c.schema().is_none());
        c.push_json(r#"{"ts":2,"v":2}"#).unwrap();
        assert!(c.schema().is_some());
    }

    /// A CSV row chunks exactly as the JSON record `osprey put` makes of it.
    #[test]
    fn a_csv_row_chunks_as_the_record_put_makes_of_it() {
        let names = ["ts", " code", "qty", "pad", "note", "ok", "big", "code"];
        let rows = [
            [
                "1",
                "007",
                "1e3",
                " 12 ",
                "",
                "true",
                "9007199254740993",
                "x",
            ],
            ["2", "8", "2.5", "3", "n", "FALSE", "1", ""],
        ];
        let mut from_csv = Chunker::new(config(None, 10)).unwrap();
        from_csv.set_header(names.iter().map(|n| (*n).to_owned()).collect());
        let mut from_json = Chunker::new(config(None, 10)).unwrap();
        let codec = crate::codec::lines::LineCodec {
            key_field: None,
            key: Some("k".into()),
            id_field: None,
        };
        let header = csv_cell::header_names(names);
        for row in rows {
            from_csv.push_cells(&row).unwrap();
            let record = codec
                .csv_row(&header, &csv::ByteRecord::from(row.to_vec()), 2)
                .unwrap();
            from_json
                .push_json(std::str::from_utf8(&record.data).unwrap())
                .unwrap();
        }
        let a = from_csv.flush().unwrap().unwrap();
        let b = from_json.flush().unwrap().unwrap();
        assert_eq!(
            from_csv.schema().unwrap().to_spec(),
            "ts:timestamp,code:string,qty:f64,pad:i64,note:string,ok:bool,big:i64,code_1:string"
        );
        // A JSON record's fields come in name order; the values are the same.
        for (i, field) in a.schema().fields().iter().enumerate() {
            let of_json = b.column_by_name(field.name()).unwrap();
            assert_eq!(a.column(i), of_json, "{}", field.name());
        }
        assert_eq!(a.column(1).as_string::<i32>().value(1), "8");
        assert!(a.column(4).is_null(0));
        assert!(a.column(7).is_null(1));
        assert_eq!(
            a.column(6)
                .as_primitive::<arrow::datatypes::Int64Type>()
                .value(0),
            9_007_199_254_740_993
        );
    }

    #[test]
    fn refused_csv_records_are_csv_lines() {
        let mut c = Chunker::new(config(Some("ts:timestamp,note:string"), 10)).unwrap();
        c.set_header(vec!["ts".into(), "note".into()]);
        c.push_cells(&["x", "a,\"b\""]).unwrap();
        assert_eq!(c.take_bad()[0].raw, r#"x,"a,""b""""#);
    }

    #[test]
    fn time_field_must_be_a_timestamp() {
        let err = Chunker::new(config(Some("ts:f64"), 1))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not timestamp"), "{err}");
        let err = Chunker::new(config(Some("t:timestamp"), 1))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not in the schema"), "{err}");
    }

    #[test]
    fn rows_and_refused_records_keep_their_origins() {
        let stream = |seq: u64| Origin::Stream {
            shard: "shardId-000000000000".into(),
            seq,
        };
        let mut cfg = config(None, 3);
        cfg.infer_rows = 4;
        cfg.keep_raw = true;
        let mut c = Chunker::new(cfg).unwrap();
        let records = [
            r#"{"ts":1,"v":1}"#,
            "",
            r#"{"ts":"x","v":2}"#,
            r#"{"ts":3,"v":3}"#,
            "nope",
            r#"{"ts":4,"v":4}"#,
            r#"{"ts":5,"v":5}"#,
        ];
        let mut chunks = Vec::new();
        for (seq, r) in records.iter().enumerate() {
            chunks.extend(c.push_json_from(r, Some(stream(seq as u64))).unwrap());
        }
        chunks.extend(c.flush_chunk().unwrap());
        let origins: Vec<Origin> = chunks.iter().flat_map(|c| c.origins.clone()).collect();
        // The schema is inferred from the first four records (seq 0, 2, 3, 5):
        // "x" is no time then, and is refused as the others are chunked.
        assert_eq!(origins, [stream(0), stream(3), stream(5), stream(6)]);
        for chunk in &chunks {
            assert_eq!(chunk.origins.len(), chunk.batch.num_rows());
            assert_eq!(chunk.raws.len(), chunk.batch.num_rows());
        }
        let bad: Vec<(u64, Origin)> = c
            .take_bad()
            .into_iter()
            .map(|b| (b.line, b.origin))
            .collect();
        assert_eq!(bad, [(5, stream(4)), (3, stream(2))]);
        // Without an origin, a record's is its line.
        c.push_json("[]").unwrap();
        assert_eq!(c.take_bad()[0].origin, Origin::Line(8));
    }
}
