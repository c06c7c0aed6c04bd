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

pub mod args;
pub mod columns;
pub mod output;
pub mod plan;
pub mod sql;

use std::io::Write as _;
use std::path::Path;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow};
use arrow::record_batch::RecordBatch;
use osprey_ingest::chunk::{
    ChunkConfig, Chunker, RawRecord, RecordFormat, RecordSchema, TimeFormat, read_parquet,
    spawn_reader,
};
use osprey_kernels::window::acc::AggValue;
use osprey_kernels::window::{
    AggFunc, Batch, Engine, EngineConfig, WindowResult, open_aggregator, parse_duration,
};

use self::args::{AggregateArgs, InputFormat};
use self::columns::{ColumnPlan, Converter, row_json};
use self::output::{Cell, ErrorSink, ResultSink};
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
        let conv = self.converter.convert(batch)?;
        for (raw, reason) in &conv.refused {
            self.errors.refused(None, reason, raw)?;
        }
        let n = conv.ts.len();
        self.rows += n as u64;
        if n == 0 {
            return Ok(());
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
        Ok(())
    }

    fn bad_records(&mut self, chunker: &mut Chunker) -> Result<()> {
        for bad in chunker.take_bad() {
            self.errors.refused(Some(bad.line), &bad.reason, &bad.raw)?;
        }
        Ok(())
    }
}

/// The input format: `--format`, else the file's extension, else NDJSON.
fn input_format(args: &AggregateArgs) -> InputFormat {
    if let Some(f) = args.format {
        return f;
    }
    match Path::new(&args.input).extension().and_then(|e| e.to_str()) {
        Some("parquet" | "pq") => InputFormat::Parquet,
        Some("csv") => InputFormat::Csv,
        _ => InputFormat::Ndjson,
    }
}

/// Runs `osprey aggregate`.
///
/// # Errors
/// [`UsageError`] for arguments that cannot be used, [`InputError`] for an
/// input that cannot be read, the engine's and the output's errors.
pub fn run(args: &AggregateArgs) -> Result<()> {
    let started = Instant::now();
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
    let max_latency = args
        .max_latency
        .as_deref()
        .map(|d| parse_duration(d).map(|us| Duration::from_micros(us as u64)))
        .transpose()
        .map_err(|e| usage(format!("--max-latency: {e}")))?;
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
    let format = input_format(args);
    let stdin = args.input == "-";
    if !stdin {
        let path = Path::new(&args.input);
        if !path.is_file() {
            let reason = if path.exists() {
                "not a file"
            } else {
                "no such file"
            };
            return Err(anyhow!(InputError {
                input: args.input.clone(),
                reason: reason.into(),
            }));
        }
    }
    let sink = output::open(&args.output, args.output_format, &names)?;
    let errors = ErrorSink::open(&args.errors)?;
    let mut run = Run {
        plan,
        slots,
        names,
        engine,
        converter,
        sink,
        errors,
        rows: 0,
        windows: 0,
    };
    let label = run.engine.backend_label();

    match format {
        InputFormat::Parquet => {
            if stdin {
                return Err(usage("parquet input needs a file, not stdin"));
            }
            let batches = read_parquet(Path::new(&args.input), args.batch_rows).map_err(|e| {
                anyhow!(InputError {
                    input: args.input.clone(),
                    reason: format!("{e}"),
                })
            })?;
            // Decode on a thread of its own, two batches ahead of the engine.
            let (tx, rx) = std::sync::mpsc::sync_channel(2);
            std::thread::spawn(move || {
                for batch in batches {
                    if tx.send(batch).is_err() {
                        return;
                    }
                }
            });
            for batch in rx {
                let batch = batch.map_err(|e| {
                    anyhow!(InputError {
                        input: args.input.clone(),
                        reason: format!("{e}"),
                    })
                })?;
                run.process(batch)?;
            }
        }
        InputFormat::Ndjson | InputFormat::Csv => {
            let reader: Box<dyn std::io::Read + Send> = if stdin {
                Box::new(std::io::stdin())
            } else {
                Box::new(std::fs::File::open(&args.input).map_err(|e| {
                    anyhow!(InputError {
                        input: args.input.clone(),
                        reason: e.to_string(),
                    })
                })?)
            };
            let record_format = if format == InputFormat::Csv {
                RecordFormat::Csv
            } else {
                RecordFormat::Ndjson
            };
            let mut chunker = Chunker::new(ChunkConfig {
                schema,
                time_field: Some(run.plan.time_field.clone()),
                time_format,
                max_rows: args.batch_rows,
                max_latency,
                infer_rows: 100,
            })
            .map_err(usage)?;
            let rx = spawn_reader(reader, record_format, 4096);
            loop {
                let wait = chunker
                    .time_left(Instant::now())
                    .unwrap_or(Duration::from_secs(3600));
                let record = match rx.recv_timeout(wait) {
                    Ok(r) => Some(r),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => break,
                };
                let batch = match record {
                    None => None,
                    Some(Err(e)) => {
                        return Err(anyhow!(InputError {
                            input: args.input.clone(),
                            reason: e.to_string(),
                        }));
                    }
                    Some(Ok(RawRecord::Json(line))) => chunker.push_json(&line).map_err(usage)?,
                    Some(Ok(RawRecord::Header(names))) => {
                        chunker.set_header(names);
                        None
                    }
                    Some(Ok(RawRecord::Cells(cells))) => {
                        let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
                        chunker.push_cells(&cells).map_err(usage)?
                    }
                };
                run.bad_records(&mut chunker)?;
                if let Some(b) = batch {
                    run.process(b)?;
                }
                if chunker.due(Instant::now())
                    && let Some(b) = chunker.flush().map_err(usage)?
                {
                    run.process(b)?;
                }
            }
            while let Some(b) = chunker.flush().map_err(usage)? {
                run.process(b)?;
            }
            run.bad_records(&mut chunker)?;
        }
    }
    let rest = run.engine.finish();
    run.emit(rest)?;
    run.errors.flush()?;
    let (rows, windows, late, refused) =
        (run.rows, run.windows, run.errors.late, run.errors.refused);
    run.sink.finish().context("cannot finish the output")?;
    let secs = started.elapsed().as_secs_f64();
    let _ = writeln!(
        std::io::stderr(),
        "osprey: aggregate: {rows} rows, {windows} result rows, {late} late, {refused} refused in {secs:.2} s on {label}"
    );
    Ok(())
}
