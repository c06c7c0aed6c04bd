//! The motion detector's downscale: the size of the small image and the
//! source row and column each of its pixels is taken from.
//!
//! Frigate resizes the gray frame with `cv2.resize(..., INTER_NEAREST)` to
//! `frame_height` rows and `frame_height * width // height` columns. OpenCV's
//! nearest-neighbour resize takes, for destination column `x`, source column
//! `min(floor(x * (1 / (dst / src))), src - 1)` in double precision, which is
//! not always `x * src / dst` in integers (for 720 rows to 100, row 15 is 107,
//! not 108). [`ResampleTables`] computes exactly OpenCV's indices once per
//! frame size; both backends gather by them, so they agree bit for bit and
//! match Frigate's small image.

/// Tables kept for at most this many frame sizes at once (a stream rarely
/// changes size; a chunk may hold frames of two sizes around a change).
const CACHED_SIZES: usize = 4;

/// The small image's `(width, height)` for a frame of `width` x `height`:
/// Frigate's `(frame_height * width // height, frame_height)`, never zero.
pub fn motion_size(width: u32, height: u32, frame_height: u32) -> (u32, u32) {
    let rows = frame_height.max(1);
    let cols = u64::from(rows) * u64::from(width) / u64::from(height.max(1));
    (u32::try_from(cols).unwrap_or(u32::MAX).max(1), rows)
}

/// OpenCV's `INTER_NEAREST` source index for each of `dst` destination
/// samples over `src` source samples.
pub fn nearest_indices(src: u32, dst: u32) -> Vec<u32> {
    let scale = f64::from(dst) / f64::from(src.max(1));
    let inverse = 1.0 / scale;
    (0..dst)
        .map(|x| ((f64::from(x) * inverse).floor() as u32).min(src.saturating_sub(1)))
        .collect()
}

/// Where each pixel of the small image is read from, for one frame size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResampleTables {
    /// Frame width and height these tables are for.
    pub frame: (u32, u32),
    /// Width and height of the small image.
    pub small: (u32, u32),
    /// Source column (luma byte in the row) of each small column.
    pub cols: Vec<u32>,
    /// Source row of each small row.
    pub rows: Vec<u32>,
}

impl ResampleTables {
    /// The tables for a `width` x `height` frame and a small image
    /// `frame_height` rows high.
    pub fn new(width: u32, height: u32, frame_height: u32) -> Self {
        let small = motion_size(width, height, frame_height);
        ResampleTables {
            frame: (width, height),
            small,
            cols: nearest_indices(width, small.0),
            rows: nearest_indices(height, small.1),
        }
    }

    /// Pixels in the small image.
    pub fn small_len(&self) -> usize {
        self.small.0 as usize * self.small.1 as usize
    }
}

/// The tables of the last few frame sizes seen, built once per size.
#[derive(Debug, Clone)]
pub struct ResampleCache {
    frame_height: u32,
    tables: Vec<ResampleTables>,
}

impl ResampleCache {
    /// An empty cache for small images `frame_height` rows high.
    pub fn new(frame_height: u32) -> Self {
        ResampleCache {
            frame_height,
            tables: Vec::new(),
        }
    }

    /// Builds the tables for a `width` x `height` frame unless they are
    /// cached; returns true when it built them.
    pub fn prepare(&mut self, width: u32, height: u32) -> bool {
        if self.find(width, height).is_some() {
            return false;
        }
        if self.tables.len() == CACHED_SIZES {
            self.tables.remove(0);
        }
        self.tables
            .push(ResampleTables::new(width, height, self.frame_height));
        true
    }

    /// The cached tables for a `width` x `height` frame.
    pub fn find(&self, width: u32, height: u32) -> Option<&ResampleTables> {
        self.tables.iter().find(|t| t.frame == (width, height))
    }

    /// Every cached table, oldest first.
    pub fn tables(&self) -> &[ResampleTables] {
        &self.tables
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_frigate() {
        assert_eq!(motion_size(1920, 1080, 100), (177, 100));
        assert_eq!(motion_size(320, 240, 100), (133, 100));
        assert_eq!(motion_size(1080, 1920, 100), (56, 100));
        assert_eq!(motion_size(1, 1000, 100), (1, 100));
        assert_eq!(motion_size(16, 16, 0), (1, 1));
    }

    #[test]
    fn indices_are_opencvs() {
        // cv2.resize(INTER_NEAREST) of a 1x720 ramp to 1x100 (OpenCV 5.0):
        // these rows differ from the integer x * 720 / 100.
        let t = nearest_indices(720, 100);
        for (x, want) in [
            (15, 107),
            (25, 179),
            (30, 215),
            (35, 251),
            (45, 323),
            (0, 0),
        ] {
            assert_eq!(t[x], want, "row {x}");
        }
        assert_eq!(nearest_indices(1080, 100)[5], 54);
        // Upscaling repeats, and never reads past the end.
        assert_eq!(nearest_indices(3, 7), vec![0, 0, 0, 1, 1, 2, 2]);
    }

    #[test]
    fn cache_builds_once_per_size() {
        let mut c = ResampleCache::new(100);
        assert!(c.prepare(320, 240));
        assert!(!c.prepare(320, 240));
        for w in 1..=5 {
            c.prepare(w, 240);
        }
        assert_eq!(c.tables().len(), CACHED_SIZES);
        assert!(c.find(320, 240).is_none());
        assert_eq!(c.find(5, 240).map(|t| t.small), Some((2, 100)));
    }
}
