//! Motion and zone periods: Frigate's detector on each frame, then
//! hysteresis (so many moving frames start a period, so many still frames
//! end it) for the whole frame and for each zone, giving `motion_start` /
//! `motion_end` and `zone_enter` / `zone_exit` events. A motion start comes
//! before its zones' enters; a zone exit before the motion end.

use osprey_kernels::FrameRaw;
use osprey_kernels::metrics::motion::{Motion, MotionDetector};
use osprey_kernels::metrics::period::{Mark, MinLength, PeriodTracker, Step};

use super::events::{Event, period_events};
use super::options::{AnalysisOptions, MotionHysteresis};
use super::record::EventType;

/// The motion detector and the periods of motion, in the whole frame and
/// in each zone.
#[derive(Debug)]
pub(super) struct MotionPeriods {
    detector: MotionDetector,
    hysteresis: MotionHysteresis,
    whole_frame: PeriodTracker,
    zones: Vec<PeriodTracker>,
    zone_names: Vec<String>,
}

impl MotionPeriods {
    /// The detector and periods of `opts`; `frame_rate` measures durations
    /// where timestamps are missing.
    pub(super) fn new(opts: &AnalysisOptions, frame_rate: Option<f64>) -> Self {
        let hysteresis = opts.motion_hysteresis;
        let periods = || {
            PeriodTracker::new(
                MinLength::Frames(hysteresis.start_frames),
                hysteresis.end_frames,
                frame_rate,
            )
        };
        let zones = &opts.motion.zones;
        MotionPeriods {
            detector: MotionDetector::new(opts.motion.clone()),
            hysteresis,
            whole_frame: periods(),
            zones: zones.iter().map(|_| periods()).collect(),
            zone_names: zones.iter().map(|z| z.name.clone()).collect(),
        }
    }

    /// The name of zone `index`.
    pub(super) fn zone_name(&self, index: usize) -> Option<&str> {
        self.zone_names.get(index).map(String::as_str)
    }

    /// Runs the detector on `raw`: the frame's motion, or `None` when the
    /// motion kernel left it incomplete.
    pub(super) fn detect(&mut self, raw: &FrameRaw) -> Option<Motion> {
        self.detector.push(raw)
    }

    /// Follows frame and zone motion through `motion`, adding their events.
    pub(super) fn push(&mut self, motion: &Motion, now: Mark, out: &mut Vec<Event>) {
        let min = self.hysteresis.min_ratio;
        let moving = !motion.calibrating && !motion.boxes.is_empty() && motion.ratio > min;
        let step = self.whole_frame.push(moving, now, now);
        // A motion start precedes its zones' enters; a zone exit precedes
        // the motion end.
        if let Some(start) = step.start {
            out.push(Event::at(EventType::MotionStart, start));
        }
        for (i, tracker) in self.zones.iter_mut().enumerate() {
            let ratio = motion.zones.get(i).map_or(0.0, |z| z.ratio);
            let active = !motion.calibrating && ratio > min;
            let step = tracker.push(active, now, now);
            period_events(
                step,
                [EventType::ZoneEnter, EventType::ZoneExit],
                Some(i),
                out,
            );
        }
        period_events(
            Step {
                start: None,
                end: step.end,
            },
            [EventType::MotionStart, EventType::MotionEnd],
            None,
            out,
        );
    }

    /// Closes the zone periods, then the motion period, still open after
    /// `last`, adding their events.
    pub(super) fn finish(&mut self, last: Mark, out: &mut Vec<Event>) {
        for (i, zone) in self.zones.iter_mut().enumerate() {
            let end = zone.finish(last);
            period_events(
                Step { start: None, end },
                [EventType::ZoneEnter, EventType::ZoneExit],
                Some(i),
                out,
            );
        }
        let end = self.whole_frame.finish(last);
        period_events(
            Step { start: None, end },
            [EventType::MotionStart, EventType::MotionEnd],
            None,
            out,
        );
    }
}

#[cfg(test)]
mod tests {
    use osprey_kernels::metrics::motion::ZoneMotion;
    use osprey_kernels::metrics::zones::Zone;

    use super::*;
    use crate::analysis::test_marks::at;

    /// A frame's motion: the whole frame's ratio (with a box when above 0)
    /// and the zone's.
    fn motion(ratio: f64, door: f64) -> Motion {
        Motion {
            ratio,
            boxes: if ratio > 0.0 {
                vec![[0, 0, 4, 4]]
            } else {
                vec![]
            },
            zones: vec![ZoneMotion {
                name: "door".into(),
                ratio: door,
            }],
            calibrating: false,
        }
    }

    #[test]
    fn zone_periods_nest_inside_the_motion_period() {
        let mut opts = AnalysisOptions::default();
        opts.motion.zones = vec![Zone::parse("door:0,0,10,0,10,10").unwrap()];
        opts.motion_hysteresis = MotionHysteresis {
            min_ratio: 0.01,
            start_frames: 2,
            end_frames: 2,
        };
        let mut periods = MotionPeriods::new(&opts, Some(10.0));
        assert_eq!(periods.zone_name(0), Some("door"));
        assert_eq!(periods.zone_name(1), None);
        // Frames 1..=4 move (0.005 is below min_ratio), the door 2..=4.
        let frames = [
            (0.0, 0.0),
            (0.5, 0.0),
            (0.5, 0.5),
            (0.5, 0.5),
            (0.5, 0.5),
            (0.005, 0.0),
            (0.0, 0.0),
            (0.0, 0.0),
        ];
        let mut log = Vec::new();
        for (i, (ratio, door)) in frames.into_iter().enumerate() {
            let mut out = Vec::new();
            periods.push(&motion(ratio, door), at(i as u64), &mut out);
            log.extend(out.iter().map(|e| (i, e.kind.name(), e.at.frame, e.zone)));
        }
        let mut out = Vec::new();
        periods.finish(at(7), &mut out);
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(
            log,
            [
                (2, "motion_start", 1, None),
                (3, "zone_enter", 2, Some(0)),
                (6, "zone_exit", 5, Some(0)),
                (6, "motion_end", 5, None),
            ]
        );
    }

    #[test]
    fn open_periods_close_at_the_end_zones_first() {
        let mut opts = AnalysisOptions::default();
        opts.motion.zones = vec![Zone::parse("door:0,0,10,0,10,10").unwrap()];
        let mut periods = MotionPeriods::new(&opts, Some(10.0));
        for i in 0..3 {
            periods.push(&motion(0.5, 0.5), at(i), &mut Vec::new());
        }
        let mut out = Vec::new();
        periods.finish(at(2), &mut out);
        let ends: Vec<_> = out.iter().map(|e| (e.kind.name(), e.eos)).collect();
        assert_eq!(ends, [("zone_exit", true), ("motion_end", true)]);
    }
}
