//! The blur kernel: the CPU twin against a naive reading of ffmpeg's C source
//! (libavfilter/edge_common.c and vf_blurdetect.c, whole-frame buffers, float
//! widths summed in double, the pooling in float), and the GPU against the CPU
//! bit for bit.
//!
//! Frames are seeded noise, gradients, flat areas with outliers, extremes
//! (the four kinds of `synth::random_frame`) and soft-edged rectangles whose
//! ramps are wide enough to reach the search radius and the frame border;
//! sizes from 1x1 (no interior) to odd ones with padded strides, I420 and NV12,
//! whole-frame blocks and small blocks with leftover columns and rows.

use osprey_kernels::cpu::CpuBackend;
use osprey_kernels::gpu::GpuBackend;
use osprey_kernels::kernel::{AnalysisConfig, BlurBlock, BlurParams, BlurRaw};
use osprey_kernels::metrics::blur::finish;
use osprey_kernels::synth::random_frame;
use osprey_kernels::{Backend, FrameRaw, FrameView, KernelSet, OwnedFrame, PixelFormat};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::common::gpu_context;

const BLUR_ONLY: KernelSet = KernelSet {
    blur: true,
    ..KernelSet::NONE
};

/// What the naive reference finds in one frame.
#[derive(Debug)]
struct Reference {
    /// `(block_total_width, block_count)` of every block, as ffmpeg sums them.
    blocks: Vec<(f64, u32)>,
    /// `calculate_blur`'s result (NaN when no block qualifies).
    blur: f32,
    laplacian: (i64, u64, u64),
}

/// blurdetect on the luma plane, transcribed from the C source with its
/// types: whole-frame buffers, `uint16_t` gradients, `float` widths.
fn reference(frame: &FrameView<'_>, p: &BlurParams) -> Reference {
    let (w, h) = (frame.width() as i32, frame.height() as i32);
    let plane = frame.plane(0);
    let src = |x: i32, y: i32| i32::from(plane.data[y as usize * plane.stride + x as usize]);
    let idx = |x: i32, y: i32| (y * w + x) as usize;
    let n = (w * h) as usize;

    // ff_gaussian_blur (pixels within two of the border are copied).
    let mut blurred = vec![0u8; n];
    for y in 0..h {
        for x in 0..w {
            blurred[idx(x, y)] = if x >= 2 && x < w - 2 && y >= 2 && y < h - 2 {
                let k = [
                    [2, 4, 5, 4, 2],
                    [4, 9, 12, 9, 4],
                    [5, 12, 15, 12, 5],
                    [4, 9, 12, 9, 4],
                    [2, 4, 5, 4, 2],
                ];
                let mut s = 0;
                for (dy, row) in k.iter().enumerate() {
                    for (dx, &c) in row.iter().enumerate() {
                        s += c * src(x + dx as i32 - 2, y + dy as i32 - 2);
                    }
                }
                (s / 159) as u8
            } else {
                src(x, y) as u8
            };
        }
    }
    let b = |x: i32, y: i32| i32::from(blurred[idx(x, y)]);

    // ff_sobel (gradients start zeroed, as av_calloc leaves them).
    let mut grad = vec![0u16; n];
    let mut dir = vec![0i8; n];
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let gx = -b(x - 1, y - 1) + b(x + 1, y - 1) - 2 * b(x - 1, y) + 2 * b(x + 1, y)
                - b(x - 1, y + 1)
                + b(x + 1, y + 1);
            let gy = -b(x - 1, y - 1) + b(x - 1, y + 1) - 2 * b(x, y - 1) + 2 * b(x, y + 1)
                - b(x + 1, y - 1)
                + b(x + 1, y + 1);
            grad[idx(x, y)] = (gx.abs() + gy.abs()) as u16;
            // get_rounded_direction: 0 = 45UP, 1 = 45DOWN, 2 = HORIZONTAL, 3 = VERTICAL.
            let mut d = 3;
            if gx != 0 {
                let (gx, gy) = if gx < 0 { (-gx, -gy) } else { (gx, gy) };
                let gy = gy * 65536;
                let (t1, t3) = (27146 * gx, 158218 * gx);
                if gy > -t3 && gy < -t1 {
                    d = 0;
                } else if gy > -t1 && gy < t1 {
                    d = 2;
                } else if gy > t1 && gy < t3 {
                    d = 1;
                }
            }
            dir[idx(x, y)] = d;
        }
    }

    // ff_non_maximum_suppression into a zeroed buffer.
    let mut tmp = vec![0u8; n];
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let g = grad[idx(x, y)];
            let ((ay, ax), (by, bx)) = match dir[idx(x, y)] {
                0 => ((1, -1), (-1, 1)),
                1 => ((-1, -1), (1, 1)),
                2 => ((0, -1), (0, 1)),
                _ => ((-1, 0), (1, 0)),
            };
            if g > grad[idx(x + ax, y + ay)] && g > grad[idx(x + bx, y + by)] {
                tmp[idx(x, y)] = g.min(255) as u8;
            }
        }
    }

    // ff_double_threshold, in place as blurdetect calls it.
    let low = (f64::from(p.low as f32) * 255.0 + 0.5) as u8;
    let high = (f64::from(p.high as f32) * 255.0 + 0.5) as u8;
    for y in 0..h {
        for x in 0..w {
            let s = tmp[idx(x, y)];
            if s > high {
                continue;
            }
            let inner = x > 0 && x < w - 1 && y > 0 && y < h - 1;
            let keep = inner
                && s > low
                && [
                    (-1, -1),
                    (0, -1),
                    (1, -1),
                    (-1, 0),
                    (1, 0),
                    (-1, 1),
                    (0, 1),
                    (1, 1),
                ]
                .iter()
                .any(|&(dx, dy)| tmp[idx(x + dx, y + dy)] > high);
            if !keep {
                tmp[idx(x, y)] = 0;
            }
        }
    }

    // edge_width, returning ffmpeg's float.
    let radius = p.radius as i32;
    let edge_width = |i: i32, j: i32, d: i8| -> f32 {
        let (dx, dy) = match d {
            2 => (1, 0),
            3 => (0, 1),
            0 => (1, -1),
            _ => (1, 1),
        };
        let mut width = 0f32;
        let sign = if b(i, j) > b(i - dx, j - dy) { 1 } else { -1 };
        let mut k = 0;
        while k < radius {
            let (x, y) = (i - k * dx - dx, j - k * dy - dy);
            if x < 0 || x >= w || y < 0 || y >= h {
                return 0.0;
            }
            if (b(x + dx, y + dy) - b(x, y)) * sign <= 0 {
                break;
            }
            k += 1;
        }
        width += k as f32;
        k = 0;
        while k < radius {
            let (x, y) = (i + k * dx + dx, j + k * dy + dy);
            if x < 0 || x >= w || y < 0 || y >= h {
                return 0.0;
            }
            if (b(x - dx, y - dy) - b(x, y)) * sign >= 0 {
                break;
            }
            k += 1;
        }
        width += k as f32;
        if d == 0 || d == 1 {
            width = (f64::from(width) * 0.7) as f32;
        }
        width
    };

    // calculate_blur.
    let (bw, bh) = match (p.block_width, p.block_height) {
        (Some(bw), Some(bh)) if bw > 0 && bh > 0 => (bw as i32, bh as i32),
        _ => (w, h),
    };
    let mut blocks = Vec::new();
    let mut blks: Vec<f32> = Vec::new();
    for blkj in 0..h / bh {
        for blki in 0..w / bw {
            let (mut total, mut count) = (0f64, 0u32);
            for inj in 0..bh {
                for ini in 0..bw {
                    let (i, j) = (blki * bw + ini, blkj * bh + inj);
                    if tmp[idx(i, j)] > 0 {
                        let width = edge_width(i, j, dir[idx(i, j)]);
                        if width > 0.001 {
                            count += 1;
                            total += f64::from(width);
                        }
                    }
                }
            }
            blocks.push((total, count));
            if total >= 2.0 {
                blks.push((total / f64::from(count)) as f32);
            }
        }
    }
    blks.sort_by(|a, b| a.partial_cmp(b).expect("no NaN widths"));
    let keep = (blks.len() as f32 * (f64::from(p.block_pct) / 100.0) as f32).ceil() as usize;
    let mut total_width = 0f32;
    for v in &blks[..keep] {
        total_width += v;
    }
    let blur = total_width / keep as f32;

    // The Laplacian of the unblurred plane over the interior.
    let mut lap = (0i64, 0u64, 0u64);
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let l = src(x, y - 1) + src(x, y + 1) + src(x - 1, y) + src(x + 1, y) - 4 * src(x, y);
            lap.0 += i64::from(l);
            lap.1 += (l * l) as u64;
            lap.2 += 1;
        }
    }
    Reference {
        blocks,
        blur,
        laplacian: lap,
    }
}

/// A frame of soft-edged rectangles on a gradient: ramps from 1 to 40 pixels
/// wide, some running off the frame, so widths reach the radius and the border.
fn soft_shapes(seed: u64, format: PixelFormat, width: u32, height: u32, pad: usize) -> OwnedFrame {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut f = random_frame(seed, format, width, height, pad);
    let (w, h) = (width as i32, height as i32);
    let shapes: Vec<_> = (0..rng.random_range(1..6))
        .map(|_| {
            let x0 = rng.random_range(-w / 4..w);
            let y0 = rng.random_range(-h / 4..h);
            let x1 = x0 + rng.random_range(1..w.max(2));
            let y1 = y0 + rng.random_range(1..h.max(2));
            let ramp = rng.random_range(1..40);
            let level = rng.random_range(-120..120);
            (x0, y0, x1, y1, ramp, level)
        })
        .collect();
    let stride = f.strides[0];
    for y in 0..h {
        for x in 0..w {
            let mut v = 60 + (x * 100) / w.max(1) + (y * 50) / h.max(1);
            for &(x0, y0, x1, y1, ramp, level) in &shapes {
                // Distance inside the rectangle, clamped to the ramp.
                let d = (x - x0).min(x1 - x).min(y - y0).min(y1 - y).clamp(0, ramp);
                v += level * d / ramp;
            }
            f.planes[0][y as usize * stride + x as usize] = v.clamp(0, 255) as u8;
        }
    }
    f
}

fn run(backend: &mut dyn Backend, frames: &[OwnedFrame]) -> Vec<FrameRaw> {
    let views: Vec<_> = frames.iter().map(OwnedFrame::view).collect();
    let mut out = Vec::new();
    backend.analyze(&views, &mut out).expect("analysis runs");
    out
}

fn config(params: BlurParams) -> AnalysisConfig {
    AnalysisConfig {
        blur: params,
        ..AnalysisConfig::from(BLUR_ONLY)
    }
}

/// The parameter sets every test runs: ffmpeg's defaults, small blocks with
/// leftovers and a short radius, and extreme thresholds.
fn param_sets() -> [BlurParams; 3] {
    [
        BlurParams::default(),
        BlurParams {
            radius: 7,
            block_pct: 50,
            block_width: Some(7),
            block_height: Some(5),
            ..BlurParams::default()
        },
        BlurParams {
            low: 0.0,
            high: 0.5,
            radius: 100,
            block_pct: 100,
            block_width: Some(16),
            block_height: Some(16),
        },
    ]
}

/// Frames of every kind and size, `count` a size.
fn frames(sizes: &[(u32, u32)], seed: u64) -> Vec<OwnedFrame> {
    let mut out = Vec::new();
    let mut seed = seed;
    for &(w, h) in sizes {
        for (k, format) in [PixelFormat::I420, PixelFormat::Nv12]
            .into_iter()
            .enumerate()
        {
            for pad in [0, 3] {
                seed += 1;
                out.push(random_frame(seed, format, w, h, pad + k));
                out.push(soft_shapes(seed + 500, format, w, h, pad));
            }
        }
    }
    out
}

const SMALL: [(u32, u32); 9] = [
    (1, 1),
    (2, 3),
    (3, 3),
    (4, 5),
    (5, 5),
    (6, 4),
    (17, 9),
    (33, 31),
    (64, 48),
];

fn check_against_reference(frame: &FrameView<'_>, raw: &BlurRaw, params: &BlurParams, what: &str) {
    let want = reference(frame, params);
    let got: Vec<(f64, u32)> = raw
        .blocks
        .iter()
        .map(|b| (b.width_sum as f64 / BlurBlock::WIDTH_ONE as f64, b.edges))
        .collect();
    assert_eq!(got, want.blocks, "{what}: blocks");
    assert_eq!(
        (raw.laplacian_sum, raw.laplacian_sq, raw.laplacian_count),
        want.laplacian,
        "{what}: laplacian"
    );
    let finished = finish(raw, params).map(|b| b.blur);
    match finished {
        Some(Some(v)) => assert_eq!(v, f64::from(want.blur), "{what}: blur"),
        _ => assert!(
            want.blur.is_nan(),
            "{what}: no blur, ffmpeg has {}",
            want.blur
        ),
    }
}

#[test]
fn cpu_twin_matches_the_c_source() {
    let frames = frames(&SMALL, 10);
    let mut edges = 0;
    for params in param_sets() {
        let raws = run(&mut CpuBackend::new(config(params)), &frames);
        for (f, raw) in frames.iter().zip(&raws) {
            let what = format!("{}x{} {:?} {params:?}", f.width, f.height, f.format);
            check_against_reference(&f.view(), &raw.blur, &params, &what);
            edges += raw.blur.blocks.iter().map(|b| b.edges).sum::<u32>();
        }
    }
    assert!(edges > 1000, "the frames have edges to measure ({edges})");
}

#[test]
fn cpu_twin_matches_the_c_source_at_vga() {
    let frames = frames(&[(640, 480)], 99);
    let params = BlurParams::default();
    let raws = run(&mut CpuBackend::new(config(params)), &frames);
    for (f, raw) in frames.iter().zip(&raws) {
        let what = format!("{}x{} {:?}", f.width, f.height, f.format);
        check_against_reference(&f.view(), &raw.blur, &params, &what);
    }
}

#[test]
fn gpu_matches_cpu_bit_for_bit() {
    let mut frames = frames(&SMALL, 20);
    frames.extend(self::frames(&[(161, 97)], 30));
    for params in param_sets() {
        let cpu = run(&mut CpuBackend::new(config(params)), &frames);
        let mut gpu = GpuBackend::new(gpu_context(), config(params)).expect("pipelines build");
        let got = run(&mut gpu, &frames);
        // Again, from the scratch buffers the first run left behind.
        let again = run(&mut gpu, &frames[frames.len() / 2..]);
        for (i, (g, c)) in got.iter().zip(&cpu).enumerate() {
            let f = &frames[i];
            assert_eq!(
                g.blur, c.blur,
                "frame {i}: {}x{} {:?} {params:?}",
                f.width, f.height, f.format
            );
        }
        assert_eq!(again, cpu[frames.len() / 2..], "{params:?}, second run");
    }
}

#[test]
fn gpu_matches_cpu_at_1080p() {
    let frames = vec![
        soft_shapes(7, PixelFormat::Nv12, 1920, 1080, 0),
        random_frame(8, PixelFormat::I420, 1920, 1080, 64),
    ];
    let cpu = run(&mut CpuBackend::new(BLUR_ONLY), &frames);
    let mut gpu = GpuBackend::new(gpu_context(), BLUR_ONLY).expect("pipelines build");
    assert_eq!(run(&mut gpu, &frames), cpu);
}
