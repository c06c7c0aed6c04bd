//! `osprey aggregate`: window aggregation over telemetry records, from flags
//! or a streaming SQL query.
//!
//! The arguments become a [`plan::Plan`] first ([`sql`] parses queries);
//! records are read as Arrow batches (the chunker for NDJSON and CSV, on a
//! reader thread so slow streams flush by latency; the Parquet reader for
//! Parquet files), converted to the engine's columns ([`columns`]), and
//! aggregated by `osprey_kernels::window::Engine` on the GPU or the CPU.
//! Windows are written as the watermark closes them ([`output`]); late and
//! refused records go to the error output with their reason.
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
pub mod sql;

use std::collections::HashSet;
use std::io::Write as _;
use std::path::Path;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow};
use arrow::array::TimestampMicrosecondArray;
use arrow::record_batch::RecordBatch;
use osprey_ingest::chunk::{
    ChunkConfig, Chunker, RawRecord, RecordFormat, RecordSchema, TimeFormat, read_parquet,
    spawn_reader,
};
use osprey_ingest::store::{Checkpoint, StartingPosition, Store, StreamReader};
use osprey_kernels::window::acc::AggValue;
use osprey_kernels::window::{
    AggFunc, Batch, Engine, EngineConfig, WindowResult, open_aggregator, parse_duration,
};

use self::args::{AggregateArgs, InputFormat, OutputFormat};
use self::checkpoint::{Progress, RowTime};
use self::columns::{ColumnPlan, Converter, row_json};
use self::input::{Input, Listener, Origin, Origins, TcpLine, listen};
use self::output::{Cell, Destination, ErrorSink, ResultSink, StreamTarget};
use self::plan::{Expr, OutputColumn, Plan, Scalar};
use crate::exit::{InputError, UsageError};

/// Where each aggregate reads its input in the engine.
#[derive(Debug, Clone, Copy)]
struct Slot {
    func: AggFunc,
    /// Value column, or hashed column for `approx_count_distinct`.
    column: usize,
}

fn usage(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!(UsageError(e.to_string()))
}

/// A lateness: `0` or a duration.
fn lateness(s: &str) -> Result<i64> {
    match s.trim() {
        "0" | "0s" | "0ms" | "0us" => Ok(0),
        other => parse_duration(other).map_err(|e| usage(format!("--lateness: {e}"))),
    }
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

/// What became of the records pushed into the chunker since the last look:
/// the event time (and, for sessions, a hash of the key values) of each row
/// of its batches, in order, and the chunker lines it refused. Rows are the
/// records pushed, less the blank and the refused ones, in order.
#[derive(Debug, Default)]
struct Trace {
    /// Whether key hashes are wanted (session windows).
    with_keys: bool,
    times: Vec<Option<i64>>,
    keys: Vec<u64>,
    bad: Vec<u64>,
    /// A batch without a readable time or key column went by.
    unknown: bool,
}

impl Trace {
    /// Takes in the rows of one chunker batch.
    fn rows(&mut self, batch: &RecordBatch, time_field: &str, keys: &[String]) {
        let times = batch
            .column_by_name(time_field)
            .and_then(|c| c.as_any().downcast_ref::<TimestampMicrosecondArray>());
        match times {
            Some(t) => self.times.extend(t.iter()),
            None => self.unknown = true,
        }
        if self.with_keys {
            match key_hashes(batch, keys) {
                Some(h) => self.keys.extend(h),
                None => self.unknown = true,
            }
        }
    }

    /// Empties it, for the next read.
    fn take(&mut self) -> Trace {
        let with_keys = self.with_keys;
        std::mem::replace(
            self,
            Trace {
                with_keys,
                ..Trace::default()
            },
        )
    }
}

/// Per row of `batch`, a hash of the values of the columns `keys` (a
/// missing column counts as nulls); `None` when a column cannot be read as
/// text.
fn key_hashes(batch: &RecordBatch, keys: &[String]) -> Option<Vec<u64>> {
    use std::hash::{BuildHasher as _, Hash as _, Hasher as _};
    let state = std::hash::RandomState::new();
    let mut hashers: Vec<_> = (0..batch.num_rows())
        .map(|_| state.build_hasher())
        .collect();
    for key in keys {
        let Some(column) = batch.column_by_name(key) else {
            hashers.iter_mut().for_each(|h| h.write_u8(0));
            continue;
        };
        let text = arrow::compute::cast(column, &arrow::datatypes::DataType::Utf8).ok()?;
        let text = text.as_any().downcast_ref::<arrow::array::StringArray>()?;
        for (h, value) in hashers.iter_mut().zip(text.iter()) {
            value.hash(h);
        }
    }
    Some(hashers.iter().map(std::hash::Hasher::finish).collect())
}

/// What the arguments make before any input or output is opened.
struct Prepared {
    plan: Plan,
    slots: Vec<Slot>,
    names: Vec<String>,
    engine: Engine,
    converter: Converter,
    schema: Option<RecordSchema>,
    time_format: TimeFormat,
    max_latency: Option<Duration>,
}

impl Run {
    fn emit(&mut self, closed: Vec<WindowResult>) -> Result<()> {
        for w in closed {
            let keys = self.converter.key_values(w.group);
            let values: Vec<AggValue> = self
                .slots
                .iter()
                .map(|s| w.acc.finish(s.func, s.column))
                .collect();
            let mut row = Vec::with_capacity(self.plan.outputs.len());
            for out in &self.plan.outputs {
                row.push(match out {
                    OutputColumn::WindowStart(_) => Cell::Time(w.start),
                    OutputColumn::WindowEnd(_) => Cell::Time(w.end),
                    OutputColumn::Key(i, _) => Cell::Key(
                        keys.get(*i)
                            .cloned()
                            .unwrap_or(osprey_kernels::window::keys::KeyValue::Null),
                    ),
                    OutputColumn::Agg(i, _) => Cell::Agg(values[*i]),
                });
            }
            if let Some(having) = &self.plan.having {
                let to_scalar = |c: &Cell| match c {
                    Cell::Time(t) => Scalar::Number(*t as f64),
                    Cell::Key(k) => match output::key_json(k) {
                        serde_json::Value::String(s) => Scalar::Text(s),
                        serde_json::Value::Number(n) => {
                            Scalar::Number(n.as_f64().unwrap_or(f64::NAN))
                        }
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
            }
            self.windows += 1;
            self.sink.write(&self.names, row)?;
        }
        Ok(())
    }

    fn process(&mut self, batch: RecordBatch) -> Result<()> {
        if let Some(trace) = &mut self.trace {
            trace.rows(&batch, &self.plan.time_field, &self.plan.keys);
        }
        let conv = self.converter.convert(batch)?;
        for (raw, reason) in &conv.refused {
            self.errors.refused(None, reason, raw)?;
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
            if let Some(b) = &conv.batch {
                for &row in &pushed.late {
                    self.errors.late(row_json(b, row), wm)?;
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
            self.errors.refused(Some(&origin), &bad.reason, &bad.raw)?;
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
            self.process(b)?;
        }
        Ok(())
    }

    /// Processes every row the chunker holds.
    fn drain(&mut self, chunker: &mut Chunker, origins: &mut Origins) -> Result<()> {
        while let Some(b) = chunker.flush().map_err(usage)? {
            self.bad_records(chunker, origins)?;
            self.process(b)?;
        }
        self.bad_records(chunker, origins)?;
        origins.clear();
        Ok(())
    }
}

/// Checks the arguments and makes the plan, the engine and the converter.
fn prepare(args: &AggregateArgs) -> Result<Prepared> {
    let plan = match &args.sql {
        Some(query) => sql::parse(query)?,
        None => {
            let window = args
                .window
                .as_deref()
                .ok_or_else(|| usage("--window (or --sql) is required"))?;
            let aggs = args
                .agg
                .as_deref()
                .ok_or_else(|| usage("--agg (or --sql) is required"))?;
            Plan::from_flags(&args.time_field, window, args.group_by.as_deref(), aggs)?
        }
    };
    let lateness = lateness(&args.lateness)?;
    let time_format: TimeFormat = args.time_format.parse().map_err(usage)?;
    let schema = args
        .schema
        .as_deref()
        .map(RecordSchema::parse)
        .transpose()
        .map_err(usage)?;
    let max_latency = duration_flag("--max-latency", args.max_latency.as_deref())?;
    if args.batch_rows == 0 {
        return Err(usage("--batch-rows must be at least 1"));
    }

    // Value columns, percentile columns first; hashed columns apart.
    let mut values: Vec<String> = Vec::new();
    let mut hashed: Vec<String> = Vec::new();
    let pct_cols: Vec<&String> = plan
        .aggs
        .iter()
        .filter(|a| matches!(a.func, AggFunc::Percentile(_)))
        .filter_map(|a| a.column.as_ref())
        .collect();
    for c in pct_cols {
        if !values.contains(c) {
            values.push(c.clone());
        }
    }
    let pct_columns = values.len() as u32;
    let mut slots = Vec::new();
    for a in &plan.aggs {
        let slot = match (&a.func, &a.column) {
            (AggFunc::CountStar, _) | (_, None) => Slot {
                func: AggFunc::CountStar,
                column: 0,
            },
            (AggFunc::ApproxDistinct, Some(c)) => {
                if !hashed.contains(c) {
                    hashed.push(c.clone());
                }
                Slot {
                    func: a.func,
                    column: hashed.iter().position(|h| h == c).unwrap_or(0),
                }
            }
            (_, Some(c)) => {
                if !values.contains(c) {
                    values.push(c.clone());
                }
                Slot {
                    func: a.func,
                    column: values.iter().position(|v| v == c).unwrap_or(0),
                }
            }
        };
        slots.push(slot);
    }
    let first_last = plan
        .aggs
        .iter()
        .any(|a| matches!(a.func, AggFunc::First | AggFunc::Last));

    let backend = open_aggregator(args.backend.into())?;
    tracing::debug!(backend = %backend.label(), "Aggregating.");
    let config = EngineConfig {
        window: plan.window,
        lateness,
        columns: values.len(),
        hashed: hashed.len(),
        pct_columns,
        first_last,
        batch_rows: EngineConfig::default_batch_rows(hashed.len(), pct_columns),
    };
    let engine = Engine::new(config, backend).map_err(usage)?;
    let names: Vec<String> = plan.outputs.iter().map(|o| o.name().to_owned()).collect();
    let converter = Converter::new(ColumnPlan {
        time: plan.time_field.clone(),
        keys: plan.keys.clone(),
        values,
        hashed,
        filter: plan.filter.clone(),
        time_format: time_format.clone(),
    });
    Ok(Prepared {
        plan,
        slots,
        names,
        engine,
        converter,
        schema,
        time_format,
        max_latency,
    })
}

/// The input format: `--format`, else a file's extension, else NDJSON.
fn input_format(args: &AggregateArgs, input: &Input) -> InputFormat {
    if let Some(f) = args.format {
        return f;
    }
    let Input::File(path) = input else {
        return InputFormat::Ndjson;
    };
    match Path::new(path).extension().and_then(|e| e.to_str()) {
        Some("parquet" | "pq") => InputFormat::Parquet,
        Some("csv") => InputFormat::Csv,
        _ => InputFormat::Ndjson,
    }
}

/// A duration flag as a [`Duration`].
fn duration_flag(flag: &str, value: Option<&str>) -> Result<Option<Duration>> {
    value
        .map(|d| parse_duration(d).map(|us| Duration::from_micros(us.unsigned_abs())))
        .transpose()
        .map_err(|e| usage(format!("{flag}: {e}")))
}

/// Refuses combinations of input, output and the streaming flags that
/// cannot work, before any work is done.
fn check_flags(
    args: &AggregateArgs,
    input: &Input,
    format: InputFormat,
    output: OutputFormat,
    dest: &Destination<'_>,
    until_idle: Option<Duration>,
) -> Result<()> {
    let live = input.is_live(args.stream.follow);
    if !matches!(input, Input::Stream(_)) && args.stream.given() {
        return Err(usage(
            "--from, --follow and --consumer apply to stream:NAME input",
        ));
    }
    if matches!(input, Input::Stream(_) | Input::Tcp(_)) && format != InputFormat::Ndjson {
        return Err(usage(format!(
            "{} input carries NDJSON records: --format {} does not apply",
            args.input,
            format!("{format:?}").to_lowercase()
        )));
    }
    if until_idle.is_some() && !live {
        return Err(usage(
            "--until-idle applies to tcp:// input and to stream:NAME input with --follow",
        ));
    }
    if live && until_idle.is_none() && output != OutputFormat::Ndjson {
        return Err(usage(
            "parquet and arrow output are written when the input ends, which live input \
             (tcp://, --follow) does only with --until-idle",
        ));
    }
    if let (Input::Stream(a), Destination::Stream(b)) = (input, dest)
        && a == b
    {
        return Err(usage(format!(
            "stream {a:?} cannot be both the input and the output"
        )));
    }
    Ok(())
}

/// One item of a text input for the chunker.
enum Incoming {
    /// An NDJSON line or CSV row, and its origin when that is more than the
    /// chunker's line number.
    Record(RawRecord, Option<Origin>),
    /// A line that cannot be a record: where it came from, and why.
    Refused(Origin, String),
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
            Some(Ok(Incoming::Refused(origin, reason))) => {
                last = Instant::now();
                run.errors.refused(Some(&origin), &reason, "")?;
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
            run.process(b)?;
        }
    }
    run.drain(&mut chunker, &mut origins)
}

/// How long a caught-up `--follow` waits before looking for new records.
const STREAM_POLL: Duration = Duration::from_millis(20);

/// Bytes of records one read of a stream takes at most.
const STREAM_READ_BYTES: usize = 64 << 20;

/// A stream being read, as `osprey read` reads it: every shard from
/// `--from` or the consumer's checkpoint, parents before children.
struct StreamSource {
    store: Store,
    name: String,
    consumer: Option<String>,
    reader: StreamReader,
}

impl StreamSource {
    fn open(args: &AggregateArgs, name: &str) -> Result<Self> {
        let from: StartingPosition = args
            .stream
            .from
            .parse()
            .map_err(|e: osprey_ingest::IngestError| usage(e))?;
        let store = Store::open_read_only(&args.data.data_dir)?;
        let consumer = args.stream.consumer.clone();
        let reader = StreamReader::new(&store, name, from, consumer.as_deref())?;
        Ok(StreamSource {
            store,
            name: name.to_owned(),
            consumer,
            reader,
        })
    }

    /// Saves `positions` as the consumer's checkpoint (nothing without one).
    fn save(&self, positions: &Checkpoint) -> Result<()> {
        if let Some(c) = &self.consumer {
            self.store
                .save_checkpoint(&self.name, c, positions)
                .with_context(|| format!("cannot save the checkpoint of consumer {c:?}"))?;
        }
        Ok(())
    }

    /// Reads the stream until its end (or, with `follow`, until killed or
    /// `until_idle` without records). Each read is chunked and pushed whole;
    /// with a tracker, each record's row is noted, and the positions whose
    /// windows are all written are checkpointed as the watermark closes them.
    fn read(
        &mut self,
        run: &mut Run,
        mut chunker: Chunker,
        follow: bool,
        until_idle: Option<Duration>,
    ) -> Result<()> {
        let mut origins = Origins::default();
        let mut last = Instant::now();
        let max = run.engine.batch_rows().max(1024);
        loop {
            let batch = self.reader.poll(&self.store, max, STREAM_READ_BYTES)?;
            if batch.is_empty() {
                if !follow || until_idle.is_some_and(|d| last.elapsed() >= d) {
                    return Ok(());
                }
                std::thread::sleep(STREAM_POLL);
                continue;
            }
            last = Instant::now();
            // Per record: its shard, its sequence number, and the chunker
            // line it went in as, when it can make a row.
            let mut pushed: Vec<(String, u64, Option<u64>)> = Vec::with_capacity(batch.len());
            for (shard, record) in batch {
                let seq = record.seq;
                let origin = Origin::Stream {
                    shard: shard.clone(),
                    seq,
                };
                match String::from_utf8(record.data) {
                    Ok(text) => {
                        origins.push(origin);
                        let row = !text.trim().is_empty();
                        pushed.push((shard, seq, row.then_some(origins.line())));
                        run.push(&mut chunker, &mut origins, RawRecord::Json(text))?;
                    }
                    Err(e) => {
                        pushed.push((shard, seq, None));
                        let raw = String::from_utf8_lossy(e.as_bytes()).into_owned();
                        run.errors
                            .refused(Some(&origin), "record data is not UTF-8 text", &raw)?;
                    }
                }
            }
            run.drain(&mut chunker, &mut origins)?;
            run.errors.flush()?;
            if let Some(progress) = &mut run.progress {
                for shard in self.reader.positions().keys() {
                    if !progress.knows(shard) {
                        let meta = self.store.stream_meta(&self.name)?;
                        let first = meta.shard(shard).map_or(0, |m| m.starting_seq);
                        progress.start_shard(shard, first);
                    }
                }
                let trace = run.trace.as_mut().map(Trace::take).unwrap_or_default();
                note_records(progress, &pushed, trace);
                if let Some(safe) = progress.safe(run.engine.watermark()) {
                    self.save(&safe)?;
                }
            }
        }
    }
}

/// Tells `progress` the row of each record of a read. The rows of the
/// chunker's batches are the records that could make one, less those it
/// refused, in order; when the counts disagree (a bug, or a batch whose
/// columns could not be read), every record of the read waits for the end
/// of the run.
fn note_records(progress: &mut Progress, pushed: &[(String, u64, Option<u64>)], trace: Trace) {
    let bad: HashSet<u64> = trace.bad.into_iter().collect();
    let makes_row = |line: &Option<u64>| line.is_some_and(|l| !bad.contains(&l));
    let rows = pushed.iter().filter(|(_, _, l)| makes_row(l)).count();
    let keys_ok = !trace.with_keys || trace.keys.len() == rows;
    if trace.unknown || rows != trace.times.len() || !keys_ok {
        tracing::debug!(
            rows,
            times = trace.times.len(),
            "Rows and records do not line up; the checkpoint waits for the end of the run."
        );
        for (shard, seq, _) in pushed {
            progress.record_unknown(shard, *seq);
        }
        return;
    }
    let mut times = trace.times.into_iter();
    let mut keys = trace.keys.into_iter();
    for (shard, seq, line) in pushed {
        if !makes_row(line) {
            progress.record(shard, *seq, None);
            continue;
        }
        match times.next().flatten() {
            Some(time) => {
                let key = keys.next().unwrap_or(0);
                progress.record(shard, *seq, Some(RowTime { time, key }));
            }
            None => progress.record_unknown(shard, *seq),
        }
    }
}

/// Runs `osprey aggregate`.
///
/// # Errors
/// [`UsageError`] for arguments that cannot be used, [`InputError`] for an
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
        infer_rows: 100,
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
            let rx = spawn_reader(reader, record_format, 4096);
            let item = |r: std::io::Result<RawRecord>| r.map(|r| Incoming::Record(r, None));
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
    let _ = writeln!(
        std::io::stderr(),
        "osprey: aggregate: {rows} rows, {windows} result rows, {late} late, {refused} refused in {secs:.2} s on {label}"
    );
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
        run.process(batch.map_err(|e| fail(&e))?)?;
    }
    Ok(())
}
