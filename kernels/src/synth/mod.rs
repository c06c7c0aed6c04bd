//! Seeded synthetic data for tests and benchmarks (the `synth` feature,
//! which brings in `rand`; the crate's own tests always have it): frames
//! here, rows for window aggregation in [`rows`].
//!
//! Frames mix smooth gradients with noise so histograms are neither flat nor
//! degenerate, and the padding bytes past each row are filled with noise too, so
//! a kernel that reads padding gets caught.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::frame::{OwnedFrame, PixelFormat};

pub mod rows;

/// A frame of `width` x `height` with strides padded by `pad` bytes, filled
/// from `seed`.
pub fn random_frame(
    seed: u64,
    format: PixelFormat,
    width: u32,
    height: u32,
    pad: usize,
) -> OwnedFrame {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut f = OwnedFrame::zeroed(format, width, height, pad);
    let smooth = rng.random_range(0..4u32);
    for p in 0..format.plane_count() {
        let stride = f.strides[p];
        let base: u8 = rng.random();
        for (i, b) in f.planes[p].iter_mut().enumerate() {
            let (x, y) = (i % stride.max(1), i / stride.max(1));
            *b = match smooth {
                // Pure noise.
                0 => rng.random(),
                // Gradient plus a little noise.
                1 => (base as usize + x / 3 + y / 2) as u8 ^ (rng.random::<u8>() & 7),
                // Flat areas with rare outliers.
                2 => {
                    if rng.random_ratio(1, 64) {
                        rng.random()
                    } else {
                        base.wrapping_add((x / 16) as u8)
                    }
                }
                // Bright/dark extremes.
                _ => {
                    if rng.random_bool(0.5) {
                        rng.random_range(0..24)
                    } else {
                        rng.random_range(220..=255)
                    }
                }
            };
        }
    }
    f
}

/// `count` consecutive frames for a scene test: a drifting gradient with a hard
/// cut to different content every `cut_every` frames.
pub fn clip(
    seed: u64,
    format: PixelFormat,
    width: u32,
    height: u32,
    count: usize,
    cut_every: usize,
) -> Vec<OwnedFrame> {
    (0..count)
        .map(|i| {
            let scene = (i / cut_every.max(1)) as u64;
            let mut f = random_frame(
                seed ^ scene.wrapping_mul(0x9E37_79B9_7F4A_7C15),
                format,
                width,
                height,
                0,
            );
            let shift = (i % cut_every.max(1)) as u8;
            for b in &mut f.planes[0] {
                *b = b.wrapping_add(shift);
            }
            f
        })
        .collect()
}
