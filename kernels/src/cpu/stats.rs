//! CPU twin of `shaders/stats.wgsl`: 256-bin histograms of Y, U, V and
//! saturation per frame.
//!
//! The shader counts into workgroup-local atomics and adds them to the frame's
//! histogram; here each row is counted into four interleaved sub-histograms
//! (so consecutive equal pixels do not wait on one another's store) that are
//! summed at the end. Addition commutes, so the integers are the same.

use crate::kernel::{channel, saturation};
use std::sync::OnceLock;

/// Four sub-histograms of one channel, summed by [`Histogram4::merge_into`].
#[derive(Debug, Clone)]
pub struct Histogram4 {
    bins: [[u32; 256]; 4],
}

impl Default for Histogram4 {
    fn default() -> Self {
        Self::new()
    }
}

impl Histogram4 {
    /// Empty histograms.
    pub fn new() -> Self {
        Histogram4 {
            bins: [[0; 256]; 4],
        }
    }

    /// Counts every byte of `row`.
    #[inline]
    pub fn add_row(&mut self, row: &[u8]) {
        let mut quads = row.chunks_exact(4);
        for q in &mut quads {
            self.bins[0][q[0] as usize] += 1;
            self.bins[1][q[1] as usize] += 1;
            self.bins[2][q[2] as usize] += 1;
            self.bins[3][q[3] as usize] += 1;
        }
        for &b in quads.remainder() {
            self.bins[0][b as usize] += 1;
        }
    }

    /// Adds the four sub-histograms into `out`.
    pub fn merge_into(&self, out: &mut [u32; 256]) {
        for (i, o) in out.iter_mut().enumerate() {
            *o += self.bins[0][i] + self.bins[1][i] + self.bins[2][i] + self.bins[3][i];
        }
    }
}

/// Saturation of every (u, v) pair, indexed `u * 256 + v`: 64 KiB that stay in
/// cache, computed once from [`saturation`], the function the shader mirrors.
fn saturation_table() -> &'static [u8; 65536] {
    static TABLE: OnceLock<Box<[u8; 65536]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = Box::new([0u8; 65536]);
        for u in 0..256usize {
            for v in 0..256usize {
                t[u * 256 + v] = saturation(u as u8, v as u8);
            }
        }
        t
    })
}

/// U, V and saturation histograms of the chroma planes.
#[derive(Debug, Clone)]
pub struct ChromaHistograms {
    u: Histogram4,
    v: Histogram4,
    sat: Histogram4,
    table: &'static [u8; 65536],
}

impl Default for ChromaHistograms {
    fn default() -> Self {
        Self::new()
    }
}

impl ChromaHistograms {
    /// Empty histograms.
    pub fn new() -> Self {
        ChromaHistograms {
            u: Histogram4::new(),
            v: Histogram4::new(),
            sat: Histogram4::new(),
            table: saturation_table(),
        }
    }

    /// Counts one row of planar chroma (I420): `u` and `v` of equal length.
    #[inline]
    pub fn add_planar_row(&mut self, u: &[u8], v: &[u8]) {
        self.u.add_row(u);
        self.v.add_row(v);
        let mut i = 0;
        let n = u.len().min(v.len());
        while i + 2 <= n {
            let s0 = self.table[(u[i] as usize) << 8 | v[i] as usize];
            let s1 = self.table[(u[i + 1] as usize) << 8 | v[i + 1] as usize];
            self.sat.bins[0][s0 as usize] += 1;
            self.sat.bins[1][s1 as usize] += 1;
            i += 2;
        }
        if i < n {
            let s = self.table[(u[i] as usize) << 8 | v[i] as usize];
            self.sat.bins[0][s as usize] += 1;
        }
    }

    /// Counts one row of interleaved chroma (NV12): `u0 v0 u1 v1 ...`.
    #[inline]
    pub fn add_interleaved_row(&mut self, uv: &[u8]) {
        let mut pairs = uv.chunks_exact(4);
        for q in &mut pairs {
            let (u0, v0, u1, v1) = (q[0] as usize, q[1] as usize, q[2] as usize, q[3] as usize);
            self.u.bins[0][u0] += 1;
            self.v.bins[0][v0] += 1;
            self.u.bins[1][u1] += 1;
            self.v.bins[1][v1] += 1;
            self.sat.bins[0][self.table[u0 << 8 | v0] as usize] += 1;
            self.sat.bins[1][self.table[u1 << 8 | v1] as usize] += 1;
        }
        if let [u, v] = pairs.remainder() {
            let (u, v) = (*u as usize, *v as usize);
            self.u.bins[2][u] += 1;
            self.v.bins[2][v] += 1;
            self.sat.bins[2][self.table[u << 8 | v] as usize] += 1;
        }
    }

    /// Adds the U, V and saturation counts into a frame's histograms.
    pub fn merge_into(&self, hist: &mut [[u32; 256]; 4]) {
        self.u.merge_into(&mut hist[channel::U]);
        self.v.merge_into(&mut hist[channel::V]);
        self.sat.merge_into(&mut hist[channel::SAT]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_counts_every_byte() {
        let mut h = Histogram4::new();
        h.add_row(&[1, 1, 1, 1, 1, 2, 255]);
        h.add_row(&[]);
        let mut out = [0; 256];
        h.merge_into(&mut out);
        assert_eq!((out[1], out[2], out[255]), (5, 1, 1));
        assert_eq!(out.iter().sum::<u32>(), 7);
    }

    #[test]
    fn planar_and_interleaved_agree() {
        let u = [0u8, 128, 255, 17, 200];
        let v = [0u8, 128, 0, 99, 3];
        let uv: Vec<u8> = u.iter().zip(&v).flat_map(|(&a, &b)| [a, b]).collect();
        let (mut a, mut b) = (ChromaHistograms::new(), ChromaHistograms::new());
        a.add_planar_row(&u, &v);
        b.add_interleaved_row(&uv);
        let (mut ha, mut hb) = ([[0; 256]; 4], [[0; 256]; 4]);
        a.merge_into(&mut ha);
        b.merge_into(&mut hb);
        assert_eq!(ha, hb);
        assert_eq!(ha[channel::SAT][181], 1); // (0, 0)
        assert_eq!(ha[channel::SAT][0], 1); // (128, 128)
    }
}
