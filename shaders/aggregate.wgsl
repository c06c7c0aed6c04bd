// aggregate: exact per-slot window aggregation state, one invocation a row.
//
// CPU twin: `kernels/src/cpu/aggregate.rs`; host side:
// `kernels/src/gpu/aggregate.rs`; the word layout is
// `kernels/src/window/layout.rs`. Every f64 arrives as its bits (vec2: low
// word, high word) and is handled with integer arithmetic only, so the result
// does not depend on how the compiler treats floats or on the order the
// atomics run in:
//
// - agg_init: every slot word to its initial value (all ones for the minima
//   and first-time fields).
// - agg_pass_a: counts, the high words of the min/max/first/last keys and the
//   anchor (largest biased exponent of the finite values).
// - agg_pass_b: the low words of those keys (only from values whose high word
//   won) and the fixed-point sums and sums of squares relative to the anchor.
// - agg_pass_c: the first and last row at the first and last event time.

const WORKGROUP_SIZE: u32 = 256u;
const NO_SLOT: u32 = 0xffffffffu;
const SLOT_HEADER: u32 = 1u;
const COL_WORDS: u32 = 34u;
const SUM_LIMBS: u32 = 5u;
const SUM_FRACTION: i32 = 72;
const SQ_LIMBS: u32 = 9u;
const SQ_FRACTION: i32 = 144;

const C_COUNT: u32 = 0u;
const C_NAN: u32 = 1u;
const C_PINF: u32 = 2u;
const C_NINF: u32 = 3u;
const C_MIN_HI: u32 = 4u;
const C_MIN_LO: u32 = 5u;
const C_MAX_HI: u32 = 6u;
const C_MAX_LO: u32 = 7u;
const C_ANCHOR: u32 = 8u;
const C_POS: u32 = 9u;
const C_NEG: u32 = 14u;
const C_SQ: u32 = 19u;
const C_FIRST_HI: u32 = 28u;
const C_FIRST_LO: u32 = 29u;
const C_FIRST_ROW: u32 = 30u;
const C_LAST_HI: u32 = 31u;
const C_LAST_LO: u32 = 32u;
const C_LAST_ROW: u32 = 33u;

// One call (`gpu::aggregate::AggParams`).
struct AggParams {
    rows: u32,
    slot_count: u32,
    columns: u32,
    slot_words: u32,
    valid_words: u32,
    first_last: u32,
    squares: u32,
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> params: AggParams;
@group(0) @binding(1) var<storage, read> slots: array<u32>;
@group(0) @binding(2) var<storage, read> ts: array<vec2<u32>>;
// Column-major: values[column * rows + row].
@group(0) @binding(3) var<storage, read> values: array<vec2<u32>>;
// Bitmaps of the value columns, valid_words each.
@group(0) @binding(4) var<storage, read> valid: array<u32>;
@group(0) @binding(5) var<storage, read_write> state: array<atomic<u32>>;

fn index_of(lid: u32, wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return (wid.y * nwg.x + wid.x) * WORKGROUP_SIZE + lid;
}

fn is_valid(bitmap: u32, row: u32) -> bool {
    let w = valid[bitmap * params.valid_words + (row >> 5u)];
    return ((w >> (row & 31u)) & 1u) == 1u;
}

fn biased_exponent(v: vec2<u32>) -> u32 {
    return (v.y >> 20u) & 0x7ffu;
}

fn is_nan(v: vec2<u32>) -> bool {
    return biased_exponent(v) == 0x7ffu && ((v.y & 0xfffffu) | v.x) != 0u;
}

// `window::layout::order_key`, as (low, high).
fn order_key(v: vec2<u32>) -> vec2<u32> {
    if is_nan(v) {
        return vec2<u32>(0xffffffffu, 0xffffffffu);
    }
    if (v.y >> 31u) == 1u {
        return vec2<u32>(~v.x, ~v.y);
    }
    return vec2<u32>(v.x, v.y | 0x80000000u);
}

// `window::layout::time_key` of row `row`'s time, as (low, high).
fn time_key(row: u32) -> vec2<u32> {
    let t = ts[row];
    return vec2<u32>(t.x, t.y ^ 0x80000000u);
}

fn col_base(slot: u32, c: u32) -> u32 {
    return slot * params.slot_words + SLOT_HEADER + c * COL_WORDS;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn agg_init(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = index_of(lid, wid, nwg);
    if i >= params.slot_count * params.slot_words {
        return;
    }
    let w = i % params.slot_words;
    var init = 0u;
    if w >= SLOT_HEADER {
        let o = (w - SLOT_HEADER) % COL_WORDS;
        if o == C_MIN_HI || o == C_MIN_LO || o == C_FIRST_HI || o == C_FIRST_LO || o == C_FIRST_ROW {
            init = 0xffffffffu;
        }
    }
    atomicStore(&state[i], init);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn agg_pass_a(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let row = index_of(lid, wid, nwg);
    if row >= params.rows {
        return;
    }
    let slot = slots[row];
    if slot == NO_SLOT {
        return;
    }
    atomicAdd(&state[slot * params.slot_words], 1u);
    let tk = time_key(row);
    for (var c = 0u; c < params.columns; c++) {
        if !is_valid(c, row) {
            continue;
        }
        let b = col_base(slot, c);
        let v = values[c * params.rows + row];
        atomicAdd(&state[b + C_COUNT], 1u);
        let e = biased_exponent(v);
        if e == 0x7ffu {
            if is_nan(v) {
                atomicAdd(&state[b + C_NAN], 1u);
            } else if (v.y >> 31u) == 1u {
                atomicAdd(&state[b + C_NINF], 1u);
            } else {
                atomicAdd(&state[b + C_PINF], 1u);
            }
        } else {
            atomicMax(&state[b + C_ANCHOR], max(e, 1u));
        }
        let key = order_key(v);
        atomicMin(&state[b + C_MIN_HI], key.y);
        atomicMax(&state[b + C_MAX_HI], key.y);
        if params.first_last != 0u {
            atomicMin(&state[b + C_FIRST_HI], tk.y);
            atomicMax(&state[b + C_LAST_HI], tk.y);
        }
    }
}

// Adds `v` to limb `at` of an accumulator whose last limb is `last`,
// carrying one into the next limb whenever an addition wraps (`cpu::aggregate::acc_add`).
fn add_carry(at: u32, v: u32, last: u32) {
    let old = atomicAdd(&state[at], v);
    if old <= 0xffffffffu - v {
        return;
    }
    for (var i = at + 1u; i <= last; i++) {
        let prev = atomicAdd(&state[i], 1u);
        if prev != 0xffffffffu {
            return;
        }
    }
}

// Bits `p .. p + 32` of a 128-bit magnitude (zero outside it).
fn bits_at(mag: array<u32, 4>, p: i32) -> u32 {
    var m = mag;
    let w = p >> 5u;
    let b = u32(p & 31);
    var lo = 0u;
    var hi = 0u;
    if w >= 0 && w < 4 {
        lo = m[w] >> b;
    }
    if b != 0u && w + 1 >= 0 && w + 1 < 4 {
        hi = m[w + 1] << (32u - b);
    }
    return lo | hi;
}

// Adds `mag * 2^shift`, truncated toward zero, to the accumulator of `limbs`
// limbs at `base` (`cpu::aggregate::acc_add` and `acc_add_wide`).
fn add_shifted(base: u32, limbs: u32, mag: array<u32, 4>, shift: i32) {
    for (var j = 0u; j < limbs; j++) {
        let part = bits_at(mag, i32(j) * 32 - shift);
        if part != 0u {
            add_carry(base + j, part, base + limbs - 1u);
        }
    }
}

// The 64-bit product of two u32, as (low, high).
fn mul_wide(a: u32, b: u32) -> vec2<u32> {
    let a0 = a & 0xffffu;
    let a1 = a >> 16u;
    let b0 = b & 0xffffu;
    let b1 = b >> 16u;
    let p0 = a0 * b0;
    let p1 = a0 * b1;
    let p2 = a1 * b0;
    let p3 = a1 * b1;
    let mid = (p0 >> 16u) + (p1 & 0xffffu) + (p2 & 0xffffu);
    let lo = (p0 & 0xffffu) | (mid << 16u);
    let hi = p3 + (p1 >> 16u) + (p2 >> 16u) + (mid >> 16u);
    return vec2<u32>(lo, hi);
}

// a + b + carry_in, as (sum, carry out).
fn add3(a: u32, b: u32, carry: u32) -> vec2<u32> {
    let s = a + b;
    var c = select(0u, 1u, s < a);
    let t = s + carry;
    c += select(0u, 1u, t < s);
    return vec2<u32>(t, c);
}

// The 106-bit square of a mantissa m1 * 2^32 + m0 (m1 < 2^21).
fn square(m0: u32, m1: u32) -> array<u32, 4> {
    let a = mul_wide(m0, m0);
    let b = mul_wide(m0, m1);
    let c = mul_wide(m1, m1);
    // 2 * m0 * m1 fits in 86 bits: three words.
    let d0 = b.x << 1u;
    let d1 = (b.y << 1u) | (b.x >> 31u);
    let d2 = b.y >> 31u;
    let l1 = add3(a.y, d0, 0u);
    let l2 = add3(c.x, d1, l1.y);
    let l3 = c.y + d2 + l2.y;
    return array<u32, 4>(a.x, l1.x, l2.x, l3);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn agg_pass_b(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let row = index_of(lid, wid, nwg);
    if row >= params.rows {
        return;
    }
    let slot = slots[row];
    if slot == NO_SLOT {
        return;
    }
    let tk = time_key(row);
    for (var c = 0u; c < params.columns; c++) {
        if !is_valid(c, row) {
            continue;
        }
        let b = col_base(slot, c);
        let v = values[c * params.rows + row];
        let key = order_key(v);
        if key.y == atomicLoad(&state[b + C_MIN_HI]) {
            atomicMin(&state[b + C_MIN_LO], key.x);
        }
        if key.y == atomicLoad(&state[b + C_MAX_HI]) {
            atomicMax(&state[b + C_MAX_LO], key.x);
        }
        if params.first_last != 0u {
            if tk.y == atomicLoad(&state[b + C_FIRST_HI]) {
                atomicMin(&state[b + C_FIRST_LO], tk.x);
            }
            if tk.y == atomicLoad(&state[b + C_LAST_HI]) {
                atomicMax(&state[b + C_LAST_LO], tk.x);
            }
        }
        let anchor = atomicLoad(&state[b + C_ANCHOR]);
        let e = biased_exponent(v);
        if e != 0x7ffu {
            let ee = i32(max(e, 1u));
            let a = i32(anchor);
            var m1 = v.y & 0xfffffu;
            if e != 0u {
                m1 |= 0x100000u;
            }
            let m0 = v.x;
            var dest = b + C_POS;
            if (v.y >> 31u) == 1u {
                dest = b + C_NEG;
            }
            add_shifted(dest, SUM_LIMBS, array<u32, 4>(m0, m1, 0u, 0u), ee - a + SUM_FRACTION);
            if params.squares != 0u {
                add_shifted(b + C_SQ, SQ_LIMBS, square(m0, m1), 2 * (ee - a) + SQ_FRACTION);
            }
        }
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn agg_pass_c(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let row = index_of(lid, wid, nwg);
    if row >= params.rows {
        return;
    }
    let slot = slots[row];
    if slot == NO_SLOT {
        return;
    }
    let tk = time_key(row);
    for (var c = 0u; c < params.columns; c++) {
        if !is_valid(c, row) {
            continue;
        }
        let b = col_base(slot, c);
        if tk.y == atomicLoad(&state[b + C_FIRST_HI]) && tk.x == atomicLoad(&state[b + C_FIRST_LO]) {
            atomicMin(&state[b + C_FIRST_ROW], row);
        }
        if tk.y == atomicLoad(&state[b + C_LAST_HI]) && tk.x == atomicLoad(&state[b + C_LAST_LO]) {
            atomicMax(&state[b + C_LAST_ROW], row);
        }
    }
}
