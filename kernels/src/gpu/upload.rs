//! How a chunk's frames are packed into the one upload buffer the kernels read.
//!
//! Frames follow one another; each plane starts on a word boundary and every
//! row starts on a word boundary, so the shaders read whole `u32` words and
//! mask the bytes past a row's width. A plane whose source stride is already a
//! multiple of 4 (and does not waste much on padding) is copied in one piece
//! with that stride; any other plane is copied row by row with the tight
//! stride `ceil(row / 4) * 4`.

use super::types::{FORMAT_I420, FORMAT_NV12, FrameParams, PREV_NONE};
use crate::frame::{FrameView, PixelFormat};

/// Padding past a row's last word that a source stride may carry and still be
/// copied in one piece; beyond it, rows are repacked so as not to upload it.
pub(crate) const MAX_KEPT_PADDING: usize = 64;

/// Where one plane lies in the upload buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PackedPlane {
    /// Byte offset of the plane, a multiple of 4.
    pub offset: u64,
    /// Bytes from one row to the next, a multiple of 4.
    pub stride: usize,
    /// Bytes of pixels in a row.
    pub row_bytes: usize,
    /// Rows in the plane.
    pub rows: usize,
    /// True when the plane is copied in one piece with its source stride.
    pub whole: bool,
}

impl PackedPlane {
    /// Bytes the plane takes in the buffer.
    pub(crate) fn size(&self) -> u64 {
        (self.stride * self.rows) as u64
    }

    fn words(value: u64) -> u32 {
        u32::try_from(value / 4).expect("chunks are capped below 2^32 words")
    }

    /// Offset in words.
    pub(crate) fn offset_words(&self) -> u32 {
        Self::words(self.offset)
    }

    /// Stride in words.
    pub(crate) fn stride_words(&self) -> u32 {
        Self::words(self.stride as u64)
    }
}

/// Where one frame's planes lie in the upload buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PackedFrame {
    /// Y, then U (or UV for NV12), then V (I420 only).
    pub planes: [Option<PackedPlane>; 3],
    /// Byte offset just past the frame.
    pub end: u64,
}

impl PackedFrame {
    /// The luma plane.
    pub(crate) fn luma(&self) -> PackedPlane {
        self.planes[0].expect("every frame has a luma plane")
    }

    /// Bytes from the start of the luma plane to the end of the frame: the
    /// range copied into the kept previous frame.
    pub(crate) fn size(&self) -> u64 {
        self.end - self.luma().offset
    }

    /// The same layout moved so that the luma plane starts at byte 0, as the
    /// frame lies once copied into the kept previous frame.
    pub(crate) fn rebased(&self) -> PackedFrame {
        let base = self.luma().offset;
        let mut out = *self;
        for plane in out.planes.iter_mut().flatten() {
            plane.offset -= base;
        }
        out.end -= base;
        out
    }

    /// Points `params`' `prev_*` fields at this frame's planes (offsets as
    /// these planes are), with chroma compared when `same_format`.
    pub(crate) fn set_prev(&self, params: &mut FrameParams, source: u32, same_format: bool) {
        let luma = self.luma();
        params.prev_source = source;
        params.prev_offset = luma.offset_words();
        params.prev_stride = luma.stride_words();
        if let Some(u) = self.planes[1] {
            params.prev_u_offset = u.offset_words();
            params.prev_u_stride = u.stride_words();
        }
        if let Some(v) = self.planes[2] {
            params.prev_v_offset = v.offset_words();
            params.prev_v_stride = v.stride_words();
        }
        params.prev_chroma = u32::from(same_format);
    }
}

/// The stride a plane gets in the buffer and whether it is copied in one piece.
pub(crate) fn packed_stride(source_stride: usize, row_bytes: usize) -> (usize, bool) {
    let tight = row_bytes.next_multiple_of(4);
    if source_stride.is_multiple_of(4) && source_stride <= tight + MAX_KEPT_PADDING {
        (source_stride, true)
    } else {
        (tight, false)
    }
}

/// Lays `frame` out from byte `offset` (a multiple of 4).
pub(crate) fn layout_frame(frame: &FrameView<'_>, offset: u64) -> PackedFrame {
    let mut planes = [None; 3];
    let mut at = offset;
    for (p, packed) in planes
        .iter_mut()
        .enumerate()
        .take(frame.format().plane_count())
    {
        let (row_bytes, rows) = frame.plane_extent(p);
        let (stride, whole) = packed_stride(frame.plane(p).stride, row_bytes);
        let plane = PackedPlane {
            offset: at,
            stride,
            row_bytes,
            rows,
            whole,
        };
        at += plane.size();
        *packed = Some(plane);
    }
    PackedFrame { planes, end: at }
}

/// Bytes `frame` takes in the upload buffer.
pub(crate) fn frame_bytes(frame: &FrameView<'_>) -> u64 {
    layout_frame(frame, 0).end
}

/// Copies `frame`'s pixels to where `packed` says, through `put(offset, bytes)`;
/// offsets are relative to the start of the upload. Padding bytes in the
/// buffer are left as they are: the shaders never count them.
pub(crate) fn pack_frame(
    frame: &FrameView<'_>,
    packed: &PackedFrame,
    mut put: impl FnMut(usize, &[u8]),
) {
    for (p, plane) in packed.planes.iter().enumerate() {
        let Some(plane) = plane else { continue };
        let source = frame.plane(p);
        let offset = plane.offset as usize;
        if plane.whole {
            // One copy: the rows already sit `stride` apart; the last row
            // stops at its pixels, where the source may end.
            let len = plane.stride * (plane.rows - 1) + plane.row_bytes;
            put(offset, &source.data[..len]);
        } else {
            for y in 0..plane.rows {
                put(offset + y * plane.stride, source.row(y, plane.row_bytes));
            }
        }
    }
}

/// The parameters of frame `index` of a chunk laid out at `packed`, with no
/// previous frame (the caller sets `prev_*` for `scene` and `stats`).
pub(crate) fn frame_params(index: u32, frame: &FrameView<'_>, packed: &PackedFrame) -> FrameParams {
    let (chroma_width, chroma_height) = frame.chroma_size();
    let y = packed.luma();
    let u = packed.planes[1].expect("4:2:0 frames have a chroma plane");
    let (format, v_offset, v_stride) = match (frame.format(), packed.planes[2]) {
        (PixelFormat::I420, Some(v)) => (FORMAT_I420, v.offset_words(), v.stride_words()),
        _ => (FORMAT_NV12, 0, 0),
    };
    FrameParams {
        frame: index,
        width: frame.width(),
        height: frame.height(),
        format,
        y_offset: y.offset_words(),
        y_stride: y.stride_words(),
        u_offset: u.offset_words(),
        u_stride: u.stride_words(),
        v_offset,
        v_stride,
        chroma_width,
        chroma_height,
        prev_source: PREV_NONE,
        ..FrameParams::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::OwnedFrame;
    use crate::synth::random_frame;

    #[test]
    fn usable_strides_are_kept() {
        assert_eq!(packed_stride(4, 3), (4, true));
        assert_eq!(packed_stride(8, 8), (8, true));
        assert_eq!(packed_stride(80, 16), (80, true));
        assert_eq!(packed_stride(5, 3), (4, false));
        assert_eq!(packed_stride(3, 3), (4, false));
        assert_eq!(packed_stride(1024, 16), (16, false));
    }

    #[test]
    fn layout_of_odd_i420() {
        let f = OwnedFrame::zeroed(PixelFormat::I420, 5, 3, 0);
        let s = layout_frame(&f.view(), 8);
        let y = s.luma();
        assert_eq!((y.offset, y.stride, y.rows, y.whole), (8, 8, 3, false));
        let u = s.planes[1].expect("a U plane");
        assert_eq!((u.offset, u.stride, u.row_bytes, u.rows), (32, 4, 3, 2));
        assert_eq!(s.planes[2].expect("a V plane").offset, 40);
        assert_eq!(s.end, 48);
    }

    #[test]
    fn packing_keeps_pixels_in_place() {
        for (format, pad) in [
            (PixelFormat::I420, 0),
            (PixelFormat::Nv12, 1),
            (PixelFormat::Nv12, 3),
            (PixelFormat::I420, 64),
        ] {
            let f = random_frame(7, format, 7, 5, pad);
            let view = f.view();
            let packed = layout_frame(&view, 4);
            let mut buf = vec![0u8; packed.end as usize];
            pack_frame(&view, &packed, |at, bytes| {
                buf[at..at + bytes.len()].copy_from_slice(bytes)
            });
            for (p, plane) in packed.planes.iter().enumerate() {
                let Some(plane) = plane else { continue };
                for y in 0..plane.rows {
                    let at = plane.offset as usize + y * plane.stride;
                    assert_eq!(
                        &buf[at..at + plane.row_bytes],
                        view.plane(p).row(y, plane.row_bytes),
                        "{format:?} pad {pad} plane {p} row {y}"
                    );
                }
            }
        }
    }

    #[test]
    fn params_count_words() {
        let f = OwnedFrame::zeroed(PixelFormat::Nv12, 6, 4, 2);
        let view = f.view();
        let packed = layout_frame(&view, 16);
        let p = frame_params(3, &view, &packed);
        assert_eq!(
            (p.frame, p.format, p.width, p.height),
            (3, FORMAT_NV12, 6, 4)
        );
        assert_eq!((p.y_offset, p.y_stride), (4, 2));
        assert_eq!((p.u_offset, p.u_stride), (12, 2));
        assert_eq!((p.chroma_width, p.chroma_height), (3, 2));
    }
}
