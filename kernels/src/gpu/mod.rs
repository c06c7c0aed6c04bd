//! The wgpu backend: WGSL twins of the CPU kernels.
//!
//! (Being written: until it lands, every GPU request reports that no adapter was
//! found.)

use crate::backend::Backend;
use crate::error::{KernelError, Result};
use crate::frame::FrameView;
use crate::kernel::{FrameRaw, KernelSet};

/// The GPU backend.
#[derive(Debug)]
pub struct GpuBackend {
    _kernels: KernelSet,
}

impl GpuBackend {
    /// Opens the default adapter and builds the pipelines for `kernels`.
    ///
    /// # Errors
    /// [`KernelError::NoAdapter`] when wgpu finds no adapter.
    pub fn open(kernels: KernelSet) -> Result<Self> {
        let _ = kernels;
        Err(KernelError::NoAdapter)
    }
}

impl Backend for GpuBackend {
    fn label(&self) -> String {
        "gpu".into()
    }
    fn is_gpu(&self) -> bool {
        true
    }
    fn analyze(&mut self, _frames: &[FrameView<'_>], _out: &mut Vec<FrameRaw>) -> Result<()> {
        Err(KernelError::NoAdapter)
    }
    fn reset(&mut self) {}
}
