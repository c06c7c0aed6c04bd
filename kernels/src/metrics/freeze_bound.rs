//! freezedetect's test as an integer bound, so that both backends decide on
//! the device without floats, and the sample count it divides by. A leaf:
//! the CPU twin, the GPU host and the detector all take these from here.
//!
//! ffmpeg's `vf_freezedetect.c` compares a frame with its reference frame by
//! the sum of absolute differences over all planes (`sad`, over `count`
//! samples) and calls it frozen when
//! `mafd = (double)sad / count / (1 << 8) <= noise`. For a fixed `count` that
//! is monotonic in `sad`, so it holds exactly for `sad <= frozen_sad_bound(noise,
//! count)`: the GPU compares integers and makes the same choice, bit for bit.

/// Rows of a chroma plane freezedetect compares: `height >> 1`.
pub fn chroma_rows(height: u32) -> usize {
    (height >> 1) as usize
}

/// Samples freezedetect divides the SAD by: `w * h` luma plus both chroma
/// planes' `ceil(w / 2) * (h >> 1)`.
pub fn samples(width: u32, height: u32) -> u64 {
    let cw = u64::from(width.div_ceil(2));
    u64::from(width) * u64::from(height) + 2 * cw * chroma_rows(height) as u64
}

/// The f64 expression of freezedetect, kept as ffmpeg writes it.
fn is_frozen(sad: u64, samples: u64, noise: f64) -> bool {
    sad as f64 / samples as f64 / 256.0 <= noise
}

/// The largest integer SAD over `samples` 8-bit samples for which
/// freezedetect's `sad / samples / 256 <= noise` (in f64) still says frozen.
///
/// `noise` is freezedetect's `n` as a linear ratio, which ffmpeg limits to
/// 0 to 1; a negative or NaN `noise` counts as 0 (only identical frames are
/// frozen). With `samples == 0` there is nothing to compare and the bound is
/// 0. Any SAD that 8-bit samples can reach (at most `255 * samples`) is below
/// `2^53`, so its conversion to f64 is exact, as in ffmpeg.
pub fn frozen_sad_bound(noise: f64, samples: u64) -> u64 {
    if samples == 0 {
        return 0;
    }
    let noise = if noise.is_nan() { 0.0 } else { noise.max(0.0) };
    // Past 256 * samples every SAD is frozen already (mafd <= 1 <= noise
    // would need noise >= 1); stop there.
    let top = samples.saturating_mul(256);
    let guess = (noise * 256.0 * samples as f64).floor();
    let mut s = if guess >= top as f64 {
        top
    } else {
        guess as u64
    };
    while s > 0 && !is_frozen(s, samples, noise) {
        s -= 1;
    }
    while s < top && is_frozen(s + 1, samples, noise) {
        s += 1;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The edge: the bound is frozen, one more is not.
    fn check(noise: f64, samples: u64) {
        let b = frozen_sad_bound(noise, samples);
        assert!(
            is_frozen(b, samples, noise),
            "noise {noise} samples {samples}: {b}"
        );
        assert!(
            !is_frozen(b + 1, samples, noise),
            "noise {noise} samples {samples}: {b} + 1"
        );
    }

    #[test]
    fn bound_sits_on_the_edge() {
        for samples in [
            1,
            2,
            3,
            6,
            15,
            1536,
            1920 * 1080 * 3 / 2,
            3840 * 2160 * 3 / 2,
        ] {
            for noise in [0.0, 1e-9, 0.0001, 0.001, 0.00390625, 0.01, 0.1, 0.5, 0.9] {
                check(noise, samples);
            }
        }
    }

    #[test]
    fn exact_ratios() {
        // 0.001 = -60 dB, freezedetect's default.
        let samples = 1920 * 1080 * 3 / 2;
        let b = frozen_sad_bound(0.001, samples);
        assert_eq!(b, (0.001f64 * 256.0 * samples as f64).floor() as u64);
        // noise 1/256 over 4 samples: sad 4 gives exactly 1/256.
        assert_eq!(frozen_sad_bound(1.0 / 256.0, 4), 4);
        // Only identical frames are frozen at noise 0.
        assert_eq!(frozen_sad_bound(0.0, 1000), 0);
        assert_eq!(frozen_sad_bound(-1.0, 1000), 0);
        assert_eq!(frozen_sad_bound(f64::NAN, 1000), 0);
        // Everything is frozen at noise 1.
        assert!(frozen_sad_bound(1.0, 1000) >= 255 * 1000);
        assert_eq!(frozen_sad_bound(0.5, 0), 0);
    }

    /// Against a plain search from zero, on small counts.
    #[test]
    fn matches_a_linear_search() {
        for samples in 1..40u64 {
            for k in 0..50 {
                let noise = f64::from(k) / 997.0;
                let mut want = 0;
                while want < 256 * samples && is_frozen(want + 1, samples, noise) {
                    want += 1;
                }
                assert_eq!(frozen_sad_bound(noise, samples), want, "{noise} {samples}");
            }
        }
    }
}
