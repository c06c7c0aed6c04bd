//! An anomaly query being run: one forest a group, fed the converted
//! records of each batch in the order they came, and one output row a
//! record, its selected fields and its score.
//!
//! A record's values (the plan's columns, as f64) go into its group's
//! shingle; once the shingle is full its point is scored by every tree of
//! the group's forest. A record with a null or non-finite value has no
//! point: its score is null and its group's state does not move.
//!
//! The trees of every forest are split over `threads` threads (tree `t` of
//! each forest to thread `t / ceil(trees / threads)`) for each run of rows,
//! and each tree sees its points in input order, so the scores are the
//! same bit for bit whatever the number of threads: a tree's draws and
//! updates do not depend on the others, and the average is summed in tree
//! order afterwards. Threads pay off with one group as with many.

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimeUnit};
use osprey_kernels::window::acc::AggValue;
use osprey_kernels::window::keys::KeyValue;

use super::forest::{Forest, Member, Params};
use super::plan::{AnomalyOutput, AnomalyPlan};
use super::shingle::Shingle;
use crate::cells::Cell;
use crate::columns::{Converted, Converter};
use crate::error::{QueryError, Result};
use crate::rows::ResultSink;

/// Rows scored between two splits over the threads.
pub const RUN_ROWS: usize = 4096;

/// One group's state.
#[derive(Debug)]
struct Group {
    shingle: Shingle,
    forest: Forest,
    /// Points scored so far (the next one's sequence number).
    seq: u64,
}

/// One point to score: its group and its sequence number there.
#[derive(Debug, Clone, Copy)]
struct Job {
    group: u32,
    seq: u64,
}

/// The per-group forests of an anomaly query; see the module docs.
#[derive(Debug)]
pub struct Scorer {
    plan: AnomalyPlan,
    time_field: String,
    threads: usize,
    memory_limit: Option<u64>,
    groups: Vec<Group>,
    /// Numbers in a point.
    dims: usize,
}

impl Scorer {
    /// The scorer of `plan`, whose records' event time is `time_field`,
    /// on `threads` threads.
    pub fn new(plan: AnomalyPlan, time_field: &str, threads: usize) -> Self {
        let dims = plan.columns.len() * plan.params.shingle;
        Scorer {
            plan,
            time_field: time_field.to_owned(),
            threads: threads.max(1),
            memory_limit: None,
            groups: Vec::new(),
            dims,
        }
    }

    /// Sets the bytes the forests may hold once full (`None`: no limit).
    pub fn set_memory_limit(&mut self, bytes: Option<u64>) {
        self.memory_limit = bytes;
    }

    /// A label for the summary line.
    pub fn label(&self) -> String {
        let p = &self.plan.params;
        let threads = self.threads.min(p.trees);
        format!(
            "cpu random cut forest ({} trees of {} points, {threads} thread{})",
            p.trees,
            p.sample,
            if threads == 1 { "" } else { "s" }
        )
    }

    /// Groups seen so far.
    pub fn groups(&self) -> usize {
        self.groups.len()
    }

    /// Makes the forests of the groups up to `last`, their seeds from their
    /// key values.
    fn grow(&mut self, last: u32, converter: &Converter) -> Result<()> {
        let params: &Params = &self.plan.params;
        let per_group = Forest::bytes_for(params, self.dims);
        while self.groups.len() <= last as usize {
            let count = self.groups.len() as u64 + 1;
            let state = count.saturating_mul(per_group);
            if let Some(limit) = self.memory_limit
                && state > limit
            {
                return Err(QueryError::AnomalyMemory {
                    state,
                    groups: count,
                    per_group,
                    limit,
                });
            }
            let id = self.groups.len() as u32;
            let stream = key_hash(&converter.key_values(id));
            self.groups.push(Group {
                shingle: Shingle::new(self.plan.columns.len(), params.shingle),
                forest: Forest::new(params, self.dims, stream),
                seq: 0,
            });
        }
        Ok(())
    }

    /// Scores the rows of `conv` (converted from `batch`) and writes one
    /// output row each, in order, to `sink`.
    ///
    /// # Errors
    /// [`QueryError::Usage`] when `batch` lacks an output field,
    /// [`QueryError::AnomalyMemory`] past the memory limit, the output's errors.
    pub fn push(
        &mut self,
        conv: &Converted,
        batch: &RecordBatch,
        converter: &Converter,
        sink: &mut ResultSink,
    ) -> Result<()> {
        let n = conv.ts.len();
        let views = self
            .plan
            .outputs
            .iter()
            .map(|o| match o {
                AnomalyOutput::Field { column, .. } if *column == self.time_field => {
                    Ok(View::EventTime)
                }
                AnomalyOutput::Field { column, .. } => View::of(batch, column),
                AnomalyOutput::Score(_) => Ok(View::Score),
            })
            .collect::<Result<Vec<_>>>()?;
        if let Some(&last) = conv.groups.iter().max() {
            self.grow(last, converter)?;
        }
        let scores = self.score(conv);
        for (i, score) in scores.iter().enumerate().take(n) {
            let row = conv.rows.get(i).copied().unwrap_or(i);
            let cells = views
                .iter()
                .map(|v| match v {
                    View::EventTime => Cell::Time(conv.ts[i]),
                    View::Score => Cell::Agg(score.map_or(AggValue::Null, AggValue::Float)),
                    other => other.cell(row),
                })
                .collect();
            sink.write(cells)?;
        }
        Ok(())
    }

    /// Each row's score (`None` without a point), in order.
    fn score(&mut self, conv: &Converted) -> Vec<Option<f64>> {
        let n = conv.ts.len();
        let cols = self.plan.columns.len();
        let mut scores = vec![None; n];
        let mut values = vec![0.0; cols];
        let mut start = 0;
        while start < n {
            let end = (start + RUN_ROWS).min(n);
            let mut jobs: Vec<(usize, Job)> = Vec::with_capacity(end - start);
            let mut points: Vec<f64> = Vec::with_capacity((end - start) * self.dims);
            let mut point = vec![0.0; self.dims];
            for i in start..end {
                let mut ok = true;
                for (c, v) in values.iter_mut().enumerate() {
                    let array = &conv.values[c];
                    *v = array.value(i);
                    ok &= array.is_valid(i) && v.is_finite();
                }
                if !ok {
                    continue;
                }
                let group = conv.groups[i];
                let g = &mut self.groups[group as usize];
                if g.shingle.push(&values, &mut point) {
                    jobs.push((i, Job { group, seq: g.seq }));
                    g.seq += 1;
                    points.extend_from_slice(&point);
                }
            }
            let only: Vec<Job> = jobs.iter().map(|(_, j)| *j).collect();
            let run = score_run(
                &mut self.groups,
                &only,
                &points,
                self.dims,
                &self.plan.params,
                self.threads,
            );
            for ((i, _), s) in jobs.iter().zip(run) {
                scores[*i] = Some(s);
            }
            start = end;
        }
        scores
    }
}

/// Scores `jobs` (their points `dims` numbers each in `points`), the trees
/// split over `threads` threads; each score summed in tree order.
fn score_run(
    groups: &mut [Group],
    jobs: &[Job],
    points: &[f64],
    dims: usize,
    params: &Params,
    threads: usize,
) -> Vec<f64> {
    let trees = params.trees;
    let decay = params.decay;
    let threads = threads.clamp(1, trees);
    let point = |k: usize| &points[k * dims..(k + 1) * dims];
    if threads == 1 || jobs.is_empty() {
        return jobs
            .iter()
            .enumerate()
            .map(|(k, j)| {
                groups[j.group as usize]
                    .forest
                    .update(point(k), j.seq, decay)
            })
            .collect();
    }
    let chunk = trees.div_ceil(threads);
    let mut present: Vec<u32> = jobs.iter().map(|j| j.group).collect();
    present.sort_unstable();
    present.dedup();
    // Per thread, its slice of the trees of each group present, by group.
    let mut parts: Vec<Vec<(u32, &mut [Member])>> = Vec::new();
    for (g, group) in groups.iter_mut().enumerate() {
        if present.binary_search(&(g as u32)).is_err() {
            continue;
        }
        for (t, slice) in group.forest.members.chunks_mut(chunk).enumerate() {
            if parts.len() <= t {
                parts.push(Vec::new());
            }
            parts[t].push((g as u32, slice));
        }
    }
    let outs: Vec<Vec<f64>> = std::thread::scope(|s| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|mut mine| {
                s.spawn(move || {
                    let mut out = vec![0.0; jobs.len() * chunk];
                    for (k, job) in jobs.iter().enumerate() {
                        let Ok(at) = mine.binary_search_by_key(&job.group, |(g, _)| *g) else {
                            continue;
                        };
                        for (m, member) in mine[at].1.iter_mut().enumerate() {
                            out[k * chunk + m] = member.update(point(k), job.seq, decay);
                        }
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    (0..jobs.len())
        .map(|k| {
            let mut sum = 0.0;
            for t in 0..trees {
                sum += outs[t / chunk][k * chunk + t % chunk];
            }
            sum / trees as f64
        })
        .collect()
}

/// A stable hash of a group's key values (FNV-1a over a tagged encoding):
/// the same group draws the same random numbers in every run, whichever
/// groups come before it.
fn key_hash(keys: &[KeyValue]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for k in keys {
        match k {
            KeyValue::Null => eat(&[0]),
            KeyValue::Str(s) => {
                eat(&[1]);
                eat(&(s.len() as u64).to_le_bytes());
                eat(s.as_bytes());
            }
            KeyValue::Int(i) => {
                eat(&[2]);
                eat(&i.to_le_bytes());
            }
            KeyValue::Bool(b) => eat(&[3, u8::from(*b)]),
            KeyValue::Float(bits) => {
                eat(&[4]);
                eat(&bits.to_le_bytes());
            }
        }
    }
    h
}

/// An output column of one batch, read in its type.
enum View {
    /// The event time, as the converter read it.
    EventTime,
    /// The score.
    Score,
    /// Whole numbers.
    Int(ArrayRef),
    /// Other numbers.
    Float(ArrayRef),
    /// Booleans.
    Bool(ArrayRef),
    /// Times (µs).
    Time(ArrayRef),
    /// Anything else, as text.
    Text(ArrayRef),
}

impl View {
    /// The column `name` of `batch`, cast to the type it is written as.
    fn of(batch: &RecordBatch, name: &str) -> Result<View> {
        let col = batch.column_by_name(name).ok_or_else(|| {
            QueryError::Usage(format!("the input has no field {name:?} to write"))
        })?;
        let to = |t: &DataType| {
            cast(col, t).map_err(|source| QueryError::ArrowStep {
                what: "cannot read a field to write",
                source,
            })
        };
        Ok(match col.data_type() {
            DataType::Boolean => View::Bool(col.clone()),
            t if t.is_integer() => View::Int(to(&DataType::Int64)?),
            t if t.is_numeric() => View::Float(to(&DataType::Float64)?),
            DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 => {
                View::Time(to(&DataType::Timestamp(TimeUnit::Microsecond, None))?)
            }
            DataType::Utf8 => View::Text(col.clone()),
            _ => View::Text(to(&DataType::Utf8)?),
        })
    }

    /// Row `row`'s cell.
    fn cell(&self, row: usize) -> Cell {
        let null = |a: &ArrayRef| a.is_null(row);
        match self {
            View::EventTime | View::Score => Cell::Agg(AggValue::Null),
            View::Int(a) if null(a) => Cell::Key(KeyValue::Null),
            View::Int(a) => Cell::Key(KeyValue::Int(a.as_primitive::<Int64Type>().value(row))),
            View::Float(a) if null(a) => Cell::Agg(AggValue::Null),
            View::Float(a) => {
                Cell::Agg(AggValue::Float(a.as_primitive::<Float64Type>().value(row)))
            }
            View::Bool(a) if null(a) => Cell::Key(KeyValue::Null),
            View::Bool(a) => Cell::Key(KeyValue::Bool(a.as_boolean().value(row))),
            View::Time(a) if null(a) => Cell::Key(KeyValue::Null),
            View::Time(a) => Cell::Time(
                a.as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
                    .value(row),
            ),
            View::Text(a) if null(a) => Cell::Key(KeyValue::Null),
            View::Text(a) => Cell::Key(KeyValue::Str(a.as_string::<i32>().value(row).into())),
        }
    }
}
