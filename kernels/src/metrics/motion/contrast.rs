//! Frigate's `improve_contrast`: the 4th and 96th percentiles of the small
//! image, averaged over the last 50 frames that had distinct ones, clip and
//! stretch to 0..255.
//!
//! Done exactly as numpy does it, in f64: `np.percentile`'s linear
//! interpolation (with numpy's `_lerp`, which counts down from the upper value
//! when the fraction is 0.5 or more) truncated to `uint8`, `np.mean` of the
//! history (`sum / 50`), and `((clip(p, lo, hi) - lo) / (hi - lo)) * 255`
//! truncated to `uint8`. The stretch is a 256-entry table built once a frame.

/// Frames of history Frigate averages the percentiles over.
pub const HISTORY: usize = 50;
/// The lower percentile.
pub const LOW_PERCENTILE: f64 = 4.0;
/// The upper percentile.
pub const HIGH_PERCENTILE: f64 = 96.0;

/// `np.percentile(values, q).astype(np.uint8)` for the values counted in
/// `hist` (`total` of them, at least one), with numpy's default linear method.
pub fn percentile(hist: &[u32; 256], total: usize, q: f64) -> u8 {
    let virtual_index = (total.saturating_sub(1)) as f64 * (q / 100.0);
    let below = virtual_index.floor();
    let gamma = virtual_index - below;
    let below = below as usize;
    let above = (below + 1).min(total.saturating_sub(1));
    let a = f64::from(order_statistic(hist, below));
    let b = f64::from(order_statistic(hist, above));
    let diff = b - a;
    let value = if gamma >= 0.5 {
        b - diff * (1.0 - gamma)
    } else {
        a + diff * gamma
    };
    value as u8
}

/// The `k`-th smallest value (from 0) counted in `hist`.
fn order_statistic(hist: &[u32; 256], k: usize) -> u8 {
    let mut seen = 0usize;
    for (value, &count) in hist.iter().enumerate() {
        seen += count as usize;
        if seen > k {
            return value as u8;
        }
    }
    255
}

/// The last [`HISTORY`] percentile pairs, as Frigate keeps them (it starts
/// with every pair at `[0, 255]`).
#[derive(Debug, Clone)]
pub struct ContrastHistory {
    pairs: [(u8, u8); HISTORY],
    next: usize,
}

impl Default for ContrastHistory {
    fn default() -> Self {
        ContrastHistory {
            pairs: [(0, 255); HISTORY],
            next: 0,
        }
    }
}

impl ContrastHistory {
    /// Stretches `pixels` in place (histogram `hist`) as Frigate does; a frame
    /// whose two percentiles are equal is left as it is and not recorded.
    pub fn apply(&mut self, hist: &[u32; 256], pixels: &mut [u8]) {
        if pixels.is_empty() {
            return;
        }
        let low = percentile(hist, pixels.len(), LOW_PERCENTILE);
        let high = percentile(hist, pixels.len(), HIGH_PERCENTILE);
        if low >= high {
            return;
        }
        self.pairs[self.next] = (low, high);
        self.next = (self.next + 1) % HISTORY;
        let table = self.table();
        for p in pixels {
            *p = table[usize::from(*p)];
        }
    }

    /// The stretch of every input value for the current averages.
    fn table(&self) -> [u8; 256] {
        let (sum_low, sum_high) = self.pairs.iter().fold((0u32, 0u32), |(l, h), &(a, b)| {
            (l + u32::from(a), h + u32::from(b))
        });
        let low = f64::from(sum_low) / HISTORY as f64;
        let high = f64::from(sum_high) / HISTORY as f64;
        let mut table = [0u8; 256];
        for (value, out) in table.iter_mut().enumerate() {
            let clipped = (value as f64).max(low).min(high);
            *out = ((clipped - low) / (high - low) * 255.0) as u8;
        }
        table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist_of(values: &[u8]) -> [u32; 256] {
        let mut h = [0; 256];
        for &v in values {
            h[usize::from(v)] += 1;
        }
        h
    }

    /// numpy's percentile read plainly: sort, interpolate.
    fn naive_percentile(values: &[u8], q: f64) -> u8 {
        let mut s = values.to_vec();
        s.sort_unstable();
        let vi = (s.len() - 1) as f64 * (q / 100.0);
        let lo = vi.floor() as usize;
        let hi = (lo + 1).min(s.len() - 1);
        let t = vi - lo as f64;
        let (a, b) = (f64::from(s[lo]), f64::from(s[hi]));
        (if t >= 0.5 {
            b - (b - a) * (1.0 - t)
        } else {
            a + (b - a) * t
        }) as u8
    }

    #[test]
    fn percentiles_match_numpy() {
        // np.percentile(np.arange(26, dtype=np.uint8) * 10 % 251, [4, 96])
        // .astype(np.uint8) == [10, 240]; np.percentile([0, 100], 4) == 4.
        let values: Vec<u8> = (0..26u32).map(|i| (i * 10 % 251) as u8).collect();
        assert_eq!(percentile(&hist_of(&values), values.len(), 4.0), 10);
        assert_eq!(percentile(&hist_of(&values), values.len(), 96.0), 240);
        assert_eq!(percentile(&hist_of(&[0, 100]), 2, 4.0), 4);
        assert_eq!(percentile(&hist_of(&[0, 100]), 2, 96.0), 96);
        assert_eq!(percentile(&hist_of(&[7]), 1, 96.0), 7);
        let mut seed = 7u32;
        for n in [1usize, 2, 3, 50, 133, 13300] {
            let values: Vec<u8> = (0..n)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (seed >> 16) as u8 / 3 + 40
                })
                .collect();
            for q in [LOW_PERCENTILE, HIGH_PERCENTILE] {
                assert_eq!(
                    percentile(&hist_of(&values), n, q),
                    naive_percentile(&values, q),
                    "n {n} q {q}"
                );
            }
        }
    }

    #[test]
    fn stretch_matches_frigate() {
        // Frigate's arithmetic on a fresh history after one frame with
        // percentiles (50, 150): averages (1.0, 252.9).
        let mut pixels: Vec<u8> = (0..100).map(|i| 50 + i as u8).collect();
        pixels.push(0);
        pixels.push(255);
        let hist = hist_of(&pixels);
        let low = percentile(&hist, pixels.len(), 4.0);
        let high = percentile(&hist, pixels.len(), 96.0);
        let mut h = ContrastHistory::default();
        let mut out = pixels.clone();
        h.apply(&hist, &mut out);
        let (lo, hi) = (
            f64::from(low) / 50.0,
            (f64::from(high) + 49.0 * 255.0) / 50.0,
        );
        for (p, o) in pixels.iter().zip(&out) {
            let c = f64::from(*p).clamp(lo, hi);
            assert_eq!(*o, ((c - lo) / (hi - lo) * 255.0) as u8, "pixel {p}");
        }
        assert_eq!(out[pixels.len() - 1], 255);
        // A flat frame is not stretched and not recorded.
        let mut flat = vec![9u8; 10];
        h.apply(&hist_of(&flat), &mut flat);
        assert_eq!(flat, vec![9u8; 10]);
        assert_eq!(h.next, 1);
    }
}
