//! Frames larger than the device's limits: the GPU backend hands them to the
//! CPU twin and its results equal the twin's, bit for bit, across chunk
//! boundaries and size changes between frames that fit and frames that do
//! not.
//!
//! Most cases open a second device on this machine's adapter held to a 1 MiB
//! storage binding, so that frames of a few hundred pixels stand for the
//! 8192x8192 frames that overflow lavapipe's 128 MiB; one case runs a real
//! 8192x8192 frame on the adapter's own limits.

use std::sync::{Arc, OnceLock};

use osprey_kernels::cpu::CpuBackend;
use osprey_kernels::gpu::{GpuBackend, GpuContext};
use osprey_kernels::synth::{clip, random_frame};
use osprey_kernels::{Backend, FrameRaw, KernelSet, OwnedFrame, PixelFormat};

use crate::common::gpu_context;

/// The storage binding the small device allows.
const SMALL_BINDING: u64 = 1 << 20;

/// A device on the test adapter that binds at most [`SMALL_BINDING`] bytes.
fn small_device() -> Arc<GpuContext> {
    static SMALL: OnceLock<Arc<GpuContext>> = OnceLock::new();
    Arc::clone(SMALL.get_or_init(|| {
        let ctx = gpu_context();
        let mut limits = ctx.limits();
        limits.max_storage_buffer_binding_size = SMALL_BINDING;
        let small = GpuContext::from_adapter_with_limits(ctx.adapter().clone(), limits)
            .expect("lower limits than the adapter's are granted");
        assert_eq!(
            small.limits().max_storage_buffer_binding_size,
            SMALL_BINDING
        );
        Arc::new(small)
    }))
}

/// Both backends, the GPU one on `ctx`, fed the same chunks.
struct Pair {
    cpu: CpuBackend,
    gpu: GpuBackend,
}

impl Pair {
    fn new(ctx: Arc<GpuContext>, kernels: KernelSet) -> Self {
        Pair {
            cpu: CpuBackend::new(kernels),
            gpu: GpuBackend::new(ctx, kernels).expect("pipelines build"),
        }
    }

    /// Runs one chunk on both and asserts equal results.
    fn chunk(&mut self, frames: &[OwnedFrame], what: &str) -> Vec<FrameRaw> {
        let views: Vec<_> = frames.iter().map(OwnedFrame::view).collect();
        let (mut want, mut got) = (Vec::new(), Vec::new());
        self.cpu
            .analyze(&views, &mut want)
            .expect("the CPU twin never fails");
        self.gpu
            .analyze(&views, &mut got)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(got.len(), want.len(), "{what}");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g, w, "{what}, frame {i}");
        }
        got
    }
}

/// A frame whose planes fit a 1 MiB binding, with room to spare.
fn small(seed: u64, format: PixelFormat) -> OwnedFrame {
    random_frame(seed, format, 96, 54, 0)
}

/// A frame whose planes (about 1.4 MiB) do not fit a 1 MiB binding.
fn large(seed: u64, format: PixelFormat) -> OwnedFrame {
    random_frame(seed, format, 1000, 1000, 0)
}

#[test]
fn frames_too_large_for_the_device_run_on_the_cpu_twin() {
    let mut pair = Pair::new(small_device(), KernelSet::ALL);
    let i420 = PixelFormat::I420;
    let nv12 = PixelFormat::Nv12;
    // Frozen stretches too: a large frame repeated, a small one repeated.
    let still = large(7, i420);
    let calm = small(8, nv12);
    let chunks: Vec<(&str, Vec<OwnedFrame>)> = vec![
        ("small first", vec![small(1, i420), small(2, i420)]),
        (
            "small to large within a chunk",
            vec![small(3, i420), large(4, i420), large(5, i420)],
        ),
        (
            "large across the boundary, then frozen",
            vec![large(6, i420), still.clone(), still.clone(), still.clone()],
        ),
        (
            "back to small, same format",
            vec![small(9, i420), large(10, nv12), calm.clone(), calm.clone()],
        ),
        (
            "small after small",
            vec![calm.clone(), calm, small(11, i420)],
        ),
        ("large alone", vec![large(12, nv12)]),
    ];
    let mut large_frames = 0;
    for (what, frames) in &chunks {
        pair.chunk(frames, what);
        large_frames += frames.iter().filter(|f| f.width == 1000).count() as u64;
    }
    assert_eq!(pair.gpu.fallback_frames(), large_frames);
    // The small frames still ran on the GPU.
    let timings = pair.gpu.last_timings().expect("timings of the last chunk");
    assert_eq!(timings.submissions, 0, "the last chunk was all large");
    pair.chunk(&[small(13, i420)], "small at the end");
    let timings = pair.gpu.last_timings().expect("timings of the last chunk");
    assert_eq!(timings.submissions, 1);
}

#[test]
fn a_frame_whose_blur_images_overflow_runs_on_the_cpu_twin() {
    // 600x500: the planes (440 KiB) fit a 1 MiB binding, blurdetect's
    // 32-bit images (1.14 MiB) do not.
    let frames = clip(5, PixelFormat::I420, 600, 500, 4, 2);
    let mut pair = Pair::new(small_device(), KernelSet::ALL);
    pair.chunk(&frames[..3], "first chunk");
    pair.chunk(&frames[3..], "second chunk");
    assert_eq!(pair.gpu.fallback_frames(), 4);
    // Without blurdetect the same frames fit, and run on the GPU.
    let no_blur = KernelSet {
        blur: false,
        ..KernelSet::ALL
    };
    let mut pair = Pair::new(small_device(), no_blur);
    pair.chunk(&frames, "without blur");
    assert_eq!(pair.gpu.fallback_frames(), 0);
}

#[test]
fn thumbnails_of_large_frames_come_from_the_cpu_twin() {
    let mut gpu = GpuBackend::new(small_device(), KernelSet::NONE).expect("pipelines build");
    let mut cpu = CpuBackend::new(KernelSet::NONE);
    let frame = large(21, PixelFormat::Nv12);
    let (mut got, mut want) = (
        OwnedFrame::zeroed(PixelFormat::I420, 1, 1, 0),
        OwnedFrame::zeroed(PixelFormat::I420, 1, 1, 0),
    );
    gpu.downscale(&frame.view(), 320, 320, &mut got)
        .expect("the CPU twin downscales what the GPU cannot bind");
    cpu.downscale(&frame.view(), 320, 320, &mut want)
        .expect("the CPU twin never fails");
    assert_eq!(got.planes, want.planes);
}

#[test]
fn an_8192_square_frame_runs_on_the_adapter_as_it_is() {
    let ctx = gpu_context();
    let frame = random_frame(8192, PixelFormat::I420, 8192, 8192, 0);
    let mut pair = Pair::new(Arc::clone(&ctx), KernelSet::ALL);
    pair.chunk(std::slice::from_ref(&frame), "8192x8192");
    let limits = ctx.limits();
    let binding = limits
        .max_storage_buffer_binding_size
        .min(limits.max_buffer_size)
        .min(u64::from(u32::MAX));
    // Its blur images take 256 MiB: on a device that binds less (lavapipe
    // binds 128 MiB) the frame went to the CPU twin, else it ran on the GPU.
    let overflows = 8192 * 8192 * 4 > binding;
    assert_eq!(
        pair.gpu.fallback_frames(),
        u64::from(overflows),
        "binding limit {binding}"
    );
}
