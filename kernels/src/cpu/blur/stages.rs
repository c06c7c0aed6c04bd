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
#[inline(always)]
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
#[inline(always)]
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
///
/// Written over shifted slices in 16-bit lanes (`|gx|, |gy| <= 1020`), with
/// the direction chosen by comparisons, not branches ([`direction_of`]), so
/// that the loop vectorises eight or more pixels wide: the branchy form
/// mispredicted on every textured pixel.
#[inline(always)]
pub fn sobel_row(up: &[u8], mid: &[u8], down: &[u8], grad: &mut [u16], dir: &mut [u8]) {
    let w = mid.len();
    if w < 3 {
        grad[..w].fill(0);
        return;
    }
    let n = w - 2;
    let (ul, uc, ur) = (&up[..n], &up[1..n + 1], &up[2..n + 2]);
    let (ml, mr) = (&mid[..n], &mid[2..n + 2]);
    let (dl, dc, dr) = (&down[..n], &down[1..n + 1], &down[2..n + 2]);
    let (g_out, d_out) = (&mut grad[1..n + 1], &mut dir[1..n + 1]);
    for i in 0..n {
        let p = |v: u8| i16::from(v);
        let gx = p(ur[i]) - p(ul[i]) + 2 * (p(mr[i]) - p(ml[i])) + p(dr[i]) - p(dl[i]);
        let gy = p(dl[i]) - p(ul[i]) + 2 * (p(dc[i]) - p(uc[i])) + p(dr[i]) - p(ur[i]);
        g_out[i] = (gx.abs() + gy.abs()) as u16;
        d_out[i] = direction_of(gx, gy);
    }
    grad[0] = 0;
    grad[w - 1] = 0;
}

/// [`rounded_direction`] without branches and in 16 bits, for
/// `|gx|, |gy| <= 1020`.
///
/// With `a = |gx|` and `s` = `gy` turned to the sign of `gx`, ffmpeg compares
/// `s * 2^16` with `t1 = 27146 a` and `t3 = 158218 a = 2^17 a + t1` (because
/// tan(3pi/8) = 2 + tan(pi/8)). Dividing by 2^16, each comparison becomes one
/// of an integer `v` with `x = t1 / 2^16 = hi + frac`: `v > x` is `v > hi`,
/// and `v < x` is `v < hi`, or `v == hi` when `frac > 0`. The three open
/// intervals exclude one another; everything else is vertical, `gx == 0`
/// included (then `x = 0` and no interval holds a value).
#[inline(always)]
pub fn direction_of(gx: i16, gy: i16) -> u8 {
    let a = gx.abs();
    let s = if gx < 0 { -gy } else { gy };
    let hi = ((i32::from(a) * 27146) >> 16) as i16;
    let frac = a.wrapping_mul(27146) != 0;
    let above = |v: i16| v > hi;
    let below = |v: i16| (v < hi) | ((v == hi) & frac);
    let up45 = u8::from(below(-s - 2 * a) & above(-s));
    let horizontal = u8::from(below(s) & below(-s));
    let down45 = u8::from(above(s) & below(s - 2 * a));
    direction::VERTICAL
        - (direction::VERTICAL - direction::UP45) * up45
        - (direction::VERTICAL - direction::DOWN45) * down45
        - (direction::VERTICAL - direction::HORIZONTAL) * horizontal
}

/// ff_non_maximum_suppression for an interior row: a gradient strictly larger
/// than both neighbours along its direction is kept (clipped to 255), others
/// become 0; columns 0 and w-1 are 0.
///
/// Both neighbours of every direction are loaded and the pair chosen by
/// masks, so the loop vectorises instead of branching on the direction.
/// `dir` holds directions `0..=3` only, as [`sobel_row`] writes them.
#[inline(always)]
pub fn nms_row(up: &[u16], mid: &[u16], down: &[u16], dir: &[u8], out: &mut [u8]) {
    let w = mid.len();
    if w < 3 {
        out[..w].fill(0);
        return;
    }
    let n = w - 2;
    let (ul, uc, ur) = (&up[..n], &up[1..n + 1], &up[2..n + 2]);
    let (ml, mc, mr) = (&mid[..n], &mid[1..n + 1], &mid[2..n + 2]);
    let (dl, dc, dr) = (&down[..n], &down[1..n + 1], &down[2..n + 2]);
    let (d, o) = (&dir[1..n + 1], &mut out[1..n + 1]);
    for i in 0..n {
        let (k, g) = (u16::from(d[i]), mc[i]);
        // All ones where the direction is `j`, else 0 (directions are 0..=3).
        let m = |j: u8| 0u16.wrapping_sub(u16::from(k == u16::from(j)));
        let (up45, down45) = (m(direction::UP45), m(direction::DOWN45));
        let (horizontal, vertical) = (m(direction::HORIZONTAL), m(direction::VERTICAL));
        let a = (dl[i] & up45) | (ul[i] & down45) | (ml[i] & horizontal) | (uc[i] & vertical);
        let b = (ur[i] & up45) | (dr[i] & down45) | (mr[i] & horizontal) | (dc[i] & vertical);
        let keep = u16::from(g > a) & u16::from(g > b);
        o[i] = (g.min(255) * keep) as u8;
    }
    out[0] = 0;
    out[w - 1] = 0;
}

/// ff_double_threshold at column `x` of the interior row `mid`: kept when
/// above `high`, or above `low` with a neighbour above `high`.
#[inline(always)]
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
/// `(x, y)` is an interior pixel, as every edge pixel is.
pub fn edge_steps(img: Image<'_>, x: usize, y: usize, dir: u8, radius: u32) -> (u32, bool) {
    let (w, h) = (img.width, img.height);
    // The step in the plane, and how many steps fit on each side before the
    // search would leave it.
    let (step, back, ahead) = match dir {
        direction::HORIZONTAL => (1, x, w - 1 - x),
        direction::VERTICAL => (w as isize, y, h - 1 - y),
        // Up and to the right: (1, -1).
        direction::UP45 => (1 - w as isize, x.min(h - 1 - y), (w - 1 - x).min(y)),
        // Down and to the right: (1, 1).
        _ => (w as isize + 1, x.min(y), (w - 1 - x).min(h - 1 - y)),
    };
    let px = img.pixels;
    let at = |i: isize| i32::from(px[i as usize]);
    let centre = (y * w + x) as isize;
    let sign = if at(centre) > at(centre - step) {
        1
    } else {
        -1
    };
    let radius = radius as usize;
    let mut steps = 0;
    // Towards -step, where values keep falling (times `sign`), then towards
    // +step, where they keep rising; `d` is the search direction.
    for (d, room) in [(-1, back), (1, ahead)] {
        let delta = d * step;
        let (mut i, mut cur, mut k) = (centre, at(centre), 0);
        while k < radius {
            if k >= room {
                return (0, false);
            }
            let next = at(i + delta);
            let tmp = (cur - next) * sign;
            if (d < 0 && tmp <= 0) || (d > 0 && tmp >= 0) {
                break;
            }
            (i, cur, k) = (i + delta, next, k + 1);
        }
        steps += k as u32;
    }
    (
        steps,
        !matches!(dir, direction::HORIZONTAL | direction::VERTICAL),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_free_direction_is_ffmpegs() {
        // Every gradient a 3x3 Sobel of 8-bit samples can give.
        for gx in -1020i16..=1020 {
            for gy in -1020i16..=1020 {
                let want = rounded_direction(i32::from(gx), i32::from(gy));
                assert_eq!(direction_of(gx, gy), want, "{gx} {gy}");
            }
        }
    }

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
