//! [`Picture`]: the small summary of a frame that `camera_moved` compares
//! with its reference: an 8x8 grid of the motion detector's small luma
//! image (each cell less the picture's mean), or a 16-bin luma histogram.

use osprey_kernels::FrameRaw;
use osprey_kernels::kernel::{MotionRaw, channel};

/// Cells a side of the grid.
const GRID: u32 = 8;
/// Histogram bins.
const BINS: usize = 16;
/// The most cells a summary holds (the grid's; the histogram has fewer).
const MAX_CELLS: usize = (GRID * GRID) as usize;
/// Luma levels by which a grid cell must differ to count as changed.
pub(super) const CELL_LEVELS: f64 = 16.0;

/// Which summary a stream's pictures are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Summary {
    /// The motion detector's small image, in a grid.
    Grid,
    /// The luma histogram.
    Histogram,
}

/// One frame's summary, or a running average of several (fixed size: no
/// allocation frame after frame).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Picture {
    summary: Summary,
    /// The size of the image summarised (a grid compares only with its size).
    size: (u32, u32),
    /// The first `len` hold the cells.
    cells: [f64; MAX_CELLS],
    len: usize,
}

impl Picture {
    /// `raw`'s summary, `None` when its kernel left nothing to summarise.
    pub(super) fn of(summary: Summary, raw: &FrameRaw) -> Option<Picture> {
        match summary {
            Summary::Grid => grid(&raw.motion),
            Summary::Histogram => histogram(raw),
        }
    }

    /// The share of the picture, 0 to 1, that differs from `other`; `None`
    /// when the two cannot be compared (another size).
    pub(super) fn difference(&self, other: &Picture) -> Option<f64> {
        if self.summary != other.summary
            || self.size != other.size
            || self.len != other.len
            || self.len == 0
        {
            return None;
        }
        let pairs = self.cells().iter().zip(other.cells());
        Some(match self.summary {
            Summary::Grid => {
                let changed = pairs.filter(|(a, b)| (*a - *b).abs() > CELL_LEVELS).count();
                changed as f64 / self.len as f64
            }
            Summary::Histogram => 0.5 * pairs.map(|(a, b)| (a - b).abs()).sum::<f64>(),
        })
    }

    /// Moves this running average toward `other` by `weight` (0 to 1).
    pub(super) fn follow(&mut self, other: &Picture, weight: f64) {
        for (a, b) in self.cells[..self.len].iter_mut().zip(other.cells()) {
            *a += (b - *a) * weight;
        }
    }

    fn cells(&self) -> &[f64] {
        &self.cells[..self.len]
    }
}

/// The grid of `small`, each cell's mean less the whole image's mean. Cell
/// `c` of a side of `n` pixels in `g` cells spans pixels `c * n / g` to
/// `(c + 1) * n / g`.
fn grid(small: &MotionRaw) -> Option<Picture> {
    let (w, h) = (small.width as usize, small.height as usize);
    if w == 0 || h == 0 || small.pixels.len() != w * h {
        return None;
    }
    let (gw, gh) = ((GRID as usize).min(w), (GRID as usize).min(h));
    let len = gw * gh;
    let mut sums = [0u64; MAX_CELLS];
    for (y, row) in small.pixels.chunks_exact(w).enumerate() {
        let cells = &mut sums[y * gh / h * gw..];
        for (cx, sum) in cells.iter_mut().take(gw).enumerate() {
            let span = &row[cx * w / gw..(cx + 1) * w / gw];
            *sum += span.iter().map(|&p| u64::from(p)).sum::<u64>();
        }
    }
    let total: u64 = sums[..len].iter().sum();
    let mean = total as f64 / small.pixels.len() as f64;
    let mut cells = [0.0; MAX_CELLS];
    for (i, (cell, &sum)) in cells.iter_mut().zip(&sums[..len]).enumerate() {
        let (cx, cy) = (i % gw, i / gw);
        let pixels = ((cx + 1) * w / gw - cx * w / gw) * ((cy + 1) * h / gh - cy * h / gh);
        *cell = sum as f64 / pixels.max(1) as f64 - mean;
    }
    Some(Picture {
        summary: Summary::Grid,
        size: (small.width, small.height),
        cells,
        len,
    })
}

/// `raw`'s luma histogram in [`BINS`] shares.
fn histogram(raw: &FrameRaw) -> Option<Picture> {
    let hist = &raw.hist[channel::Y];
    let pixels: u64 = hist.iter().map(|&n| u64::from(n)).sum();
    if pixels == 0 || pixels != u64::from(raw.width) * u64::from(raw.height) {
        return None;
    }
    let mut cells = [0.0; MAX_CELLS];
    for (cell, bin) in cells.iter_mut().zip(hist.chunks_exact(hist.len() / BINS)) {
        *cell = bin.iter().map(|&n| u64::from(n)).sum::<u64>() as f64 / pixels as f64;
    }
    Some(Picture {
        summary: Summary::Histogram,
        size: (raw.width, raw.height),
        cells,
        len: BINS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 16x16 small image, `left` in the left half and `right` in the other.
    fn halves(left: u8, right: u8) -> FrameRaw {
        let mut raw = FrameRaw::new(64, 64);
        raw.motion = MotionRaw {
            width: 16,
            height: 16,
            pixels: (0..256)
                .map(|i| if i % 16 < 8 { left } else { right })
                .collect(),
        };
        raw
    }

    #[test]
    fn grid_compares_structure_not_brightness() {
        let a = Picture::of(Summary::Grid, &halves(50, 150)).unwrap();
        // Everything 40 brighter: the same view.
        let lit = Picture::of(Summary::Grid, &halves(90, 190)).unwrap();
        assert_eq!(a.difference(&lit), Some(0.0));
        // The halves swapped: every cell changed.
        let swapped = Picture::of(Summary::Grid, &halves(150, 50)).unwrap();
        assert_eq!(a.difference(&swapped), Some(1.0));
        // No motion image, no grid; another size, no comparison.
        assert_eq!(Picture::of(Summary::Grid, &FrameRaw::new(4, 4)), None);
        let mut small = halves(50, 150);
        small.motion.width = 8;
        small.motion.pixels.truncate(8 * 16);
        let small = Picture::of(Summary::Grid, &small).unwrap();
        assert_eq!(a.difference(&small), None);
    }

    #[test]
    fn cells_of_an_uneven_image() {
        // 10x3, luma 10 x: columns split 1,1,1,2,1,1,1,2 into 8 cells, rows
        // one a cell; the image's mean is 45.
        let mut raw = FrameRaw::new(40, 12);
        raw.motion = MotionRaw {
            width: 10,
            height: 3,
            pixels: (0..30).map(|i| (i % 10) as u8 * 10).collect(),
        };
        let p = Picture::of(Summary::Grid, &raw).unwrap();
        let row = [-45.0, -35.0, -25.0, -10.0, 5.0, 15.0, 25.0, 40.0];
        assert_eq!(p.cells(), [row, row, row].concat());
    }

    #[test]
    fn histogram_difference_is_the_share_that_moved() {
        let mut raw = FrameRaw::new(10, 10);
        raw.hist[channel::Y][20] = 50;
        raw.hist[channel::Y][200] = 50;
        let a = Picture::of(Summary::Histogram, &raw).unwrap();
        raw.hist[channel::Y][200] = 20;
        raw.hist[channel::Y][100] = 30;
        let b = Picture::of(Summary::Histogram, &raw).unwrap();
        assert!((a.difference(&b).unwrap() - 0.3).abs() < 1e-12);
        assert_eq!(
            Picture::of(Summary::Histogram, &FrameRaw::new(10, 10)),
            None
        );
    }

    #[test]
    fn follow_moves_toward_the_new_picture() {
        let mut a = Picture::of(Summary::Grid, &halves(50, 150)).unwrap();
        let b = Picture::of(Summary::Grid, &halves(150, 50)).unwrap();
        a.follow(&b, 0.25);
        // Cells were -50 and +50: a quarter of the way is -25 and +25.
        assert!(a.cells().iter().all(|c| (c.abs() - 25.0).abs() < 1e-12));
        a.follow(&b, 1.0);
        assert_eq!(a, b);
    }
}
