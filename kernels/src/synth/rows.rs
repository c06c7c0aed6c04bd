//! Seeded rows for window aggregation: a time column with jitter, group ids,
//! two value columns (one with nulls), and a helper that runs them through an
//! [`Engine`] in batches and pieces, finishing [`every_agg`]. Shared by the hopping-window test and
//! the hop benchmark.

use crate::window::{
    AggFunc, AggSlot, Aggregator, Batch, Closed, Engine, EngineConfig, WindowSpec,
};

/// Seeded rows: `rows` over `minutes` minutes in time order with some jitter,
/// `groups` groups, two value columns (the second with one null in 16).
pub struct Rows {
    /// Event times in microseconds, in order but for up to 2 s of jitter.
    pub ts: Vec<i64>,
    /// Each row's group id.
    pub groups: Vec<u32>,
    /// Two value columns.
    pub values: [Vec<f64>; 2],
    /// The second column's validity bits (one null in 16).
    pub valid: Vec<u32>,
}

impl Rows {
    /// `rows` rows over `minutes` minutes in `groups` groups, always the same.
    pub fn new(rows: usize, groups: u32, minutes: i64) -> Self {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let span = minutes * 60_000_000;
        let ts = (0..rows as i64)
            .map(|i| i * span / rows as i64 + (next() % 2_000_000) as i64)
            .collect();
        let groups = (0..rows)
            .map(|_| (next() % u64::from(groups)) as u32)
            .collect();
        let values = [
            (0..rows).map(|_| (next() % 10_000) as f64 / 8.0).collect(),
            (0..rows).map(|_| (next() % 1_000) as f64 - 500.0).collect(),
        ];
        let valid = (0..rows.div_ceil(32)).map(|_| 0xfffe_fffe).collect();
        Rows {
            ts,
            groups,
            values,
            valid,
        }
    }

    /// Rows `from..to` as an engine batch (`from` a multiple of 32).
    pub fn batch(&self, from: usize, to: usize) -> Batch<'_> {
        Batch {
            ts: &self.ts[from..to],
            groups: &self.groups[from..to],
            values: vec![&self.values[0][from..to], &self.values[1][from..to]],
            valid: vec![None, Some(&self.valid[from / 32..to.div_ceil(32)])],
            hashes: vec![],
            hash_valid: vec![],
        }
    }
}

/// Runs `rows` through an engine (3 s of lateness: more than the jitter, so
/// no row is late) in batches of `batch` rows (a multiple of
/// 32) cut into pieces of `piece` rows; every closed window in order.
pub fn run(
    window: WindowSpec,
    backend: Box<dyn Aggregator>,
    rows: &Rows,
    batch: usize,
    piece: usize,
) -> Closed {
    let config = EngineConfig {
        window,
        lateness: 3_000_000,
        columns: 2,
        hashed: 0,
        pct_columns: 0,
        first_last: false,
        batch_rows: piece,
        aggs: every_agg(2),
    };
    let mut engine = Engine::new(config, backend).expect("a valid config");
    let mut out = Closed::new(every_agg(2).len());
    let n = rows.ts.len();
    for from in (0..n).step_by(batch) {
        let pushed = engine
            .push(&rows.batch(from, (from + batch).min(n)))
            .expect("the backend runs");
        out.append(pushed.closed);
    }
    out.append(engine.finish());
    out
}

/// `count(*)`, then every moment aggregate of each of `columns` value
/// columns (count, sum, min, max, avg, var, stddev): whatever of the exact
/// state a result reads, one of these shows a difference in it.
pub fn every_agg(columns: usize) -> Vec<AggSlot> {
    let funcs = [
        AggFunc::Count,
        AggFunc::Sum,
        AggFunc::Min,
        AggFunc::Max,
        AggFunc::Avg,
        AggFunc::Var { sample: true },
        AggFunc::Stddev { sample: false },
    ];
    let mut aggs = vec![AggSlot {
        func: AggFunc::CountStar,
        column: 0,
    }];
    for column in 0..columns {
        aggs.extend(funcs.iter().map(|&func| AggSlot { func, column }));
    }
    aggs
}
