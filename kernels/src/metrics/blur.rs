//! blurdetect's `lavfi.blur` and the variance of the Laplacian, finished from
//! a frame's [`BlurRaw`].
//!
//! The pooling follows vf_blurdetect.c's `calculate_blur` in its own float
//! types: each block with a total edge width of at least 2 gets its mean width
//! as a C `float` (the total is a double sum of floats, which the fixed-point
//! integers hold exactly), the means are sorted ascending, the first
//! `ceil(count * (float)(block_pct / 100.0))` are summed in float, and the sum is
//! divided by that count in float.

use crate::kernel::{BlurBlock, BlurParams, BlurRaw};

/// The blur figures of one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Blur {
    /// ffmpeg's `lavfi.blur`: mean edge width in pixels of the sharpest
    /// `block_pct` percent of the blocks; larger is blurrier. `None` when no
    /// block has edges (ffmpeg prints `nan` then).
    pub blur: Option<f64>,
    /// Population variance of the 3x3 Laplacian of luma over the interior
    /// pixels; larger is sharper. 0 for frames smaller than 3x3.
    pub sharpness: f64,
}

/// Finishes one frame's blur state; `None` when the kernel did not run (no
/// blocks and no Laplacian samples: a frame too small for either has its
/// blurdetect blocks all the same).
pub fn finish(raw: &BlurRaw, params: &BlurParams) -> Option<Blur> {
    if raw.blocks.is_empty() && raw.laplacian_count == 0 {
        return None;
    }
    Some(Blur {
        blur: blurdetect(raw, params),
        sharpness: laplacian_variance(raw),
    })
}

/// blurdetect's value for one plane, or `None` when no block qualifies.
fn blurdetect(raw: &BlurRaw, params: &BlurParams) -> Option<f64> {
    let one = BlurBlock::WIDTH_ONE as f64;
    let mut means: Vec<f32> = raw
        .blocks
        .iter()
        // `block_total_width >= 2`: widths are whole 2^-24 units, so exact.
        .filter(|b| b.width_sum >= 2 * BlurBlock::WIDTH_ONE && b.edges > 0)
        .map(|b| (b.width_sum as f64 / one / f64::from(b.edges)) as f32)
        .collect();
    means.sort_by(f32::total_cmp);
    let pool = (f64::from(params.block_pct.clamp(1, 100)) / 100.0) as f32;
    let keep = (means.len() as f32 * pool).ceil() as usize;
    if keep == 0 {
        return None;
    }
    let total: f32 = means[..keep.min(means.len())].iter().sum();
    Some(f64::from(total / keep as f32))
}

/// `E[L^2] - E[L]^2` of the Laplacian, from exact integer sums.
fn laplacian_variance(raw: &BlurRaw) -> f64 {
    if raw.laplacian_count == 0 {
        return 0.0;
    }
    let n = i128::from(raw.laplacian_count);
    let sum = i128::from(raw.laplacian_sum);
    // n * sum(L^2) - sum(L)^2 is an exact integer, >= 0.
    let num = n * i128::from(raw.laplacian_sq) - sum * sum;
    num as f64 / (n as f64 * n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(width: f64, edges: u32) -> BlurBlock {
        BlurBlock {
            width_sum: (width * BlurBlock::WIDTH_ONE as f64) as u64,
            edges,
        }
    }

    #[test]
    fn pools_the_sharpest_blocks() {
        let raw = BlurRaw {
            // Means 3, 1, 5, 2 and one block below the width 2 threshold.
            blocks: vec![
                block(9.0, 3),
                block(4.0, 4),
                block(10.0, 2),
                block(4.0, 2),
                block(1.5, 1),
            ],
            laplacian_sum: 0,
            laplacian_sq: 0,
            laplacian_count: 0,
        };
        // ceil(4 * 0.8) = 4: every mean.
        let b = finish(&raw, &BlurParams::default()).unwrap();
        assert_eq!(b.blur, Some(2.75));
        // ceil(4 * 0.5) = 2: the two smallest, 1 and 2.
        let half = BlurParams {
            block_pct: 50,
            ..BlurParams::default()
        };
        assert_eq!(finish(&raw, &half).unwrap().blur, Some(1.5));
        // ceil(4 * 0.01) = 1.
        let least = BlurParams {
            block_pct: 1,
            ..BlurParams::default()
        };
        assert_eq!(finish(&raw, &least).unwrap().blur, Some(1.0));
    }

    #[test]
    fn no_edges_no_value() {
        let raw = BlurRaw {
            blocks: vec![BlurBlock::default()],
            laplacian_sum: 0,
            laplacian_sq: 0,
            laplacian_count: 4,
        };
        assert_eq!(
            finish(&raw, &BlurParams::default()),
            Some(Blur {
                blur: None,
                sharpness: 0.0
            })
        );
        assert_eq!(finish(&BlurRaw::default(), &BlurParams::default()), None);
    }

    #[test]
    fn variance_of_known_samples() {
        // Samples -2, 0, 4, 6: mean 2, variance (16 + 4 + 4 + 16) / 4 = 10.
        let raw = BlurRaw {
            blocks: vec![],
            laplacian_sum: 8,
            laplacian_sq: 4 + 16 + 36,
            laplacian_count: 4,
        };
        assert_eq!(laplacian_variance(&raw), 10.0);
    }
}
