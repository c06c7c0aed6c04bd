//! Frigate's `detect` size: the kernels analyse each frame downscaled to one
//! fixed size instead of the decoded size.
//!
//! [`DetectSizeBackend`] wraps any [`Backend`]: each frame of a chunk is
//! area-downscaled by the inner backend's own [`Backend::downscale`] (the
//! thumbnail filter, whose CPU twin `cpu/downscale.rs` and shader
//! `shaders/downscale.wgsl` give the same bytes) into an I420 frame the
//! wrapper keeps and reuses, and the inner backend's [`Backend::analyze`]
//! then runs on those. So a detect-size analysis gives, on both backends,
//! exactly the [`FrameRaw`]s of a plain analysis of frames downscaled by
//! [`crate::cpu::downscale::downscale`]; that is its definition, and the
//! tests check it. [`crate::Device::frame_backend`] wraps its backend when
//! [`AnalysisConfig::detect_size`](crate::kernel::AnalysisConfig::detect_size)
//! is set.
//!
//! - The [`FrameRaw`]s (and so the `frame` records) have the detect size, and
//!   so does every pixel measure: motion zones and masks are in detect-size
//!   pixels, as in Frigate.
//! - A frame already at the detect size is passed to the inner backend as
//!   it is (NV12 stays NV12), untouched. A stream whose frames change size
//!   keeps one analysed size, so the differences against the previous frame
//!   (scene, `YDIF`) go on across the change; `UDIF`/`VDIF` pause when the
//!   analysed frames change layout (a passed-through NV12 frame next to a
//!   downscaled I420 one), as in a plain analysis.
//! - [`Backend::downscale`] (thumbnails) still works on the full frame, so
//!   thumbnails keep the decoded resolution.
//! - The size must have even, non-zero sides (4:2:0 chroma of exactly half
//!   size) and must not exceed the frame: [`check_size`] when the backend is
//!   made, [`check_fits`] once for each new frame size.
//!
//! **Cost.** On the CPU the frames of a chunk are downscaled in parallel
//! (the CPU backend's downscale is the stateless twin
//! [`crate::cpu::downscale::downscale`], called directly), before the
//! kernels run on far fewer pixels. On the GPU this wrapper is the
//! simple route: each frame is uploaded, downscaled on the device and read
//! back, then uploaded again, smaller, for the kernels, one frame at a time
//! (one submission and one readback a frame). A device-side chain (downscale
//! into the chunk's packed buffer and run the kernels from there) is the
//! follow-up that removes the readback and the second upload.

use rayon::prelude::*;

use crate::backend::Backend;
use crate::error::{KernelError, Result};
use crate::frame::{FrameView, OwnedFrame, PixelFormat};
use crate::kernel::FrameRaw;

/// Checks a detect size on its own: both sides even and non-zero.
///
/// # Errors
/// [`KernelError::InvalidConfig`] naming the size and what is wrong.
pub fn check_size((width, height): (u32, u32)) -> Result<()> {
    if width == 0 || height == 0 {
        return Err(KernelError::InvalidConfig(format!(
            "detect size {width}x{height} is empty"
        )));
    }
    if width % 2 != 0 || height % 2 != 0 {
        return Err(KernelError::InvalidConfig(format!(
            "detect size {width}x{height} has an odd side; both must be even (4:2:0 chroma)"
        )));
    }
    Ok(())
}

/// Checks that frames of `width` x `height` can be analysed at the detect
/// size `size`: it must not be larger in either direction.
///
/// # Errors
/// [`KernelError::InvalidConfig`] naming both sizes.
pub fn check_fits(size: (u32, u32), width: u32, height: u32) -> Result<()> {
    if size.0 > width || size.1 > height {
        return Err(KernelError::InvalidConfig(format!(
            "detect size {}x{} is larger than the {width}x{height} frame",
            size.0, size.1
        )));
    }
    Ok(())
}

/// A backend that runs another backend's kernels on frames downscaled to a
/// fixed detect size (see the module docs).
pub struct DetectSizeBackend {
    /// The backend that downscales and runs the kernels.
    inner: Box<dyn Backend>,
    /// The detect size, checked by [`check_size`].
    size: (u32, u32),
    /// One downscaled frame per frame of the largest chunk seen, reused.
    scaled: Vec<OwnedFrame>,
    /// The last source size [`check_fits`] accepted, so a stream is checked
    /// once per size rather than once per frame.
    checked: Option<(u32, u32)>,
}

impl DetectSizeBackend {
    /// Wraps `inner` to analyse frames at `size` (width, height).
    ///
    /// # Errors
    /// As [`check_size`].
    pub fn new(inner: Box<dyn Backend>, size: (u32, u32)) -> Result<Self> {
        check_size(size)?;
        Ok(DetectSizeBackend {
            inner,
            size,
            scaled: Vec::new(),
            checked: None,
        })
    }

    /// The detect size, (width, height).
    pub fn size(&self) -> (u32, u32) {
        self.size
    }
}

/// Whether `frame` is analysed as it is: it already has the detect size.
fn passes_through(frame: &FrameView<'_>, size: (u32, u32)) -> bool {
    (frame.width(), frame.height()) == size
}

impl Backend for DetectSizeBackend {
    fn label(&self) -> String {
        format!(
            "{} at detect size {}x{}",
            self.inner.label(),
            self.size.0,
            self.size.1
        )
    }

    fn is_gpu(&self) -> bool {
        self.inner.is_gpu()
    }

    fn analyze(&mut self, frames: &[FrameView<'_>], out: &mut Vec<FrameRaw>) -> Result<()> {
        let (width, height) = self.size;
        if self.scaled.len() < frames.len() {
            self.scaled.resize_with(frames.len(), || {
                OwnedFrame::zeroed(PixelFormat::I420, width, height, 0)
            });
        }
        for frame in frames {
            let source = (frame.width(), frame.height());
            if source != self.size && self.checked != Some(source) {
                check_fits(self.size, source.0, source.1)?;
                self.checked = Some(source);
            }
        }
        if self.inner.is_gpu() {
            for (frame, scaled) in frames.iter().zip(&mut self.scaled) {
                if !passes_through(frame, self.size) {
                    self.inner.downscale(frame, width, height, scaled)?;
                }
            }
        } else {
            // The CPU backend's downscale is the CPU twin, which keeps no
            // state: run it on every frame of the chunk at once.
            frames
                .par_iter()
                .zip(self.scaled.par_iter_mut())
                .filter(|(frame, _)| !passes_through(frame, (width, height)))
                .try_for_each(|(frame, scaled)| {
                    crate::cpu::downscale::downscale(frame, width, height, scaled)
                })?;
        }
        let views: Vec<FrameView<'_>> = frames
            .iter()
            .zip(&self.scaled)
            .map(|(frame, scaled)| {
                if passes_through(frame, (width, height)) {
                    *frame
                } else {
                    scaled.view()
                }
            })
            .collect();
        self.inner.analyze(&views, out)
    }

    fn reset(&mut self) {
        self.inner.reset();
    }

    fn downscale(
        &mut self,
        frame: &FrameView<'_>,
        width: u32,
        height: u32,
        out: &mut OwnedFrame,
    ) -> Result<()> {
        self.inner.downscale(frame, width, height, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_must_be_even_and_non_empty() {
        assert!(check_size((320, 240)).is_ok());
        assert!(check_size((2, 2)).is_ok());
        for bad in [(0, 240), (320, 0), (321, 240), (320, 241)] {
            let msg = check_size(bad).unwrap_err().to_string();
            assert!(msg.contains(&format!("{}x{}", bad.0, bad.1)), "{msg}");
        }
    }

    #[test]
    fn the_size_must_fit_the_frame() {
        assert!(check_fits((320, 240), 320, 240).is_ok());
        assert!(check_fits((320, 180), 1280, 720).is_ok());
        let msg = check_fits((320, 240), 320, 180).unwrap_err().to_string();
        assert_eq!(msg, "detect size 320x240 is larger than the 320x180 frame");
        assert!(check_fits((322, 240), 320, 240).is_err());
    }
}
