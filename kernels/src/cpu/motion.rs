//! CPU twin of `shaders/motion.wgsl`: the motion detector's small luma image,
//! gathered from the frame by the shared index tables
//! ([`ResampleTables`]), so it matches the GPU and OpenCV's `INTER_NEAREST`
//! resize bit for bit.

use crate::frame::FrameView;
use crate::kernel::MotionRaw;
use crate::metrics::motion::resample::{ResampleCache, ResampleTables};

/// Fills `out` with the small image of `frame` read through `tables` (built
/// for the frame's size), reusing its allocation.
pub fn gather(frame: &FrameView<'_>, tables: &ResampleTables, out: &mut MotionRaw) {
    out.width = tables.small.0;
    out.height = tables.small.1;
    out.pixels.clear();
    out.pixels.reserve(tables.small_len());
    let luma = frame.plane(0);
    let width = frame.width() as usize;
    for &row in &tables.rows {
        let source = luma.row(row as usize, width);
        out.pixels
            .extend(tables.cols.iter().map(|&col| source[col as usize]));
    }
}

/// The CPU backend's part of the motion kernel: tables per frame size.
#[derive(Debug, Clone)]
pub struct MotionResampler {
    cache: ResampleCache,
}

impl MotionResampler {
    /// A resampler to small images `frame_height` rows high.
    pub fn new(frame_height: u32) -> Self {
        MotionResampler {
            cache: ResampleCache::new(frame_height),
        }
    }

    /// Builds the tables of every frame size in `frames` that lacks them
    /// (before the parallel part, which only reads them).
    pub fn prepare(&mut self, frames: &[FrameView<'_>]) {
        for f in frames {
            self.cache.prepare(f.width(), f.height());
        }
    }

    /// The small image of `frame` into `out`; leaves `out` empty when
    /// [`prepare`](Self::prepare) did not see the frame's size.
    pub fn run(&self, frame: &FrameView<'_>, out: &mut MotionRaw) {
        if let Some(tables) = self.cache.find(frame.width(), frame.height()) {
            gather(frame, tables, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::PixelFormat;
    use crate::synth;

    #[test]
    fn gathers_by_the_tables() {
        let f = synth::random_frame(3, PixelFormat::I420, 37, 23, 5);
        let view = f.view();
        let tables = ResampleTables::new(37, 23, 10);
        let mut out = MotionRaw::default();
        gather(&view, &tables, &mut out);
        assert_eq!((out.width, out.height), (16, 10));
        for y in 0..10 {
            for x in 0..16 {
                let sy = tables.rows[y] as usize;
                let sx = tables.cols[x] as usize;
                assert_eq!(out.pixels[y * 16 + x], f.planes[0][sy * f.strides[0] + sx]);
            }
        }
    }
}
