//! Where result rows go: NDJSON lines written as windows close (to any
//! writer: stdout, a file; or, one record a row, to a stream of the store),
//! one Parquet or Arrow IPC file written at the end, or memory, for a caller
//! that wants the typed rows themselves.
//!
//! A row put into a stream goes under its key columns' values joined with
//! `/` (strings as they are, other values as their JSON, a null as
//! nothing), cut to the store's 256 characters; a row whose key columns
//! are all null goes under the fallback key. The key is made from the
//! row's typed cells as the row is written, not parsed back out of its line.
//!
//! A result row holds `window_start` and `window_end` (RFC 3339, UTC), the
//! keys and the aggregates, named as the plan says. Counts are integers;
//! NaN and infinities, which JSON lacks, are written as the strings `"NaN"`,
//! `"Infinity"` and `"-Infinity"`; an aggregate over no values is `null`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use osprey_ingest::IngestError;
use osprey_ingest::sink::StreamRecords;
use osprey_ingest::sink::stream::{KEY_SEPARATOR, MAX_KEY_CHARS};
use osprey_kernels::window::acc::AggValue;
use osprey_kernels::window::keys::KeyValue;
use serde_json::Value;
use serde_json::ser::{CompactFormatter, Formatter as _};

use crate::cells::{Cell, CellRef, float_json, key_json, rfc3339};
use crate::error::{QueryError, Result};

/// NDJSON result rows, each written straight into a reused line buffer:
/// no `serde_json::Value`s, no per-row allocation. The bytes are those
/// serde_json writes for the same row (its escaping, its `ryu` floats and
/// `itoa` integers, through its own formatter), field by field in the
/// plan's order.
pub struct NdjsonRows {
    out: RowsOut,
    /// The line being built.
    line: Vec<u8>,
    /// Each column's name as a JSON string followed by `:`.
    keys: Vec<Box<[u8]>>,
    /// The last two window bounds and their text as JSON strings: bounds
    /// repeat row after row, so each is formatted once.
    times: [(i64, Vec<u8>); 2],
}

/// Where NDJSON rows go.
enum RowsOut {
    /// A writer, through a 64 KiB buffer.
    Writer(BufWriter<Box<dyn Write>>),
    /// A stream, one record a row under its key (boxed: a store is large).
    Stream(Box<KeyedRecords>),
}

/// Rows into a stream, each under the values of its key columns.
struct KeyedRecords {
    records: StreamRecords,
    /// Per column, whether it is a key column.
    is_key: Vec<bool>,
    /// The key of a row whose key columns are all null.
    fallback: String,
    /// The key being built.
    key: String,
    /// Key columns seen in the row being built, and whether one was not null.
    seen: usize,
    found: bool,
}

impl KeyedRecords {
    /// Adds key column `cell` to the key being built.
    fn add(&mut self, cell: CellRef<'_>) {
        if self.seen > 0 {
            self.key.push(KEY_SEPARATOR);
        }
        self.seen += 1;
        let text = match cell {
            CellRef::Key(KeyValue::Null) | CellRef::Agg(AggValue::Null) => return,
            CellRef::Time(us) => rfc3339(us),
            CellRef::Key(KeyValue::Str(s)) => s.to_string(),
            CellRef::Key(KeyValue::Int(i)) => i.to_string(),
            CellRef::Agg(AggValue::Int(i)) => i.to_string(),
            CellRef::Key(KeyValue::Bool(b)) => b.to_string(),
            CellRef::Key(KeyValue::Float(bits)) => float_text(f64::from_bits(*bits)),
            CellRef::Agg(AggValue::Float(v)) => float_text(v),
        };
        self.key.push_str(&text);
        self.found = true;
    }

    /// Puts `data` under the key built, and starts the next.
    fn push(&mut self, data: Vec<u8>) {
        let key: String = self.key.chars().take(MAX_KEY_CHARS).collect();
        let key = if self.found && !key.is_empty() {
            key
        } else {
            self.fallback.clone()
        };
        self.records.push(key, data);
        self.key.clear();
        self.seen = 0;
        self.found = false;
    }
}

/// A float as its JSON reads: a number, or `NaN`, `Infinity`, `-Infinity`.
fn float_text(v: f64) -> String {
    match float_json(v) {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

impl NdjsonRows {
    /// Rows with the columns `names`, to `out`, through a 64 KiB buffer.
    pub fn new(out: Box<dyn Write>, names: &[String]) -> Self {
        Self::with_out(
            RowsOut::Writer(BufWriter::with_capacity(64 * 1024, out)),
            names,
        )
    }

    fn with_out(out: RowsOut, names: &[String]) -> Self {
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
            out,
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
            ..
        } = self;
        line.clear();
        format_line(line, keys, times, |c| {
            let cell = cell(c);
            if let RowsOut::Stream(s) = out
                && s.is_key[c]
            {
                s.add(cell);
            }
            cell
        });
        match out {
            RowsOut::Writer(w) => {
                line.push(b'\n');
                w.write_all(line).map_err(IngestError::from)?;
            }
            RowsOut::Stream(s) => s.push(line.clone()),
        }
        Ok(())
    }

    /// Writes `rows` rows, cell `(r, c)` being `cell(r, c)`: to a writer,
    /// many rows are formatted on several threads, in runs of
    /// [`JOB_ROWS`] rows the threads take in turn, and the runs are
    /// written in order as they are done ([`write_in_order`]), so the
    /// bytes are those of one row at a time and the text in memory stays
    /// a few buffers whatever the number of rows.
    fn write_rows<'a>(
        &mut self,
        rows: usize,
        cell: &(impl Fn(usize, usize) -> CellRef<'a> + Sync),
    ) -> Result<()> {
        let threads = std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .min(rows / PARALLEL_ROWS)
            .min(MAX_FORMAT_THREADS);
        let w = match &mut self.out {
            RowsOut::Writer(w) if threads >= 2 => w,
            _ => return (0..rows).try_for_each(|r| self.write(|c| cell(r, c))),
        };
        let keys = &self.keys;
        let format = |run: std::ops::Range<usize>, text: &mut Vec<u8>| {
            let mut times = [(i64::MIN, Vec::new()), (i64::MIN, Vec::new())];
            for r in run {
                format_line(text, keys, &mut times, |c| cell(r, c));
                text.push(b'\n');
            }
        };
        write_in_order(rows, threads, &format, |text| {
            w.write_all(text).map_err(IngestError::from)
        })
    }

    /// Pushes buffered rows to the output and flushes it: a stream's rows
    /// since the last flush are put as one batch.
    fn flush(&mut self) -> Result<()> {
        match &mut self.out {
            RowsOut::Writer(w) => w.flush(),
            RowsOut::Stream(s) => s.records.flush(),
        }
        .map_err(IngestError::from)?;
        Ok(())
    }
}

/// Rows below which [`NdjsonRows::write_rows`] formats on one thread, per
/// thread: a thread costs about as much as formatting a few thousand rows.
const PARALLEL_ROWS: usize = 8192;

/// Threads [`NdjsonRows::write_rows`] formats on at most.
const MAX_FORMAT_THREADS: usize = 8;

/// Rows a formatting thread takes at a time: about 1.5 MB of text at 350
/// bytes a row, so the buffers in flight stay in cache on their way to the
/// output.
const JOB_ROWS: usize = 4096;

/// Buffers each formatting thread has: one being filled while the other
/// waits to be written.
const BUFFERS_PER_THREAD: usize = 2;

/// Formats rows `0..rows` on `threads` threads, [`JOB_ROWS`] at a time
/// (`format(run, text)` appends the text of the rows of `run`), and hands
/// each run's text to `write` in row order, on the calling thread.
///
/// Each thread takes a free buffer of its own before it takes the next
/// run, so the earliest run not yet written always has a buffer and is
/// being formatted: the writer never waits on a run that cannot finish.
/// When `write` fails or a run's formatting panics, the buffers stop coming
/// back, the threads stop, and the error is returned.
fn write_in_order(
    rows: usize,
    threads: usize,
    format: &(impl Fn(std::ops::Range<usize>, &mut Vec<u8>) + Sync),
    mut write: impl FnMut(&[u8]) -> std::result::Result<(), IngestError>,
) -> Result<()> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc::{Sender, channel};
    let runs = rows.div_ceil(JOB_ROWS);
    let next = AtomicUsize::new(0);
    let (done_tx, done) = channel::<(usize, usize, Option<Vec<u8>>)>();
    std::thread::scope(|scope| {
        let mut returns: Vec<Sender<Vec<u8>>> = Vec::with_capacity(threads);
        let mut handles = Vec::with_capacity(threads);
        for t in 0..threads {
            let (back, free) = channel::<Vec<u8>>();
            for _ in 0..BUFFERS_PER_THREAD {
                // A receiver outlives this send: it is in the thread below.
                back.send(Vec::new()).ok();
            }
            returns.push(back);
            let (done_tx, next) = (done_tx.clone(), &next);
            handles.push(scope.spawn(move || {
                while let Ok(mut text) = free.recv() {
                    let run = next.fetch_add(1, Ordering::Relaxed);
                    if run >= runs {
                        break;
                    }
                    text.clear();
                    let span = run * JOB_ROWS..((run + 1) * JOB_ROWS).min(rows);
                    // A panic is reported as the run's, so the writer does
                    // not wait for it.
                    let text = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        format(span, &mut text);
                        text
                    }))
                    .ok();
                    if done_tx.send((run, t, text)).is_err() {
                        break;
                    }
                }
            }));
        }
        drop(done_tx);
        // Runs done out of order wait here for the ones before them.
        let mut waiting = std::collections::BTreeMap::new();
        let mut written = 0;
        let mut result = Ok(());
        while written < runs {
            let Ok((run, t, Some(text))) = done.recv() else {
                result = Err(QueryError::Usage(
                    "a thread formatting result rows panicked".into(),
                ));
                break;
            };
            waiting.insert(run, (t, text));
            while let Some((t, text)) = waiting.remove(&written) {
                if let Err(e) = write(&text) {
                    result = Err(e.into());
                    break;
                }
                written += 1;
                // The thread may be done: then the buffer is dropped.
                returns[t].send(text).ok();
            }
            if result.is_err() {
                break;
            }
        }
        // No buffer comes back now: every thread stops at its next run.
        drop(returns);
        next.store(runs, Ordering::Relaxed);
        let joined = handles.into_iter().all(|h| h.join().is_ok());
        match result {
            Ok(()) if !joined => Err(QueryError::Usage(
                "a thread formatting result rows panicked".into(),
            )),
            r => r,
        }
    })
}

/// Appends the JSON object of the row whose column `c` is `cell(c)`, its
/// fields named by `keys` (each a JSON string and `:`), window bounds
/// through `times`.
fn format_line<'a>(
    line: &mut Vec<u8>,
    keys: &[Box<[u8]>],
    times: &mut [(i64, Vec<u8>); 2],
    mut cell: impl FnMut(usize) -> CellRef<'a>,
) {
    line.push(b'{');
    // The last float written, and where its text is: a group of one row
    // has sum, min, max and avg all one value, written once and copied.
    let mut last: Option<(u64, std::ops::Range<usize>)> = None;
    for (c, key) in keys.iter().enumerate() {
        if c > 0 {
            line.push(b',');
        }
        line.extend_from_slice(key);
        match cell(c) {
            CellRef::Time(us) => line.extend_from_slice(time_json(times, us)),
            CellRef::Key(k) => key_bytes(line, k),
            CellRef::Agg(AggValue::Int(i)) => num(line, |f, w| f.write_u64(w, i)),
            CellRef::Agg(AggValue::Float(v)) => match &last {
                Some((bits, text)) if *bits == v.to_bits() => line.extend_from_within(text.clone()),
                _ => {
                    let start = line.len();
                    float_bytes(line, v);
                    last = Some((v.to_bits(), start..line.len()));
                }
            },
            CellRef::Agg(AggValue::Null) => line.extend_from_slice(b"null"),
        }
    }
    line.push(b'}');
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

/// The formats of a result file written at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    /// An Apache Parquet file.
    Parquet,
    /// An Arrow IPC file.
    Arrow,
}

/// Where result rows go.
pub enum ResultSink {
    /// NDJSON, row by row.
    Ndjson(NdjsonRows),
    /// Parquet or Arrow IPC, written at the end.
    File {
        /// Parquet or Arrow.
        format: TableFormat,
        /// The file.
        file: File,
        /// Column names.
        names: Vec<String>,
        /// Rows so far.
        rows: Vec<Vec<Cell>>,
    },
    /// Typed rows kept in memory, handed back by [`ResultSink::finish`].
    Memory(Vec<Vec<Cell>>),
}

impl std::fmt::Debug for ResultSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResultSink::Ndjson(_) => f.write_str("ResultSink::Ndjson"),
            ResultSink::File { format, names, .. } => f
                .debug_struct("ResultSink::File")
                .field("format", format)
                .field("names", names)
                .finish_non_exhaustive(),
            ResultSink::Memory(rows) => f
                .debug_tuple("ResultSink::Memory")
                .field(&rows.len())
                .finish(),
        }
    }
}

impl ResultSink {
    /// NDJSON rows with the columns `names` to `out`, through a 64 KiB buffer.
    pub fn ndjson(out: Box<dyn Write>, names: &[String]) -> Self {
        ResultSink::Ndjson(NdjsonRows::new(out, names))
    }

    /// NDJSON rows with the columns `names` into a stream, one record a row,
    /// each under the values of its columns `key_columns` (see the module
    /// docs), `fallback` when they are all null.
    pub fn stream(
        records: StreamRecords,
        names: &[String],
        key_columns: &[String],
        fallback: &str,
    ) -> Self {
        let keyed = KeyedRecords {
            records,
            is_key: names.iter().map(|n| key_columns.contains(n)).collect(),
            fallback: fallback.to_owned(),
            key: String::new(),
            seen: 0,
            found: false,
        };
        ResultSink::Ndjson(NdjsonRows::with_out(
            RowsOut::Stream(Box::new(keyed)),
            names,
        ))
    }

    /// One `format` file with the columns `names`, written by [`ResultSink::finish`].
    pub fn table(format: TableFormat, file: File, names: &[String]) -> Self {
        ResultSink::File {
            format,
            file,
            names: names.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Rows kept in memory.
    pub fn memory() -> Self {
        ResultSink::Memory(Vec::new())
    }

    /// Writes one row, its cells in the order of the columns.
    ///
    /// # Errors
    /// When the output cannot be written.
    pub fn write(&mut self, row: Vec<Cell>) -> Result<()> {
        match self {
            ResultSink::Ndjson(rows) => rows.write(|c| CellRef::from(&row[c]))?,
            ResultSink::File { rows, .. } | ResultSink::Memory(rows) => rows.push(row),
        }
        Ok(())
    }

    /// Writes `rows` rows whose cell `(r, c)` is `cell(r, c)`: NDJSON
    /// straight from the borrowed cells, without building a row; many rows
    /// to a writer are formatted on several threads.
    ///
    /// # Errors
    /// When the output cannot be written.
    pub fn write_rows<'a>(
        &mut self,
        rows: usize,
        columns: usize,
        cell: impl Fn(usize, usize) -> CellRef<'a> + Sync,
    ) -> Result<()> {
        match self {
            ResultSink::Ndjson(out) => out.write_rows(rows, &cell)?,
            ResultSink::File { rows: kept, .. } | ResultSink::Memory(kept) => {
                kept.extend(
                    (0..rows).map(|r| (0..columns).map(|c| Cell::from(cell(r, c))).collect()),
                );
            }
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

    /// Finishes the output; returns the rows of a memory sink (none for the others).
    ///
    /// # Errors
    /// When the output cannot be written.
    pub fn finish(self) -> Result<Vec<Vec<Cell>>> {
        match self {
            ResultSink::Ndjson(mut rows) => rows.flush()?,
            ResultSink::Memory(rows) => return Ok(rows),
            ResultSink::File {
                format,
                file,
                names,
                rows,
            } => {
                let batch = to_batch(&names, &rows)?;
                match format {
                    TableFormat::Parquet => {
                        write_parquet(file, &batch).map_err(|e| QueryError::ResultFile {
                            what: "cannot write parquet",
                            source: Box::new(e),
                        })?
                    }
                    TableFormat::Arrow => {
                        write_arrow(file, &batch).map_err(|e| QueryError::ResultFile {
                            what: "cannot write arrow",
                            source: Box::new(e),
                        })?
                    }
                }
            }
        }
        Ok(Vec::new())
    }
}

fn write_parquet(file: File, batch: &RecordBatch) -> parquet::errors::Result<()> {
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None)?;
    w.write(batch)?;
    w.close()?;
    Ok(())
}

fn write_arrow(file: File, batch: &RecordBatch) -> arrow::error::Result<()> {
    let mut w = arrow::ipc::writer::FileWriter::try_new(file, &batch.schema())?;
    w.write(batch)?;
    w.finish()
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
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|source| {
        QueryError::ArrowStep {
            what: "cannot build the result batch",
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;
    use crate::cells::float_json;

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
        let names: Vec<String> = [
            "window_start",
            "window_end",
            "k\"ey",
            "n",
            "f",
            "f_again",
            "g",
            "f_after_g",
            "none",
        ]
        .map(String::from)
        .to_vec();
        let out = Shared::default();
        let mut sink = ResultSink::ndjson(Box::new(out.clone()), &names);
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
                    // The same float again (copied), another, then the first.
                    Cell::Agg(AggValue::Float(*f)),
                    Cell::Agg(AggValue::Float(floats[(j + 1) % floats.len()])),
                    Cell::Agg(AggValue::Float(*f)),
                    Cell::Agg(AggValue::Null),
                ];
                expected.push_str(&by_value(&names, &row));
                if j % 2 == 0 {
                    sink.write(row).unwrap();
                } else {
                    sink.write_rows(1, row.len(), |_, c| CellRef::from(&row[c]))
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
    fn rows_formatted_on_several_threads_are_the_bytes_of_one_at_a_time() {
        let names: Vec<String> = ["window_start", "window_end", "sensor", "n", "avg"]
            .map(String::from)
            .to_vec();
        let keys: Vec<KeyValue> = (0..997)
            .map(|k| KeyValue::Str(format!("s\"{k}").into()))
            .collect();
        let rows = 4 * PARALLEL_ROWS + 123;
        let cell = |r: usize, c: usize| match c {
            // Window bounds change every 1000 rows, across the threads' runs.
            0 => CellRef::Time((r / 1000) as i64 * 60_000_000),
            1 => CellRef::Time((r / 1000 + 1) as i64 * 60_000_000),
            2 => CellRef::Key(&keys[r % keys.len()]),
            3 => CellRef::Agg(AggValue::Int(r as u64)),
            _ => CellRef::Agg(AggValue::Float(r as f64 / 7.0 - 100.0)),
        };
        let (one, many) = (Shared::default(), Shared::default());
        let mut sink = ResultSink::ndjson(Box::new(one.clone()), &names);
        for r in 0..rows {
            sink.write_rows(1, names.len(), |_, c| cell(r, c)).unwrap();
        }
        sink.finish().unwrap();
        let mut sink = ResultSink::ndjson(Box::new(many.clone()), &names);
        // Twice, the first call's last run a short one.
        sink.write_rows(rows / 2, names.len(), cell).unwrap();
        sink.write_rows(rows - rows / 2, names.len(), |r, c| cell(r + rows / 2, c))
            .unwrap();
        sink.finish().unwrap();
        let (one, many) = (one.0.take(), many.0.take());
        assert_eq!(one.iter().filter(|&&b| b == b'\n').count(), rows);
        assert!(one == many, "the threads' bytes differ");
    }

    /// A writer that takes `left` bytes, then fails.
    struct Full {
        left: usize,
    }

    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.left == 0 {
                return Err(std::io::Error::other("disk full"));
            }
            let n = buf.len().min(self.left);
            self.left -= n;
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failing_output_stops_the_formatting_threads_with_its_error() {
        let names: Vec<String> = ["n"].map(String::from).to_vec();
        let rows = 64 * JOB_ROWS;
        let cell = |r: usize, _| CellRef::Agg(AggValue::Int(r as u64));
        // Full before the first run is written, and in the middle.
        for left in [0, 20 * JOB_ROWS] {
            let mut sink = ResultSink::ndjson(Box::new(Full { left }), &names);
            let err = sink.write_rows(rows, names.len(), cell).unwrap_err();
            assert!(format!("{err:?}").contains("disk full"), "{err:?}");
        }
    }

    #[test]
    fn a_panic_while_formatting_is_an_error_not_a_hang() {
        let names: Vec<String> = ["n"].map(String::from).to_vec();
        let rows = 64 * JOB_ROWS;
        let out = Shared::default();
        let mut sink = ResultSink::ndjson(Box::new(out.clone()), &names);
        let err = sink
            .write_rows(rows, names.len(), |r, _| {
                assert!(r != 5 * JOB_ROWS + 7, "a bad row");
                CellRef::Agg(AggValue::Int(r as u64))
            })
            .unwrap_err();
        assert!(err.to_string().contains("panicked"), "{err}");
        // What was written is whole runs before the failed one, in order.
        let text = String::from_utf8(out.0.take()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() <= 5 * JOB_ROWS);
        for (r, line) in lines.iter().enumerate() {
            assert_eq!(*line, format!("{{\"n\":{r}}}"));
        }
    }

    #[test]
    fn a_row_without_columns_is_an_empty_object() {
        let out = Shared::default();
        let mut sink = ResultSink::ndjson(Box::new(out.clone()), &[]);
        sink.write(Vec::new()).unwrap();
        sink.finish().unwrap();
        assert_eq!(out.0.take(), b"{}\n");
    }
}

#[cfg(test)]
mod memory_tests {
    use super::*;

    #[test]
    fn a_memory_sink_hands_back_typed_rows() {
        let mut sink = ResultSink::memory();
        sink.write(vec![Cell::Time(1), Cell::Agg(AggValue::Int(2))])
            .unwrap();
        let key = KeyValue::Int(3);
        sink.write_rows(1, 2, |_, c| {
            if c == 0 {
                CellRef::Key(&key)
            } else {
                CellRef::Agg(AggValue::Null)
            }
        })
        .unwrap();
        sink.flush().unwrap();
        assert_eq!(
            sink.finish().unwrap(),
            [
                vec![Cell::Time(1), Cell::Agg(AggValue::Int(2))],
                vec![Cell::Key(KeyValue::Int(3)), Cell::Agg(AggValue::Null)],
            ]
        );
    }
}

#[cfg(test)]
mod stream_tests {
    use osprey_ingest::Store;
    use osprey_ingest::store::{StartingPosition, StoreConfig, StreamOptions, StreamReader};

    use super::*;

    #[test]
    fn rows_go_into_a_stream_under_their_typed_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
        let options = StreamOptions {
            shards: 4,
            ..StreamOptions::default()
        };
        store.create_stream("out", options).unwrap();
        let names: Vec<String> = ["window_start", "sensor", "zone", "n"]
            .map(String::from)
            .to_vec();
        let keys = ["sensor".to_owned(), "zone".to_owned()];
        let records = StreamRecords::new(store, "out").unwrap();
        let mut sink = ResultSink::stream(records, &names, &keys, "rows");
        let long = KeyValue::Str("x".repeat(300).into());
        let rows = [
            (KeyValue::Str("s1".into()), KeyValue::Int(3), "s1/3"),
            (KeyValue::Str("s1".into()), KeyValue::Null, "s1/"),
            (KeyValue::Null, KeyValue::Null, "rows"),
            (KeyValue::Str("".into()), KeyValue::Null, "rows"),
            (KeyValue::Null, KeyValue::Float(f64::NAN.to_bits()), "/NaN"),
            (
                KeyValue::Bool(true),
                KeyValue::Float(2.5f64.to_bits()),
                "true/2.5",
            ),
            (long.clone(), KeyValue::Null, &"x".repeat(256)[..]),
        ];
        for (a, b, _) in &rows {
            let cells = [
                Cell::Time(60_000_000),
                Cell::Key(a.clone()),
                Cell::Key(b.clone()),
                Cell::Agg(AggValue::Int(1)),
            ];
            sink.write_rows(1, 4, |_, c| CellRef::from(&cells[c]))
                .unwrap();
        }
        sink.flush().unwrap();
        let store = Store::open_read_only(dir.path()).unwrap();
        let mut reader =
            StreamReader::new(&store, "out", StartingPosition::TrimHorizon, None).unwrap();
        let got: Vec<(String, Vec<u8>)> = reader
            .poll(&store, 100, 1 << 20)
            .unwrap()
            .into_iter()
            .map(|(_, r)| (r.partition_key, r.data))
            .collect();
        assert_eq!(got.len(), rows.len());
        for (_, _, key) in &rows {
            let (_, data) = got
                .iter()
                .find(|(k, _)| k == key)
                .unwrap_or_else(|| panic!("no record under {key:?}: {got:?}"));
            assert!(data.starts_with(b"{\"window_start\":\"1970-01-01T00:01:00Z\""));
            assert!(!data.ends_with(b"\n"), "one row a record, no newline");
        }
    }
}
