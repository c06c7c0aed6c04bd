//! Frigate's blur: `scipy.ndimage.gaussian_filter(frame, sigma=1, radius=1)`
//! on the `uint8` small image.
//!
//! scipy filters one axis after the other, rows (axis 0) first, each pass
//! written back to `uint8` by truncation; a pass computes
//! `centre * w0 + (before + after) * w1` in double precision, with the
//! weights `[e, 1, e] / (e + 1 + e)`, `e = exp(-0.5)`, and mode `reflect`
//! (at the border the missing neighbour is the pixel itself). This module does
//! the same operations in the same order, so it matches scipy bit for bit.

/// The centre and side weights, as scipy computes them.
pub fn weights() -> (f64, f64) {
    let e = (-0.5f64).exp();
    let sum = 0.0 + e + 1.0 + e;
    (1.0 / sum, e / sum)
}

/// One tap of the filter, truncated to `uint8` as scipy stores it.
#[inline]
fn tap(centre: u8, before: u8, after: u8, (w0, w1): (f64, f64)) -> u8 {
    let sides = f64::from(before) + f64::from(after);
    (f64::from(centre) * w0 + sides * w1) as u8
}

/// Blurs the `width` x `height` image `pixels` in place; `scratch` is reused
/// between calls.
pub fn gaussian(pixels: &mut [u8], width: usize, height: usize, scratch: &mut Vec<u8>) {
    let w = weights();
    scratch.clear();
    scratch.extend_from_slice(pixels);
    // Axis 0: along columns, from `scratch` into `pixels`.
    for y in 0..height {
        let up = y.saturating_sub(1);
        let down = (y + 1).min(height - 1);
        for x in 0..width {
            pixels[y * width + x] = tap(
                scratch[y * width + x],
                scratch[up * width + x],
                scratch[down * width + x],
                w,
            );
        }
    }
    // Axis 1: along rows, from `scratch` (a copy of pass 0) into `pixels`.
    scratch.copy_from_slice(pixels);
    for y in 0..height {
        let row = &scratch[y * width..(y + 1) * width];
        for x in 0..width {
            let left = row[x.saturating_sub(1)];
            let right = row[(x + 1).min(width - 1)];
            pixels[y * width + x] = tap(row[x], left, right, w);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_scipys() {
        // scipy.ndimage._gaussian_kernel1d(1, 0, 1) is [w1, w0, w1].
        assert_eq!(weights(), (0.45186276187760605, 0.274068619061197));
    }

    #[test]
    fn matches_scipy() {
        // scipy 1.17: gaussian_filter(a, sigma=1, radius=1) of the 3x4 image
        // a = [[0, 10, 200, 255], [30, 40, 50, 60], [255, 0, 255, 0]].
        let mut a = vec![0u8, 10, 200, 255, 30, 40, 50, 60, 255, 0, 255, 0];
        let mut scratch = Vec::new();
        gaussian(&mut a, 4, 3, &mut scratch);
        assert_eq!(a, vec![10, 53, 131, 189, 65, 72, 98, 109, 142, 111, 96, 65]);
        // A flat image stays flat, as scipy keeps it for every value.
        for v in [0u8, 1, 128, 200, 255] {
            let mut flat = vec![v; 12];
            gaussian(&mut flat, 4, 3, &mut scratch);
            assert_eq!(flat, vec![v; 12]);
        }
    }
}
