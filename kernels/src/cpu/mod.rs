//! The CPU twins of the WGSL kernels.
//!
//! Each file mirrors one shader (`shaders/<name>.wgsl` ⇄ `cpu/<name>.rs`) and
//! produces the same integers. [`CpuBackend`] runs them over a chunk, one frame
//! a task on rayon's pool, and fuses the kernels that read the same plane: the
//! luma rows are read once for the histogram and the difference.

pub mod scene;
pub mod stats;

use rayon::prelude::*;

use crate::backend::Backend;
use crate::error::Result;
use crate::frame::{FrameView, OwnedFrame, PixelFormat};
use crate::kernel::{FrameRaw, KernelSet, channel};

/// The CPU backend: exact twins of the GPU kernels.
#[derive(Debug)]
pub struct CpuBackend {
    kernels: KernelSet,
    /// The last frame of the previous chunk, for `scene`.
    prev: Option<OwnedFrame>,
}

impl CpuBackend {
    /// A backend running `kernels`.
    pub fn new(kernels: KernelSet) -> Self {
        CpuBackend {
            kernels,
            prev: None,
        }
    }
}

/// Runs the selected kernels on one frame; `prev` is the frame before it.
pub fn analyze_frame(
    kernels: KernelSet,
    frame: &FrameView<'_>,
    prev: Option<&FrameView<'_>>,
    raw: &mut FrameRaw,
) {
    raw.width = frame.width();
    raw.height = frame.height();
    raw.hist = [[0; 256]; 4];
    raw.luma_sad = None;
    let prev = prev
        .filter(|p| kernels.scene && p.width() == frame.width() && p.height() == frame.height());

    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let y_plane = frame.plane(0);
    let mut luma = stats::Histogram4::new();
    let mut sad = 0u64;
    for y in 0..h {
        let row = y_plane.row(y, w);
        if kernels.stats {
            luma.add_row(row);
        }
        if let Some(p) = prev {
            sad += scene::row_sad(row, p.plane(0).row(y, w));
        }
    }
    if prev.is_some() {
        raw.luma_sad = Some(sad);
    }
    if !kernels.stats {
        return;
    }
    luma.merge_into(&mut raw.hist[channel::Y]);

    let (cw, ch) = frame.chroma_size();
    let (cw, ch) = (cw as usize, ch as usize);
    let mut chroma = stats::ChromaHistograms::new();
    for y in 0..ch {
        match frame.format() {
            PixelFormat::I420 => {
                chroma.add_planar_row(frame.plane(1).row(y, cw), frame.plane(2).row(y, cw));
            }
            PixelFormat::Nv12 => chroma.add_interleaved_row(frame.plane(1).row(y, 2 * cw)),
        }
    }
    chroma.merge_into(&mut raw.hist);
}

impl Backend for CpuBackend {
    fn label(&self) -> String {
        format!("cpu ({} threads)", rayon::current_num_threads())
    }

    fn is_gpu(&self) -> bool {
        false
    }

    fn analyze(&mut self, frames: &[FrameView<'_>], out: &mut Vec<FrameRaw>) -> Result<()> {
        out.resize_with(frames.len(), || FrameRaw::new(0, 0));
        let kernels = self.kernels;
        let carried = self.prev.as_ref().map(OwnedFrame::view);
        out.par_iter_mut().enumerate().for_each(|(i, raw)| {
            let prev = if i == 0 {
                carried.as_ref()
            } else {
                frames.get(i - 1)
            };
            analyze_frame(kernels, &frames[i], prev, raw);
        });
        if kernels.scene
            && let Some(last) = frames.last()
        {
            match &mut self.prev {
                Some(p) => p.copy_from(last),
                None => self.prev = Some(OwnedFrame::from_view(last)),
            }
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.prev = None;
    }
}
