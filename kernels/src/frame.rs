//! Borrowed views of decoded video frames, as the kernels read them.
//!
//! Frames stay in the decoder's native layout: planar I420 (Y, U, V) or
//! semi-planar NV12 (Y, interleaved UV), 8 bits a sample, each plane with its
//! own row stride. Nothing here copies or converts pixels; `osprey-video` hands
//! the kernels views of GStreamer's mapped buffers, and tests hand them views of
//! [`OwnedFrame`]s.

use crate::error::{KernelError, Result};

/// The pixel layouts the kernels read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PixelFormat {
    /// Planar 4:2:0: a Y plane, then a U plane and a V plane at half size.
    I420,
    /// Semi-planar 4:2:0: a Y plane, then one plane of interleaved U, V pairs.
    Nv12,
}

impl PixelFormat {
    /// The number of planes the format has (3 for I420, 2 for NV12).
    pub fn plane_count(self) -> usize {
        match self {
            PixelFormat::I420 => 3,
            PixelFormat::Nv12 => 2,
        }
    }

    /// The GStreamer / FOURCC-style name of the format.
    pub fn name(self) -> &'static str {
        match self {
            PixelFormat::I420 => "I420",
            PixelFormat::Nv12 => "NV12",
        }
    }
}

/// Width and height of the chroma planes for a 4:2:0 frame of `width` x `height`
/// luma samples (rounded up, as GStreamer and ffmpeg lay them out).
pub fn chroma_size(width: u32, height: u32) -> (u32, u32) {
    (width.div_ceil(2), height.div_ceil(2))
}

/// One plane: its bytes and the distance in bytes between the starts of two rows.
#[derive(Debug, Clone, Copy)]
pub struct Plane<'a> {
    /// The plane's bytes, at least `stride * (rows - 1) + row_bytes` long.
    pub data: &'a [u8],
    /// Bytes from the start of one row to the start of the next.
    pub stride: usize,
}

impl<'a> Plane<'a> {
    /// The first `len` bytes of row `y`.
    ///
    /// # Panics
    /// When the row lies outside the plane; [`FrameView::new`] checks sizes so
    /// that rows inside the frame never do.
    #[inline]
    pub fn row(&self, y: usize, len: usize) -> &'a [u8] {
        let start = y * self.stride;
        &self.data[start..start + len]
    }
}

/// A checked, borrowed view of one decoded frame.
#[derive(Debug, Clone, Copy)]
pub struct FrameView<'a> {
    format: PixelFormat,
    width: u32,
    height: u32,
    planes: [Plane<'a>; 3],
}

impl<'a> FrameView<'a> {
    /// Builds a view, checking that every plane holds its rows.
    ///
    /// For NV12 pass the interleaved UV plane as `planes[1]`; `planes[2]` is
    /// ignored (pass an empty plane).
    ///
    /// # Errors
    /// [`KernelError::InvalidFrame`] when the size is zero, a stride is shorter
    /// than a row, or a plane is too short for its rows.
    pub fn new(
        format: PixelFormat,
        width: u32,
        height: u32,
        planes: [Plane<'a>; 3],
    ) -> Result<Self> {
        if width == 0 || height == 0 {
            return Err(KernelError::InvalidFrame(format!(
                "frame size {width}x{height} is empty"
            )));
        }
        let view = FrameView {
            format,
            width,
            height,
            planes,
        };
        for (p, plane) in planes.iter().enumerate().take(format.plane_count()) {
            let (row_bytes, rows) = view.plane_extent(p);
            if plane.stride < row_bytes {
                return Err(KernelError::InvalidFrame(format!(
                    "plane {p} stride {} is shorter than its row of {row_bytes} bytes",
                    plane.stride
                )));
            }
            let need = plane.stride * (rows - 1) + row_bytes;
            if plane.data.len() < need {
                return Err(KernelError::InvalidFrame(format!(
                    "plane {p} holds {} bytes, {width}x{height} {} needs {need}",
                    plane.data.len(),
                    format.name()
                )));
            }
        }
        Ok(view)
    }

    /// The pixel layout.
    pub fn format(&self) -> PixelFormat {
        self.format
    }

    /// Luma width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Luma height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Chroma width and height in samples.
    pub fn chroma_size(&self) -> (u32, u32) {
        chroma_size(self.width, self.height)
    }

    /// Plane `p` (0 = Y; 1 = U, or UV for NV12; 2 = V, unused for NV12).
    pub fn plane(&self, p: usize) -> &Plane<'a> {
        &self.planes[p]
    }

    /// Bytes a row and number of rows of plane `p`.
    pub fn plane_extent(&self, p: usize) -> (usize, usize) {
        let (cw, ch) = self.chroma_size();
        match (self.format, p) {
            (_, 0) => (self.width as usize, self.height as usize),
            (PixelFormat::Nv12, _) => (2 * cw as usize, ch as usize),
            (PixelFormat::I420, _) => (cw as usize, ch as usize),
        }
    }
}

/// A frame that owns its planes: test input, benchmark input and the copy a
/// backend keeps of the last frame of a chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedFrame {
    /// The pixel layout.
    pub format: PixelFormat,
    /// Luma width in pixels.
    pub width: u32,
    /// Luma height in pixels.
    pub height: u32,
    /// Plane bytes (for NV12 the third is empty).
    pub planes: [Vec<u8>; 3],
    /// Row stride of each plane in bytes.
    pub strides: [usize; 3],
}

impl OwnedFrame {
    /// A frame of zeros with each plane's stride padded by `pad` bytes.
    pub fn zeroed(format: PixelFormat, width: u32, height: u32, pad: usize) -> Self {
        let (cw, ch) = chroma_size(width, height);
        let (w, h, cw, ch) = (width as usize, height as usize, cw as usize, ch as usize);
        let (strides, sizes) = match format {
            PixelFormat::I420 => (
                [w + pad, cw + pad, cw + pad],
                [(w + pad) * h, (cw + pad) * ch, (cw + pad) * ch],
            ),
            PixelFormat::Nv12 => (
                [w + pad, 2 * cw + pad, 0],
                [(w + pad) * h, (2 * cw + pad) * ch, 0],
            ),
        };
        OwnedFrame {
            format,
            width,
            height,
            planes: [vec![0; sizes[0]], vec![0; sizes[1]], vec![0; sizes[2]]],
            strides,
        }
    }

    /// Copies a view into owned planes, keeping its layout but packing rows
    /// tightly (stride = row bytes).
    pub fn from_view(view: &FrameView<'_>) -> Self {
        let mut out = OwnedFrame::zeroed(view.format(), view.width(), view.height(), 0);
        out.copy_from(view);
        out
    }

    /// Overwrites this frame with `view`, reusing the allocation when the size
    /// and format match (the hot path: one copy a chunk, no allocation).
    pub fn copy_from(&mut self, view: &FrameView<'_>) {
        if self.format != view.format()
            || self.width != view.width()
            || self.height != view.height()
        {
            *self = OwnedFrame::zeroed(view.format(), view.width(), view.height(), 0);
        }
        for p in 0..view.format().plane_count() {
            let (row_bytes, rows) = view.plane_extent(p);
            let src = view.plane(p);
            let dst_stride = self.strides[p];
            for y in 0..rows {
                self.planes[p][y * dst_stride..y * dst_stride + row_bytes]
                    .copy_from_slice(src.row(y, row_bytes));
            }
        }
    }

    /// A checked view of this frame.
    ///
    /// # Panics
    /// Never for frames built by this type's constructors; a hand-built frame
    /// with short planes panics with the reason.
    pub fn view(&self) -> FrameView<'_> {
        FrameView::new(
            self.format,
            self.width,
            self.height,
            [
                Plane {
                    data: &self.planes[0],
                    stride: self.strides[0],
                },
                Plane {
                    data: &self.planes[1],
                    stride: self.strides[1],
                },
                Plane {
                    data: &self.planes[2],
                    stride: self.strides[2],
                },
            ],
        )
        .expect("OwnedFrame constructors size every plane for its rows")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_sizes_round_chroma_up() {
        assert_eq!(chroma_size(1, 1), (1, 1));
        assert_eq!(chroma_size(5, 3), (3, 2));
        assert_eq!(chroma_size(1920, 1080), (960, 540));
    }

    #[test]
    fn short_plane_is_refused() {
        let y = [0u8; 3];
        let err = FrameView::new(
            PixelFormat::I420,
            2,
            2,
            [
                Plane {
                    data: &y,
                    stride: 2,
                },
                Plane {
                    data: &y,
                    stride: 1,
                },
                Plane {
                    data: &y,
                    stride: 1,
                },
            ],
        )
        .unwrap_err();
        assert!(err.to_string().contains("plane 0 holds 3 bytes"), "{err}");
    }

    #[test]
    fn zero_size_and_short_stride_are_refused() {
        let y = [0u8; 16];
        let p = Plane {
            data: &y,
            stride: 1,
        };
        assert!(FrameView::new(PixelFormat::I420, 0, 2, [p, p, p]).is_err());
        assert!(FrameView::new(PixelFormat::I420, 2, 2, [p, p, p]).is_err());
    }

    #[test]
    fn copy_keeps_pixels_and_drops_padding() {
        let mut f = OwnedFrame::zeroed(PixelFormat::Nv12, 3, 3, 5);
        f.planes[0][f.strides[0] * 2 + 2] = 7;
        f.planes[1][f.strides[1] + 3] = 9;
        let c = OwnedFrame::from_view(&f.view());
        assert_eq!(c.strides, [3, 4, 0]);
        assert_eq!(c.planes[0][8], 7);
        assert_eq!(c.planes[1][4 + 3], 9);
    }
}
