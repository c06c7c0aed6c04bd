//! [`HealthOptions`]: when the camera health events (`camera_blocked`,
//! `camera_moved`, `camera_blurred`, `camera_frozen`) fire.
//!
//! INTERFACE (issue 14): the field names are the contract with the CLI's
//! sources file (a `[sources.health]` table reads straight into this); the
//! detectors land with the health work, which may refine the defaults.

use serde::Deserialize;

/// Camera health events, per source.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthOptions {
    /// Whether the health events are looked for (the CLI turns them on for
    /// live sources). Each needs its kernels: blocked `black` or `stats`,
    /// moved `scene` or `motion`, blurred `blur`, frozen `freeze`.
    pub enabled: bool,
    /// Seconds the picture must stay covered, black or uniform before
    /// `camera_blocked_start`.
    pub blocked_min_duration: f64,
    /// Seconds a changed view must stay changed before `camera_moved_start`.
    pub moved_min_duration: f64,
    /// Seconds the blur must stay above its baseline before
    /// `camera_blurred_start`.
    pub blurred_min_duration: f64,
    /// How far above its running baseline blur must be to count, as a
    /// ratio of the baseline (0.5: 50% blurrier).
    pub blur_margin: f64,
    /// Seconds a live source must repeat the same picture before
    /// `camera_frozen_start`.
    pub frozen_min_duration: f64,
}

impl Default for HealthOptions {
    fn default() -> Self {
        HealthOptions {
            enabled: false,
            blocked_min_duration: 5.0,
            moved_min_duration: 5.0,
            blurred_min_duration: 5.0,
            blur_margin: 0.5,
            frozen_min_duration: 5.0,
        }
    }
}
