//! Helpers shared by the GPU tests: the one place that decides whether a GPU
//! test may run on what this machine offers.

use std::sync::{Arc, OnceLock};

use osprey_kernels::gpu::{AdapterSummary, GpuContext};

/// Environment variable that makes a CPU implementation (lavapipe, llvmpipe)
/// count as no GPU at all.
pub const REQUIRE_GPU: &str = "OSPREY_REQUIRE_GPU";

/// Whether tests may run on `adapter`: any adapter will do, unless a real GPU
/// is required and this one runs on the CPU.
pub fn check_adapter(adapter: &AdapterSummary, require_gpu: bool) -> Result<(), String> {
    if require_gpu && adapter.is_cpu() {
        return Err(format!(
            "{REQUIRE_GPU}=1 but the adapter is a CPU implementation: {adapter}"
        ));
    }
    Ok(())
}

/// The GPU context every test shares (opening a device on lavapipe is slow).
///
/// # Panics
/// When wgpu finds no adapter (GPU tests never skip), or when
/// `OSPREY_REQUIRE_GPU=1` and the only adapter runs on the CPU.
pub fn gpu_context() -> Arc<GpuContext> {
    static CONTEXT: OnceLock<Result<Arc<GpuContext>, String>> = OnceLock::new();
    let opened = CONTEXT.get_or_init(|| {
        let ctx = GpuContext::new()
            .map_err(|e| format!("GPU tests never skip, and this one found no usable GPU: {e}"))?;
        let require = std::env::var(REQUIRE_GPU).is_ok_and(|v| v.trim() == "1");
        check_adapter(ctx.summary(), require)?;
        eprintln!("GPU tests run on {}", ctx.summary());
        Ok(Arc::new(ctx))
    });
    match opened {
        Ok(ctx) => Arc::clone(ctx),
        Err(message) => panic!("{message}"),
    }
}

#[test]
fn cpu_adapters_fail_only_when_a_gpu_is_required() {
    let lavapipe = AdapterSummary {
        name: "llvmpipe (LLVM 15.0.6, 256 bits)".into(),
        backend: osprey_kernels::gpu::wgpu::Backend::Vulkan,
        device_type: osprey_kernels::gpu::wgpu::DeviceType::Cpu,
        driver: "llvmpipe".into(),
        driver_info: "Mesa 22.3.6".into(),
    };
    let discrete = AdapterSummary {
        device_type: osprey_kernels::gpu::wgpu::DeviceType::DiscreteGpu,
        ..lavapipe.clone()
    };
    assert!(check_adapter(&lavapipe, false).is_ok());
    let err = check_adapter(&lavapipe, true).expect_err("a CPU adapter is refused");
    assert!(err.contains("OSPREY_REQUIRE_GPU=1"), "{err}");
    assert!(check_adapter(&discrete, true).is_ok());
}
