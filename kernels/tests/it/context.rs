//! The GPU context and adapter listing on this machine's adapter.

use osprey_kernels::gpu::{self, GpuBackend, GpuContext, wgpu};
use std::sync::Arc;

use osprey_kernels::{Backend, BackendChoice, Device, KernelError, KernelSet};

use crate::common::gpu_context;

#[test]
fn the_preferred_adapter_is_listed_and_opened() {
    let ctx = gpu_context();
    let listed = gpu::list_adapters();
    assert!(
        !listed.is_empty(),
        "a context opened, so wgpu lists an adapter"
    );
    let preferred = gpu::preferred_adapter().expect("a context opened, so one is preferred");
    assert!(listed.contains(&preferred), "{preferred} not in {listed:?}");
    assert_eq!(&preferred, ctx.summary());
}

#[test]
fn backend_says_which_adapter() {
    let backend = GpuBackend::new(gpu_context(), KernelSet::ALL).expect("pipelines build");
    assert!(backend.is_gpu());
    let label = backend.label();
    assert!(label.starts_with("gpu: "), "{label}");
    assert!(label.contains(&backend.adapter().name), "{label}");
    assert!(backend.last_timings().is_none());
}

#[test]
fn auto_and_gpu_choose_the_adapter_here() {
    let ctx = gpu_context();
    let gpu = osprey_kernels::open(BackendChoice::Gpu, KernelSet::ALL).expect("an adapter exists");
    assert!(gpu.is_gpu());
    // auto leaves a software adapter (lavapipe) to `gpu` and runs the CPU twins.
    let hardware = !ctx.summary().is_cpu();
    let auto = osprey_kernels::open(BackendChoice::Auto, KernelSet::ALL).expect("always opens");
    assert_eq!(auto.is_gpu(), hardware, "{}", ctx.summary());
    assert_eq!(gpu::auto_adapter().is_some(), hardware);
    assert_eq!(osprey_kernels::auto_uses_the_gpu(), hardware);
    let cpu = osprey_kernels::open(BackendChoice::Cpu, KernelSet::ALL).expect("always");
    assert!(!cpu.is_gpu());
}

#[test]
fn one_device_serves_every_backend_and_aggregator() {
    let device = Device::open(BackendChoice::Gpu).expect("an adapter exists");
    let ctx = Arc::clone(device.context().expect("a GPU device"));
    assert_eq!(device.adapter(), Some(ctx.summary()));
    // Two cameras and a query on one context: the device is shared, not reopened.
    let cameras = [
        KernelSet::ALL,
        KernelSet::parse("stats,scene").expect("known kernels"),
    ]
    .map(|kernels| device.frame_backend(kernels).expect("pipelines build"));
    let query = device.aggregator().expect("pipelines build");
    assert!(cameras.iter().all(|b| b.is_gpu()) && query.is_gpu());
    assert_eq!(Arc::strong_count(&ctx), 1 + 1 + cameras.len() + 1);
    let clone = device.clone();
    assert!(Arc::ptr_eq(clone.context().expect("shared"), &ctx));
}

#[test]
fn gpu_errors_become_kernel_errors() {
    let ctx = gpu_context();
    let err = ctx
        .scoped(|| {
            // MAP_READ may only be combined with COPY_DST: a validation error.
            let _ = ctx.device().create_buffer(&wgpu::BufferDescriptor {
                label: Some("invalid on purpose"),
                size: 16,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::STORAGE,
                mapped_at_creation: false,
            });
            Ok(())
        })
        .expect_err("the scope catches the invalid buffer");
    assert!(matches!(err, KernelError::Gpu(_)), "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with("GPU error: validation failed"),
        "{message}"
    );
    assert!(!message.ends_with('.'), "{message}");
    // The error was caught by the scope, so the context is still healthy.
    ctx.check()
        .expect("a scoped error does not poison the context");
}

#[test]
fn a_second_context_opens_beside_the_first() {
    let _shared = gpu_context();
    let own = GpuContext::new().expect("the adapter opens twice");
    assert!(!own.summary().name.is_empty());
}
