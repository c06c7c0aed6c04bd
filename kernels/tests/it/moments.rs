//! Every moment aggregate (sum, avg, var_pop/var_samp, stddev_pop/stddev_samp)
//! correctly rounded, on both backends, against exact rational arithmetic in
//! Python (`fractions`, integer square roots): groups whose values cancel,
//! with mixed signs and magnitudes from 1e-8 to 1e12, cut into small pieces
//! so the host merges states of different anchors.

use std::io::Write;
use std::process::{Command, Stdio};

use osprey_kernels::cpu::aggregate::CpuAggregator;
use osprey_kernels::gpu::aggregate::GpuAggregator;
use osprey_kernels::window::acc::AggValue;
use osprey_kernels::window::{
    AggFunc, AggSlot, Aggregator, Batch, Closed, Engine, EngineConfig, WindowSpec,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::common::gpu_context;

/// The aggregates checked, in the order the Python reference prints them.
const FUNCS: [AggFunc; 6] = [
    AggFunc::Sum,
    AggFunc::Avg,
    AggFunc::Var { sample: false },
    AggFunc::Var { sample: true },
    AggFunc::Stddev { sample: false },
    AggFunc::Stddev { sample: true },
];

/// Reads `group bits` lines; prints, per group, the six aggregates' f64 bits
/// (or `null`), each the float nearest the exact value.
const REFERENCE: &str = r#"
import sys, struct
from fractions import Fraction
from math import isqrt

def f(bits):
    return Fraction(struct.unpack('<d', struct.pack('<Q', bits))[0])

def out(x):
    return 'null' if x is None else str(struct.unpack('<Q', struct.pack('<d', float(x)))[0])

def sqrt_rounded(v):
    # floor(sqrt(v * 4^k)) with >= 60 bits; a half unit below it stands
    # for the remainder, so float() rounds as the exact root would.
    p, q = v.numerator, v.denominator
    if p == 0:
        return Fraction(0)
    k = max(0, 62 - (p.bit_length() - q.bit_length()) // 2)
    t, rem = divmod(p << (2 * k), q)
    r = isqrt(t)
    if rem == 0 and r * r == t:
        return Fraction(r, 1 << k)
    return Fraction(2 * r + 1, 1 << (k + 1))

groups = {}
for line in sys.stdin:
    g, b = line.split()
    groups.setdefault(int(g), []).append(f(int(b)))
for g in sorted(groups):
    xs = groups[g]
    n = len(xs)
    s = sum(xs)
    m2 = sum((x - s / n) ** 2 for x in xs)
    pop = m2 / n
    samp = m2 / (n - 1) if n > 1 else None
    vals = [s, s / n, pop, samp, sqrt_rounded(pop), None if samp is None else sqrt_rounded(samp)]
    print(g, ' '.join(out(v) for v in vals))
"#;

/// Groups of values that cancel, magnitudes 1e-8 to 1e12.
fn groups(seed: u64) -> Vec<Vec<f64>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let sign = |rng: &mut StdRng| if rng.random::<bool>() { 1.0 } else { -1.0 };
    let wide = |rng: &mut StdRng, lo: f64, hi: f64| 10f64.powf(rng.random_range(lo..hi));
    let mut out = Vec::new();
    // Mixed signs across twenty decades.
    out.push(
        (0..300)
            .map(|_| sign(&mut rng) * wide(&mut rng, -8.0, 12.0))
            .collect(),
    );
    // Near 1e12, spread by 1e-3: the naive variance loses every digit.
    out.push(
        (0..300)
            .map(|_| 1e12 + f64::from(rng.random_range(-1000..1000)) * 2f64.powi(-10))
            .collect(),
    );
    // Pairs x, -x + tiny: the sum is the tinies.
    let mut pairs = Vec::new();
    for _ in 0..100 {
        let x = sign(&mut rng) * wide(&mut rng, 0.0, 12.0);
        pairs.push(x);
        pairs.push(-x + wide(&mut rng, -8.0, -2.0));
    }
    out.push(pairs);
    out.push(vec![1e12, 1e-8]);
    out.push(vec![0.1; 50]);
    out.push(vec![-7.25e-8]);
    out.push(vec![-3e-8, 5e11, -5e11, 1e-8, 3e-8]);
    out.push(vec![2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
    out
}

/// The reference's bits per group and aggregate (`None` for null).
fn reference(groups: &[Vec<f64>]) -> Vec<Vec<Option<u64>>> {
    let mut child = Command::new("python3")
        .args(["-c", REFERENCE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut input = String::new();
    for (g, values) in groups.iter().enumerate() {
        for v in values {
            input.push_str(&format!("{g} {}\n", v.to_bits()));
        }
    }
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input.as_bytes())
        .expect("python3 reads the values");
    let output = child.wait_with_output().expect("python3 ends");
    assert!(output.status.success(), "the reference failed");
    String::from_utf8(output.stdout)
        .expect("the reference prints text")
        .lines()
        .map(|line| {
            line.split_whitespace()
                .skip(1)
                .map(|v| v.parse().ok())
                .collect()
        })
        .collect()
}

/// The engine's aggregates per group, every row in one tumbling window, in
/// pieces of 32 rows, the groups' rows interleaved.
fn engine(groups: &[Vec<f64>], backend: Box<dyn Aggregator>) -> Vec<Vec<Option<u64>>> {
    let mut rows: Vec<(u32, f64)> = Vec::new();
    let longest = groups.iter().map(Vec::len).max().unwrap_or(0);
    for i in 0..longest {
        for (g, values) in groups.iter().enumerate() {
            if let Some(&v) = values.get(i) {
                rows.push((g as u32, v));
            }
        }
    }
    let config = EngineConfig {
        window: WindowSpec::Tumbling { size: 60_000_000 },
        lateness: 0,
        columns: 1,
        hashed: 0,
        pct_columns: 0,
        first_last: false,
        batch_rows: 32,
        aggs: FUNCS
            .iter()
            .map(|&func| AggSlot { func, column: 0 })
            .collect(),
    };
    let mut engine = Engine::new(config, backend).expect("engine");
    let mut closed = Closed::new(FUNCS.len());
    for chunk in rows.chunks(100) {
        let ts = vec![1_000_000; chunk.len()];
        let group_ids: Vec<u32> = chunk.iter().map(|r| r.0).collect();
        let values: Vec<f64> = chunk.iter().map(|r| r.1).collect();
        let batch = Batch {
            ts: &ts,
            groups: &group_ids,
            values: vec![&values],
            valid: vec![None],
            hashes: vec![],
            hash_valid: vec![],
        };
        closed.append(engine.push(&batch).expect("push").closed);
    }
    closed.append(engine.finish());
    assert_eq!(closed.len(), groups.len());
    closed
        .iter()
        .map(|(_, values)| {
            FUNCS
                .iter()
                .zip(values)
                .map(|(&f, &v)| match v {
                    AggValue::Float(v) => Some(v.to_bits()),
                    AggValue::Null => None,
                    AggValue::Int(n) => panic!("{f:?} gave an integer {n}"),
                })
                .collect()
        })
        .collect()
}

#[test]
fn moments_are_correctly_rounded_on_both_backends() {
    let groups = groups(18);
    let want = reference(&groups);
    assert_eq!(want.len(), groups.len());
    let backends: [(&str, Box<dyn Aggregator>); 2] = [
        ("cpu", Box::new(CpuAggregator)),
        (
            "gpu",
            Box::new(GpuAggregator::new(gpu_context()).expect("gpu")),
        ),
    ];
    for (name, backend) in backends {
        let got = engine(&groups, backend);
        for (g, (got, want)) in got.iter().zip(&want).enumerate() {
            for (k, f) in FUNCS.iter().enumerate() {
                assert_eq!(
                    got[k].map(f64::from_bits),
                    want[k].map(f64::from_bits),
                    "{name}: group {g} {f:?}"
                );
            }
        }
    }
    // The naive finish (mean of squares minus squared mean) is far off on
    // group 1, so the check above can fail.
    let ones = &groups[1];
    let n = ones.len() as f64;
    let mean = ones.iter().sum::<f64>() / n;
    let naive = ones.iter().map(|x| x * x).sum::<f64>() / n - mean * mean;
    let exact = f64::from_bits(want[1][2].expect("a variance"));
    assert!((naive - exact).abs() > exact * 1e-3, "{naive} {exact}");
}
