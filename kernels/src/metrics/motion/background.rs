//! The running-average background (`avg_frame` in Frigate), in fixed point.
//!
//! Frigate keeps a float32 image and updates it with OpenCV's
//! `accumulateWeighted(frame, avg, alpha)`, `avg = avg * (1 - alpha) + frame *
//! alpha` in float32, and compares frames with `convertScaleAbs(avg)` (rounded
//! half to even). Here each pixel is a `u32` with [`FRACTION_BITS`]
//! fractional bits, alpha is rounded to a multiple of 2^-16 (0.01 becomes
//! 655/65536 = 0.009995, 0.2 becomes 13107/65536), the update
//! `(avg * (2^16 - a) + (frame << 16) * a + 2^15) >> 16` rounds half up, and
//! the comparison value rounds half up. float32 keeps about 16 fractional bits
//! at 255 too, so the two drift apart by well under one grey level; the
//! integers make every run, on every machine and backend, identical.

/// Fractional bits of the fixed-point background.
pub const FRACTION_BITS: u32 = 16;
const ONE: u64 = 1 << FRACTION_BITS;
const HALF: u64 = ONE / 2;

/// `alpha` (clamped to 0..1) as a multiple of 2^-[`FRACTION_BITS`].
pub fn fixed_alpha(alpha: f64) -> u64 {
    let a = if alpha.is_nan() {
        0.0
    } else {
        alpha.clamp(0.0, 1.0)
    };
    (a * ONE as f64).round() as u64
}

/// One weighted update of a fixed-point pixel towards `value`.
#[inline]
pub fn blend(avg: u32, value: u8, alpha: u64) -> u32 {
    let mixed = u64::from(avg) * (ONE - alpha) + (u64::from(value) << FRACTION_BITS) * alpha;
    // At most 255 * 2^16 after the shift: fits in u32.
    ((mixed + HALF) >> FRACTION_BITS) as u32
}

/// The grey level a fixed-point pixel compares as.
#[inline]
pub fn level(avg: u32) -> u8 {
    ((u64::from(avg) + HALF) >> FRACTION_BITS).min(255) as u8
}

/// The background image.
#[derive(Debug, Clone, Default)]
pub struct Background {
    /// One fixed-point value a pixel, row by row.
    pub values: Vec<u32>,
}

impl Background {
    /// Resets to `len` black pixels (Frigate starts from zeros).
    pub fn reset(&mut self, len: usize) {
        self.values.clear();
        self.values.resize(len, 0);
    }

    /// `accumulateWeighted(frame, avg, alpha)` in fixed point.
    pub fn accumulate(&mut self, frame: &[u8], alpha: f64) {
        let a = fixed_alpha(alpha);
        for (avg, &v) in self.values.iter_mut().zip(frame) {
            *avg = blend(*avg, v, a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_float_update() {
        // The float recurrence, in f64, stays within a grey level of ours.
        for (alpha, steps) in [(0.2, 60), (0.01, 800)] {
            let mut bg = Background::default();
            bg.reset(1);
            let mut float = 0.0f64;
            for i in 0..steps {
                let v = if i < steps / 2 { 200 } else { 37 };
                bg.accumulate(&[v], alpha);
                float = float * (1.0 - alpha) + f64::from(v) * alpha;
                let ours = f64::from(bg.values[0]) / ONE as f64;
                assert!(
                    (ours - float).abs() < 0.5,
                    "alpha {alpha} step {i}: {ours} vs {float}"
                );
            }
        }
    }

    #[test]
    fn fixed_point_edges() {
        assert_eq!(fixed_alpha(0.01), 655);
        assert_eq!(fixed_alpha(0.2), 13107);
        assert_eq!(fixed_alpha(2.0), ONE);
        assert_eq!(fixed_alpha(f64::NAN), 0);
        // alpha 1 copies the frame; a settled pixel stays put.
        assert_eq!(blend(0, 255, ONE), 255 << 16);
        assert_eq!(blend(128 << 16, 128, 655), 128 << 16);
        assert_eq!(level((7 << 16) + 0x7fff), 7);
        assert_eq!(level((7 << 16) + 0x8000), 8);
        assert_eq!(level(u32::MAX), 255);
    }
}
