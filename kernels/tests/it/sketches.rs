//! Percentile sketches against exact `quantile_disc` (the sorted values'
//! element of rank `max(1, ceil(q·n))`), and distinct counts, through the
//! engine on both backends: groups of 1, 100 and 100,000 values, uniform and
//! skewed (log-normal over twelve decades, both signs).

use osprey_kernels::cpu::aggregate::CpuAggregator;
use osprey_kernels::gpu::aggregate::GpuAggregator;
use osprey_kernels::window::acc::AggValue;
use osprey_kernels::window::sketch::{ALPHA, EXACT_VALUES};
use osprey_kernels::window::{
    AggFunc, AggSlot, Aggregator, Batch, Closed, Engine, EngineConfig, WindowSpec,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::common::gpu_context;

const QS: [f64; 6] = [0.0, 0.01, 0.5, 0.9, 0.99, 1.0];

fn groups() -> Vec<Vec<f64>> {
    let mut rng = StdRng::seed_from_u64(7);
    let uniform = |n: usize, rng: &mut StdRng| -> Vec<f64> {
        (0..n).map(|_| rng.random_range(-50.0..150.0)).collect()
    };
    let skewed = |n: usize, rng: &mut StdRng| -> Vec<f64> {
        (0..n)
            .map(|_| {
                let sign = if rng.random_range(0..10) == 0 {
                    -1.0
                } else {
                    1.0
                };
                sign * 10f64.powf(rng.random_range(-4.0..8.0f64).powi(2) / 8.0)
            })
            .collect()
    };
    vec![
        uniform(1, &mut rng),
        skewed(1, &mut rng),
        uniform(100, &mut rng),
        skewed(100, &mut rng),
        uniform(100_000, &mut rng),
        skewed(100_000, &mut rng),
    ]
}

/// Per group: the percentiles of `QS` and the distinct count.
fn run(groups: &[Vec<f64>], backend: Box<dyn Aggregator>) -> Vec<(Vec<f64>, u64)> {
    let mut rows: Vec<(u32, f64)> = Vec::new();
    for (g, values) in groups.iter().enumerate() {
        rows.extend(values.iter().map(|&v| (g as u32, v)));
    }
    // Interleave the groups, as a stream would.
    rows.sort_by_key(|r| (r.1.to_bits().wrapping_mul(0x9e37_79b9_7f4a_7c15), r.0));
    let config = EngineConfig {
        window: WindowSpec::Tumbling { size: 60_000_000 },
        lateness: 0,
        columns: 1,
        hashed: 1,
        pct_columns: 1,
        first_last: false,
        batch_rows: 16_384,
        aggs: QS
            .iter()
            .map(|&q| AggFunc::Percentile(q))
            .chain([AggFunc::ApproxDistinct])
            .map(|func| AggSlot { func, column: 0 })
            .collect(),
    };
    let mut engine = Engine::new(config, backend).expect("engine");
    let mut closed = Closed::new(QS.len() + 1);
    for chunk in rows.chunks(50_000) {
        let ts = vec![1_000_000; chunk.len()];
        let group_ids: Vec<u32> = chunk.iter().map(|r| r.0).collect();
        let values: Vec<f64> = chunk.iter().map(|r| r.1).collect();
        let hashes: Vec<u64> = values
            .iter()
            .map(|v| {
                v.to_bits()
                    .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                    .rotate_left(29)
            })
            .collect();
        let batch = Batch {
            ts: &ts,
            groups: &group_ids,
            values: vec![&values],
            valid: vec![None],
            hashes: vec![&hashes],
            hash_valid: vec![None],
        };
        closed.append(engine.push(&batch).expect("push").closed);
    }
    closed.append(engine.finish());
    closed
        .iter()
        .map(|(_, values)| {
            let pcts = values[..QS.len()]
                .iter()
                .map(|v| match v {
                    AggValue::Float(v) => *v,
                    other => panic!("{other:?}"),
                })
                .collect();
            let AggValue::Int(d) = values[QS.len()] else {
                panic!()
            };
            (pcts, d)
        })
        .collect()
}

#[test]
fn percentiles_hold_their_error_bound_on_both_backends() {
    let groups = groups();
    let cpu = run(&groups, Box::new(CpuAggregator));
    let gpu = run(
        &groups,
        Box::new(GpuAggregator::new(gpu_context()).expect("gpu")),
    );
    assert_eq!(cpu, gpu, "the backends agree bit for bit");
    for (g, (values, (pcts, distinct))) in groups.iter().zip(&cpu).enumerate() {
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        for (&q, &got) in QS.iter().zip(pcts) {
            let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
            let exact = sorted[rank - 1];
            if n <= EXACT_VALUES {
                assert_eq!(got, exact, "group {g} q {q}");
            } else {
                assert!(
                    (got - exact).abs() <= ALPHA * exact.abs(),
                    "group {g} q {q}: {got} against {exact}"
                );
            }
        }
        let err = (*distinct as f64 - n as f64).abs() / n as f64;
        assert!(err <= 0.1, "group {g}: {distinct} distinct of {n}");
    }
}
