//! A query's window engine on every core: the groups split into `N`
//! partitions (group `g` to partition `g % N`), each a window engine of
//! its own on a thread of its own, their closed windows merged back into
//! the one order a single engine gives (by window start, then group).
//!
//! The output is the same byte for byte as one engine's, late rows
//! included, because every partition sees the watermark one engine would:
//!
//! - which rows are late is decided here, over the whole batch, row after
//!   row, as one engine decides it (the largest time before each row, less
//!   the lateness); late rows go to no partition;
//! - each partition's rows get one more row, a heartbeat at the batch's
//!   largest time in a group of its own (local group 0, never written), so
//!   every partition's watermark after a batch is the whole input's and the
//!   same windows close. A partition's watermark before a row is never
//!   above the whole input's, so it finds no late row of its own.
//!
//! Only tumbling windows on the CPU are split: hopping windows take a row
//! into some of its windows and not others by the watermark before it,
//! sessions merge by arrival, and the GPU is one device; those run on one
//! engine, as before.

use osprey_kernels::KernelError;
use osprey_kernels::cpu::aggregate::SerialCpuAggregator;
use osprey_kernels::window::{
    Aggregator, Batch, Closed, Engine, EngineConfig, Floors, Pushed, WindowKey, WindowSpec,
};

use crate::error::{QueryError, Result};

/// One engine, or one a partition.
#[derive(Debug)]
pub(crate) enum Engines {
    /// One engine.
    One(Box<Engine>),
    /// Tumbling windows of `size` over `engines.len()` partitions.
    Split {
        engines: Vec<Engine>,
        /// Each engine's rows of the batch being pushed, kept between
        /// batches: allocated afresh, they cost more in page faults than
        /// in copying.
        parts: Vec<Part>,
        size: i64,
        lateness: i64,
        max_ts: Option<i64>,
        label: String,
        /// The memory budget of all partitions together.
        memory_limit: Option<u64>,
    },
}

impl Engines {
    /// One engine on `backend`, or, for tumbling windows on the CPU with
    /// `partitions > 1`, that many CPU engines.
    pub(crate) fn new(
        config: EngineConfig,
        backend: Box<dyn Aggregator>,
        partitions: usize,
    ) -> Result<Engines> {
        let WindowSpec::Tumbling { size } = config.window else {
            return Ok(Engines::One(Box::new(
                Engine::new(config, backend).map_err(QueryError::usage)?,
            )));
        };
        if partitions <= 1 || backend.is_gpu() {
            return Ok(Engines::One(Box::new(
                Engine::new(config, backend).map_err(QueryError::usage)?,
            )));
        }
        let label = format!("{}, {partitions} partitions", backend.label());
        let lateness = config.lateness;
        // Each partition aggregates on its own thread alone: the partitions
        // are the parallelism.
        let mut engines = Vec::with_capacity(partitions);
        for _ in 0..partitions {
            let engine = Engine::new(config.clone(), Box::new(SerialCpuAggregator));
            engines.push(engine.map_err(QueryError::usage)?);
        }
        Ok(Engines::Split {
            parts: engines.iter().map(|_| Part::default()).collect(),
            engines,
            size,
            lateness,
            max_ts: None,
            label,
            memory_limit: None,
        })
    }

    pub(crate) fn backend_label(&self) -> String {
        match self {
            Engines::One(e) => e.backend_label(),
            Engines::Split { label, .. } => label.clone(),
        }
    }

    pub(crate) fn batch_rows(&self) -> usize {
        match self {
            Engines::One(e) => e.batch_rows(),
            Engines::Split { engines, .. } => engines.first().map_or(1, Engine::batch_rows),
        }
    }

    pub(crate) fn watermark(&self) -> Option<i64> {
        match self {
            Engines::One(e) => e.watermark(),
            Engines::Split {
                max_ts, lateness, ..
            } => max_ts.map(|t| t.saturating_sub(*lateness)),
        }
    }

    /// As [`Engine::set_memory_limit`]; split engines are held to it
    /// together, checked after each batch.
    pub(crate) fn set_memory_limit(&mut self, bytes: Option<u64>) {
        match self {
            Engines::One(e) => e.set_memory_limit(bytes),
            Engines::Split { memory_limit, .. } => *memory_limit = bytes,
        }
    }

    /// [`KernelError::MemoryLimit`] when the partitions' state together is
    /// over the budget, their stores kept for reuse let go first.
    fn check_memory(engines: &mut [Engine], limit: Option<u64>) -> Result<()> {
        let Some(limit) = limit else {
            return Ok(());
        };
        let total = |engines: &[Engine]| engines.iter().map(Engine::state_bytes).sum::<u64>();
        if total(engines) > limit {
            engines.iter_mut().for_each(Engine::release_spare_stores);
        }
        let state = total(engines);
        if state > limit {
            let slots = engines.iter().map(Engine::open_slots).sum();
            return Err(KernelError::MemoryLimit {
                state,
                slots,
                limit,
            }
            .into());
        }
        Ok(())
    }

    /// As [`Engine::push`].
    pub(crate) fn push(&mut self, batch: &Batch<'_>) -> Result<Pushed> {
        let (engines, parts, size, lateness, max_ts, limit) = match self {
            Engines::One(e) => return Ok(e.push(batch)?),
            Engines::Split {
                engines,
                parts,
                size,
                lateness,
                max_ts,
                memory_limit,
                ..
            } => (engines, parts, *size, *lateness, max_ts, *memory_limit),
        };
        // Late rows as one engine finds them: the watermark before each row.
        let mut late = Vec::new();
        let mut keep = vec![true; batch.ts.len()];
        let mut max = *max_ts;
        let mut floors = Floors::new(size);
        for (i, &t) in batch.ts.iter().enumerate() {
            let mark = max.map(|m| m.saturating_sub(lateness));
            let start = floors.of(t);
            if mark.is_some_and(|w| start.saturating_add(size) <= w) {
                late.push(i);
                keep[i] = false;
            }
            max = Some(max.map_or(t, |m| m.max(t)));
        }
        *max_ts = max;
        let Some(beat) = max else {
            return Ok(Pushed::default());
        };
        let n = engines.len();
        let divisor = Divisor::new(n as u32);
        let results: Vec<Result<Pushed>> = std::thread::scope(|scope| {
            let handles: Vec<_> = engines
                .iter_mut()
                .zip(parts.iter_mut())
                .enumerate()
                .map(|(p, (engine, part))| {
                    let keep = &keep;
                    scope.spawn(move || {
                        part.fill(batch, keep, p, divisor, beat);
                        let pushed = engine.push(&part.batch())?;
                        if !pushed.late.is_empty() {
                            return Err(QueryError::Usage(format!(
                                "partition {p} found {} late rows the whole input did not",
                                pushed.late.len()
                            )));
                        }
                        Ok(pushed)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(QueryError::Usage("a partition's thread panicked".into()))
                    })
                })
                .collect()
        });
        let mut closed = Vec::new();
        for r in results {
            closed.push(r?.closed);
        }
        Self::check_memory(engines, limit)?;
        Ok(Pushed {
            closed: merge(closed, n),
            late,
        })
    }

    /// As [`Engine::finish`].
    pub(crate) fn finish(&mut self) -> Closed {
        match self {
            Engines::One(e) => e.finish(),
            Engines::Split { engines, .. } => {
                let n = engines.len();
                merge(engines.iter_mut().map(Engine::finish).collect(), n)
            }
        }
    }
}

/// The closed windows of each partition as one engine gives them: the
/// heartbeat group left out, groups back to the whole input's, ordered by
/// start, then group. Each partition's are in that order already (a local
/// group's order is its global one's), so they merge in one pass.
fn merge(parts: Vec<Closed>, n: usize) -> Closed {
    Closed::merge(parts, |p, k| {
        (k.group != 0).then(|| WindowKey {
            group: (k.group - 1) * n as u32 + p as u32,
            ..k
        })
    })
}

/// Division of group ids by the number of partitions, by multiplication
/// (Lemire, Kaser and Kurz, "Faster remainder by direct computation",
/// 2019): exact for every `u32` and every divisor from 2 on, and a few
/// cycles where a division takes twenty or more, once a row a partition.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Divisor {
    n: u32,
    /// `ceil(2^64 / n)`; unused for `n == 1`.
    m: u64,
}

impl Divisor {
    /// Division by `n` (at least 1).
    pub(crate) fn new(n: u32) -> Divisor {
        let n = n.max(1);
        Divisor {
            n,
            m: (u64::MAX / u64::from(n)).wrapping_add(1),
        }
    }

    /// `(g / n, g % n)`.
    #[inline]
    pub(crate) fn div_rem(self, g: u32) -> (u32, u32) {
        if self.n == 1 {
            return (g, 0);
        }
        let q = ((u128::from(self.m) * u128::from(g)) >> 64) as u32;
        let low = self.m.wrapping_mul(u64::from(g));
        let r = ((u128::from(low) * u128::from(self.n)) >> 64) as u32;
        (q, r)
    }
}

/// The rows of one partition, and its heartbeat.
#[derive(Debug, Default)]
pub(crate) struct Part {
    /// The batch's rows it holds.
    rows: Vec<usize>,
    ts: Vec<i64>,
    groups: Vec<u32>,
    values: Vec<Vec<f64>>,
    valid: Vec<Option<Vec<u32>>>,
    hashes: Vec<Vec<u64>>,
    hash_valid: Vec<Option<Vec<u32>>>,
}

/// Each of `columns`' values at `rows` into `out`'s vectors, then `beat`
/// (the heartbeat row's value).
fn gather_columns<T: Copy>(out: &mut Vec<Vec<T>>, columns: &[&[T]], rows: &[usize], beat: T) {
    out.resize_with(columns.len(), Vec::new);
    for (out, column) in out.iter_mut().zip(columns) {
        out.clear();
        out.extend(rows.iter().map(|&i| column[i]));
        out.push(beat);
    }
}

/// Each validity bitmap's bits at `rows` into `out`'s, then an unset bit
/// for the heartbeat row; `None` stays `None` (every value present).
fn gather_bits(out: &mut Vec<Option<Vec<u32>>>, bitmaps: &[Option<&[u32]>], rows: &[usize]) {
    out.resize_with(bitmaps.len(), || None);
    for (out, words) in out.iter_mut().zip(bitmaps) {
        let Some(words) = words else {
            *out = None;
            continue;
        };
        let bits = out.get_or_insert_with(Vec::new);
        bits.clear();
        for (k, &i) in rows.iter().enumerate() {
            push_bit(bits, k, bit(words, i));
        }
        push_bit(bits, rows.len(), false);
    }
}

fn bit(words: &[u32], i: usize) -> bool {
    words.get(i / 32).is_some_and(|w| w >> (i % 32) & 1 == 1)
}

fn push_bit(words: &mut Vec<u32>, i: usize, set: bool) {
    if i.is_multiple_of(32) {
        words.push(0);
    }
    if set && let Some(w) = words.last_mut() {
        *w |= 1 << (i % 32);
    }
}

impl Part {
    /// Becomes partition `p` of `n`: the kept rows whose group is `p`
    /// modulo `n`, as local groups `g / n + 1`, then the heartbeat at
    /// `beat` in group 0. The vectors keep their memory from batch to batch.
    fn fill(&mut self, batch: &Batch<'_>, keep: &[bool], p: usize, n: Divisor, beat: i64) {
        // Every row is written at `k`, and `k` moves on past the rows this
        // partition keeps: no branch on the partition, whose value goes
        // either way at random from row to row.
        let len = batch.ts.len();
        self.rows.resize(len, 0);
        self.ts.resize(len, 0);
        self.groups.resize(len, 0);
        let mut k = 0;
        for (i, ((&t, &g), &kept)) in batch.ts.iter().zip(batch.groups).zip(keep).enumerate() {
            let (local, part) = n.div_rem(g);
            self.rows[k] = i;
            self.ts[k] = t;
            self.groups[k] = local + 1;
            k += usize::from(kept && part as usize == p);
        }
        self.rows.truncate(k);
        self.ts.truncate(k);
        self.groups.truncate(k);
        self.ts.push(beat);
        self.groups.push(0);
        let rows = &self.rows;
        gather_columns(&mut self.values, &batch.values, rows, 0.0);
        gather_columns(&mut self.hashes, &batch.hashes, rows, 0);
        gather_bits(&mut self.valid, &batch.valid, rows);
        gather_bits(&mut self.hash_valid, &batch.hash_valid, rows);
    }

    fn batch(&self) -> Batch<'_> {
        Batch {
            ts: &self.ts,
            groups: &self.groups,
            values: self.values.iter().map(Vec::as_slice).collect(),
            valid: self.valid.iter().map(Option::as_deref).collect(),
            hashes: self.hashes.iter().map(Vec::as_slice).collect(),
            hash_valid: self.hash_valid.iter().map(Option::as_deref).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn division_by_multiplication_is_division() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let edges = [0, 1, 2, 3, 63, 64, 65, u32::MAX - 1, u32::MAX, 1 << 31];
        for n in (1..=300).chain([1 << 16, 1_000_003, u32::MAX - 1, u32::MAX]) {
            let d = Divisor::new(n);
            let randoms = (0..2000).map(|_| next() as u32);
            for g in edges.into_iter().chain(randoms) {
                assert_eq!(d.div_rem(g), (g / n, g % n), "{g} / {n}");
            }
        }
    }

    #[test]
    fn bits_gather_in_arrow_order() {
        let words = [0b1010u32, 1];
        assert!(!bit(&words, 0) && bit(&words, 1) && bit(&words, 3) && bit(&words, 32));
        let mut out = Vec::new();
        for (k, set) in [true, false, true].into_iter().enumerate() {
            push_bit(&mut out, k, set);
        }
        assert_eq!(out, [0b101]);
    }
}
