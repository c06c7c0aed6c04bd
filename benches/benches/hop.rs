//! Hopping windows against tumbling ones, on both backends: `hop:10s,1m`
//! (every row in six windows) against `tumble:1m` over 2^20 seeded rows
//! through the whole engine, and, for the aggregator alone, six passes over
//! one piece of 2^18 rows sent a call each (the columns uploaded six times)
//! against one `aggregate_passes` call for all six (the columns uploaded
//! once).
//!
//! `cargo bench -p osprey-benches --bench hop` (best of several runs each;
//! the GPU is whatever wgpu finds: lavapipe where there is no GPU).

use std::sync::Arc;
use std::time::{Duration, Instant};

use osprey_kernels::cpu::aggregate::CpuAggregator;
use osprey_kernels::gpu::GpuContext;
use osprey_kernels::gpu::aggregate::GpuAggregator;
use osprey_kernels::synth::rows::{Rows, run};
use osprey_kernels::window::{AggInput, AggState, Aggregator, SlotPass, WindowSpec};

/// The `osprey` binary's allocator.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const HOP: WindowSpec = WindowSpec::Hop {
    slide: 10_000_000,
    size: 60_000_000,
};

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

fn main() {
    let rows = Rows::new(1 << 20, 1000, 10);
    let cpu = || Box::new(CpuAggregator) as Box<dyn Aggregator>;
    time_backend("cpu", &cpu, &rows);
    match GpuContext::new() {
        Ok(ctx) => {
            println!("gpu: {}", ctx.summary());
            let ctx = Arc::new(ctx);
            let gpu = move || {
                Box::new(GpuAggregator::new(ctx.clone()).expect("pipelines build"))
                    as Box<dyn Aggregator>
            };
            time_backend("gpu", &gpu, &rows);
        }
        Err(e) => println!("no wgpu adapter ({e}): the GPU is left out"),
    }
}

/// Times one backend: the aggregator alone, then the whole engine.
fn time_backend(name: &str, make: &dyn Fn() -> Box<dyn Aggregator>, rows: &Rows) {
    let tumble = WindowSpec::Tumbling { size: 60_000_000 };
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
        first_last: false,
        squares: false,
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
    let (t, h) = (best(tumble, make, rows), best(HOP, make, rows));
    println!(
        "{name}: 2^20 rows, tumble:1m {:.1} ms, hop:10s,1m {:.1} ms ({:.2}x)",
        t.as_secs_f64() * 1e3,
        h.as_secs_f64() * 1e3,
        h.as_secs_f64() / t.as_secs_f64()
    );
}
