//! CPU twin of `shaders/downscale.wgsl`: an area (box) filter from any 4:2:0
//! frame to an I420 frame of a smaller size, in exact integers.
//!
//! Output sample `o` of a plane scaled from `s` to `d` samples covers the
//! source interval `[o * s / d, (o + 1) * s / d)`. Measured in units of `1 / d`
//! source sample, source sample `x` covers `[x * d, (x + 1) * d)` and output
//! sample `o` covers `[o * s, (o + 1) * s)`, so every overlap is a whole
//! number of units and the weights of one output sample add up to `s`.
//!
//! Per output sample, each source row's weighted sum is first turned into
//! 8-bit fixed point, `h = round(256 * row_sum / sw)` (at most 65280), and the
//! rows are then averaged, `round(sum(w_y * h) / (256 * sh))`. Both steps stay
//! below 2^32 for sides up to [`MAX_SIDE`], so the shader computes the very
//! same integers in `u32`.

use crate::error::Result;
use crate::frame::{FrameView, OwnedFrame, chroma_size};
pub use crate::setup::downscale::{MAX_SIDE, check_target};
pub(crate) use crate::setup::downscale::{SourcePlane, prepare_output, source_planes};

/// The first source sample and the weights of output sample `o` when `s`
/// samples are scaled to `d`: `weights` is filled with one weight a source
/// sample from `first` on; they add up to `s` (`s`, `d` at most [`MAX_SIDE`]).
pub(crate) fn weights(o: u32, s: u32, d: u32, weights: &mut Vec<u32>) -> u32 {
    weights.clear();
    let (begin, end) = (o * s, (o + 1) * s);
    let first = begin / d;
    let last = (end - 1) / d;
    for x in first..=last {
        let lo = (x * d).max(begin);
        let hi = ((x + 1) * d).min(end);
        weights.push(hi - lo);
    }
    first
}

/// The area-filtered value of one output sample of `src`: its columns start
/// at `x0` with weights `wx`, its rows at `y0` with weights `wy` (from
/// [`weights`]).
fn sample(src: &SourcePlane<'_>, (x0, wx): (usize, &[u32]), (y0, wy): (usize, &[u32])) -> u8 {
    let (sw, sh) = (src.width, src.height);
    let mut total = 0u32;
    for (j, &w_row) in wy.iter().enumerate() {
        let row = (y0 + j) * src.stride + src.phase;
        let mut row_sum = 0u32;
        for (i, &w) in wx.iter().enumerate() {
            row_sum += w * u32::from(src.data[row + (x0 + i) * src.step]);
        }
        total += w_row * ((row_sum * 256 + sw / 2) / sw);
    }
    // At most 255.5 before the division truncates, so it fits a byte.
    ((total + 128 * sh) / (256 * sh)) as u8
}

/// Scales one plane into `dst` (`dw` x `dh` samples, rows `dst_stride` apart).
/// The column weights are worked out once a plane and the row weights once
/// a row, not once a sample.
pub(crate) fn downscale_plane(
    src: &SourcePlane<'_>,
    dst: &mut [u8],
    dst_stride: usize,
    (dw, dh): (u32, u32),
) {
    let columns: Vec<(usize, Vec<u32>)> = (0..dw)
        .map(|ox| {
            let mut wx = Vec::new();
            let x0 = weights(ox, src.width, dw, &mut wx) as usize;
            (x0, wx)
        })
        .collect();
    let mut wy = Vec::new();
    for oy in 0..dh {
        let y0 = weights(oy, src.height, dh, &mut wy) as usize;
        let row = &mut dst[oy as usize * dst_stride..][..dw as usize];
        for ((x0, wx), out) in columns.iter().zip(row.iter_mut()) {
            *out = sample(src, (*x0, wx), (y0, &wy));
        }
    }
}

/// Downscales `frame` into `out`, an I420 frame of `width` x `height`.
///
/// # Errors
/// As [`check_target`].
pub fn downscale(
    frame: &FrameView<'_>,
    width: u32,
    height: u32,
    out: &mut OwnedFrame,
) -> Result<()> {
    check_target(frame, width, height)?;
    prepare_output(out, width, height);
    let (cw, ch) = chroma_size(width, height);
    for (p, src) in source_planes(frame).iter().enumerate() {
        let size = if p == 0 { (width, height) } else { (cw, ch) };
        let stride = out.strides[p];
        downscale_plane(src, &mut out.planes[p], stride, size);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::KernelError;
    use crate::frame::PixelFormat;
    use crate::synth;

    /// The exact area average as a rational, rounded half up: what the fixed
    /// point must come within half a level of.
    fn exact_average(src: &SourcePlane<'_>, ox: u32, oy: u32, dw: u32, dh: u32) -> f64 {
        let (sw, sh) = (u64::from(src.width), u64::from(src.height));
        let (dw, dh) = (u64::from(dw), u64::from(dh));
        let mut sum = 0u64;
        for y in 0..sh {
            let wy = ((y + 1) * dh)
                .min((u64::from(oy) + 1) * sh)
                .saturating_sub((y * dh).max(u64::from(oy) * sh));
            for x in 0..sw {
                let wx = ((x + 1) * dw)
                    .min((u64::from(ox) + 1) * sw)
                    .saturating_sub((x * dw).max(u64::from(ox) * sw));
                let p = src.data[y as usize * src.stride + src.phase + x as usize * src.step];
                sum += wx * wy * u64::from(p);
            }
        }
        sum as f64 / (sw * sh) as f64
    }

    #[test]
    fn weights_cover_the_source() {
        let mut w = Vec::new();
        assert_eq!(weights(0, 5, 2, &mut w), 0);
        assert_eq!(w, [2, 2, 1]);
        assert_eq!(weights(1, 5, 2, &mut w), 2);
        assert_eq!(w, [1, 2, 2]);
        assert_eq!(weights(2, 4, 4, &mut w), 2);
        assert_eq!(w, [4]);
    }

    #[test]
    fn close_to_the_exact_area_average() {
        for (format, (w, h), (dw, dh)) in [
            (PixelFormat::I420, (17, 9), (5, 4)),
            (PixelFormat::Nv12, (33, 31), (7, 3)),
            (PixelFormat::I420, (8, 8), (1, 1)),
        ] {
            let f = synth::random_frame(3, format, w, h, 3);
            let mut out = OwnedFrame::zeroed(PixelFormat::I420, 1, 1, 0);
            downscale(&f.view(), dw, dh, &mut out).unwrap();
            let view = out.view();
            let (cw, ch) = chroma_size(dw, dh);
            for (p, src) in source_planes(&f.view()).iter().enumerate() {
                let (pw, ph) = if p == 0 { (dw, dh) } else { (cw, ch) };
                for oy in 0..ph {
                    for ox in 0..pw {
                        let got = view.plane(p).data[oy as usize * out.strides[p] + ox as usize];
                        let want = exact_average(src, ox, oy, pw, ph);
                        assert!(
                            (f64::from(got) - want).abs() <= 0.5 + 1.0 / 256.0,
                            "{format:?} plane {p} ({ox},{oy}): {got} vs {want}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn same_size_is_a_copy() {
        let f = synth::random_frame(9, PixelFormat::I420, 13, 7, 2);
        let mut out = OwnedFrame::zeroed(PixelFormat::I420, 1, 1, 0);
        downscale(&f.view(), 13, 7, &mut out).unwrap();
        assert_eq!(out, OwnedFrame::from_view(&f.view()));
    }

    #[test]
    fn bad_targets_are_refused() {
        let f = synth::random_frame(9, PixelFormat::I420, 8, 6, 0);
        let mut out = OwnedFrame::zeroed(PixelFormat::I420, 1, 1, 0);
        for (w, h) in [(0, 3), (3, 0), (9, 6), (8, 7)] {
            let err = downscale(&f.view(), w, h, &mut out).unwrap_err();
            assert!(matches!(err, KernelError::InvalidFrame(_)), "{err}");
        }
    }
}
