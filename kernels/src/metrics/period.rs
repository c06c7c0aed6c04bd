//! Start/end periods of a per-frame condition, with a minimum length before a
//! period counts and, optionally, hysteresis before it ends.
//!
//! One tracker serves every detector that reports periods: black and freeze
//! (a minimum duration in seconds, ended by the first frame without the
//! condition, as ffmpeg's blackdetect and freezedetect do) and motion (a
//! minimum count of consecutive frames to start, and of quiet frames to end).
//!
//! A period is announced as soon as it is known to reach its minimum length,
//! not at its end, so a live stream learns of it while it lasts; the start
//! event names the frame the period began at. A period still open at the end
//! of the stream is closed by [`PeriodTracker::finish`], flagged `eos`.

/// A frame's place in the stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mark {
    /// 0-based frame index in decode order.
    pub frame: u64,
    /// Presentation time in seconds, when the stream has one.
    pub pts: Option<f64>,
}

/// How long a period must last before it counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MinLength {
    /// At least this many seconds from its first frame to the frame it is
    /// measured at (blackdetect's and freezedetect's `d`).
    Seconds(f64),
    /// At least this many consecutive frames with the condition.
    Frames(u32),
}

/// How the end of a period was found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeriodEnd {
    /// Where it ended: the first frame without the condition, or at end of
    /// stream the last frame (as blackdetect reports it).
    pub at: Mark,
    /// Where it began.
    pub start: Mark,
    /// `at - start` in seconds; `None` when neither timestamps nor a frame
    /// rate give one.
    pub duration: Option<f64>,
    /// True when the stream ended while the period was open.
    pub eos: bool,
}

/// What one frame did to a period: at most one start and one end (both at
/// once when a period is found to be long enough only at its end).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Step {
    /// A period became long enough; the mark of its first frame.
    pub start: Option<Mark>,
    /// An announced period ended.
    pub end: Option<PeriodEnd>,
}

/// Durations within this many seconds below the minimum still reach it: pts
/// in seconds carry float rounding that ffmpeg's integer time bases do not.
const DURATION_SLACK: f64 = 1e-6;

/// Seconds from `start` to `end`: from their timestamps when both have one
/// and they run forward, else from the frame count at `frame_rate` (as
/// freezedetect does at a discontinuity), else `None`.
pub fn duration(start: Mark, end: Mark, frame_rate: Option<f64>) -> Option<f64> {
    match (start.pts, end.pts) {
        (Some(a), Some(b)) if b >= a => Some(b - a),
        _ => {
            let fps = frame_rate.filter(|f| f.is_finite() && *f > 0.0)?;
            Some(end.frame.saturating_sub(start.frame) as f64 / fps)
        }
    }
}

/// The open period.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Open {
    start: Mark,
    active_frames: u64,
    announced: bool,
    /// First frame of the current run of quiet frames, and its length.
    quiet: Option<(Mark, u32)>,
}

/// Follows one condition frame by frame and reports its periods.
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodTracker {
    min: MinLength,
    end_frames: u32,
    frame_rate: Option<f64>,
    open: Option<Open>,
}

impl PeriodTracker {
    /// A tracker whose periods count once they reach `min`, and, once
    /// announced, end after `end_frames` consecutive frames without the
    /// condition (at least 1; the end is the first of them). A period not yet
    /// announced ends at its first frame without the condition.
    /// `frame_rate` measures durations where timestamps are missing.
    pub fn new(min: MinLength, end_frames: u32, frame_rate: Option<f64>) -> Self {
        PeriodTracker {
            min,
            end_frames: end_frames.max(1),
            frame_rate,
            open: None,
        }
    }

    /// Whether a period is open and announced.
    pub fn is_announced(&self) -> bool {
        self.open.is_some_and(|o| o.announced)
    }

    /// Feeds the next frame, `now`, which has the condition when `active`.
    /// A period that opens here begins at `opens_at` (`now` for black and
    /// motion; freezedetect's reference frame for freeze).
    pub fn push(&mut self, active: bool, now: Mark, opens_at: Mark) -> Step {
        let Some(open) = self.open.as_mut() else {
            if !active {
                return Step::default();
            }
            self.open = Some(Open {
                start: opens_at,
                active_frames: 1,
                announced: false,
                quiet: None,
            });
            return self.announce_if_long(now);
        };
        if active {
            open.active_frames += 1;
            open.quiet = None;
            return if open.announced {
                Step::default()
            } else {
                self.announce_if_long(now)
            };
        }
        let start = open.start;
        if !open.announced {
            self.open = None;
            // blackdetect and freezedetect measure a period at its end too.
            let long = matches!(self.min, MinLength::Seconds(_)) && self.reaches(start, now);
            return if long {
                Step {
                    start: Some(start),
                    end: Some(self.end(start, now, false)),
                }
            } else {
                Step::default()
            };
        }
        let (first_quiet, quiet) = open.quiet.get_or_insert((now, 0));
        *quiet += 1;
        if *quiet < self.end_frames {
            return Step::default();
        }
        let at = *first_quiet;
        self.open = None;
        Step {
            start: None,
            end: Some(self.end(start, at, false)),
        }
    }

    /// Closes an announced period at the end of the stream, `last` being the
    /// last frame; a period still in its quiet run ends where that run began.
    pub fn finish(&mut self, last: Mark) -> Option<PeriodEnd> {
        let open = self.open.take().filter(|o| o.announced)?;
        let at = open.quiet.map_or(last, |(first, _)| first);
        Some(self.end(open.start, at, true))
    }

    fn end(&self, start: Mark, at: Mark, eos: bool) -> PeriodEnd {
        PeriodEnd {
            at,
            start,
            duration: duration(start, at, self.frame_rate),
            eos,
        }
    }

    /// Whether the span from `start` to `at` reaches a minimum in seconds.
    fn reaches(&self, start: Mark, at: Mark) -> bool {
        let MinLength::Seconds(min) = self.min else {
            return false;
        };
        match duration(start, at, self.frame_rate) {
            Some(d) => d + DURATION_SLACK >= min,
            None => min <= 0.0,
        }
    }

    /// Announces the open period when it has become long enough at `now`.
    fn announce_if_long(&mut self, now: Mark) -> Step {
        let Some(open) = self.open else {
            return Step::default();
        };
        let long = match self.min {
            MinLength::Seconds(_) => self.reaches(open.start, now),
            MinLength::Frames(n) => open.active_frames >= u64::from(n),
        };
        if !long {
            return Step::default();
        }
        if let Some(o) = self.open.as_mut() {
            o.announced = true;
        }
        Step {
            start: Some(open.start),
            end: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(frame: u64) -> Mark {
        Mark {
            frame,
            pts: Some(frame as f64 * 0.04),
        }
    }

    /// Runs `pattern` (`#` active, `.` not) through `t` and lists the events
    /// as `(kind, frame of the event's mark, at frame)`.
    fn run(t: &mut PeriodTracker, pattern: &str) -> Vec<(&'static str, u64, u64)> {
        let mut out = Vec::new();
        let mut last = None;
        for (i, c) in pattern.chars().enumerate() {
            let now = at(i as u64);
            let step = t.push(c == '#', now, now);
            if let Some(s) = step.start {
                out.push(("start", s.frame, i as u64));
            }
            if let Some(e) = step.end {
                out.push(("end", e.at.frame, i as u64));
            }
            last = Some(now);
        }
        if let Some(e) = last.and_then(|l| t.finish(l)) {
            assert!(e.eos);
            out.push(("eos", e.at.frame, e.at.frame));
        }
        out
    }

    #[test]
    fn seconds_announce_once_long_enough() {
        // 0.12 s at 25 fps is 3 frame intervals.
        let mut t = PeriodTracker::new(MinLength::Seconds(0.12), 1, None);
        assert_eq!(
            run(&mut t, "..######.."),
            vec![("start", 2, 5), ("end", 8, 8)]
        );
    }

    #[test]
    fn exactly_the_minimum_counts_at_the_end() {
        // Active frames 2..4 then quiet at 5: 5 - 2 = 3 intervals = 0.12 s;
        // the last active frame is only 2 intervals in, so start and end come
        // together at frame 5, as blackdetect reports it.
        let mut t = PeriodTracker::new(MinLength::Seconds(0.12), 1, None);
        assert_eq!(run(&mut t, "..###.."), vec![("start", 2, 5), ("end", 5, 5)]);
        let mut t = PeriodTracker::new(MinLength::Seconds(0.1201), 1, None);
        assert_eq!(run(&mut t, "..###.."), vec![]);
    }

    #[test]
    fn end_of_stream_closes_announced_periods() {
        let mut t = PeriodTracker::new(MinLength::Seconds(0.08), 1, None);
        assert_eq!(run(&mut t, ".####"), vec![("start", 1, 3), ("eos", 4, 4)]);
        // Too short by the end: nothing, as blackdetect at EOF.
        let mut t = PeriodTracker::new(MinLength::Seconds(0.2), 1, None);
        assert_eq!(run(&mut t, ".####"), vec![]);
        let mut t = PeriodTracker::new(MinLength::Seconds(0.2), 1, None);
        assert_eq!(t.finish(at(0)), None);
    }

    #[test]
    fn eos_duration_runs_to_the_last_frame() {
        let mut t = PeriodTracker::new(MinLength::Seconds(0.0), 1, None);
        t.push(true, at(3), at(3));
        t.push(true, at(9), at(9));
        let e = t.finish(at(9)).unwrap();
        assert_eq!(e.start, at(3));
        assert!((e.duration.unwrap() - 0.24).abs() < 1e-12);
    }

    #[test]
    fn frames_with_hysteresis() {
        let mut t = PeriodTracker::new(MinLength::Frames(2), 3, None);
        // A lone frame is not enough; two start a period; two quiet frames do
        // not end it, three do, at the first of them.
        assert_eq!(
            run(&mut t, "#.##..#...##."),
            vec![
                ("start", 2, 3),
                ("end", 7, 9),
                ("start", 10, 11),
                ("eos", 12, 12)
            ]
        );
    }

    #[test]
    fn no_pts_uses_the_frame_rate_or_nothing() {
        let none = |frame| Mark { frame, pts: None };
        let mut t = PeriodTracker::new(MinLength::Seconds(1.0), 1, Some(2.0));
        assert_eq!(t.push(true, none(0), none(0)), Step::default());
        assert_eq!(t.push(true, none(1), none(1)), Step::default());
        assert_eq!(t.push(true, none(2), none(2)).start, Some(none(0)));
        let e = t.push(false, none(3), none(3)).end.unwrap();
        assert_eq!(e.duration, Some(1.5));
        // Without pts and frame rate a period never reaches a positive minimum.
        let mut t = PeriodTracker::new(MinLength::Seconds(1.0), 1, None);
        for i in 0..100 {
            assert_eq!(t.push(true, none(i), none(i)), Step::default());
        }
        assert_eq!(t.finish(none(99)), None);
        assert_eq!(duration(none(0), none(5), None), None);
    }

    #[test]
    fn backwards_pts_fall_back_to_frames() {
        let a = Mark {
            frame: 10,
            pts: Some(5.0),
        };
        let b = Mark {
            frame: 20,
            pts: Some(1.0),
        };
        assert_eq!(duration(a, b, Some(10.0)), Some(1.0));
        assert_eq!(duration(a, b, None), None);
    }

    #[test]
    fn opens_at_an_earlier_mark() {
        let mut t = PeriodTracker::new(MinLength::Seconds(0.08), 1, None);
        assert_eq!(t.push(true, at(5), at(3)).start, Some(at(3)));
        assert!(t.is_announced());
    }
}
