//! Frigate's difference, threshold and dilation: `cv2.absdiff(frame,
//! convertScaleAbs(avg))`, `cv2.threshold(delta, threshold, 255,
//! THRESH_BINARY)` (changed where the difference is above the threshold), and
//! `cv2.dilate(thresh, None, iterations=1)`: a 3x3 square, pixels outside the
//! image ignored.

use super::background::level;

/// Marks in `changed` (1 or 0) the pixels of `frame` that differ from the
/// background by more than `threshold`.
pub fn threshold(frame: &[u8], background: &[u32], threshold: u8, changed: &mut Vec<u8>) {
    changed.clear();
    changed.extend(
        frame
            .iter()
            .zip(background)
            .map(|(&v, &avg)| u8::from(v.abs_diff(level(avg)) > threshold)),
    );
}

/// Dilates the `width` x `height` 0/1 image `mask` in place with a 3x3 square;
/// `scratch` is reused between calls.
pub fn dilate(mask: &mut [u8], width: usize, height: usize, scratch: &mut Vec<u8>) {
    // Rows first, into `scratch`; then columns, back into `mask`.
    scratch.clear();
    scratch.resize(mask.len(), 0);
    for y in 0..height {
        let row = &mask[y * width..(y + 1) * width];
        for x in 0..width {
            let lo = x.saturating_sub(1);
            let hi = (x + 1).min(width - 1);
            scratch[y * width + x] = row[lo..=hi].iter().copied().max().unwrap_or(0);
        }
    }
    for y in 0..height {
        let lo = y.saturating_sub(1);
        let hi = (y + 1).min(height - 1);
        for x in 0..width {
            mask[y * width + x] = (lo..=hi).map(|r| scratch[r * width + x]).max().unwrap_or(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 3x3 maximum read plainly.
    fn naive_dilate(mask: &[u8], w: usize, h: usize) -> Vec<u8> {
        let mut out = vec![0; mask.len()];
        for y in 0..h as i64 {
            for x in 0..w as i64 {
                let mut m = 0;
                for dy in -1..=1 {
                    for dx in -1..=1 {
                        let (nx, ny) = (x + dx, y + dy);
                        if nx >= 0 && ny >= 0 && nx < w as i64 && ny < h as i64 {
                            m = m.max(mask[(ny * w as i64 + nx) as usize]);
                        }
                    }
                }
                out[(y * w as i64 + x) as usize] = m;
            }
        }
        out
    }

    #[test]
    fn dilation_is_the_3x3_maximum() {
        let mut seed = 3u32;
        let mut scratch = Vec::new();
        for (w, h) in [(1, 1), (1, 5), (5, 1), (7, 4), (33, 20)] {
            let mask: Vec<u8> = (0..w * h)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    u8::from((seed >> 16).is_multiple_of(9))
                })
                .collect();
            let mut ours = mask.clone();
            dilate(&mut ours, w, h, &mut scratch);
            assert_eq!(ours, naive_dilate(&mask, w, h), "{w}x{h}");
        }
    }

    #[test]
    fn threshold_is_strictly_above() {
        let bg = [100 << 16, 100 << 16, 100 << 16, 0];
        let mut changed = Vec::new();
        threshold(&[130, 131, 69, 31], &bg, 30, &mut changed);
        assert_eq!(changed, vec![0, 1, 1, 1]);
    }
}
