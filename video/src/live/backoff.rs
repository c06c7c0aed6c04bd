//! Exponential backoff with jitter between reconnection attempts.
//!
//! The first delay is [`Supervision::backoff_min`], doubled after each
//! failure up to [`Supervision::backoff_max`], each drawn within ±20% of its
//! nominal value so that many cameras dropped by one network fault do not
//! reconnect in step. Failures that waiting will not fix soon (credentials
//! refused, a stream that does not exist) wait the longest delay from the
//! first attempt: never a tight loop against a server that says no. A
//! source that delivers frames again starts over from the shortest delay.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::Supervision;

/// Share of a delay drawn at random either side of it.
const JITTER: f64 = 0.2;

/// How soon a failure is worth retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Doubling delays from the shortest.
    Soon,
    /// The longest delay from the start (refused credentials, not found).
    Slowly,
}

impl Retry {
    /// How soon `error` is worth retrying: credentials refused and
    /// streams not found wait the longest.
    pub(crate) fn after(error: &crate::VideoError) -> Retry {
        use crate::error::FailureKind;
        match error.failure_kind() {
            FailureKind::Unauthorized | FailureKind::NotFound => Retry::Slowly,
            FailureKind::Refused | FailureKind::Timeout | FailureKind::Other => Retry::Soon,
        }
    }
}

/// The delays between one source's attempts.
#[derive(Debug)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
    rng: StdRng,
}

impl Backoff {
    /// Delays as `supervision` says, jittered from `seed`.
    pub(crate) fn new(supervision: &Supervision, seed: u64) -> Self {
        let max = supervision.backoff_max.max(supervision.backoff_min);
        Backoff {
            min: supervision.backoff_min,
            max,
            next: supervision.backoff_min,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// The nominal delay before the next attempt after a failure of kind
    /// `retry`, without jitter, and steps the doubling on.
    fn nominal(&mut self, retry: Retry) -> Duration {
        let delay = match retry {
            Retry::Soon => self.next,
            Retry::Slowly => self.max,
        };
        self.next = self.next.saturating_mul(2).min(self.max);
        delay
    }

    /// The delay before the next attempt after a failure of kind `retry`.
    pub(crate) fn next_delay(&mut self, retry: Retry) -> Duration {
        let nominal = self.nominal(retry);
        let factor = self.rng.random_range(1.0 - JITTER..=1.0 + JITTER);
        nominal.mul_f64(factor)
    }

    /// Frames flowed again: the next failure waits the shortest delay.
    pub(crate) fn reset(&mut self) {
        self.next = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn supervision(min_ms: u64, max_ms: u64) -> Supervision {
        Supervision {
            backoff_min: Duration::from_millis(min_ms),
            backoff_max: Duration::from_millis(max_ms),
            ..Supervision::live()
        }
    }

    #[test]
    fn delays_double_to_the_longest_and_start_over() {
        let mut b = Backoff::new(&supervision(100, 1000), 1);
        let ms: Vec<u128> = (0..6).map(|_| b.nominal(Retry::Soon).as_millis()).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1000, 1000]);
        b.reset();
        assert_eq!(b.nominal(Retry::Soon), Duration::from_millis(100));
    }

    #[test]
    fn refusals_wait_the_longest_from_the_start() {
        let mut b = Backoff::new(&supervision(100, 1000), 1);
        assert_eq!(b.nominal(Retry::Slowly), Duration::from_millis(1000));
        assert_eq!(b.nominal(Retry::Slowly), Duration::from_millis(1000));
    }

    #[test]
    fn jitter_stays_within_a_fifth_and_varies() {
        let mut b = Backoff::new(&supervision(1000, 1000), 7);
        let delays: Vec<Duration> = (0..200).map(|_| b.next_delay(Retry::Soon)).collect();
        for d in &delays {
            assert!((800..=1200).contains(&d.as_millis()), "{d:?}");
        }
        let (lo, hi) = (delays.iter().min().unwrap(), delays.iter().max().unwrap());
        assert!(hi.as_millis() - lo.as_millis() > 200, "{lo:?}..{hi:?}");
    }

    #[test]
    fn a_maximum_below_the_minimum_is_the_minimum() {
        let mut b = Backoff::new(&supervision(500, 100), 3);
        assert_eq!(b.nominal(Retry::Slowly), Duration::from_millis(500));
        assert_eq!(b.nominal(Retry::Soon), Duration::from_millis(500));
    }
}
