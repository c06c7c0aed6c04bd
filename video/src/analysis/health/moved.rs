//! `camera_moved`: a scene cut or motion over the lightning threshold
//! starts a change; the change is a move when the picture stays different
//! from the reference of before it for the minimum duration, and the new
//! view then becomes the reference (start and end on that frame).

use osprey_kernels::metrics::period::{Mark, MinLength, PeriodTracker, Step};
use osprey_kernels::{FrameRaw, KernelSet};

use super::follow_weight;
use super::picture::{Picture, Summary};
use crate::analysis::{Figures, HealthOptions};

/// The moves of one stream.
#[derive(Debug)]
pub(super) struct Moved {
    summary: Summary,
    difference: f64,
    tau: f64,
    lightning: f64,
    /// The view as it has been: a running average of the pictures seen
    /// while no change was under way.
    reference: Option<Picture>,
    /// Whether a change is under way (begun by a cut or lightning, the
    /// picture still far from the reference).
    changing: bool,
    pub(super) periods: PeriodTracker,
}

impl Moved {
    /// The detector for `kernels`: `None` without a trigger (`scene` or
    /// `motion`) or without a picture to compare (`motion`'s small image,
    /// or the histogram of `black` or `stats`).
    pub(super) fn new(
        h: &HealthOptions,
        kernels: KernelSet,
        lightning: f64,
        frame_rate: Option<f64>,
    ) -> Option<Self> {
        if !(kernels.scene || kernels.motion) {
            return None;
        }
        let summary = if kernels.motion {
            Summary::Grid
        } else if kernels.black || kernels.stats {
            Summary::Histogram
        } else {
            return None;
        };
        Some(Moved {
            summary,
            difference: h.moved_difference,
            tau: h.moved_reference_seconds,
            lightning,
            reference: None,
            changing: false,
            periods: PeriodTracker::new(MinLength::Seconds(h.moved_min_duration), 1, frame_rate),
        })
    }

    /// Follows the next frame, `now`, `dt` seconds after the last; a
    /// `blocked` frame is compared with nothing and teaches nothing.
    pub(super) fn push(
        &mut self,
        raw: &FrameRaw,
        figures: &Figures,
        blocked: bool,
        dt: f64,
        now: Mark,
    ) -> Step {
        let cut = figures.scene.is_some_and(|s| s.cut)
            || figures
                .motion
                .as_ref()
                .is_some_and(|m| m.ratio > self.lightning);
        let picture = if blocked {
            None
        } else {
            Picture::of(self.summary, raw)
        };
        let far = self.far(picture.as_ref(), cut, dt);
        let mut step = self.periods.push(far, now, now);
        if step.start.is_some() {
            // The new view has lasted: it is the reference from now on (a
            // change found long enough only as it ended already has its
            // end, and this picture is the view it came back to).
            self.reference = picture;
            self.changing = false;
            if step.end.is_none() {
                step.end = self.periods.push(false, now, now).end;
            }
        }
        step
    }

    /// Whether a change is under way at this frame, updating the reference
    /// when none is.
    fn far(&mut self, picture: Option<&Picture>, cut: bool, dt: f64) -> bool {
        let Some(picture) = picture else {
            self.changing = false;
            return false;
        };
        let Some(reference) = self.reference.as_mut() else {
            self.reference = Some(*picture);
            return false;
        };
        let Some(difference) = reference.difference(picture) else {
            // Another size: another stream, start again.
            *reference = *picture;
            self.changing = false;
            return false;
        };
        let far = difference >= self.difference;
        self.changing = far && (self.changing || cut);
        if !self.changing {
            reference.follow(picture, follow_weight(dt, self.tau));
        }
        self.changing
    }
}

#[cfg(test)]
mod tests {
    use osprey_kernels::kernel::MotionRaw;
    use osprey_kernels::metrics::{Motion, Scene};

    use super::*;
    use crate::analysis::test_marks::at;

    /// A frame whose 16x16 small image shows view `v` (0: bright left, 1:
    /// bright right, 2: bright top).
    fn view(v: u8) -> FrameRaw {
        let mut raw = FrameRaw::new(64, 64);
        raw.motion = MotionRaw {
            width: 16,
            height: 16,
            pixels: (0..256usize)
                .map(|i| {
                    let bright = match v {
                        0 => i % 16 < 8,
                        1 => i % 16 >= 8,
                        _ => i < 128,
                    };
                    if bright { 200 } else { 40 }
                })
                .collect(),
        };
        raw
    }

    /// Feeds `pattern` (a digit per frame: the view; `|` before a digit: a
    /// scene cut at that frame; `b`: blocked) and lists `(event, its frame,
    /// emitted at)`.
    fn run(pattern: &str) -> Vec<(&'static str, u64, u64)> {
        let h = HealthOptions {
            moved_min_duration: 0.3,
            ..HealthOptions::default()
        };
        let kernels = KernelSet::parse("scene,motion").unwrap();
        let mut d = Moved::new(&h, kernels, 0.8, None).unwrap();
        let mut out = Vec::new();
        let (mut i, mut cut) = (0u64, false);
        for c in pattern.chars() {
            if c == '|' {
                cut = true;
                continue;
            }
            let blocked = c == 'b';
            let raw = view(c.to_digit(10).map_or(0, |d| d as u8));
            let figures = Figures {
                scene: Some(Scene {
                    mafd: 0.0,
                    score: 0.0,
                    cut,
                }),
                ..Figures::default()
            };
            let step = d.push(&raw, &figures, blocked, 0.1, at(i));
            if let Some(s) = step.start {
                out.push(("start", s.frame, i));
            }
            if let Some(e) = step.end {
                out.push(("end", e.at.frame, i));
            }
            cut = false;
            i += 1;
        }
        out
    }

    #[test]
    fn a_view_that_stays_is_a_move() {
        // Cut to view 1 at frame 3; 0.3 s later (frame 6) it is a move, and
        // view 1 the reference: cutting back to 0 is a move again.
        assert_eq!(
            run("000|11111111|0000"),
            vec![
                ("start", 3, 6),
                ("end", 6, 6),
                ("start", 11, 14),
                ("end", 14, 14)
            ]
        );
    }

    #[test]
    fn a_view_that_comes_back_is_not() {
        assert_eq!(run("000|11|000000"), vec![]);
        // Back just as the minimum is reached: counted, as blackdetect
        // counts a period at its end, and ended where the view came back.
        assert_eq!(run("000|111000"), vec![("start", 3, 6), ("end", 6, 6)]);
        // A change without a cut (a slow pan, a scene that changes bit by
        // bit) is not a move: only cuts and lightning start one.
        assert_eq!(run("000111111111"), vec![]);
    }

    #[test]
    fn another_view_after_a_cut_still_counts() {
        assert_eq!(run("000|1|2222222"), vec![("start", 3, 6), ("end", 6, 6)]);
    }

    #[test]
    fn a_blocked_frame_interrupts_a_change() {
        assert_eq!(run("000|11b1111111"), vec![]);
        // Blocked frames teach nothing: the view behind the card is still
        // the reference, and a cut to another view after it is a move.
        assert_eq!(
            run("000|bbbbbbb|1111"),
            vec![("start", 10, 13), ("end", 13, 13)]
        );
    }

    #[test]
    fn motion_over_the_lightning_threshold_starts_a_change() {
        let h = HealthOptions {
            moved_min_duration: 0.3,
            ..HealthOptions::default()
        };
        let mut d = Moved::new(&h, KernelSet::parse("motion").unwrap(), 0.8, None).unwrap();
        let figures = |ratio: f64| Figures {
            motion: Some(Motion {
                ratio,
                boxes: Vec::new(),
                zones: Vec::new(),
                calibrating: false,
            }),
            ..Figures::default()
        };
        let mut log = Vec::new();
        // View 0; view 1 with motion at 0.79 (under the threshold); view 0;
        // view 1 from frame 11 with motion at 0.9 at that frame only.
        let frames = [(0, 0.0); 3]
            .into_iter()
            .chain([(1, 0.79); 5])
            .chain([(0, 0.0); 3])
            .chain([(1, 0.9)])
            .chain([(1, 0.1); 5]);
        for (i, (v, ratio)) in frames.enumerate() {
            let i = i as u64;
            let step = d.push(&view(v), &figures(ratio), false, 0.1, at(i));
            if let Some(s) = step.start {
                log.push(("start", s.frame, i));
            }
            if let Some(e) = step.end {
                log.push(("end", e.at.frame, i));
            }
        }
        assert_eq!(log, vec![("start", 11, 14), ("end", 14, 14)]);
    }
}
