//! The exact per-slot state both aggregation backends produce, word for word.
//!
//! A *slot* is one (window, group) pair of one batch. Its state is a run of
//! `u32` words: the row count (`count(*)`), then [`COL_WORDS`] words for every
//! value column, all of them integers so that `shaders/aggregate.wgsl` and
//! `cpu/aggregate.rs` agree bit for bit whatever order the GPU's atomics run
//! in:
//!
//! - counts of non-null values, NaNs, +inf and -inf;
//! - min and max as order-preserving 64-bit keys of the f64 bits ([`order_key`]),
//!   high word then low word (two passes: the low word is only taken from
//!   values whose high word won);
//! - the *anchor*: the largest biased exponent of the finite values;
//! - the sum as two fixed-point magnitudes (positive and negative values apart),
//!   [`SUM_LIMBS`] limbs each, one unit being `2^(anchor - 1075 - SUM_FRACTION)`;
//! - the sum of squares, exact products of the mantissas, [`SQ_LIMBS`] limbs,
//!   one unit being `2^(2 * (anchor - 1075) - SQ_FRACTION)`, the square of
//!   the sum's unit;
//! - the first and last event time (as order-preserving keys) and the row
//!   that holds it, for `first`/`last`.
//!
//! Both are exact for every finite value whose binary exponent is at most
//! [`SUM_FRACTION`] (72) below the slot's largest (a magnitude ratio up to
//! 2^72, about 4.7e21: 1e-8 beside 1e12 is exact): the value's mantissa and
//! its square then land whole above the unit. Bits of smaller values below
//! the unit are truncated (toward zero): such a value loses less than
//! `2^-124` of the largest magnitude in its slot. With exact sums, the host
//! finishes every moment aggregate (sum, avg, variance, standard deviation)
//! from the integers with one rounding at the end (`exact.rs`). Percentiles
//! and distinct counts are not in the slot: their sketches grow with the data
//! and are built on the host (`sketch.rs`).

/// The slot of a row that belongs to no open window in this pass.
pub const NO_SLOT: u32 = u32::MAX;

/// Words before the first column: the row count.
pub const SLOT_HEADER: u32 = 1;

/// Words of one value column in a slot.
pub const COL_WORDS: u32 = 34;

/// Limbs of each fixed-point sum (160 bits: a 53-bit mantissa shifted up to
/// [`SUM_FRACTION`] bits, and 2^32 of them).
pub const SUM_LIMBS: u32 = 5;

/// Fraction bits of the sum below the anchor's unit in the last place: values
/// down to this many binades below the slot's largest are summed exactly.
pub const SUM_FRACTION: i32 = 72;

/// Limbs of the sum of squares (288 bits: a 106-bit square shifted up to
/// [`SQ_FRACTION`] bits, and 2^32 of them).
pub const SQ_LIMBS: u32 = 9;

/// Fraction bits of the sum of squares below the anchor's squared unit: twice
/// [`SUM_FRACTION`], so every value the sum holds exactly has its square
/// held exactly too.
pub const SQ_FRACTION: i32 = 2 * SUM_FRACTION;

/// Offsets of a column's words.
pub mod col {
    /// Non-null values.
    pub const COUNT: u32 = 0;
    /// NaNs.
    pub const NAN: u32 = 1;
    /// +inf values.
    pub const PINF: u32 = 2;
    /// -inf values.
    pub const NINF: u32 = 3;
    /// High word of the smallest order key.
    pub const MIN_HI: u32 = 4;
    /// Low word of the smallest order key.
    pub const MIN_LO: u32 = 5;
    /// High word of the largest order key.
    pub const MAX_HI: u32 = 6;
    /// Low word of the largest order key.
    pub const MAX_LO: u32 = 7;
    /// Largest biased exponent of the finite values (at least 1; 0 for none).
    pub const ANCHOR: u32 = 8;
    /// The positive values' sum, [`SUM_LIMBS`](super::SUM_LIMBS) limbs, least significant first.
    pub const POS: u32 = 9;
    /// The negative values' magnitudes' sum.
    pub const NEG: u32 = 14;
    /// The sum of squares, [`SQ_LIMBS`](super::SQ_LIMBS) limbs.
    pub const SQ: u32 = 19;
    /// High word of the first event time's key.
    pub const FIRST_HI: u32 = 28;
    /// Low word of the first event time's key.
    pub const FIRST_LO: u32 = 29;
    /// Smallest batch row at the first event time.
    pub const FIRST_ROW: u32 = 30;
    /// High word of the last event time's key.
    pub const LAST_HI: u32 = 31;
    /// Low word of the last event time's key.
    pub const LAST_LO: u32 = 32;
    /// Largest batch row at the last event time.
    pub const LAST_ROW: u32 = 33;
}

/// HyperLogLog precision: 2^10 registers, a standard error of 1.04/32 = 3.25%.
pub const HLL_BITS: u32 = 10;
/// Registers per HyperLogLog sketch.
pub const HLL_REGISTERS: u32 = 1 << HLL_BITS;

/// Words of one slot with `columns` value columns.
pub const fn slot_words(columns: u32) -> u32 {
    SLOT_HEADER + columns * COL_WORDS
}

/// The initial value of word `offset` of a column: all ones for the minima
/// and the first-time fields, else zero.
pub const fn col_init(offset: u32) -> u32 {
    match offset {
        col::MIN_HI | col::MIN_LO | col::FIRST_HI | col::FIRST_LO | col::FIRST_ROW => u32::MAX,
        _ => 0,
    }
}

/// The initial words of one slot.
pub fn slot_init(columns: u32) -> Vec<u32> {
    let mut v = vec![0; slot_words(columns) as usize];
    for c in 0..columns {
        for o in 0..COL_WORDS {
            v[(SLOT_HEADER + c * COL_WORDS + o) as usize] = col_init(o);
        }
    }
    v
}

/// The order-preserving key of an f64: keys compare as the values do, -0
/// below +0, and every NaN is the largest key (NaN sorts last, as in DuckDB
/// and PostgreSQL).
pub fn order_key(x: f64) -> u64 {
    let bits = x.to_bits();
    if x.is_nan() {
        u64::MAX
    } else if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

/// The f64 of an [`order_key`].
pub fn from_order_key(key: u64) -> f64 {
    if key == u64::MAX {
        f64::NAN
    } else if key >> 63 == 1 {
        f64::from_bits(key & !(1 << 63))
    } else {
        f64::from_bits(!key)
    }
}

/// The order-preserving key of an event time (microseconds).
pub fn time_key(ts: i64) -> u64 {
    (ts as u64) ^ (1 << 63)
}

/// The event time of a [`time_key`].
pub fn from_time_key(key: u64) -> i64 {
    (key ^ (1 << 63)) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_keys_sort_like_values() {
        let values = [
            f64::NEG_INFINITY,
            -1e300,
            -1.0,
            -f64::MIN_POSITIVE / 4.0,
            -0.0,
            0.0,
            f64::MIN_POSITIVE / 4.0,
            1.0,
            f64::MAX,
            f64::INFINITY,
            f64::NAN,
        ];
        for w in values.windows(2) {
            assert!(order_key(w[0]) < order_key(w[1]), "{} {}", w[0], w[1]);
        }
        for v in values {
            let back = from_order_key(order_key(v));
            assert!(back.to_bits() == v.to_bits() || (v.is_nan() && back.is_nan()));
        }
        assert_eq!(order_key(-f64::NAN), u64::MAX);
        assert!(time_key(-5) < time_key(3));
        assert_eq!(from_time_key(time_key(-5)), -5);
    }

    #[test]
    fn the_layout_fits() {
        assert_eq!(col::NEG + SUM_LIMBS, col::SQ);
        assert_eq!(col::SQ + SQ_LIMBS, col::FIRST_HI);
        assert_eq!(col::LAST_ROW + 1, COL_WORDS);
        assert_eq!(slot_init(2).len(), 69);
    }
}
