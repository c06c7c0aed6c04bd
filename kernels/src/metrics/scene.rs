//! scdet from luma differences: `mafd` and `score`, following ffmpeg's
//! `vf_scdet.c` for 8-bit YUV input.
//!
//! ffmpeg (5.x and later) measures YUV input on the luma plane only:
//! `mafd = sad * 100 / pixels / 256`, `score = clip(min(mafd, |mafd - prev_mafd|), 0, 100)`,
//! and a frame is a cut when `score >= threshold` (default 10). The first frame,
//! and a frame whose size differs from the one before, scores 0 and keeps the
//! previous `mafd`, as ffmpeg does.

use crate::kernel::FrameRaw;

/// scdet's default threshold.
pub const DEFAULT_THRESHOLD: f64 = 10.0;

/// The scene figures of one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scene {
    /// Mean absolute frame difference, in percent of full scale.
    pub mafd: f64,
    /// Scene-change score, 0 to 100.
    pub score: f64,
    /// True when `score >= threshold`.
    pub cut: bool,
}

/// Turns per-frame luma SADs into scdet scores; holds the one value of state
/// scdet carries from frame to frame.
#[derive(Debug, Clone)]
pub struct SceneTracker {
    threshold: f64,
    prev_mafd: f64,
}

impl SceneTracker {
    /// A tracker that flags cuts at `threshold` (scdet's `t`, 0 to 100).
    pub fn new(threshold: f64) -> Self {
        SceneTracker {
            threshold,
            prev_mafd: 0.0,
        }
    }

    /// The threshold in use.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// Scores the next frame, in stream order.
    pub fn push(&mut self, raw: &FrameRaw) -> Scene {
        let score = match raw.luma_sad {
            Some(sad) => {
                let pixels = u64::from(raw.width) * u64::from(raw.height);
                let mafd = sad as f64 * 100.0 / pixels as f64 / 256.0;
                let diff = (mafd - self.prev_mafd).abs();
                self.prev_mafd = mafd;
                mafd.min(diff).clamp(0.0, 100.0)
            }
            None => 0.0,
        };
        Scene {
            mafd: self.prev_mafd,
            score,
            cut: score >= self.threshold,
        }
    }
}

impl Default for SceneTracker {
    fn default() -> Self {
        SceneTracker::new(DEFAULT_THRESHOLD)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(sad: Option<u64>) -> FrameRaw {
        FrameRaw {
            luma_sad: sad,
            ..FrameRaw::new(64, 64)
        }
    }

    #[test]
    fn first_frame_scores_zero() {
        let mut t = SceneTracker::default();
        let s = t.push(&raw(None));
        assert_eq!((s.mafd, s.score, s.cut), (0.0, 0.0, false));
    }

    #[test]
    fn hard_cut_then_steady() {
        // Luma 81 -> 41 on 64x64, the case ffmpeg prints as mafd 15.625.
        let mut t = SceneTracker::default();
        t.push(&raw(None));
        assert_eq!(t.push(&raw(Some(0))).score, 0.0);
        let cut = t.push(&raw(Some(40 * 64 * 64)));
        assert_eq!((cut.mafd, cut.score, cut.cut), (15.625, 15.625, true));
        let after = t.push(&raw(Some(0)));
        assert_eq!((after.mafd, after.score, after.cut), (0.0, 0.0, false));
    }

    #[test]
    fn steady_motion_is_not_a_cut() {
        let mut t = SceneTracker::default();
        t.push(&raw(None));
        t.push(&raw(Some(30 * 64 * 64)));
        let s = t.push(&raw(Some(30 * 64 * 64)));
        assert_eq!(s.score, 0.0);
    }
}
