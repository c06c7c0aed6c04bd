//! signalstats from histograms: min, low (10th percentile), avg, high (90th
//! percentile) and max per channel, following ffmpeg's `vf_signalstats.c`.
//!
//! ffmpeg's rules, kept here exactly:
//! - `low` is the first bin where the running count reaches
//!   `lrint(pixels * 10 / 100.)`, `high` likewise with 90; `lrint` rounds half
//!   to even.
//! - `avg` is `sum(bin * count) / pixels` in double.
//! - Y uses the luma pixel count, U, V and saturation the chroma count.

use crate::kernel::{FrameRaw, channel};

/// The five signalstats figures of one channel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChannelStats {
    /// Smallest value present.
    pub min: u8,
    /// 10th percentile, as signalstats defines it.
    pub low: u8,
    /// Mean value.
    pub avg: f64,
    /// 90th percentile, as signalstats defines it.
    pub high: u8,
    /// Largest value present.
    pub max: u8,
}

impl ChannelStats {
    /// Finishes one channel from its histogram and the pixel count that
    /// signalstats divides by. `None` for an empty histogram.
    pub fn from_histogram(hist: &[u32; 256], pixels: u64) -> Option<Self> {
        if pixels == 0 {
            return None;
        }
        let low_target = (pixels as f64 * 10.0 / 100.0).round_ties_even() as u64;
        let high_target = (pixels as f64 * 90.0 / 100.0).round_ties_even() as u64;
        let (mut min, mut max, mut low, mut high) = (None, None, None, None);
        let (mut acc, mut total) = (0u64, 0u64);
        for (bin, &count) in hist.iter().enumerate() {
            let bin = bin as u8;
            let count = u64::from(count);
            if count > 0 {
                min.get_or_insert(bin);
                max = Some(bin);
            }
            total += count * u64::from(bin);
            acc += count;
            if low.is_none() && acc >= low_target {
                low = Some(bin);
            }
            if high.is_none() && acc >= high_target {
                high = Some(bin);
            }
        }
        Some(ChannelStats {
            min: min?,
            low: low?,
            avg: total as f64 / pixels as f64,
            high: high?,
            max: max?,
        })
    }
}

/// signalstats for one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    /// Luma.
    pub y: ChannelStats,
    /// Chroma U.
    pub u: ChannelStats,
    /// Chroma V.
    pub v: ChannelStats,
    /// Saturation.
    pub sat: ChannelStats,
}

impl Stats {
    /// Finishes the stats of a frame; `None` when the stats kernel did not run.
    pub fn from_raw(raw: &FrameRaw) -> Option<Self> {
        let (cw, ch) = crate::frame::chroma_size(raw.width, raw.height);
        let luma = u64::from(raw.width) * u64::from(raw.height);
        let chroma = u64::from(cw) * u64::from(ch);
        let sum: u64 = raw.hist[channel::Y].iter().map(|&c| u64::from(c)).sum();
        if sum != luma {
            return None;
        }
        Some(Stats {
            y: ChannelStats::from_histogram(&raw.hist[channel::Y], luma)?,
            u: ChannelStats::from_histogram(&raw.hist[channel::U], chroma)?,
            v: ChannelStats::from_histogram(&raw.hist[channel::V], chroma)?,
            sat: ChannelStats::from_histogram(&raw.hist[channel::SAT], chroma)?,
        })
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests unwrap known-good literals")]
mod tests {
    use super::*;

    #[test]
    fn one_pixel() {
        let mut h = [0u32; 256];
        h[42] = 1;
        let s = ChannelStats::from_histogram(&h, 1).unwrap();
        // lrint(0.1) = 0: the running count reaches 0 at bin 0, so ffmpeg
        // reports low = 0 for a one-pixel plane, whatever the pixel.
        assert_eq!((s.min, s.low, s.high, s.max), (42, 0, 42, 42));
        assert_eq!(s.avg, 42.0);
    }

    #[test]
    fn percentiles_follow_lrint_half_even() {
        // 25 pixels: lrint(2.5) = 2, lrint(22.5) = 22.
        let mut h = [0u32; 256];
        h[..25].fill(1);
        let s = ChannelStats::from_histogram(&h, 25).unwrap();
        assert_eq!(s.low, 1); // running count reaches 2 at bin 1
        assert_eq!(s.high, 21); // and 22 at bin 21
        assert_eq!((s.min, s.max), (0, 24));
        assert_eq!(s.avg, 12.0);
    }

    #[test]
    fn empty_is_none() {
        assert!(ChannelStats::from_histogram(&[0; 256], 0).is_none());
        assert!(ChannelStats::from_histogram(&[0; 256], 4).is_none());
        assert!(Stats::from_raw(&FrameRaw::new(2, 2)).is_none());
    }
}
