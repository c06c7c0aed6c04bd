//! Percentile and distinct-count state that grows with the data, not with
//! the number of groups: built on the host from a batch's rows (values and
//! hashes, read by every backend alike), merged exactly, so GPU and CPU runs
//! give the same results.
//!
//! [`Quantiles`]: a group's first [`EXACT_VALUES`] values are kept as they
//! are, and a percentile of them is exact (`quantile_disc`). Past that they
//! become a sparse sorted list of logarithmic bins, `2^SUB_BITS` to an
//! octave (a DDSketch-style relative-error sketch whose bins are the top bits
//! of the values' order keys): a bin holds the values whose sign, exponent
//! and first [`SUB_BITS`] mantissa bits agree, and a percentile is the
//! middle of its bin, clamped to the group's exact minimum and maximum. For
//! normal values the answer `v'` for the value `v` of that rank has
//! `|v' − v| ≤ α·|v|` with `α = 2^-(SUB_BITS + 1)` = 1/256 (0.39%); zero,
//! subnormals (below 2.2e-308) and infinities are answered within their own
//! bins. State: 8 bytes a value while exact, then 8 bytes a bin in use
//! (data spread over `k` octaves uses at most `128·k` bins).
//!
//! [`Distinct`]: HyperLogLog with [`HLL_REGISTERS`] registers, kept as a
//! sparse sorted list of (register, rank) while that is smaller than the
//! dense registers ([`SPARSE_MAX`] entries of 2 bytes), then dense.

use super::acc::{hll_estimate, hll_from};
use super::engine::Batch;
use super::layout::{HLL_BITS, HLL_REGISTERS, NO_SLOT, from_order_key, order_key};
use crate::cpu::aggregate::is_valid;

/// Mantissa bits of a percentile bin: 128 bins an octave.
pub const SUB_BITS: u32 = 7;

/// The relative error of a percentile past the exact values: 1/256.
pub const ALPHA: f64 = 1.0 / (1u32 << (SUB_BITS + 1)) as f64;

/// Values a [`Quantiles`] keeps exactly before it switches to bins.
pub const EXACT_VALUES: usize = 32;

/// Bits of an order key below a bin.
const BIN_SHIFT: u32 = 52 - SUB_BITS;

/// Bits of a packed bin's count (the bin's 19 bits above them).
const COUNT_BITS: u32 = BIN_SHIFT;

/// The bin of a value (not NaN): the top bits of its order key, so bins
/// sort as their values do.
fn bin_of(x: f64) -> u64 {
    order_key(x) >> BIN_SHIFT
}

/// The value a bin stands for: its middle (±inf for the infinities' bins).
fn bin_value(bin: u64) -> f64 {
    // The infinities share their bins only with NaNs (never counted).
    let low = from_order_key(bin << BIN_SHIFT);
    let high = from_order_key((bin << BIN_SHIFT) | ((1 << BIN_SHIFT) - 1));
    if low.is_infinite() {
        return low;
    }
    if high.is_infinite() {
        return high;
    }
    from_order_key((bin << BIN_SHIFT) | (1 << (BIN_SHIFT - 1)))
}

fn pack(bin: u64, count: u64) -> u64 {
    bin << COUNT_BITS | count
}

fn unpack(packed: u64) -> (u64, u64) {
    (packed >> COUNT_BITS, packed & ((1 << COUNT_BITS) - 1))
}

/// One group's percentile state; see the module docs.
#[derive(Debug, Clone, PartialEq)]
pub enum Quantiles {
    /// Up to [`EXACT_VALUES`] values, in arrival order.
    Exact(Vec<f64>),
    /// Bins in value order, each `bin << COUNT_BITS | count`.
    Bins(Vec<u64>),
}

impl Default for Quantiles {
    fn default() -> Self {
        Quantiles::Exact(Vec::new())
    }
}

/// Adds `count` values to `bin` of a sorted packed list.
fn add_bin(bins: &mut Vec<u64>, bin: u64, count: u64) {
    let at = bins.partition_point(|&p| unpack(p).0 < bin);
    match bins.get_mut(at) {
        Some(p) if unpack(*p).0 == bin => *p += count,
        _ => bins.insert(at, pack(bin, count)),
    }
}

impl Quantiles {
    /// Adds a value (NaNs are not counted: skip them).
    pub fn insert(&mut self, x: f64) {
        match self {
            Quantiles::Exact(values) if values.len() < EXACT_VALUES => values.push(x),
            Quantiles::Exact(_) => {
                self.make_bins();
                self.insert(x);
            }
            Quantiles::Bins(bins) => add_bin(bins, bin_of(x), 1),
        }
    }

    /// Switches to bins.
    fn make_bins(&mut self) {
        if let Quantiles::Exact(values) = self {
            let mut bins = Vec::with_capacity(values.len());
            for &x in values.iter() {
                add_bin(&mut bins, bin_of(x), 1);
            }
            *self = Quantiles::Bins(bins);
        }
    }

    /// Merges `other`.
    pub fn merge(&mut self, other: Quantiles) {
        match (&mut *self, other) {
            (_, Quantiles::Exact(values)) if values.is_empty() => {}
            (Quantiles::Exact(mine), theirs) if mine.is_empty() => *self = theirs,
            (Quantiles::Exact(mine), Quantiles::Exact(theirs))
                if mine.len() + theirs.len() <= EXACT_VALUES =>
            {
                mine.extend(theirs);
            }
            (_, Quantiles::Exact(theirs)) => {
                for x in theirs {
                    self.insert(x);
                }
            }
            (_, Quantiles::Bins(theirs)) => {
                self.make_bins();
                if let Quantiles::Bins(mine) = self {
                    *mine = merge_sorted(mine, &theirs);
                }
            }
        }
    }

    /// Values counted.
    pub fn count(&self) -> u64 {
        match self {
            Quantiles::Exact(values) => values.len() as u64,
            Quantiles::Bins(bins) => bins.iter().map(|&p| unpack(p).1).sum(),
        }
    }

    /// Bytes on the heap.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Quantiles::Exact(v) => v.capacity() * size_of::<f64>(),
            Quantiles::Bins(b) => b.capacity() * size_of::<u64>(),
        }
    }

    /// The value of rank `max(1, ceil(q·n))` among the `n` values: exact
    /// while the values are, else within [`ALPHA`] of it (relative), and
    /// never outside `[min, max]` (the group's exact extremes, when known).
    pub fn quantile(&self, q: f64, min: Option<f64>, max: Option<f64>) -> Option<f64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let v = match self {
            Quantiles::Exact(values) => {
                let mut sorted = values.clone();
                sorted.sort_by(f64::total_cmp);
                return Some(sorted[rank as usize - 1]);
            }
            Quantiles::Bins(bins) => {
                let mut seen = 0;
                let p = bins.iter().find(|&&p| {
                    seen += unpack(p).1;
                    seen >= rank
                })?;
                bin_value(unpack(*p).0)
            }
        };
        let v = match min {
            Some(lo) if !lo.is_nan() && v < lo => lo,
            _ => v,
        };
        Some(match max {
            Some(hi) if !hi.is_nan() && v > hi => hi,
            _ => v,
        })
    }
}

/// Two sorted packed lists as one, equal bins added.
fn merge_sorted(a: &[u64], b: &[u64]) -> Vec<u64> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (ba, ca) = unpack(a[i]);
        let (bb, cb) = unpack(b[j]);
        match ba.cmp(&bb) {
            std::cmp::Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(pack(ba, ca + cb));
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// Sparse entries past which [`Distinct`] turns dense: their 2 bytes each
/// then pass the dense registers' one byte each.
pub const SPARSE_MAX: usize = HLL_REGISTERS as usize / 2;

/// The register and rank of a 64-bit hash: its top [`HLL_BITS`] bits pick
/// the register, and the rank is one more than the leading zeros of the
/// rest.
#[inline]
pub fn hll_register(hash: u64) -> (usize, u32) {
    let register = (hash >> (64 - HLL_BITS)) as usize;
    let rest = hash << HLL_BITS;
    let rank = rest.leading_zeros().min(64 - HLL_BITS) + 1;
    (register, rank)
}

/// One group's distinct-count state; see the module docs.
#[derive(Debug, Clone, PartialEq)]
pub enum Distinct {
    /// `register << 6 | rank`, sorted, one entry a register in use.
    Sparse(Vec<u16>),
    /// Every register's rank.
    Dense(Box<[u8]>),
}

impl Default for Distinct {
    fn default() -> Self {
        Distinct::Sparse(Vec::new())
    }
}

impl Distinct {
    /// Counts a hash.
    pub fn insert(&mut self, hash: u64) {
        let (register, rank) = hll_register(hash);
        self.raise(register, rank as u8);
    }

    /// Raises `register` to `rank`.
    fn raise(&mut self, register: usize, rank: u8) {
        match self {
            Distinct::Dense(r) => r[register] = r[register].max(rank),
            Distinct::Sparse(entries) => {
                let at = entries.partition_point(|&e| usize::from(e >> 6) < register);
                match entries.get_mut(at) {
                    Some(e) if usize::from(*e >> 6) == register => {
                        *e = (*e).max((register as u16) << 6 | u16::from(rank));
                    }
                    _ => {
                        entries.insert(at, (register as u16) << 6 | u16::from(rank));
                        if entries.len() > SPARSE_MAX {
                            *self = Distinct::Dense(self.registers().into_boxed_slice());
                        }
                    }
                }
            }
        }
    }

    /// Whether every register is zero (nothing counted).
    pub fn is_empty(&self) -> bool {
        match self {
            Distinct::Dense(r) => r.iter().all(|&x| x == 0),
            Distinct::Sparse(entries) => entries.is_empty(),
        }
    }

    /// The estimate of distinct values ([`hll_estimate`]); a sparse sketch
    /// sums its entries alone, the other registers being zero.
    pub fn estimate(&self) -> f64 {
        match self {
            Distinct::Dense(r) => hll_estimate(r),
            Distinct::Sparse(entries) => {
                let zeros = HLL_REGISTERS as usize - entries.len();
                let ranks: f64 = entries.iter().map(|&e| 2f64.powi(-i32::from(e & 63))).sum();
                hll_from(HLL_REGISTERS as usize, zeros as f64 + ranks, zeros)
            }
        }
    }

    /// Every register's rank.
    pub fn registers(&self) -> Vec<u8> {
        match self {
            Distinct::Dense(r) => r.to_vec(),
            Distinct::Sparse(entries) => {
                let mut r = vec![0; HLL_REGISTERS as usize];
                for &e in entries {
                    r[usize::from(e >> 6)] = (e & 63) as u8;
                }
                r
            }
        }
    }

    /// Merges `other` (registers take the larger rank).
    pub fn merge(&mut self, other: &Distinct) {
        match other {
            Distinct::Sparse(entries) => {
                for &e in entries {
                    self.raise(usize::from(e >> 6), (e & 63) as u8);
                }
            }
            Distinct::Dense(theirs) => {
                let mut mine = self.registers();
                for (a, &b) in mine.iter_mut().zip(theirs.iter()) {
                    *a = (*a).max(b);
                }
                *self = Distinct::Dense(mine.into_boxed_slice());
            }
        }
    }

    /// Bytes on the heap.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Distinct::Dense(r) => r.len(),
            Distinct::Sparse(e) => e.capacity() * size_of::<u16>(),
        }
    }
}

/// The sketches of one batch's slots, built from its rows: the percentile
/// columns' values (present, not NaN) and the hashed columns' hashes
/// (present), slot by slot; the stores take them slot by slot.
#[derive(Debug, Default)]
pub(crate) struct BatchSketches {
    pct: usize,
    hashed: usize,
    quantiles: Vec<Quantiles>,
    distinct: Vec<Distinct>,
}

impl BatchSketches {
    /// Builds the sketches of the `slot_count` slots the rows of `piece`
    /// fall into (`slots`, one a row), for value columns `0..pct` and every
    /// hashed column.
    pub(crate) fn fill(&mut self, slots: &[u32], slot_count: usize, piece: &Batch<'_>, pct: usize) {
        let hashed = piece.hashes.len();
        (self.pct, self.hashed) = (pct, hashed);
        self.quantiles.clear();
        self.distinct.clear();
        if pct == 0 && hashed == 0 {
            return;
        }
        self.quantiles
            .resize_with(slot_count * pct, Quantiles::default);
        self.distinct
            .resize_with(slot_count * hashed, Distinct::default);
        for (row, &slot) in slots.iter().enumerate() {
            if slot == NO_SLOT {
                continue;
            }
            let s = slot as usize;
            for c in 0..pct {
                let x = piece.values[c][row];
                if is_valid(piece.valid[c], row) && !x.is_nan() {
                    self.quantiles[s * pct + c].insert(x);
                }
            }
            for (h, hashes) in piece.hashes.iter().enumerate() {
                if is_valid(piece.hash_valid[h], row) {
                    self.distinct[s * hashed + h].insert(hashes[row]);
                }
            }
        }
    }

    /// Bytes its vectors hold (the sketches left in them are empty: the
    /// stores took the others).
    pub(crate) fn bytes(&self) -> usize {
        self.quantiles.capacity() * size_of::<Quantiles>()
            + self.distinct.capacity() * size_of::<Distinct>()
    }

    /// Takes the percentile sketch of `slot`'s value column `column`.
    pub(crate) fn quantiles(&mut self, slot: u32, column: usize) -> Quantiles {
        self.quantiles
            .get_mut(slot as usize * self.pct + column)
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Takes the distinct-count sketch of `slot`'s hashed column `column`.
    pub(crate) fn distinct(&mut self, slot: u32, column: usize) -> Distinct {
        self.distinct
            .get_mut(slot as usize * self.hashed + column)
            .map(std::mem::take)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hll_ranks_count_leading_zeros() {
        assert_eq!(hll_register(u64::MAX), (1023, 1));
        assert_eq!(hll_register(0), (0, 55));
        assert_eq!(hll_register(1 << 53), (0, 1));
        assert_eq!(hll_register(1 << 52), (0, 2));
    }

    #[test]
    fn bins_follow_value_order_and_hold_their_values() {
        let values = [
            f64::NEG_INFINITY,
            -1e300,
            -1.0,
            -0.0,
            0.0,
            1e-310,
            1.0,
            1.01,
            1e300,
            f64::INFINITY,
        ];
        for w in values.windows(2) {
            assert!(bin_of(w[0]) <= bin_of(w[1]), "{} {}", w[0], w[1]);
        }
        assert_eq!(bin_value(bin_of(f64::INFINITY)), f64::INFINITY);
        assert_eq!(bin_value(bin_of(f64::NEG_INFINITY)), f64::NEG_INFINITY);
        for x in [1.0, -1.0, 3.7e12, -2.5e-8, 1.999_999, f64::MAX] {
            let v = bin_value(bin_of(x));
            assert!((v - x).abs() <= ALPHA * x.abs(), "{x} {v}");
        }
    }

    #[test]
    fn exact_then_binned_quantiles() {
        let mut q = Quantiles::default();
        for x in [5.0, 1.0, 3.0] {
            q.insert(x);
        }
        assert_eq!(q.quantile(0.5, None, None), Some(3.0));
        assert_eq!(q.quantile(0.0, None, None), Some(1.0));
        let mut big = Quantiles::default();
        for i in 1..=1000 {
            big.insert(f64::from(i));
        }
        assert!(matches!(big, Quantiles::Bins(_)));
        let p = big.quantile(0.99, Some(1.0), Some(1000.0)).unwrap();
        assert!((p - 990.0).abs() <= 990.0 * ALPHA, "{p}");
        assert_eq!(big.quantile(1.0, Some(1.0), Some(1000.0)), Some(1000.0));
        q.merge(big);
        assert_eq!(q.count(), 1003);
        let mut split = Quantiles::default();
        split.merge(Quantiles::Exact(vec![2.0; 20]));
        split.merge(Quantiles::Exact(vec![4.0; 20]));
        assert_eq!(split.count(), 40);
        assert_eq!(
            split.quantile(0.5, None, None),
            Some(bin_value(bin_of(2.0)))
        );
    }

    #[test]
    fn sparse_registers_turn_dense() {
        let mut d = Distinct::default();
        assert!(d.is_empty());
        d.insert(0);
        d.insert(u64::MAX);
        assert_eq!(d, Distinct::Sparse(vec![55, 1023 << 6 | 1]));
        assert_eq!(d.estimate(), hll_estimate(&d.registers()));
        let mut dense = Distinct::default();
        for i in 0..5000u64 {
            dense.insert(i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        }
        assert!(matches!(dense, Distinct::Dense(_)));
        assert_eq!(dense.estimate(), hll_estimate(&dense.registers()));
        let before = dense.registers();
        dense.merge(&d);
        assert_eq!(dense.registers()[0], before[0].max(55));
        d.merge(&dense);
        assert_eq!(d.registers(), dense.registers());
    }
}
