//! `osprey aggregate`: window aggregation over telemetry records, from flags
//! or a streaming SQL query.
//!
//! The arguments become a [`plan::Plan`] first ([`sql`] parses queries);
//! records are read as Arrow batches (the chunker for NDJSON and CSV, on a
//! reader thread so slow streams flush by latency; the Parquet reader for
//! Parquet files), converted to the engine's columns ([`columns`]), and
//! aggregated by `osprey_kernels::window::Engine` on the GPU or the CPU.
//! Windows are written as the watermark closes them ([`output`]); late and
//! refused records go to the error output with their reason and the record
//! as it came in, so they can be replayed; a run that refused records ends
//! with [`RecordsRefused`] (exit code 5) once every other record is done.
//! The checked arguments and the engine are made in [`prepare()`]; a stream
//! input is read in [`stream_source`], whose checkpoints follow the rows
//! [`trace`]s.
//!
//! Inputs ([`input`]): a file, stdin, a stream of the store (`stream:NAME`,
//! read as `osprey read` reads it), or NDJSON lines over TCP
//! (`tcp://HOST:PORT`). Files, stdin and a stream without `--follow` end,
//! and every window still open closes then. A stream with `--follow` and TCP
//! run until the process is killed (SIGINT, SIGTERM), or with `--until-idle`
//! until nothing has come for that long, which ends them as a file ends.
//! Killed, the windows still open are not written: rows of closed windows
//! are (NDJSON is flushed as windows close).
//!
//! With `--consumer`, a stream's checkpoint moves only past records whose
//! windows have all been written ([`checkpoint`]), and to the end once the
//! run ends, so a restarted run re-reads the records of the windows that
//! were still open and writes them whole: no record is lost. A restarted run
//! starts with a fresh watermark, so records it re-reads that were late the
//! first time (and went to the error output) can open their window again,
//! and with Parquet or Arrow output (written only at the end) a killed run
//! re-reads everything since its last completed run: at least once.

pub mod args;
pub mod checkpoint;
pub mod columns;
pub mod input;
pub mod output;
pub mod plan;
mod prepare;
pub mod sql;
mod stream_source;
mod trace;

use std::io::Write as _;
use std::path::Path;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow};
use arrow::record_batch::RecordBatch;
use osprey_ingest::chunk::{ChunkConfig, Chunker, RawRecord, RecordFormat, read_parquet};
use osprey_kernels::window::acc::AggValue;
use osprey_kernels::window::keys::KeyValue;
use osprey_kernels::window::{Batch, Engine, WindowResult};

use self::args::{AggregateArgs, InputFormat, OutputFormat};
use self::checkpoint::Progress;
use self::columns::{Converter, row_json};
use self::input::{
    Input, Listener, Origin, Origins, Rejected, TcpLine, TextItem, listen, spawn_text,
};
use self::output::{Cell, CellRef, Destination, ErrorSink, ResultSink, Shown, StreamTarget};
use self::plan::{Expr, OutputColumn, Plan, Scalar};
use self::prepare::{Slot, check_flags, duration_flag, input_format, prepare, usage};
use self::stream_source::StreamSource;
use self::trace::Trace;
use crate::exit::InputError;

/// Records held back from a schema are inferred from at most this many
/// (DuckDB's `sample_size` for JSON) ...
const INFER_ROWS: usize = 20_480;

/// ... or this many bytes of them, whichever comes first.
const INFER_BYTES: usize = 8 << 20;

/// Some records were refused (exit code 5): the run finished, every other
/// record was aggregated, and the refused ones are in the error output.
#[derive(Debug, thiserror::Error)]
#[error(
    "{summary}: {refused} records were refused (see the error output); the others were aggregated"
)]
pub struct RecordsRefused {
    /// The run's summary line.
    pub summary: String,
    /// Records refused.
    pub refused: u64,
}

/// Everything one run needs, checked.
struct Run {
    plan: Plan,
    slots: Vec<Slot>,
    names: Vec<String>,
    engine: Engine,
    converter: Converter,
    sink: ResultSink,
    errors: ErrorSink,
    rows: u64,
    windows: u64,
    /// With a consumer and NDJSON output: which stream positions are safe to checkpoint.
    progress: Option<Progress>,
    /// When checkpoints are kept per record: what became of the rows pushed.
    trace: Option<Trace>,
}

impl Run {
    /// Writes the rows of the windows that closed, those HAVING keeps.
    /// Without HAVING, each row goes to the output straight from the
    /// window's state and the key dictionaries, without building a row.
    fn emit(&mut self, closed: Vec<WindowResult>) -> Result<()> {
        let mut values: Vec<AggValue> = Vec::with_capacity(self.slots.len());
        for w in closed {
            values.clear();
            values.extend(self.slots.iter().map(|s| w.acc.finish(s.func, s.column)));
            let Some(having) = &self.plan.having else {
                let dicts = &self.converter.dicts;
                // Key `i` of the group: its id is the group with one key,
                // else the tuple's `i`th.
                let ids = match dicts.len() {
                    0 | 1 => None,
                    _ => Some(self.converter.groups.ids(w.group).unwrap_or(&[])),
                };
                let key = |i: usize| {
                    let id = match ids {
                        None => Some(w.group),
                        Some(ids) => ids.get(i).copied(),
                    };
                    id.and_then(|id| dicts.get(i)?.value(id))
                        .unwrap_or(&KeyValue::Null)
                };
                let outputs = &self.plan.outputs;
                self.windows += 1;
                self.sink.write_with(outputs.len(), |c| match &outputs[c] {
                    OutputColumn::WindowStart(_) => CellRef::Time(w.start),
                    OutputColumn::WindowEnd(_) => CellRef::Time(w.end),
                    OutputColumn::Key(i, _) => CellRef::Key(key(*i)),
                    OutputColumn::Agg(i, _) => CellRef::Agg(values[*i]),
                })?;
                continue;
            };
            let keys = self.converter.key_values(w.group);
            let mut row = Vec::with_capacity(self.plan.outputs.len());
            for out in &self.plan.outputs {
                row.push(match out {
                    OutputColumn::WindowStart(_) => Cell::Time(w.start),
                    OutputColumn::WindowEnd(_) => Cell::Time(w.end),
                    OutputColumn::Key(i, _) => {
                        Cell::Key(keys.get(*i).cloned().unwrap_or(KeyValue::Null))
                    }
                    OutputColumn::Agg(i, _) => Cell::Agg(values[*i]),
                });
            }
            let to_scalar = |c: &Cell| match c {
                Cell::Time(t) => Scalar::Number(*t as f64),
                Cell::Key(k) => match output::key_json(k) {
                    serde_json::Value::String(s) => Scalar::Text(s),
                    serde_json::Value::Number(n) => Scalar::Number(n.as_f64().unwrap_or(f64::NAN)),
                    serde_json::Value::Bool(b) => Scalar::Bool(b),
                    _ => Scalar::Null,
                },
                Cell::Agg(AggValue::Int(i)) => Scalar::Number(*i as f64),
                Cell::Agg(AggValue::Float(f)) => Scalar::Number(*f),
                Cell::Agg(AggValue::Null) => Scalar::Null,
            };
            let lookup = |e: &Expr| match e {
                Expr::Agg(i) => to_scalar(&Cell::Agg(values[*i])),
                Expr::Column(n) => self
                    .names
                    .iter()
                    .position(|m| m == n)
                    .map_or(Scalar::Null, |p| to_scalar(&row[p])),
                _ => Scalar::Null,
            };
            if having.eval(&lookup) != Scalar::Bool(true) {
                continue;
            }
            self.windows += 1;
            self.sink.write(row)?;
        }
        Ok(())
    }

    /// Aggregates one batch; `raws` holds the text of each of its rows as
    /// it came in (empty for Parquet), for the error output.
    fn process(&mut self, batch: RecordBatch, raws: &[String]) -> Result<()> {
        if let Some(trace) = &mut self.trace {
            trace.rows(&batch, &self.plan.time_field, &self.plan.keys);
        }
        let given = batch.clone();
        let conv = self.converter.convert(batch)?;
        for (row, reason) in &conv.refused {
            match raws.get(*row) {
                Some(raw) => self.errors.refused(None, reason, Shown::Text(raw))?,
                None => {
                    let value = row_json(&given, *row);
                    self.errors.refused(None, reason, Shown::Value(&value))?;
                }
            }
        }
        let n = conv.ts.len();
        self.rows += n as u64;
        if n == 0 {
            return self.errors.flush();
        }
        let values: Vec<&[f64]> = conv.values.iter().map(|a| a.values().as_ref()).collect();
        let batch = Batch {
            ts: &conv.ts,
            groups: &conv.groups,
            values,
            valid: conv.valid.iter().map(|v| v.as_deref()).collect(),
            hashes: conv.hashes.iter().map(Vec::as_slice).collect(),
            hash_valid: conv.hash_valid.iter().map(|v| v.as_deref()).collect(),
        };
        let pushed = self.engine.push(&batch)?;
        if !pushed.late.is_empty() {
            let wm = self.engine.watermark();
            for &row in &pushed.late {
                let row = conv.rows.get(row).copied().unwrap_or(row);
                match raws.get(row) {
                    Some(raw) => self.errors.late(Shown::Text(raw), wm)?,
                    None => {
                        let value = row_json(&given, row);
                        self.errors.late(Shown::Value(&value), wm)?;
                    }
                }
            }
        }
        self.emit(pushed.closed)?;
        self.sink.flush()?;
        self.errors.flush()?;
        Ok(())
    }

    fn bad_records(&mut self, chunker: &mut Chunker, origins: &mut Origins) -> Result<()> {
        let bad = chunker.take_bad();
        for bad in &bad {
            if let Some(trace) = &mut self.trace {
                trace.bad.push(bad.line);
            }
            let origin = origins.take(bad.line);
            self.errors
                .refused(Some(&origin), &bad.reason, Shown::Text(&bad.raw))?;
        }
        if !bad.is_empty() {
            // A live input's refusals show as they happen.
            self.errors.flush()?;
        }
        Ok(())
    }

    /// Pushes one NDJSON line (or CSV row) into the chunker and processes
    /// the batch it fills, if any.
    fn push(
        &mut self,
        chunker: &mut Chunker,
        origins: &mut Origins,
        record: RawRecord,
    ) -> Result<()> {
        let batch = match record {
            RawRecord::Json(line) => chunker.push_json(&line).map_err(usage)?,
            RawRecord::Header(names) => {
                chunker.set_header(names);
                None
            }
            RawRecord::Cells(cells) => {
                let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
                chunker.push_cells(&cells).map_err(usage)?
            }
        };
        self.bad_records(chunker, origins)?;
        if let Some(b) = batch {
            // A batch holds every row the chunker had.
            origins.clear();
            let raws = chunker.take_raw();
            self.process(b, &raws)?;
        }
        Ok(())
    }

    /// Processes every row the chunker holds.
    fn drain(&mut self, chunker: &mut Chunker, origins: &mut Origins) -> Result<()> {
        while let Some(b) = chunker.flush().map_err(usage)? {
            self.bad_records(chunker, origins)?;
            let raws = chunker.take_raw();
            self.process(b, &raws)?;
        }
        self.bad_records(chunker, origins)?;
        origins.clear();
        Ok(())
    }
}

/// One item of a text input for the chunker.
enum Incoming {
    /// An NDJSON line or CSV row, and its origin when that is more than the
    /// chunker's line number.
    Record(RawRecord, Option<Origin>),
    /// A line that cannot be a record (too long, not UTF-8): where it came
    /// from, why, its first bytes and its length. A line of a file or stdin
    /// is counted by the chunker, so later lines keep their numbers.
    Refused(Origin, Rejected),
}

/// How a TCP input ends without a signal: once no connection has been open
/// and no line has come for `after`.
struct Idle<'a> {
    after: Duration,
    listener: &'a Listener,
}

/// Reads a text input (a file, stdin, TCP) until it ends: records into the
/// chunker, batches into the engine as they fill or as `--max-latency` makes
/// them due, so windows close while a slow input is still open.
fn read_text<T>(
    run: &mut Run,
    mut chunker: Chunker,
    rx: &Receiver<T>,
    item: impl Fn(T) -> std::io::Result<Incoming>,
    idle: Option<Idle<'_>>,
    input: &str,
) -> Result<()> {
    let mut origins = Origins::default();
    let mut last = Instant::now();
    loop {
        let now = Instant::now();
        let mut wait = chunker.time_left(now).unwrap_or(Duration::from_secs(3600));
        if let Some(idle) = &idle {
            if idle.listener.connections() > 0 {
                // A connection may stay quiet as long as it likes: look again later.
                wait = wait.min(Duration::from_millis(200));
            } else if let Some(deadline) = last
                .max(idle.listener.last_change())
                .checked_add(idle.after)
            {
                if now >= deadline {
                    break;
                }
                wait = wait.min(deadline - now);
            }
        }
        let got = match rx.recv_timeout(wait) {
            Ok(r) => Some(r),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        match got.map(&item) {
            None => {}
            Some(Err(e)) => {
                return Err(anyhow!(InputError {
                    input: input.to_owned(),
                    reason: e.to_string(),
                }));
            }
            Some(Ok(Incoming::Refused(origin, rejected))) => {
                last = Instant::now();
                if let Origin::Line(_) = origin {
                    chunker.skip_line();
                }
                let shown = Shown::Head {
                    head: &rejected.head,
                    bytes: rejected.bytes,
                };
                run.errors.refused(Some(&origin), &rejected.reason, shown)?;
                run.errors.flush()?;
            }
            Some(Ok(Incoming::Record(record, origin))) => {
                last = Instant::now();
                if let Some(o) = origin {
                    origins.push(o);
                }
                run.push(&mut chunker, &mut origins, record)?;
            }
        }
        if chunker.due(Instant::now())
            && let Some(b) = chunker.flush().map_err(usage)?
        {
            run.bad_records(&mut chunker, &mut origins)?;
            origins.clear();
            let raws = chunker.take_raw();
            run.process(b, &raws)?;
        }
    }
    run.drain(&mut chunker, &mut origins)
}

/// Runs `osprey aggregate`.
///
/// # Errors
/// [`UsageError`](crate::exit::UsageError) for arguments that cannot be used, [`InputError`] for an
/// input that cannot be read, the engine's and the output's errors.
pub fn run(args: &AggregateArgs) -> Result<()> {
    let started = Instant::now();
    let prepared = prepare(args)?;
    let input = Input::parse(&args.input)?;
    let format = input_format(args, &input);
    let dest = Destination::parse(&args.output)?;
    let out_format = dest.format(args.output_format);
    let until_idle = duration_flag("--until-idle", args.until_idle.as_deref())?;
    check_flags(args, &input, format, out_format, &dest, until_idle)?;
    if let Input::File(name) = &input {
        let path = Path::new(name);
        if !path.is_file() {
            let reason = if path.exists() {
                "not a file"
            } else {
                "no such file"
            };
            return Err(anyhow!(InputError {
                input: name.clone(),
                reason: reason.into(),
            }));
        }
    }
    // The input opens first: a missing stream or a port in use fails the
    // run before an output file is made.
    let mut source = match &input {
        Input::Stream(name) => Some(StreamSource::open(args, name)?),
        _ => None,
    };
    let listener = match &input {
        Input::Tcp(addr) => Some(listen(addr)?),
        _ => None,
    };
    let key_fields = prepared.plan.partition_fields();
    let target = StreamTarget {
        data_dir: &args.data.data_dir,
        partition_key: &args.input,
        key_fields: &key_fields,
    };
    let sink = output::open(&dest, args.output_format, &prepared.names, target)?;
    let errors = ErrorSink::open(&args.errors)?;
    // Parquet and Arrow files are written at the end: only then are their
    // windows written, and only then may a consumer checkpoint.
    let progress = source
        .as_ref()
        .filter(|s| s.consumer.is_some() && out_format == OutputFormat::Ndjson)
        .map(|s| Progress::new(prepared.plan.window, s.reader.positions().clone()));
    let trace = progress.as_ref().map(|p| Trace {
        with_keys: p.needs_keys(),
        ..Trace::default()
    });
    let chunk_config = ChunkConfig {
        schema: prepared.schema,
        time_field: Some(prepared.plan.time_field.clone()),
        time_format: prepared.time_format,
        max_rows: args.batch_rows,
        max_latency: prepared.max_latency,
        infer_rows: INFER_ROWS,
        infer_bytes: INFER_BYTES,
        keep_raw: true,
    };
    let mut run = Run {
        plan: prepared.plan,
        slots: prepared.slots,
        names: prepared.names,
        engine: prepared.engine,
        converter: prepared.converter,
        sink,
        errors,
        rows: 0,
        windows: 0,
        progress,
        trace,
    };
    let label = run.engine.backend_label();

    match (&input, format) {
        (Input::Stream(_), _) => {
            let chunker = Chunker::new(chunk_config).map_err(usage)?;
            if let Some(s) = &mut source {
                s.read(&mut run, chunker, args.stream.follow, until_idle)?;
            }
        }
        (Input::Tcp(_), _) => {
            let chunker = Chunker::new(chunk_config).map_err(usage)?;
            if let Some(l) = &listener {
                let _ = writeln!(
                    std::io::stderr(),
                    "osprey: listening on tcp://{} for records to aggregate",
                    l.local
                );
                let idle = until_idle.map(|after| Idle { after, listener: l });
                let item = |line: TcpLine| {
                    Ok(match line.text {
                        Ok(text) => Incoming::Record(RawRecord::Json(text), Some(line.origin)),
                        Err(reason) => Incoming::Refused(line.origin, reason),
                    })
                };
                read_text(&mut run, chunker, &l.lines, item, idle, &args.input)?;
            }
        }
        (Input::Stdin, InputFormat::Parquet) => {
            return Err(usage("parquet input needs a file, not stdin"));
        }
        (Input::File(path), InputFormat::Parquet) => {
            read_parquet_file(&mut run, path, args.batch_rows)?
        }
        (Input::Stdin | Input::File(_), InputFormat::Ndjson | InputFormat::Csv) => {
            let reader: Box<dyn std::io::Read + Send> = match &input {
                Input::File(path) => Box::new(std::fs::File::open(path).map_err(|e| {
                    anyhow!(InputError {
                        input: path.clone(),
                        reason: e.to_string(),
                    })
                })?),
                _ => Box::new(std::io::stdin()),
            };
            let record_format = if format == InputFormat::Csv {
                RecordFormat::Csv
            } else {
                RecordFormat::Ndjson
            };
            let chunker = Chunker::new(chunk_config).map_err(usage)?;
            let rx = spawn_text(reader, record_format, 4096);
            let item = |r: std::io::Result<TextItem>| {
                r.map(|r| match r {
                    TextItem::Record(r) => Incoming::Record(r, None),
                    TextItem::Refused { line, rejected } => {
                        Incoming::Refused(Origin::Line(line), rejected)
                    }
                })
            };
            read_text(&mut run, chunker, &rx, item, None, &args.input)?;
        }
    }
    let rest = run.engine.finish();
    run.emit(rest)?;
    let Run {
        rows,
        windows,
        sink,
        mut errors,
        ..
    } = run;
    errors.flush()?;
    sink.finish().context("cannot finish the output")?;
    // Every window is written now: the whole read is done.
    if let Some(s) = &source {
        s.save(s.reader.positions())?;
    }
    let (late, refused) = (errors.late, errors.refused);
    let secs = started.elapsed().as_secs_f64();
    let summary = format!(
        "aggregate: {rows} rows, {windows} result rows, {late} late, {refused} refused in {secs:.2} s on {label}"
    );
    if refused > 0 {
        // One line, the summary in it: the caller prints `osprey: ...`.
        return Err(RecordsRefused { summary, refused }.into());
    }
    let _ = writeln!(std::io::stderr(), "osprey: {summary}");
    Ok(())
}

/// Reads a Parquet file, decoding on a thread of its own two batches ahead
/// of the engine.
fn read_parquet_file(run: &mut Run, path: &str, batch_rows: usize) -> Result<()> {
    let fail = |e: &dyn std::fmt::Display| {
        anyhow!(InputError {
            input: path.to_owned(),
            reason: format!("{e}"),
        })
    };
    let batches = read_parquet(Path::new(path), batch_rows).map_err(|e| fail(&e))?;
    let (tx, rx) = std::sync::mpsc::sync_channel(2);
    std::thread::spawn(move || {
        for batch in batches {
            if tx.send(batch).is_err() {
                return;
            }
        }
    });
    for batch in rx {
        run.process(batch.map_err(|e| fail(&e))?, &[])?;
    }
    Ok(())
}
