//! CPU twin of `shaders/aggregate.wgsl`: the exact per-slot state of one
//! batch of rows (see [`crate::window::layout`] for what the words hold).
//!
//! The shader runs three passes over the rows, each invocation one row, with
//! atomics on the slot's words: pass A counts and takes the high words of the
//! minima/maxima and the anchors; pass B, with the anchors final, adds the
//! fixed-point sums and takes the low words; pass C (only for `first`/`last`) picks the row at the first
//! and last time. This twin runs the same three functions. Every update is an
//! integer add, a min or a max, so the words do not depend on the order the
//! rows come in, and equal the shader's whatever order its atomics run in;
//! the twin picks the order that suits the cache. A state that fits in cache
//! (few slots) is updated pass by pass over the rows in order; a large one
//! (a million slots: 69 words a slot for two columns) slot by slot, from a
//! counting sort of the rows by slot, pass A over a slot's rows, then pass B
//! (then C) while its words are in cache, which turns two passes of random
//! writes into the state into one of sequential ones. Slots are split into
//! contiguous ranges, one a rayon task; no partial states need merging.

use rayon::prelude::*;

use crate::error::Result;
use crate::window::layout::{
    COL_WORDS, NO_SLOT, SLOT_HEADER, SQ_FRACTION, SQ_LIMBS, SUM_FRACTION, SUM_LIMBS, col,
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

/// The CPU aggregation backend.
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
        aggregate(input, out);
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

/// One task's share: the slots `first..first + count` and their words.
struct Part<'a> {
    first: u32,
    count: u32,
    words: &'a mut [u32],
}

/// Fills `out` with the state of `input` (which [`AggInput::check`] passed).
pub fn aggregate(input: &AggInput<'_>, out: &mut AggState) {
    fill(input, out, None);
}

/// [`aggregate`], slot by slot from sorted rows when `sort` says so, else
/// when the state is larger than [`SORT_ABOVE_BYTES`].
fn fill(input: &AggInput<'_>, out: &mut AggState, sort: Option<bool>) {
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
        .clamp(1, rayon::current_num_threads())
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
/// without it, each pass over all rows in order, skipping other tasks' slots.
fn run_part(input: &AggInput<'_>, part: &mut Part<'_>, by_slot: Option<&RowsBySlot>) {
    let stride = slot_words(input.values.len() as u32) as usize;
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
            pass_a(input, row, &mut part.words[s * stride..][..stride]);
        }
        for (row, s) in mine() {
            pass_b(input, row, &mut part.words[s * stride..][..stride]);
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
        for &row in rows {
            pass_a(input, row as usize, words);
        }
        for &row in rows {
            pass_b(input, row as usize, words);
        }
        if input.first_last {
            for &row in rows {
                pass_c(input, row as usize, words);
            }
        }
    }
}

/// Pass A for one row (WGSL `agg_pass_a`).
fn pass_a(input: &AggInput<'_>, row: usize, words: &mut [u32]) {
    words[0] += 1;
    let tkey = time_key(input.ts.get(row).copied().unwrap_or(0));
    for (c, values) in input.values.iter().enumerate() {
        if !is_valid(input.valid[c], row) {
            continue;
        }
        let w = &mut words[SLOT_HEADER as usize + c * COL_WORDS as usize..][..COL_WORDS as usize];
        let x = values[row];
        let bits = x.to_bits();
        w[col::COUNT as usize] += 1;
        if (bits >> 52) & 0x7ff == 0x7ff {
            let which = if x.is_nan() {
                col::NAN
            } else if bits >> 63 == 1 {
                col::NINF
            } else {
                col::PINF
            };
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
    }
}

/// Pass B for one row (WGSL `agg_pass_b`).
fn pass_b(input: &AggInput<'_>, row: usize, words: &mut [u32]) {
    let tkey = time_key(input.ts.get(row).copied().unwrap_or(0));
    for (c, values) in input.values.iter().enumerate() {
        if !is_valid(input.valid[c], row) {
            continue;
        }
        let w = &mut words[SLOT_HEADER as usize + c * COL_WORDS as usize..][..COL_WORDS as usize];
        let x = values[row];
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
    }
}

/// Pass C for one row (WGSL `agg_pass_c`).
fn pass_c(input: &AggInput<'_>, row: usize, words: &mut [u32]) {
    let tkey = time_key(input.ts.get(row).copied().unwrap_or(0));
    let (t_hi, t_lo) = ((tkey >> 32) as u32, tkey as u32);
    for c in 0..input.values.len() {
        if !is_valid(input.valid[c], row) {
            continue;
        }
        let w = &mut words[SLOT_HEADER as usize + c * COL_WORDS as usize..][..COL_WORDS as usize];
        let r = row as u32;
        if t_hi == w[col::FIRST_HI as usize] && t_lo == w[col::FIRST_LO as usize] {
            w[col::FIRST_ROW as usize] = w[col::FIRST_ROW as usize].min(r);
        }
        if t_hi == w[col::LAST_HI as usize] && t_lo == w[col::LAST_LO as usize] {
            w[col::LAST_ROW as usize] = w[col::LAST_ROW as usize].max(r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::layout::slot_init;

    #[test]
    fn rows_in_order_and_sorted_by_slot_give_the_same_words() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
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
        fill(&input, &mut in_order, Some(false));
        fill(&input, &mut by_slot, Some(true));
        assert_eq!(in_order, by_slot);
        assert_ne!(in_order.words, slot_init(2).repeat(300));
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
