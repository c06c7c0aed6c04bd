//! The compute device of a process: the GPU (one wgpu adapter, device and
//! queue) or the CPU, chosen once from `--backend auto|gpu|cpu`.
//!
//! A [`Device`] is opened once and cloned freely (it is an `Arc` inside);
//! every frame [`Backend`] and every window-aggregation [`Aggregator`] of the
//! process is made from it, so a server's cameras and queries share one GPU
//! context and its queue, and the adapter is requested once. This module sits
//! above [`crate::cpu`], [`crate::gpu`] and [`crate::window`]: it is the only
//! place that picks between the twins.

use std::sync::Arc;

use crate::backend::{Backend, BackendChoice};
use crate::cpu::CpuBackend;
use crate::cpu::aggregate::CpuAggregator;
use crate::detect_size::{DetectSizeBackend, check_size};
use crate::error::Result;
use crate::gpu::adapters::{AdapterSummary, instance, request_adapter};
use crate::gpu::aggregate::GpuAggregator;
use crate::gpu::{GpuBackend, GpuContext};
use crate::kernel::AnalysisConfig;
use crate::window::Aggregator;

/// Where the kernels of a process run: a shared GPU context, or the CPU twins.
///
/// # Example
/// ```
/// use osprey_kernels::{BackendChoice, Device, KernelSet};
///
/// let device = Device::open(BackendChoice::Cpu)?;
/// let frames = device.frame_backend(KernelSet::ALL)?;
/// let aggregator = device.aggregator()?;
/// assert!(!frames.is_gpu() && !aggregator.is_gpu());
/// # Ok::<(), osprey_kernels::KernelError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Device {
    gpu: Option<Arc<GpuContext>>,
}

impl Device {
    /// Opens the device the user chose. With [`BackendChoice::Auto`] a
    /// missing or software adapter ([`auto_uses_the_gpu`]) means the CPU, and
    /// says why at info level; any other GPU failure is reported, not hidden.
    /// The adapter is requested once, here.
    ///
    /// # Errors
    /// [`crate::KernelError::NoAdapter`] when `gpu` is asked for and wgpu finds none;
    /// [`crate::KernelError::DeviceRequest`] when the adapter cannot be opened.
    pub fn open(choice: BackendChoice) -> Result<Device> {
        match choice {
            BackendChoice::Cpu => Ok(Device::cpu()),
            BackendChoice::Gpu => Ok(Device::gpu(Arc::new(GpuContext::new()?))),
            BackendChoice::Auto => match auto_adapter_to_open() {
                Some(adapter) => Ok(Device::gpu(Arc::new(GpuContext::from_adapter(adapter)?))),
                None => Ok(Device::cpu()),
            },
        }
    }

    /// The CPU twins; wgpu is never initialised.
    pub fn cpu() -> Device {
        Device { gpu: None }
    }

    /// A GPU context the caller opened (with lower limits, say, or on an
    /// adapter of its choosing).
    pub fn gpu(ctx: Arc<GpuContext>) -> Device {
        Device { gpu: Some(ctx) }
    }

    /// The GPU context, or `None` on the CPU.
    pub fn context(&self) -> Option<&Arc<GpuContext>> {
        self.gpu.as_ref()
    }

    /// True when the kernels run on a GPU.
    pub fn is_gpu(&self) -> bool {
        self.gpu.is_some()
    }

    /// The adapter, or `None` on the CPU.
    pub fn adapter(&self) -> Option<&AdapterSummary> {
        self.gpu.as_deref().map(GpuContext::summary)
    }

    /// A frame backend running the kernels of `config` (a
    /// [`crate::KernelSet`] converts, with default parameters) on this device;
    /// with [`AnalysisConfig::detect_size`] set, wrapped in a
    /// [`DetectSizeBackend`] that analyses frames downscaled to that size.
    ///
    /// # Errors
    /// [`crate::KernelError::InvalidConfig`] when the detect size has an odd
    /// or zero side ([`crate::detect_size::check_size`]);
    /// [`crate::KernelError::Gpu`] when a pipeline fails to build or the device is lost.
    pub fn frame_backend(&self, config: impl Into<AnalysisConfig>) -> Result<Box<dyn Backend>> {
        let config = config.into();
        if let Some(size) = config.detect_size {
            check_size(size)?;
        }
        let detect_size = config.detect_size;
        let backend: Box<dyn Backend> = match &self.gpu {
            None => Box::new(CpuBackend::new(config)),
            Some(ctx) => Box::new(GpuBackend::new(Arc::clone(ctx), config)?),
        };
        Ok(match detect_size {
            None => backend,
            Some(size) => Box::new(DetectSizeBackend::new(backend, size)?),
        })
    }

    /// A window-aggregation backend on this device, for
    /// [`crate::window::Engine::new`].
    ///
    /// # Errors
    /// [`crate::KernelError::Gpu`] when a pipeline fails to build or the device is lost.
    pub fn aggregator(&self) -> Result<Box<dyn Aggregator>> {
        Ok(match &self.gpu {
            None => Box::new(CpuAggregator),
            Some(ctx) => Box::new(GpuAggregator::new(Arc::clone(ctx))?),
        })
    }
}

/// The adapter `auto` opens: the preferred one unless it is a software
/// implementation; `None` (said at info level) means the CPU.
fn auto_adapter_to_open() -> Option<wgpu::Adapter> {
    let Ok(adapter) = request_adapter(&instance()) else {
        tracing::info!("No GPU adapter found; using the CPU backend.");
        return None;
    };
    let summary = AdapterSummary::from_info(&adapter.get_info());
    if summary.is_cpu() {
        tracing::info!(
            adapter = %summary,
            "Only a software GPU adapter found; using the CPU backend, which is faster \
             (--backend gpu runs the shaders on it)."
        );
        return None;
    }
    Some(adapter)
}

/// Opens the backend the user chose, running the kernels of `config`: a
/// device of its own ([`Device::open`], then [`Device::frame_backend`]).
/// A process with several backends opens one [`Device`] and makes them all
/// from it instead.
///
/// # Errors
/// As [`Device::open`] and [`Device::frame_backend`].
pub fn open(choice: BackendChoice, config: impl Into<AnalysisConfig>) -> Result<Box<dyn Backend>> {
    Device::open(choice)?.frame_backend(config)
}

/// Opens the aggregation backend the user chose on a device of its own
/// ([`Device::open`], then [`Device::aggregator`]).
///
/// # Errors
/// As [`Device::open`] and [`Device::aggregator`].
pub fn open_aggregator(choice: BackendChoice) -> Result<Box<dyn Aggregator>> {
    Device::open(choice)?.aggregator()
}

/// Whether `auto` takes a GPU: only a hardware adapter
/// ([`crate::gpu::auto_adapter`]). Says at info level why not otherwise.
/// [`Device::open`] decides by the same rule, with the adapter it requests.
pub fn auto_uses_the_gpu() -> bool {
    auto_adapter_to_open().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_device_makes_cpu_backends() {
        let device = Device::open(BackendChoice::Cpu).unwrap();
        assert!(!device.is_gpu() && device.context().is_none() && device.adapter().is_none());
        assert!(
            !device
                .frame_backend(crate::KernelSet::ALL)
                .unwrap()
                .is_gpu()
        );
        assert!(!device.aggregator().unwrap().is_gpu());
    }
}
