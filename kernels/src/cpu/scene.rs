//! CPU twin of `shaders/scene.wgsl`: the sum of absolute luma differences
//! between a frame and the one before it (scdet's SAD on the luma plane, and
//! signalstats' `YDIF`), and the chroma sums behind `UDIF`/`VDIF`, which
//! `shaders/stats.wgsl` computes in its chroma pass.

/// Sum of `|a[i] - b[i]|` over a row; the two rows have equal length.
///
/// Written so that LLVM turns it into `psadbw`-style vector code.
#[inline]
pub fn row_sad(a: &[u8], b: &[u8]) -> u64 {
    let mut total = 0u64;
    for (ca, cb) in a.chunks(4096).zip(b.chunks(4096)) {
        // 4096 * 255 fits in u32, so the inner sum cannot overflow.
        let s: u32 = ca
            .iter()
            .zip(cb)
            .map(|(&x, &y)| u32::from(x.abs_diff(y)))
            .sum();
        total += u64::from(s);
    }
    total
}

/// Sums of `|a[i] - b[i]|` over the even and the odd bytes of two interleaved
/// `u v u v ...` rows (NV12 chroma) of equal length: `[u, v]`.
#[inline]
pub fn interleaved_row_sad(a: &[u8], b: &[u8]) -> [u64; 2] {
    let mut total = [0u64; 2];
    for (ca, cb) in a.chunks(4096).zip(b.chunks(4096)) {
        // 2048 * 255 per lane fits in u32.
        let mut s = [0u32; 2];
        for (pa, pb) in ca.chunks(2).zip(cb.chunks(2)) {
            for (k, (&x, &y)) in pa.iter().zip(pb).enumerate() {
                s[k] += u32::from(x.abs_diff(y));
            }
        }
        total[0] += u64::from(s[0]);
        total[1] += u64::from(s[1]);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sad_of_rows() {
        assert_eq!(row_sad(&[], &[]), 0);
        assert_eq!(row_sad(&[0, 255, 10], &[255, 0, 12]), 512);
        let a = vec![255u8; 10_000];
        let b = vec![0u8; 10_000];
        assert_eq!(row_sad(&a, &b), 2_550_000);
    }

    #[test]
    fn interleaved_sad_splits_lanes() {
        assert_eq!(interleaved_row_sad(&[], &[]), [0, 0]);
        assert_eq!(interleaved_row_sad(&[0, 255, 10], &[3, 0, 12]), [5, 255]);
        let a: Vec<u8> = (0..9999u32).map(|i| (i * 7) as u8).collect();
        let b: Vec<u8> = (0..9999u32).map(|i| (i * 13) as u8).collect();
        let even: u64 = a
            .iter()
            .zip(&b)
            .step_by(2)
            .map(|(&x, &y)| u64::from(x.abs_diff(y)))
            .sum();
        let all = row_sad(&a, &b);
        assert_eq!(interleaved_row_sad(&a, &b), [even, all - even]);
    }
}
