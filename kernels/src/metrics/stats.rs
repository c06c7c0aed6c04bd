//! signalstats from histograms: min, low (10th percentile), avg, high (90th
//! percentile) and max per channel, following ffmpeg's `vf_signalstats.c`.
//!
//! ffmpeg's rules, kept here exactly:
//! - `low` is the first bin where the running count reaches
//!   `lrint(pixels * 10 / 100.)`, `high` likewise with 90; `lrint` rounds half
//!   to even.
//! - `avg` is `sum(bin * count) / pixels` in double.
//! - Y uses the luma pixel count, U, V and saturation the chroma count.
//! - `HUEMED` is the first hue bin where the running count exceeds
//!   `chroma / 2` (integer division); `HUEAVG` is `sum(bin * count) / chroma`.
//! - `YDIF`, `UDIF` and `VDIF` are the sums of absolute differences against
//!   the previous frame divided by the plane's sample count; on the first
//!   frame signalstats compares the frame with itself, so they are 0.

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
    /// Median hue in degrees, 0 to 359 (`HUEMED`).
    pub hue_med: u16,
    /// Mean hue in degrees (`HUEAVG`).
    pub hue_avg: f64,
    /// Mean absolute luma difference against the previous frame (`YDIF`).
    pub ydif: f64,
    /// Mean absolute U difference against the previous frame (`UDIF`).
    pub udif: f64,
    /// Mean absolute V difference against the previous frame (`VDIF`).
    pub vdif: f64,
}

/// signalstats' `HUEMED` and `HUEAVG` from the hue histogram and the chroma
/// sample count; `None` when the histogram does not hold `chroma` samples.
pub fn hue_figures(hue_hist: &[u32; 360], chroma: u64) -> Option<(u16, f64)> {
    let (mut acc, mut total, mut med) = (0u64, 0u64, None);
    for (bin, &count) in hue_hist.iter().enumerate() {
        acc += u64::from(count);
        total += u64::from(count) * bin as u64;
        if med.is_none() && acc > chroma / 2 {
            med = Some(bin as u16);
        }
    }
    if acc != chroma || chroma == 0 {
        return None;
    }
    Some((med?, total as f64 / chroma as f64))
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
        let (hue_med, hue_avg) = hue_figures(&raw.hue_hist, chroma)?;
        let luma_sad = raw.luma_sad.unwrap_or(0);
        let [u_sad, v_sad] = raw.chroma_sad.unwrap_or([0, 0]);
        Some(Stats {
            y: ChannelStats::from_histogram(&raw.hist[channel::Y], luma)?,
            u: ChannelStats::from_histogram(&raw.hist[channel::U], chroma)?,
            v: ChannelStats::from_histogram(&raw.hist[channel::V], chroma)?,
            sat: ChannelStats::from_histogram(&raw.hist[channel::SAT], chroma)?,
            hue_med,
            hue_avg,
            ydif: luma_sad as f64 / luma as f64,
            udif: u_sad as f64 / chroma as f64,
            vdif: v_sad as f64 / chroma as f64,
        })
    }
}

#[cfg(test)]
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

    #[test]
    fn hue_median_and_mean() {
        let mut h = [0u32; 360];
        // 4 samples: the median is where the count exceeds 2.
        h[10] = 2;
        h[20] = 1;
        h[350] = 1;
        let (med, avg) = hue_figures(&h, 4).unwrap();
        assert_eq!(med, 20);
        assert_eq!(avg, (20.0 + 20.0 + 350.0) / 4.0);
        // 5 samples: 5 / 2 = 2, exceeded at the third.
        h[10] = 3;
        assert_eq!(hue_figures(&h, 5).unwrap().0, 10);
        assert!(hue_figures(&h, 6).is_none());
        assert!(hue_figures(&[0; 360], 0).is_none());
    }

    #[test]
    fn differences_divide_by_the_plane() {
        let mut raw = FrameRaw::new(3, 3);
        raw.hist[channel::Y][7] = 9;
        for c in [channel::U, channel::V, channel::SAT] {
            raw.hist[c][128] = 4;
        }
        raw.hue_hist[180] = 4;
        let s = Stats::from_raw(&raw).unwrap();
        assert_eq!(
            (s.ydif, s.udif, s.vdif, s.hue_med, s.hue_avg),
            (0.0, 0.0, 0.0, 180, 180.0)
        );
        raw.luma_sad = Some(18);
        raw.chroma_sad = Some([2, 6]);
        let s = Stats::from_raw(&raw).unwrap();
        assert_eq!((s.ydif, s.udif, s.vdif), (2.0, 0.5, 1.5));
    }
}
