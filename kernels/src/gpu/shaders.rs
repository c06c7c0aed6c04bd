//! The WGSL sources, as the pipelines compile them.
//!
//! Each kernel's file in `shaders/` is loaded with the shared modules of
//! `shaders/shared/` prepended (WGSL has no imports), at build time with
//! `include_str!`, so the binary carries its shaders. The integration test
//! `shaders.rs` validates exactly these strings with naga.

/// `shaders/shared/frame.wgsl`: frame parameters, packed words, word helpers.
pub const SHARED_FRAME: &str = include_str!("../../../shaders/shared/frame.wgsl");

/// `shaders/shared/sad.wgsl`: exact 64-bit difference sums.
pub const SHARED_SAD: &str = include_str!("../../../shaders/shared/sad.wgsl");

/// `shaders/stats.wgsl` with its shared modules prepended.
pub const STATS: &str = concat!(
    include_str!("../../../shaders/shared/frame.wgsl"),
    "\n",
    include_str!("../../../shaders/shared/sad.wgsl"),
    "\n",
    include_str!("../../../shaders/stats.wgsl"),
);

/// `shaders/scene.wgsl` with its shared modules prepended.
pub const SCENE: &str = concat!(
    include_str!("../../../shaders/shared/frame.wgsl"),
    "\n",
    include_str!("../../../shaders/shared/sad.wgsl"),
    "\n",
    include_str!("../../../shaders/scene.wgsl"),
);

/// One kernel's composed WGSL and where it came from.
#[derive(Debug, Clone, Copy)]
pub struct KernelSource {
    /// The kernel's name (`stats`, `scene`).
    pub name: &'static str,
    /// The kernel's file, relative to the workspace root.
    pub file: &'static str,
    /// The shared modules prepended to it, relative to the workspace root.
    pub shared: &'static [&'static str],
    /// The composed source the pipelines compile.
    pub source: &'static str,
    /// Its compute entry points.
    pub entry_points: &'static [&'static str],
}

/// Every kernel's composed source.
pub const KERNELS: [KernelSource; 7] = [
    KernelSource {
        name: "stats",
        file: "shaders/stats.wgsl",
        shared: &["shaders/shared/frame.wgsl", "shaders/shared/sad.wgsl"],
        source: STATS,
        entry_points: &[super::stats::ENTRY_LUMA, super::stats::ENTRY_CHROMA],
    },
    KernelSource {
        name: "scene",
        file: "shaders/scene.wgsl",
        shared: &["shaders/shared/frame.wgsl", "shaders/shared/sad.wgsl"],
        source: SCENE,
        entry_points: &[super::scene::ENTRY_SAD],
    },
    KernelSource {
        name: "downscale",
        file: "shaders/downscale.wgsl",
        shared: &[],
        source: super::downscale::SOURCE,
        entry_points: &[super::downscale::ENTRY],
    },
    KernelSource {
        name: "motion",
        file: "shaders/motion.wgsl",
        shared: &["shaders/shared/frame.wgsl"],
        source: super::motion::SOURCE,
        entry_points: &[super::motion::ENTRY],
    },
    KernelSource {
        name: "freeze",
        file: "shaders/freeze.wgsl",
        shared: &["shaders/shared/frame.wgsl", "shaders/shared/sad.wgsl"],
        source: super::freeze::SOURCE,
        entry_points: &super::freeze::ENTRIES,
    },
    KernelSource {
        name: "blur",
        file: "shaders/blur.wgsl",
        shared: &["shaders/shared/frame.wgsl"],
        source: super::blur::SOURCE,
        entry_points: &super::blur::ENTRIES,
    },
    KernelSource {
        name: "aggregate",
        file: "shaders/aggregate.wgsl",
        shared: &[],
        source: super::aggregate::SOURCE,
        entry_points: &super::aggregate::ENTRIES,
    },
];

/// Every shared module: its file, relative to the workspace root, and source.
pub const SHARED: [(&str, &str); 2] = [
    ("shaders/shared/frame.wgsl", SHARED_FRAME),
    ("shaders/shared/sad.wgsl", SHARED_SAD),
];
