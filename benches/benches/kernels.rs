//! Kernel-only throughput per backend, at 720p and 1080p: every kernel at
//! once (`all`, the default of `osprey analyze`), all but `blur`, then each
//! kernel alone.
//!
//! `cargo bench -p osprey-benches --bench kernels` runs criterion over chunks of
//! 8 synthetic frames already in memory (no decode), for the CPU twin and, when
//! wgpu finds an adapter, the GPU backend (every set on a real GPU; on a
//! CPU-type adapter such as lavapipe only `all`, `all-but-blur` and
//! `stats+scene`, which are slow there); then it prints the GPU's upload,
//! dispatch and readback times apart (upload is the host copy into wgpu's
//! staging memory; the transfer itself is inside dispatch).
//! `OSPREY_BENCH_QUICK=1` shortens the runs; criterion's filter picks sets,
//! e.g. `-- blur/cpu`.
//!
//! The synthetic frames are seeded noise, gradients and flat areas: a worst
//! case for `blur`, whose cost grows with the number of edge pixels. To
//! measure on real content too, point `OSPREY_BENCH_YUV=FILE:WxH` at raw
//! tightly packed I420 frames (`ffmpeg -i clip.mp4 -frames:v 16 -f rawvideo
//! -pix_fmt yuv420p FILE`); every set then also runs on those frames, as the
//! size `file-WxH`.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use osprey_kernels::cpu::CpuBackend;
use osprey_kernels::gpu::{GpuBackend, GpuContext};
use osprey_kernels::{Backend, FrameRaw, Kernel, KernelSet, OwnedFrame, PixelFormat, synth};

const CHUNK: usize = 8;
const SIZES: [(&str, u32, u32); 2] = [("720p", 1280, 720), ("1080p", 1920, 1080)];

/// The kernel sets measured, by name.
fn kernel_sets() -> Vec<(&'static str, KernelSet)> {
    let mut sets = vec![
        ("all", KernelSet::ALL),
        (
            "all-but-blur",
            KernelSet {
                blur: false,
                ..KernelSet::ALL
            },
        ),
        (
            "stats+scene",
            KernelSet::of(&[Kernel::Stats, Kernel::Scene]),
        ),
    ];
    for k in [Kernel::Motion, Kernel::Black, Kernel::Freeze, Kernel::Blur] {
        sets.push((k.name(), KernelSet::of(&[k])));
    }
    sets
}

/// The inputs measured: the synthetic frames at each of [`SIZES`], then the
/// frames of `OSPREY_BENCH_YUV` when it is set.
fn inputs() -> Vec<(String, Vec<OwnedFrame>)> {
    let mut out: Vec<_> = SIZES
        .iter()
        .map(|&(name, w, h)| {
            let frames = synth::clip(7, PixelFormat::I420, w, h, CHUNK * 2, 5);
            (name.to_owned(), frames)
        })
        .collect();
    if let Some(spec) = std::env::var_os("OSPREY_BENCH_YUV") {
        let spec = spec.to_string_lossy().into_owned();
        match raw_frames(&spec) {
            Ok(input) => out.push(input),
            Err(e) => eprintln!("OSPREY_BENCH_YUV={spec}: {e}; skipping it"),
        }
    }
    out
}

/// Reads `FILE:WxH`, raw I420 frames one after another.
fn raw_frames(spec: &str) -> Result<(String, Vec<OwnedFrame>), String> {
    let (path, size) = spec.rsplit_once(':').ok_or("expected FILE:WxH")?;
    let (w, h) = size.split_once('x').ok_or("expected a size WxH")?;
    let (w, h): (u32, u32) = (
        w.parse().map_err(|_| "bad width")?,
        h.parse().map_err(|_| "bad height")?,
    );
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let mut frame = OwnedFrame::zeroed(PixelFormat::I420, w, h, 0);
    let size: usize = frame.planes.iter().map(Vec::len).sum();
    if size == 0 || bytes.len() < size {
        return Err(format!("holds no whole {w}x{h} I420 frame"));
    }
    let frames = bytes
        .chunks_exact(size)
        .map(|raw| {
            let (y, rest) = raw.split_at(frame.planes[0].len());
            let (u, v) = rest.split_at(frame.planes[1].len());
            frame.planes = [y.to_vec(), u.to_vec(), v.to_vec()];
            frame.clone()
        })
        .collect();
    Ok((format!("file-{w}x{h}"), frames))
}

fn run_chunks(backend: &mut dyn Backend, clip: &[OwnedFrame], out: &mut Vec<FrameRaw>) {
    for chunk in clip.chunks(CHUNK) {
        let views: Vec<_> = chunk.iter().map(OwnedFrame::view).collect();
        backend
            .analyze(&views, out)
            .expect("analysis of synthetic frames cannot fail");
    }
}

fn bench_backends(c: &mut Criterion, gpu_ctx: Option<&std::sync::Arc<GpuContext>>) {
    let quick = std::env::var_os("OSPREY_BENCH_QUICK").is_some();
    let software = gpu_ctx.is_some_and(|ctx| ctx.summary().is_cpu());
    for (set_name, set) in kernel_sets() {
        let mut group = c.benchmark_group(set_name);
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(if quick { 2 } else { 6 }));
        group.warm_up_time(Duration::from_secs(1));
        let mut gpu = gpu_ctx
            .filter(|_| !software || matches!(set_name, "all" | "all-but-blur" | "stats+scene"))
            .map(|ctx| GpuBackend::new(std::sync::Arc::clone(ctx), set))
            .transpose()
            .expect("the GPU pipelines build");
        for (name, clip) in inputs() {
            group.throughput(Throughput::Elements(clip.len() as u64));
            let mut out = Vec::new();
            let mut cpu = CpuBackend::new(set);
            group.bench_function(BenchmarkId::new("cpu", &name), |b| {
                b.iter(|| run_chunks(&mut cpu, &clip, &mut out));
            });
            if let Some(gpu) = gpu.as_mut() {
                group.bench_function(BenchmarkId::new("gpu", &name), |b| {
                    b.iter(|| run_chunks(gpu, &clip, &mut out));
                });
            }
        }
        group.finish();
    }
}

/// Upload, dispatch and readback apart: mean milliseconds a frame over a few
/// chunks, from the backend's own stage clocks.
fn gpu_stages(gpu: &mut GpuBackend) {
    println!(
        "gpu stages ({}), mean per frame over chunks of {CHUNK}:",
        gpu.label()
    );
    println!(
        "{:<8} {:>10} {:>12} {:>12} {:>10}",
        "size", "upload ms", "dispatch ms", "readback ms", "frames/s"
    );
    for (name, clip) in inputs() {
        let mut out = Vec::new();
        run_chunks(gpu, &clip, &mut out); // warm-up: allocation happens here
        let (mut up, mut disp, mut back, mut n) = (0.0, 0.0, 0.0, 0usize);
        for _ in 0..3 {
            for chunk in clip.chunks(CHUNK) {
                let views: Vec<_> = chunk.iter().map(OwnedFrame::view).collect();
                gpu.analyze(&views, &mut out)
                    .expect("analysis of synthetic frames cannot fail");
                if let Some(t) = gpu.last_timings() {
                    up += t.upload.as_secs_f64();
                    disp += t.dispatch.as_secs_f64();
                    back += t.readback.as_secs_f64();
                    n += t.frames;
                }
            }
        }
        let n = n.max(1) as f64;
        let total = (up + disp + back) / n;
        println!(
            "{name:<8} {:>10.3} {:>12.3} {:>12.3} {:>10.1}",
            up / n * 1e3,
            disp / n * 1e3,
            back / n * 1e3,
            1.0 / total
        );
    }
}

fn main() {
    let ctx = match GpuContext::new() {
        Ok(ctx) => {
            eprintln!("gpu adapter: {}", ctx.summary());
            Some(std::sync::Arc::new(ctx))
        }
        Err(e) => {
            eprintln!("gpu backend unavailable ({e}); benchmarking the CPU only");
            None
        }
    };
    let mut c = Criterion::default().configure_from_args();
    bench_backends(&mut c, ctx.as_ref());
    c.final_summary();
    if let Some(ctx) = &ctx {
        let mut gpu = GpuBackend::new(std::sync::Arc::clone(ctx), KernelSet::ALL)
            .expect("the GPU pipelines build");
        gpu_stages(&mut gpu);
    }
}
