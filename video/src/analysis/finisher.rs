//! Host-side finishing of each frame and the events it reveals, in stream
//! order: [`Finisher::push`] turns one [`FrameRaw`] into the [`Figures`] of
//! its frame record and fills [`Finisher::events`] with the events found at
//! that frame; [`Finisher::finish`] closes the periods still open at end of
//! stream.
//!
//! One `PeriodTracker` type serves black, freeze, motion and every zone
//! (motion and zones in [`super::motion_periods`]) and the camera health
//! periods (in [`super::health`], after the others); the event list is reused
//! frame after frame (no allocation once it has grown).

use osprey_kernels::kernel::BlurParams;
use osprey_kernels::metrics::black::{Black, BlackDetector};
use osprey_kernels::metrics::blur::{self, Blur};
use osprey_kernels::metrics::freeze::{Freeze, FreezeDetector};
use osprey_kernels::metrics::motion::Motion;
use osprey_kernels::metrics::period::{Mark, Step};
use osprey_kernels::metrics::{Scene, SceneTracker, Stats};
use osprey_kernels::{FrameRaw, KernelSet};

use super::events::{Event, period_events};
use super::health::Health;
use super::motion_periods::MotionPeriods;
use super::options::AnalysisOptions;
use super::record::EventType;
use crate::VideoError;

/// The figures of one frame, each present when its kernel ran.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    /// signalstats.
    pub stats: Option<Stats>,
    /// scdet.
    pub scene: Option<Scene>,
    /// Frigate's motion.
    pub motion: Option<Motion>,
    /// blackdetect's ratio.
    pub black: Option<Black>,
    /// freezedetect's comparison.
    pub freeze: Option<Freeze>,
    /// blurdetect and the Laplacian.
    pub blur: Option<Blur>,
}

/// Finishes frames and finds events, one stream from start to end.
#[derive(Debug)]
pub struct Finisher {
    kernels: KernelSet,
    scene: SceneTracker,
    black: BlackDetector,
    freeze: FreezeDetector,
    blur: BlurParams,
    motion: Option<MotionPeriods>,
    health: Option<Health>,
    events: Vec<Event>,
    last: Option<Mark>,
}

impl Finisher {
    /// A finisher for the kernels and parameters in `opts`; `frame_rate`
    /// measures durations where timestamps are missing.
    pub fn new(opts: &AnalysisOptions, frame_rate: Option<f64>) -> Self {
        let kernels = opts.backend.kernels;
        let motion = kernels.motion.then(|| MotionPeriods::new(opts, frame_rate));
        Finisher {
            kernels,
            scene: SceneTracker::new(opts.scene_threshold),
            black: BlackDetector::new(opts.black, frame_rate),
            freeze: FreezeDetector::new(opts.freeze_min_duration, frame_rate),
            blur: opts.backend.blur,
            motion,
            health: Health::new(opts, frame_rate),
            events: Vec::new(),
            last: None,
        }
    }

    /// The name of zone `index`, as events give it.
    pub fn zone_name(&self, index: usize) -> Option<&str> {
        self.motion.as_ref().and_then(|m| m.zone_name(index))
    }

    /// The events found by the last [`Finisher::push`] or
    /// [`Finisher::finish`], in the order they are written.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Finishes the next frame, `now`, in stream order.
    ///
    /// # Errors
    /// [`VideoError::Internal`] when a kernel that ran left the frame
    /// incomplete.
    pub fn push(&mut self, raw: &FrameRaw, now: Mark) -> Result<Figures, VideoError> {
        self.events.clear();
        self.last = Some(now);
        let k = self.kernels;
        let incomplete = |kernel: &str| {
            VideoError::Internal(format!(
                "the {kernel} kernel left frame {} incomplete",
                now.frame
            ))
        };
        let stats = if k.stats {
            Some(Stats::from_raw(raw).ok_or_else(|| incomplete("stats"))?)
        } else {
            None
        };
        let scene = k.scene.then(|| self.scene.push(raw));
        if let Some(s) = scene.filter(|s| s.cut) {
            self.events.push(Event {
                score: Some(s.score),
                ..Event::at(EventType::SceneCut, now)
            });
        }
        let motion = match self.motion.as_mut() {
            Some(m) => {
                let motion = m.detect(raw).ok_or_else(|| incomplete("motion"))?;
                m.push(&motion, now, &mut self.events);
                Some(motion)
            }
            None => None,
        };
        let black = k.black.then(|| {
            let (black, step) = self.black.push(raw, now);
            period_events(
                step,
                [EventType::BlackStart, EventType::BlackEnd],
                None,
                &mut self.events,
            );
            black
        });
        let freeze = k.freeze.then(|| {
            let (freeze, step) = self.freeze.push(raw, now);
            period_events(
                step,
                [EventType::FreezeStart, EventType::FreezeEnd],
                None,
                &mut self.events,
            );
            freeze
        });
        let blur = if k.blur {
            Some(blur::finish(&raw.blur, &self.blur).ok_or_else(|| incomplete("blur"))?)
        } else {
            None
        };
        let figures = Figures {
            stats,
            scene,
            motion,
            black,
            freeze,
            blur,
        };
        if let Some(h) = self.health.as_mut() {
            h.push(raw, &figures, now, &mut self.events);
        }
        Ok(figures)
    }

    /// Closes every period still open after the last frame; the events
    /// are then in [`Finisher::events`].
    pub fn finish(&mut self) -> &[Event] {
        self.events.clear();
        let Some(last) = self.last else {
            return &self.events;
        };
        let closing = [
            (
                self.kernels
                    .black
                    .then(|| self.black.finish(last))
                    .flatten(),
                EventType::BlackEnd,
            ),
            (
                self.kernels
                    .freeze
                    .then(|| self.freeze.finish(last))
                    .flatten(),
                EventType::FreezeEnd,
            ),
        ];
        if let Some(m) = self.motion.as_mut() {
            m.finish(last, &mut self.events);
        }
        for (end, kind) in closing {
            period_events(
                Step { start: None, end },
                [kind, kind],
                None,
                &mut self.events,
            );
        }
        if let Some(h) = self.health.as_mut() {
            h.finish(last, &mut self.events);
        }
        &self.events
    }
}

#[cfg(test)]
mod tests {
    use osprey_kernels::Kernel;
    use osprey_kernels::kernel::{FreezeRaw, channel};

    use super::*;

    /// `kernels` with black and freeze periods of at least `min_duration`.
    fn options(kernels: &str, min_duration: f64) -> AnalysisOptions {
        let mut opts = AnalysisOptions::default();
        opts.backend.kernels = KernelSet::parse(kernels).unwrap();
        opts.black.min_duration = min_duration;
        opts.freeze_min_duration = min_duration;
        opts.scene_threshold = 10.0;
        opts
    }

    fn at(frame: u64) -> Mark {
        Mark {
            frame,
            pts: Some(frame as f64 / 25.0),
        }
    }

    /// A 4x4 frame, all black or all grey, frozen or not.
    fn raw(black: bool, frozen: Option<bool>) -> FrameRaw {
        let mut r = FrameRaw::new(4, 4);
        r.hist[channel::Y][if black { 16 } else { 128 }] = 16;
        r.freeze = frozen.map(|frozen| FreezeRaw { sad: 0, frozen });
        r
    }

    fn kinds(f: &Finisher) -> Vec<(&'static str, u64, bool)> {
        f.events()
            .iter()
            .map(|e| (e.kind.name(), e.at.frame, e.eos))
            .collect()
    }

    #[test]
    fn black_then_freeze_events_in_order() {
        let opts = options("black,freeze", 0.08);
        assert!(opts.backend.kernels.contains(Kernel::Black));
        let mut f = Finisher::new(&opts, None);
        let mut log = Vec::new();
        // Frames 3..=6 black; 4..=6 frozen on frame 3, their reference.
        for i in 0..8u64 {
            let black = (3..=6).contains(&i);
            let frozen = match i {
                0 => None,
                4..=6 => Some(true),
                _ => Some(false),
            };
            let figures = f.push(&raw(black, frozen), at(i)).unwrap();
            assert_eq!(figures.black.unwrap().black, black);
            assert!(figures.stats.is_none() && figures.motion.is_none());
            log.extend(kinds(&f).into_iter().map(|k| (k, i)));
        }
        assert_eq!(
            log,
            vec![
                (("black_start", 3, false), 5),
                (("freeze_start", 3, false), 5),
                (("black_end", 7, false), 7),
                (("freeze_end", 7, false), 7),
            ]
        );
        assert!(f.finish().is_empty());
    }

    #[test]
    fn open_periods_close_at_eos() {
        let opts = options("black,freeze", 0.0);
        let mut f = Finisher::new(&opts, None);
        f.push(&raw(true, None), at(0)).unwrap();
        f.push(&raw(true, Some(true)), at(1)).unwrap();
        let ends: Vec<_> = f.finish().to_vec();
        assert_eq!(ends.len(), 2);
        assert!(ends.iter().all(|e| e.eos && e.at == at(1)));
        assert_eq!(ends[0].kind, EventType::BlackEnd);
        assert_eq!(ends[0].duration, Some(0.04));
        assert_eq!(ends[1].kind, EventType::FreezeEnd);
    }

    /// A 4x4 frame: all black, or half dark and half bright.
    fn scene(black: bool) -> FrameRaw {
        let mut r = FrameRaw::new(4, 4);
        if black {
            r.hist[channel::Y][16] = 16;
        } else {
            r.hist[channel::Y][40] = 8;
            r.hist[channel::Y][200] = 8;
        }
        r
    }

    #[test]
    fn health_events_come_after_the_others_when_asked() {
        let mut opts = options("black", 0.08);
        let log = |opts: &AnalysisOptions| {
            let mut f = Finisher::new(opts, None);
            let mut log = Vec::new();
            for i in 0..8u64 {
                f.push(&scene((3..=6).contains(&i)), at(i)).unwrap();
                log.extend(kinds(&f).into_iter().map(|k| (k, i)));
            }
            f.finish();
            log.extend(kinds(&f).into_iter().map(|k| (k, 8)));
            log
        };
        // Off (the default): the black period alone, as before.
        assert_eq!(
            log(&opts),
            vec![(("black_start", 3, false), 5), (("black_end", 7, false), 7)]
        );
        opts.health.enabled = true;
        opts.health.blocked_min_duration = 0.12;
        assert_eq!(
            log(&opts),
            vec![
                (("black_start", 3, false), 5),
                (("camera_blocked_start", 3, false), 6),
                (("black_end", 7, false), 7),
                (("camera_blocked_end", 7, false), 7),
            ]
        );
    }

    #[test]
    fn open_health_periods_close_at_eos() {
        let mut opts = options("black", 0.0);
        opts.health.enabled = true;
        opts.health.blocked_min_duration = 0.0;
        let mut f = Finisher::new(&opts, None);
        let mut r = scene(false);
        // A grey card: flat, not black.
        r.hist[channel::Y] = [0; 256];
        r.hist[channel::Y][128] = 16;
        f.push(&r, at(0)).unwrap();
        assert_eq!(kinds(&f), vec![("camera_blocked_start", 0, false)]);
        let ends = f.finish().to_vec();
        assert_eq!(ends.len(), 1);
        assert_eq!(ends[0].kind, EventType::CameraBlockedEnd);
        assert!(ends[0].eos && ends[0].at == at(0));
    }

    #[test]
    fn nothing_before_the_first_frame() {
        let opts = options("black", 2.0);
        let mut f = Finisher::new(&opts, None);
        assert!(f.finish().is_empty());
    }
}
