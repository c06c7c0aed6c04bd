//! osprey's `blur` against ffmpeg's blurdetect, frame by frame, on a sharp
//! clip (testsrc2) and a blurred copy of it (`gblur=sigma=2`), on both
//! backends.
//!
//! Tolerance: half a unit of the sixth decimal, which is all ffmpeg's `%f`
//! print of `lavfi.blur` can tell, far inside the 2% the issue asks for. The
//! kernels reproduce blurdetect's integer pipeline (Gaussian, Sobel, rounded
//! directions, suppression, double threshold, edge steps) exactly and keep
//! the widths in 2^-24 fixed point, which holds ffmpeg's float widths and
//! their double sums exactly; the pooling runs in ffmpeg's float types
//! (`metrics::blur`). So the only difference left is the print. The clips are
//! lossless FFV1, so both tools see the same pixels.
//!
//! `sharpness` (variance of the Laplacian) has no ffmpeg twin: it is held to
//! be larger on every sharp frame than on its blurred copy, as blurdetect's
//! value is held to be smaller.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;

use crate::common::{PerClip, arg, ffmpeg, frame_records, require_gpu, run};

/// Frames a clip.
const FRAMES: usize = 30;

/// Half a unit of `%f`'s sixth decimal, plus float noise.
const TOLERANCE: f64 = 0.5e-6 + 1e-9;

/// Writes testsrc2 at 320x240, passed through `filter`, as FFV1 yuv420p.
fn make_clip(path: &Path, filter: &str) {
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=25",
        "-vf",
        filter,
        "-frames:v",
        &FRAMES.to_string(),
        "-c:v",
        "ffv1",
        "-pix_fmt",
        "yuv420p",
        arg(path),
    ]);
}

/// The sharp clip and its blurred copy, made once a test run (both
/// backends' tests use them).
fn clips() -> &'static [PathBuf; 2] {
    static CLIPS: OnceLock<[PathBuf; 2]> = OnceLock::new();
    CLIPS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("osprey-it-blur");
        std::fs::create_dir_all(&dir).unwrap();
        let (sharp, soft) = (dir.join("sharp.mkv"), dir.join("soft.mkv"));
        make_clip(&sharp, "null");
        make_clip(&soft, "gblur=sigma=2");
        [sharp, soft]
    })
}

/// ffmpeg's `lavfi.blur` of every frame of `clip`, once a clip; `None`
/// where it printed nan.
fn blurdetect(clip: &Path) -> &'static [Option<f64>] {
    static VALUES: PerClip<Vec<Option<f64>>> = PerClip::new();
    VALUES.get(clip, || run_blurdetect(clip))
}

/// Runs ffmpeg's blurdetect over `clip`.
fn run_blurdetect(clip: &Path) -> Vec<Option<f64>> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("blur.txt");
    let graph = format!("blurdetect,metadata=mode=print:file={}", arg(&out));
    ffmpeg(&["-i", arg(clip), "-vf", &graph, "-f", "null", "-"]);
    let text = std::fs::read_to_string(&out).unwrap();
    let values: Vec<Option<f64>> = text
        .lines()
        .filter_map(|l| l.strip_prefix("lavfi.blur="))
        .map(|v| v.parse::<f64>().ok().filter(|x| x.is_finite()))
        .collect();
    assert_eq!(values.len(), FRAMES, "ffmpeg printed {text}");
    values
}

/// osprey's `(blur, sharpness)` of every frame.
fn osprey_blur(clip: &Path, backend: &str) -> Vec<(Option<f64>, f64)> {
    let r = run(&[
        "analyze",
        arg(clip),
        "--backend",
        backend,
        "--kernels",
        "blur",
    ])
    .success();
    let records = r.records();
    frame_records(&records)
        .iter()
        .map(|f| {
            let b: &Value = &f["blur"];
            assert!(b.is_object(), "no blur in frame record {f}");
            let sharpness = b["sharpness"]
                .as_f64()
                .unwrap_or_else(|| panic!("no sharpness in {f}"));
            (b["blur"].as_f64(), sharpness)
        })
        .collect()
}

/// Runs both clips on `backend` and holds every frame to ffmpeg.
fn check(backend: &str) {
    let mut bad = Vec::new();
    let mut results = Vec::new();
    for clip in clips() {
        let want = blurdetect(clip);
        let got = osprey_blur(clip, backend);
        assert_eq!(got.len(), want.len(), "{clip:?}: frame count");
        let mut worst = 0f64;
        for (n, ((ours, _), theirs)) in got.iter().zip(want).enumerate() {
            match (ours, theirs) {
                (Some(a), Some(b)) => {
                    worst = worst.max((a - b).abs() / b.abs().max(1e-12));
                    // Written so that a NaN fails too.
                    let close = (a - b).abs() <= TOLERANCE;
                    if !close {
                        bad.push(format!("{clip:?} frame {n}: blur {a} != ffmpeg {b}"));
                    }
                }
                (None, None) => {}
                _ => bad.push(format!(
                    "{clip:?} frame {n}: {ours:?} against ffmpeg {theirs:?}"
                )),
            }
        }
        eprintln!("{backend} {clip:?}: worst relative difference {worst:e}");
        results.push(got);
    }
    for (n, (s, b)) in results[0].iter().zip(&results[1]).enumerate() {
        let sharper = s.0.zip(b.0).is_some_and(|(s, b)| s < b) && s.1 > b.1;
        if !sharper {
            bad.push(format!("frame {n}: sharp {s:?} against blurred {b:?}"));
        }
    }
    assert!(bad.is_empty(), "{backend}:\n{}", bad.join("\n"));
}

#[test]
fn blur_cpu_matches_blurdetect() {
    check("cpu");
}

#[test]
fn blur_gpu_matches_blurdetect() {
    require_gpu();
    check("gpu");
}
