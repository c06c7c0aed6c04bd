//! The options of one analysis in one struct, [`AnalysisOptions`]: what the
//! backend computes, each detector's parameters (the kernels' own types,
//! [`MotionConfig`] among them, not copies of them), the hysteresis of motion
//! events, thumbnails, and the chunk size.
//!
//! A caller builds it from its own input (the CLI from its arguments, a
//! server from its configuration) and checks the ranges there, where it can
//! name its own flags or keys; the defaults are the tools' own.
//! [`AnalysisOptions::check_frame_size`] holds the checks that must wait for
//! the input, since they need the frame's size: the detect size and the
//! zones ([`check_zones_in_frame`]).

use std::path::PathBuf;

use osprey_kernels::kernel::AnalysisConfig;
use osprey_kernels::metrics::black::BlackParams;
use osprey_kernels::metrics::motion::MotionConfig;
use osprey_kernels::metrics::scene::DEFAULT_THRESHOLD;
use osprey_kernels::metrics::zones::{MIN_AREA, Zone};

use crate::VideoError;

/// Everything one analysis needs to know, beside its input and its backend.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisOptions {
    /// What the backend computes: the kernels and their parameters. Open the
    /// backend with this.
    pub backend: AnalysisConfig,
    /// scdet's threshold, 0 to 100.
    pub scene_threshold: f64,
    /// blackdetect's parameters.
    pub black: BlackParams,
    /// freezedetect's `d`, in seconds.
    pub freeze_min_duration: f64,
    /// Frigate's motion parameters, zones and masks.
    pub motion: MotionConfig,
    /// When a frame counts as moving, and the hysteresis of motion and zone
    /// events.
    pub motion_hysteresis: MotionHysteresis,
    /// Thumbnails, when asked for.
    pub thumbnails: Option<ThumbnailOptions>,
    /// Frames decoded and analysed together (at least 1).
    pub chunk_frames: usize,
    /// Camera health events (off unless asked for).
    pub health: super::HealthOptions,
}

impl Default for AnalysisOptions {
    /// Every kernel, with the defaults of the tools each detector follows.
    fn default() -> Self {
        AnalysisOptions {
            backend: AnalysisConfig::default(),
            scene_threshold: DEFAULT_THRESHOLD,
            black: BlackParams::default(),
            freeze_min_duration: 2.0,
            motion: MotionConfig::default(),
            motion_hysteresis: MotionHysteresis::default(),
            thumbnails: None,
            chunk_frames: crate::DecodeOptions::default().chunk_frames,
            health: super::HealthOptions::default(),
        }
    }
}

/// When a frame counts as moving, and how many frames start and end motion
/// (and zone) events.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MotionHysteresis {
    /// Motion share above which a frame moves; 0 means any box.
    pub min_ratio: f64,
    /// Consecutive moving frames before `motion_start` / `zone_enter`.
    pub start_frames: u32,
    /// Consecutive still frames before `motion_end` / `zone_exit`.
    pub end_frames: u32,
}

impl Default for MotionHysteresis {
    fn default() -> Self {
        MotionHysteresis {
            min_ratio: 0.0,
            start_frames: 2,
            end_frames: 15,
        }
    }
}

/// Where thumbnails go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThumbnailOptions {
    /// The folder.
    pub dir: PathBuf,
    /// Thumbnail width in pixels.
    pub width: u32,
}

impl AnalysisOptions {
    /// The checks that wait for the input's `width` x `height`: the detect
    /// size ([`AnalysisConfig::detect_size`], when set) must fit the frame,
    /// and the zones, which are in the analysed frame's pixels (the detect
    /// size when one is given, as in Frigate), must reach into it
    /// ([`check_zones_in_frame`]).
    ///
    /// # Errors
    /// [`VideoError::Config`] when the detect size is larger than the frame;
    /// [`VideoError::ZoneOutsideFrame`].
    pub fn check_frame_size(&self, width: u32, height: u32) -> Result<(), VideoError> {
        let analysed = match self.backend.detect_size {
            Some(size) => {
                osprey_kernels::detect_size::check_fits(size, width, height)
                    .map_err(|e| VideoError::Config(e.to_string()))?;
                size
            }
            None => (width, height),
        };
        check_zones_in_frame(&self.motion.zones, analysed.0, analysed.1)
    }
}

/// Refuses zones that lie entirely outside a `width` x `height` frame, once
/// its size is known: they could never see motion.
///
/// # Errors
/// [`VideoError::ZoneOutsideFrame`] naming the first such zone and the
/// frame's size.
pub fn check_zones_in_frame(zones: &[Zone], width: u32, height: u32) -> Result<(), VideoError> {
    let (w, h) = (f64::from(width), f64::from(height));
    match zones
        .iter()
        .find(|z| z.polygon.area_within((0.0, w), (0.0, h)) < MIN_AREA)
    {
        Some(z) => Err(VideoError::ZoneOutsideFrame {
            zone: z.name.clone(),
            width,
            height,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(spec: &str) -> Zone {
        Zone::parse(spec).unwrap()
    }

    #[test]
    fn zones_outside_the_frame_are_refused() {
        let zones = [
            zone("in:0,0,10,0,10,10"),
            zone("far:400,300,500,300,500,400"),
        ];
        assert!(check_zones_in_frame(&zones, 640, 480).is_ok());
        let msg = check_zones_in_frame(&zones, 320, 240)
            .unwrap_err()
            .to_string();
        assert_eq!(msg, "zone \"far\" lies entirely outside the 320x240 frame");
        // Touching the frame's corner is not being in it.
        assert!(check_zones_in_frame(&zones, 400, 300).is_err());
    }
}
