//! CPU twin of `shaders/blur.wgsl`: ffmpeg's blurdetect on luma (Gaussian,
//! Sobel, non-maximum suppression, double threshold, edge widths summed per
//! block) and the sums of the 3x3 Laplacian, fused into the Gaussian's pass
//! over the luma rows.
//!
//! The only whole-frame buffer is the blurred plane (edge widths search up to
//! `radius` rows away in it); gradients, directions and suppressed gradients
//! live in rolling three-row buffers. All of it is per-thread scratch, reused
//! frame after frame. Sums are integers (widths in fixed point, see
//! [`BlurBlock::WIDTH_ONE`]), so the order pixels are visited in does not
//! matter and the shader's atomics give the same numbers.

pub mod stages;

use std::cell::RefCell;

pub use crate::setup::blur::{BlockGrid, BlurSetup};
use stages::Image;

use crate::frame::Plane;
use crate::kernel::{BlurBlock, BlurRaw};

/// One thread's buffers, grown to the largest frame seen.
#[derive(Debug, Default)]
struct Scratch {
    blurred: Vec<u8>,
    /// The Gaussian's column sums of one row (three weightings).
    columns: Vec<u16>,
    /// Three rows each of gradients, directions and suppressed gradients,
    /// indexed by row modulo 3.
    grad: Vec<u16>,
    dir: Vec<u8>,
    nms: Vec<u8>,
    /// The block column of every pixel column, `u32::MAX` right of the last
    /// whole block.
    block_cols: Vec<u32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Runs blurdetect and the Laplacian on the `width` x `height` luma `plane`,
/// filling `raw` (its vectors keep their capacity).
pub fn analyze(plane: &Plane<'_>, width: u32, height: u32, setup: &BlurSetup, raw: &mut BlurRaw) {
    let grid = setup.grid(width, height);
    raw.blocks.clear();
    raw.blocks.resize(grid.count(), BlurBlock::default());
    raw.laplacian_sum = 0;
    raw.laplacian_sq = 0;
    raw.laplacian_count = 0;
    let (w, h) = (width as usize, height as usize);
    if w < 3 || h < 3 {
        // No interior pixel: no Laplacian, no gradient, no edge.
        return;
    }
    raw.laplacian_count = (w as u64 - 2) * (h as u64 - 2);
    let job = Job {
        plane,
        w,
        h,
        setup,
        grid: &grid,
    };
    SCRATCH.with_borrow_mut(|s| whole_frame(&job, s, raw));
}

/// One frame's inputs to the stages.
struct Job<'a> {
    plane: &'a Plane<'a>,
    w: usize,
    h: usize,
    setup: &'a BlurSetup,
    grid: &'a BlockGrid,
}

/// Every stage on one frame, compiled twice on x86-64: for the baseline
/// (SSE2) and for AVX2, taken when the CPU has it. The stages are integer
/// loops over rows that LLVM vectorises; AVX2 doubles their width. Every
/// stage is `#[inline(always)]` so that it is compiled into both.
#[cfg_attr(
    target_arch = "x86_64",
    expect(
        unsafe_code,
        reason = "calling a #[target_feature] function is unsafe; AVX2 is detected first"
    )
)]
fn whole_frame(job: &Job<'_>, s: &mut Scratch, raw: &mut BlurRaw) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        unsafe { whole_frame_avx2(job, s, raw) };
        return;
    }
    stages_of_frame(job, s, raw);
}

/// [`stages_of_frame`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn whole_frame_avx2(job: &Job<'_>, s: &mut Scratch, raw: &mut BlurRaw) {
    stages_of_frame(job, s, raw);
}

/// The blurred plane and Laplacian, then the edges.
#[inline(always)]
fn stages_of_frame(job: &Job<'_>, s: &mut Scratch, raw: &mut BlurRaw) {
    blur_and_laplacian(job.plane, job.w, job.h, s, raw);
    edges(job.w, job.h, job.setup, job.grid, s, raw);
}

/// Fills `s.blurred` with ff_gaussian_blur of the plane and sums the
/// Laplacian of its interior, in one pass over the luma rows.
#[inline(always)]
fn blur_and_laplacian(plane: &Plane<'_>, w: usize, h: usize, s: &mut Scratch, raw: &mut BlurRaw) {
    s.blurred.resize(w * h, 0);
    s.columns.resize(3 * w, 0);
    let row = |y: usize| plane.row(y, w);
    for (y, out) in s.blurred.chunks_exact_mut(w).enumerate() {
        if y >= 2 && y + 2 < h {
            stages::gaussian_row(
                [row(y - 2), row(y - 1), row(y), row(y + 1), row(y + 2)],
                out,
                &mut s.columns,
            );
        } else {
            out.copy_from_slice(row(y));
        }
        if y >= 1 && y + 1 < h {
            let (sum, sq) = stages::laplacian_row(row(y - 1), row(y), row(y + 1));
            raw.laplacian_sum += sum;
            raw.laplacian_sq += sq;
        }
    }
}

/// Sobel, suppression and threshold row by row over the blurred plane, three
/// rows behind one another, and the width of every edge pixel added to its
/// block.
#[inline(always)]
fn edges(
    w: usize,
    h: usize,
    setup: &BlurSetup,
    grid: &BlockGrid,
    s: &mut Scratch,
    raw: &mut BlurRaw,
) {
    let Scratch {
        blurred,
        grad,
        dir,
        nms,
        block_cols,
        ..
    } = s;
    block_cols.clear();
    block_cols.extend((0..w as u32).map(|x| {
        let col = x / grid.block_width;
        if col < grid.cols { col } else { u32::MAX }
    }));
    // Pixels right of the last whole block belong to none.
    let x_end = (grid.cols as usize * grid.block_width as usize).min(w - 1);
    grad.resize(3 * w, 0);
    dir.resize(3 * w, 0);
    nms.resize(3 * w, 0);
    let img = Image {
        pixels: blurred,
        width: w,
        height: h,
    };
    let brow = |y: usize| &img.pixels[y * w..(y + 1) * w];
    let ring = |y: usize| (y % 3) * w..(y % 3 + 1) * w;
    // Gradient row r, suppression row r - 1 and threshold row r - 2 in step r.
    for r in 0..h + 2 {
        if r < h {
            if r == 0 || r == h - 1 {
                grad[ring(r)].fill(0);
            } else {
                stages::sobel_row(
                    brow(r - 1),
                    brow(r),
                    brow(r + 1),
                    &mut grad[ring(r)],
                    &mut dir[ring(r)],
                );
            }
        }
        if let Some(y) = r.checked_sub(1).filter(|&y| y < h) {
            if y == 0 || y == h - 1 {
                nms[ring(y)].fill(0);
            } else {
                let (g, out) = (&*grad, &mut nms[ring(y)]);
                stages::nms_row(
                    &g[ring(y - 1)],
                    &g[ring(y)],
                    &g[ring(y + 1)],
                    &dir[ring(y)],
                    out,
                );
            }
        }
        let Some(y) = r.checked_sub(2).filter(|&y| y >= 1 && y + 1 < h) else {
            continue;
        };
        let block_row = y as u32 / grid.block_height;
        if block_row >= grid.rows {
            // Below the last whole block: no pixel belongs to one.
            continue;
        }
        let first_block = block_row as usize * grid.cols as usize;
        let (up, mid, down) = (&nms[ring(y - 1)], &nms[ring(y)], &nms[ring(y + 1)]);
        let dirs = &dir[ring(y)];
        // Most suppressed gradients are 0: a span's candidates (values above
        // the lower threshold) are found as one bit mask, which vectorises,
        // and only those pixels are looked at.
        let floor = setup.low.min(setup.high);
        for start in (1..x_end).step_by(SKIP_SPAN) {
            let span = &mid[start..(start + SKIP_SPAN).min(x_end)];
            let mut candidates = span
                .iter()
                .enumerate()
                .fold(0u32, |m, (j, &v)| m | (u32::from(v > floor) << j));
            while candidates != 0 {
                let x = start + candidates.trailing_zeros() as usize;
                candidates &= candidates - 1;
                if !stages::is_edge(up, mid, down, x, setup.low, setup.high) {
                    continue;
                }
                let (steps, diagonal) = stages::edge_steps(img, x, y, dirs[x], setup.radius);
                if steps > 0 {
                    let b = &mut raw.blocks[first_block + block_cols[x] as usize];
                    b.width_sum += setup.width(steps, diagonal);
                    b.edges += 1;
                }
            }
        }
    }
}

/// Pixels of a row tested at once for possible edges (the bits of a `u32`).
const SKIP_SPAN: usize = 32;
