//! Every kernel on both backends, on seeded random frames: the integers are
//! equal, bit for bit.
//!
//! Frames are small (lavapipe runs shaders on the CPU) except one 1080p case;
//! sizes cover one pixel, odd widths and heights, padded strides both usable
//! as they are and not, I420 and NV12, chunks of many lengths, chunk
//! boundaries, size changes, and each kernel alone.

use osprey_kernels::cpu::CpuBackend;
use osprey_kernels::gpu::{GpuBackend, MAX_FRAMES_PER_SUBMISSION};
use osprey_kernels::synth::{clip, random_frame};
use osprey_kernels::{Backend, FrameRaw, KernelSet, OwnedFrame, PixelFormat};

use crate::common::gpu_context;

const FORMATS: [PixelFormat; 2] = [PixelFormat::I420, PixelFormat::Nv12];
const STATS_ONLY: KernelSet = KernelSet {
    stats: true,
    ..KernelSet::NONE
};
const SCENE_ONLY: KernelSet = KernelSet {
    scene: true,
    ..KernelSet::NONE
};

/// Both backends, fed the same chunks.
struct Pair {
    cpu: CpuBackend,
    gpu: GpuBackend,
}

impl Pair {
    fn new(kernels: KernelSet) -> Self {
        Pair {
            cpu: CpuBackend::new(kernels),
            gpu: GpuBackend::new(gpu_context(), kernels).expect("pipelines build"),
        }
    }

    /// Runs one chunk on both, asserts equal results, and returns them.
    fn chunk(&mut self, frames: &[OwnedFrame], what: &str) -> Vec<FrameRaw> {
        let views: Vec<_> = frames.iter().map(OwnedFrame::view).collect();
        let (mut want, mut got) = (Vec::new(), Vec::new());
        self.cpu
            .analyze(&views, &mut want)
            .expect("the CPU twin never fails");
        self.gpu
            .analyze(&views, &mut got)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(got.len(), want.len(), "{what}");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(
                (g.width, g.height),
                (w.width, w.height),
                "{what}, frame {i}: size"
            );
            assert_eq!(g.luma_sad, w.luma_sad, "{what}, frame {i}: luma_sad");
            assert_eq!(g.chroma_sad, w.chroma_sad, "{what}, frame {i}: chroma_sad");
            assert_eq!(g.hue_hist, w.hue_hist, "{what}, frame {i}: hue_hist");
            assert_eq!(g.freeze, w.freeze, "{what}, frame {i}: freeze");
            for c in 0..4 {
                if g.hist[c] != w.hist[c] {
                    let bin = (0..256)
                        .find(|&b| g.hist[c][b] != w.hist[c][b])
                        .unwrap_or(0);
                    panic!(
                        "{what}, frame {i}: channel {c} bin {bin}: gpu {} cpu {}",
                        g.hist[c][bin], w.hist[c][bin]
                    );
                }
            }
        }
        assert_eq!(got, want, "{what}");
        let timings = self
            .gpu
            .last_timings()
            .expect("a successful analyze records timings");
        assert_eq!(timings.frames, frames.len(), "{what}");
        got
    }

    fn reset(&mut self) {
        self.cpu.reset();
        self.gpu.reset();
    }
}

/// Frames of one size: `count` random ones from `seed`.
fn frames(
    seed: u64,
    format: PixelFormat,
    w: u32,
    h: u32,
    pad: usize,
    count: usize,
) -> Vec<OwnedFrame> {
    (0..count as u64)
        .map(|i| random_frame(seed.wrapping_mul(31).wrapping_add(i), format, w, h, pad))
        .collect()
}

/// Every size in `sizes`, both formats, every pad in `pads`: a chunk of three
/// frames then a chunk of two, so `scene` also crosses a chunk boundary.
fn sweep(sizes: &[(u32, u32)], pads: &[usize]) {
    let mut pair = Pair::new(KernelSet::ALL);
    for (s, &(w, h)) in sizes.iter().enumerate() {
        for format in FORMATS {
            for &pad in pads {
                let what = format!("{w}x{h} {format:?} pad {pad}");
                let seed =
                    (s as u64) << 16 | (pad as u64) << 1 | (format == PixelFormat::Nv12) as u64;
                let all = frames(seed, format, w, h, pad, 5);
                let first = pair.chunk(&all[..3], &what);
                assert!(first[0].luma_sad.is_none(), "{what}: a fresh stream");
                assert!(first[1].luma_sad.is_some(), "{what}");
                let second = pair.chunk(&all[3..], &what);
                assert!(
                    second[0].luma_sad.is_some(),
                    "{what}: across the chunk boundary"
                );
                pair.reset();
            }
        }
    }
}

#[test]
fn one_and_two_pixels() {
    sweep(&[(1, 1), (2, 2), (1, 2), (2, 1)], &[0, 1, 3, 64]);
}

#[test]
fn odd_sizes_and_padded_strides() {
    sweep(
        &[(3, 5), (17, 9), (33, 31), (16, 8), (5, 1), (1, 7)],
        &[0, 1, 3, 64],
    );
}

#[test]
fn a_frame_wider_than_a_workgroup() {
    sweep(&[(641, 359)], &[0, 3]);
}

#[test]
fn chunks_of_every_length_keep_scene_continuity() {
    for format in FORMATS {
        let clip = clip(11, format, 48, 26, 40, 7);
        let mut pair = Pair::new(KernelSet::ALL);
        let mut at = 0;
        for (n, len) in [1, 2, 3, 1, 5, 8, 4, 16].into_iter().enumerate() {
            let end = (at + len).min(clip.len());
            let got = pair.chunk(
                &clip[at..end],
                &format!("{format:?} chunk {n} ({at}..{end})"),
            );
            assert_eq!(got[0].luma_sad.is_some(), at > 0);
            at = end;
        }
        assert_eq!(at, clip.len());
    }
}

#[test]
fn empty_chunks_keep_the_previous_frame() {
    let clip = clip(3, PixelFormat::I420, 9, 7, 3, 10);
    let mut pair = Pair::new(KernelSet::ALL);
    pair.chunk(&clip[..1], "first");
    assert!(pair.chunk(&[], "empty").is_empty());
    let got = pair.chunk(&clip[1..], "after the empty chunk");
    assert!(got[0].luma_sad.is_some());
}

#[test]
fn size_changes_within_and_across_chunks() {
    let a = |seed| random_frame(seed, PixelFormat::I420, 21, 13, 0);
    let b = |seed| random_frame(seed, PixelFormat::Nv12, 22, 13, 2);
    let mut pair = Pair::new(KernelSet::ALL);
    // Within one chunk: a a b b a.
    let got = pair.chunk(&[a(1), a(2), b(3), b(4), a(5)], "within a chunk");
    let sads: Vec<_> = got.iter().map(|r| r.luma_sad.is_some()).collect();
    assert_eq!(sads, [false, true, false, true, false]);
    // Across chunks: the next chunk starts with b, the previous ended with a.
    let got = pair.chunk(&[b(6), b(7)], "across chunks");
    assert_eq!(got[0].luma_sad, None);
    // Same size, other format: the luma planes still compare.
    let same_size_nv12 = random_frame(8, PixelFormat::Nv12, 22, 13, 0);
    let same_size_i420 = random_frame(9, PixelFormat::I420, 22, 13, 5);
    let got = pair.chunk(&[same_size_nv12, same_size_i420], "format change");
    assert!(got[0].luma_sad.is_some() && got[1].luma_sad.is_some());
    // A larger frame grows every buffer, the previous-frame slot included,
    // while this chunk's first frame still compares with what the slot held.
    let big = frames(10, PixelFormat::I420, 130, 70, 1, 2);
    let got = pair.chunk(
        &[
            random_frame(20, PixelFormat::Nv12, 22, 13, 0),
            big[0].clone(),
        ],
        "growth while the slot is in use",
    );
    assert!(got[0].luma_sad.is_some());
    pair.chunk(&big, "growth");
    let bigger = frames(12, PixelFormat::I420, 130, 70, 0, 9);
    let got = pair.chunk(&bigger, "growth across the boundary");
    assert!(got[0].luma_sad.is_some());
}

#[test]
fn predecessors_with_other_strides() {
    // 16 wide: pad 0 and pad 64 keep their strides (16, 80), pad 3 is repacked.
    let f = |seed, pad| random_frame(seed, PixelFormat::I420, 16, 8, pad);
    let mut pair = Pair::new(KernelSet::ALL);
    pair.chunk(&[f(1, 0), f(2, 64), f(3, 3), f(4, 0)], "within a chunk");
    let got = pair.chunk(&[f(5, 64)], "from the slot");
    assert!(got[0].luma_sad.is_some());
    let got = pair.chunk(&[f(6, 3), f(7, 64)], "from the slot, repacked");
    assert!(got[0].luma_sad.is_some());
}

#[test]
fn reset_forgets_the_previous_frame() {
    let clip = clip(5, PixelFormat::Nv12, 10, 6, 4, 10);
    let mut pair = Pair::new(KernelSet::ALL);
    pair.chunk(&clip[..2], "before reset");
    pair.reset();
    let got = pair.chunk(&clip[2..], "after reset");
    assert_eq!(got[0].luma_sad, None);
    assert!(got[1].luma_sad.is_some());
}

#[test]
fn each_kernel_alone() {
    let black_only = KernelSet {
        black: true,
        ..KernelSet::NONE
    };
    for kernels in [STATS_ONLY, SCENE_ONLY, black_only] {
        for format in FORMATS {
            let clip = clip(17, format, 35, 19, 6, 4);
            let mut pair = Pair::new(kernels);
            let what = format!("{kernels:?} {format:?}");
            let first = pair.chunk(&clip[..4], &what);
            let second = pair.chunk(&clip[4..], &what);
            for raw in first.iter().chain(&second) {
                let counted: u32 = raw.hist[0].iter().sum();
                assert_eq!(counted > 0, kernels.needs_luma_histogram(), "{what}");
            }
            assert_eq!(
                second[0].luma_sad.is_some(),
                kernels.needs_luma_sad(),
                "{what}"
            );
            assert_eq!(second[0].chroma_sad.is_some(), kernels.stats, "{what}");
        }
    }
}

const FREEZE_ONLY: KernelSet = KernelSet {
    freeze: true,
    ..KernelSet::NONE
};

/// `frame` with 1 added to or taken from every `every`-th byte of every plane
/// (wrapping inside 0..=255 the other way at the ends).
fn with_noise(frame: &OwnedFrame, every: usize) -> OwnedFrame {
    let mut out = frame.clone();
    for plane in &mut out.planes {
        for (i, b) in plane.iter_mut().enumerate() {
            if i % every == 0 {
                *b = if *b == 255 || (i / every).is_multiple_of(2) && *b > 0 {
                    *b - 1
                } else {
                    *b + 1
                };
            }
        }
    }
    out
}

/// A clip with frozen stretches: exact repeats, repeats with sparse ±1 noise
/// (within freezedetect's default -60 dB), and with ±1 on every sample (not
/// within it: 1/256 > 0.001).
fn frozen_clip(
    format: PixelFormat,
    w: u32,
    h: u32,
    pad: usize,
) -> (Vec<OwnedFrame>, Vec<Option<bool>>) {
    let a = random_frame(1, format, w, h, pad);
    let b = random_frame(2, format, w, h, pad);
    let frames = vec![
        a.clone(),
        a.clone(),
        with_noise(&a, 16),
        a.clone(),
        b.clone(),
        with_noise(&b, 1),
        with_noise(&b, 1),
        b.clone(),
        b,
        a,
    ];
    let want = vec![
        None,
        Some(true),
        Some(true),
        Some(true),
        Some(false),
        Some(false),
        Some(true),
        Some(false),
        Some(true),
        Some(false),
    ];
    (frames, want)
}

#[test]
fn freeze_follows_its_reference_across_chunks() {
    for format in FORMATS {
        for (w, h, pad) in [(35, 19, 0), (64, 48, 3), (17, 1, 1)] {
            let (clip, want) = frozen_clip(format, w, h, pad);
            for kernels in [FREEZE_ONLY, KernelSet::ALL] {
                for split in [1, 2, 3, 4, 10] {
                    let what = format!("{format:?} {w}x{h} pad {pad} chunks of {split}");
                    let mut pair = Pair::new(kernels);
                    let mut got = Vec::new();
                    for chunk in clip.chunks(split) {
                        got.extend(pair.chunk(chunk, &what));
                    }
                    let frozen: Vec<_> = got.iter().map(|r| r.freeze.map(|f| f.frozen)).collect();
                    // Tiny frames: sparse noise on a 17x1 frame is too much
                    // for -60 dB; only the exact repeats are sure.
                    if w > 17 {
                        assert_eq!(frozen, want, "{what}");
                    }
                    assert_eq!(got[1].freeze.map(|f| f.sad), Some(0), "{what}");
                }
            }
        }
    }
}

#[test]
fn freeze_restarts_after_a_size_change() {
    let a = random_frame(3, PixelFormat::I420, 20, 10, 0);
    let b = random_frame(4, PixelFormat::I420, 22, 10, 0);
    let clip = [a.clone(), b.clone(), b, a.clone(), a];
    for split in [1, 2, 5] {
        let mut pair = Pair::new(FREEZE_ONLY);
        let mut got = Vec::new();
        for chunk in clip.chunks(split) {
            got.extend(pair.chunk(chunk, &format!("chunks of {split}")));
        }
        let frozen: Vec<_> = got.iter().map(|r| r.freeze.map(|f| f.frozen)).collect();
        assert_eq!(
            frozen,
            [None, None, Some(true), None, Some(true)],
            "chunks of {split}"
        );
    }
}

#[test]
fn chroma_differences_need_the_same_format() {
    let i420 = random_frame(5, PixelFormat::I420, 13, 7, 2);
    let nv12 = random_frame(6, PixelFormat::Nv12, 13, 7, 0);
    let clip = [i420.clone(), nv12.clone(), nv12, i420.clone(), i420];
    for split in [1, 2, 5] {
        let mut pair = Pair::new(STATS_ONLY);
        let mut got = Vec::new();
        for chunk in clip.chunks(split) {
            got.extend(pair.chunk(chunk, &format!("chunks of {split}")));
        }
        let has: Vec<_> = got
            .iter()
            .map(|r| (r.luma_sad.is_some(), r.chroma_sad.is_some()))
            .collect();
        assert_eq!(
            has,
            [
                (false, false),
                (true, false),
                (true, true),
                (true, false),
                (true, true)
            ],
            "chunks of {split}"
        );
        assert_eq!(got[4].chroma_sad, Some([0, 0]));
        assert!(got[2].hue_hist.iter().sum::<u32>() == 7 * 4);
    }
}

#[test]
fn no_kernels_still_reports_sizes() {
    let none = KernelSet::NONE;
    let mut pair = Pair::new(none);
    let got = pair.chunk(&frames(1, PixelFormat::I420, 7, 3, 0, 2), "no kernels");
    assert!(got.iter().all(|r| r == &FrameRaw::new(7, 3)));
}

#[test]
fn long_chunks_are_split_into_submissions() {
    let clip = clip(
        23,
        PixelFormat::I420,
        12,
        8,
        MAX_FRAMES_PER_SUBMISSION + 7,
        9,
    );
    let mut pair = Pair::new(KernelSet::ALL);
    pair.chunk(&clip, "long chunk");
    let timings = pair.gpu.last_timings().expect("recorded");
    assert_eq!(timings.submissions, 2);
}

#[test]
fn extreme_values() {
    for format in FORMATS {
        let mut black = OwnedFrame::zeroed(format, 13, 11, 3);
        let mut white = black.clone();
        for p in &mut white.planes {
            p.fill(255);
        }
        // Chroma (0, 0) and (255, 255): saturation 181 and 179.
        let mut pair = Pair::new(KernelSet::ALL);
        let got = pair.chunk(&[black.clone(), white, black.clone()], "extremes");
        assert_eq!(got[1].luma_sad, Some(255 * 13 * 11));
        assert_eq!(got[0].hist[3][181], 7 * 6);
        assert_eq!(got[1].hist[3][179], 7 * 6);
        // Neutral chroma: saturation 0.
        for p in &mut black.planes[1..] {
            p.fill(128);
        }
        let got = pair.chunk(&[black], "neutral");
        assert_eq!(got[0].hist[3][0], 7 * 6);
    }
}

/// The 64-bit SAD crosses 2^32, so the carry into the high word is exercised.
#[test]
fn luma_sad_beyond_32_bits() {
    let (w, h) = (4352, 4096);
    let black = OwnedFrame::zeroed(PixelFormat::Nv12, w, h, 0);
    let mut white = black.clone();
    white.planes[0].fill(255);
    let mut pair = Pair::new(SCENE_ONLY);
    let got = pair.chunk(&[black, white], "beyond 32 bits");
    let want = 255 * u64::from(w) * u64::from(h);
    assert!(want > u64::from(u32::MAX));
    assert_eq!(got[1].luma_sad, Some(want));
}

#[test]
fn full_hd() {
    let clip = clip(29, PixelFormat::I420, 1920, 1080, 3, 2);
    let mut pair = Pair::new(KernelSet::ALL);
    pair.chunk(&clip[..1], "1080p first frame");
    let got = pair.chunk(&clip[1..], "1080p chunk");
    assert!(got.iter().all(|r| r.luma_sad.is_some()));
    let t = pair.gpu.last_timings().expect("recorded");
    eprintln!(
        "1080p chunk of {} frames on {}: upload {:?}, dispatch {:?}, readback {:?}",
        t.frames,
        pair.gpu.adapter(),
        t.upload,
        t.dispatch,
        t.readback
    );
}

/// A SAD of exactly freezedetect's bound is frozen, one more is not: `z`
/// then `z` with `bound` and `bound + 1` luma samples raised by one.
#[test]
fn freeze_bound_is_inclusive() {
    use osprey_kernels::metrics::freeze::sample_count;
    use osprey_kernels::metrics::frozen_sad_bound;
    for format in FORMATS {
        let (w, h) = (64, 47);
        let z = OwnedFrame::zeroed(format, w, h, 0);
        let bound = frozen_sad_bound(0.001, sample_count(w, h));
        let raised = |count: u64| {
            let mut f = z.clone();
            for b in f.planes[0].iter_mut().take(count as usize) {
                *b = 1;
            }
            f
        };
        let clip = [z.clone(), raised(bound), raised(bound + 1)];
        for split in [1, 3] {
            let what = format!("{format:?} chunks of {split}");
            let mut pair = Pair::new(FREEZE_ONLY);
            let mut got = Vec::new();
            for chunk in clip.chunks(split) {
                got.extend(pair.chunk(chunk, &what));
            }
            let freeze: Vec<_> = got
                .iter()
                .map(|r| r.freeze.map(|f| (f.sad, f.frozen)))
                .collect();
            assert_eq!(
                freeze,
                [None, Some((bound, true)), Some((bound + 1, false))],
                "{what}"
            );
        }
    }
}
