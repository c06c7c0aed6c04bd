//! The motion kernel: the small luma image on both backends against OpenCV's
//! nearest-neighbour rule read plainly, and the whole detector on frames where the moving square's position is
//! known.

use osprey_kernels::cpu::CpuBackend;
use osprey_kernels::gpu::GpuBackend;
use osprey_kernels::kernel::AnalysisConfig;
use osprey_kernels::metrics::{MotionConfig, MotionDetector, Polygon, Zone};
use osprey_kernels::synth::random_frame;
use osprey_kernels::{Backend, FrameRaw, KernelSet, OwnedFrame, PixelFormat};

use crate::common::gpu_context;

const MOTION_ONLY: KernelSet = KernelSet {
    motion: true,
    ..KernelSet::NONE
};

fn config(frame_height: u32) -> AnalysisConfig {
    AnalysisConfig {
        motion_frame_height: frame_height,
        ..AnalysisConfig::from(MOTION_ONLY)
    }
}

/// OpenCV's `resize(INTER_NEAREST)` of the luma plane, pixel by pixel.
fn naive_small(f: &OwnedFrame, frame_height: u32) -> (u32, u32, Vec<u8>) {
    let rows = frame_height.max(1);
    let cols = ((u64::from(rows) * u64::from(f.width) / u64::from(f.height)) as u32).max(1);
    let index = |d: u32, dst: u32, src: u32| {
        let inverse = 1.0 / (f64::from(dst) / f64::from(src));
        ((f64::from(d) * inverse).floor() as usize).min(src as usize - 1)
    };
    let mut pixels = Vec::new();
    for y in 0..rows {
        for x in 0..cols {
            let (sy, sx) = (index(y, rows, f.height), index(x, cols, f.width));
            pixels.push(f.planes[0][sy * f.strides[0] + sx]);
        }
    }
    (cols, rows, pixels)
}

fn run(backend: &mut dyn Backend, frames: &[OwnedFrame]) -> Vec<FrameRaw> {
    let views: Vec<_> = frames.iter().map(OwnedFrame::view).collect();
    let mut out = Vec::new();
    backend.analyze(&views, &mut out).expect("analysis runs");
    out
}

#[test]
fn resample_matches_opencv_on_both_backends() {
    let mut seed = 40;
    for frame_height in [100, 7] {
        let mut cpu = CpuBackend::new(config(frame_height));
        let mut gpu = GpuBackend::new(gpu_context(), config(frame_height)).expect("pipelines");
        for format in [PixelFormat::I420, PixelFormat::Nv12] {
            // Sizes change inside a chunk and between chunks.
            for sizes in [
                vec![(1, 1), (3, 5), (3, 5)],
                vec![(37, 23), (320, 240), (37, 23)],
                vec![(641, 359), (641, 359)],
            ] {
                for pad in [0, 3, 64] {
                    let frames: Vec<_> = sizes
                        .iter()
                        .map(|&(w, h)| {
                            seed += 1;
                            random_frame(seed, format, w, h, pad)
                        })
                        .collect();
                    let a = run(&mut cpu, &frames);
                    let b = run(&mut gpu, &frames);
                    for (i, f) in frames.iter().enumerate() {
                        let what = format!("{format:?} {:?} pad {pad} h {frame_height}", sizes[i]);
                        let (w, h, pixels) = naive_small(f, frame_height);
                        assert_eq!((a[i].motion.width, a[i].motion.height), (w, h), "{what}");
                        assert_eq!(a[i].motion.pixels, pixels, "cpu {what}");
                        assert_eq!(b[i].motion, a[i].motion, "gpu {what}");
                    }
                }
            }
        }
    }
}

#[test]
fn resample_at_1080p_and_only_with_motion() {
    let f = random_frame(9, PixelFormat::Nv12, 1920, 1080, 0);
    let mut gpu = GpuBackend::new(gpu_context(), config(100)).expect("pipelines");
    let b = run(&mut gpu, std::slice::from_ref(&f));
    let (w, h, pixels) = naive_small(&f, 100);
    assert_eq!((b[0].motion.width, b[0].motion.height), (177, 100));
    assert_eq!((w, h), (177, 100));
    assert_eq!(b[0].motion.pixels, pixels);
    let stats = KernelSet {
        stats: true,
        ..KernelSet::NONE
    };
    let raw = run(&mut CpuBackend::new(stats), std::slice::from_ref(&f));
    assert!(raw[0].motion.pixels.is_empty());
    assert!(
        MotionDetector::new(MotionConfig::default())
            .push(&raw[0])
            .is_none()
    );
}

/// A 320x240 grey frame with a white 24x24 square at `(x, y)`.
fn square_frame(x: Option<u32>, y: u32) -> OwnedFrame {
    let mut f = OwnedFrame::zeroed(PixelFormat::I420, 320, 240, 0);
    f.planes[0].fill(128);
    f.planes[1].fill(128);
    f.planes[2].fill(128);
    if let Some(x) = x {
        for row in y..y + 24 {
            for col in x..(x + 24).min(320) {
                f.planes[0][row as usize * 320 + col as usize] = 235;
            }
        }
    }
    f
}

/// Runs the detector over frames with the square at `x = 10 + 4n`, y = 100
/// (or none when `moving` is false) on the CPU backend.
fn detect(
    config: MotionConfig,
    moving: bool,
    count: u32,
) -> Vec<(u32, osprey_kernels::metrics::Motion)> {
    let frames: Vec<_> = (0..count)
        .map(|n| square_frame(moving.then_some(10 + 4 * n), 100))
        .collect();
    let raw = run(&mut CpuBackend::new(MOTION_ONLY), &frames);
    let mut detector = MotionDetector::new(config);
    (0..count)
        .zip(&raw)
        .map(|(n, r)| (n, detector.push(r).expect("the motion kernel ran")))
        .collect()
}

#[test]
fn boxes_cover_the_moving_square() {
    let results = detect(MotionConfig::default(), true, 70);
    let calibrated = results
        .iter()
        .position(|(_, m)| !m.calibrating)
        .expect("calibration ends");
    assert!(calibrated < 40, "calibrated at frame {calibrated}");
    for (n, m) in &results[calibrated..] {
        let (sx, sy) = (10 + 4 * n, 100);
        let covered = m.boxes.iter().any(|&[x, y, w, h]| {
            x <= sx && y <= sy && x + w >= (sx + 24).min(320) && y + h >= sy + 24
        });
        assert!(
            covered,
            "frame {n}: square at ({sx}, {sy}), boxes {:?}",
            m.boxes
        );
        for &[x, y, _, h] in &m.boxes {
            // Nothing off the square's row or ahead of it. Behind it, the
            // background learnt during calibration (alpha 0.2) keeps a ghost
            // of where the square was, fading at frame_alpha: Frigate's
            // detector does the same.
            assert!(
                x <= sx + 36 && y + 12 >= sy && y + h <= sy + 36,
                "frame {n}: {:?}",
                m.boxes
            );
        }
        assert!(
            m.ratio > 0.0 && m.ratio < 0.05,
            "frame {n}: ratio {}",
            m.ratio
        );
    }
}

#[test]
fn a_static_clip_has_no_motion_after_calibration() {
    let results = detect(MotionConfig::default(), false, 60);
    let calibrated = results
        .iter()
        .position(|(_, m)| !m.calibrating)
        .expect("calibration ends");
    for (n, m) in &results[calibrated..] {
        assert!(m.boxes.is_empty() && m.ratio == 0.0, "frame {n}: {m:?}");
    }
}

#[test]
fn masks_hide_and_zones_see_the_square() {
    let mask = Polygon::parse("0,90,320,90,320,134,0,134").expect("a polygon");
    let masked = MotionConfig {
        masks: vec![mask],
        ..MotionConfig::default()
    };
    let results = detect(masked, true, 60);
    let calibrated = results
        .iter()
        .position(|(_, m)| !m.calibrating)
        .expect("calibration ends");
    for (n, m) in &results[calibrated..] {
        assert!(m.boxes.is_empty(), "frame {n}: {m:?}");
    }
    // The door spans x 200..260: the square (24 wide, 4 px a frame) overlaps
    // it for x in 177..259, that is n in 42..=62.
    let zoned = MotionConfig {
        zones: vec![Zone::parse("door:200,80,260,80,260,150,200,150").expect("a zone")],
        ..MotionConfig::default()
    };
    let results = detect(zoned, true, 75);
    let mut seen = 0;
    for (n, m) in results.iter().filter(|(_, m)| !m.calibrating) {
        let x = 10 + 4 * n;
        let ratio = m.zones[0].ratio;
        assert_eq!(m.zones[0].name, "door");
        if x + 24 < 195 || x > 265 {
            assert_eq!(ratio, 0.0, "frame {n}: square at x {x} is outside the door");
        }
        if x + 24 > 205 && x < 255 {
            assert!(ratio > 0.0, "frame {n}: square at x {x} is inside the door");
            seen += 1;
        }
    }
    assert!(seen > 10);
}
