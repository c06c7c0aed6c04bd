//! A small seeded random number generator (SplitMix64) and a natural
//! logarithm made of additions, multiplications and divisions only, so that
//! a forest's random cuts and sampling weights are the same bit for bit on
//! every platform (`f64::ln` calls the platform's libm, whose last bit may
//! differ from one system to another).

/// SplitMix64 (Steele, Lea and Flood): one 64-bit state, a full period and
/// good statistical quality for cut positions and sampling draws.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator from `seed`, and a `stream` number (a tree, a group) mixed
    /// in so that generators of nearby streams are unrelated.
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut rng = Rng {
            state: seed ^ mix(stream.wrapping_add(0x9e37_79b9_7f4a_7c15)),
        };
        // Leave the first outputs, close to the raw seed, behind.
        rng.next_u64();
        rng
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.state)
    }

    /// A uniform draw in the open interval (0, 1): never 0, never 1.
    pub fn open01(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }
}

/// SplitMix64's output function.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// ln 2, correctly rounded.
const LN_2: f64 = std::f64::consts::LN_2;

/// The natural logarithm of a positive, finite `x`, within a few ulps, from
/// IEEE operations only (the same bits on every platform): `x = m·2^e` with
/// `m` in [1/√2, √2), then `ln m = 2·atanh(s)` with `s = (m−1)/(m+1)`, whose
/// series converges fast for |s| < 0.172. NaN for anything else.
pub fn ln(x: f64) -> f64 {
    if !(x > 0.0 && x.is_finite()) {
        return f64::NAN;
    }
    let (mut m, mut e) = if x < f64::MIN_POSITIVE {
        // Subnormal: scale into the normal range first.
        let scaled = x * (1u64 << 54) as f64;
        (mantissa(scaled), exponent(scaled) - 54)
    } else {
        (mantissa(x), exponent(x))
    };
    if m > std::f64::consts::SQRT_2 {
        m *= 0.5;
        e += 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    // 2·(s + s³/3 + s⁵/5 + ...): |s| < 0.172, so 12 terms reach 1e-19.
    let mut term = s;
    let mut sum = 0.0;
    let mut k = 1.0;
    for _ in 0..12 {
        sum += term / k;
        term *= s2;
        k += 2.0;
    }
    f64::from(e) * LN_2 + 2.0 * sum
}

/// The significand of a normal `x`, scaled into [1, 2).
fn mantissa(x: f64) -> f64 {
    f64::from_bits((x.to_bits() & !(0x7ff << 52)) | (1023 << 52))
}

/// The unbiased binary exponent of a normal `x`.
fn exponent(x: f64) -> i32 {
    ((x.to_bits() >> 52) & 0x7ff) as i32 - 1023
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_agrees_with_the_platform_within_a_few_ulps() {
        let mut rng = Rng::new(7, 0);
        let mut xs = vec![1.0, 2.0, 0.5, 1e-300, 5e-324, 1e300, f64::MAX, 1.0 + 1e-15];
        xs.extend((0..2000).map(|_| rng.open01()));
        xs.extend((0..2000).map(|_| 1.0 / rng.open01()));
        for x in xs {
            let (ours, std) = (ln(x), x.ln());
            let tol = 4.0 * f64::EPSILON * std.abs().max(1.0);
            assert!((ours - std).abs() <= tol, "ln({x:e}) = {ours} vs {std}");
        }
        assert_eq!(ln(1.0), 0.0);
        assert!(ln(0.0).is_nan() && ln(-1.0).is_nan() && ln(f64::INFINITY).is_nan());
    }

    #[test]
    fn draws_are_seeded_and_in_the_open_interval() {
        let a: Vec<u64> = {
            let mut r = Rng::new(1, 2);
            (0..4).map(|_| r.next_u64()).collect()
        };
        let mut same = Rng::new(1, 2);
        assert_eq!(a, (0..4).map(|_| same.next_u64()).collect::<Vec<_>>());
        let mut other = Rng::new(1, 3);
        assert_ne!(a, (0..4).map(|_| other.next_u64()).collect::<Vec<_>>());
        let mut r = Rng::new(0, 0);
        let draws: Vec<f64> = (0..10_000).map(|_| r.open01()).collect();
        assert!(draws.iter().all(|&u| u > 0.0 && u < 1.0));
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
    }
}
