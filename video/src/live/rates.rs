//! [`Rates`]: frames a second over the last few seconds, from a small
//! fixed ring of per-second counts (no growth however long a source runs).
//!
//! Slot `s % SLOTS` counts the frames of second `s` (seconds since the
//! ring was made, on the monotonic clock). A rate is the sum of the last
//! complete seconds over their number, so it lags by at most a second and
//! reads 0 before the first second is complete.

use std::time::Instant;

/// Seconds counted: the current one and the complete ones before it.
const SLOTS: usize = 5;

/// Per-second counts of decoded and analysed frames.
#[derive(Debug)]
pub(crate) struct Rates {
    start: Instant,
    /// The second the newest slot counts.
    second: u64,
    decoded: [u32; SLOTS],
    analyzed: [u32; SLOTS],
}

impl Rates {
    /// An empty ring starting `start`.
    pub(crate) fn new(start: Instant) -> Self {
        Rates {
            start,
            second: 0,
            decoded: [0; SLOTS],
            analyzed: [0; SLOTS],
        }
    }

    /// Moves the ring on to `now`, emptying the slots of the seconds
    /// passed since the last call.
    fn advance(&mut self, now: Instant) {
        let second = now.saturating_duration_since(self.start).as_secs();
        let passed = second.saturating_sub(self.second).min(SLOTS as u64);
        for k in 1..=passed {
            let slot = ((self.second + k) % SLOTS as u64) as usize;
            self.decoded[slot] = 0;
            self.analyzed[slot] = 0;
        }
        self.second = self.second.max(second);
    }

    /// Counts `decoded` and `analyzed` frames at `now`.
    pub(crate) fn add(&mut self, now: Instant, decoded: usize, analyzed: usize) {
        self.advance(now);
        let slot = (self.second % SLOTS as u64) as usize;
        let add = |count: &mut u32, n: usize| {
            *count = count.saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
        };
        add(&mut self.decoded[slot], decoded);
        add(&mut self.analyzed[slot], analyzed);
    }

    /// Decoded and analysed frames a second over the complete seconds in
    /// the ring at `now`.
    pub(crate) fn per_second(&mut self, now: Instant) -> (f64, f64) {
        self.advance(now);
        let complete = self.second.min(SLOTS as u64 - 1);
        if complete == 0 {
            return (0.0, 0.0);
        }
        let rate = |counts: &[u32; SLOTS]| {
            let sum: u64 = (1..=complete)
                .map(|k| u64::from(counts[((self.second - k) % SLOTS as u64) as usize]))
                .sum();
            sum as f64 / complete as f64
        };
        (rate(&self.decoded), rate(&self.analyzed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rates_count_complete_seconds_and_forget_old_ones() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut r = Rates::new(start);
        r.add(at(100), 10, 5);
        // Nothing complete yet.
        assert_eq!(r.per_second(at(900)), (0.0, 0.0));
        r.add(at(1_100), 20, 10);
        assert_eq!(r.per_second(at(1_500)), (10.0, 5.0));
        assert_eq!(r.per_second(at(2_000)), (15.0, 7.5));
        // Seconds 0 to 3 complete: 30 decoded in 4 s.
        assert_eq!(r.per_second(at(4_200)), (7.5, 3.75));
        // Second 0 leaves the window; then everything does.
        assert_eq!(r.per_second(at(5_000)), (5.0, 2.5));
        assert_eq!(r.per_second(at(60_000)), (0.0, 0.0));
        r.add(at(60_100), 4, 4);
        assert_eq!(r.per_second(at(61_000)), (1.0, 1.0));
        // A clock read before the newest second counts in the newest.
        r.add(at(100), 4, 0);
        assert_eq!(r.per_second(at(62_000)), (2.0, 1.0));
    }
}
