//! A latency histogram of fixed memory: 10 µs steps up to 100 ms, then
//! 10 ms steps up to 100 s, then one overflow bucket.

use std::time::Duration;

/// Buckets of the fine range (10 µs each, up to 100 ms).
const FINE: usize = 10_000;
/// Buckets of the coarse range (10 ms each, from 100 ms up to 100 s).
const COARSE: usize = 9_990;

/// Counts of durations, merged across threads at the end.
#[derive(Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max_us: u64,
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Histogram {
            counts: vec![0; FINE + COARSE + 1],
            total: 0,
            max_us: 0,
        }
    }

    /// Counts `n` samples of `d`.
    pub fn add(&mut self, d: Duration, n: u64) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let i = if us < 100_000 {
            (us / 10) as usize
        } else {
            (FINE + ((us - 100_000) / 10_000) as usize).min(FINE + COARSE)
        };
        self.counts[i] += n;
        self.total += n;
        self.max_us = self.max_us.max(us);
    }

    /// Adds the samples of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.max_us = self.max_us.max(other.max_us);
    }

    /// How many samples.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// The `q` quantile (0 to 1) in milliseconds: the upper edge of its
    /// bucket (so never below the true value), or 0 for an empty histogram.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let upper_us = if i < FINE {
                    (i as u64 + 1) * 10
                } else {
                    100_000 + (i - FINE) as u64 * 10_000 + 10_000
                };
                return upper_us.min(self.max_us) as f64 / 1000.0;
            }
        }
        self.max_ms()
    }

    /// The largest sample in milliseconds.
    pub fn max_ms(&self) -> f64 {
        self.max_us as f64 / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_fall_in_the_right_bucket() {
        let mut h = Histogram::new();
        for ms in 1..=100 {
            h.add(Duration::from_millis(ms), 1);
        }
        assert_eq!(h.len(), 100);
        assert!(
            (h.quantile_ms(0.5) - 50.01).abs() < 0.02,
            "{}",
            h.quantile_ms(0.5)
        );
        assert!(
            (h.quantile_ms(0.99) - 99.01).abs() < 0.02,
            "{}",
            h.quantile_ms(0.99)
        );
        assert_eq!(h.max_ms(), 100.0);
        assert_eq!(h.quantile_ms(1.0), 100.0);
        let mut big = Histogram::new();
        big.add(Duration::from_secs(1000), 1);
        big.merge(&h);
        assert_eq!(big.len(), 101);
        assert_eq!(big.max_ms(), 1_000_000.0);
    }
}
