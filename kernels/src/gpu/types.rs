//! Every struct that crosses to WGSL, and the frame kernels' shared values,
//! in one leaf module (it imports nothing of the crate).
//!
//! The structs are `#[repr(C)]` [`Pod`] twins of the WGSL structs of the same
//! name, with explicit padding and no `vec3`: the frame kernels' [`FrameParams`],
//! [`FrameHist`] and [`SadTotal`], and the per-kernel [`FreezeFrame`],
//! [`MotionFrame`], [`BlurFrame`], [`PlaneParams`]/[`DownscaleParams`] and
//! [`AggParams`]. One integration test (`shaders.rs`) reads each WGSL struct's
//! size and member offsets from naga and compares them with these, and fails
//! when a binding holds a struct with no twin here; binding numbers live in
//! the kernel table ([`super::shaders::KERNELS`]), so comments cannot drift.

use bytemuck::{Pod, Zeroable};

/// Invocations per workgroup of every frame kernel (WGSL `WORKGROUP_SIZE`).
pub const WORKGROUP_SIZE: u32 = 256;

/// Words (4 bytes) each invocation reads in one dispatch (WGSL
/// `WORDS_PER_INVOCATION`), so one workgroup covers
/// [`WORDS_PER_GROUP`] words of a plane.
pub const WORDS_PER_INVOCATION: u32 = 8;

/// Words of a plane one workgroup covers.
pub const WORDS_PER_GROUP: u32 = WORKGROUP_SIZE * WORDS_PER_INVOCATION;

/// [`FrameParams::format`] of an I420 frame (WGSL `FORMAT_I420`).
pub const FORMAT_I420: u32 = 0;
/// [`FrameParams::format`] of an NV12 frame (WGSL `FORMAT_NV12`).
pub const FORMAT_NV12: u32 = 1;

/// [`FrameParams::prev_source`]: no previous frame, or neither `scene` nor
/// `stats` runs (WGSL `PREV_NONE`).
pub const PREV_NONE: u32 = 0;
/// [`FrameParams::prev_source`]: the previous frame is in the same chunk, its
/// planes at [`FrameParams::prev_offset`] and the other `prev_*` offsets
/// (WGSL `PREV_CHUNK`).
pub const PREV_CHUNK: u32 = 1;
/// [`FrameParams::prev_source`]: the previous frame ended the previous chunk;
/// its planes are in the kept-frame buffer, at the `prev_*` offsets (WGSL `PREV_KEPT`).
pub const PREV_KEPT: u32 = 2;

/// [`SadTotal`]s a frame in the `sad` buffer: luma, U, V (WGSL `SAD_PER_FRAME`).
pub const SAD_PER_FRAME: u32 = 3;

/// Where one frame's planes lie in the chunk buffer and what it is compared
/// with (WGSL `FrameParams`). Offsets and strides count 32-bit words.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct FrameParams {
    /// Index of this frame in the per-frame outputs.
    pub frame: u32,
    /// Luma width in pixels.
    pub width: u32,
    /// Luma height in pixels.
    pub height: u32,
    /// [`FORMAT_I420`] or [`FORMAT_NV12`].
    pub format: u32,
    /// Offset of the luma plane.
    pub y_offset: u32,
    /// Luma row stride.
    pub y_stride: u32,
    /// Offset of the U plane (I420) or the interleaved UV plane (NV12).
    pub u_offset: u32,
    /// Row stride of the U or UV plane.
    pub u_stride: u32,
    /// Offset of the V plane (I420; 0 for NV12).
    pub v_offset: u32,
    /// Row stride of the V plane (I420; 0 for NV12).
    pub v_stride: u32,
    /// Chroma width in samples.
    pub chroma_width: u32,
    /// Chroma height in samples.
    pub chroma_height: u32,
    /// [`PREV_NONE`], [`PREV_CHUNK`] or [`PREV_KEPT`].
    pub prev_source: u32,
    /// Offset of the previous frame's luma, in the chunk buffer
    /// ([`PREV_CHUNK`]) or in the kept frame ([`PREV_KEPT`]).
    pub prev_offset: u32,
    /// Luma row stride of the previous frame.
    pub prev_stride: u32,
    /// Offset of the previous frame's U (or UV) plane.
    pub prev_u_offset: u32,
    /// Its row stride.
    pub prev_u_stride: u32,
    /// Offset of the previous frame's V plane (I420).
    pub prev_v_offset: u32,
    /// Its row stride.
    pub prev_v_stride: u32,
    /// 1 when the previous frame has this frame's format, so `stats` compares
    /// its chroma too (UDIF, VDIF).
    pub prev_chroma: u32,
    /// Padding to 16 bytes, as uniform buffers lay structs out.
    pub _pad0: u32,
    /// Padding.
    pub _pad1: u32,
    /// Padding.
    pub _pad2: u32,
    /// Padding.
    pub _pad3: u32,
}

/// One frame's histograms: Y, U, V and saturation, 256 bins each, in the order
/// of [`crate::kernel::channel`], then hue (WGSL `FrameHist`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct FrameHist {
    /// `bins[channel * 256 + value]`.
    pub bins: [u32; 1024],
    /// Hue, one bin a degree: bin `d` at `hue[d / 32][d % 32]`; the last 24
    /// of the 384 stay 0 (an array shape bytemuck derives for).
    pub hue: [[u32; 32]; 12],
}

impl FrameHist {
    /// The histograms as [`FrameRaw::hist`](crate::kernel::FrameRaw::hist) holds them.
    pub fn to_channels(&self) -> [[u32; 256]; 4] {
        let mut out = [[0; 256]; 4];
        for (dst, src) in out.iter_mut().zip(self.bins.chunks_exact(256)) {
            dst.copy_from_slice(src);
        }
        out
    }

    /// The hue histogram as [`FrameRaw::hue_hist`](crate::kernel::FrameRaw::hue_hist) holds it.
    pub fn hue_bins(&self) -> [u32; 360] {
        let mut out = [0; 360];
        for (dst, src) in out.iter_mut().zip(self.hue.iter().flatten()) {
            *dst = *src;
        }
        out
    }
}

/// An exact 64-bit sum kept as two u32 words, the high one counting the
/// carries out of the low one (WGSL `SadTotal`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct SadTotal {
    /// Low 32 bits.
    pub lo: u32,
    /// High 32 bits.
    pub hi: u32,
}

impl SadTotal {
    /// The sum as a `u64`.
    pub fn value(self) -> u64 {
        u64::from(self.hi) << 32 | u64::from(self.lo)
    }
}

/// One frame's blur parameters (WGSL `BlurFrame`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct BlurFrame {
    /// Block width in pixels.
    pub block_width: u32,
    /// Block height in pixels.
    pub block_height: u32,
    /// Whole blocks across.
    pub cols: u32,
    /// Whole blocks down.
    pub rows: u32,
    /// First word of the frame's results.
    pub out_offset: u32,
    /// Low threshold, 0-255.
    pub low: u32,
    /// High threshold, 0-255.
    pub high: u32,
    /// Steps searched on each side.
    pub radius: u32,
}

/// Where one frame's tables and small image lie (WGSL `MotionFrame`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct MotionFrame {
    /// Word offset in `motion_tables` of the column table; the row table follows.
    pub table: u32,
    /// Small image width.
    pub small_width: u32,
    /// Small image height.
    pub small_height: u32,
    /// Word offset of the small image in `motion_out`.
    pub out_offset: u32,
}

/// Where a frame's planes lie and what it is compared with (WGSL
/// `FreezeFrame`). Offsets and strides count 32-bit words.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct FreezeFrame {
    /// Offset of the luma plane.
    pub y_offset: u32,
    /// Luma row stride.
    pub y_stride: u32,
    /// Offset of the U (or UV) plane.
    pub u_offset: u32,
    /// Its row stride.
    pub u_stride: u32,
    /// Offset of the V plane (I420).
    pub v_offset: u32,
    /// Its row stride.
    pub v_stride: u32,
    /// The frame's first word (its luma plane).
    pub start: u32,
    /// Words from `start` to the frame's end.
    pub words: u32,
    /// Low word of the largest frozen SAD.
    pub bound_lo: u32,
    /// High word of the largest frozen SAD.
    pub bound_hi: u32,
    /// 1 when the frame has the reference's size and format.
    pub comparable: u32,
    /// Padding to 16 bytes.
    pub _pad0: u32,
}

/// One plane of the source and the output it becomes (WGSL `PlaneParams`).
/// Offsets and strides count 32-bit words; widths and heights count samples.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct PlaneParams {
    /// Word offset of the source plane in `src`.
    pub src_offset: u32,
    /// Words from one source row to the next.
    pub src_stride: u32,
    /// Source samples a row.
    pub src_width: u32,
    /// Source rows.
    pub src_height: u32,
    /// Bytes from one source sample to the next (1, or 2 for NV12 chroma).
    pub step: u32,
    /// Byte of a row's first sample (1 for NV12's V, else 0).
    pub phase: u32,
    /// Word offset of the output plane in `dst`.
    pub dst_offset: u32,
    /// Words from one output row to the next.
    pub dst_stride: u32,
    /// Output samples a row.
    pub dst_width: u32,
    /// Output rows.
    pub dst_height: u32,
    /// Padding to 16 bytes (uniform array stride).
    pub _pad0: u32,
    /// Padding to 16 bytes (uniform array stride).
    pub _pad1: u32,
}

/// The uniform of one call: Y, U, V (WGSL `DownscaleParams`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct DownscaleParams {
    /// Y, U, V.
    pub planes: [PlaneParams; 3],
}

/// The uniform of one call (WGSL `AggParams`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct AggParams {
    /// Rows of the batch.
    pub rows: u32,
    /// Slots of the batch.
    pub slot_count: u32,
    /// Value columns.
    pub columns: u32,
    /// Words a slot.
    pub slot_words: u32,
    /// Words of each validity bitmap.
    pub valid_words: u32,
    /// 1 when pass C runs.
    pub first_last: u32,
    /// 1 when pass B sums the squares.
    pub squares: u32,
    /// Padding.
    pub _pad0: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sad_total_joins_words() {
        assert_eq!(SadTotal { lo: 7, hi: 0 }.value(), 7);
        assert_eq!(SadTotal { lo: 1, hi: 2 }.value(), (2 << 32) + 1);
    }

    #[test]
    fn frame_hist_splits_channels() {
        let mut h = FrameHist::zeroed();
        h.bins[3] = 1;
        h.bins[256 + 4] = 2;
        h.bins[1023] = 9;
        let c = h.to_channels();
        assert_eq!((c[0][3], c[1][4], c[3][255]), (1, 2, 9));
        h.hue[1][3] = 5;
        h.hue[11][7] = 6;
        let hue = h.hue_bins();
        assert_eq!((hue[35], hue[359]), (5, 6));
    }
}
