//! Exact finishing of the moment aggregates: the mean, the variance and the
//! standard deviation computed from the integer state in wide integers, with
//! one rounding to f64 at the end.
//!
//! With `s` the signed fixed-point sum (unit `u = 2^(anchor - 1075 -
//! SUM_FRACTION)`), `q` the sum of squares (unit `u²`) and `n` the count:
//!
//! - mean = `s·u / n`;
//! - variance = `(n·q − s²)·u² / D`, with `D = n²` (population) or `n(n − 1)`
//!   (sample); `n·q − s²` is `n·Σx² − (Σx)²`, never negative when the state is
//!   exact (a state that truncated values far below its largest can make it
//!   so: it is taken as 0);
//! - standard deviation = `sqrt((n·q − s²) / D)·u`.
//!
//! Each is *correctly rounded*: the f64 nearest the exact real value of that
//! expression over the state (ties to even; the standard deviation's exact
//! value is the real square root of the exact variance, not the root of the
//! rounded variance, which can be one ulp off). It is computed as an integer
//! quotient `Q = floor(N·2^k / D)` with at least 55 significant bits and a
//! sticky flag for a nonzero remainder; for the root, `R = isqrt(Q)` with at
//! least 55 bits, inexact unless the quotient was exact and `R² = Q`. Since
//! the rounding point of 53 bits is then an integer, `floor` and the flag
//! decide the rounding exactly. Results in the subnormal range are rounded
//! to 53 bits first, then scaled (as [`super::acc::big_to_f64`] does).

use super::acc::{BIG_LIMBS, ExactAcc, big_cmp, big_sub, u128_to_f64};
use super::layout::SUM_FRACTION;

/// 64-bit limbs of a wide integer, least significant first: 512 bits hold
/// `n·q` (at most 64 + 314 bits) and `s²` (at most 2·189 bits).
const LIMBS: usize = 8;

/// An unsigned wide integer.
type Wide = [u64; LIMBS];

/// Significant bits of the quotient a mean or variance is rounded from.
const QUOTIENT_BITS: u32 = 62;

/// Significant bits of the quotient a standard deviation's root is taken of
/// (its root then has 57 or 58).
const ROOT_QUOTIENT_BITS: u32 = 114;

fn from_u32s(limbs: &[u32]) -> Wide {
    let mut w = [0; LIMBS];
    for (i, &l) in limbs.iter().enumerate() {
        w[i / 2] |= u64::from(l) << (32 * (i % 2));
    }
    w
}

fn bits(a: &Wide) -> u32 {
    (0..LIMBS)
        .rev()
        .find(|&i| a[i] != 0)
        .map_or(0, |i| 64 * i as u32 + 64 - a[i].leading_zeros())
}

fn mul_small(a: &Wide, m: u64) -> Wide {
    let mut out = [0; LIMBS];
    let mut carry = 0u128;
    for (o, &x) in out.iter_mut().zip(a) {
        let p = u128::from(x) * u128::from(m) + carry;
        *o = p as u64;
        carry = p >> 64;
    }
    out
}

fn square(a: &Wide) -> Wide {
    let mut out = [0u64; LIMBS];
    for i in 0..LIMBS {
        let mut carry = 0u128;
        for j in 0..LIMBS - i {
            let p = u128::from(a[i]) * u128::from(a[j]) + u128::from(out[i + j]) + carry;
            out[i + j] = p as u64;
            carry = p >> 64;
        }
    }
    out
}

/// `a - b`, or 0 when `b > a`.
fn sub_or_zero(a: &Wide, b: &Wide) -> Wide {
    if a.iter().rev().cmp(b.iter().rev()) == std::cmp::Ordering::Less {
        return [0; LIMBS];
    }
    let mut out = [0; LIMBS];
    let mut borrow = false;
    for i in 0..LIMBS {
        let (d, b1) = a[i].overflowing_sub(b[i]);
        let (d, b2) = d.overflowing_sub(u64::from(borrow));
        out[i] = d;
        borrow = b1 || b2;
    }
    out
}

/// `a * 2^k` (`k` may be negative: then truncated), and whether bits were
/// dropped. The callers keep the result within [`LIMBS`].
fn scale(a: &Wide, k: i32) -> (Wide, bool) {
    let mut out = [0; LIMBS];
    let (words, bits) = ((k.unsigned_abs() / 64) as usize, k.unsigned_abs() % 64);
    if k >= 0 {
        for i in (words..LIMBS).rev() {
            let lo = a[i - words];
            let below = if bits == 0 || i == words {
                0
            } else {
                a[i - words - 1] >> (64 - bits)
            };
            out[i] = if bits == 0 { lo } else { lo << bits | below };
        }
        return (out, false);
    }
    for (i, o) in out.iter_mut().enumerate() {
        let lo = a.get(i + words).copied().unwrap_or(0);
        let hi = a.get(i + words + 1).copied().unwrap_or(0);
        *o = if bits == 0 {
            lo
        } else {
            lo >> bits | hi << (64 - bits)
        };
    }
    let dropped = a[..words.min(LIMBS)].iter().any(|&x| x != 0)
        || (bits > 0 && words < LIMBS && a[words] & ((1 << bits) - 1) != 0);
    (out, dropped)
}

/// `floor(a / d)` and whether the remainder is nonzero.
fn div_small(a: &Wide, d: u64) -> (Wide, bool) {
    let mut out = [0; LIMBS];
    let mut rem = 0u128;
    for i in (0..LIMBS).rev() {
        let cur = rem << 64 | u128::from(a[i]);
        out[i] = (cur / u128::from(d)) as u64;
        rem = cur % u128::from(d);
    }
    (out, rem != 0)
}

/// `floor(num·2^k / (d0·d1))` as a `u128` with `target` or `target + 1`
/// significant bits, its `k`, and whether it is inexact. `num` is not zero.
fn quotient(num: &Wide, d0: u64, d1: u64, target: u32, even_k: bool) -> (u128, i32, bool) {
    let den_bits = 128 - (u128::from(d0) * u128::from(d1)).leading_zeros();
    let mut k = target as i32 - bits(num) as i32 + den_bits as i32;
    if even_k && k % 2 != 0 {
        k += 1;
    }
    let (scaled, dropped) = scale(num, k);
    // floor(floor(x / a) / b) = floor(x / (a b)); the remainder of the whole
    // is zero only when every step's is.
    let (q, r0) = div_small(&scaled, d0);
    let (q, r1) = div_small(&q, d1);
    debug_assert!(q[2..].iter().all(|&x| x == 0));
    (
        u128::from(q[0]) | u128::from(q[1]) << 64,
        k,
        dropped || r0 || r1,
    )
}

/// `v·2^exp` correctly rounded, `v` being the floor of the exact value
/// (with at least 54 significant bits) and `inexact` whether it was below
/// it: a set bit appended below `v` stands for the remainder.
fn round(v: u128, exp: i32, inexact: bool) -> f64 {
    if inexact {
        u128_to_f64(v << 1 | 1, exp - 1)
    } else {
        u128_to_f64(v, exp)
    }
}

/// The sum's unit exponent, `log2 u`.
fn unit(acc: &ExactAcc) -> i32 {
    acc.anchor as i32 - 1075 - SUM_FRACTION
}

/// `|s|` as a wide integer, and whether `s` is negative.
fn signed_sum(acc: &ExactAcc) -> (Wide, bool) {
    let negative = big_cmp(&acc.pos, &acc.neg) == std::cmp::Ordering::Less;
    let mag = if negative {
        big_sub(&acc.neg, &acc.pos)
    } else {
        big_sub(&acc.pos, &acc.neg)
    };
    debug_assert_eq!(mag.len(), BIG_LIMBS);
    (from_u32s(&mag), negative)
}

/// The mean of a state with `count > 0` finite values, correctly rounded.
pub(super) fn mean(acc: &ExactAcc) -> f64 {
    let (s, negative) = signed_sum(acc);
    if bits(&s) == 0 {
        return 0.0;
    }
    let (q, k, inexact) = quotient(&s, acc.count, 1, QUOTIENT_BITS, false);
    let v = round(q, unit(acc) - k, inexact);
    if negative { -v } else { v }
}

/// `n·q − s²` (0 when truncation made it negative), and the denominator's
/// factors.
fn second_moment(acc: &ExactAcc, sample: bool) -> (Wide, u64, u64) {
    let (s, _) = signed_sum(acc);
    let nq = mul_small(&from_u32s(&acc.sq), acc.count);
    let n = acc.count;
    (
        sub_or_zero(&nq, &square(&s)),
        n,
        if sample { n - 1 } else { n },
    )
}

/// The variance of a state with `count` finite values (at least 2 for the
/// sample variance), correctly rounded.
pub(super) fn variance(acc: &ExactAcc, sample: bool) -> f64 {
    let (m, d0, d1) = second_moment(acc, sample);
    if bits(&m) == 0 {
        return 0.0;
    }
    let (q, k, inexact) = quotient(&m, d0, d1, QUOTIENT_BITS, false);
    round(q, 2 * unit(acc) - k, inexact)
}

/// The standard deviation of a state with `count` finite values (at least 2
/// for the sample one): the exact variance's square root, correctly rounded.
pub(super) fn stddev(acc: &ExactAcc, sample: bool) -> f64 {
    let (m, d0, d1) = second_moment(acc, sample);
    if bits(&m) == 0 {
        return 0.0;
    }
    // k even, so sqrt(m·2^k / D) = sqrt(m / D)·2^(k/2).
    let (q, k, inexact) = quotient(&m, d0, d1, ROOT_QUOTIENT_BITS, true);
    let root = q.isqrt();
    let exact = !inexact && root * root == q;
    round(root, unit(acc) - k / 2, !exact)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_arithmetic() {
        let a = from_u32s(&[1, 2, 3]);
        assert_eq!(a[..2], [1 | 2 << 32, 3]);
        assert_eq!(bits(&a), 66);
        assert_eq!(scale(&a, 64).0[1..3], [1 | 2 << 32, 3]);
        assert_eq!(
            scale(&a, -1),
            ([1 << 32 | 1 << 63, 1, 0, 0, 0, 0, 0, 0], true)
        );
        assert_eq!(scale(&a, -64), ([3, 0, 0, 0, 0, 0, 0, 0], true));
        assert!(!scale(&from_u32s(&[0, 0, 8]), -67).1);
        assert_eq!(scale(&from_u32s(&[1]), 70).0[1], 64);
        assert_eq!(div_small(&from_u32s(&[10]), 4), (from_u32s(&[2]), true));
        let big = [u64::MAX, u64::MAX, 0, 0, 0, 0, 0, 0];
        assert_eq!(square(&big)[..4], [1, 0, u64::MAX - 1, u64::MAX]);
        assert_eq!(mul_small(&big, 2)[..3], [u64::MAX - 1, u64::MAX, 1]);
        assert_eq!(sub_or_zero(&a, &big), [0; LIMBS]);
        assert_eq!(
            sub_or_zero(&big, &a)[..2],
            [u64::MAX - (1 | 2 << 32), u64::MAX - 3]
        );
    }

    #[test]
    fn rounding_uses_the_remainder() {
        // 2^53 + 1 exact is a tie: to even; just above it rounds up.
        let v = (1u128 << 53) + 1;
        assert_eq!(round(v, 0, false), 2f64.powi(53));
        assert_eq!(round(v, 0, true), 2f64.powi(53) + 2.0);
        // sqrt(2): 1.4142135623730951 is the nearest f64.
        let (q, k, inexact) = quotient(&from_u32s(&[2]), 1, 1, ROOT_QUOTIENT_BITS, true);
        let root = q.isqrt();
        assert_eq!(
            round(root, -k / 2, inexact || root * root != q),
            2f64.sqrt()
        );
        // 1/3.
        let (q, k, inexact) = quotient(&from_u32s(&[1]), 3, 1, QUOTIENT_BITS, false);
        assert_eq!(round(q, -k, inexact), 1.0 / 3.0);
    }
}
