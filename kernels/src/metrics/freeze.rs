//! freezedetect's figures and events, following ffmpeg 5.1's
//! `vf_freezedetect.c` for 8-bit 4:2:0 input.
//!
//! Each frame is compared with a reference frame: `mafd = sad / samples / 256`
//! over the Y, U and V planes, and the frame is frozen when `mafd <= noise`.
//! A frame that is not frozen (or has no comparison: the first frame, a size
//! change) becomes the next reference. A freeze starts at the *reference*
//! frame's pts and ends at the first frame that is not frozen; ffmpeg
//! announces it as soon as a frame lies `d` or more after the reference, and
//! reports the end with `freeze_duration = end - start`. ffmpeg leaves a
//! freeze open at end of stream; osprey closes it at the last frame with
//! `eos` set.
//!
//! The sample count is ffmpeg's ([`sample_count`], the one the kernels use):
//! luma `w * h`, and per chroma plane `ceil(w / 2)` columns by `floor(h / 2)`
//! rows. The frozen decision itself is taken by the kernels with
//! [`crate::metrics::frozen_sad_bound`]; [`mafd`] is the figure records show.

use crate::kernel::FrameRaw;
use crate::metrics::period::{Mark, MinLength, PeriodEnd, PeriodTracker, Step};

pub use crate::metrics::freeze_bound::samples as sample_count;

/// freezedetect's default `d`, in seconds.
pub const DEFAULT_MIN_DURATION: f64 = 2.0;
/// freezedetect's default `n`, -60 dB as a ratio.
pub const DEFAULT_NOISE: f64 = 0.001;

/// freezedetect's mean absolute difference, 0 to 1, of a frame of `width` x
/// `height` whose planes differ from the reference by `sad` in all (0 for an
/// empty frame).
pub fn mafd(sad: u64, width: u32, height: u32) -> f64 {
    let count = sample_count(width, height);
    if count == 0 {
        return 0.0;
    }
    sad as f64 / count as f64 / 256.0
}

/// Parses a noise tolerance as ffmpeg does: a ratio (`0.001`) or decibels
/// (`-60dB`, that is `10^(-60/20)`); it must lie between 0 and 1.
///
/// # Errors
/// A message for text that is not a number, or a value outside 0 to 1.
pub fn parse_noise(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let (number, db) = match t.strip_suffix("dB") {
        Some(n) => (n.trim_end(), true),
        None => (t, false),
    };
    let value: f64 = number
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| format!("\"{text}\" is not a ratio (0.001) or decibels (-60dB)"))?;
    let ratio = if db { 10f64.powf(value / 20.0) } else { value };
    if !(0.0..=1.0).contains(&ratio) {
        return Err(format!("\"{text}\" is {ratio}, outside 0 to 1"));
    }
    Ok(ratio)
}

/// freezedetect's figures for one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Freeze {
    /// Mean absolute difference against the reference frame, 0 to 1; `None`
    /// when the frame had nothing to compare with.
    pub mafd: Option<f64>,
    /// Whether the frame is frozen.
    pub frozen: bool,
}

impl Freeze {
    /// The figures of `raw`'s comparison.
    pub fn from_raw(raw: &FrameRaw) -> Freeze {
        match raw.freeze {
            Some(f) => Freeze {
                mafd: Some(mafd(f.sad, raw.width, raw.height)),
                frozen: f.frozen,
            },
            None => Freeze {
                mafd: None,
                frozen: false,
            },
        }
    }
}

/// Follows frozen frames through a stream and reports freezes.
#[derive(Debug, Clone, PartialEq)]
pub struct FreezeDetector {
    reference: Option<Mark>,
    periods: PeriodTracker,
}

impl FreezeDetector {
    /// A detector reporting freezes of at least `min_duration` seconds (`d`);
    /// `frame_rate` measures durations where timestamps are missing or run
    /// backwards, as freezedetect does.
    pub fn new(min_duration: f64, frame_rate: Option<f64>) -> Self {
        FreezeDetector {
            reference: None,
            periods: PeriodTracker::new(MinLength::Seconds(min_duration), 1, frame_rate),
        }
    }

    /// Takes the next frame, `now`, in stream order; returns its figures and
    /// what it did to the freezes.
    pub fn push(&mut self, raw: &FrameRaw, now: Mark) -> (Freeze, Step) {
        let freeze = Freeze::from_raw(raw);
        let reference = self.reference.unwrap_or(now);
        let step = self.periods.push(freeze.frozen, now, reference);
        if !freeze.frozen {
            self.reference = Some(now);
        }
        (freeze, step)
    }

    /// Closes a reported freeze still open at the end of the stream, `last`
    /// being the last frame.
    pub fn finish(&mut self, last: Mark) -> Option<PeriodEnd> {
        self.periods.finish(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::FreezeRaw;

    fn at(frame: u64) -> Mark {
        Mark {
            frame,
            pts: Some(frame as f64 / 25.0),
        }
    }

    fn raw(freeze: Option<bool>) -> FrameRaw {
        let mut r = FrameRaw::new(4, 4);
        r.freeze = freeze.map(|frozen| FreezeRaw {
            sad: if frozen { 0 } else { 1000 },
            frozen,
        });
        r
    }

    /// Feeds `pattern` (`f` frozen, `m` moving, `-` no comparison) and lists
    /// `(event, its frame, emitted at)`.
    fn run(d: &mut FreezeDetector, pattern: &str) -> Vec<(&'static str, u64, u64)> {
        let mut out = Vec::new();
        for (i, c) in pattern.chars().enumerate() {
            let i = i as u64;
            let frozen = match c {
                'f' => Some(true),
                'm' => Some(false),
                _ => None,
            };
            let (_, step) = d.push(&raw(frozen), at(i));
            if let Some(s) = step.start {
                out.push(("start", s.frame, i));
            }
            if let Some(e) = step.end {
                out.push(("end", e.at.frame, i));
            }
        }
        let last = at(pattern.len() as u64 - 1);
        if let Some(e) = d.finish(last) {
            out.push(("eos", e.at.frame, e.at.frame));
        }
        out
    }

    #[test]
    fn counts_samples_as_ffmpeg() {
        assert_eq!(sample_count(320, 240), 320 * 240 + 2 * 160 * 120);
        // Odd sizes: chroma columns round up, rows round down.
        assert_eq!(sample_count(5, 3), 15 + 2 * 3);
        assert_eq!(mafd(0, 0, 0), 0.0);
        let count = sample_count(4, 4) as f64;
        assert_eq!(mafd(24, 4, 4), 24.0 / count / 256.0);
    }

    #[test]
    fn frozen_at_or_below_the_noise() {
        // The kernels decide with the integer bound; the record's mafd must
        // agree with that decision.
        let count = sample_count(100, 100);
        let bound = crate::metrics::frozen_sad_bound(0.001, count);
        assert!(mafd(bound, 100, 100) <= 0.001);
        assert!(mafd(bound + 1, 100, 100) > 0.001);
    }

    #[test]
    fn parses_noise_like_ffmpeg() {
        assert!((parse_noise("-60dB").unwrap() - 0.001).abs() < 1e-15);
        assert!((parse_noise("-40 dB").unwrap() - 0.01).abs() < 1e-15);
        assert_eq!(parse_noise("0.001").unwrap(), 0.001);
        assert!(parse_noise("1.5").is_err());
        assert!(parse_noise("6dB").is_err());
        assert!(parse_noise("-1").is_err());
        assert!(parse_noise("loud").is_err());
        assert!(parse_noise("NaN").is_err());
    }

    #[test]
    fn freeze_starts_at_the_reference_frame() {
        // d = 0.12 s = 3 frames at 25 fps. Reference is frame 1 (last moving
        // frame); frames 2..=6 are frozen; frame 4 is 3 intervals after the
        // reference; frame 7 ends it.
        let mut d = FreezeDetector::new(0.12, None);
        assert_eq!(
            run(&mut d, "-mfffffmm"),
            vec![("start", 1, 4), ("end", 7, 7)]
        );
    }

    #[test]
    fn exactly_d_at_the_first_moving_frame() {
        // Reference 0, frozen 1..=2, moving at 3: 3 intervals = d, so start
        // and end come together, as freezedetect does.
        let mut d = FreezeDetector::new(0.12, None);
        assert_eq!(run(&mut d, "-ffmm"), vec![("start", 0, 3), ("end", 3, 3)]);
        let mut d = FreezeDetector::new(0.13, None);
        assert_eq!(run(&mut d, "-ffmm"), vec![]);
    }

    #[test]
    fn open_freeze_closes_at_eos() {
        let mut d = FreezeDetector::new(0.08, None);
        assert_eq!(run(&mut d, "-mfff"), vec![("start", 1, 3), ("eos", 4, 4)]);
    }

    #[test]
    fn no_comparison_resets_the_reference() {
        let mut d = FreezeDetector::new(0.12, None);
        // A size change (no comparison) at 2 ends a freeze too short to
        // report, and becomes the reference.
        assert_eq!(run(&mut d, "-f-fff"), vec![("start", 2, 5), ("eos", 5, 5)]);
    }

    #[test]
    fn mafd_is_reported() {
        let f = Freeze::from_raw(&raw(Some(false)));
        assert_eq!(f.mafd, Some(mafd(1000, 4, 4)));
        assert_eq!(Freeze::from_raw(&raw(None)).mafd, None);
    }
}
