//! The host's accumulators of open windows: batch states merged exactly, and
//! finished into the values users see, in f64, by one code path for every
//! backend.
//!
//! Merging two fixed-point sums with different anchors shifts the one with the
//! smaller anchor right (truncating toward zero, as the kernels do) before
//! adding. It is deterministic, so GPU and CPU runs give the same results;
//! percentile and distinct-count sketches ([`super::sketch`]) come from the
//! rows, the same for both. The bits a shift
//! drops belong only to values more than [`SUM_FRACTION`] binades below the
//! merged anchor, so the values the kernels held exactly stay exact.

use super::AggState;
use super::exact;
use super::layout::{
    COL_WORDS, SLOT_HEADER, SQ_LIMBS, SUM_FRACTION, SUM_LIMBS, col, from_order_key, slot_words,
};
use super::sketch::{Distinct, Quantiles};
use super::spec::AggFunc;

/// Limbs of the host's sums: the kernels' 160 bits and room for carries from
/// merging many batches.
pub const BIG_LIMBS: usize = 7;

/// Limbs of the host's sums of squares: the kernels' 288 bits (of which 250
/// are a square's) and room for the carries of 2^64 values.
pub const SQ_BIG_LIMBS: usize = 10;

/// An unsigned fixed-point magnitude, least significant limb first.
pub type Big = [u32; BIG_LIMBS];

/// An unsigned fixed-point sum of squares, least significant limb first.
pub type BigSq = [u32; SQ_BIG_LIMBS];

fn big_add<const N: usize>(a: &mut [u32; N], b: &[u32; N]) {
    let mut carry = 0u64;
    for (x, y) in a.iter_mut().zip(b) {
        let s = u64::from(*x) + u64::from(*y) + carry;
        *x = s as u32;
        carry = s >> 32;
    }
}

/// `a >> k`, truncating.
fn big_shr<const N: usize>(a: &[u32; N], k: u32) -> [u32; N] {
    let mut out = [0; N];
    let (words, bits) = ((k / 32) as usize, k % 32);
    for (i, o) in out.iter_mut().enumerate() {
        let lo = a.get(i + words).copied().unwrap_or(0);
        let hi = a.get(i + words + 1).copied().unwrap_or(0);
        *o = if bits == 0 {
            lo
        } else {
            lo >> bits | hi << (32 - bits)
        };
    }
    out
}

pub(super) fn big_cmp(a: &Big, b: &Big) -> std::cmp::Ordering {
    a.iter().rev().cmp(b.iter().rev())
}

pub(super) fn big_sub(a: &Big, b: &Big) -> Big {
    let mut out = [0; BIG_LIMBS];
    let mut borrow = 0i64;
    for i in 0..BIG_LIMBS {
        let d = i64::from(a[i]) - i64::from(b[i]) - borrow;
        borrow = i64::from(d < 0);
        out[i] = d.rem_euclid(1 << 32) as u32;
    }
    out
}

/// `x * 2^e`, without overflowing or flushing in between.
pub(super) fn ldexp(mut x: f64, mut e: i32) -> f64 {
    if (-1022..=1023).contains(&e) {
        // 2^e is a normal f64: build it from its bits.
        return x * f64::from_bits(((e + 1023) as u64) << 52);
    }
    while e > 1000 {
        x *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 {
        x *= 2f64.powi(-1000);
        e += 1000;
    }
    x * 2f64.powi(e)
}

/// `mag * 2^exp`, correctly rounded to f64 (ties to even) unless the result
/// is subnormal.
pub fn big_to_f64(mag: &Big, exp: i32) -> f64 {
    let Some(top) = (0..BIG_LIMBS).rev().find(|&i| mag[i] != 0) else {
        return 0.0;
    };
    if top < 4 {
        // The common case: the magnitude fits in 128 bits.
        let v = mag[..4]
            .iter()
            .rev()
            .fold(0u128, |acc, &w| acc << 32 | u128::from(w));
        return u128_to_f64(v, exp);
    }
    let bit = top as i32 * 32 + 31 - mag[top].leading_zeros() as i32;
    // Keep 53 bits, then round on the rest.
    let drop = (bit - 52) as u32;
    let kept = big_shr(mag, drop);
    let mut m = u64::from(kept[0]) | u64::from(kept[1]) << 32;
    let half = big_shr(mag, drop - 1)[0] & 1 == 1;
    // Any bit below the half bit (position drop - 1)?
    let below = drop - 1;
    let (full, bits) = ((below / 32) as usize, below % 32);
    let sticky =
        mag[..full].iter().any(|&w| w != 0) || (bits > 0 && mag[full] & ((1u32 << bits) - 1) != 0);
    if half && (sticky || m & 1 == 1) {
        m += 1;
    }
    ldexp(m as f64, exp + drop as i32)
}

/// `v * 2^exp` as [`big_to_f64`] rounds it: 53 bits kept, ties to even, then
/// scaled (so a subnormal result rounds the same way as the wide path).
pub(super) fn u128_to_f64(v: u128, exp: i32) -> f64 {
    let bit = 127 - v.leading_zeros() as i32;
    if bit < 53 {
        return ldexp(v as f64, exp);
    }
    let drop = (bit - 52) as u32;
    let mut m = (v >> drop) as u64;
    let half = (v >> (drop - 1)) & 1 == 1;
    let sticky = v & ((1u128 << (drop - 1)) - 1) != 0;
    if half && (sticky || m & 1 == 1) {
        m += 1;
    }
    ldexp(m as f64, exp + drop as i32)
}

/// The exact part of one value column's merged state: counts, extremes and
/// fixed-point sums (everything but first/last and the percentile bins).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExactAcc {
    /// Non-null values.
    pub count: u64,
    /// NaNs.
    pub nan: u64,
    /// +inf values.
    pub pinf: u64,
    /// -inf values.
    pub ninf: u64,
    /// Smallest order key (meaningful when `count > 0`).
    pub min_key: u64,
    /// Largest order key.
    pub max_key: u64,
    /// Largest biased exponent of the finite values; 0 for none.
    pub anchor: u32,
    /// Positive values' sum, in units of `2^(anchor - 1075 - SUM_FRACTION)`.
    pub pos: Big,
    /// Negative values' magnitudes' sum, same unit.
    pub neg: Big,
    /// Sum of squares, in units of `2^(2 (anchor - 1075) - SQ_FRACTION)`.
    pub sq: BigSq,
}

impl Default for ExactAcc {
    fn default() -> Self {
        ExactAcc {
            count: 0,
            nan: 0,
            pinf: 0,
            ninf: 0,
            min_key: u64::MAX,
            max_key: 0,
            anchor: 0,
            pos: [0; BIG_LIMBS],
            neg: [0; BIG_LIMBS],
            sq: [0; SQ_BIG_LIMBS],
        }
    }
}

/// (time key, value) of the first or last row by event time.
pub type Timed = Option<(u64, f64)>;

/// One value column's merged state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ColumnAcc {
    /// Counts, extremes and sums.
    pub exact: ExactAcc,
    /// (time key, value) at the first event time.
    pub first: Timed,
    /// (time key, value) at the last event time.
    pub last: Timed,
    /// The percentile sketch, when a percentile of this column is asked for.
    pub pct: Option<Quantiles>,
}

/// `a + (b >> shift)`, the shift truncating as the kernels do.
fn big_add_shifted<const N: usize>(a: &mut [u32; N], b: &[u32; N], shift: u32) {
    if shift == 0 {
        big_add(a, b);
    } else {
        big_add(a, &big_shr(b, shift));
    }
}

/// The octaves an accumulator at `from` moves to reach anchor `to` (none
/// without finite values: its sums are zero and its bins sit at zero or ±inf).
fn octaves(from: u32, to: u32) -> u32 {
    if from == 0 { 0 } else { to - from }
}

impl ExactAcc {
    /// Reads one column's words of a batch slot ([`super::layout::col`]).
    pub(crate) fn from_words(cw: &[u32]) -> Self {
        let at = |o: u32| cw[o as usize];
        let pair = |hi: u32, lo: u32| u64::from(at(hi)) << 32 | u64::from(at(lo));
        let limbs = |o: u32| {
            let mut b = [0; BIG_LIMBS];
            b[..SUM_LIMBS as usize].copy_from_slice(&cw[o as usize..(o + SUM_LIMBS) as usize]);
            b
        };
        let mut sq = [0; SQ_BIG_LIMBS];
        sq[..SQ_LIMBS as usize]
            .copy_from_slice(&cw[col::SQ as usize..(col::SQ + SQ_LIMBS) as usize]);
        ExactAcc {
            count: u64::from(at(col::COUNT)),
            nan: u64::from(at(col::NAN)),
            pinf: u64::from(at(col::PINF)),
            ninf: u64::from(at(col::NINF)),
            min_key: pair(col::MIN_HI, col::MIN_LO),
            max_key: pair(col::MAX_HI, col::MAX_LO),
            anchor: at(col::ANCHOR),
            pos: limbs(col::POS),
            neg: limbs(col::NEG),
            sq,
        }
    }

    /// Merges `other` (later in the stream). Returns false when `other`
    /// holds no values (and nothing changed).
    pub(crate) fn merge(&mut self, other: &ExactAcc) -> bool {
        if other.count == 0 {
            return false;
        }
        self.count += other.count;
        self.nan += other.nan;
        self.pinf += other.pinf;
        self.ninf += other.ninf;
        self.min_key = self.min_key.min(other.min_key);
        self.max_key = self.max_key.max(other.max_key);
        let anchor = self.anchor.max(other.anchor);
        let (mine, theirs) = (octaves(self.anchor, anchor), octaves(other.anchor, anchor));
        if mine > 0 {
            self.pos = big_shr(&self.pos, mine);
            self.neg = big_shr(&self.neg, mine);
            self.sq = big_shr(&self.sq, 2 * mine);
        }
        self.anchor = anchor;
        big_add_shifted(&mut self.pos, &other.pos, theirs);
        big_add_shifted(&mut self.neg, &other.neg, theirs);
        big_add_shifted(&mut self.sq, &other.sq, 2 * theirs);
        true
    }
}

/// Finishing, in f64.
impl ExactAcc {
    /// The finite values' count.
    fn finite(&self) -> u64 {
        self.count - self.nan - self.pinf - self.ninf
    }

    /// The sum as f64: NaN with a NaN or both infinities, else ±inf with one.
    pub fn sum(&self) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        if self.nan > 0 || (self.pinf > 0 && self.ninf > 0) {
            return Some(f64::NAN);
        }
        if self.pinf > 0 {
            return Some(f64::INFINITY);
        }
        if self.ninf > 0 {
            return Some(f64::NEG_INFINITY);
        }
        if let Some(v) = self.uniform() {
            return Some(v * self.count as f64);
        }
        Some(self.finite_sum())
    }

    /// The value every value is, when all of them are one finite, non-zero
    /// number (most often: there is only one). Then the sum is that value
    /// times the count, and the mean is the value: one correctly rounded
    /// multiplication gives what the exact sums give rounded (they hold
    /// every bit, as every value has the anchor's exponent), without the
    /// wide arithmetic. Zeros are left to the sums, whose sign rule differs
    /// from the product's.
    fn uniform(&self) -> Option<f64> {
        if self.count == 0 || self.min_key != self.max_key || self.finite() != self.count {
            return None;
        }
        let v = from_order_key(self.min_key);
        (v != 0.0 && v.is_finite() && self.count < 1 << 53).then_some(v)
    }

    fn finite_sum(&self) -> f64 {
        let exp = self.anchor as i32 - 1075 - SUM_FRACTION;
        match big_cmp(&self.pos, &self.neg) {
            std::cmp::Ordering::Less => -big_to_f64(&big_sub(&self.neg, &self.pos), exp),
            _ => big_to_f64(&big_sub(&self.pos, &self.neg), exp),
        }
    }

    /// The mean of the non-null values, correctly rounded from the exact sum.
    pub fn avg(&self) -> Option<f64> {
        if let Some(v) = self.uniform() {
            return Some(v);
        }
        let sum = self.sum()?;
        if !sum.is_finite() {
            return Some(sum / self.count as f64);
        }
        Some(exact::mean(self))
    }

    /// The variance (`sample`: over n - 1; null below two values), correctly
    /// rounded from the exact sums (`exact.rs`).
    pub fn var(&self, sample: bool) -> Option<f64> {
        self.moment(sample, exact::variance)
    }

    /// The standard deviation (`sample`: over n - 1; null below two values),
    /// the correctly rounded square root of the exact variance
    /// (`exact.rs`).
    pub fn stddev(&self, sample: bool) -> Option<f64> {
        self.moment(sample, exact::stddev)
    }

    /// A second moment: null without enough values, NaN with a NaN or an
    /// infinity, else `finish` of the exact state.
    fn moment(&self, sample: bool, finish: fn(&ExactAcc, bool) -> f64) -> Option<f64> {
        let n = self.count;
        if n == 0 || (sample && n < 2) {
            return None;
        }
        if self.finite() != n {
            return Some(f64::NAN);
        }
        Some(finish(self, sample))
    }

    /// The smallest value (NaN only when every value is NaN).
    pub fn min(&self) -> Option<f64> {
        (self.count > 0).then(|| from_order_key(self.min_key))
    }

    /// The largest value (NaN when there is a NaN, as DuckDB orders them).
    pub fn max(&self) -> Option<f64> {
        (self.count > 0).then(|| from_order_key(self.max_key))
    }
}

/// The first and last rows of a batch slot's column (`values` is the
/// batch's column); `None` without values or when the batch did not look
/// for them (`first_last` off).
pub(crate) fn ends_from_words(cw: &[u32], values: Option<&[f64]>) -> (Timed, Timed) {
    let at = |o: u32| cw[o as usize];
    if at(col::COUNT) == 0 || at(col::FIRST_ROW) == u32::MAX {
        return (None, None);
    }
    let pair = |hi: u32, lo: u32| u64::from(at(hi)) << 32 | u64::from(at(lo));
    let value_at = |row: u32| values.and_then(|v| v.get(row as usize)).copied();
    (
        value_at(at(col::FIRST_ROW)).map(|v| (pair(col::FIRST_HI, col::FIRST_LO), v)),
        value_at(at(col::LAST_ROW)).map(|v| (pair(col::LAST_HI, col::LAST_LO), v)),
    )
}

/// Merges the first and last rows of a later state into `first`, `last`.
pub(crate) fn merge_ends(first: &mut Timed, last: &mut Timed, theirs: (Timed, Timed)) {
    if let Some(f) = theirs.0
        && first.is_none_or(|mine| f.0 < mine.0)
    {
        *first = Some(f);
    }
    if let Some(l) = theirs.1
        && last.is_none_or(|mine| l.0 >= mine.0)
    {
        *last = Some(l);
    }
}

impl ColumnAcc {
    /// Reads one column's words of a batch slot ([`super::layout::col`]);
    /// `values` is the batch's column, for the first and last values. The
    /// percentile sketch is left out (`pct` is `None`).
    pub(crate) fn from_words(cw: &[u32], values: Option<&[f64]>) -> Self {
        let (first, last) = ends_from_words(cw, values);
        ColumnAcc {
            exact: ExactAcc::from_words(cw),
            first,
            last,
            pct: None,
        }
    }

    /// Merges everything of `other` (later in the stream) but its percentile
    /// sketch; false when `other` holds no values.
    fn merge_exact(&mut self, other: &ColumnAcc) -> bool {
        if !self.exact.merge(&other.exact) {
            return false;
        }
        merge_ends(&mut self.first, &mut self.last, (other.first, other.last));
        true
    }

    /// Merges `other`, which comes later in the stream.
    pub fn merge(&mut self, other: &ColumnAcc) {
        self.merge_owned(other.clone());
    }

    /// Merges `other`, which comes later in the stream, reusing its storage.
    pub fn merge_owned(&mut self, mut other: ColumnAcc) {
        if !self.merge_exact(&other) {
            return;
        }
        if let Some(theirs) = other.pct.take() {
            match &mut self.pct {
                Some(mine) => mine.merge(theirs),
                None => self.pct = Some(theirs),
            }
        }
    }

    /// The sum as f64: NaN with a NaN or both infinities, else ±inf with one.
    pub fn sum(&self) -> Option<f64> {
        self.exact.sum()
    }

    /// The mean of the non-null values.
    pub fn avg(&self) -> Option<f64> {
        self.exact.avg()
    }

    /// The variance (`sample`: over n - 1; null below two values).
    pub fn var(&self, sample: bool) -> Option<f64> {
        self.exact.var(sample)
    }

    /// The standard deviation (`sample`: over n - 1; null below two values).
    pub fn stddev(&self, sample: bool) -> Option<f64> {
        self.exact.stddev(sample)
    }

    /// The smallest value (NaN only when every value is NaN).
    pub fn min(&self) -> Option<f64> {
        self.exact.min()
    }

    /// The largest value (NaN when there is a NaN, as DuckDB orders them).
    pub fn max(&self) -> Option<f64> {
        self.exact.max()
    }

    /// The value of rank `max(1, ceil(q * n))` among the non-NaN values:
    /// exact for small groups, else within [`super::sketch::ALPHA`] of it
    /// (relative; see [`Quantiles::quantile`]).
    pub fn percentile(&self, q: f64) -> Option<f64> {
        self.pct.as_ref()?.quantile(q, self.min(), self.max())
    }

    /// Bytes its sketch takes on the heap.
    fn heap_bytes(&self) -> usize {
        self.pct.as_ref().map_or(0, Quantiles::heap_bytes)
    }
}

/// The merged state of one (window, group).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SlotAcc {
    /// Rows (`count(*)`).
    pub rows: u64,
    /// One accumulator a value column.
    pub columns: Vec<ColumnAcc>,
    /// HyperLogLog sketches, one a hashed column.
    pub hll: Vec<Distinct>,
}

/// A finished aggregate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AggValue {
    /// SQL NULL: no values.
    Null,
    /// A count.
    Int(u64),
    /// Everything else.
    Float(f64),
}

impl From<Option<f64>> for AggValue {
    fn from(v: Option<f64>) -> Self {
        v.map_or(AggValue::Null, AggValue::Float)
    }
}

/// The HyperLogLog estimate of a register set (with the small-range
/// correction; 64-bit hashes need no large-range one).
pub fn hll_estimate(registers: &[u8]) -> f64 {
    let sum: f64 = registers.iter().map(|&r| 2f64.powi(-i32::from(r))).sum();
    let zeros = registers.iter().filter(|&&r| r == 0).count();
    hll_from(registers.len(), sum, zeros)
}

/// The HyperLogLog estimate of `registers` registers whose `2^-rank` add up
/// to `sum`, `zeros` of them zero.
pub(crate) fn hll_from(registers: usize, sum: f64, zeros: usize) -> f64 {
    let m = registers as f64;
    let alpha = 0.7213 / (1.0 + 1.079 / m);
    let raw = alpha * m * m / sum;
    if raw <= 2.5 * m && zeros > 0 {
        m * (m / zeros as f64).ln()
    } else {
        raw
    }
}

/// Reading one slot of a batch's state.
impl AggState {
    /// The words of slot `slot`.
    pub fn slot_words(&self, slot: u32) -> &[u32] {
        let stride = slot_words(self.columns) as usize;
        &self.words[slot as usize * stride..][..stride]
    }

    /// The words of value column `column` of slot `slot`.
    pub fn column_words(&self, slot: u32, column: usize) -> &[u32] {
        &self.slot_words(slot)[SLOT_HEADER as usize + column * COL_WORDS as usize..]
            [..COL_WORDS as usize]
    }
}

impl SlotAcc {
    /// An empty accumulator.
    pub fn new(columns: usize, hashed: usize) -> Self {
        SlotAcc {
            rows: 0,
            columns: vec![ColumnAcc::default(); columns],
            hll: vec![Distinct::default(); hashed],
        }
    }

    /// Reads slot `slot` of a batch state. `values` are the batch's value
    /// columns (for the first and last values). The sketches are left out:
    /// the engine builds them from the rows (`sketch::BatchSketches`).
    pub fn from_state(state: &AggState, slot: u32, values: &[&[f64]]) -> Self {
        let w = state.slot_words(slot);
        SlotAcc {
            rows: u64::from(w[0]),
            columns: (0..state.columns as usize)
                .map(|c| ColumnAcc::from_words(state.column_words(slot, c), values.get(c).copied()))
                .collect(),
            hll: Vec::new(),
        }
    }

    /// Bytes its sketches take on the heap, and its vectors.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.columns.capacity() * size_of::<ColumnAcc>()
            + self
                .columns
                .iter()
                .map(ColumnAcc::heap_bytes)
                .sum::<usize>()
            + self.hll.capacity() * size_of::<Distinct>()
            + self.hll.iter().map(Distinct::heap_bytes).sum::<usize>()
    }

    /// Merges `other`, which comes later in the stream.
    pub fn merge(&mut self, other: &SlotAcc) {
        self.merge_owned(other.clone());
    }

    /// Merges `other`, which comes later in the stream, reusing its storage.
    pub fn merge_owned(&mut self, other: SlotAcc) {
        self.rows += other.rows;
        if self.columns.len() < other.columns.len() {
            self.columns
                .resize(other.columns.len(), ColumnAcc::default());
        }
        for (a, b) in self.columns.iter_mut().zip(other.columns) {
            a.merge_owned(b);
        }
        if self.hll.len() < other.hll.len() {
            self.hll.resize(other.hll.len(), Distinct::default());
        }
        for (a, b) in self.hll.iter_mut().zip(&other.hll) {
            a.merge(b);
        }
    }

    /// Finishes `func` over value column `column` (or hashed column, for
    /// `approx_count_distinct`).
    pub fn finish(&self, func: AggFunc, column: usize) -> AggValue {
        let c = self.columns.get(column);
        finish_value(
            func,
            &Parts {
                rows: self.rows,
                exact: c.map(|c| &c.exact),
                ends: c.map_or((None, None), |c| (c.first, c.last)),
                pct: c.and_then(|c| c.pct.as_ref()),
                hll: self.hll.get(column),
            },
        )
    }
}

/// What one aggregate of one (window, group) is finished from: the parts
/// of its state at the aggregate's column, wherever they are kept (a
/// [`SlotAcc`], or a window store's vectors).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Parts<'a> {
    /// `count(*)`.
    pub rows: u64,
    /// The value column's counts, extremes and sums.
    pub exact: Option<&'a ExactAcc>,
    /// Its first and last rows.
    pub ends: (Timed, Timed),
    /// Its percentile sketch.
    pub pct: Option<&'a Quantiles>,
    /// The hashed column's sketch.
    pub hll: Option<&'a Distinct>,
}

/// Finishes `func` from `p`: the one place every aggregate is finished.
pub(crate) fn finish_value(func: AggFunc, p: &Parts<'_>) -> AggValue {
    match func {
        AggFunc::CountStar => AggValue::Int(p.rows),
        AggFunc::ApproxDistinct => match p.hll {
            Some(d) if !d.is_empty() => AggValue::Int(d.estimate().round() as u64),
            Some(_) => AggValue::Int(0),
            None => AggValue::Null,
        },
        _ => {
            let Some(e) = p.exact else {
                return AggValue::Null;
            };
            match func {
                AggFunc::Count => AggValue::Int(e.count),
                AggFunc::Sum => e.sum().into(),
                AggFunc::Min => e.min().into(),
                AggFunc::Max => e.max().into(),
                AggFunc::Avg => e.avg().into(),
                AggFunc::Var { sample } => e.var(sample).into(),
                AggFunc::Stddev { sample } => e.stddev(sample).into(),
                AggFunc::Percentile(q) => {
                    p.pct.and_then(|s| s.quantile(q, e.min(), e.max())).into()
                }
                AggFunc::First => p.ends.0.map(|f| f.1).into(),
                AggFunc::Last => p.ends.1.map(|l| l.1).into(),
                AggFunc::CountStar | AggFunc::ApproxDistinct => AggValue::Null,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::layout::HLL_REGISTERS;

    /// The state of `n` copies of `v` in one slot, as the kernels give it.
    fn state_of(v: f64, n: usize) -> ExactAcc {
        let values = vec![v; n];
        let slots = vec![0; n];
        let input = crate::window::AggInput {
            slots: &slots,
            slot_count: 1,
            ts: &[],
            values: &[&values],
            valid: &[None],
            first_last: false,
            squares: false,
        };
        let mut state = AggState::default();
        crate::cpu::aggregate::aggregate(&input, &mut state);
        ExactAcc::from_words(state.column_words(0, 0))
    }

    #[test]
    fn equal_values_finish_as_the_exact_sums_do() {
        let values = [
            1.0,
            0.1,
            -3.7,
            1e300,
            f64::MAX / 3.0,
            f64::MAX,
            -f64::MAX,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE * 0.75,
            5e-324,
            1e-310,
            123_456.789,
        ];
        for v in values {
            for n in [1, 2, 3, 7, 10, 1000, 100_003] {
                let acc = state_of(v, n);
                assert_eq!(acc.uniform(), Some(v), "{v} x {n}");
                let slow = acc.finite_sum();
                let fast = acc.sum().unwrap_or(f64::NAN);
                assert_eq!(
                    fast.to_bits(),
                    slow.to_bits(),
                    "sum of {v} x {n}: {fast} vs {slow}"
                );
                let mean = exact::mean(&acc);
                assert_eq!(
                    acc.avg().map(f64::to_bits),
                    Some(mean.to_bits()),
                    "avg of {v} x {n}"
                );
            }
        }
        // Not uniform: zeros, two values, specials.
        assert_eq!(state_of(0.0, 3).uniform(), None);
        assert_eq!(state_of(-0.0, 3).uniform(), None);
        assert_eq!(state_of(f64::INFINITY, 2).uniform(), None);
        assert_eq!(state_of(f64::NAN, 2).uniform(), None);
    }

    #[test]
    fn big_to_f64_rounds_to_nearest_even() {
        let mut b = [0; BIG_LIMBS];
        b[0] = 3;
        assert_eq!(big_to_f64(&b, -1), 1.5);
        // 2^53 + 1 is a tie: rounds to even (2^53); 2^53 + 3 rounds up.
        let v = (1u64 << 53) + 1;
        b[0] = v as u32;
        b[1] = (v >> 32) as u32;
        assert_eq!(big_to_f64(&b, 0), 2f64.powi(53));
        let v = (1u64 << 53) + 3;
        b[0] = v as u32;
        b[1] = (v >> 32) as u32;
        assert_eq!(big_to_f64(&b, 0), 2f64.powi(53) + 4.0);
        // 2^117 + 2^64 is a tie (even: stays), one more low bit breaks it upward.
        let mut c = [0; BIG_LIMBS];
        c[3] = 1 << 21;
        c[2] = 1;
        assert_eq!(big_to_f64(&c, 0), 2f64.powi(117));
        c[0] = 1;
        assert_eq!(big_to_f64(&c, 0), 2f64.powi(117) + 2f64.powi(65));
    }

    #[test]
    fn shifts_truncate() {
        assert_eq!(
            big_shr(&[0, 1, 0, 0, 0, 0, 0], 1),
            [1 << 31, 0, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn hll_estimates_small_sets() {
        let mut r = vec![0u8; HLL_REGISTERS as usize];
        assert_eq!(hll_estimate(&r).round(), 0.0);
        r[3] = 1;
        r[700] = 2;
        assert!((hll_estimate(&r) - 2.0).abs() < 0.01);
    }
}
