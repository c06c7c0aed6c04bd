//! [`HealthOptions`]: when the camera health events (`camera_blocked`,
//! `camera_moved`, `camera_blurred`, `camera_frozen`) fire.
//!
//! The field names are the contract with the CLI's sources file (a
//! `[sources.health]` table reads straight into this). The detectors
//! themselves are in [`super::health`]; the doc of each field below is the
//! user documentation of its detector.

use serde::Deserialize;

use crate::VideoError;

/// Camera health events, per source.
///
/// Each event is a start/end pair like `black_start`/`black_end`: the start
/// names the period's first frame and is written as soon as the period has
/// lasted its minimum duration; the end names the first frame without the
/// condition and carries `duration`; a period still open when the stream
/// ends is closed at the last frame with `"eos":true`. A detector runs only
/// when its kernels run (see each field); without them it stays silent.
///
/// A blocked picture explains the others: while a frame is blocked it
/// counts as neither moved, blurred nor frozen (a lens cap is one
/// `camera_blocked`, not four events).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthOptions {
    /// Whether the health events are looked for (off by default; the CLI
    /// turns them on for live sources). Each needs its kernels: blocked
    /// `black` or `stats`, moved `scene` or `motion` (and a picture summary,
    /// see [`HealthOptions::moved_difference`]), blurred `blur`, frozen
    /// `freeze`.
    pub enabled: bool,
    /// `camera_blocked`: seconds the picture must stay covered, black or
    /// uniform before `camera_blocked_start` (default 5).
    ///
    /// A frame is blocked when blackdetect calls it black (the `black`
    /// kernel: the share of pixels darker than the pixel threshold is at or
    /// above the picture ratio, `--black-*` options) **or** its luma is flat:
    /// the spread between the 90th and the 10th percentile of luma
    /// (signalstats' `YHIGH - YLOW`) is at most
    /// [`HealthOptions::blocked_spread`] (a grey or white card, a lens cap,
    /// a hand over the lens). Both signals come from the one luma histogram
    /// that `black` and `stats` share, so with either kernel both are used;
    /// the black ratio alone would miss a bright card.
    pub blocked_min_duration: f64,
    /// `camera_blocked`: the largest luma spread (90th minus 10th
    /// percentile, in 8-bit levels) of a uniform picture (default 8). A
    /// real scene, even a dark one, spreads over tens of levels; a card or a
    /// covered lens over a few (sensor noise and compression). A scene too
    /// dark to show anything (a room at night without infrared light)
    /// counts as blocked too: the camera sees nothing.
    pub blocked_spread: u8,
    /// `camera_moved`: seconds a changed view must stay changed before
    /// `camera_moved_start` (default 5).
    ///
    /// A move starts at a scene cut (the `scene` kernel, scdet's threshold)
    /// or at motion over Frigate's lightning threshold (the `motion`
    /// kernel, which then recalibrates). From there each frame is compared
    /// with the reference picture from before the change: when the picture
    /// comes back to it (a person passing close to the lens, a light
    /// flicker), nothing is reported; when it stays different for
    /// `moved_min_duration`, `camera_moved_start` names the frame of the
    /// change. The new view then becomes the reference (the detector has
    /// recalibrated), and `camera_moved_end` follows on that same frame, its
    /// `duration` the time from the change to the recalibration. The pair
    /// thus marks one move; a camera moved again gives another pair.
    pub moved_min_duration: f64,
    /// `camera_moved`: how different from the reference a picture must be
    /// to count as another view, as a share of the picture, 0 to 1 (default
    /// 0.4).
    ///
    /// With `motion`, the picture is the motion detector's small luma image
    /// cut into an 8x8 grid; each cell's mean, less the picture's mean (so
    /// that the lights alone do not move a camera), is compared with the
    /// reference's, and the share is that of cells more than 16 levels
    /// apart. Without `motion`, the picture is the luma histogram of
    /// `black` or `stats` in 16 bins, and the share is half the L1 distance
    /// of the two (the share of pixels that changed brightness band); a
    /// histogram cannot tell a pan across a similar scene, and it moves with
    /// the lights, so prefer `motion`. With `scene` alone there is no picture
    /// to compare, and no move is reported.
    pub moved_difference: f64,
    /// `camera_moved`: seconds over which the reference picture follows the
    /// view (the time constant of its exponential moving average, default
    /// 30), so that the slow changes of a day do not count as a move. It is
    /// held still from a change until the change is settled.
    pub moved_reference_seconds: f64,
    /// `camera_blurred`: seconds the blur must stay above its baseline
    /// before `camera_blurred_start` (default 5).
    ///
    /// The blur value is blurdetect's (the `blur` kernel's `blur`, the mean
    /// edge width; larger is blurrier). Its baseline is an exponential
    /// moving average over [`HealthOptions::blur_baseline_seconds`], taken
    /// only from frames that are not blurred, starting from the first
    /// frame with edges (a stream that starts out of focus has a blurry
    /// baseline). A frame is blurred when its value exceeds the baseline by
    /// [`HealthOptions::blur_margin`]; a blurred period ends when it comes
    /// back within half that margin (hysteresis against flicker at the
    /// threshold). A frame with no edges at all (no value) is not blurred.
    pub blurred_min_duration: f64,
    /// `camera_blurred`: how far above its running baseline blur must be to
    /// count, as a ratio of the baseline (default 0.5: 50% blurrier).
    pub blur_margin: f64,
    /// `camera_blurred`: the time constant, in seconds, of the blur
    /// baseline's exponential moving average (default 30).
    pub blur_baseline_seconds: f64,
    /// `camera_frozen`: seconds the source must repeat the same picture
    /// while frames keep arriving before `camera_frozen_start` (default 5).
    ///
    /// The comparison is freezedetect's (the `freeze` kernel, with its noise
    /// tolerance `--freeze-noise`): the period starts at the last frame that
    /// changed, as `freeze_start` does, and ends at the first frame that
    /// differs. It is meant for live sources, where a camera or encoder
    /// that hangs keeps sending its last picture; on a file it finds frozen
    /// stretches the same way.
    pub frozen_min_duration: f64,
}

impl Default for HealthOptions {
    fn default() -> Self {
        HealthOptions {
            enabled: false,
            blocked_min_duration: 5.0,
            blocked_spread: 8,
            moved_min_duration: 5.0,
            moved_difference: 0.4,
            moved_reference_seconds: 30.0,
            blurred_min_duration: 5.0,
            blur_margin: 0.5,
            blur_baseline_seconds: 30.0,
            frozen_min_duration: 5.0,
        }
    }
}

impl HealthOptions {
    /// Refuses values no detector can work with, before any work: every
    /// duration must be a finite number of seconds, 0 or more; the blur
    /// margin finite and above 0; `moved_difference` above 0 and at most 1;
    /// the two running averages' time constants finite and above 0. The
    /// message names the option as the sources file spells it.
    ///
    /// # Errors
    /// [`VideoError::Config`] naming the first value refused.
    pub fn check(&self) -> Result<(), VideoError> {
        let refuse = |name: &str, value: f64, must: &str| {
            Err(VideoError::Config(format!(
                "health option {name} is {value}; it must be {must}"
            )))
        };
        for (name, value) in [
            ("blocked_min_duration", self.blocked_min_duration),
            ("moved_min_duration", self.moved_min_duration),
            ("blurred_min_duration", self.blurred_min_duration),
            ("frozen_min_duration", self.frozen_min_duration),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return refuse(name, value, "a number of seconds, 0 or more");
            }
        }
        for (name, value) in [
            ("blur_margin", self.blur_margin),
            ("blur_baseline_seconds", self.blur_baseline_seconds),
            ("moved_reference_seconds", self.moved_reference_seconds),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return refuse(name, value, "a number above 0");
            }
        }
        let d = self.moved_difference;
        if !(d > 0.0 && d <= 1.0) {
            return refuse("moved_difference", d, "a share above 0 and at most 1");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_and_nonsense_is_refused() {
        assert!(HealthOptions::default().check().is_ok());
        let zero = HealthOptions {
            blocked_min_duration: 0.0,
            moved_difference: 1.0,
            ..HealthOptions::default()
        };
        assert!(zero.check().is_ok());
        let cases = [
            (
                HealthOptions {
                    frozen_min_duration: -1.0,
                    ..HealthOptions::default()
                },
                "health option frozen_min_duration is -1; it must be a number of seconds, 0 or more",
            ),
            (
                HealthOptions {
                    blur_margin: f64::NAN,
                    ..HealthOptions::default()
                },
                "health option blur_margin is NaN; it must be a number above 0",
            ),
            (
                HealthOptions {
                    moved_reference_seconds: 0.0,
                    ..HealthOptions::default()
                },
                "health option moved_reference_seconds is 0; it must be a number above 0",
            ),
            (
                HealthOptions {
                    moved_difference: 1.5,
                    ..HealthOptions::default()
                },
                "health option moved_difference is 1.5; it must be a share above 0 and at most 1",
            ),
        ];
        for (options, message) in cases {
            let err = options.check().unwrap_err();
            assert_eq!(err.to_string(), format!("invalid configuration: {message}"));
        }
    }

    #[test]
    fn a_table_reads_into_the_options() {
        let h: HealthOptions =
            serde_json::from_str(r#"{"enabled":true,"blocked_spread":12,"blur_margin":0.8}"#)
                .unwrap();
        assert!(h.enabled);
        assert_eq!(h.blocked_spread, 12);
        assert_eq!(h.blur_margin, 0.8);
        assert_eq!(h.frozen_min_duration, 5.0);
        assert!(serde_json::from_str::<HealthOptions>(r#"{"blured_margin":1}"#).is_err());
    }
}
