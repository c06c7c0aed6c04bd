//! Window aggregation kernels: rows/s of the CPU twin and the GPU kernel on
//! the same batch, at 1, 10,000 and 1,000,000 groups (the kernels' slots
//! capped at the rows: one slot a row at most, as the engine numbers them),
//! with the data in memory (no decode, no dictionary encoding); then the host's side, the
//! engine merging those slots into open windows and closing them.
//!
//! `cargo bench -p osprey-benches --bench aggregate` runs criterion over one
//! batch of 2^19 rows (a timestamp, a group id, two f64 value columns, one
//! with nulls; count/sum/min/max state of both), for
//!
//! - `aggregate/cpu/G` and `aggregate/gpu/G`: one `Aggregator::aggregate`
//!   call, the GPU's upload and readback included;
//! - `engine/cpu/G`: `Engine::push` and `Engine::finish` on the CPU backend,
//!   every row in one tumbling window, so the batch's G slots are merged
//!   into the window's store and handed out as G results.
//!
//! Then, when wgpu finds an adapter, it prints the GPU kernels' own
//! throughput with the data resident: the passes run again on the columns
//! already on the device (`GpuAggregator::rerun_resident`), no transfers.
//! `OSPREY_BENCH_QUICK=1` takes 2^16 rows and short runs;
//! `OSPREY_BENCH_CPU_ONLY=1` leaves the GPU out; criterion's filter picks
//! cases, e.g. `-- engine/cpu`.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use osprey_kernels::cpu::aggregate::CpuAggregator;
use osprey_kernels::gpu::GpuContext;
use osprey_kernels::gpu::aggregate::GpuAggregator;
use osprey_kernels::synth::rows::every_agg;
use osprey_kernels::window::{
    AggInput, AggState, Aggregator, Batch, Engine, EngineConfig, WindowSpec,
};

/// The `osprey` binary's allocator.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Group counts measured (capped at the batch's rows).
const GROUPS: [u32; 3] = [1, 10_000, 1_000_000];

/// One batch of rows, as the engine hands it to the kernels.
struct Data {
    ts: Vec<i64>,
    groups: Vec<u32>,
    values: [Vec<f64>; 2],
    /// The second column's validity bitmap: one row in 16 is null.
    valid: Vec<u32>,
}

/// A seeded xorshift: the bench needs no statistical quality, only the same
/// rows every run.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

impl Data {
    /// `rows` rows over one minute, each of a group drawn from `groups`.
    fn new(rows: usize, groups: u32) -> Self {
        let mut rng = 0x9e37_79b9_7f4a_7c15;
        let mut uniform = || (xorshift(&mut rng) >> 11) as f64 / (1u64 << 53) as f64;
        let ts = (0..rows as i64)
            .map(|i| i * 60_000_000 / rows as i64)
            .collect();
        let groups = (0..rows)
            .map(|_| ((uniform() * f64::from(groups)) as u32).min(groups - 1))
            .collect();
        let values = [
            (0..rows).map(|_| 20.0 + 5.0 * uniform()).collect(),
            (0..rows).map(|_| 100.0 * uniform()).collect(),
        ];
        let valid = (0..rows.div_ceil(32)).map(|_| 0xfffe_fffe).collect();
        Data {
            ts,
            groups,
            values,
            valid,
        }
    }

    /// The kernels' input: one window, so the group id is the slot.
    fn input<'a>(
        &'a self,
        slot_count: u32,
        values: &'a [&'a [f64]; 2],
        valid: &'a [Option<&'a [u32]>; 2],
    ) -> AggInput<'a> {
        AggInput {
            slots: &self.groups,
            slot_count,
            ts: &self.ts,
            values,
            valid,
            first_last: false,
            squares: false,
        }
    }

    fn batch(&self) -> Batch<'_> {
        Batch {
            ts: &self.ts,
            groups: &self.groups,
            values: vec![&self.values[0], &self.values[1]],
            valid: vec![None, Some(&self.valid)],
            hashes: vec![],
            hash_valid: vec![],
        }
    }
}

/// Rows of the batch: 2^19, or 2^16 with `OSPREY_BENCH_QUICK`. At one slot
/// a row, 2^19 rows of state (244 bytes a slot) fit the 128 MiB that
/// lavapipe binds at once; the engine would cut larger batches to it.
fn rows(quick: bool) -> usize {
    if quick { 1 << 16 } else { 1 << 19 }
}

fn bench_kernels(c: &mut Criterion, gpu: &mut Option<GpuAggregator>, quick: bool) {
    let rows = rows(quick);
    let mut group = c.benchmark_group("aggregate");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(if quick { 1 } else { 5 }));
    group.warm_up_time(Duration::from_millis(500));
    group.throughput(Throughput::Elements(rows as u64));
    for groups in GROUPS {
        let slots = groups.min(rows as u32);
        let data = Data::new(rows, slots);
        let values = [&data.values[0][..], &data.values[1][..]];
        let valid = [None, Some(&data.valid[..])];
        let input = data.input(slots, &values, &valid);
        let mut out = AggState::default();
        let mut cpu = CpuAggregator;
        // Computed here too: a filter may skip the CPU case below.
        cpu.aggregate(&input, &mut out).expect("valid input");
        group.bench_function(BenchmarkId::new("cpu", groups), |b| {
            b.iter(|| cpu.aggregate(&input, &mut out).expect("valid input"));
        });
        if let Some(gpu) = gpu.as_mut() {
            let mut on_gpu = AggState::default();
            gpu.aggregate(&input, &mut on_gpu).expect("the device runs");
            assert!(
                on_gpu == out,
                "GPU and CPU states differ at {groups} groups"
            );
            group.bench_function(BenchmarkId::new("gpu", groups), |b| {
                b.iter(|| gpu.aggregate(&input, &mut on_gpu).expect("the device runs"));
            });
        }
    }
    group.finish();
}

fn bench_engine(c: &mut Criterion, quick: bool) {
    let rows = rows(quick);
    let mut group = c.benchmark_group("engine");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(if quick { 1 } else { 5 }));
    group.warm_up_time(Duration::from_millis(500));
    group.throughput(Throughput::Elements(rows as u64));
    for groups in GROUPS {
        let data = Data::new(rows, groups);
        let batch = data.batch();
        let config = EngineConfig {
            window: WindowSpec::Tumbling { size: 60_000_000 },
            // Nothing is ever late, so every iteration reopens the window
            // (on the engine's warm stores) and `finish` closes it.
            lateness: 1 << 62,
            columns: 2,
            hashed: 0,
            pct_columns: 0,
            first_last: false,
            batch_rows: EngineConfig::default_batch_rows(),
            aggs: every_agg(2),
        };
        let mut engine = Engine::new(config, Box::new(CpuAggregator)).expect("a valid config");
        group.bench_function(BenchmarkId::new("cpu", groups), |b| {
            b.iter(|| {
                let pushed = engine.push(&batch).expect("valid batch");
                let results = engine.finish();
                pushed.closed.len() + results.len()
            });
        });
    }
    group.finish();
}

/// The GPU kernels alone, data resident: mean of a few reruns a case.
fn gpu_resident(gpu: &mut GpuAggregator, quick: bool) {
    let rows = rows(quick);
    println!("gpu kernels, data resident ({}), {rows} rows:", gpu.label());
    println!("{:>10} {:>12} {:>14}", "groups", "ms", "rows/s");
    for groups in GROUPS {
        let slots = groups.min(rows as u32);
        let data = Data::new(rows, slots);
        let values = [&data.values[0][..], &data.values[1][..]];
        let valid = [None, Some(&data.valid[..])];
        let mut out = AggState::default();
        gpu.aggregate(&data.input(slots, &values, &valid), &mut out)
            .expect("the device runs");
        let runs = if quick { 3 } else { 10 };
        let total: Duration = (0..runs)
            .map(|_| gpu.rerun_resident().expect("the device runs"))
            .sum();
        let secs = total.as_secs_f64() / f64::from(runs);
        println!(
            "{groups:>10} {:>12.3} {:>14.3e}",
            secs * 1e3,
            rows as f64 / secs
        );
    }
}

fn main() {
    let quick = std::env::var_os("OSPREY_BENCH_QUICK").is_some();
    let opened = if std::env::var_os("OSPREY_BENCH_CPU_ONLY").is_some() {
        Err("OSPREY_BENCH_CPU_ONLY is set".to_owned())
    } else {
        GpuContext::new()
            .and_then(|ctx| GpuAggregator::new(ctx.into()))
            .map_err(|e| e.to_string())
    };
    let mut gpu = match opened {
        Ok(gpu) => {
            eprintln!("gpu adapter: {}", gpu.label());
            Some(gpu)
        }
        Err(e) => {
            eprintln!("gpu backend unavailable ({e}); benchmarking the CPU only");
            None
        }
    };
    let mut c = Criterion::default().configure_from_args();
    bench_kernels(&mut c, &mut gpu, quick);
    bench_engine(&mut c, quick);
    c.final_summary();
    if let Some(gpu) = gpu.as_mut() {
        gpu_resident(gpu, quick);
    }
}
