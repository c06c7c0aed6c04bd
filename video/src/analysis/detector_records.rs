//! The parts of a frame record that the detectors add, each present
//! only when its kernel ran:
//!
//! ```text
//! "motion":{"ratio":0.012,"boxes":[[96,40,32,24]],"zones":{"door":0.3}},
//! "black":{"ratio":0.0},"freeze":{"mafd":0.0004,"frozen":true},
//! "blur":{"blur":3.91,"sharpness":812.5}
//! ```
//!
//! They borrow what the detectors computed: no allocation beyond serde's.

use osprey_kernels::metrics::black::Black;
use osprey_kernels::metrics::blur::Blur;
use osprey_kernels::metrics::freeze::Freeze;
use osprey_kernels::metrics::motion::{Motion, ZoneMotion};
use serde::ser::{Serialize, SerializeMap as _, Serializer};

/// Frigate's motion figures of one frame.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MotionRecord<'a> {
    /// Changed area over frame area, 0 to 1.
    pub ratio: f64,
    /// `[x, y, w, h]` boxes around changed regions, in frame pixels.
    pub boxes: &'a [[u32; 4]],
    /// Each zone's ratio by name; absent without zones.
    #[serde(skip_serializing_if = "ZoneRatios::is_empty")]
    pub zones: ZoneRatios<'a>,
    /// Present (and true) while the detector learns the background.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub calibrating: bool,
}

impl<'a> From<&'a Motion> for MotionRecord<'a> {
    fn from(m: &'a Motion) -> Self {
        MotionRecord {
            ratio: m.ratio,
            boxes: &m.boxes,
            zones: ZoneRatios(&m.zones),
            calibrating: m.calibrating,
        }
    }
}

/// Zone ratios, written as a JSON object `{"name": ratio}` in zone order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZoneRatios<'a>(pub &'a [ZoneMotion]);

impl ZoneRatios<'_> {
    /// True without zones.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for ZoneRatios<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for z in self.0 {
            map.serialize_entry(&z.name, &z.ratio)?;
        }
        map.end()
    }
}

/// blackdetect's figure of one frame.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct BlackRecord {
    /// Share of black pixels, 0 to 1 (`picture_black_ratio`).
    pub ratio: f64,
}

impl From<&Black> for BlackRecord {
    fn from(b: &Black) -> Self {
        BlackRecord { ratio: b.ratio }
    }
}

/// freezedetect's figures of one frame.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct FreezeRecord {
    /// Mean absolute difference from the reference frame, 0 to 1; `null`
    /// for a frame with nothing to compare with (the first, a size change).
    pub mafd: Option<f64>,
    /// Whether the frame is frozen (`mafd <= noise`).
    pub frozen: bool,
}

impl From<&Freeze> for FreezeRecord {
    fn from(f: &Freeze) -> Self {
        FreezeRecord {
            mafd: f.mafd,
            frozen: f.frozen,
        }
    }
}

/// blurdetect's value and the Laplacian's variance of one frame.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct BlurRecord {
    /// ffmpeg's `lavfi.blur` (larger is blurrier); `null` when no block has
    /// edges.
    pub blur: Option<f64>,
    /// Variance of the Laplacian of luma (larger is sharper).
    pub sharpness: f64,
}

impl From<&Blur> for BlurRecord {
    fn from(b: &Blur) -> Self {
        BlurRecord {
            blur: b.blur,
            sharpness: b.sharpness,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn motion_shape() {
        let m = Motion {
            ratio: 0.25,
            boxes: vec![[1, 2, 3, 4]],
            zones: vec![
                ZoneMotion {
                    name: "door".into(),
                    ratio: 0.5,
                },
                ZoneMotion {
                    name: "yard".into(),
                    ratio: 0.0,
                },
            ],
            calibrating: false,
        };
        assert_eq!(
            serde_json::to_string(&MotionRecord::from(&m)).unwrap(),
            r#"{"ratio":0.25,"boxes":[[1,2,3,4]],"zones":{"door":0.5,"yard":0.0}}"#
        );
        let still = Motion {
            ratio: 0.0,
            boxes: vec![],
            zones: vec![],
            calibrating: true,
        };
        assert_eq!(
            serde_json::to_string(&MotionRecord::from(&still)).unwrap(),
            r#"{"ratio":0.0,"boxes":[],"calibrating":true}"#
        );
    }

    #[test]
    fn black_freeze_blur_shapes() {
        let black = serde_json::to_string(&BlackRecord { ratio: 0.5 }).unwrap();
        assert_eq!(black, r#"{"ratio":0.5}"#);
        let freeze = serde_json::to_string(&FreezeRecord {
            mafd: None,
            frozen: false,
        })
        .unwrap();
        assert_eq!(freeze, r#"{"mafd":null,"frozen":false}"#);
        let blur = serde_json::to_string(&BlurRecord {
            blur: Some(3.5),
            sharpness: 10.0,
        })
        .unwrap();
        assert_eq!(blur, r#"{"blur":3.5,"sharpness":10.0}"#);
    }
}
