//! Frigate's `cv2.findContours(thresh, RETR_EXTERNAL, CHAIN_APPROX_SIMPLE)`,
//! `cv2.contourArea` and `cv2.boundingRect`, on the small 0/1 image.
//!
//! OpenCV (Suzuki and Abe's border following) finds the outer border of each
//! 8-connected region of changed pixels, keeps only the outermost ones
//! (`RETR_EXTERNAL`: a region inside another's hole is left out), and
//! `contourArea` is the shoelace area of the border's polygon through pixel
//! centres (a single pixel or a line has area 0; a w x h rectangle
//! (w - 1)(h - 1)). Here: regions are labelled by a flood fill; a region is
//! outermost when it touches the image edge or a background pixel
//! 4-connected to the outside; its border is traced with Suzuki and Abe's
//! steps 3.1 to 3.5 from its first pixel in raster order, and the area kept
//! doubled, as an exact integer. The polygon with every border pixel has the
//! area of `CHAIN_APPROX_SIMPLE`'s, which only drops collinear points.

/// One 8-connected region of changed pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// Bounding box `[x, y, w, h]` in small-image pixels (`boundingRect`).
    pub bbox: [u32; 4],
    /// Twice the area of its outer border (`2 * contourArea`), exact.
    pub area2: i64,
    /// Whether OpenCV's `RETR_EXTERNAL` reports it.
    pub external: bool,
}

/// Neighbour offsets `(dx, dy)` by Freeman chain code: 0 is right, and codes
/// go counterclockwise on screen (y grows downwards).
const DIRS: [(i64, i64); 8] = [
    (1, 0),
    (1, -1),
    (0, -1),
    (-1, -1),
    (-1, 0),
    (-1, 1),
    (0, 1),
    (1, 1),
];

/// Regions of a 0/1 image and the scratch that finds them, reused frame after
/// frame.
#[derive(Debug, Clone, Default)]
pub struct Contours {
    /// Region of each pixel, 1-based (0 for unchanged pixels), row by row.
    pub labels: Vec<u32>,
    /// Every region, in raster order of its first pixel (label `i + 1`).
    pub regions: Vec<Region>,
    outside: Vec<bool>,
    stack: Vec<usize>,
    firsts: Vec<usize>,
}

impl Contours {
    /// Finds the regions of the `width` x `height` image `mask` (non-zero is
    /// changed).
    pub fn find(&mut self, mask: &[u8], width: usize, height: usize) {
        self.labels.clear();
        self.labels.resize(mask.len(), 0);
        self.regions.clear();
        self.firsts.clear();
        self.mark_outside(mask, width, height);
        for start in 0..mask.len() {
            if mask[start] == 0 || self.labels[start] != 0 {
                continue;
            }
            let label = self.regions.len() as u32 + 1;
            self.flood(mask, width, height, start, label);
        }
        for (region, &first) in self.regions.iter_mut().zip(&self.firsts) {
            if region.external {
                region.area2 = trace_area2(mask, width, height, first % width, first / width);
            }
        }
    }

    /// Marks the unchanged pixels 4-connected to the outside of the image.
    fn mark_outside(&mut self, mask: &[u8], width: usize, height: usize) {
        self.outside.clear();
        self.outside.resize(mask.len(), false);
        self.stack.clear();
        for (i, &m) in mask.iter().enumerate() {
            let (x, y) = (i % width, i / width);
            let edge = x == 0 || y == 0 || x + 1 == width || y + 1 == height;
            if edge && m == 0 {
                self.outside[i] = true;
                self.stack.push(i);
            }
        }
        while let Some(i) = self.stack.pop() {
            let (x, y) = (i % width, i / width);
            let mut visit = |j: usize| {
                if mask[j] == 0 && !self.outside[j] {
                    self.outside[j] = true;
                    self.stack.push(j);
                }
            };
            if x > 0 {
                visit(i - 1);
            }
            if x + 1 < width {
                visit(i + 1);
            }
            if y > 0 {
                visit(i - width);
            }
            if y + 1 < height {
                visit(i + width);
            }
        }
    }

    /// Labels the 8-connected region of `start` and records it.
    fn flood(&mut self, mask: &[u8], width: usize, height: usize, start: usize, label: u32) {
        let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
        let mut external = false;
        self.stack.clear();
        self.stack.push(start);
        self.labels[start] = label;
        while let Some(i) = self.stack.pop() {
            let (x, y) = (i % width, i / width);
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            for (dx, dy) in DIRS {
                let (nx, ny) = (x as i64 + dx, y as i64 + dy);
                if nx < 0 || ny < 0 || nx >= width as i64 || ny >= height as i64 {
                    external = true;
                    continue;
                }
                let j = ny as usize * width + nx as usize;
                if mask[j] == 0 {
                    // Only 4-neighbours separate a region from a hole.
                    external |= (dx == 0 || dy == 0) && self.outside[j];
                } else if self.labels[j] == 0 {
                    self.labels[j] = label;
                    self.stack.push(j);
                }
            }
        }
        self.firsts.push(start);
        self.regions.push(Region {
            bbox: [
                x0 as u32,
                y0 as u32,
                (x1 - x0 + 1) as u32,
                (y1 - y0 + 1) as u32,
            ],
            area2: 0,
            external,
        });
    }
}

/// Twice the shoelace area of the outer border of the region whose first
/// pixel in raster order is `(sx, sy)`.
fn trace_area2(mask: &[u8], width: usize, height: usize, sx: usize, sy: usize) -> i64 {
    let on = |(x, y): (i64, i64)| {
        x >= 0
            && y >= 0
            && x < width as i64
            && y < height as i64
            && mask[y as usize * width + x as usize] != 0
    };
    let step = |(x, y): (i64, i64), d: usize| (x + DIRS[d].0, y + DIRS[d].1);
    let start = (sx as i64, sy as i64);
    // 3.1: clockwise from the left neighbour, the first changed pixel.
    let Some(d1) = (0..8).map(|k| (12 - k) % 8).find(|&d| on(step(start, d))) else {
        return 0;
    };
    let p1 = step(start, d1);
    let (mut p2, mut p3) = (p1, start);
    let cross = |a: (i64, i64), b: (i64, i64)| a.0 * b.1 - a.1 * b.0;
    let mut area2 = 0;
    loop {
        // 3.3: counterclockwise around p3, from the neighbour after p2.
        let back = (p2.0 - p3.0, p2.1 - p3.1);
        let d = DIRS.iter().position(|&o| o == back).unwrap_or(0);
        let next = (1..=8)
            .map(|k| (d + k) % 8)
            .find(|&dd| on(step(p3, dd)))
            .unwrap_or(d);
        let p4 = step(p3, next);
        // 3.5: back at the start, about to repeat the first move.
        if p4 == start && p3 == p1 {
            break;
        }
        area2 += cross(p3, p4);
        (p2, p3) = (p3, p4);
    }
    (area2 + cross(p3, start)).abs()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(rows: &[&str]) -> (Vec<u8>, usize, usize) {
        let mask = rows
            .iter()
            .flat_map(|r| r.bytes().map(|b| u8::from(b == b'#')))
            .collect();
        (mask, rows[0].len(), rows.len())
    }

    /// `(bbox, 2 * area)` of the external regions, sorted.
    fn external(rows: &[&str]) -> Vec<([u32; 4], i64)> {
        let (mask, w, h) = parse(rows);
        let mut c = Contours::default();
        c.find(&mask, w, h);
        let mut out: Vec<_> = c
            .regions
            .iter()
            .filter(|r| r.external)
            .map(|r| (r.bbox, r.area2))
            .collect();
        out.sort_unstable();
        out
    }

    #[test]
    fn rectangles_lines_and_points() {
        assert_eq!(external(&["....", "...."]), vec![]);
        assert_eq!(external(&["#..."]), vec![([0, 0, 1, 1], 0)]);
        assert_eq!(external(&[".###", "...."]), vec![([1, 0, 3, 1], 0)]);
        assert_eq!(
            external(&["......", ".####.", ".####.", ".####.", "......"]),
            vec![([1, 1, 4, 3], 2 * 3 * 2)]
        );
        // Diagonal neighbours join a region.
        assert_eq!(external(&["#.", ".#"]), vec![([0, 0, 2, 2], 0)]);
    }

    #[test]
    fn matches_opencv() {
        // cv2.findContours(m, RETR_EXTERNAL, CHAIN_APPROX_SIMPLE) with OpenCV
        // 5.0: boundingRect and 2 * contourArea of each contour.
        let ring = [
            "#######..",
            "#.....#..",
            "#.##..#..",
            "#.##..#.#",
            "#.....#..",
            "#######..",
        ];
        assert_eq!(external(&ring), vec![([0, 0, 7, 6], 60), ([8, 3, 1, 1], 0)]);
        let blob = ["..##....", ".####...", "##..##..", ".#...###", "..###..#"];
        assert_eq!(external(&blob), vec![([0, 0, 8, 5], 29)]);
        let u = ["#...#", "#...#", "#####"];
        assert_eq!(external(&u), vec![([0, 0, 5, 3], 2)]);
    }

    #[test]
    fn matches_opencv_on_random_masks() {
        // Random masks (numpy seed 5), with OpenCV 5.0's answers.
        let m0 = [
            "...##..##..#..",
            ".....#.#.#..#.",
            ".#.#..##.##...",
            "##...##.#.....",
            ".#....#.#....#",
            ".........#....",
            "..#.#....#.#.#",
            ".#..#.#..#.#.#",
            "###......#....",
        ];
        assert_eq!(
            external(&m0),
            vec![
                ([0, 2, 2, 3], 2),
                ([0, 6, 3, 3], 2),
                ([3, 0, 8, 9], 14),
                ([3, 2, 1, 1], 0),
                ([4, 6, 1, 2], 0),
                ([6, 7, 1, 1], 0),
                ([11, 0, 2, 2], 0),
                ([11, 6, 1, 2], 0),
                ([13, 4, 1, 1], 0),
                ([13, 6, 1, 2], 0)
            ]
        );
        let m1 = [
            "...#######..#.",
            "......#.#....#",
            ".##...#.......",
            ".#..#...#.####",
            ".#.###....#..#",
            ".####..####...",
            ".#..#...#..#..",
            "........####..",
            "##.#..#..##..#",
        ];
        assert_eq!(
            external(&m1),
            vec![
                ([0, 8, 2, 1], 0),
                ([1, 2, 5, 5], 10),
                ([3, 0, 7, 3], 4),
                ([3, 8, 1, 1], 0),
                ([6, 8, 1, 1], 0),
                ([7, 3, 7, 6], 19),
                ([8, 3, 1, 1], 0),
                ([12, 0, 2, 2], 0),
                ([13, 8, 1, 1], 0)
            ]
        );
        let m2 = [
            "########.#####",
            "##############",
            "##############",
            "##############",
            "##############",
            "##############",
            "##############",
            "##############",
            "##############",
        ];
        assert_eq!(external(&m2), vec![([0, 0, 14, 9], 206)]);
    }
}
