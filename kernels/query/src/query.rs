//! A query being run: a [`Plan`] over the window engine (or, for an
//! anomaly query, over its forests: [`crate::rcf`]). Batches go in
//! ([`Query::push`]) and the rows of the windows the watermark closes come
//! out into a [`ResultSink`], the late and refused rows into an
//! [`ErrorSink`]; [`Query::finish`] closes every window still open.
//!
//! The engine's inputs are made from the plan here: the value columns (the
//! percentile columns first), the hashed columns of
//! `approx_count_distinct`, and where each aggregate reads ([`Slot`]).
//! An anomaly query writes one row a record as each batch comes, and has
//! no windows, no watermark and no late rows.

use osprey_ingest::chunk::{Chunk, TimeFormat};
use osprey_ingest::store::Checkpoint;
use osprey_kernels::window::acc::AggValue;
use osprey_kernels::window::keys::KeyValue;
use osprey_kernels::window::{AggFunc, Aggregator, Batch, Closed, EngineConfig};

use crate::cells::{Cell, CellRef, cell_scalar};
use crate::checkpoint::Progress;
use crate::columns::{ColumnPlan, Converted, Converter, row_json};
use crate::error::{QueryError, Result};
use crate::join::Joined;
use crate::partitioned::Engines;
use crate::plan::{Expr, OutputColumn, Plan, Scalar};
use crate::rcf::Scorer;
use crate::rejects::{ErrorSink, Shown};
use crate::rows::ResultSink;

/// Where one aggregate reads its input in the engine, which finishes it.
pub use osprey_kernels::window::AggSlot as Slot;

/// How a query runs, beyond its plan.
#[derive(Debug, Clone)]
pub struct QueryOptions {
    /// How long after the largest event time seen a row may still arrive (µs).
    pub lateness: i64,
    /// How string or numeric event times are read.
    pub time_format: TimeFormat,
    /// Reference tables a query may join, by name: their files, or
    /// `stream:NAME` for a stream of the store in `data_dir`.
    pub references: Vec<(String, std::path::PathBuf)>,
    /// The store, for references bound to streams.
    pub data_dir: Option<std::path::PathBuf>,
    /// Window engines, each on a thread, that tumbling windows on the CPU
    /// split the groups over (the `partitioned` module); 1 runs one engine.
    pub partitions: usize,
}

impl Default for QueryOptions {
    fn default() -> Self {
        QueryOptions {
            lateness: 0,
            time_format: TimeFormat::Auto,
            references: Vec::new(),
            data_dir: None,
            partitions: 1,
        }
    }
}

/// Where result rows and late or refused rows go.
#[derive(Debug)]
pub struct Outputs {
    /// Result rows.
    pub rows: ResultSink,
    /// Late and refused rows.
    pub errors: ErrorSink,
}

/// The engine's columns for `plan`: (value columns, percentile columns
/// among them, hashed columns, one slot an aggregate).
fn engine_columns(plan: &Plan) -> (Vec<String>, u32, Vec<String>, Vec<Slot>) {
    // Value columns, percentile columns first; hashed columns apart.
    let mut values: Vec<String> = Vec::new();
    let mut hashed: Vec<String> = Vec::new();
    let pct_cols = plan
        .aggs
        .iter()
        .filter(|a| matches!(a.func, AggFunc::Percentile(_)))
        .filter_map(|a| a.column.as_ref());
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
    (values, pct_columns, hashed, slots)
}

/// What runs a query's rows.
#[derive(Debug)]
enum Run {
    /// The window engines.
    Windows(Engines),
    /// An anomaly query's forests.
    Anomaly(Box<Scorer>),
}

/// A query being run; see the module docs.
#[derive(Debug)]
pub struct Query {
    plan: Plan,
    slots: Vec<Slot>,
    names: Vec<String>,
    engine: Run,
    converter: Converter,
    rows: u64,
    windows: u64,
    /// With a consumer: which stream positions are safe to checkpoint.
    progress: Option<Progress>,
    /// The reference table the plan joins.
    join: Option<Joined>,
    /// Whether closed windows' rows wait for the next push
    /// ([`Query::defer_rows`]).
    defer: bool,
    /// Rows of windows closed and not yet written, and the watermark that
    /// closed them.
    pending: Option<(Closed, Option<i64>)>,
    /// The watermark of the last windows whose rows were written: what
    /// [`Query::checkpoint`] may count as done.
    written_mark: Option<i64>,
}

impl Query {
    /// A query of `plan` on `backend` (a window aggregator from
    /// `osprey_kernels::Device::aggregator`, GPU or CPU).
    ///
    /// # Errors
    /// [`QueryError::Usage`] when the engine refuses the plan's windows or
    /// the lateness.
    pub fn new(plan: Plan, options: QueryOptions, backend: Box<dyn Aggregator>) -> Result<Self> {
        let (mut values, pct_columns, hashed, slots) = engine_columns(&plan);
        let first_last = plan
            .aggs
            .iter()
            .any(|a| matches!(a.func, AggFunc::First | AggFunc::Last));
        let config = EngineConfig {
            window: plan.window,
            lateness: options.lateness,
            columns: values.len(),
            hashed: hashed.len(),
            pct_columns,
            first_last,
            batch_rows: EngineConfig::default_batch_rows(),
            aggs: slots.clone(),
        };
        let join = Joined::bind(&plan, &options.references, options.data_dir.as_deref())?;
        let engine = match &plan.anomaly {
            Some(anomaly) => {
                values = anomaly.columns.clone();
                Run::Anomaly(Box::new(Scorer::new(
                    anomaly.clone(),
                    &plan.time_field,
                    options.partitions,
                )))
            }
            None => Run::Windows(Engines::new(config, backend, options.partitions)?),
        };
        let names = plan.names();
        let converter = Converter::new(ColumnPlan {
            time: plan.time_field.clone(),
            keys: plan.keys.clone(),
            values,
            hashed,
            filter: plan.filter.clone(),
            time_format: options.time_format,
        });
        Ok(Query {
            plan,
            slots,
            names,
            engine,
            converter,
            rows: 0,
            windows: 0,
            progress: None,
            join,
            defer: false,
            pending: None,
            written_mark: None,
        })
    }

    /// Whether the rows of the windows a push closes are written during the
    /// next push, beside its aggregation (or by [`Query::finish`]), instead
    /// of before the push returns. For bounded input read as fast as it
    /// goes (files), where nothing waits on a window's rows between
    /// batches: formatting and writing the rows then use the cores the
    /// aggregation leaves idle. Off by default: a live input's rows are
    /// written as its windows close.
    pub fn defer_rows(&mut self, on: bool) {
        self.defer = on;
    }

    /// Tracks which positions of the stream read are safe to checkpoint:
    /// the rows of every chunk pushed are noted in `progress` by their
    /// origins, and [`Query::checkpoint`] says how far its windows are written.
    pub fn track(&mut self, progress: Progress) {
        self.progress = Some(progress);
    }

    /// The tracker given to [`Query::track`], to note the records read.
    pub fn progress_mut(&mut self) -> Option<&mut Progress> {
        self.progress.as_mut()
    }

    /// The positions safe to checkpoint now, when they moved since the
    /// last call (never without [`Query::track`]).
    pub fn checkpoint(&mut self) -> Option<Checkpoint> {
        let watermark = match self.engine {
            Run::Windows(_) => self.written_mark,
            // Every record's row is written as the record goes in: each
            // record read is past what any window could wait for.
            Run::Anomaly(_) => Some(i64::MAX),
        };
        self.progress.as_mut()?.safe(watermark)
    }

    /// The plan.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Where each aggregate of the plan reads in the engine.
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// The result columns' names, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The engine's backend, for a summary line (`cpu`, the GPU's name).
    pub fn backend_label(&self) -> String {
        match &self.engine {
            Run::Windows(e) => e.backend_label(),
            Run::Anomaly(s) => s.label(),
        }
    }

    /// Rows the engine takes in one go: a reader that hands on whole reads
    /// can size them by it.
    pub fn batch_rows(&self) -> usize {
        match &self.engine {
            Run::Windows(e) => e.batch_rows(),
            Run::Anomaly(_) => crate::rcf::score::RUN_ROWS,
        }
    }

    /// Sets the bytes of window state past which [`Query::push`] fails
    /// (`osprey_kernels::KernelError::MemoryLimit`, inside
    /// [`QueryError::Kernel`]); `None`: no limit.
    pub fn set_memory_limit(&mut self, bytes: Option<u64>) {
        match &mut self.engine {
            Run::Windows(e) => e.set_memory_limit(bytes),
            Run::Anomaly(s) => s.set_memory_limit(bytes),
        }
    }

    /// The watermark: the largest event time seen less the lateness (none
    /// for an anomaly query).
    pub fn watermark(&self) -> Option<i64> {
        match &self.engine {
            Run::Windows(e) => e.watermark(),
            Run::Anomaly(_) => None,
        }
    }

    /// Rows given to the engine so far, late ones included (without the
    /// refused ones and those WHERE dropped).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Result rows written so far.
    pub fn windows(&self) -> u64 {
        self.windows
    }

    /// Aggregates one chunk: its rows, where each came from, and (when the
    /// chunker kept it) each row's text as it came in, which the error
    /// output shows for a late or refused row (else the row's columns). The
    /// rows of the windows it closes are written and the outputs flushed.
    ///
    /// # Errors
    /// [`QueryError::Usage`] when the batch lacks a field the plan reads or
    /// holds one of a type it cannot use; the engine's and the outputs' errors.
    pub fn push(&mut self, chunk: Chunk, out: &mut Outputs) -> Result<()> {
        let prepared = self.prepare(chunk)?;
        self.push_prepared(prepared, None, out).map(drop)
    }

    /// The first half of [`Query::push`]: the reference table joined and
    /// the chunk converted for the engine (its key ids given), nothing
    /// written yet. [`Query::push_prepared`] pushes it.
    ///
    /// # Errors
    /// As [`Query::push`], for the batch's fields.
    pub fn prepare(&mut self, chunk: Chunk) -> Result<Prepared> {
        prepare(&mut self.join, &mut self.converter, chunk)
    }

    /// The second half of [`Query::push`]: `prepared`'s refused rows
    /// written, its rows aggregated, and then its late rows written. With
    /// `next`, the next chunk is prepared while this one aggregates, and
    /// returned, so that a reader of bounded input keeps the cores busy
    /// (conversion is on the calling thread, serial, and at a million keys
    /// about a sixth of the run); the next chunk's refused rows are written
    /// when it is pushed, so the error output's order is
    /// [`Query::push`]'s.
    ///
    /// # Errors
    /// As [`Query::push`]; a failure to prepare `next` is returned once
    /// this chunk is pushed.
    pub fn push_prepared(
        &mut self,
        prepared: Prepared,
        next: Option<Chunk>,
        out: &mut Outputs,
    ) -> Result<Option<Prepared>> {
        let Prepared {
            batch,
            origins,
            raws,
            conv,
        } = prepared;
        if let Some(progress) = &mut self.progress {
            progress.rows(&batch, &origins, &self.plan.time_field, &self.plan.keys);
        }
        // A refused or late row as the error output shows it: its text, or
        // its columns when it has none.
        let shown = |row: usize| match raws.get(row) {
            Some(raw) => ShownRow::Text(raw),
            None => ShownRow::Value(row_json(&batch, row)),
        };
        for (row, reason) in &conv.refused {
            out.errors.refused(None, reason, shown(*row).as_shown())?;
        }
        let n = conv.ts.len();
        self.rows += n as u64;
        if n == 0 {
            out.errors.flush()?;
            return next.map(|c| self.prepare(c)).transpose();
        }
        let engine = match &mut self.engine {
            Run::Windows(e) => e,
            Run::Anomaly(scorer) => {
                scorer.push(&conv, &batch, &self.converter, &mut out.rows)?;
                self.windows += n as u64;
                out.rows.flush()?;
                out.errors.flush()?;
                return next.map(|c| self.prepare(c)).transpose();
            }
        };
        let values: Vec<&[f64]> = conv.values.iter().map(|a| a.values().as_ref()).collect();
        let engine_batch = Batch {
            ts: &conv.ts,
            groups: &conv.groups,
            values,
            valid: conv.valid.iter().map(|v| v.as_deref()).collect(),
            hashes: conv.hashes.iter().map(Vec::as_slice).collect(),
            hash_valid: conv.hash_valid.iter().map(|v| v.as_deref()).collect(),
        };
        // The rows of the windows the last push closed are written, and
        // the next chunk prepared, while this batch is aggregated: both on
        // this thread, one after the other, as the key dictionaries they
        // read and grow are the converter's.
        let (pushed, earlier, next) = match (self.pending.take(), next) {
            (None, None) => (engine.push(&engine_batch), None, None),
            (pending, next) => std::thread::scope(|scope| {
                let aggregating = scope.spawn(|| engine.push(&engine_batch));
                let rows = pending.map(|(closed, mark)| {
                    let written = Written {
                        plan: &self.plan,
                        names: &self.names,
                        converter: &self.converter,
                    };
                    written.rows(&closed, &mut out.rows).map(|n| (n, mark))
                });
                let next = next.map(|c| prepare(&mut self.join, &mut self.converter, c));
                let pushed = aggregating.join().unwrap_or_else(|_| {
                    Err(QueryError::Usage("the aggregating thread panicked".into()))
                });
                (pushed, rows, next)
            }),
        };
        if let Some(rows) = earlier {
            let (n, mark) = rows?;
            self.windows += n;
            self.written_mark = mark;
        }
        let pushed = pushed?;
        let wm = engine.watermark();
        if !pushed.late.is_empty() {
            for &row in &pushed.late {
                let row = conv.rows.get(row).copied().unwrap_or(row);
                out.errors.late(shown(row).as_shown(), wm)?;
            }
        }
        if self.defer {
            self.pending = Some((pushed.closed, wm));
        } else {
            let written = Written {
                plan: &self.plan,
                names: &self.names,
                converter: &self.converter,
            };
            self.windows += written.rows(&pushed.closed, &mut out.rows)?;
            self.written_mark = wm;
        }
        out.rows.flush()?;
        out.errors.flush()?;
        next.transpose()
    }

    /// Closes every window still open and writes their rows.
    ///
    /// # Errors
    /// When the result output cannot be written.
    pub fn finish(&mut self, out: &mut Outputs) -> Result<()> {
        let Run::Windows(engine) = &mut self.engine else {
            return Ok(());
        };
        let written = Written {
            plan: &self.plan,
            names: &self.names,
            converter: &self.converter,
        };
        if let Some((closed, _)) = self.pending.take() {
            self.windows += written.rows(&closed, &mut out.rows)?;
        }
        let rest = engine.finish();
        self.windows += written.rows(&rest, &mut out.rows)?;
        self.written_mark = engine.watermark();
        Ok(())
    }
}

/// A chunk ready for the engine ([`Query::prepare`]): its batch (the
/// reference table joined), where its rows came from, their text, and the
/// batch converted.
#[derive(Debug)]
pub struct Prepared {
    batch: arrow::record_batch::RecordBatch,
    origins: Vec<osprey_ingest::chunk::Origin>,
    raws: Vec<String>,
    conv: Converted,
}

/// [`Query::prepare`] on the fields it needs, so that it runs beside the
/// engine's aggregation, which holds the engine.
fn prepare(join: &mut Option<Joined>, converter: &mut Converter, chunk: Chunk) -> Result<Prepared> {
    let Chunk {
        batch,
        origins,
        raws,
    } = chunk;
    let batch = match join {
        Some(join) => join.apply(batch)?,
        None => batch,
    };
    let conv = converter.convert(batch.clone())?;
    Ok(Prepared {
        batch,
        origins,
        raws,
        conv,
    })
}

/// What writing a closed window's rows reads of a query: its plan, the
/// result columns' names and the key dictionaries. Apart from the engine,
/// so rows are written while the engine aggregates the next batch.
struct Written<'a> {
    plan: &'a Plan,
    names: &'a [String],
    converter: &'a Converter,
}

impl Written<'_> {
    /// Writes the rows of the windows that closed, those HAVING keeps.
    /// Without HAVING, each row goes to the output straight from the
    /// finished aggregates and the key dictionaries, without building a
    /// row (and many rows are formatted on several threads:
    /// [`ResultSink::write_rows`]).
    /// Returns how many rows were written.
    fn rows(&self, closed: &Closed, sink: &mut ResultSink) -> Result<u64> {
        let Some(having) = &self.plan.having else {
            let dicts = &self.converter.dicts;
            let groups = &self.converter.groups;
            let outputs = &self.plan.outputs;
            // Key `i` of a group: its id is the group with one key, else
            // the tuple's `i`th.
            let key = |group: u32, i: usize| {
                let id = match dicts.len() {
                    0 | 1 => Some(group),
                    _ => groups.ids(group).and_then(|ids| ids.get(i).copied()),
                };
                id.and_then(|id| dicts.get(i)?.value(id))
                    .unwrap_or(&KeyValue::Null)
            };
            sink.write_rows(closed.len(), outputs.len(), |r, c| {
                let w = closed.keys()[r];
                match &outputs[c] {
                    OutputColumn::WindowStart(_) => CellRef::Time(w.start),
                    OutputColumn::WindowEnd(_) => CellRef::Time(w.end),
                    OutputColumn::Key(i, _) => CellRef::Key(key(w.group, *i)),
                    OutputColumn::Agg(i, _) => {
                        CellRef::Agg(closed.values(r).get(*i).copied().unwrap_or(AggValue::Null))
                    }
                }
            })?;
            return Ok(closed.len() as u64);
        };
        let mut written = 0;
        for (w, values) in closed.iter() {
            let keys = self.converter.key_values(w.group);
            let row: Vec<Cell> = self
                .plan
                .outputs
                .iter()
                .map(|out| match out {
                    OutputColumn::WindowStart(_) => Cell::Time(w.start),
                    OutputColumn::WindowEnd(_) => Cell::Time(w.end),
                    OutputColumn::Key(i, _) => {
                        Cell::Key(keys.get(*i).cloned().unwrap_or(KeyValue::Null))
                    }
                    OutputColumn::Agg(i, _) => Cell::Agg(values[*i]),
                })
                .collect();
            let lookup = |e: &Expr| match e {
                Expr::Agg(i) => cell_scalar(CellRef::Agg(values[*i])),
                Expr::Column(n) => self
                    .names
                    .iter()
                    .position(|m| m == n)
                    .map_or(Scalar::Null, |p| cell_scalar(CellRef::from(&row[p]))),
                _ => Scalar::Null,
            };
            if having.eval(&lookup) != Scalar::Bool(true) {
                continue;
            }
            written += 1;
            sink.write(row)?;
        }
        Ok(written)
    }
}

/// A row of a batch as the error output shows it: its text, or a JSON
/// object rebuilt from its columns.
enum ShownRow<'a> {
    Text(&'a str),
    Value(serde_json::Value),
}

impl ShownRow<'_> {
    fn as_shown(&self) -> Shown<'_> {
        match self {
            ShownRow::Text(t) => Shown::Text(t),
            ShownRow::Value(v) => Shown::Value(v),
        }
    }
}
