//! `camera_blocked`: a frame is blocked when blackdetect calls it black or
//! its luma is flat (a small spread between the 90th and 10th percentiles,
//! signalstats' `YHIGH - YLOW`), both from the luma histogram that `black`
//! and `stats` share.

use osprey_kernels::FrameRaw;
use osprey_kernels::kernel::channel;
use osprey_kernels::metrics::ChannelStats;
use osprey_kernels::metrics::black::Black;
use osprey_kernels::metrics::period::{Mark, MinLength, PeriodTracker, Step};

use crate::analysis::HealthOptions;

/// The blocked periods of one stream.
#[derive(Debug)]
pub(super) struct Blocked {
    spread: u8,
    pub(super) periods: PeriodTracker,
}

impl Blocked {
    pub(super) fn new(h: &HealthOptions, frame_rate: Option<f64>) -> Self {
        Blocked {
            spread: h.blocked_spread,
            periods: PeriodTracker::new(MinLength::Seconds(h.blocked_min_duration), 1, frame_rate),
        }
    }

    /// Whether `raw` (with blackdetect's `black` when that kernel ran) is
    /// blocked, and what it did to the periods.
    pub(super) fn push(
        &mut self,
        raw: &FrameRaw,
        black: Option<&Black>,
        now: Mark,
    ) -> (bool, Step) {
        let blocked =
            black.is_some_and(|b| b.black) || luma_spread(raw).is_some_and(|s| s <= self.spread);
        (blocked, self.periods.push(blocked, now, now))
    }
}

/// signalstats' `YHIGH - YLOW` of `raw`'s luma histogram; `None` when the
/// histogram does not hold the frame (no histogram kernel ran).
pub(super) fn luma_spread(raw: &FrameRaw) -> Option<u8> {
    let pixels = u64::from(raw.width) * u64::from(raw.height);
    let hist = &raw.hist[channel::Y];
    let sum: u64 = hist.iter().map(|&n| u64::from(n)).sum();
    if sum != pixels {
        return None;
    }
    let y = ChannelStats::from_histogram(hist, pixels)?;
    Some(y.high.saturating_sub(y.low))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::test_marks::at;

    /// A 10x10 frame whose luma is spread evenly from `low` over `spread`
    /// levels (one level a row).
    fn frame(low: u8, spread: u8) -> FrameRaw {
        let mut raw = FrameRaw::new(10, 10);
        for row in 0..10u32 {
            let level = u32::from(low) + row * u32::from(spread) / 9;
            raw.hist[channel::Y][level as usize] += 10;
        }
        raw
    }

    fn options(min: f64) -> HealthOptions {
        HealthOptions {
            blocked_min_duration: min,
            ..HealthOptions::default()
        }
    }

    #[test]
    fn spread_is_high_less_low() {
        // Rows at 100 + 0, 1, 2, ... 9 * 90 / 9: 10th percentile is row 0
        // (10 of 100 pixels), 90th row 8.
        assert_eq!(luma_spread(&frame(100, 90)), Some(80));
        assert_eq!(luma_spread(&frame(128, 0)), Some(0));
        // No histogram, no spread.
        assert_eq!(luma_spread(&FrameRaw::new(10, 10)), None);
    }

    #[test]
    fn flat_or_black_frames_block() {
        let mut d = Blocked::new(&options(0.3), None);
        let black = Black {
            ratio: 1.0,
            black: true,
        };
        let lit = Black {
            ratio: 0.0,
            black: false,
        };
        // A busy picture, a grey card, a black frame whose histogram is
        // noisy (blackdetect alone calls it), a busy picture.
        let frames = [
            (frame(20, 200), lit, false),
            (frame(120, 8), lit, true),
            (frame(120, 12), lit, false),
            (frame(16, 20), black, true),
        ];
        for (i, (raw, b, want)) in frames.iter().enumerate() {
            assert_eq!(d.push(raw, Some(b), at(i as u64)).0, *want, "frame {i}");
        }
        // Stats alone: only the spread.
        assert!(!d.push(&frame(16, 20), None, at(4)).0);
    }

    #[test]
    fn periods_need_the_minimum_duration() {
        let mut d = Blocked::new(&options(0.3), None);
        let mut log = Vec::new();
        for i in 0..10u64 {
            let raw = if (2..=6).contains(&i) {
                frame(200, 0)
            } else {
                frame(20, 200)
            };
            let (_, step) = d.push(&raw, None, at(i));
            if let Some(s) = step.start {
                log.push(("start", s.frame, i));
            }
            if let Some(e) = step.end {
                log.push(("end", e.at.frame, i));
            }
        }
        assert_eq!(log, vec![("start", 2, 5), ("end", 7, 7)]);
    }
}
