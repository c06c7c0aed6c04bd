//! CPU twin of `shaders/scene.wgsl`: the sum of absolute luma differences
//! between a frame and the one before it (scdet's SAD on the luma plane).

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
}
