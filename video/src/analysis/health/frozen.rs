//! `camera_frozen`: freezedetect's comparison (the `freeze` kernel) held to
//! the health minimum, a blocked picture left out (a lens cap repeats
//! itself too, but it is `camera_blocked`).

use osprey_kernels::metrics::period::{Mark, MinLength, PeriodTracker, Step};

use crate::analysis::HealthOptions;

/// The frozen periods of one stream.
#[derive(Debug)]
pub(super) struct Frozen {
    /// The last frame that changed: where a freeze begins, as freezedetect's
    /// reference frame.
    reference: Option<Mark>,
    pub(super) periods: PeriodTracker,
}

impl Frozen {
    pub(super) fn new(h: &HealthOptions, frame_rate: Option<f64>) -> Self {
        Frozen {
            reference: None,
            periods: PeriodTracker::new(MinLength::Seconds(h.frozen_min_duration), 1, frame_rate),
        }
    }

    /// Follows the next frame, `now`, `frozen` as the freeze kernel found
    /// it; a `blocked` frame does not count as frozen.
    pub(super) fn push(&mut self, frozen: bool, blocked: bool, now: Mark) -> Step {
        let reference = self.reference.unwrap_or(now);
        let step = self.periods.push(frozen && !blocked, now, reference);
        if !frozen || blocked {
            self.reference = Some(now);
        }
        step
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::test_marks::at;

    /// Feeds `pattern` (`f` frozen, `m` moving, `b` frozen and blocked) and
    /// lists `(event, its frame, emitted at)`.
    fn run(min: f64, pattern: &str) -> Vec<(&'static str, u64, u64)> {
        let h = HealthOptions {
            frozen_min_duration: min,
            ..HealthOptions::default()
        };
        let mut d = Frozen::new(&h, None);
        let mut out = Vec::new();
        for (i, c) in pattern.chars().enumerate() {
            let i = i as u64;
            let step = d.push(c != 'm', c == 'b', at(i));
            if let Some(s) = step.start {
                out.push(("start", s.frame, i));
            }
            if let Some(e) = step.end {
                out.push(("end", e.at.frame, i));
            }
        }
        let last = at(pattern.len() as u64 - 1);
        if let Some(e) = d.periods.finish(last) {
            out.push(("eos", e.at.frame, e.at.frame));
        }
        out
    }

    #[test]
    fn starts_at_the_last_changed_frame() {
        // 0.3 s = 3 intervals at 10 fps: reference 1, frozen 2..=5, known
        // at 4, ended by 6.
        assert_eq!(run(0.3, "mmffffmm"), vec![("start", 1, 4), ("end", 6, 6)]);
        // Exactly the minimum, known at its end (as freezedetect); shorter,
        // nothing.
        assert_eq!(run(0.3, "mmffmm"), vec![("start", 1, 4), ("end", 4, 4)]);
        assert_eq!(run(0.3, "mmfmm"), vec![]);
        // Frozen to the end: closed at the last frame.
        assert_eq!(run(0.3, "mffff"), vec![("start", 0, 3), ("eos", 4, 4)]);
    }

    #[test]
    fn a_blocked_picture_is_not_frozen() {
        assert_eq!(run(0.3, "mbbbbbbm"), vec![]);
        // Frozen again after the block: measured from the block's last frame.
        assert_eq!(run(0.3, "mbbffffm"), vec![("start", 2, 5), ("end", 7, 7)]);
    }
}
