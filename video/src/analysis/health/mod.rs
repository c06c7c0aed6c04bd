//! Camera health: the `camera_blocked`, `camera_moved`, `camera_blurred`
//! and `camera_frozen` periods of one source, found from the figures the
//! kernels already give (see [`HealthOptions`] for what each means and its
//! defaults).
//!
//! Each detector turns its figures into one yes/no condition a frame and
//! hands it to a [`PeriodTracker`] (the machinery of black and freeze), so
//! its events are start/end pairs written by [`period_events`]. A blocked
//! frame counts as neither moved, blurred nor frozen.

mod blocked;
mod blurred;
mod frozen;
mod moved;
mod picture;

use osprey_kernels::FrameRaw;
use osprey_kernels::metrics::period::{Mark, PeriodTracker, Step, duration};

use self::blocked::Blocked;
use self::blurred::Blurred;
use self::frozen::Frozen;
use self::moved::Moved;
use super::events::{Event, period_events};
use super::finisher::Figures;
use super::health_options::HealthOptions;
use super::options::AnalysisOptions;
use super::record::EventType;

/// The frame interval assumed where neither timestamps nor a frame rate
/// give one (only the running averages use it).
const FALLBACK_INTERVAL: f64 = 1.0 / 25.0;

/// The health detectors of one stream, each present when its kernels run.
#[derive(Debug)]
pub(super) struct Health {
    blocked: Option<Blocked>,
    moved: Option<Moved>,
    blurred: Option<Blurred>,
    frozen: Option<Frozen>,
    frame_rate: Option<f64>,
    prev: Option<Mark>,
}

impl Health {
    /// The detectors of `opts`, `None` when health events are off;
    /// `frame_rate` measures durations where timestamps are missing.
    pub(super) fn new(opts: &AnalysisOptions, frame_rate: Option<f64>) -> Option<Self> {
        let h: &HealthOptions = &opts.health;
        if !h.enabled {
            return None;
        }
        let k = opts.backend.kernels;
        Some(Health {
            blocked: (k.black || k.stats).then(|| Blocked::new(h, frame_rate)),
            moved: Moved::new(h, k, opts.motion.lightning_threshold, frame_rate),
            blurred: k.blur.then(|| Blurred::new(h, frame_rate)),
            frozen: k.freeze.then(|| Frozen::new(h, frame_rate)),
            frame_rate,
            prev: None,
        })
    }

    /// Follows the next frame, `now`, with its raw state and finished
    /// figures, adding the health events it reveals to `out`.
    pub(super) fn push(
        &mut self,
        raw: &FrameRaw,
        figures: &Figures,
        now: Mark,
        out: &mut Vec<Event>,
    ) {
        let dt = self
            .prev
            .and_then(|p| duration(p, now, self.frame_rate))
            .unwrap_or(FALLBACK_INTERVAL);
        self.prev = Some(now);
        let blocked = match self.blocked.as_mut() {
            Some(d) => {
                let (blocked, step) = d.push(raw, figures.black.as_ref(), now);
                emit(
                    step,
                    [EventType::CameraBlockedStart, EventType::CameraBlockedEnd],
                    out,
                );
                blocked
            }
            None => false,
        };
        if let Some(d) = self.moved.as_mut() {
            let step = d.push(raw, figures, blocked, dt, now);
            emit(
                step,
                [EventType::CameraMovedStart, EventType::CameraMovedEnd],
                out,
            );
        }
        if let Some(d) = self.blurred.as_mut() {
            let blur = figures.blur.and_then(|b| b.blur);
            let step = d.push(blur, blocked, dt, now);
            emit(
                step,
                [EventType::CameraBlurredStart, EventType::CameraBlurredEnd],
                out,
            );
        }
        if let (Some(d), Some(freeze)) = (self.frozen.as_mut(), figures.freeze) {
            let step = d.push(freeze.frozen, blocked, now);
            emit(
                step,
                [EventType::CameraFrozenStart, EventType::CameraFrozenEnd],
                out,
            );
        }
    }

    /// Closes the health periods still open after `last`, adding their
    /// ends (flagged `eos`) to `out`.
    pub(super) fn finish(&mut self, last: Mark, out: &mut Vec<Event>) {
        let closing: [(Option<&mut PeriodTracker>, EventType); 4] = [
            (
                self.blocked.as_mut().map(|d| &mut d.periods),
                EventType::CameraBlockedEnd,
            ),
            (
                self.moved.as_mut().map(|d| &mut d.periods),
                EventType::CameraMovedEnd,
            ),
            (
                self.blurred.as_mut().map(|d| &mut d.periods),
                EventType::CameraBlurredEnd,
            ),
            (
                self.frozen.as_mut().map(|d| &mut d.periods),
                EventType::CameraFrozenEnd,
            ),
        ];
        for (periods, kind) in closing {
            let end = periods.and_then(|p| p.finish(last));
            emit(Step { start: None, end }, [kind, kind], out);
        }
    }
}

/// A health period's events (never a zone's).
fn emit(step: Step, kinds: [EventType; 2], out: &mut Vec<Event>) {
    period_events(step, kinds, None, out);
}

/// How far a running average with time constant `tau` seconds moves toward
/// a new value `dt` seconds after the last: `1 - e^(-dt / tau)`, 1 for a
/// time constant that is not positive.
pub(super) fn follow_weight(dt: f64, tau: f64) -> f64 {
    if tau > 0.0 && dt.is_finite() {
        1.0 - (-dt.max(0.0) / tau).exp()
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follow_weight_is_a_time_constant() {
        assert_eq!(follow_weight(0.0, 30.0), 0.0);
        assert!((follow_weight(30.0, 30.0) - (1.0 - (-1.0f64).exp())).abs() < 1e-12);
        assert_eq!(follow_weight(1.0, 0.0), 1.0);
        // Two steps of dt are one step of 2 dt.
        let one = follow_weight(0.04, 30.0);
        let two = follow_weight(0.08, 30.0);
        assert!(((1.0 - one) * (1.0 - one) - (1.0 - two)).abs() < 1e-12);
    }
}
