//! CPU twin of `shaders/freeze.wgsl`: freezedetect's comparison of each frame
//! with its reference frame.
//!
//! ffmpeg's `vf_freezedetect.c` sums absolute differences over every plane:
//! luma `width x height`, and the chroma planes over `av_image_get_linesize`
//! bytes a row and `height >> 1` rows (rounded down, unlike the chroma
//! planes themselves). A frame within the noise bound
//! ([`crate::metrics::frozen_sad_bound`]) is frozen and keeps
//! the reference; any other frame becomes the reference for the next one.
//! The reference therefore depends on earlier decisions: [`FreezeState`] walks
//! a chunk in order, splitting each frame's rows over rayon's pool.
//!
//! In moving video the reference is almost always the frame just before, and
//! then `stats` has summed the same differences already (scene's luma SAD,
//! signalstats' UDIF/VDIF): with an even height (so that the chroma rows are
//! the same), the freeze SAD is taken from those sums instead of reading the
//! planes again.

use rayon::prelude::*;

use super::scene::row_sad;
use crate::frame::{FrameView, OwnedFrame, PixelFormat};
use crate::kernel::{FrameRaw, FreezeRaw};
use crate::metrics::freeze_bound::{chroma_rows, frozen_sad_bound, samples};

/// Rows summed by one rayon task.
const BAND_ROWS: usize = 64;

/// Whether `frame` can be compared with `reference`: same size and format.
pub fn comparable(frame: &FrameView<'_>, reference: &FrameView<'_>) -> bool {
    (frame.width(), frame.height(), frame.format())
        == (reference.width(), reference.height(), reference.format())
}

/// SAD of rows `rows` of plane `p`, `row_bytes` bytes each.
fn plane_sad(
    frame: &FrameView<'_>,
    reference: &FrameView<'_>,
    p: usize,
    row_bytes: usize,
    rows: std::ops::Range<usize>,
) -> u64 {
    let (a, b) = (frame.plane(p), reference.plane(p));
    rows.map(|y| row_sad(a.row(y, row_bytes), b.row(y, row_bytes)))
        .sum()
}

/// freezedetect's SAD of `frame` against `reference` (same size and format),
/// over Y and the chroma rows it compares.
pub fn frame_sad(frame: &FrameView<'_>, reference: &FrameView<'_>) -> u64 {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let crows = chroma_rows(frame.height());
    let (chroma_row, _) = frame.plane_extent(1);
    let chroma_planes: &[usize] = match frame.format() {
        PixelFormat::I420 => &[1, 2],
        PixelFormat::Nv12 => &[1],
    };
    let luma_bands = h.div_ceil(BAND_ROWS);
    let chroma_bands = crows.div_ceil(BAND_ROWS);
    (0..luma_bands + chroma_bands)
        .into_par_iter()
        .map(|band| {
            if band < luma_bands {
                let start = band * BAND_ROWS;
                plane_sad(frame, reference, 0, w, start..(start + BAND_ROWS).min(h))
            } else {
                let start = (band - luma_bands) * BAND_ROWS;
                let rows = start..(start + BAND_ROWS).min(crows);
                chroma_planes
                    .iter()
                    .map(|&p| plane_sad(frame, reference, p, chroma_row, rows.clone()))
                    .sum()
            }
        })
        .sum()
}

/// freezedetect's state across chunks: the reference frame, when it is not
/// in the chunk at hand.
#[derive(Debug)]
pub struct FreezeState {
    noise: f64,
    reference: Option<OwnedFrame>,
    /// Whether the carried reference is the last frame of the previous chunk.
    reference_is_last: bool,
}

/// Where the current reference frame is.
#[derive(Clone, Copy)]
enum Reference {
    None,
    Carried,
    Chunk(usize),
}

impl FreezeState {
    /// No reference yet; frames are frozen within `noise` (linear, as
    /// [`AnalysisConfig::freeze_noise`](crate::kernel::AnalysisConfig::freeze_noise)).
    pub fn new(noise: f64) -> Self {
        FreezeState {
            noise,
            reference: None,
            reference_is_last: false,
        }
    }

    /// Fills `out[i].freeze` for every frame of the chunk, in order, and keeps
    /// the reference for the next chunk. `out[i].luma_sad` and `chroma_sad`,
    /// when set, must be the differences of frame `i` to the frame before it
    /// (the last of the previous chunk for `i == 0`), as
    /// [`analyze_frame`](super::analyze_frame) leaves them.
    pub fn run(&mut self, frames: &[FrameView<'_>], out: &mut [FrameRaw]) {
        let mut at = if self.reference.is_some() {
            Reference::Carried
        } else {
            Reference::None
        };
        for (i, (frame, raw)) in frames.iter().zip(out.iter_mut()).enumerate() {
            let reference = match at {
                Reference::None => None,
                Reference::Carried => self.reference.as_ref().map(OwnedFrame::view),
                Reference::Chunk(k) => Some(frames[k]),
            };
            let reference_is_previous = match at {
                Reference::None => false,
                Reference::Carried => i == 0 && self.reference_is_last,
                Reference::Chunk(k) => k + 1 == i,
            };
            let summed = reference_is_previous
                .then(|| sad_from_stats(frame, raw))
                .flatten();
            raw.freeze = reference.filter(|r| comparable(frame, r)).map(|r| {
                let sad = summed.unwrap_or_else(|| frame_sad(frame, &r));
                let bound = frozen_sad_bound(self.noise, samples(frame.width(), frame.height()));
                FreezeRaw {
                    sad,
                    frozen: sad <= bound,
                }
            });
            if !raw.freeze.is_some_and(|f| f.frozen) {
                at = Reference::Chunk(i);
            }
        }
        // A reference carried through the whole chunk is older than its
        // last frame now.
        self.reference_is_last = match at {
            Reference::Chunk(k) => k + 1 == frames.len(),
            Reference::Carried => frames.is_empty() && self.reference_is_last,
            Reference::None => false,
        };
        if let Reference::Chunk(k) = at {
            match &mut self.reference {
                Some(r) => r.copy_from(&frames[k]),
                None => self.reference = Some(OwnedFrame::from_view(&frames[k])),
            }
        }
    }

    /// Forgets the reference, as at the start of a stream.
    pub fn reset(&mut self) {
        self.reference = None;
        self.reference_is_last = false;
    }
}

/// freezedetect's SAD of `frame` against the frame before it, from the sums
/// the stats pass made of the same differences; `None` when it made none or
/// when the height is odd (signalstats then counts one chroma row more than
/// freezedetect's `height >> 1`).
fn sad_from_stats(frame: &FrameView<'_>, raw: &FrameRaw) -> Option<u64> {
    if !frame.height().is_multiple_of(2) {
        return None;
    }
    let [u, v] = raw.chroma_sad?;
    Some(raw.luma_sad? + u + v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::random_frame;

    /// freezedetect's loop read plainly: every plane, every sample.
    fn naive_sad(a: &FrameView<'_>, b: &FrameView<'_>) -> u64 {
        let mut sad = 0u64;
        let cw = a.width().div_ceil(2) as usize;
        let planes: Vec<(usize, usize, usize)> = match a.format() {
            PixelFormat::I420 => vec![
                (0, a.width() as usize, a.height() as usize),
                (1, cw, (a.height() >> 1) as usize),
                (2, cw, (a.height() >> 1) as usize),
            ],
            PixelFormat::Nv12 => vec![
                (0, a.width() as usize, a.height() as usize),
                (1, 2 * cw, (a.height() >> 1) as usize),
            ],
        };
        for (p, w, h) in planes {
            let (pa, pb) = (a.plane(p), b.plane(p));
            for y in 0..h {
                for x in 0..w {
                    sad +=
                        u64::from(pa.data[y * pa.stride + x].abs_diff(pb.data[y * pb.stride + x]));
                }
            }
        }
        sad
    }

    #[test]
    fn sad_over_every_plane() {
        for format in [PixelFormat::I420, PixelFormat::Nv12] {
            for (w, h) in [(1, 1), (3, 5), (17, 9), (64, 200), (33, 131)] {
                let a = random_frame(1, format, w, h, 3);
                let b = random_frame(2, format, w, h, 0);
                assert_eq!(
                    frame_sad(&a.view(), &b.view()),
                    naive_sad(&a.view(), &b.view())
                );
            }
        }
        assert_eq!(samples(5, 3), 15 + 2 * 3);
        assert_eq!(samples(1, 1), 1);
    }

    #[test]
    fn sums_of_stats_serve_when_the_reference_is_the_previous_frame() {
        use crate::cpu::CpuBackend;
        use crate::kernel::{Kernel, KernelSet};
        use crate::{Backend, synth};
        // Moving frames, then a frozen stretch whose frames differ a little
        // from one another (so the SAD to the reference, which stays behind,
        // is not the SAD to the frame before), in chunks of 1 to 4, even and
        // odd heights, both layouts.
        for format in [PixelFormat::I420, PixelFormat::Nv12] {
            for (w, h) in [(17, 10), (16, 9), (33, 20)] {
                let moving = synth::clip(3, format, w, h, 6, 2);
                let still: Vec<_> = (0..4)
                    .map(|k| {
                        let mut f = moving[5].clone();
                        let p = &mut f.planes[0][k];
                        *p = if *p < 255 { *p + 1 } else { *p - 1 };
                        f
                    })
                    .collect();
                let clip: Vec<_> = moving.iter().chain(&still).chain(&moving).collect();
                let views: Vec<_> = clip.iter().map(|f| f.view()).collect();
                for split in 1..=4 {
                    let freeze = |set: KernelSet| {
                        let mut backend = CpuBackend::new(set);
                        let mut got = Vec::new();
                        for chunk in views.chunks(split) {
                            let mut out = Vec::new();
                            backend.analyze(chunk, &mut out).expect("cpu analysis");
                            got.extend(out.into_iter().map(|r| r.freeze));
                        }
                        got
                    };
                    let alone = freeze(KernelSet::of(&[Kernel::Freeze]));
                    let fused = freeze(KernelSet::of(&[Kernel::Freeze, Kernel::Stats]));
                    let what = format!("{format:?} {w}x{h} chunks of {split}");
                    assert_eq!(fused, alone, "{what}");
                    let frozen = alone.iter().filter(|f| f.is_some_and(|f| f.frozen));
                    assert!(frozen.count() >= 4, "{what}");
                    for (i, f) in alone.iter().enumerate().skip(1) {
                        assert!(f.is_some(), "{what}, frame {i}");
                    }
                }
            }
        }
    }

    #[test]
    fn reference_moves_only_on_change() {
        let a = random_frame(1, PixelFormat::I420, 16, 8, 0);
        let b = random_frame(2, PixelFormat::I420, 16, 8, 0);
        let frames = [a.view(), a.view(), b.view(), b.view(), a.view()];
        let mut out = vec![FrameRaw::new(16, 8); 5];
        let mut state = FreezeState::new(0.001);
        state.run(&frames[..2], &mut out[..2]);
        state.run(&frames[2..], &mut out[2..]);
        let frozen: Vec<_> = out.iter().map(|r| r.freeze.map(|f| f.frozen)).collect();
        assert_eq!(
            frozen,
            [None, Some(true), Some(false), Some(true), Some(false)]
        );
        assert_eq!(
            out[2].freeze.map(|f| f.sad),
            Some(naive_sad(&b.view(), &a.view()))
        );
    }
}
