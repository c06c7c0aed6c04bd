//! The one integration test binary of `osprey-kernels`.
//!
//! GPU tests never skip: with no adapter they fail (CI installs Mesa's
//! lavapipe), and with `OSPREY_REQUIRE_GPU=1` a CPU-only adapter fails them
//! too; see [`common::gpu_context`].

mod aggregate;
mod blur;
mod common;
mod context;
mod detect_size;
mod downscale;
mod hop;
mod limits;
mod moments;
mod motion;
mod parity;
mod shaders;
mod sketches;
