//! Window aggregation: the GPU kernel against its CPU twin word for word on
//! seeded random batches (nulls, NaN, infinities, -0, subnormals, one row,
//! no rows, many slots; with and without first/last and the squares), the shader's constants against the Rust side, the
//! fixed-point sums against exact integer arithmetic, and the engine's
//! windows, watermark and late rows.

use naga::valid::{Capabilities, ValidationFlags, Validator};
use osprey_kernels::KernelError;
use osprey_kernels::cpu::aggregate::CpuAggregator;
use osprey_kernels::gpu::aggregate::{self, GpuAggregator};
use osprey_kernels::window::acc::{AggValue, SlotAcc};
use osprey_kernels::window::layout::{self, NO_SLOT, col};
use osprey_kernels::window::sketch::Quantiles;
use osprey_kernels::window::{
    AggFunc, AggInput, AggSlot, AggState, Aggregator, Batch, Closed, Engine, EngineConfig,
    WindowSpec,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::common::gpu_context;

/// One random batch, owned.
struct Data {
    slots: Vec<u32>,
    slot_count: u32,
    ts: Vec<i64>,
    values: Vec<Vec<f64>>,
    valid: Vec<Option<Vec<u32>>>,
}

fn special(rng: &mut StdRng) -> f64 {
    match rng.random_range(0..14) {
        0 => f64::NAN,
        1 => f64::INFINITY,
        2 => f64::NEG_INFINITY,
        3 => -0.0,
        4 => 0.0,
        5 => f64::MIN_POSITIVE / 8.0 * f64::from(rng.random_range(1..100)),
        6 => -f64::MAX / 2.0,
        7 => 1e300 * rng.random::<f64>(),
        8 => -1e-300 * rng.random::<f64>(),
        _ => (rng.random::<f64>() - 0.5) * 10f64.powi(rng.random_range(-20..20)),
    }
}

fn bitmap(rng: &mut StdRng, rows: usize, null_share: f64) -> Vec<u32> {
    let mut v = vec![0u32; rows.div_ceil(32)];
    for r in 0..rows {
        if rng.random::<f64>() >= null_share {
            v[r / 32] |= 1 << (r % 32);
        }
    }
    v
}

fn data(seed: u64, rows: usize, slot_count: u32, specials: bool) -> Data {
    let mut rng = StdRng::seed_from_u64(seed);
    let slots = (0..rows)
        .map(|_| {
            if slot_count == 0 || rng.random_range(0..20) == 0 {
                NO_SLOT
            } else {
                rng.random_range(0..slot_count)
            }
        })
        .collect();
    let ts = (0..rows)
        .map(|_| rng.random_range(-5_000..5_000_000))
        .collect();
    let mut values = Vec::new();
    let mut valid = Vec::new();
    for c in 0..3 {
        values.push(
            (0..rows)
                .map(|_| {
                    if specials && rng.random_range(0..6) == 0 {
                        special(&mut rng)
                    } else if c == 2 {
                        f64::from(rng.random_range(-50..50))
                    } else {
                        rng.random::<f64>() * 100.0 - 20.0
                    }
                })
                .collect(),
        );
        valid.push((c != 1).then(|| bitmap(&mut rng, rows, 0.1)));
    }
    Data {
        slots,
        slot_count,
        ts,
        values,
        valid,
    }
}

/// What a run asks of the kernels: first/last, squares.
type Asks = (bool, bool);

fn run(agg: &mut dyn Aggregator, d: &Data, (first_last, squares): Asks) -> AggState {
    let values: Vec<&[f64]> = d.values.iter().map(Vec::as_slice).collect();
    let valid: Vec<Option<&[u32]>> = d.valid.iter().map(|v| v.as_deref()).collect();
    let input = AggInput {
        slots: &d.slots,
        slot_count: d.slot_count,
        ts: &d.ts,
        values: &values,
        valid: &valid,
        first_last,
        squares,
    };
    let mut out = AggState::default();
    agg.aggregate(&input, &mut out).expect("aggregation runs");
    out
}

#[test]
fn gpu_state_equals_the_cpu_twin_word_for_word() {
    let mut gpu = GpuAggregator::new(gpu_context()).expect("pipelines build");
    let mut cpu = CpuAggregator;
    let cases = [
        (1, 0, 0, true),
        (2, 1, 1, true),
        (3, 100, 1, true),
        (4, 3000, 7, true),
        (5, 5000, 2500, true),
        (6, 20_000, 40, false),
        (7, 40_000, 15_000, true),
    ];
    for (seed, rows, slots, specials) in cases {
        let d = data(seed, rows, slots, specials);
        // With and without first/last and the squares (only var and stddev
        // ask for them).
        for asks in [(false, false), (true, true), (true, false)] {
            let want = run(&mut cpu, &d, asks);
            let got = run(&mut gpu, &d, asks);
            assert_eq!(got.words.len(), want.words.len(), "seed {seed}");
            if let Some(i) = (0..want.words.len()).find(|&i| got.words[i] != want.words[i]) {
                let stride = layout::slot_words(3) as usize;
                panic!(
                    "seed {seed} {asks:?}: slot {} word {} differs: gpu {:#x} cpu {:#x}",
                    i / stride,
                    i % stride,
                    got.words[i],
                    want.words[i]
                );
            }
        }
    }
}

#[test]
fn empty_and_skipped_rows_give_initial_state() {
    let mut gpu = GpuAggregator::new(gpu_context()).expect("pipelines build");
    let mut d = data(9, 64, 4, true);
    d.slots.iter_mut().for_each(|s| *s = NO_SLOT);
    let got = run(&mut gpu, &d, (true, true));
    let want = run(&mut CpuAggregator, &d, (true, true));
    assert_eq!(got, want);
    let init = layout::slot_init(3);
    assert_eq!(&got.words[..init.len()], &init[..]);
}

/// The finished aggregates of a single slot of `values`.
fn finish_one(values: &[f64]) -> SlotAcc {
    let d = Data {
        slots: vec![0; values.len()],
        slot_count: 1,
        ts: (0..values.len() as i64).collect(),
        values: vec![values.to_vec()],
        valid: vec![None],
    };
    let state = run(&mut CpuAggregator, &d, (true, true));
    let mut acc = SlotAcc::from_state(&state, 0, &[values]);
    let mut pct = Quantiles::default();
    for &v in values.iter().filter(|v| !v.is_nan()) {
        pct.insert(v);
    }
    acc.columns[0].pct = Some(pct);
    acc
}

#[test]
fn sums_are_exact_and_specials_follow_sql() {
    // Exact: integers times a common power of two, summed in i128.
    let mut rng = StdRng::seed_from_u64(11);
    let ints: Vec<i64> = (0..5000)
        .map(|_| rng.random_range(-(1i64 << 52)..(1 << 52)))
        .collect();
    let values: Vec<f64> = ints.iter().map(|&i| i as f64 * 2f64.powi(-30)).collect();
    let exact: i128 = ints.iter().map(|&i| i128::from(i)).sum();
    let acc = finish_one(&values);
    assert_eq!(
        acc.finish(AggFunc::Sum, 0),
        AggValue::Float(exact as f64 * 2f64.powi(-30))
    );
    // Cancellation that naive f64 summation gets wrong (it gives 2^-50).
    let big = 2f64.powi(60);
    let acc = finish_one(&[big, 1.0, -big, 2f64.powi(-50)]);
    assert_eq!(
        acc.finish(AggFunc::Sum, 0),
        AggValue::Float(1.0 + 2f64.powi(-50))
    );
    // The documented limit: bits more than 124 below the largest magnitude
    // of the window are truncated (values more than 72 binades below it
    // lose bits); 1e-8 beside 1e12 (66 binades) is exact.
    let acc = finish_one(&[1e100, 1.0, -1e100]);
    assert_eq!(acc.finish(AggFunc::Sum, 0), AggValue::Float(0.0));
    let acc = finish_one(&[1e12, 1e-8, -1e12]);
    assert_eq!(acc.finish(AggFunc::Sum, 0), AggValue::Float(1e-8));
    // Correctly rounded, as Python's math.fsum: 0.6 (left to right gives 0.6000000000000001).
    let acc = finish_one(&[0.1, 0.2, 0.3]);
    assert_eq!(acc.finish(AggFunc::Sum, 0), AggValue::Float(0.6));
    // Specials.
    assert!(
        matches!(finish_one(&[1.0, f64::NAN]).finish(AggFunc::Sum, 0), AggValue::Float(v) if v.is_nan())
    );
    assert!(
        matches!(finish_one(&[f64::INFINITY, f64::NEG_INFINITY]).finish(AggFunc::Sum, 0), AggValue::Float(v) if v.is_nan())
    );
    assert_eq!(
        finish_one(&[f64::INFINITY, 1.0]).finish(AggFunc::Sum, 0),
        AggValue::Float(f64::INFINITY)
    );
    let acc = finish_one(&[-0.0, 0.0, 3.0, f64::NAN]);
    assert!(matches!(acc.finish(AggFunc::Max, 0), AggValue::Float(v) if v.is_nan()));
    match acc.finish(AggFunc::Min, 0) {
        AggValue::Float(v) => assert!(v == 0.0 && v.is_sign_negative()),
        other => panic!("{other:?}"),
    }
    // One value: population variance 0, sample variance null.
    let acc = finish_one(&[5.0]);
    assert_eq!(
        acc.finish(AggFunc::Var { sample: false }, 0),
        AggValue::Float(0.0)
    );
    assert_eq!(acc.finish(AggFunc::Var { sample: true }, 0), AggValue::Null);
    assert_eq!(acc.finish(AggFunc::First, 0), AggValue::Float(5.0));
    let acc = finish_one(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
    assert_eq!(
        acc.finish(AggFunc::Stddev { sample: false }, 0),
        AggValue::Float(2.0)
    );
    assert_eq!(acc.finish(AggFunc::Avg, 0), AggValue::Float(5.0));
    assert_eq!(acc.finish(AggFunc::First, 0), AggValue::Float(2.0));
    assert_eq!(acc.finish(AggFunc::Last, 0), AggValue::Float(9.0));
    // Few values: exact.
    assert_eq!(
        acc.finish(AggFunc::Percentile(0.5), 0),
        AggValue::Float(4.0)
    );
}

#[test]
fn shader_constants_match_the_rust_side() {
    let module = naga::front::wgsl::parse_str(aggregate::SOURCE).expect("aggregate.wgsl parses");
    Validator::new(ValidationFlags::all(), Capabilities::default())
        .validate(&module)
        .expect("aggregate.wgsl validates");
    let constant = |name: &str| -> i64 {
        let (_, c) = module
            .constants
            .iter()
            .find(|(_, c)| c.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("no constant {name}"));
        match module.global_expressions[c.init] {
            naga::Expression::Literal(naga::Literal::U32(v)) => i64::from(v),
            naga::Expression::Literal(naga::Literal::I32(v)) => i64::from(v),
            ref other => panic!("{name}: {other:?}"),
        }
    };
    for (name, want) in [
        ("WORKGROUP_SIZE", i64::from(aggregate::WORKGROUP_SIZE)),
        ("NO_SLOT", i64::from(NO_SLOT)),
        ("SLOT_HEADER", i64::from(layout::SLOT_HEADER)),
        ("COL_WORDS", i64::from(layout::COL_WORDS)),
        ("SUM_LIMBS", i64::from(layout::SUM_LIMBS)),
        ("SUM_FRACTION", i64::from(layout::SUM_FRACTION)),
        ("SQ_LIMBS", i64::from(layout::SQ_LIMBS)),
        ("SQ_FRACTION", i64::from(layout::SQ_FRACTION)),
        ("C_COUNT", i64::from(col::COUNT)),
        ("C_NAN", i64::from(col::NAN)),
        ("C_PINF", i64::from(col::PINF)),
        ("C_NINF", i64::from(col::NINF)),
        ("C_MIN_HI", i64::from(col::MIN_HI)),
        ("C_MIN_LO", i64::from(col::MIN_LO)),
        ("C_MAX_HI", i64::from(col::MAX_HI)),
        ("C_MAX_LO", i64::from(col::MAX_LO)),
        ("C_ANCHOR", i64::from(col::ANCHOR)),
        ("C_POS", i64::from(col::POS)),
        ("C_NEG", i64::from(col::NEG)),
        ("C_SQ", i64::from(col::SQ)),
        ("C_FIRST_HI", i64::from(col::FIRST_HI)),
        ("C_FIRST_LO", i64::from(col::FIRST_LO)),
        ("C_FIRST_ROW", i64::from(col::FIRST_ROW)),
        ("C_LAST_HI", i64::from(col::LAST_HI)),
        ("C_LAST_LO", i64::from(col::LAST_LO)),
        ("C_LAST_ROW", i64::from(col::LAST_ROW)),
    ] {
        assert_eq!(constant(name), want, "{name}");
    }
}

/// Closed windows as (start s, end s, group, rows, sum), and the late rows.
type Windows = (Vec<(i64, i64, u32, u64, f64)>, Vec<usize>);

/// Runs the engine over rows `(ts seconds, group, value)` in batches of `step`.
fn windows(
    window: WindowSpec,
    lateness: i64,
    rows: &[(i64, u32, f64)],
    step: usize,
    backend: Box<dyn Aggregator>,
) -> Windows {
    let config = EngineConfig {
        window,
        lateness: lateness * 1_000_000,
        columns: 1,
        hashed: 0,
        pct_columns: 0,
        first_last: false,
        batch_rows: 64,
        aggs: vec![
            AggSlot {
                func: AggFunc::CountStar,
                column: 0,
            },
            AggSlot {
                func: AggFunc::Sum,
                column: 0,
            },
        ],
    };
    let mut engine = Engine::new(config, backend).expect("engine");
    let mut out = Vec::new();
    let mut late = Vec::new();
    let take = |r: Closed, out: &mut Vec<_>| {
        for (w, values) in r.iter() {
            let [AggValue::Int(n), AggValue::Float(s)] = values[..] else {
                panic!("{values:?}")
            };
            out.push((w.start / 1_000_000, w.end / 1_000_000, w.group, n, s));
        }
    };
    for (b, chunk) in rows.chunks(step.max(1)).enumerate() {
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
        take(pushed.closed, &mut out);
        late.extend(pushed.late.iter().map(|i| b * step + i));
    }
    take(engine.finish(), &mut out);
    (out, late)
}

#[test]
fn tumbling_windows_watermark_and_late_rows() {
    let rows = [
        (0, 0, 1.0),
        (30, 1, 2.0),
        (59, 0, 3.0),
        (61, 0, 4.0),
        (55, 0, 5.0), // out of order, within 10 s of lateness: window 0 still open
        (75, 1, 6.0), // watermark 65: closes [0, 60)
        (58, 0, 7.0), // late
        (200, 0, 8.0),
        (-1, 2, 9.0), // late (window [-60, 0))
    ];
    let expected = vec![
        (0, 60, 0, 3, 9.0),
        (0, 60, 1, 1, 2.0),
        (60, 120, 0, 1, 4.0),
        (60, 120, 1, 1, 6.0),
        (180, 240, 0, 1, 8.0),
    ];
    for step in [1, 2, 9] {
        let (got, late) = windows(
            WindowSpec::Tumbling { size: 60_000_000 },
            10,
            &rows,
            step,
            Box::new(CpuAggregator),
        );
        assert_eq!(got, expected, "step {step}");
        assert_eq!(late, [6, 8], "step {step}");
    }
    let (got, late) = windows(
        WindowSpec::Tumbling { size: 60_000_000 },
        10,
        &rows,
        4,
        Box::new(GpuAggregator::new(gpu_context()).expect("gpu")),
    );
    assert_eq!((got, late), (expected, vec![6, 8]));
}

#[test]
fn hopping_and_session_windows() {
    let rows = [(5, 0, 1.0), (12, 0, 2.0), (25, 0, 4.0)];
    let (got, late) = windows(
        WindowSpec::Hop {
            slide: 10_000_000,
            size: 20_000_000,
        },
        0,
        &rows,
        1,
        Box::new(CpuAggregator),
    );
    assert!(late.is_empty());
    assert_eq!(
        got,
        vec![
            (-10, 10, 0, 1, 1.0),
            (0, 20, 0, 2, 3.0),
            (10, 30, 0, 2, 6.0),
            (20, 40, 0, 1, 4.0),
        ]
    );
    // Sessions with a 10 s gap: 0, 5, 9 in one; 30 alone; a bridge at 20
    // between 12 and 28 for group 1.
    let rows = [
        (0, 0, 1.0),
        (5, 0, 1.0),
        (12, 1, 1.0),
        (9, 0, 1.0),
        (28, 1, 1.0),
        (20, 1, 1.0),
        (30, 0, 1.0),
        (100, 2, 1.0),
        (3, 0, 1.0), // late: the watermark is 100 - 50
    ];
    for step in [1, 4] {
        let (got, late) = windows(
            WindowSpec::Session { gap: 10_000_000 },
            50,
            &rows,
            step,
            Box::new(CpuAggregator),
        );
        assert_eq!(
            got,
            vec![
                (0, 19, 0, 3, 3.0),
                (12, 38, 1, 3, 3.0),
                (30, 40, 0, 1, 1.0),
                (100, 110, 2, 1, 1.0),
            ],
            "step {step}"
        );
        assert_eq!(late, [8]);
    }
}

/// An engine over its memory limit fails the push with `MemoryLimit`, which
/// names the state's size, the open slots and the limit; without a limit
/// the same rows aggregate.
#[test]
fn the_memory_limit_stops_a_growing_state() {
    let groups: Vec<u32> = (0..50_000).collect();
    let ts = vec![1_000_000; groups.len()];
    let values: Vec<f64> = groups.iter().map(|&g| f64::from(g)).collect();
    let batch = Batch {
        ts: &ts,
        groups: &groups,
        values: vec![&values],
        valid: vec![None],
        hashes: vec![],
        hash_valid: vec![],
    };
    let config = EngineConfig {
        window: WindowSpec::Tumbling { size: 60_000_000 },
        lateness: 0,
        columns: 1,
        hashed: 0,
        pct_columns: 0,
        first_last: false,
        batch_rows: 8192,
        aggs: Vec::new(),
    };
    let mut engine = Engine::new(config.clone(), Box::new(CpuAggregator)).expect("engine");
    engine.set_memory_limit(Some(1 << 20));
    match engine.push(&batch) {
        Err(KernelError::MemoryLimit {
            state,
            slots,
            limit,
        }) => {
            assert!(state > limit && limit == 1 << 20, "{state} {limit}");
            // It stops within a piece or two of the limit.
            assert!((8192..=3 * 8192).contains(&slots), "{slots}");
        }
        other => panic!("{other:?}"),
    }
    let message = KernelError::MemoryLimit {
        state: 3 << 29,
        slots: 7,
        limit: 1 << 30,
    }
    .to_string();
    assert!(
        message.starts_with("the aggregation state needs 1.5 GiB (7 open (window, group) slots), over the memory limit of 1.0 GiB; use fewer"),
        "{message}"
    );
    let mut engine = Engine::new(config, Box::new(CpuAggregator)).expect("engine");
    engine.push(&batch).expect("no limit");
    assert!(engine.state_bytes() > 1 << 20);
    assert_eq!(engine.open_slots(), 50_000);
    assert_eq!(engine.finish().len(), 50_000);
}
