//! blackdetect from the luma histogram, following ffmpeg 5.1's
//! `vf_blackdetect.c` for 8-bit input.
//!
//! A pixel is black when its luma is `<=` the pixel threshold: for limited
//! range `16 + pix_th * (235 - 16)`, for full range `pix_th * 255`, both
//! converted to an integer by truncation as ffmpeg stores them in an
//! `unsigned int` (0.10 gives 37 and 25). A frame is black when its black
//! ratio (black pixels over all luma pixels) is `>=` `pic_th`. A period starts
//! at the first black frame and ends at the first frame that is not black; it
//! is reported when `end - start >= d`. At end of stream ffmpeg closes an open
//! period at the last frame's pts (not its end), which osprey does too, with
//! `eos` set.

use crate::kernel::{FrameRaw, channel};
use crate::metrics::period::{Mark, MinLength, PeriodEnd, PeriodTracker, Step};

/// blackdetect's default `d`, in seconds.
pub const DEFAULT_MIN_DURATION: f64 = 2.0;
/// blackdetect's default `pic_th`.
pub const DEFAULT_PICTURE_RATIO: f64 = 0.98;
/// blackdetect's default `pix_th`.
pub const DEFAULT_PIXEL_THRESHOLD: f64 = 0.10;

/// blackdetect's parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlackParams {
    /// Shortest black period reported, in seconds (`d`).
    pub min_duration: f64,
    /// Black-pixel ratio at or above which a frame is black (`pic_th`, 0 to 1).
    pub picture_ratio: f64,
    /// Luma threshold of a black pixel as a fraction of the range (`pix_th`,
    /// 0 to 1).
    pub pixel_threshold: f64,
    /// Whether luma is full range (0 to 255) rather than limited (16 to 235).
    pub full_range: bool,
}

impl Default for BlackParams {
    fn default() -> Self {
        BlackParams {
            min_duration: DEFAULT_MIN_DURATION,
            picture_ratio: DEFAULT_PICTURE_RATIO,
            pixel_threshold: DEFAULT_PIXEL_THRESHOLD,
            full_range: false,
        }
    }
}

impl BlackParams {
    /// The largest luma value that counts as black, as ffmpeg computes it.
    pub fn pixel_threshold_value(&self) -> u8 {
        let th = if self.full_range {
            self.pixel_threshold * 255.0
        } else {
            16.0 + self.pixel_threshold * f64::from(235 - 16)
        };
        // ffmpeg assigns to an unsigned int: truncation toward zero.
        th.clamp(0.0, 255.0) as u8
    }
}

/// The share of luma pixels at or below `threshold`, from the luma histogram
/// of `raw` (0 for an empty frame).
pub fn black_ratio(raw: &FrameRaw, threshold: u8) -> f64 {
    let pixels = u64::from(raw.width) * u64::from(raw.height);
    if pixels == 0 {
        return 0.0;
    }
    let black: u64 = raw.hist[channel::Y][..=usize::from(threshold)]
        .iter()
        .map(|&n| u64::from(n))
        .sum();
    black as f64 / pixels as f64
}

/// blackdetect's figures for one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Black {
    /// Share of black pixels, 0 to 1 (blackdetect's `picture_black_ratio`).
    pub ratio: f64,
    /// Whether the frame counts as black (`ratio >= pic_th`).
    pub black: bool,
}

/// Follows black frames through a stream and reports black periods.
#[derive(Debug, Clone, PartialEq)]
pub struct BlackDetector {
    params: BlackParams,
    threshold: u8,
    periods: PeriodTracker,
}

impl BlackDetector {
    /// A detector with `params`; `frame_rate` measures durations where the
    /// stream has no timestamps.
    pub fn new(params: BlackParams, frame_rate: Option<f64>) -> Self {
        BlackDetector {
            params,
            threshold: params.pixel_threshold_value(),
            periods: PeriodTracker::new(MinLength::Seconds(params.min_duration), 1, frame_rate),
        }
    }

    /// The parameters in use.
    pub fn params(&self) -> &BlackParams {
        &self.params
    }

    /// Measures the next frame, `now`, in stream order; returns its figures
    /// and what it did to the black periods.
    pub fn push(&mut self, raw: &FrameRaw, now: Mark) -> (Black, Step) {
        let ratio = black_ratio(raw, self.threshold);
        let black = ratio >= self.params.picture_ratio;
        (Black { ratio, black }, self.periods.push(black, now, now))
    }

    /// Closes a reported period still open at the end of the stream, `last`
    /// being the last frame.
    pub fn finish(&mut self, last: Mark) -> Option<PeriodEnd> {
        self.periods.finish(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 10x10 frame with `dark` pixels of luma `value` and the rest at 200.
    fn frame(dark: u32, value: u8) -> FrameRaw {
        let mut raw = FrameRaw::new(10, 10);
        raw.hist[channel::Y][usize::from(value)] += dark;
        raw.hist[channel::Y][200] += 100 - dark;
        raw
    }

    fn at(frame: u64) -> Mark {
        Mark {
            frame,
            pts: Some(frame as f64 / 25.0),
        }
    }

    #[test]
    fn thresholds_truncate_as_ffmpeg() {
        let p = BlackParams::default();
        assert_eq!(p.pixel_threshold_value(), 37);
        let full = BlackParams {
            full_range: true,
            ..p
        };
        assert_eq!(full.pixel_threshold_value(), 25);
        let zero = BlackParams {
            pixel_threshold: 0.0,
            ..p
        };
        assert_eq!(zero.pixel_threshold_value(), 16);
        let one = BlackParams {
            pixel_threshold: 1.0,
            full_range: true,
            ..p
        };
        assert_eq!(one.pixel_threshold_value(), 255);
    }

    #[test]
    fn ratio_counts_at_or_below_the_threshold() {
        assert_eq!(black_ratio(&frame(98, 37), 37), 0.98);
        assert_eq!(black_ratio(&frame(98, 38), 37), 0.0);
        assert_eq!(black_ratio(&FrameRaw::new(0, 0), 37), 0.0);
    }

    #[test]
    fn periods_follow_blackdetect() {
        let params = BlackParams {
            min_duration: 0.2,
            ..BlackParams::default()
        };
        let mut d = BlackDetector::new(params, None);
        let mut starts = Vec::new();
        let mut ends = Vec::new();
        // Frames 3..=8 black (ratio exactly pic_th), then 97% dark: not black.
        for i in 0..12 {
            let raw = if (3..=8).contains(&i) {
                frame(98, 20)
            } else {
                frame(97, 20)
            };
            let (b, step) = d.push(&raw, at(i));
            assert_eq!(b.black, (3..=8).contains(&i));
            if let Some(s) = step.start {
                starts.push((s.frame, i));
            }
            if let Some(e) = step.end {
                ends.push((e.start.frame, e.at.frame, e.duration.unwrap(), e.eos));
            }
        }
        // 0.2 s is 5 intervals: known at frame 8.
        assert_eq!(starts, vec![(3, 8)]);
        assert_eq!(ends.len(), 1);
        let (s, e, dur, eos) = ends[0];
        assert_eq!((s, e, eos), (3, 9, false));
        assert!((dur - 0.24).abs() < 1e-9);
        assert_eq!(d.finish(at(11)), None);
    }

    #[test]
    fn black_to_the_end_closes_at_the_last_pts() {
        let params = BlackParams {
            min_duration: 0.0,
            ..BlackParams::default()
        };
        let mut d = BlackDetector::new(params, None);
        let (_, step) = d.push(&frame(100, 16), at(0));
        assert_eq!(step.start, Some(at(0)));
        d.push(&frame(100, 16), at(1));
        let e = d.finish(at(1)).unwrap();
        assert!(e.eos);
        assert_eq!(e.at, at(1));
        assert!((e.duration.unwrap() - 0.04).abs() < 1e-12);
    }
}
