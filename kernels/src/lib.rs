//! osprey's compute engine: frame analysis and window aggregation, on one
//! shared device.
//!
//! **The device.** A process opens one [`Device`] from `--backend
//! auto|gpu|cpu` ([`BackendChoice`]): the GPU (one wgpu adapter, requested
//! once, its device and queue in a [`gpu::GpuContext`]) or the CPU twins.
//! Every frame backend ([`Device::frame_backend`]) and every aggregation
//! backend ([`Device::aggregator`]) is made from it, so a server's cameras
//! and queries share one GPU context and its queue. [`open`] and
//! [`open_aggregator`] open a device of their own, for one-off callers.
//!
//! **Frame analysis.** Frames (borrowed [`FrameView`]s in their native
//! I420/NV12 layout) go in by chunks; a [`Backend`] runs the selected kernels
//! on them and returns integer state per frame ([`FrameRaw`]); [`metrics`]
//! finishes that state into the figures users see (signalstats, scdet,
//! blackdetect, freezedetect, blurdetect, Frigate's motion) in f64, by one
//! code path for every backend.
//! With a detect size ([`kernel::AnalysisConfig::detect_size`], Frigate's
//! `detect` size) the kernels run on each frame area-downscaled to it
//! ([`detect_size`]).
//!
//! **Window aggregation.** [`window`] assigns rows (event time, group id,
//! value columns) to tumbling, hopping and session windows under a
//! watermark, has an [`window::Aggregator`] (`shaders/aggregate.wgsl` or its
//! CPU twin) compute exact integer state per slot, merges it into the open
//! windows and hands closed windows out as accumulators that finish in f64.
//!
//! **The twins.** Every kernel exists twice, as `shaders/<name>.wgsl` run by
//! [`gpu`] and as a Rust twin in [`cpu`]; their integers agree bit for bit.
//! What both set up on the host (tables, plans) is in [`setup`]; every struct
//! that crosses to WGSL is in [`gpu::types`], and the table of shader entry
//! points, workgroup sizes and bindings in [`gpu::shaders`].
//!
//! **Names.** A *slot* is only ever an aggregation slot: the dense number of
//! a (window, group) pair within one batch ([`window::AggInput::slots`]).
//! Where a frame's planes lie in a chunk's upload buffer is its *packing*
//! (`PackedFrame`); the frame a kernel carries to the next chunk on the
//! device (scene's previous frame, freeze's reference) is a *kept* frame
//! (`KeptFrame`, WGSL `PREV_KEPT`, `freeze_kept`).
//!
//! Seeded synthetic frames for tests and benchmarks are behind the `synth`
//! feature. This crate must not depend on GStreamer: its tests and benches
//! are carried to GPU machines that have none.

#![warn(unreachable_pub)]

pub mod backend;
pub mod cpu;
pub mod detect_size;
pub mod device;
pub mod error;
pub mod frame;
pub mod gpu;
pub mod kernel;
pub mod metrics;
pub mod priority;
pub mod setup;
#[cfg(any(test, feature = "synth"))]
pub mod synth;
pub mod window;

pub use backend::{Backend, BackendChoice};
pub use device::{Device, auto_uses_the_gpu, open, open_aggregator};
pub use error::{KernelError, Result};
pub use frame::{FrameView, OwnedFrame, PixelFormat, Plane};
pub use kernel::{FrameRaw, Kernel, KernelSet};
