//! Hopping windows, where every row falls into several windows: the engine's
//! results on the GPU equal the CPU twin's on seeded rows cut into several
//! batches and pieces, and with 1024 windows a row (`hop:1s,1024s`) each row
//! is aggregated once, into its pane, and the windows equal a brute-force
//! count, sum, max and p99 of their rows. Their timing is a benchmark:
//! `cargo bench -p osprey-benches --bench hop`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use osprey_kernels::cpu::aggregate::CpuAggregator;
use osprey_kernels::gpu::aggregate::GpuAggregator;
use osprey_kernels::synth::rows::{Rows, run};
use osprey_kernels::window::acc::AggValue;
use osprey_kernels::window::layout::NO_SLOT;
use osprey_kernels::window::sketch::ALPHA;
use osprey_kernels::window::spec::AggFunc;
use osprey_kernels::window::{
    AggInput, AggSlot, AggState, Aggregator, Batch, Closed, Engine, EngineConfig, WindowSpec,
};

use crate::common::gpu_context;

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
    // The merged state is exact integers on both sides, and every moment
    // aggregate of it is finished (`every_agg`): equal bit for bit.
    assert!(cpu == gpu, "the GPU's windows differ from the CPU twin's");
    // Every row is in six windows: the counts say so (count(*) first).
    let count: u64 = cpu
        .iter()
        .map(|(_, values)| match values[0] {
            AggValue::Int(n) => n,
            other => panic!("count is {other:?}"),
        })
        .sum();
    assert_eq!(count, 6 * 20_000);
}

/// The CPU twin, counting the rows it is handed in a slot, pass by pass.
struct Counting(Arc<AtomicU64>);

impl Aggregator for Counting {
    fn label(&self) -> String {
        "counting cpu".into()
    }

    fn is_gpu(&self) -> bool {
        false
    }

    fn aggregate(
        &mut self,
        input: &AggInput<'_>,
        out: &mut AggState,
    ) -> osprey_kernels::Result<()> {
        let rows = input.slots.iter().filter(|&&s| s != NO_SLOT).count();
        self.0.fetch_add(rows as u64, Ordering::Relaxed);
        CpuAggregator.aggregate(input, out)
    }
}

#[test]
fn hopping_windows_share_panes() {
    const SIZE: i64 = 1024;
    // One row a second over 3000 s, 50 keys.
    let rows: Vec<(i64, u32, f64)> = (0..3000i64)
        .map(|i| (i, (i * 7 % 50) as u32, (i % 97) as f64 - 40.0))
        .collect();
    let counted = Arc::new(AtomicU64::new(0));
    let config = EngineConfig {
        window: WindowSpec::Hop {
            slide: 1_000_000,
            size: SIZE * 1_000_000,
        },
        lateness: 0,
        columns: 1,
        hashed: 0,
        pct_columns: 1,
        first_last: false,
        batch_rows: 256,
        aggs: [
            AggFunc::CountStar,
            AggFunc::Sum,
            AggFunc::Max,
            AggFunc::Percentile(0.99),
        ]
        .into_iter()
        .map(|func| AggSlot { func, column: 0 })
        .collect(),
    };
    let mut engine = Engine::new(config, Box::new(Counting(Arc::clone(&counted)))).expect("engine");
    let mut got = Closed::new(4);
    for chunk in rows.chunks(500) {
        let ts: Vec<i64> = chunk.iter().map(|r| r.0 * 1_000_000).collect();
        let groups: Vec<u32> = chunk.iter().map(|r| r.1).collect();
        let values: Vec<f64> = chunk.iter().map(|r| r.2).collect();
        let batch = Batch {
            ts: &ts,
            groups: &groups,
            values: vec![&values],
            valid: vec![None],
            hashes: vec![],
            hash_valid: vec![],
        };
        let pushed = engine.push(&batch).expect("push");
        assert!(pushed.late.is_empty());
        got.append(pushed.closed);
        // Panes, not windows: one entry a row of the last 1024 s (windows
        // would hold every key in each of 1024 windows, 50 times as many).
        assert!(engine.open_slots() <= 2 * 1024, "{}", engine.open_slots());
    }
    got.append(engine.finish());
    // Each row went to the backend once, not once per window.
    assert_eq!(counted.load(Ordering::Relaxed), rows.len() as u64);
    // Brute force: every window start from -1023 s to 2999 s, every key.
    let by_key: Vec<Vec<(i64, f64)>> = (0..50u32)
        .map(|k| {
            rows.iter()
                .filter(|r| r.1 == k)
                .map(|r| (r.0, r.2))
                .collect()
        })
        .collect();
    let mut want = Vec::new();
    for start in (1 - SIZE)..3000 {
        for (key, of_key) in by_key.iter().enumerate() {
            let from = of_key.partition_point(|r| r.0 < start);
            let to = of_key.partition_point(|r| r.0 < start + SIZE);
            let mut v: Vec<f64> = of_key[from..to].iter().map(|r| r.1).collect();
            if v.is_empty() {
                continue;
            }
            v.sort_by(f64::total_cmp);
            let p99 = v[((0.99 * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
            let sum: f64 = v.iter().sum();
            want.push((start, key as u32, v.len() as u64, sum, v[v.len() - 1], p99));
        }
    }
    assert_eq!(got.len(), want.len());
    for ((w, values), (start, key, n, sum, max, p99)) in got.iter().zip(want) {
        assert_eq!(
            (w.start, w.end, w.group),
            (start * 1_000_000, (start + SIZE) * 1_000_000, key)
        );
        assert_eq!(values[0], AggValue::Int(n));
        assert_eq!(values[1], AggValue::Float(sum));
        assert_eq!(values[2], AggValue::Float(max));
        match values[3] {
            AggValue::Float(p) => assert!((p - p99).abs() <= ALPHA * p99.abs(), "{p} {p99}"),
            other => panic!("{other:?}"),
        }
    }
}
