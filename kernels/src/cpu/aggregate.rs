//! CPU twin of `shaders/aggregate.wgsl`: the exact per-slot state of one
//! batch of rows (see [`crate::window::layout`] for what the words hold).
//!
//! The shader runs three passes over the rows, each invocation one row, with
//! atomics on the slot's words: pass A counts and takes the high words of the
//! minima/maxima and the anchors; pass B, with the anchors final, adds the
//! fixed-point sums and takes the low words; pass C (only for `first`/`last`)
//! picks the row at the first and last time. This twin has the same three
//! functions (`pass_a`, `pass_b`, `pass_c`), and every update is an
//! integer add, a min or a max, so the words do not depend on the order the
//! rows come in, and equal the shader's whatever order its atomics run in.
//!
//! The twin does passes A and B in one walk (`pass_ab`): the anchor as it
//! stands so far, the sums shifted down when it rises, the minima and maxima
//! compared as whole 64-bit keys. That gives the same words as the two
//! passes whenever no value is truncated under the final anchor, that is
//! when every nonzero finite value of a slot's column is at most
//! [`SUM_FRACTION`] binades below its largest: the shifts then drop only
//! zero bits. A slot where that fails (values more than 2^72 apart) is reset
//! and done again by passes A and B, so the words are the shader's in every
//! case.
//!
//! The twin picks the order that suits the cache. A state that fits in
//! cache (few slots) is updated over the rows in order; a large one (a
//! million slots: 69 words a slot for two columns) slot by slot, from a
//! counting sort of the rows by slot, all passes over a slot's rows while its
//! words are in cache, which turns random writes into the state into
//! sequential ones. Slots are split into contiguous ranges, one a rayon
//! task; no partial states need merging.

use rayon::prelude::*;

use crate::error::Result;
use crate::window::layout::{
    COL_WORDS, NO_SLOT, SLOT_HEADER, SQ_FRACTION, SQ_LIMBS, SUM_FRACTION, SUM_LIMBS, col, col_init,
    order_key, slot_words, time_key,
};
use crate::window::{AggInput, AggState, Aggregator};

/// Rows one rayon task walks at least (smaller batches run on one thread).
const MIN_ROWS_PER_TASK: usize = 1 << 15;

/// Batch state (slot words) above this many bytes is filled
/// slot by slot from the rows sorted by slot; below it the state stays in
/// cache (this machine's L3 is 32 MiB, its L2 1 MiB a core) while each pass
/// reads the rows in order, which is faster than the sort.
const SORT_ABOVE_BYTES: usize = 8 << 20;

/// The CPU aggregation backend, on rayon's threads.
#[derive(Debug, Default)]
pub struct CpuAggregator;

impl Aggregator for CpuAggregator {
    fn label(&self) -> String {
        format!("cpu ({} threads)", rayon::current_num_threads())
    }

    fn is_gpu(&self) -> bool {
        false
    }

    fn aggregate(&mut self, input: &AggInput<'_>, out: &mut AggState) -> Result<()> {
        input.check()?;
        fill(input, out, None, rayon::current_num_threads());
        Ok(())
    }
}

/// The CPU aggregation backend on the calling thread alone, for callers
/// that already run one aggregation a core (a query's partitions). Split
/// across threads, each thread walks every row of the batch and skips the
/// others' slots: a branch that goes either way at random, which cost more
/// than the split gained when every core already had a partition.
#[derive(Debug, Default)]
pub struct SerialCpuAggregator;

impl Aggregator for SerialCpuAggregator {
    fn label(&self) -> String {
        "cpu (1 thread)".into()
    }

    fn is_gpu(&self) -> bool {
        false
    }

    fn aggregate(&mut self, input: &AggInput<'_>, out: &mut AggState) -> Result<()> {
        input.check()?;
        fill(input, out, None, 1);
        Ok(())
    }
}

/// Whether bit `row` of a validity bitmap is set (no bitmap: all valid).
#[inline]
pub fn is_valid(valid: Option<&[u32]>, row: usize) -> bool {
    valid.is_none_or(|v| v[row >> 5] >> (row & 31) & 1 == 1)
}

/// The biased exponent, as the anchors count it (subnormals and zero as 1).
#[inline]
fn exponent(bits: u64) -> u32 {
    (((bits >> 52) & 0x7ff) as u32).max(1)
}

/// The 53-bit integer mantissa of a finite f64.
#[inline]
fn mantissa(bits: u64) -> u64 {
    let frac = bits & ((1 << 52) - 1);
    if (bits >> 52) & 0x7ff == 0 {
        frac
    } else {
        frac | 1 << 52
    }
}

/// `mag * 2^shift`, truncated toward zero (WGSL `shift_mag`); the callers'
/// magnitudes stay below 2^128 after the shift.
#[inline]
fn shifted(mag: u128, shift: i32) -> u128 {
    if shift >= 0 {
        mag << shift
    } else if shift > -128 {
        mag >> -shift
    } else {
        0
    }
}

/// Adds `v` to the 160-bit accumulator at `acc` (WGSL `add_shifted` into
/// [`SUM_LIMBS`] limbs).
#[inline]
fn acc_add(acc: &mut [u32], v: u128) {
    let low = u128::from(acc[0])
        | u128::from(acc[1]) << 32
        | u128::from(acc[2]) << 64
        | u128::from(acc[3]) << 96;
    let (sum, carry) = low.overflowing_add(v);
    acc[0] = sum as u32;
    acc[1] = (sum >> 32) as u32;
    acc[2] = (sum >> 64) as u32;
    acc[3] = (sum >> 96) as u32;
    acc[4] = acc[4].wrapping_add(u32::from(carry));
}

/// Adds `mag * 2^shift`, truncated toward zero, to the accumulator `acc`
/// (least significant limb first, wrapping past its last limb), as WGSL
/// `add_shifted` does limb by limb: the squares, shifted up to
/// [`SQ_FRACTION`] bits, outgrow a `u128`.
#[inline]
fn acc_add_wide(acc: &mut [u32], mag: u128, shift: i32) {
    let (mag, shift) = if shift >= 0 {
        (mag, shift as u32)
    } else {
        (shifted(mag, shift), 0)
    };
    if mag == 0 {
        return;
    }
    let (word, bit) = ((shift / 32) as usize, shift % 32);
    // mag << bit, as five limbs.
    let low = mag << bit;
    let high = if bit == 0 {
        0
    } else {
        (mag >> (128 - bit)) as u32
    };
    let parts = [
        low as u32,
        (low >> 32) as u32,
        (low >> 64) as u32,
        (low >> 96) as u32,
        high,
    ];
    let mut carry = 0u64;
    for (i, limb) in acc.iter_mut().enumerate().skip(word) {
        if i - word >= parts.len() && carry == 0 {
            break;
        }
        let part = parts.get(i - word).copied().unwrap_or(0);
        let s = u64::from(*limb) + u64::from(part) + carry;
        *limb = s as u32;
        carry = s >> 32;
    }
}

/// Column `c`'s words of one slot's words.
#[inline]
fn column_words(words: &mut [u32], c: usize) -> &mut [u32] {
    &mut words[SLOT_HEADER as usize + c * COL_WORDS as usize..][..COL_WORDS as usize]
}

/// The word that counts `x` when it is a NaN or an infinity; `None` for a
/// finite value.
#[inline]
fn special_word(x: f64) -> Option<u32> {
    let bits = x.to_bits();
    ((bits >> 52) & 0x7ff == 0x7ff).then(|| {
        if x.is_nan() {
            col::NAN
        } else if bits >> 63 == 1 {
            col::NINF
        } else {
            col::PINF
        }
    })
}

/// Calls `f` with each column holding a value at `row`: the column, its
/// words of the slot's `words`, and the value (the loop every pass has).
#[inline]
fn each_value(
    input: &AggInput<'_>,
    row: usize,
    words: &mut [u32],
    mut f: impl FnMut(usize, &mut [u32], f64),
) {
    for (c, values) in input.values.iter().enumerate() {
        if is_valid(input.valid[c], row) {
            f(c, column_words(words, c), values[row]);
        }
    }
}

/// One task's share: the slots `first..first + count` and their words.
struct Part<'a> {
    first: u32,
    count: u32,
    words: &'a mut [u32],
}

/// Fills `out` with the state of `input` (which [`AggInput::check`] passed).
pub fn aggregate(input: &AggInput<'_>, out: &mut AggState) {
    fill(input, out, None, rayon::current_num_threads());
}

/// [`aggregate`] in at most `threads` rayon tasks, slot by slot from
/// sorted rows when `sort` says so, else when the state is larger than
/// [`SORT_ABOVE_BYTES`].
fn fill(input: &AggInput<'_>, out: &mut AggState, sort: Option<bool>, threads: usize) {
    out.reset_for(input);
    let columns = input.values.len() as u32;
    let stride = slot_words(columns) as usize;
    let slots = input.slot_count as usize;
    if slots == 0 {
        return;
    }

    let state_bytes = 4 * out.words.len();
    let by_slot = sort
        .unwrap_or(state_bytes > SORT_ABOVE_BYTES)
        .then(|| RowsBySlot::new(input.slots, slots));
    let tasks = (input.slots.len() / MIN_ROWS_PER_TASK)
        .clamp(1, threads.max(1))
        .min(slots);
    let per = slots.div_ceil(tasks);
    let mut parts = Vec::with_capacity(tasks);
    let mut words = &mut out.words[..];
    let mut first = 0;
    while first < slots {
        let count = per.min(slots - first);
        let (w, rest) = words.split_at_mut(count * stride);
        words = rest;
        parts.push(Part {
            first: first as u32,
            count: count as u32,
            words: w,
        });
        first += count;
    }
    parts
        .par_iter_mut()
        .for_each(|part| run_part(input, part, by_slot.as_ref()));
}

/// The rows of every slot, in row order: slot `s` holds
/// `rows[start[s]..start[s + 1]]` (rows without a slot are left out).
struct RowsBySlot {
    start: Vec<u32>,
    rows: Vec<u32>,
}

impl RowsBySlot {
    /// A counting sort of the rows by slot.
    fn new(slots: &[u32], slot_count: usize) -> Self {
        let mut start = vec![0u32; slot_count + 1];
        for &s in slots {
            if s != NO_SLOT {
                start[s as usize + 1] += 1;
            }
        }
        for i in 1..start.len() {
            start[i] += start[i - 1];
        }
        let mut next = start.clone();
        let mut rows = vec![0u32; start[slot_count] as usize];
        for (row, &s) in slots.iter().enumerate() {
            if s != NO_SLOT {
                let at = &mut next[s as usize];
                rows[*at as usize] = row as u32;
                *at += 1;
            }
        }
        RowsBySlot { start, rows }
    }

    /// The rows of slot `slot`.
    fn of(&self, slot: usize) -> &[u32] {
        &self.rows[self.start[slot] as usize..self.start[slot + 1] as usize]
    }
}

/// Runs the passes over one task's slots: slot by slot from `by_slot`, or,
/// without it, over all rows in order, skipping other tasks' slots. Passes
/// A and B are one walk ([`pass_ab`]); a slot whose values turn out too far
/// apart for it is reset and done again by [`pass_a`] and [`pass_b`].
fn run_part(input: &AggInput<'_>, part: &mut Part<'_>, by_slot: Option<&RowsBySlot>) {
    let columns = input.values.len();
    let stride = slot_words(columns as u32) as usize;
    // The smallest exponent of a nonzero finite value, a slot and column.
    let mut low = vec![NO_EXPONENT; part.count as usize * columns];
    let Some(by_slot) = by_slot else {
        let local = |slot: u32| -> Option<usize> {
            let s = slot.wrapping_sub(part.first);
            (slot != NO_SLOT && s < part.count).then_some(s as usize)
        };
        let mine = || {
            input
                .slots
                .iter()
                .enumerate()
                .filter_map(|(row, &slot)| local(slot).map(|s| (row, s)))
        };
        for (row, s) in mine() {
            pass_ab(
                input,
                row,
                &mut part.words[s * stride..][..stride],
                &mut low[s * columns..][..columns],
            );
        }
        let redo: Vec<bool> = (0..part.count as usize)
            .map(|s| {
                truncates(
                    &part.words[s * stride..][..stride],
                    &low[s * columns..][..columns],
                )
            })
            .collect();
        if redo.iter().any(|&r| r) {
            let again = || mine().filter(|&(_, s)| redo[s]);
            for (s, _) in redo.iter().enumerate().filter(|(_, r)| **r) {
                reset(&mut part.words[s * stride..][..stride]);
            }
            for (row, s) in again() {
                pass_a(input, row, &mut part.words[s * stride..][..stride]);
            }
            for (row, s) in again() {
                pass_b(input, row, &mut part.words[s * stride..][..stride]);
            }
        }
        if input.first_last {
            for (row, s) in mine() {
                pass_c(input, row, &mut part.words[s * stride..][..stride]);
            }
        }
        return;
    };
    for s in 0..part.count as usize {
        let rows = by_slot.of(part.first as usize + s);
        let words = &mut part.words[s * stride..(s + 1) * stride];
        let low = &mut low[s * columns..][..columns];
        for &row in rows {
            pass_ab(input, row as usize, words, low);
        }
        if truncates(words, low) {
            reset(words);
            for &row in rows {
                pass_a(input, row as usize, words);
            }
            for &row in rows {
                pass_b(input, row as usize, words);
            }
        }
        if input.first_last {
            for &row in rows {
                pass_c(input, row as usize, words);
            }
        }
    }
}

// `take_min` and `take_max` read each key's low word right after its high one.
const _: () = assert!(
    col::MIN_LO == col::MIN_HI + 1
        && col::MAX_LO == col::MAX_HI + 1
        && col::FIRST_LO == col::FIRST_HI + 1
        && col::LAST_LO == col::LAST_HI + 1
);

/// No exponent seen yet (above every biased exponent).
const NO_EXPONENT: u16 = u16::MAX;

/// Whether some column of a slot [`pass_ab`] filled has a nonzero value
/// that passes A and B truncate: more than [`SUM_FRACTION`] binades below
/// the anchor, given the smallest such exponent `low` of each column.
fn truncates(words: &[u32], low: &[u16]) -> bool {
    low.iter().enumerate().any(|(c, &e)| {
        let anchor = words[SLOT_HEADER as usize + c * COL_WORDS as usize + col::ANCHOR as usize];
        e != NO_EXPONENT && i32::from(e) + SUM_FRACTION < anchor as i32
    })
}

/// Sets a slot's words back to their initial values.
fn reset(words: &mut [u32]) {
    words[0] = 0;
    for (i, w) in words[SLOT_HEADER as usize..].iter_mut().enumerate() {
        *w = col_init((i % COL_WORDS as usize) as u32);
    }
}

/// `acc` (least significant limb first) shifted right by `bits`; the bits
/// shifted out are zero where [`pass_ab`] calls it.
#[inline]
fn acc_shift_right(acc: &mut [u32], bits: u32) {
    let (words, bit) = ((bits / 32) as usize, bits % 32);
    let n = acc.len();
    for i in 0..n {
        let lo = acc.get(i + words).copied().unwrap_or(0);
        let hi = acc.get(i + words + 1).copied().unwrap_or(0);
        acc[i] = if bit == 0 {
            lo
        } else {
            lo >> bit | hi << (32 - bit)
        };
    }
}

/// Passes A and B for one row in one walk, with the anchor as it stands so
/// far: when a value raises a column's anchor by `d`, the sums so far are
/// shifted down by `d` (the squares by `2d`), and `low` keeps each column's
/// smallest exponent of a nonzero finite value so that [`truncates`] can
/// tell whether the result is the two passes' (see the module notes).
fn pass_ab(input: &AggInput<'_>, row: usize, words: &mut [u32], low: &mut [u16]) {
    words[0] += 1;
    let tkey = time_key(input.ts.get(row).copied().unwrap_or(0));
    each_value(input, row, words, |c, w, x| {
        let bits = x.to_bits();
        w[col::COUNT as usize] += 1;
        let key = order_key(x);
        take_min(w, col::MIN_HI, key);
        take_max(w, col::MAX_HI, key);
        if input.first_last {
            take_min(w, col::FIRST_HI, tkey);
            take_max(w, col::LAST_HI, tkey);
        }
        if let Some(which) = special_word(x) {
            w[which as usize] += 1;
            return;
        }
        let e = exponent(bits);
        let anchor = w[col::ANCHOR as usize];
        if e > anchor {
            if anchor != 0 {
                let d = e - anchor;
                for sum in [col::POS, col::NEG] {
                    acc_shift_right(&mut w[sum as usize..(sum + SUM_LIMBS) as usize], d);
                }
                if input.squares {
                    acc_shift_right(
                        &mut w[col::SQ as usize..(col::SQ + SQ_LIMBS) as usize],
                        2 * d,
                    );
                }
            }
            w[col::ANCHOR as usize] = e;
        }
        let m = mantissa(bits);
        if m == 0 {
            return;
        }
        low[c] = low[c].min(e as u16);
        let shift = e as i32 - w[col::ANCHOR as usize] as i32;
        let m = u128::from(m);
        let target = if bits >> 63 == 1 { col::NEG } else { col::POS } as usize;
        acc_add(
            &mut w[target..target + SUM_LIMBS as usize],
            shifted(m, shift + SUM_FRACTION),
        );
        if input.squares {
            acc_add_wide(
                &mut w[col::SQ as usize..(col::SQ + SQ_LIMBS) as usize],
                m * m,
                2 * shift + SQ_FRACTION,
            );
        }
    });
}

/// The 64-bit key held at words `hi` and `hi + 1`.
#[inline]
fn key_at(w: &[u32], hi: u32) -> u64 {
    u64::from(w[hi as usize]) << 32 | u64::from(w[hi as usize + 1])
}

/// Keeps the smaller of `key` and the key at words `hi`, `hi + 1`.
#[inline]
fn take_min(w: &mut [u32], hi: u32, key: u64) {
    if key < key_at(w, hi) {
        w[hi as usize] = (key >> 32) as u32;
        w[hi as usize + 1] = key as u32;
    }
}

/// Keeps the larger of `key` and the key at words `hi`, `hi + 1`.
#[inline]
fn take_max(w: &mut [u32], hi: u32, key: u64) {
    if key > key_at(w, hi) {
        w[hi as usize] = (key >> 32) as u32;
        w[hi as usize + 1] = key as u32;
    }
}

/// Pass A for one row (WGSL `agg_pass_a`).
fn pass_a(input: &AggInput<'_>, row: usize, words: &mut [u32]) {
    words[0] += 1;
    let tkey = time_key(input.ts.get(row).copied().unwrap_or(0));
    each_value(input, row, words, |_, w, x| {
        let bits = x.to_bits();
        w[col::COUNT as usize] += 1;
        if let Some(which) = special_word(x) {
            w[which as usize] += 1;
        } else {
            let e = exponent(bits);
            w[col::ANCHOR as usize] = w[col::ANCHOR as usize].max(e);
        }
        let key_hi = (order_key(x) >> 32) as u32;
        w[col::MIN_HI as usize] = w[col::MIN_HI as usize].min(key_hi);
        w[col::MAX_HI as usize] = w[col::MAX_HI as usize].max(key_hi);
        if input.first_last {
            let t_hi = (tkey >> 32) as u32;
            w[col::FIRST_HI as usize] = w[col::FIRST_HI as usize].min(t_hi);
            w[col::LAST_HI as usize] = w[col::LAST_HI as usize].max(t_hi);
        }
    });
}

/// Pass B for one row (WGSL `agg_pass_b`).
fn pass_b(input: &AggInput<'_>, row: usize, words: &mut [u32]) {
    let tkey = time_key(input.ts.get(row).copied().unwrap_or(0));
    each_value(input, row, words, |_, w, x| {
        let bits = x.to_bits();
        let key = order_key(x);
        let (hi, lo) = ((key >> 32) as u32, key as u32);
        if hi == w[col::MIN_HI as usize] {
            w[col::MIN_LO as usize] = w[col::MIN_LO as usize].min(lo);
        }
        if hi == w[col::MAX_HI as usize] {
            w[col::MAX_LO as usize] = w[col::MAX_LO as usize].max(lo);
        }
        if input.first_last {
            let (t_hi, t_lo) = ((tkey >> 32) as u32, tkey as u32);
            if t_hi == w[col::FIRST_HI as usize] {
                w[col::FIRST_LO as usize] = w[col::FIRST_LO as usize].min(t_lo);
            }
            if t_hi == w[col::LAST_HI as usize] {
                w[col::LAST_LO as usize] = w[col::LAST_LO as usize].max(t_lo);
            }
        }
        let anchor = w[col::ANCHOR as usize];
        if (bits >> 52) & 0x7ff != 0x7ff {
            let e = exponent(bits) as i32;
            let a = anchor as i32;
            let m = u128::from(mantissa(bits));
            let target = if bits >> 63 == 1 { col::NEG } else { col::POS } as usize;
            acc_add(
                &mut w[target..target + SUM_LIMBS as usize],
                shifted(m, e - a + SUM_FRACTION),
            );
            if input.squares {
                acc_add_wide(
                    &mut w[col::SQ as usize..(col::SQ + SQ_LIMBS) as usize],
                    m * m,
                    2 * (e - a) + SQ_FRACTION,
                );
            }
        }
    });
}

/// Pass C for one row (WGSL `agg_pass_c`).
fn pass_c(input: &AggInput<'_>, row: usize, words: &mut [u32]) {
    let tkey = time_key(input.ts.get(row).copied().unwrap_or(0));
    let (t_hi, t_lo) = ((tkey >> 32) as u32, tkey as u32);
    each_value(input, row, words, |_, w, _| {
        let r = row as u32;
        if t_hi == w[col::FIRST_HI as usize] && t_lo == w[col::FIRST_LO as usize] {
            w[col::FIRST_ROW as usize] = w[col::FIRST_ROW as usize].min(r);
        }
        if t_hi == w[col::LAST_HI as usize] && t_lo == w[col::LAST_LO as usize] {
            w[col::LAST_ROW as usize] = w[col::LAST_ROW as usize].max(r);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::layout::slot_init;

    /// A xorshift generator from `seed`: the same numbers every run.
    fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        }
    }

    #[test]
    fn rows_in_order_and_sorted_by_slot_give_the_same_words() {
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        let rows = 5000usize;
        let slots: Vec<u32> = (0..rows)
            .map(|_| match next() % 50 {
                0 => NO_SLOT,
                n => (n as u32 * 7919) % 300,
            })
            .collect();
        let ts: Vec<i64> = (0..rows).map(|_| (next() % 1000) as i64 - 500).collect();
        let a: Vec<f64> = (0..rows)
            .map(|i| match i % 97 {
                0 => f64::NAN,
                1 => f64::NEG_INFINITY,
                2 => -0.0,
                _ => (next() as i64 as f64) * 2f64.powi((next() % 80) as i32 - 40),
            })
            .collect();
        let valid: Vec<u32> = (0..rows.div_ceil(32)).map(|_| next() as u32).collect();
        let input = AggInput {
            slots: &slots,
            slot_count: 300,
            ts: &ts,
            values: &[&a, &a],
            valid: &[None, Some(&valid)],
            first_last: true,
            squares: true,
        };
        let (mut in_order, mut by_slot) = (AggState::default(), AggState::default());
        fill(&input, &mut in_order, Some(false), 2);
        fill(&input, &mut by_slot, Some(true), 2);
        assert_eq!(in_order, by_slot);
        assert_ne!(in_order.words, slot_init(2).repeat(300));
    }

    /// The shader's three passes as they stand, one after the other, over
    /// every row: the reference the one-walk fill must equal.
    fn two_passes(input: &AggInput<'_>) -> AggState {
        let mut out = AggState::default();
        out.reset_for(input);
        let stride = slot_words(input.values.len() as u32) as usize;
        let rows = || {
            input
                .slots
                .iter()
                .enumerate()
                .filter(|(_, s)| **s != NO_SLOT)
                .map(|(r, &s)| (r, s as usize * stride))
        };
        for (row, at) in rows() {
            pass_a(input, row, &mut out.words[at..at + stride]);
        }
        for (row, at) in rows() {
            pass_b(input, row, &mut out.words[at..at + stride]);
        }
        if input.first_last {
            for (row, at) in rows() {
                pass_c(input, row, &mut out.words[at..at + stride]);
            }
        }
        out
    }

    #[test]
    fn one_walk_gives_the_two_passes_words_at_every_spread_of_magnitudes() {
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
        let rows = 4000usize;
        // Binades the values of a column span: within SUM_FRACTION (one
        // walk is exact), at it, just past it, and far past it (the slot is
        // done again by the two passes).
        for spread in [1u64, 40, 72, 73, 90, 2000] {
            let slots: Vec<u32> = (0..rows)
                .map(|_| match next() % 40 {
                    0 => NO_SLOT,
                    n => n as u32 % 37,
                })
                .collect();
            let ts: Vec<i64> = (0..rows).map(|_| (next() % 500) as i64 - 250).collect();
            let value = |r: u64, k: u64| -> f64 {
                match r % 61 {
                    0 => 0.0,
                    1 => -0.0,
                    2 => f64::NAN,
                    3 => f64::INFINITY,
                    4 => f64::from_bits(k % (1 << 52)),
                    _ => {
                        let m = (k >> 11) as f64 * if r & 1 == 0 { 1.0 } else { -1.0 };
                        m * 2f64.powi(((k % spread) as i32) - 52 - (spread as i32) / 2)
                    }
                }
            };
            let a: Vec<f64> = (0..rows).map(|_| value(next(), next())).collect();
            // Magnitudes rising row after row: the anchor rises often.
            let b: Vec<f64> = (0..rows)
                .map(|i| (i as f64 + 1.5) * 2f64.powi((i as u64 * spread / rows as u64) as i32))
                .collect();
            let valid: Vec<u32> = (0..rows.div_ceil(32)).map(|_| next() as u32 | 1).collect();
            for (first_last, squares) in [(false, false), (false, true), (true, true)] {
                let input = AggInput {
                    slots: &slots,
                    slot_count: 37,
                    ts: &ts,
                    values: &[&a, &b, &a],
                    valid: &[None, None, Some(&valid)],
                    first_last,
                    squares,
                };
                let expected = two_passes(&input);
                for sort in [false, true] {
                    let mut got = AggState::default();
                    fill(&input, &mut got, Some(sort), 2);
                    assert_eq!(
                        got, expected,
                        "spread {spread}, sorted {sort}, first/last {first_last}, squares {squares}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_slot_of_values_too_far_apart_is_done_again_by_the_two_passes() {
        let words = |anchor: u32| {
            let mut w = slot_init(1);
            w[SLOT_HEADER as usize + col::ANCHOR as usize] = anchor;
            w
        };
        assert!(!truncates(&words(1100), &[1100 - 72]));
        assert!(truncates(&words(1100), &[1100 - 73]));
        assert!(!truncates(&words(1100), &[NO_EXPONENT]));
        let mut w = words(7);
        w[0] = 3;
        reset(&mut w);
        assert_eq!(w, slot_init(1));
        let mut acc = [0, 0b110, 1];
        acc_shift_right(&mut acc, 33);
        assert_eq!(acc, [0b11 | 1 << 31, 0, 0]);
        acc_shift_right(&mut acc, 500);
        assert_eq!(acc, [0, 0, 0]);
    }

    #[test]
    fn accumulators_carry() {
        let mut acc = [u32::MAX, u32::MAX, u32::MAX, u32::MAX, 0];
        acc_add(&mut acc, 1);
        assert_eq!(acc, [0, 0, 0, 0, 1]);
        assert_eq!(shifted(3, -1), 1);
        assert_eq!(shifted(3, -200), 0);
        assert_eq!(shifted(3, 64), 3 << 64);
        let mut wide = [u32::MAX, 0, 0, 0, 0, 0, 0, 0, 0];
        acc_add_wide(&mut wide, 1 << 105, 144 + 1);
        acc_add_wide(&mut wide, 3, -1);
        assert_eq!(wide, [0, 1, 0, 0, 0, 0, 0, 1 << 26, 0]);
        let mut top = [0, 0, 0, 0, 0, 0, 0, 0, u32::MAX];
        acc_add_wide(&mut top, 1, 256);
        assert_eq!(top, [0; 9], "wraps past the last limb");
    }
}
