//! osprey's compute engine.
//!
//! Frames (borrowed [`FrameView`]s in their native I420/NV12 layout) go in by
//! chunks; a [`Backend`] runs the selected kernels on them and returns integer
//! state per frame ([`FrameRaw`]); [`metrics`] finishes that state into the
//! figures users see (signalstats, scdet) in f64, by one code path for every
//! backend.
//!
//! Every kernel exists twice, as `shaders/<name>.wgsl` run by [`gpu`] and as a
//! Rust twin in [`cpu`]; their integers agree bit for bit.
//!
//! This crate must not depend on GStreamer: its tests and benches are carried to
//! GPU machines that have none.

#![warn(unreachable_pub)]

pub mod backend;
pub mod cpu;
pub mod device;
pub mod error;
pub mod frame;
pub mod gpu;
pub mod kernel;
pub mod metrics;
pub mod setup;
#[cfg(any(test, feature = "synth"))]
pub mod synth;
pub mod window;

pub use backend::{Backend, BackendChoice};
pub use device::{Device, auto_uses_the_gpu, open, open_aggregator};
pub use error::{KernelError, Result};
pub use frame::{FrameView, OwnedFrame, PixelFormat, Plane};
pub use kernel::{FrameRaw, Kernel, KernelSet};
