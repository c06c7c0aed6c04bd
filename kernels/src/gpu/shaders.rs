//! The WGSL sources, as the pipelines compile them, and the one table of
//! what the host knows about each: entry points, workgroup size and bindings.
//!
//! Each kernel's file in `shaders/` is loaded with the shared modules of
//! `shaders/shared/` prepended (WGSL has no imports), at build time with
//! `include_str!`, so the binary carries its shaders. [`KERNELS`] is the
//! table (vello's `vello_shaders` keeps one of the same kind): every bind
//! group layout is built from it ([`KernelSource::layout_entries`]) and every
//! binding number the host binds with is read from it at compile time
//! ([`KernelSource::number`]), so there is nothing to mirror by hand. The
//! integration test `shaders.rs` parses exactly these strings with naga and
//! checks the table against them: entry points, workgroup sizes, and each
//! binding's name, number and address space against the globals the entry
//! points use.

use std::num::NonZeroU64;

use super::types::{AggParams, BlurFrame, DownscaleParams, FrameParams, WORKGROUP_SIZE};

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

/// How the shader declares a binding, and so how the host lays it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `var<uniform>` of a struct of `size` bytes; `dynamic` when each
    /// dispatch picks its element by a dynamic offset.
    Uniform {
        /// The struct's size in bytes.
        size: u64,
        /// Whether the binding takes a dynamic offset.
        dynamic: bool,
    },
    /// `var<storage, read>`.
    Read,
    /// `var<storage, read_write>`.
    ReadWrite,
}

/// One binding of bind group 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    /// The WGSL variable's name.
    pub name: &'static str,
    /// Its `@binding` number.
    pub number: u32,
    /// How it is declared.
    pub access: Access,
}

impl Binding {
    /// The bind group layout entry of this binding (compute stage only).
    pub fn layout_entry(&self) -> wgpu::BindGroupLayoutEntry {
        let ty = match self.access {
            Access::Uniform { size, dynamic } => wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: dynamic,
                min_binding_size: NonZeroU64::new(size),
            },
            Access::Read => storage(true),
            Access::ReadWrite => storage(false),
        };
        wgpu::BindGroupLayoutEntry {
            binding: self.number,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty,
            count: None,
        }
    }
}

/// One kernel's composed WGSL and what the host knows about it.
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
    /// Its compute entry points, in the shader's order.
    pub entry_points: &'static [&'static str],
    /// `@workgroup_size` of every entry point.
    pub workgroup_size: [u32; 3],
    /// Its bind group 0, by binding number: exactly the globals its entry
    /// points use.
    pub bindings: &'static [Binding],
}

impl KernelSource {
    /// The binding number of the variable `name`; evaluated in a `const`, a
    /// name the table lacks fails the build.
    ///
    /// # Panics
    /// When the kernel has no binding `name`.
    pub const fn number(&self, name: &str) -> u32 {
        let mut i = 0;
        while i < self.bindings.len() {
            if str_eq(self.bindings[i].name, name) {
                return self.bindings[i].number;
            }
            i += 1;
        }
        panic!("no such binding in the kernel table");
    }

    /// The entries of the kernel's bind group layout.
    pub fn layout_entries(&self) -> Vec<wgpu::BindGroupLayoutEntry> {
        self.bindings.iter().map(Binding::layout_entry).collect()
    }
}

/// `a == b`, in a `const fn`.
const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const fn storage(read_only: bool) -> wgpu::BindingType {
    wgpu::BindingType::Buffer {
        ty: wgpu::BufferBindingType::Storage { read_only },
        has_dynamic_offset: false,
        min_binding_size: None,
    }
}

const fn binding(name: &'static str, number: u32, access: Access) -> Binding {
    Binding {
        name,
        number,
        access,
    }
}

const fn uniform<T>(dynamic: bool) -> Access {
    Access::Uniform {
        size: size_of::<T>() as u64,
        dynamic,
    }
}

/// Every frame kernel's workgroup size (WGSL `WORKGROUP_SIZE`, `[n, 1, 1]`).
const FRAME_WORKGROUP: [u32; 3] = [WORKGROUP_SIZE, 1, 1];

/// `params` of `shared/frame.wgsl`: the frame's [`FrameParams`], by dynamic offset.
const PARAMS: Binding = binding("params", 0, uniform::<FrameParams>(true));
/// `frames` of `shared/frame.wgsl`: the chunk's packed planes.
const FRAMES: Binding = binding("frames", 1, Access::Read);
/// `prev_frame`: the planes of the last frame of the previous chunk.
const PREV_FRAME: Binding = binding("prev_frame", 2, Access::Read);
/// `sad` of `shared/sad.wgsl`: `SAD_PER_FRAME` sums a frame.
const SAD: Binding = binding("sad", 3, Access::ReadWrite);

/// `shaders/stats.wgsl`.
pub const STATS_KERNEL: KernelSource = KernelSource {
    name: "stats",
    file: "shaders/stats.wgsl",
    shared: &["shaders/shared/frame.wgsl", "shaders/shared/sad.wgsl"],
    source: STATS,
    entry_points: &[super::stats::ENTRY_LUMA, super::stats::ENTRY_CHROMA],
    workgroup_size: FRAME_WORKGROUP,
    bindings: &[
        PARAMS,
        FRAMES,
        PREV_FRAME,
        SAD,
        binding("hist", 4, Access::ReadWrite),
        binding("hue_table", 5, Access::Read),
    ],
};

/// `shaders/scene.wgsl`.
pub const SCENE_KERNEL: KernelSource = KernelSource {
    name: "scene",
    file: "shaders/scene.wgsl",
    shared: &["shaders/shared/frame.wgsl", "shaders/shared/sad.wgsl"],
    source: SCENE,
    entry_points: &[super::scene::ENTRY_SAD],
    workgroup_size: FRAME_WORKGROUP,
    bindings: &[PARAMS, FRAMES, PREV_FRAME, SAD],
};

/// `shaders/downscale.wgsl`.
pub const DOWNSCALE_KERNEL: KernelSource = KernelSource {
    name: "downscale",
    file: "shaders/downscale.wgsl",
    shared: &[],
    source: super::downscale::SOURCE,
    entry_points: &[super::downscale::ENTRY],
    workgroup_size: FRAME_WORKGROUP,
    bindings: &[
        binding("params", 0, uniform::<DownscaleParams>(false)),
        binding("src", 1, Access::Read),
        binding("dst", 2, Access::ReadWrite),
    ],
};

/// `shaders/motion.wgsl`.
pub const MOTION_KERNEL: KernelSource = KernelSource {
    name: "motion",
    file: "shaders/motion.wgsl",
    shared: &["shaders/shared/frame.wgsl"],
    source: super::motion::SOURCE,
    entry_points: &[super::motion::ENTRY],
    workgroup_size: FRAME_WORKGROUP,
    bindings: &[
        PARAMS,
        FRAMES,
        binding("motion_frames", 6, Access::Read),
        binding("motion_tables", 7, Access::Read),
        binding("motion_out", 8, Access::ReadWrite),
    ],
};

/// `shaders/freeze.wgsl`.
pub const FREEZE_KERNEL: KernelSource = KernelSource {
    name: "freeze",
    file: "shaders/freeze.wgsl",
    shared: &["shaders/shared/frame.wgsl", "shaders/shared/sad.wgsl"],
    source: super::freeze::SOURCE,
    entry_points: &super::freeze::ENTRIES,
    workgroup_size: FRAME_WORKGROUP,
    bindings: &[
        PARAMS,
        FRAMES,
        SAD,
        binding("freeze_frames", 6, Access::Read),
        binding("freeze_state", 7, Access::ReadWrite),
        binding("freeze_kept", 8, Access::ReadWrite),
    ],
};

/// `shaders/blur.wgsl`.
pub const BLUR_KERNEL: KernelSource = KernelSource {
    name: "blur",
    file: "shaders/blur.wgsl",
    shared: &["shaders/shared/frame.wgsl"],
    source: super::blur::SOURCE,
    entry_points: &super::blur::ENTRIES,
    workgroup_size: FRAME_WORKGROUP,
    bindings: &[
        PARAMS,
        FRAMES,
        binding("blur", 2, uniform::<BlurFrame>(true)),
        binding("diagonal", 3, Access::Read),
        binding("img", 4, Access::ReadWrite),
        binding("grad", 5, Access::ReadWrite),
        binding("nms", 6, Access::ReadWrite),
        binding("results", 7, Access::ReadWrite),
    ],
};

/// `shaders/aggregate.wgsl`.
pub const AGGREGATE_KERNEL: KernelSource = KernelSource {
    name: "aggregate",
    file: "shaders/aggregate.wgsl",
    shared: &[],
    source: super::aggregate::SOURCE,
    entry_points: &super::aggregate::ENTRIES,
    workgroup_size: [super::aggregate::WORKGROUP_SIZE, 1, 1],
    bindings: &[
        binding("params", 0, uniform::<AggParams>(false)),
        binding("slots", 1, Access::Read),
        binding("ts", 2, Access::Read),
        binding("values", 3, Access::Read),
        binding("valid", 4, Access::Read),
        binding("state", 5, Access::ReadWrite),
    ],
};

/// Every kernel's composed source and table entry.
pub const KERNELS: [KernelSource; 7] = [
    STATS_KERNEL,
    SCENE_KERNEL,
    DOWNSCALE_KERNEL,
    MOTION_KERNEL,
    FREEZE_KERNEL,
    BLUR_KERNEL,
    AGGREGATE_KERNEL,
];

/// Every shared module: its file, relative to the workspace root, and source.
pub const SHARED: [(&str, &str); 2] = [
    ("shaders/shared/frame.wgsl", SHARED_FRAME),
    ("shaders/shared/sad.wgsl", SHARED_SAD),
];
