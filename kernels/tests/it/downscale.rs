//! The thumbnail downscaler: the GPU kernel against its CPU twin, bit for bit,
//! on both input layouts, odd sizes, padded strides, factors that do not
//! divide and a 1x1 output; and refusals of bad targets on both backends.

use osprey_kernels::cpu::CpuBackend;
use osprey_kernels::gpu::GpuBackend;
use osprey_kernels::{Backend, KernelError, KernelSet, OwnedFrame, PixelFormat, synth};

use crate::common::gpu_context;

fn gpu() -> GpuBackend {
    GpuBackend::new(gpu_context(), KernelSet::NONE).expect("the GPU backend opens")
}

#[test]
fn gpu_matches_cpu_bit_for_bit() {
    let mut gpu = gpu();
    let mut cpu = CpuBackend::new(KernelSet::NONE);
    let (mut from_gpu, mut from_cpu) = (
        OwnedFrame::zeroed(PixelFormat::I420, 1, 1, 0),
        OwnedFrame::zeroed(PixelFormat::I420, 1, 1, 0),
    );
    let mut seed = 40;
    let mut cases = 0;
    for format in [PixelFormat::I420, PixelFormat::Nv12] {
        for ((w, h), targets) in [
            ((1, 1), vec![(1, 1)]),
            ((5, 3), vec![(5, 3), (2, 1), (3, 2), (1, 1)]),
            ((17, 9), vec![(7, 5), (16, 8), (1, 1), (17, 1)]),
            ((64, 48), vec![(32, 24), (21, 13), (63, 47), (10, 48)]),
            ((333, 101), vec![(160, 48), (100, 100), (1, 1)]),
        ] {
            for pad in [0, 1, 3, 64] {
                seed += 1;
                let frame = synth::random_frame(seed, format, w, h, pad);
                for &(dw, dh) in &targets {
                    gpu.downscale(&frame.view(), dw, dh, &mut from_gpu)
                        .expect("the GPU downscales");
                    cpu.downscale(&frame.view(), dw, dh, &mut from_cpu)
                        .expect("the CPU downscales");
                    let what = format!("{format:?} {w}x{h} pad {pad} -> {dw}x{dh}");
                    assert_eq!(
                        (from_gpu.format, from_gpu.width, from_gpu.height),
                        (PixelFormat::I420, dw, dh),
                        "{what}"
                    );
                    assert_eq!(from_gpu, from_cpu, "{what}");
                    cases += 1;
                }
            }
        }
    }
    assert!(cases > 100, "{cases}");
}

#[test]
fn a_flat_frame_stays_flat_and_a_half_split_averages() {
    // Independent of the twin: a uniform frame keeps its value at any size,
    // and a frame whose left half is 0 and right half 200 gives 100 where one
    // output column straddles the middle evenly.
    let mut gpu = gpu();
    let mut out = OwnedFrame::zeroed(PixelFormat::I420, 1, 1, 0);
    let mut frame = OwnedFrame::zeroed(PixelFormat::Nv12, 6, 4, 2);
    for (p, value) in [(0, 77u8), (1, 140)] {
        frame.planes[p].fill(value);
    }
    gpu.downscale(&frame.view(), 5, 3, &mut out)
        .expect("downscales");
    assert!(
        out.planes[0].iter().all(|&v| v == 77),
        "{:?}",
        out.planes[0]
    );
    assert!(out.planes[1].iter().all(|&v| v == 140));
    assert!(out.planes[2].iter().all(|&v| v == 140));

    let mut split = OwnedFrame::zeroed(PixelFormat::I420, 6, 2, 0);
    for y in 0..2 {
        split.planes[0][y * 6 + 3..y * 6 + 6].fill(200);
    }
    gpu.downscale(&split.view(), 3, 1, &mut out)
        .expect("downscales");
    assert_eq!(&out.planes[0][..3], &[0, 100, 200]);
}

#[test]
fn the_output_allocation_is_reused() {
    let mut gpu = gpu();
    let frame = synth::random_frame(3, PixelFormat::I420, 40, 30, 0);
    let mut out = OwnedFrame::zeroed(PixelFormat::I420, 20, 15, 8);
    let before = out.planes[0].as_ptr();
    gpu.downscale(&frame.view(), 20, 15, &mut out)
        .expect("downscales");
    assert_eq!(out.planes[0].as_ptr(), before);
    assert_eq!(out.strides[0], 28);
    let mut tight = OwnedFrame::zeroed(PixelFormat::I420, 1, 1, 0);
    CpuBackend::new(KernelSet::NONE)
        .downscale(&frame.view(), 20, 15, &mut tight)
        .expect("downscales");
    assert_eq!(
        out.view().plane(0).row(14, 20),
        tight.view().plane(0).row(14, 20)
    );
}

#[test]
fn bad_targets_are_refused_by_both_backends() {
    let frame = synth::random_frame(5, PixelFormat::I420, 8, 6, 0);
    let mut out = OwnedFrame::zeroed(PixelFormat::I420, 1, 1, 0);
    let mut backends: [Box<dyn Backend>; 2] =
        [Box::new(gpu()), Box::new(CpuBackend::new(KernelSet::NONE))];
    for backend in &mut backends {
        for (w, h) in [(0, 1), (1, 0), (9, 6), (8, 7)] {
            let err = backend
                .downscale(&frame.view(), w, h, &mut out)
                .expect_err("a bad target is refused");
            assert!(matches!(err, KernelError::InvalidFrame(_)), "{err}");
        }
        // The backend is still usable afterwards.
        backend
            .downscale(&frame.view(), 4, 3, &mut out)
            .expect("downscales");
    }
}
