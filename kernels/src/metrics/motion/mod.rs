//! Frigate's motion detector (`ImprovedMotionDetector`), finished on the host.
//!
//! The backends only shrink the luma plane ([`resample`], the one step that
//! reads the whole frame) into [`MotionRaw`](crate::kernel::MotionRaw).
//! Everything after it works on about 18k pixels and depends on the frames
//! before (the background follows the boxes), so it runs here, in order, by
//! one piece of code for both backends:
//!
//! 1. [`contrast`]: `improve_contrast`, the 4th/96th percentiles averaged
//!    over 50 frames, clip and stretch;
//! 2. masked pixels set to 0 (the background starts at 0, so they match it);
//! 3. [`blur`]: scipy's `gaussian_filter(sigma=1, radius=1)`;
//! 4. [`morph`]: difference with the background, `threshold`, 3x3 dilation;
//! 5. [`contours`]: outer borders of the changed regions, their areas and
//!    bounding boxes; a region whose area is above `contour_area` is a box,
//!    scaled back to the frame by `frame height / small height`;
//! 6. calibration: it ends once the changed area is under 5% with at most 4
//!    boxes, and starts again above `lightning_threshold`;
//! 7. [`background`]: the running average, alpha 0.2 while calibrating and
//!    `frame_alpha` after, updated only after 10 frames in a row with boxes.
//!
//! Steps 1 to 5 match Frigate's numpy/scipy/OpenCV bit for bit; the
//! background is fixed point where Frigate's is float32 (see [`background`]),
//! and masks and zones are rasterised at pixel centres (see
//! [`zones`](super::zones)).
//!
//! [`Motion::ratio`] is Frigate's `pct_motion`: the summed areas of the outer
//! borders over the small image's area. It is the figure Frigate's calibration
//! and lightning test use, so reporting it keeps the two consistent. A zone's
//! ratio counts pixels instead (a border's area cannot be split between
//! zones): the changed pixels of the regions that made boxes, inside the zone,
//! over the zone's pixels.

pub mod background;
pub mod blur;
pub mod contours;
pub mod contrast;
pub mod morph;
pub mod resample;

use self::background::Background;
use self::contours::Contours;
use self::contrast::ContrastHistory;
use super::zones::{Polygon, Zone};
use crate::kernel::FrameRaw;

/// Background alpha while calibrating (Frigate's fixed 0.2).
pub const CALIBRATION_ALPHA: f64 = 0.2;
/// Frames in a row with boxes after which the background takes them in.
pub const PERSISTENT_FRAMES: u32 = 10;
/// Calibration ends below this changed-area ratio...
pub const CALIBRATED_RATIO: f64 = 0.05;
/// ...with at most this many boxes.
pub const CALIBRATED_BOXES: usize = 4;

/// The detector's parameters, Frigate's `motion` config.
#[derive(Debug, Clone, PartialEq)]
pub struct MotionConfig {
    /// Smallest difference from the background that counts as change, 1 to
    /// 255 (`threshold`, default 30).
    pub threshold: u8,
    /// Smallest border area, in small-image pixels, that makes a box
    /// (`contour_area`, default 10).
    pub contour_area: u32,
    /// Stretch the contrast first (`improve_contrast`, default on).
    pub improve_contrast: bool,
    /// Background alpha once calibrated (`frame_alpha`, default 0.01).
    pub frame_alpha: f64,
    /// Changed-area ratio above which the detector recalibrates
    /// (`lightning_threshold`, default 0.8).
    pub lightning_threshold: f64,
    /// Areas excluded from motion, in frame pixels.
    pub masks: Vec<Polygon>,
    /// Areas that get their own ratio, in frame pixels.
    pub zones: Vec<Zone>,
}

impl Default for MotionConfig {
    fn default() -> Self {
        MotionConfig {
            threshold: 30,
            contour_area: 10,
            improve_contrast: true,
            frame_alpha: 0.01,
            lightning_threshold: 0.8,
            masks: Vec::new(),
            zones: Vec::new(),
        }
    }
}

/// Motion in one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Motion {
    /// Changed area over frame area (Frigate's `pct_motion`), 0 to 1.
    pub ratio: f64,
    /// Boxes `[x, y, w, h]` around the changed regions, in frame pixels.
    pub boxes: Vec<[u32; 4]>,
    /// Each zone's ratio, in the order of [`MotionConfig::zones`].
    pub zones: Vec<ZoneMotion>,
    /// Whether the detector is (still, or again) learning the background.
    pub calibrating: bool,
}

/// One zone's motion in one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneMotion {
    /// The zone's name.
    pub name: String,
    /// Changed pixels of the boxed regions inside the zone over the zone's
    /// pixels, 0 to 1 (0 for a zone too small to cover a pixel's centre).
    pub ratio: f64,
}

/// The state that depends on the frame size.
#[derive(Debug, Clone, Default)]
struct Grid {
    frame: (u32, u32),
    small: (u32, u32),
    mask: Vec<bool>,
    zones: Vec<(Vec<bool>, u32)>,
}

/// Frigate's motion detector over a stream of [`FrameRaw`]s.
#[derive(Debug, Clone)]
pub struct MotionDetector {
    config: MotionConfig,
    grid: Option<Grid>,
    background: Background,
    contrast: ContrastHistory,
    calibrating: bool,
    motion_frames: u32,
    // Scratch reused frame after frame.
    frame: Vec<u8>,
    scratch: Vec<u8>,
    changed: Vec<u8>,
    contours: Contours,
}

impl MotionDetector {
    /// A detector with `config`, calibrating from the first frame.
    pub fn new(config: MotionConfig) -> Self {
        MotionDetector {
            config,
            grid: None,
            background: Background::default(),
            contrast: ContrastHistory::default(),
            calibrating: true,
            motion_frames: 0,
            frame: Vec::new(),
            scratch: Vec::new(),
            changed: Vec::new(),
            contours: Contours::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &MotionConfig {
        &self.config
    }

    /// Forgets the background and calibrates again from the next frame.
    pub fn reset(&mut self) {
        self.grid = None;
    }

    /// Starts over for a new frame or small-image size.
    fn restart(&mut self, frame: (u32, u32), small: (u32, u32)) {
        let len = small.0 as usize * small.1 as usize;
        let mut mask = vec![false; len];
        for polygon in &self.config.masks {
            polygon.rasterise(frame, small, &mut mask);
        }
        let zones = self
            .config
            .zones
            .iter()
            .map(|z| {
                let mut cells = vec![false; len];
                let n = z.polygon.rasterise(frame, small, &mut cells);
                (cells, n)
            })
            .collect();
        self.grid = Some(Grid {
            frame,
            small,
            mask,
            zones,
        });
        self.background.reset(len);
        self.contrast = ContrastHistory::default();
        self.calibrating = true;
        self.motion_frames = 0;
    }

    /// Runs the detector on one frame; `None` when the motion kernel did not
    /// run on it (its small image is empty or inconsistent).
    pub fn push(&mut self, raw: &FrameRaw) -> Option<Motion> {
        let small = (raw.motion.width, raw.motion.height);
        let (w, h) = (small.0 as usize, small.1 as usize);
        if w == 0 || h == 0 || raw.motion.pixels.len() != w * h || raw.height == 0 {
            return None;
        }
        let frame_size = (raw.width, raw.height);
        if self
            .grid
            .as_ref()
            .is_none_or(|g| g.frame != frame_size || g.small != small)
        {
            self.restart(frame_size, small);
        }
        let grid = self.grid.as_ref()?;

        self.frame.clear();
        self.frame.extend_from_slice(&raw.motion.pixels);
        if self.config.improve_contrast {
            let mut hist = [0u32; 256];
            for &p in &self.frame {
                hist[usize::from(p)] += 1;
            }
            self.contrast.apply(&hist, &mut self.frame);
        }
        for (p, &masked) in self.frame.iter_mut().zip(&grid.mask) {
            if masked {
                *p = 0;
            }
        }
        blur::gaussian(&mut self.frame, w, h, &mut self.scratch);
        morph::threshold(
            &self.frame,
            &self.background.values,
            self.config.threshold,
            &mut self.changed,
        );
        morph::dilate(&mut self.changed, w, h, &mut self.scratch);
        self.contours.find(&self.changed, w, h);

        let scale = f64::from(raw.height) / f64::from(small.1);
        let min_area2 = 2 * i64::from(self.config.contour_area);
        let mut total_area2 = 0i64;
        let mut boxes = Vec::new();
        for region in self.contours.regions.iter().filter(|r| r.external) {
            total_area2 += region.area2;
            if region.area2 > min_area2 {
                boxes.push(scale_box(region.bbox, scale, frame_size));
            }
        }
        let ratio = total_area2 as f64 / 2.0 / (w * h) as f64;

        if ratio < CALIBRATED_RATIO && boxes.len() <= CALIBRATED_BOXES {
            self.calibrating = false;
        }
        if self.calibrating || ratio > self.config.lightning_threshold {
            self.calibrating = true;
        }
        let alpha = if self.calibrating {
            CALIBRATION_ALPHA
        } else {
            self.config.frame_alpha
        };
        if boxes.is_empty() {
            self.background.accumulate(&self.frame, alpha);
            self.motion_frames = 0;
        } else {
            self.motion_frames = self.motion_frames.saturating_add(1);
            if self.motion_frames >= PERSISTENT_FRAMES {
                self.background.accumulate(&self.frame, alpha);
            }
        }

        let zones = self.zone_ratios(min_area2);
        Some(Motion {
            ratio,
            boxes,
            zones,
            calibrating: self.calibrating,
        })
    }

    /// Each zone's share of changed pixels in boxed regions.
    fn zone_ratios(&self, min_area2: i64) -> Vec<ZoneMotion> {
        let Some(grid) = &self.grid else {
            return Vec::new();
        };
        let regions = &self.contours.regions;
        let boxed = |label: u32| {
            label
                .checked_sub(1)
                .and_then(|i| regions.get(i as usize))
                .is_some_and(|r| r.external && r.area2 > min_area2)
        };
        self.config
            .zones
            .iter()
            .zip(&grid.zones)
            .map(|(zone, (cells, area))| {
                let changed = cells
                    .iter()
                    .zip(&self.contours.labels)
                    .filter(|&(&inside, &label)| inside && boxed(label))
                    .count();
                ZoneMotion {
                    name: zone.name.clone(),
                    ratio: if *area == 0 {
                        0.0
                    } else {
                        changed as f64 / f64::from(*area)
                    },
                }
            })
            .collect()
    }
}

/// A small-image box `[x, y, w, h]` in frame pixels, as Frigate scales it:
/// `int(x * scale)`, `int((x + w) * scale)`, and the same for y, with the
/// vertical factor for both axes; kept inside the frame.
pub fn scale_box([x, y, w, h]: [u32; 4], scale: f64, (fw, fh): (u32, u32)) -> [u32; 4] {
    let at = |v: u32, limit: u32| ((f64::from(v) * scale) as u32).min(limit);
    let (x0, y0) = (at(x, fw), at(y, fh));
    let (x1, y1) = (at(x + w, fw), at(y + h, fh));
    [x0, y0, x1 - x0, y1 - y0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_scale_like_frigate() {
        // 1080p: small 177x100, factor 10.8.
        assert_eq!(
            scale_box([10, 20, 5, 3], 10.8, (1920, 1080)),
            [108, 216, 54, 32]
        );
        assert_eq!(
            scale_box([176, 99, 1, 1], 10.8, (1920, 1080)),
            [1900, 1069, 11, 11]
        );
        assert_eq!(
            scale_box([0, 0, 500, 500], 10.8, (1920, 1080)),
            [0, 0, 1920, 1080]
        );
    }
}
