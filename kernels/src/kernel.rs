//! Which kernels run, and the raw integer state each one produces per frame.
//!
//! Backends produce [`FrameRaw`]: integers only (histograms, sums), which the GPU
//! and the CPU twin must agree on bit for bit. The float metrics users see are
//! finished on the host from those integers by [`crate::metrics`], by the same
//! code for both backends.

use crate::error::{KernelError, Result};

/// A frame-analysis kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// ffmpeg's signalstats: Y/U/V min, low, avg, high, max and saturation.
    Stats,
    /// ffmpeg's scdet: mean absolute frame difference and scene score.
    Scene,
}

impl Kernel {
    /// Every kernel, in the order they are reported.
    pub const ALL: [Kernel; 2] = [Kernel::Stats, Kernel::Scene];

    /// The kernel's name on the command line and in records.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Stats => "stats",
            Kernel::Scene => "scene",
        }
    }
}

impl std::str::FromStr for Kernel {
    type Err = KernelError;

    fn from_str(s: &str) -> Result<Self> {
        Kernel::ALL
            .into_iter()
            .find(|k| k.name() == s.trim())
            .ok_or_else(|| KernelError::UnknownKernel(s.trim().to_owned()))
    }
}

/// The set of kernels a backend runs on every frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelSet {
    /// Run [`Kernel::Stats`].
    pub stats: bool,
    /// Run [`Kernel::Scene`].
    pub scene: bool,
}

impl KernelSet {
    /// Every kernel.
    pub const ALL: KernelSet = KernelSet {
        stats: true,
        scene: true,
    };

    /// Parses a comma-separated list such as `stats,scene`.
    ///
    /// # Errors
    /// [`KernelError::UnknownKernel`] for a name osprey does not know, and for an
    /// empty list.
    pub fn parse(list: &str) -> Result<Self> {
        let mut set = KernelSet {
            stats: false,
            scene: false,
        };
        for name in list.split(',').filter(|s| !s.trim().is_empty()) {
            match name.parse::<Kernel>()? {
                Kernel::Stats => set.stats = true,
                Kernel::Scene => set.scene = true,
            }
        }
        if set.is_empty() {
            return Err(KernelError::UnknownKernel(list.to_owned()));
        }
        Ok(set)
    }

    /// True when no kernel is selected.
    pub fn is_empty(&self) -> bool {
        !self.stats && !self.scene
    }

    /// Whether `kernel` is in the set.
    pub fn contains(&self, kernel: Kernel) -> bool {
        match kernel {
            Kernel::Stats => self.stats,
            Kernel::Scene => self.scene,
        }
    }
}

/// Histogram index of each channel in [`FrameRaw::hist`].
pub mod channel {
    /// Luma.
    pub const Y: usize = 0;
    /// Chroma U (Cb).
    pub const U: usize = 1;
    /// Chroma V (Cr).
    pub const V: usize = 2;
    /// Saturation: `floor(hypot(U - 128, V - 128))`, as signalstats computes it.
    pub const SAT: usize = 3;
}

/// Integer results of the kernels for one frame, identical on every backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameRaw {
    /// Luma width of the frame.
    pub width: u32,
    /// Luma height of the frame.
    pub height: u32,
    /// 256-bin histograms of Y, U, V and saturation (see [`channel`]); all zero
    /// when `stats` did not run.
    pub hist: [[u32; 256]; 4],
    /// Sum of absolute luma differences against the previous frame; `None` for
    /// the first frame, after a size change, or when `scene` did not run.
    pub luma_sad: Option<u64>,
}

impl FrameRaw {
    /// An empty result for a frame of the given size.
    pub fn new(width: u32, height: u32) -> Self {
        FrameRaw {
            width,
            height,
            hist: [[0; 256]; 4],
            luma_sad: None,
        }
    }
}

/// Saturation of a chroma pair exactly as signalstats computes it for 8-bit
/// input: `hypot(u - 128, v - 128)` truncated to an integer.
///
/// Computed as an integer square root, which is exact: `du² + dv²` is below
/// 2^16, so `sqrt` of a non-square is never within float rounding of the next
/// integer, and the shader uses the same formula.
#[inline]
pub fn saturation(u: u8, v: u8) -> u8 {
    let du = i32::from(u) - 128;
    let dv = i32::from(v) - 128;
    let n = (du * du + dv * dv) as u32;
    // Largest s with s*s <= n; n <= 32768, so s <= 181.
    let mut s = (n as f64).sqrt() as u32;
    while s * s > n {
        s -= 1;
    }
    while (s + 1) * (s + 1) <= n {
        s += 1;
    }
    s as u8
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests unwrap known-good literals")]
mod tests {
    use super::*;

    #[test]
    fn parse_kernel_lists() {
        assert_eq!(
            KernelSet::parse("stats").unwrap(),
            KernelSet {
                stats: true,
                scene: false
            }
        );
        assert_eq!(KernelSet::parse("scene, stats").unwrap(), KernelSet::ALL);
        let err = KernelSet::parse("stats,bogus").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown kernel \"bogus\" (known: stats, scene)"
        );
        assert!(KernelSet::parse("").is_err());
    }

    #[test]
    fn saturation_matches_hypot_truncated() {
        for u in 0..=255u8 {
            for v in 0..=255u8 {
                let want = f64::hypot(f64::from(u) - 128.0, f64::from(v) - 128.0) as u8;
                assert_eq!(saturation(u, v), want, "u={u} v={v}");
            }
        }
        assert_eq!(saturation(0, 0), 181);
        assert_eq!(saturation(128, 128), 0);
    }
}
