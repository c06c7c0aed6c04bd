//! blurdetect's parameters resolved once for the kernels of both backends:
//! the 8-bit thresholds, the search radius, the block grid of a frame and the
//! fixed-point edge widths.

use crate::kernel::{BlurBlock, BlurParams};

/// Largest search radius blurdetect accepts (`radius` is 1 to 100).
pub const MAX_RADIUS: u32 = 100;

/// blurdetect's parameters as the kernels use them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlurSetup {
    /// Low threshold on the 0-255 gradient scale (`low * 255 + 0.5`, truncated).
    pub low: u8,
    /// High threshold on the 0-255 gradient scale.
    pub high: u8,
    /// Steps searched on each side of an edge pixel, 1 to [`MAX_RADIUS`].
    pub radius: u32,
    block_width: Option<u32>,
    block_height: Option<u32>,
    /// Width of a diagonal edge of `n` steps in units of
    /// [`BlurBlock::WIDTH_ONE`], for `n` in `0..=2 * radius`.
    diagonal: Vec<u32>,
}

/// blurdetect's rounding of a threshold: the option is a C `float`, scaled in
/// double and truncated to `uint8_t` (`s->low * 255. + .5`).
fn threshold_u8(value: f64) -> u8 {
    let v = f64::from(value.clamp(0.0, 1.0) as f32);
    (v * 255.0 + 0.5) as u8
}

/// Width of a diagonal edge of `n` steps as blurdetect computes it in C
/// (`float width = n; width *= 0.7;`: the float scaled in double, rounded
/// back to float), in units of 2^-24. Every float from 2^-1 up is a whole
/// number of 2^-24 units, so this is exact.
fn diagonal_width(n: u32) -> u32 {
    let w = (f64::from(n as f32) * 0.7) as f32;
    (f64::from(w) * BlurBlock::WIDTH_ONE as f64) as u32
}

impl BlurSetup {
    /// Resolves `params`, clamping them to the ranges ffmpeg accepts.
    pub fn new(params: &BlurParams) -> Self {
        let radius = params.radius.clamp(1, MAX_RADIUS);
        BlurSetup {
            low: threshold_u8(params.low),
            high: threshold_u8(params.high),
            radius,
            block_width: params.block_width.filter(|&b| b > 0),
            block_height: params.block_height.filter(|&b| b > 0),
            diagonal: (0..=2 * radius).map(diagonal_width).collect(),
        }
    }

    /// The widths of diagonal edges, indexed by steps (`0..=2 * radius`), in
    /// units of [`BlurBlock::WIDTH_ONE`]; the GPU reads this table.
    pub fn diagonal_widths(&self) -> &[u32] {
        &self.diagonal
    }

    /// Width of an edge of `steps` steps (at most `2 * radius`) in units of
    /// [`BlurBlock::WIDTH_ONE`]; diagonal edges count 0.7 a step, as in ffmpeg.
    #[inline]
    pub fn width(&self, steps: u32, diagonal: bool) -> u64 {
        if diagonal {
            self.diagonal
                .get(steps as usize)
                .map_or(0, |&w| u64::from(w))
        } else {
            u64::from(steps) * BlurBlock::WIDTH_ONE
        }
    }

    /// The block grid of a `width` x `height` luma plane.
    pub fn grid(&self, width: u32, height: u32) -> BlockGrid {
        // blurdetect uses whole-frame blocks unless both sizes are given.
        let (bw, bh) = match (self.block_width, self.block_height) {
            (Some(bw), Some(bh)) => (bw, bh),
            _ => (width.max(1), height.max(1)),
        };
        BlockGrid {
            block_width: bw,
            block_height: bh,
            cols: width / bw,
            rows: height / bh,
        }
    }
}

/// blurdetect's blocks over one plane: whole blocks only, from the top-left
/// corner; pixels right of or below the last whole block belong to none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockGrid {
    /// Block width in pixels (at least 1).
    pub block_width: u32,
    /// Block height in pixels (at least 1).
    pub block_height: u32,
    /// Whole blocks across.
    pub cols: u32,
    /// Whole blocks down.
    pub rows: u32,
}

impl BlockGrid {
    /// Number of blocks.
    pub fn count(&self) -> usize {
        self.cols as usize * self.rows as usize
    }

    /// Index of the block holding pixel `(x, y)`, row by row; `None` outside
    /// every block.
    #[inline]
    pub fn block_of(&self, x: u32, y: u32) -> Option<usize> {
        let (bx, by) = (x / self.block_width, y / self.block_height);
        (bx < self.cols && by < self.rows).then(|| by as usize * self.cols as usize + bx as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_round_as_ffmpeg() {
        let s = BlurSetup::new(&BlurParams::default());
        assert_eq!((s.low, s.high), (15, 30));
        let s = BlurSetup::new(&BlurParams {
            low: 0.1,
            high: 1.5,
            ..BlurParams::default()
        });
        // 0.1f * 255 = 25.5000004 -> 26.0000004 -> 26.
        assert_eq!((s.low, s.high), (26, 255));
    }

    #[test]
    fn diagonal_widths_are_exact_floats() {
        let s = BlurSetup::new(&BlurParams::default());
        for n in 0..=100 {
            let want = (f64::from(n as f32) * 0.7) as f32;
            let got = s.width(n, true) as f64 / BlurBlock::WIDTH_ONE as f64;
            assert_eq!(got, f64::from(want), "n={n}");
        }
        assert_eq!(s.width(3, false), 3 * BlurBlock::WIDTH_ONE);
    }

    #[test]
    fn grid_keeps_whole_blocks() {
        let s = BlurSetup::new(&BlurParams::default());
        let g = s.grid(33, 17);
        assert_eq!((g.cols, g.rows, g.block_of(32, 16)), (1, 1, Some(0)));
        let s = BlurSetup::new(&BlurParams {
            block_width: Some(10),
            block_height: Some(8),
            ..BlurParams::default()
        });
        let g = s.grid(33, 17);
        assert_eq!((g.cols, g.rows, g.count()), (3, 2, 6));
        assert_eq!(g.block_of(29, 15), Some(5));
        assert_eq!(g.block_of(30, 0), None);
        assert_eq!(g.block_of(0, 16), None);
        // One size alone means whole-frame blocks, as in ffmpeg.
        let s = BlurSetup::new(&BlurParams {
            block_width: Some(10),
            ..BlurParams::default()
        });
        assert_eq!(s.grid(33, 17).count(), 1);
    }
}
