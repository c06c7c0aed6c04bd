//! What a detect size costs and saves: the kernels on 1080p frames at full
//! size, the same frames analysed at a 640x360 detect size
//! (`AnalysisConfig::detect_size`), and the downscale alone, per backend.
//!
//! `cargo bench -p osprey-benches --bench detect_size` runs criterion over
//! chunks of 8 synthetic I420 frames in memory (no decode), for the CPU twin
//! and, when wgpu finds an adapter, the GPU backend (on a CPU-type adapter
//! such as lavapipe only `stats+scene`, which is quick there).
//! `OSPREY_BENCH_QUICK=1` shortens the runs. On the GPU the detect-size
//! wrapper downscales one frame at a time on the device and reads it back
//! before the kernels upload it again: `downscale` shows that round trip.

use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use osprey_kernels::gpu::GpuContext;
use osprey_kernels::kernel::AnalysisConfig;
use osprey_kernels::{Backend, Device, FrameRaw, Kernel, KernelSet, OwnedFrame, PixelFormat};

const CHUNK: usize = 8;
const FULL: (u32, u32) = (1920, 1080);
const DETECT: (u32, u32) = (640, 360);

fn run_chunks(backend: &mut dyn Backend, clip: &[OwnedFrame], out: &mut Vec<FrameRaw>) {
    for chunk in clip.chunks(CHUNK) {
        let views: Vec<_> = chunk.iter().map(OwnedFrame::view).collect();
        backend
            .analyze(&views, out)
            .expect("analysis of synthetic frames cannot fail");
    }
}

fn downscale_all(backend: &mut dyn Backend, clip: &[OwnedFrame], out: &mut OwnedFrame) {
    for frame in clip {
        backend
            .downscale(&frame.view(), DETECT.0, DETECT.1, out)
            .expect("the detect size fits the synthetic frames");
    }
}

fn bench_device(c: &mut Criterion, device: &Device, name: &str, sets: &[(&str, KernelSet)]) {
    let quick = std::env::var_os("OSPREY_BENCH_QUICK").is_some();
    let clip = osprey_kernels::synth::clip(7, PixelFormat::I420, FULL.0, FULL.1, CHUNK * 2, 5);
    for &(set_name, set) in sets {
        let mut group = c.benchmark_group(format!("detect-size/{set_name}"));
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(if quick { 2 } else { 6 }));
        group.warm_up_time(Duration::from_secs(1));
        group.throughput(Throughput::Elements(clip.len() as u64));
        let mut out = Vec::new();
        let mut full = device.frame_backend(set).expect("the backend opens");
        group.bench_function(BenchmarkId::new(name, "1920x1080"), |b| {
            b.iter(|| run_chunks(full.as_mut(), &clip, &mut out));
        });
        let config = AnalysisConfig {
            detect_size: Some(DETECT),
            ..AnalysisConfig::from(set)
        };
        let mut detect = device.frame_backend(config).expect("the backend opens");
        group.bench_function(BenchmarkId::new(name, "detect-640x360"), |b| {
            b.iter(|| run_chunks(detect.as_mut(), &clip, &mut out));
        });
        let mut scaled = OwnedFrame::zeroed(PixelFormat::I420, DETECT.0, DETECT.1, 0);
        group.bench_function(BenchmarkId::new(name, "downscale"), |b| {
            b.iter(|| downscale_all(full.as_mut(), &clip, &mut scaled));
        });
        group.finish();
    }
}

fn main() {
    let stats_scene = (
        "stats+scene",
        KernelSet::of(&[Kernel::Stats, Kernel::Scene]),
    );
    let all = ("all", KernelSet::ALL);
    let mut c = Criterion::default().configure_from_args();
    bench_device(&mut c, &Device::cpu(), "cpu", &[all, stats_scene]);
    match GpuContext::new() {
        Ok(ctx) => {
            eprintln!("gpu adapter: {}", ctx.summary());
            let software = ctx.summary().is_cpu();
            let sets: &[_] = if software {
                &[stats_scene]
            } else {
                &[all, stats_scene]
            };
            bench_device(&mut c, &Device::gpu(Arc::new(ctx)), "gpu", sets);
        }
        Err(e) => eprintln!("gpu backend unavailable ({e}); benchmarking the CPU only"),
    }
    c.final_summary();
}
