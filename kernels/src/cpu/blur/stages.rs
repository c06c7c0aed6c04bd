//! The stages of blurdetect's edge pipeline, one row at a time, as
//! libavfilter/edge_common.c and vf_blurdetect.c compute them on 8-bit
//! planes: 5x5 Gaussian, Sobel gradient and rounded direction, non-maximum
//! suppression, double threshold, edge width. Plus the 3x3 Laplacian sums.
//!
//! Rows are slices of equal width; the Gaussian and Sobel loops are written
//! over whole rows in narrow integers so that they vectorise.

/// Rounded gradient directions, as edge_common.h numbers them.
pub mod direction {
    /// Gradient towards the upper right (or lower left).
    pub const UP45: u8 = 0;
    /// Gradient towards the lower right (or upper left).
    pub const DOWN45: u8 = 1;
    /// Horizontal gradient.
    pub const HORIZONTAL: u8 = 2;
    /// Vertical gradient.
    pub const VERTICAL: u8 = 3;
}

/// One output row of ff_gaussian_blur for a row `2 <= y < h - 2`: the five
/// source rows `r[0..5]` are rows `y - 2 ..= y + 2`. Columns 0, 1, w-2 and
/// w-1 are copied, as in ffmpeg. `columns` is scratch of at least `3 * w`.
///
/// The 5x5 kernel is symmetric, so each column is first reduced to its three
/// distinct column weightings (`p` for the outer columns `[2 4 5 4 2]`, `q`
/// for the next `[4 9 12 9 4]`, `r` for the centre `[5 12 15 12 5]`), then
/// `out[x] = p[x-2] + q[x-1] + r[x] + q[x+1] + p[x+2]`: the same integer sum
/// (at most 159 * 255, so u16 holds it) in wide vector loops.
pub fn gaussian_row(r: [&[u8]; 5], out: &mut [u8], columns: &mut [u16]) {
    let w = out.len();
    if w < 5 {
        out.copy_from_slice(&r[2][..w]);
        return;
    }
    let [a, b, c, d, e] = r.map(|row| &row[..w]);
    let (p, rest) = columns.split_at_mut(w);
    let (q, rest) = rest.split_at_mut(w);
    let rc = &mut rest[..w];
    for x in 0..w {
        let outer = u16::from(a[x]) + u16::from(e[x]);
        let inner = u16::from(b[x]) + u16::from(d[x]);
        let mid = u16::from(c[x]);
        p[x] = 2 * outer + 4 * inner + 5 * mid;
        q[x] = 4 * outer + 9 * inner + 12 * mid;
        rc[x] = 5 * outer + 12 * inner + 15 * mid;
    }
    out[..2].copy_from_slice(&c[..2]);
    out[w - 2..].copy_from_slice(&c[w - 2..]);
    let n = w - 4;
    let (p0, p4) = (&p[..n], &p[4..4 + n]);
    let (q1, q3) = (&q[1..1 + n], &q[3..3 + n]);
    let r2 = &rc[2..2 + n];
    for (i, o) in out[2..2 + n].iter_mut().enumerate() {
        *o = ((p0[i] + q1[i] + r2[i] + q3[i] + p4[i]) / 159) as u8;
    }
}

/// Sum and sum of squares of the 3x3 Laplacian `[0 1 0; 1 -4 1; 0 1 0]` over
/// the interior columns `1..w-1` of the row `mid` between `up` and `down`.
pub fn laplacian_row(up: &[u8], mid: &[u8], down: &[u8]) -> (i64, u64) {
    let w = mid.len();
    if w < 3 {
        return (0, 0);
    }
    let (up, down) = (&up[..w], &down[..w]);
    let (mut sum, mut sq) = (0i64, 0u64);
    // Per piece of 1024 pixels |sum| <= 1024 * 1020 and sq <= 1024 * 1020^2
    // fit 32 bits, so the inner loop stays narrow.
    for start in (1..w - 1).step_by(1024) {
        let end = (start + 1024).min(w - 1);
        let (mut s, mut q) = (0i32, 0u32);
        for x in start..end {
            let l = i32::from(up[x]) + i32::from(down[x]) + i32::from(mid[x - 1])
                - 4 * i32::from(mid[x])
                + i32::from(mid[x + 1]);
            s += l;
            q += l.unsigned_abs() * l.unsigned_abs();
        }
        sum += i64::from(s);
        sq += u64::from(q);
    }
    (sum, sq)
}

/// ffmpeg's get_rounded_direction: the gradient angle rounded to 45 degrees,
/// compared in 16-bit fixed point.
#[inline]
pub fn rounded_direction(gx: i32, gy: i32) -> u8 {
    if gx != 0 {
        let (gx, gy) = if gx < 0 { (-gx, -gy) } else { (gx, gy) };
        let gy = gy * (1 << 16);
        let tan_pi8 = 27146 * gx;
        let tan_3pi8 = 158218 * gx;
        if gy > -tan_3pi8 && gy < -tan_pi8 {
            return direction::UP45;
        }
        if gy > -tan_pi8 && gy < tan_pi8 {
            return direction::HORIZONTAL;
        }
        if gy > tan_pi8 && gy < tan_3pi8 {
            return direction::DOWN45;
        }
    }
    direction::VERTICAL
}

/// ff_sobel for an interior row: `|gx| + |gy|` and the rounded direction of
/// columns `1..w-1` from the blurred rows above, at and below; columns 0 and
/// w-1 get gradient 0.
pub fn sobel_row(up: &[u8], mid: &[u8], down: &[u8], grad: &mut [u16], dir: &mut [u8]) {
    let w = mid.len();
    grad.fill(0);
    if w < 3 {
        return;
    }
    let (up, down, grad, dir) = (&up[..w], &down[..w], &mut grad[..w], &mut dir[..w]);
    for x in 1..w - 1 {
        let p = |row: &[u8], i: usize| i32::from(row[i]);
        let gx = -p(up, x - 1) + p(up, x + 1) - 2 * p(mid, x - 1) + 2 * p(mid, x + 1)
            - p(down, x - 1)
            + p(down, x + 1);
        let gy = -p(up, x - 1) + p(down, x - 1) - 2 * p(up, x) + 2 * p(down, x) - p(up, x + 1)
            + p(down, x + 1);
        grad[x] = (gx.abs() + gy.abs()) as u16;
        dir[x] = rounded_direction(gx, gy);
    }
}

/// ff_non_maximum_suppression for an interior row: a gradient strictly larger
/// than both neighbours along its direction is kept (clipped to 255), others
/// become 0; columns 0 and w-1 are 0.
pub fn nms_row(up: &[u16], mid: &[u16], down: &[u16], dir: &[u8], out: &mut [u8]) {
    let w = mid.len();
    out.fill(0);
    if w < 3 {
        return;
    }
    for x in 1..w - 1 {
        let g = mid[x];
        let (a, b) = match dir[x] {
            direction::UP45 => (down[x - 1], up[x + 1]),
            direction::DOWN45 => (up[x - 1], down[x + 1]),
            direction::HORIZONTAL => (mid[x - 1], mid[x + 1]),
            _ => (up[x], down[x]),
        };
        if g > a && g > b {
            out[x] = g.min(255) as u8;
        }
    }
}

/// ff_double_threshold at column `x` of the interior row `mid`: kept when
/// above `high`, or above `low` with a neighbour above `high`.
#[inline]
pub fn is_edge(up: &[u8], mid: &[u8], down: &[u8], x: usize, low: u8, high: u8) -> bool {
    let t = mid[x];
    if t > high {
        return true;
    }
    if t <= low || x == 0 || x + 1 >= mid.len() {
        return false;
    }
    up[x - 1] > high
        || up[x] > high
        || up[x + 1] > high
        || mid[x - 1] > high
        || mid[x + 1] > high
        || down[x - 1] > high
        || down[x + 1] > high
        || down[x] > high
}

/// The blurred plane an edge width is measured on.
#[derive(Debug, Clone, Copy)]
pub struct Image<'a> {
    /// `width * height` samples, row by row.
    pub pixels: &'a [u8],
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
}

/// blurdetect's edge_width: steps from the edge pixel `(x, y)` to the nearest
/// local extremum on each side along its gradient `dir`, at most `radius`
/// each; 0 when a search would step off the image. Returns the number of
/// steps and whether the direction is diagonal (ffmpeg then scales by 0.7).
pub fn edge_steps(img: Image<'_>, x: usize, y: usize, dir: u8, radius: u32) -> (u32, bool) {
    let (dx, dy): (isize, isize) = match dir {
        direction::HORIZONTAL => (1, 0),
        direction::VERTICAL => (0, 1),
        direction::UP45 => (1, -1),
        _ => (1, 1),
    };
    let (w, h) = (img.width as isize, img.height as isize);
    let at = |x: isize, y: isize| i32::from(img.pixels[(y * w + x) as usize]);
    let (x, y) = (x as isize, y as isize);
    let sign = if at(x, y) > at(x - dx, y - dy) { 1 } else { -1 };
    let mut steps = 0;
    // Towards -(dx, dy), then towards +(dx, dy); `d` is the search direction.
    for d in [-1isize, 1] {
        let mut k = 0;
        while k < radius as isize {
            let (x1, y1) = (x + d * k * dx, y + d * k * dy);
            let (x2, y2) = (x1 + d * dx, y1 + d * dy);
            if x2 < 0 || x2 >= w || y2 < 0 || y2 >= h {
                return (0, false);
            }
            let tmp = (at(x1, y1) - at(x2, y2)) * sign;
            if (d < 0 && tmp <= 0) || (d > 0 && tmp >= 0) {
                break;
            }
            k += 1;
        }
        steps += k as u32;
    }
    (steps, dx != 0 && dy != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_follow_the_angle() {
        assert_eq!(rounded_direction(10, 0), direction::HORIZONTAL);
        assert_eq!(rounded_direction(0, 10), direction::VERTICAL);
        assert_eq!(rounded_direction(10, 10), direction::DOWN45);
        assert_eq!(rounded_direction(10, -10), direction::UP45);
        assert_eq!(rounded_direction(-10, 10), direction::UP45);
        assert_eq!(rounded_direction(-1020, -1020), direction::DOWN45);
    }

    #[test]
    fn a_ramp_has_the_width_of_its_slope() {
        // A horizontal ramp 0, 0, 10, 20, 30, 30: the edge at x = 3 rises over
        // three steps, one back to the start and two on to the top.
        let row = [0u8, 0, 10, 20, 30, 30, 30];
        let pixels: Vec<u8> = row.iter().chain(&row).chain(&row).copied().collect();
        let img = Image {
            pixels: &pixels,
            width: 7,
            height: 3,
        };
        assert_eq!(edge_steps(img, 3, 1, direction::HORIZONTAL, 50), (3, false));
        // With radius 1 each side stops after one step.
        assert_eq!(edge_steps(img, 3, 1, direction::HORIZONTAL, 1), (2, false));
        // Vertically the image is flat: no step on either side.
        assert_eq!(edge_steps(img, 3, 1, direction::VERTICAL, 50), (0, false));
    }
}
