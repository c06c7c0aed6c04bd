//! The waits between a webhook's attempts: exponential, capped, with jitter.
//!
//! Attempt `n` (from 0) waits a random time in `[d/2, d]` where
//! `d = min(first * 2^n, max)` ("equal jitter"): it grows fast enough to
//! leave a struggling endpoint alone, the random half keeps many senders
//! from retrying in lockstep, and the fixed half keeps a floor under it.

use std::hash::{BuildHasher as _, Hasher as _};
use std::time::Duration;

/// No wait is longer than a day, whatever the settings say, so the
/// arithmetic below stays far from `Duration`'s limits.
const LONGEST: Duration = Duration::from_secs(24 * 3600);

/// The wait schedule of one batch's retries.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    attempt: u32,
    rng: u64,
}

impl Backoff {
    /// A schedule starting near `first` and never above `max`, seeded from
    /// the process's random hasher keys.
    pub fn new(first: Duration, max: Duration) -> Self {
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        Backoff::with_seed(first, max, seed)
    }

    /// As [`Backoff::new`] with a fixed seed, for repeatable schedules.
    pub fn with_seed(first: Duration, max: Duration, seed: u64) -> Self {
        let first = first.min(LONGEST);
        Backoff {
            first,
            max: max.clamp(first, LONGEST),
            attempt: 0,
            // xorshift must not start at zero.
            rng: seed | 1,
        }
    }

    /// The ceiling `d` of the next wait, before jitter.
    pub fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(31)).unwrap_or(u32::MAX);
        self.first.saturating_mul(factor).min(self.max)
    }

    /// The next wait, and one step further along the schedule.
    pub fn next_wait(&mut self) -> Duration {
        let d = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        let half = d / 2;
        // A uniform fraction in [0, 1] of the other half.
        let unit = (self.next_u64() >> 11) as f64 / ((1u64 << 53) - 1) as f64;
        half.saturating_add((d - half).mul_f64(unit))
    }

    /// xorshift64*: plenty for jitter, and no dependency.
    fn next_u64(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn doubles_up_to_the_cap_within_its_jitter_band() {
        let mut b = Backoff::with_seed(100 * MS, 1000 * MS, 7);
        let ceilings = [100, 200, 400, 800, 1000, 1000, 1000];
        for want in ceilings {
            let d = want * MS;
            assert_eq!(b.ceiling(), d);
            let wait = b.next_wait();
            assert!(
                wait >= d / 2 && wait <= d,
                "{wait:?} outside [{:?}, {d:?}]",
                d / 2
            );
        }
    }

    #[test]
    fn jitter_varies_and_a_seed_repeats() {
        let waits = |seed| {
            let mut b = Backoff::with_seed(1000 * MS, 1000 * MS, seed);
            (0..20).map(|_| b.next_wait()).collect::<Vec<_>>()
        };
        let a = waits(1);
        assert_eq!(a, waits(1));
        assert_ne!(a, waits(2));
        let distinct: std::collections::BTreeSet<_> = a.iter().collect();
        assert!(distinct.len() > 10, "{a:?}");
        assert!(a.iter().any(|w| *w < 750 * MS) && a.iter().any(|w| *w > 750 * MS));
    }

    #[test]
    fn edges_never_overflow_or_panic() {
        let mut b = Backoff::with_seed(Duration::ZERO, Duration::ZERO, 0);
        assert_eq!(b.next_wait(), Duration::ZERO);
        // A cap under the first wait is raised to it.
        let mut b = Backoff::with_seed(500 * MS, MS, 3);
        assert_eq!(b.ceiling(), 500 * MS);
        let mut b2 = Backoff::with_seed(Duration::MAX, Duration::MAX, 3);
        for _ in 0..100 {
            b.next_wait();
            b2.next_wait();
        }
        assert_eq!(b.ceiling(), 500 * MS);
        assert_eq!(b2.ceiling(), LONGEST);
    }
}
