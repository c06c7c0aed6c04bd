//! The detect size (`AnalysisConfig::detect_size`): on both backends, every
//! kernel gives exactly what the plain CPU backend gives on frames
//! downscaled by `cpu::downscale::downscale` (the definition), across chunk
//! boundaries and size changes; frames already at the size pass through
//! untouched; thumbnails still see the full frame; bad sizes are refused.

use osprey_kernels::cpu::CpuBackend;
use osprey_kernels::cpu::downscale::downscale;
use osprey_kernels::kernel::AnalysisConfig;
use osprey_kernels::synth::{clip, random_frame};
use osprey_kernels::{
    Backend, Device, FrameRaw, FrameView, KernelError, KernelSet, OwnedFrame, PixelFormat,
};

use crate::common::gpu_context;

const SIZE: (u32, u32) = (80, 60);

fn config(size: (u32, u32)) -> AnalysisConfig {
    AnalysisConfig {
        detect_size: Some(size),
        ..AnalysisConfig::from(KernelSet::ALL)
    }
}

/// The detect-size backends of both devices, in that order.
fn backends(size: (u32, u32)) -> Vec<(&'static str, Box<dyn Backend>)> {
    vec![
        (
            "cpu",
            Device::cpu()
                .frame_backend(config(size))
                .expect("the CPU backend opens"),
        ),
        (
            "gpu",
            Device::gpu(gpu_context())
                .frame_backend(config(size))
                .expect("the GPU backend opens"),
        ),
    ]
}

/// Runs `chunks` through `backend` and returns every frame's result.
fn run(backend: &mut dyn Backend, chunks: &[&[OwnedFrame]]) -> Vec<FrameRaw> {
    let mut all = Vec::new();
    let mut out = Vec::new();
    for chunk in chunks {
        let views: Vec<FrameView<'_>> = chunk.iter().map(OwnedFrame::view).collect();
        backend
            .analyze(&views, &mut out)
            .unwrap_or_else(|e| panic!("{}: {e}", backend.label()));
        assert_eq!(out.len(), chunk.len());
        all.append(&mut out);
    }
    all
}

/// The definition: each frame downscaled by the CPU twin, then the plain
/// CPU backend, chunk by chunk.
fn definition(chunks: &[&[OwnedFrame]], size: (u32, u32)) -> Vec<FrameRaw> {
    let scaled: Vec<Vec<OwnedFrame>> = chunks
        .iter()
        .map(|chunk| {
            chunk
                .iter()
                .map(|f| {
                    let mut out = OwnedFrame::zeroed(PixelFormat::I420, 1, 1, 0);
                    downscale(&f.view(), size.0, size.1, &mut out)
                        .expect("the detect size fits every test frame");
                    out
                })
                .collect()
        })
        .collect();
    let scaled: Vec<&[OwnedFrame]> = scaled.iter().map(Vec::as_slice).collect();
    run(&mut CpuBackend::new(KernelSet::ALL), &scaled)
}

/// Asserts that every detect-size backend gives `want` on `chunks`.
fn assert_both_give(chunks: &[&[OwnedFrame]], size: (u32, u32), want: &[FrameRaw], what: &str) {
    for (name, mut backend) in backends(size) {
        let got = run(backend.as_mut(), chunks);
        assert_eq!(got.len(), want.len(), "{what} on {name}");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert_eq!((g.width, g.height), size, "{what} on {name}, frame {i}");
            assert_eq!(g, w, "{what} on {name}, frame {i}");
        }
    }
}

#[test]
fn both_backends_give_the_plain_results_of_downscaled_frames() {
    for (seed, format, pad) in [(1, PixelFormat::I420, 0), (2, PixelFormat::Nv12, 5)] {
        let mut frames = clip(seed, format, 160, 120, 8, 3);
        // Padded strides, so a downscale that reads padding is caught.
        frames[7] = random_frame(seed + 10, format, 160, 120, pad);
        let chunks: [&[OwnedFrame]; 3] = [&frames[..3], &frames[3..4], &frames[4..]];
        let want = definition(&chunks, SIZE);
        // The scene differences reach across chunk boundaries.
        assert!(want[1..].iter().all(|r| r.luma_sad.is_some()), "{format:?}");
        assert_both_give(&chunks, SIZE, &want, &format!("{format:?} 160x120"));
    }
}

#[test]
fn a_size_change_mid_chunk_keeps_the_detect_size() {
    // 160x120 NV12, then 161x121 I420 (odd sides), then a frame already at
    // the detect size, all in one chunk, then a chunk back at 160x120.
    let mut first = clip(3, PixelFormat::Nv12, 160, 120, 2, 8);
    first.extend(clip(4, PixelFormat::I420, 161, 121, 2, 8));
    first.push(random_frame(5, PixelFormat::I420, SIZE.0, SIZE.1, 3));
    let second = clip(6, PixelFormat::Nv12, 160, 120, 2, 8);
    let chunks: [&[OwnedFrame]; 2] = [&first, &second];
    let want = definition(&chunks, SIZE);
    // One analysed size, so the differences go on across the changes.
    assert!(want[1..].iter().all(|r| r.luma_sad.is_some()));
    assert_both_give(&chunks, SIZE, &want, "size changes");
}

#[test]
fn frames_at_the_detect_size_pass_through_and_thumbnails_see_the_full_frame() {
    // NV12 with padded strides: the results are the plain backend's on the
    // very same views.
    let frames: Vec<OwnedFrame> = (0..4)
        .map(|i| random_frame(20 + i, PixelFormat::Nv12, SIZE.0, SIZE.1, 7))
        .collect();
    let chunks: [&[OwnedFrame]; 2] = [&frames[..3], &frames[3..]];
    let want = run(&mut CpuBackend::new(KernelSet::ALL), &chunks);
    assert_both_give(&chunks, SIZE, &want, "pass-through");

    let full = random_frame(30, PixelFormat::Nv12, 160, 120, 2);
    let mut want = OwnedFrame::zeroed(PixelFormat::I420, 1, 1, 0);
    downscale(&full.view(), 120, 90, &mut want).unwrap();
    for (name, mut backend) in backends(SIZE) {
        let mut got = OwnedFrame::zeroed(PixelFormat::I420, 1, 1, 0);
        backend.downscale(&full.view(), 120, 90, &mut got).unwrap();
        assert_eq!(got, want, "{name}: a thumbnail larger than the detect size");
        assert!(backend.label().ends_with(" at detect size 80x60"), "{name}");
    }
}

#[test]
fn bad_sizes_are_refused() {
    for device in [Device::cpu(), Device::gpu(gpu_context())] {
        for bad in [(0, 60), (80, 0), (81, 60), (80, 59)] {
            let Err(err) = device.frame_backend(config(bad)) else {
                panic!("{bad:?} was accepted");
            };
            assert!(matches!(err, KernelError::InvalidConfig(_)), "{err:?}");
            assert!(
                err.to_string()
                    .starts_with(&format!("detect size {}x{}", bad.0, bad.1)),
                "{err}"
            );
        }
    }
    // Larger than the frame in either direction: refused at the first frame
    // of that size, on both backends, and again after a frame that fits.
    let fits = random_frame(40, PixelFormat::I420, 160, 120, 0);
    for small in [(160, 58), (78, 120)] {
        let frame = random_frame(41, PixelFormat::I420, small.0, small.1, 0);
        for (name, mut backend) in backends(SIZE) {
            let mut out = Vec::new();
            backend.analyze(&[fits.view()], &mut out).unwrap();
            let err = backend
                .analyze(&[fits.view(), frame.view()], &mut out)
                .unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "detect size 80x60 is larger than the {}x{} frame",
                    small.0, small.1
                ),
                "{name}"
            );
            assert!(matches!(err, KernelError::InvalidConfig(_)), "{name}");
        }
    }
}
