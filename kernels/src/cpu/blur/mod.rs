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

pub mod setup;
pub mod stages;

use std::cell::RefCell;

pub use setup::{BlockGrid, BlurSetup};
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
    SCRATCH.with_borrow_mut(|s| {
        blur_and_laplacian(plane, w, h, s, raw);
        edges(w, h, setup, &grid, s, raw);
    });
}

/// Fills `s.blurred` with ff_gaussian_blur of the plane and sums the
/// Laplacian of its interior, in one pass over the luma rows.
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
        ..
    } = s;
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
        let (up, mid, down) = (&nms[ring(y - 1)], &nms[ring(y)], &nms[ring(y + 1)]);
        let dirs = &dir[ring(y)];
        for x in 1..w - 1 {
            if mid[x] <= setup.low.min(setup.high)
                || !stages::is_edge(up, mid, down, x, setup.low, setup.high)
            {
                continue;
            }
            let Some(block) = grid.block_of(x as u32, y as u32) else {
                continue;
            };
            let (steps, diagonal) = stages::edge_steps(img, x, y, dirs[x], setup.radius);
            if steps > 0 {
                let b = &mut raw.blocks[block];
                b.width_sum += setup.width(steps, diagonal);
                b.edges += 1;
            }
        }
    }
}
