//! What both downscalers check and prepare on the host: the target size,
//! the output frame, and the source planes as the area filter reads them
//! (the CPU twin walks them; the GPU host uploads them).

use crate::error::{KernelError, Result};
use crate::frame::{FrameView, OwnedFrame, PixelFormat};

/// Largest source width or height the downscaler accepts: it keeps every
/// intermediate of the shader inside a `u32`.
pub const MAX_SIDE: u32 = 65_535;

/// Checks a downscale request of `frame` to `width` x `height`.
///
/// # Errors
/// [`KernelError::InvalidFrame`] when the target is empty, larger than the
/// source in either direction, or the source is larger than [`MAX_SIDE`].
pub fn check_target(frame: &FrameView<'_>, width: u32, height: u32) -> Result<()> {
    let (sw, sh) = (frame.width(), frame.height());
    if width == 0 || height == 0 {
        return Err(KernelError::InvalidFrame(format!(
            "cannot downscale to an empty {width}x{height} frame"
        )));
    }
    if width > sw || height > sh {
        return Err(KernelError::InvalidFrame(format!(
            "cannot downscale a {sw}x{sh} frame to {width}x{height}: the target is larger"
        )));
    }
    if sw > MAX_SIDE || sh > MAX_SIDE {
        return Err(KernelError::InvalidFrame(format!(
            "cannot downscale a {sw}x{sh} frame: sides above {MAX_SIDE} are not supported"
        )));
    }
    Ok(())
}

/// Makes `out` an I420 frame of `width` x `height`, keeping its allocation
/// (and strides) when it already is one.
pub(crate) fn prepare_output(out: &mut OwnedFrame, width: u32, height: u32) {
    if out.format != PixelFormat::I420 || out.width != width || out.height != height {
        *out = OwnedFrame::zeroed(PixelFormat::I420, width, height, 0);
    }
}

/// One plane to scale: samples `step` bytes apart (2 for NV12's interleaved
/// chroma) starting `phase` bytes into each row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SourcePlane<'a> {
    /// The plane's bytes.
    pub data: &'a [u8],
    /// Bytes from one row to the next.
    pub stride: usize,
    /// Bytes from one sample to the next in a row (1 or 2).
    pub step: usize,
    /// Byte of the first sample in a row (0, or 1 for NV12's V).
    pub phase: usize,
    /// Samples a row.
    pub width: u32,
    /// Rows.
    pub height: u32,
}

/// The planes of `frame` as the downscaler reads them: Y, U, V.
pub(crate) fn source_planes<'a>(frame: &FrameView<'a>) -> [SourcePlane<'a>; 3] {
    let (cw, ch) = frame.chroma_size();
    let plane = |p: usize, step, phase, width, height| {
        let plane = frame.plane(p);
        SourcePlane {
            data: plane.data,
            stride: plane.stride,
            step,
            phase,
            width,
            height,
        }
    };
    let y = plane(0, 1, 0, frame.width(), frame.height());
    match frame.format() {
        PixelFormat::I420 => [y, plane(1, 1, 0, cw, ch), plane(2, 1, 0, cw, ch)],
        PixelFormat::Nv12 => [y, plane(1, 2, 0, cw, ch), plane(1, 2, 1, cw, ch)],
    }
}
