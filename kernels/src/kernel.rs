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
    /// ffmpeg's signalstats: Y/U/V min, low, avg, high, max, saturation, hue,
    /// and the Y/U/V differences against the previous frame.
    Stats,
    /// ffmpeg's scdet: mean absolute frame difference and scene score.
    Scene,
    /// Frigate's motion detector: changed area and boxes, per zone too.
    Motion,
    /// ffmpeg's blackdetect: black-pixel ratio and black periods.
    Black,
    /// ffmpeg's freezedetect: frozen periods.
    Freeze,
    /// ffmpeg's blurdetect value, and the variance of the Laplacian.
    Blur,
}

impl Kernel {
    /// Every kernel, in the order they are reported.
    pub const ALL: [Kernel; 6] = [
        Kernel::Stats,
        Kernel::Scene,
        Kernel::Motion,
        Kernel::Black,
        Kernel::Freeze,
        Kernel::Blur,
    ];

    /// The kernel's name on the command line and in records.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Stats => "stats",
            Kernel::Scene => "scene",
            Kernel::Motion => "motion",
            Kernel::Black => "black",
            Kernel::Freeze => "freeze",
            Kernel::Blur => "blur",
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
    /// Run [`Kernel::Motion`].
    pub motion: bool,
    /// Run [`Kernel::Black`].
    pub black: bool,
    /// Run [`Kernel::Freeze`].
    pub freeze: bool,
    /// Run [`Kernel::Blur`].
    pub blur: bool,
}

impl KernelSet {
    /// No kernel.
    pub const NONE: KernelSet = KernelSet {
        stats: false,
        scene: false,
        motion: false,
        black: false,
        freeze: false,
        blur: false,
    };

    /// Every kernel.
    pub const ALL: KernelSet = KernelSet {
        stats: true,
        scene: true,
        motion: true,
        black: true,
        freeze: true,
        blur: true,
    };

    /// Parses a comma-separated list such as `stats,scene`; `all` means every
    /// kernel.
    ///
    /// # Errors
    /// [`KernelError::UnknownKernel`] for a name osprey does not know, and for an
    /// empty list.
    pub fn parse(list: &str) -> Result<Self> {
        let mut set = KernelSet::NONE;
        for name in list.split(',').filter(|s| !s.trim().is_empty()) {
            if name.trim() == "all" {
                set = KernelSet::ALL;
                continue;
            }
            set = set.with(name.parse::<Kernel>()?);
        }
        if set.is_empty() {
            return Err(KernelError::UnknownKernel(list.to_owned()));
        }
        Ok(set)
    }

    /// This set plus `kernel`.
    pub fn with(mut self, kernel: Kernel) -> Self {
        *self.flag(kernel) = true;
        self
    }

    /// A set of exactly `kernels`.
    pub fn of(kernels: &[Kernel]) -> Self {
        kernels.iter().fold(KernelSet::NONE, |set, &k| set.with(k))
    }

    fn flag(&mut self, kernel: Kernel) -> &mut bool {
        match kernel {
            Kernel::Stats => &mut self.stats,
            Kernel::Scene => &mut self.scene,
            Kernel::Motion => &mut self.motion,
            Kernel::Black => &mut self.black,
            Kernel::Freeze => &mut self.freeze,
            Kernel::Blur => &mut self.blur,
        }
    }

    /// True when no kernel is selected.
    pub fn is_empty(&self) -> bool {
        *self == KernelSet::NONE
    }

    /// Whether `kernel` is in the set.
    pub fn contains(&self, kernel: Kernel) -> bool {
        let mut copy = *self;
        *copy.flag(kernel)
    }

    /// The kernels in the set, in report order.
    pub fn iter(&self) -> impl Iterator<Item = Kernel> + '_ {
        Kernel::ALL.into_iter().filter(|&k| self.contains(k))
    }

    /// Whether the luma histogram is needed (`stats` or `black`).
    pub fn needs_luma_histogram(&self) -> bool {
        self.stats || self.black
    }

    /// Whether the luma difference against the previous frame is needed
    /// (`scene`, or `stats` for `YDIF`).
    pub fn needs_luma_sad(&self) -> bool {
        self.scene || self.stats
    }
}

/// Everything a backend needs to know about the analysis: the kernels and
/// the parameters that change what the kernels compute on the device.
///
/// Parameters that only change host-side finishing (thresholds of events,
/// hysteresis) live with the trackers in [`crate::metrics`], not here.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisConfig {
    /// Which kernels run.
    pub kernels: KernelSet,
    /// Height of the luma image the motion detector works on (Frigate's
    /// `frame_height`, default 100); its width keeps the aspect ratio.
    pub motion_frame_height: u32,
    /// freezedetect's noise tolerance as a linear ratio (`n`, default -60 dB,
    /// that is 0.001).
    pub freeze_noise: f64,
    /// blurdetect's parameters.
    pub blur: BlurParams,
    /// Frigate's `detect` size: when set, every kernel runs on each frame
    /// area-downscaled to exactly this width x height (even sides, no larger
    /// than the frame), and [`FrameRaw`]'s size is this size. `None` (the
    /// default) analyses frames at their decoded size. See
    /// [`crate::detect_size`].
    pub detect_size: Option<(u32, u32)>,
}

/// blurdetect's parameters, with ffmpeg's defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlurParams {
    /// Low threshold of the edge hysteresis, 0 to 1 (`low`, default 15/255).
    pub low: f64,
    /// High threshold of the edge hysteresis, 0 to 1 (`high`, default 30/255).
    pub high: f64,
    /// Largest edge width searched, in pixels (`radius`, default 50).
    pub radius: u32,
    /// Percentage of the sharpest blocks pooled (`block_pct`, default 80).
    pub block_pct: u32,
    /// Block width in pixels; `None` for the whole frame (`block_width`, default -1).
    pub block_width: Option<u32>,
    /// Block height in pixels; `None` for the whole frame (`block_height`, default -1).
    pub block_height: Option<u32>,
}

impl Default for BlurParams {
    fn default() -> Self {
        BlurParams {
            low: 15.0 / 255.0,
            high: 30.0 / 255.0,
            radius: 50,
            block_pct: 80,
            block_width: None,
            block_height: None,
        }
    }
}

impl AnalysisConfig {
    /// Frigate's default `frame_height`.
    pub const DEFAULT_MOTION_FRAME_HEIGHT: u32 = 100;
    /// freezedetect's default noise, -60 dB.
    pub const DEFAULT_FREEZE_NOISE: f64 = 0.001;
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        AnalysisConfig::from(KernelSet::ALL)
    }
}

impl From<KernelSet> for AnalysisConfig {
    /// `kernels` with every parameter at its default.
    fn from(kernels: KernelSet) -> Self {
        AnalysisConfig {
            kernels,
            motion_frame_height: AnalysisConfig::DEFAULT_MOTION_FRAME_HEIGHT,
            freeze_noise: AnalysisConfig::DEFAULT_FREEZE_NOISE,
            blur: BlurParams::default(),
            detect_size: None,
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
///
/// A backend reuses the `FrameRaw`s of the `out` vector it is given, so the
/// vectors inside keep their capacity from chunk to chunk: no per-frame
/// allocation once the sizes are stable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameRaw {
    /// Luma width of the frame.
    pub width: u32,
    /// Luma height of the frame.
    pub height: u32,
    /// 256-bin histograms of Y, U, V and saturation (see [`channel`]); all zero
    /// when neither `stats` nor `black` runs (the histogram pass is shared:
    /// `black` alone fills all four).
    pub hist: [[u32; 256]; 4],
    /// 360-bin histogram of signalstats' hue, one bin a degree; `stats` only.
    pub hue_hist: [u32; 360],
    /// Sum of absolute luma differences against the previous frame; `None` for
    /// the first frame, after a size change, or when neither `scene` nor
    /// `stats` ran.
    pub luma_sad: Option<u64>,
    /// Sums of absolute U and V differences against the previous frame
    /// (signalstats' `UDIF`/`VDIF`); `None` as for `luma_sad`, or without `stats`.
    pub chroma_sad: Option<[u64; 2]>,
    /// freezedetect's comparison with its reference frame; `None` for the first
    /// frame, after a size change, or without `freeze`.
    pub freeze: Option<FreezeRaw>,
    /// The small luma image the motion detector works on; empty without `motion`.
    pub motion: MotionRaw,
    /// blurdetect's per-block edge widths and the Laplacian sums; empty without `blur`.
    pub blur: BlurRaw,
}

/// freezedetect's comparison of one frame with its reference frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FreezeRaw {
    /// Sum of absolute differences over every plane (Y, U and V).
    pub sad: u64,
    /// Whether `sad` is within the noise tolerance: then the reference stays,
    /// otherwise this frame becomes the reference for the next one.
    pub frozen: bool,
}

/// The luma image, downscaled to the motion detector's size.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MotionRaw {
    /// Width of the small image.
    pub width: u32,
    /// Height of the small image.
    pub height: u32,
    /// `width * height` luma samples, row by row.
    pub pixels: Vec<u8>,
}

/// blurdetect's integer state of one frame, and the Laplacian sums.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BlurRaw {
    /// One entry a block of blurdetect's grid, row by row.
    pub blocks: Vec<BlurBlock>,
    /// Sum of the 3x3 Laplacian of luma over the interior pixels.
    pub laplacian_sum: i64,
    /// Sum of its squares.
    pub laplacian_sq: u64,
    /// Number of interior pixels summed.
    pub laplacian_count: u64,
}

/// Edge widths found in one block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlurBlock {
    /// Sum of the widths of the block's edge pixels, in units of
    /// [`BlurBlock::WIDTH_ONE`] (fixed point: ffmpeg's diagonal widths, `0.7 n`
    /// rounded to a C float, are whole numbers of 2^-24).
    pub width_sum: u64,
    /// Number of edge pixels with a width.
    pub edges: u32,
}

impl BlurBlock {
    /// One pixel of edge width in [`BlurBlock::width_sum`]'s units (2^24).
    pub const WIDTH_ONE: u64 = 1 << 24;
}

impl FrameRaw {
    /// An empty result for a frame of the given size.
    pub fn new(width: u32, height: u32) -> Self {
        FrameRaw {
            width,
            height,
            hist: [[0; 256]; 4],
            hue_hist: [0; 360],
            luma_sad: None,
            chroma_sad: None,
            freeze: None,
            motion: MotionRaw::default(),
            blur: BlurRaw::default(),
        }
    }

    /// Empties the result for a frame of the given size, keeping the
    /// capacity of its vectors.
    pub fn reset(&mut self, width: u32, height: u32) {
        self.width = width;
        self.height = height;
        self.hist = [[0; 256]; 4];
        self.hue_hist = [0; 360];
        self.luma_sad = None;
        self.chroma_sad = None;
        self.freeze = None;
        self.motion.width = 0;
        self.motion.height = 0;
        self.motion.pixels.clear();
        self.blur.blocks.clear();
        self.blur.laplacian_sum = 0;
        self.blur.laplacian_sq = 0;
        self.blur.laplacian_count = 0;
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
mod tests {
    use super::*;

    #[test]
    fn parse_kernel_lists() {
        assert_eq!(
            KernelSet::parse("stats").unwrap(),
            KernelSet::of(&[Kernel::Stats])
        );
        assert_eq!(
            KernelSet::parse("scene, stats").unwrap(),
            KernelSet::of(&[Kernel::Scene, Kernel::Stats])
        );
        assert_eq!(
            KernelSet::parse("stats,scene,motion,black,freeze,blur").unwrap(),
            KernelSet::ALL
        );
        assert_eq!(KernelSet::parse("all").unwrap(), KernelSet::ALL);
        let err = KernelSet::parse("stats,bogus").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown kernel \"bogus\" (known: stats, scene, motion, black, freeze, blur)"
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
