//! Which GPU adapters wgpu sees, and which one `--backend auto` would take.
//!
//! `osprey devices` prints [`list_adapters`] and marks
//! [`preferred_adapter`]; [`GpuContext::new`](super::GpuContext::new) opens the
//! same adapter that [`preferred_adapter`] names, because both go through
//! [`request_adapter`].

use std::fmt;

use crate::error::{KernelError, Result};

/// What `osprey devices` and backend labels say about an adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterSummary {
    /// The adapter's name, e.g. `NVIDIA H100` or `llvmpipe (LLVM 15.0.6, 256 bits)`.
    pub name: String,
    /// The graphics API wgpu reaches it through (Vulkan, Metal, DX12).
    pub backend: wgpu::Backend,
    /// Discrete, integrated, virtual, or a CPU implementation such as lavapipe.
    pub device_type: wgpu::DeviceType,
    /// The driver's name, e.g. `llvmpipe` or `NVIDIA`.
    pub driver: String,
    /// The driver's version details.
    pub driver_info: String,
}

impl AdapterSummary {
    /// Summarises what wgpu reports about an adapter.
    pub fn from_info(info: &wgpu::AdapterInfo) -> Self {
        AdapterSummary {
            name: info.name.clone(),
            backend: info.backend,
            device_type: info.device_type,
            driver: info.driver.clone(),
            driver_info: info.driver_info.clone(),
        }
    }

    /// True for a software implementation that runs on the CPU (Mesa's
    /// lavapipe/llvmpipe, WARP, SwiftShader).
    pub fn is_cpu(&self) -> bool {
        self.device_type == wgpu::DeviceType::Cpu
    }

    /// The graphics API's usual name: `Vulkan`, `Metal`, `DX12`, ...
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            wgpu::Backend::Vulkan => "Vulkan",
            wgpu::Backend::Metal => "Metal",
            wgpu::Backend::Dx12 => "DX12",
            wgpu::Backend::Gl => "OpenGL",
            wgpu::Backend::BrowserWebGpu => "WebGPU",
            other => other.to_str(),
        }
    }

    /// A short name of the device type, for tables: `discrete`, `integrated`,
    /// `virtual`, `cpu` or `other`.
    pub fn device_type_name(&self) -> &'static str {
        match self.device_type {
            wgpu::DeviceType::DiscreteGpu => "discrete",
            wgpu::DeviceType::IntegratedGpu => "integrated",
            wgpu::DeviceType::VirtualGpu => "virtual",
            wgpu::DeviceType::Cpu => "cpu",
            wgpu::DeviceType::Other => "other",
        }
    }
}

impl fmt::Display for AdapterSummary {
    /// `name (Vulkan, cpu; llvmpipe Mesa 22.3.6)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}, {}",
            self.name,
            self.backend_name(),
            self.device_type_name()
        )?;
        let driver = [self.driver.as_str(), self.driver_info.as_str()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if !driver.is_empty() {
            write!(f, "; {driver}")?;
        }
        f.write_str(")")
    }
}

/// The wgpu instance osprey uses: every native backend compiled in (Vulkan,
/// Metal, DX12), narrowed by `WGPU_BACKEND` when it is set.
pub(crate) fn instance() -> wgpu::Instance {
    // `with_env` also applies `WGPU_BACKEND` and the `WGPU_DEBUG`/`WGPU_VALIDATION` flags.
    let desc = wgpu::InstanceDescriptor {
        backends: wgpu::Backends::PRIMARY,
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    }
    .with_env();
    wgpu::Instance::new(desc)
}

/// The adapter `auto` takes: high-performance first, software adapters only
/// when nothing else exists.
///
/// # Errors
/// [`KernelError::NoAdapter`] when wgpu finds none.
pub(crate) fn request_adapter(instance: &wgpu::Instance) -> Result<wgpu::Adapter> {
    let options = wgpu::RequestAdapterOptions {
        power_preference: wgpu::PowerPreference::HighPerformance,
        force_fallback_adapter: false,
        compatible_surface: None,
        apply_limit_buckets: false,
    };
    pollster::block_on(instance.request_adapter(&options)).map_err(|e| {
        tracing::debug!(error = %e, "wgpu found no adapter.");
        KernelError::NoAdapter
    })
}

/// Every adapter wgpu sees, in its enumeration order.
pub fn list_adapters() -> Vec<AdapterSummary> {
    let instance = instance();
    pollster::block_on(instance.enumerate_adapters(wgpu::Backends::PRIMARY.with_env()))
        .iter()
        .map(|a| AdapterSummary::from_info(&a.get_info()))
        .collect()
}

/// The adapter `--backend gpu` would open, or `None` when there is none.
pub fn preferred_adapter() -> Option<AdapterSummary> {
    request_adapter(&instance())
        .ok()
        .map(|a| AdapterSummary::from_info(&a.get_info()))
}

/// The adapter `--backend auto` takes: the [`preferred_adapter`] unless it is
/// a software implementation (Mesa's lavapipe, for instance), which runs the
/// shaders on the CPU many times slower than the CPU twins do; `None` when
/// `auto` runs on the CPU.
pub fn auto_adapter() -> Option<AdapterSummary> {
    preferred_adapter().filter(|a| !a.is_cpu())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_reads_well() {
        let s = AdapterSummary {
            name: "llvmpipe".into(),
            backend: wgpu::Backend::Vulkan,
            device_type: wgpu::DeviceType::Cpu,
            driver: "llvmpipe".into(),
            driver_info: "Mesa 22.3.6".into(),
        };
        assert!(s.is_cpu());
        assert_eq!(
            s.to_string(),
            "llvmpipe (Vulkan, cpu; llvmpipe Mesa 22.3.6)"
        );
        let bare = AdapterSummary {
            driver: String::new(),
            driver_info: String::new(),
            device_type: wgpu::DeviceType::DiscreteGpu,
            ..s
        };
        assert_eq!(bare.to_string(), "llvmpipe (Vulkan, discrete)");
    }
}
