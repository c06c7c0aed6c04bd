//! Hopping windows, where every row falls into several windows: the engine's
//! results on the GPU equal the CPU twin's on seeded rows cut into several
//! batches and pieces, and a timing run by hand (`-- --ignored hop_timing
//! --nocapture`) of `hop:10s,1m` against `tumble:1m` on both backends, and of
//! six passes over one piece sent a call each against one call for all.

use std::time::{Duration, Instant};

use osprey_kernels::cpu::aggregate::CpuAggregator;
use osprey_kernels::gpu::aggregate::GpuAggregator;
use osprey_kernels::window::acc::AggValue;
use osprey_kernels::window::spec::AggFunc;
use osprey_kernels::window::{
    AggInput, AggState, Aggregator, Batch, Engine, EngineConfig, SlotPass, WindowResult, WindowSpec,
};

use crate::common::gpu_context;

/// Seeded rows: `rows` over `minutes` minutes in time order with some jitter,
/// `groups` groups, two value columns (the second with one null in 16).
struct Rows {
    ts: Vec<i64>,
    groups: Vec<u32>,
    values: [Vec<f64>; 2],
    valid: Vec<u32>,
}

impl Rows {
    fn new(rows: usize, groups: u32, minutes: i64) -> Self {
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

    fn batch(&self, from: usize, to: usize) -> Batch<'_> {
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
fn run(
    window: WindowSpec,
    backend: Box<dyn Aggregator>,
    rows: &Rows,
    batch: usize,
    piece: usize,
) -> Vec<WindowResult> {
    let config = EngineConfig {
        window,
        lateness: 3_000_000,
        columns: 2,
        hashed: 0,
        pct_columns: 0,
        first_last: false,
        batch_rows: piece,
    };
    let mut engine = Engine::new(config, backend).expect("a valid config");
    let mut out = Vec::new();
    let n = rows.ts.len();
    for from in (0..n).step_by(batch) {
        let pushed = engine
            .push(&rows.batch(from, (from + batch).min(n)))
            .expect("the backend runs");
        out.extend(pushed.closed);
    }
    out.extend(engine.finish());
    out
}

const HOP: WindowSpec = WindowSpec::Hop {
    slide: 10_000_000,
    size: 60_000_000,
};

#[test]
fn hopping_windows_agree_on_both_backends() {
    let rows = Rows::new(20_000, 37, 5);
    let cpu = run(HOP, Box::new(CpuAggregator), &rows, 4096, 1024);
    let gpu = GpuAggregator::new(gpu_context()).expect("pipelines build");
    let gpu = run(HOP, Box::new(gpu), &rows, 4096, 1024);
    assert!(cpu.len() > 37 * 30, "{} windows", cpu.len());
    // The merged state is exact integers on both sides: equal as a whole.
    assert!(cpu == gpu, "the GPU's windows differ from the CPU twin's");
    // Every row is in six windows: the counts say so.
    let count: u64 = cpu
        .iter()
        .map(|r| match r.acc.finish(AggFunc::CountStar, 0) {
            AggValue::Int(n) => n,
            other => panic!("count is {other:?}"),
        })
        .sum();
    assert_eq!(count, 6 * 20_000);
}

/// Best of three runs of `rows` through a fresh engine.
fn best(window: WindowSpec, make: &dyn Fn() -> Box<dyn Aggregator>, rows: &Rows) -> Duration {
    (0..3)
        .map(|_| {
            let started = Instant::now();
            let out = run(window, make(), rows, 1 << 18, 1 << 18);
            assert!(!out.is_empty());
            started.elapsed()
        })
        .min()
        .expect("three runs")
}

#[test]
#[ignore = "a timing, run by hand with --ignored --nocapture"]
fn hop_timing() {
    let rows = Rows::new(1 << 20, 1000, 10);
    let cpu = || Box::new(CpuAggregator) as Box<dyn Aggregator>;
    let ctx = gpu_context();
    let gpu = move || {
        Box::new(GpuAggregator::new(ctx.clone()).expect("pipelines build")) as Box<dyn Aggregator>
    };
    let tumble = WindowSpec::Tumbling { size: 60_000_000 };
    for (name, make) in [("cpu", &cpu as &dyn Fn() -> _), ("gpu", &gpu)] {
        // The aggregator alone, six passes over one piece of 2^18 rows:
        // one call a pass (the columns sent six times) against one call
        // for all six (the columns sent once).
        let piece = 1 << 18;
        let values = [&rows.values[0][..piece], &rows.values[1][..piece]];
        let valid = [None, Some(&rows.valid[..piece / 32])];
        let input = AggInput {
            slots: &[],
            slot_count: 0,
            ts: &rows.ts[..piece],
            values: &values,
            valid: &valid,
            hashes: &[],
            hash_valid: &[],
            pct_columns: 0,
            first_last: false,
        };
        let slots: Vec<Vec<u32>> = (0..6u32)
            .map(|j| {
                rows.groups[..piece]
                    .iter()
                    .map(|g| (g + j) % 1000)
                    .collect()
            })
            .collect();
        let passes: Vec<SlotPass<'_>> = slots
            .iter()
            .map(|s| SlotPass {
                slots: s,
                slot_count: 1000,
            })
            .collect();
        let mut agg = make();
        let mut state = AggState::default();
        let time = |f: &mut dyn FnMut()| {
            (0..5)
                .map(|_| {
                    let started = Instant::now();
                    f();
                    started.elapsed()
                })
                .min()
                .expect("five runs")
        };
        let each = time(&mut || {
            for pass in &passes {
                agg.aggregate(&pass.of(&input), &mut state).expect("runs");
            }
        });
        let once = time(&mut || {
            agg.aggregate_passes(&input, &passes, &mut state, &mut |_, _| {})
                .expect("runs");
        });
        println!(
            "{name}: 6 passes over 2^18 rows: a call each {:.1} ms, one call {:.1} ms",
            each.as_secs_f64() * 1e3,
            once.as_secs_f64() * 1e3
        );
        let (t, h) = (best(tumble, make, &rows), best(HOP, make, &rows));
        println!(
            "{name}: 2^20 rows, tumble:1m {:.1} ms, hop:10s,1m {:.1} ms ({:.2}x)",
            t.as_secs_f64() * 1e3,
            h.as_secs_f64() * 1e3,
            h.as_secs_f64() / t.as_secs_f64()
        );
    }
}
