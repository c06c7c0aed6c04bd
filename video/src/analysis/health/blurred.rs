//! `camera_blurred`: blurdetect's value (the `blur` kernel) against its
//! running baseline, an exponential moving average taken only from frames
//! that are not blurred.

use osprey_kernels::metrics::period::{Mark, MinLength, PeriodTracker, Step};

use super::follow_weight;
use crate::analysis::HealthOptions;

/// The blurred periods of one stream.
#[derive(Debug)]
pub(super) struct Blurred {
    margin: f64,
    tau: f64,
    baseline: Option<f64>,
    /// Whether the last frame was blurred (it then ends within half the
    /// margin).
    blurred: bool,
    pub(super) periods: PeriodTracker,
}

impl Blurred {
    pub(super) fn new(h: &HealthOptions, frame_rate: Option<f64>) -> Self {
        Blurred {
            margin: h.blur_margin,
            tau: h.blur_baseline_seconds,
            baseline: None,
            blurred: false,
            periods: PeriodTracker::new(MinLength::Seconds(h.blurred_min_duration), 1, frame_rate),
        }
    }

    /// Follows the next frame, `now`, `dt` seconds after the last, with
    /// its blur value (`None`: no edges); a `blocked` frame is not blurred
    /// and leaves the baseline alone.
    pub(super) fn push(&mut self, blur: Option<f64>, blocked: bool, dt: f64, now: Mark) -> Step {
        let margin = if self.blurred {
            self.margin / 2.0
        } else {
            self.margin
        };
        let blurred = match (blur, self.baseline) {
            (Some(b), Some(base)) if !blocked => b > base * (1.0 + margin),
            _ => false,
        };
        if let (Some(b), false, false) = (blur, blurred, blocked) {
            let base = self.baseline.get_or_insert(b);
            *base += (b - *base) * follow_weight(dt, self.tau);
        }
        self.blurred = blurred;
        self.periods.push(blurred, now, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::test_marks::at;

    /// Feeds blur values (`None` for no edges) at 10 fps and lists
    /// `(event, its frame, emitted at)`.
    fn run(values: &[Option<f64>], blocked_at: Option<u64>) -> Vec<(&'static str, u64, u64)> {
        let h = HealthOptions {
            blurred_min_duration: 0.3,
            blur_margin: 0.5,
            blur_baseline_seconds: 1.0,
            ..HealthOptions::default()
        };
        let mut d = Blurred::new(&h, None);
        let mut out = Vec::new();
        for (i, &v) in values.iter().enumerate() {
            let i = i as u64;
            let step = d.push(v, blocked_at == Some(i), 0.1, at(i));
            if let Some(s) = step.start {
                out.push(("start", s.frame, i));
            }
            if let Some(e) = step.end {
                out.push(("end", e.at.frame, i));
            }
        }
        out
    }

    #[test]
    fn above_the_baseline_by_the_margin() {
        let mut v = vec![Some(2.0); 10];
        // 3.1 > 2 * 1.5 from frame 10 to 14; 2.6 still within half the
        // margin (2.5 < 2.6) at 15; 2.4 ends it at 16.
        v.extend([Some(3.1); 5]);
        v.extend([Some(2.6), Some(2.4), Some(2.0)]);
        assert_eq!(run(&v, None), vec![("start", 10, 13), ("end", 16, 16)]);
        // 2.9 is not 50% blurrier.
        let mut v = vec![Some(2.0); 10];
        v.extend([Some(2.9); 10]);
        assert_eq!(run(&v, None), vec![]);
    }

    #[test]
    fn the_baseline_learns_only_while_sharp() {
        // A long blurred stretch does not become the baseline.
        let mut v = vec![Some(2.0); 5];
        v.extend([Some(4.0); 40]);
        v.push(Some(2.0));
        assert_eq!(run(&v, None), vec![("start", 5, 8), ("end", 45, 45)]);
        // Slow drift is followed: each frame 3% up never crosses 50%.
        let v: Vec<_> = (0..60).map(|i| Some(2.0 * 1.03f64.powi(i))).collect();
        assert_eq!(run(&v, None), vec![]);
    }

    #[test]
    fn no_edges_or_blocked_is_not_blurred() {
        let mut v = vec![None; 3];
        v.extend([Some(2.0); 5]);
        v.extend([None; 5]);
        assert_eq!(run(&v, None), vec![]);
        // A blocked frame in a blurred stretch ends it.
        let mut v = vec![Some(2.0); 5];
        v.extend([Some(4.0); 6]);
        assert_eq!(run(&v, Some(9)), vec![("start", 5, 8), ("end", 9, 9)]);
    }
}
