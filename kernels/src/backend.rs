//! The one interface every frame backend implements, and the user's choice of
//! backend.
//!
//! `auto` takes a hardware wgpu adapter when there is one and says which; a
//! software one (Mesa's lavapipe) it leaves alone, since the CPU twins are far
//! faster than shaders run on the CPU. `gpu` takes any adapter, software ones
//! included, and fails clearly when there is none; `cpu` never touches wgpu.
//! [`crate::Device`] applies the choice; this module depends on neither twin.

use crate::error::{KernelError, Result};
use crate::frame::{FrameView, OwnedFrame};
use crate::kernel::FrameRaw;

/// Which backend the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// A hardware GPU adapter when wgpu finds one, else the CPU.
    #[default]
    Auto,
    /// A GPU adapter (a software one too), or an error.
    Gpu,
    /// The CPU twins only; wgpu is never initialised.
    Cpu,
}

impl std::str::FromStr for BackendChoice {
    type Err = KernelError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(BackendChoice::Auto),
            "gpu" => Ok(BackendChoice::Gpu),
            "cpu" => Ok(BackendChoice::Cpu),
            other => Err(KernelError::UnknownBackend(other.to_owned())),
        }
    }
}

/// A compute backend: runs the selected kernels over chunks of frames.
///
/// Backends keep the state that crosses chunk boundaries (the previous frame for
/// `scene`), so chunks must be passed in stream order.
pub trait Backend: Send {
    /// A short description for logs and summaries, e.g. `cpu (2 threads)` or
    /// `gpu: NVIDIA H100 (Vulkan)`.
    fn label(&self) -> String;

    /// True for a wgpu backend.
    fn is_gpu(&self) -> bool;

    /// Runs the kernels on `frames` (one chunk, in stream order) and writes one
    /// [`FrameRaw`] a frame into `out` (cleared first).
    ///
    /// # Errors
    /// [`KernelError::Gpu`] when the device fails; frames are validated when
    /// their views are built, so input errors cannot reach this point.
    fn analyze(&mut self, frames: &[FrameView<'_>], out: &mut Vec<FrameRaw>) -> Result<()>;

    /// Forgets cross-chunk state, as at the start of a new stream.
    fn reset(&mut self);

    /// Downscales `frame` (I420 or NV12) to an I420 frame of exactly `width` x
    /// `height` in `out`, reusing its allocation when it already has that size.
    ///
    /// An area (box) filter in exact integers: both backends give the same
    /// bytes (see `cpu/downscale.rs`). Meant for thumbnails, not the hot path.
    ///
    /// # Errors
    /// [`KernelError::InvalidFrame`] when `width` or `height` is 0 or larger
    /// than the frame's; [`KernelError::Gpu`] when the device fails.
    fn downscale(
        &mut self,
        frame: &FrameView<'_>,
        width: u32,
        height: u32,
        out: &mut OwnedFrame,
    ) -> Result<()>;
}
