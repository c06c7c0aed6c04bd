//! Motion against ground truth: ffmpeg draws a white 24x24 square moving
//! along a known path (`x = 10 + 4n`, `y = 100`) over a grey 320x240
//! background, H.264; osprey's boxes must cover the square frame by frame once
//! the detector has calibrated, on both backends, a static clip must show no
//! motion, a mask over the path must hide it, and a zone must see it only
//! while the square is inside.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;

use crate::common::{arg, ffmpeg, frame_records, require_gpu, run};

/// Frames in each clip.
const FRAMES: u64 = 75;
/// Frames the detector may spend calibrating (it needs about 20 here:
/// 10 frames before the background takes in persistent change, then alpha
/// 0.2 until the difference falls under the threshold).
const CALIBRATION: u64 = 40;

fn clip(cell: &'static OnceLock<PathBuf>, name: &str, moving: bool) -> &'static Path {
    cell.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("osprey-it-motion");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        let filter = if moving {
            "[0:v][1:v]overlay=x='10+4*n':y=100:eval=frame,format=yuv420p[v]"
        } else {
            "[0:v]format=yuv420p[v]"
        };
        let frames = FRAMES.to_string();
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "color=gray:s=320x240:r=25",
            "-f",
            "lavfi",
            "-i",
            "color=white:s=24x24:r=25",
            "-filter_complex",
            filter,
            "-map",
            "[v]",
            "-frames:v",
            &frames,
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            &path.to_string_lossy(),
        ]);
        path
    })
}

fn moving_clip() -> &'static Path {
    static CELL: OnceLock<PathBuf> = OnceLock::new();
    clip(&CELL, "square-320x240.mp4", true)
}

fn static_clip() -> &'static Path {
    static CELL: OnceLock<PathBuf> = OnceLock::new();
    clip(&CELL, "grey-320x240.mp4", false)
}

/// `(frame, motion record)` for each frame of `clip` analysed with `extra`.
fn motion(clip: &Path, backend: &str, extra: &[&str]) -> Vec<(u64, Value)> {
    let mut args = vec![
        "analyze",
        arg(clip),
        "--kernels",
        "motion",
        "--backend",
        backend,
    ];
    args.extend_from_slice(extra);
    let r = run(&args).success();
    let records = r.records();
    let frames = frame_records(&records);
    assert_eq!(frames.len() as u64, FRAMES, "one record a frame");
    frames
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let n = f["frame"].as_u64().unwrap_or(i as u64);
            let m = f
                .get("motion")
                .unwrap_or_else(|| panic!("frame {n} has no motion: {f}"))
                .clone();
            (n, m)
        })
        .collect()
}

fn boxes(m: &Value) -> Vec<[u64; 4]> {
    m["boxes"]
        .as_array()
        .unwrap_or_else(|| panic!("no boxes in {m}"))
        .iter()
        .map(|b| {
            let v: Vec<u64> = b
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap())
                .collect();
            [v[0], v[1], v[2], v[3]]
        })
        .collect()
}

fn boxes_cover_the_square(backend: &str) {
    for (n, m) in motion(moving_clip(), backend, &[]) {
        if n < CALIBRATION {
            continue;
        }
        let (sx, sy) = (10 + 4 * n, 100);
        let (ex, ey) = ((sx + 24).min(320), sy + 24);
        let found = boxes(&m);
        // Allow two pixels for H.264's softened edges.
        let covered = found
            .iter()
            .any(|&[x, y, w, h]| x <= sx + 2 && y <= sy + 2 && x + w + 2 >= ex && y + h + 2 >= ey);
        assert!(
            covered,
            "{backend} frame {n}: square at ({sx}, {sy}), boxes {found:?}"
        );
        // Nothing off the square's row or ahead of it (behind it the
        // background may keep a fading ghost from calibration, as Frigate's).
        for [x, y, w, h] in found {
            assert!(
                x <= ex + 16 && y + h + 16 >= sy && y <= ey + 16,
                "{backend} frame {n}: a box away from the square: {:?}",
                [x, y, w, h]
            );
        }
        let ratio = m["ratio"].as_f64().unwrap();
        assert!(
            ratio > 0.0 && ratio < 0.05,
            "{backend} frame {n}: ratio {ratio}"
        );
    }
}

#[test]
fn boxes_cover_the_square_on_cpu() {
    boxes_cover_the_square("cpu");
}

#[test]
fn boxes_cover_the_square_on_gpu_as_on_cpu() {
    require_gpu();
    boxes_cover_the_square("gpu");
    assert_eq!(
        motion(moving_clip(), "gpu", &[]),
        motion(moving_clip(), "cpu", &[]),
        "the backends agree frame by frame"
    );
}

#[test]
fn a_static_clip_has_no_motion() {
    for (n, m) in motion(static_clip(), "cpu", &[]) {
        if n >= CALIBRATION {
            assert!(boxes(&m).is_empty(), "frame {n}: {m}");
            assert_eq!(m["ratio"].as_f64(), Some(0.0), "frame {n}: {m}");
        }
    }
}

#[test]
fn a_mask_over_the_path_hides_the_square() {
    for (n, m) in motion(
        moving_clip(),
        "cpu",
        &["--mask", "0,90,320,90,320,134,0,134"],
    ) {
        if n >= CALIBRATION {
            assert!(boxes(&m).is_empty(), "frame {n}: {m}");
        }
    }
}

#[test]
fn a_zone_sees_the_square_only_inside() {
    // The door spans x 200..260; the square spans x 10+4n .. 34+4n.
    let spec = "door:200,80,260,80,260,150,200,150";
    let mut inside = 0;
    for (n, m) in motion(moving_clip(), "cpu", &["--zone", spec]) {
        if n < CALIBRATION {
            continue;
        }
        let ratio = m["zones"]["door"]
            .as_f64()
            .unwrap_or_else(|| panic!("frame {n}: no door in {m}"));
        let (sx, ex) = (10 + 4 * n, 34 + 4 * n);
        if ex + 8 < 200 || sx > 260 + 8 {
            assert_eq!(ratio, 0.0, "frame {n}: square at x {sx}..{ex} is outside");
        }
        if ex > 204 && sx < 256 {
            assert!(ratio > 0.0, "frame {n}: square at x {sx}..{ex} is inside");
            inside += 1;
        }
    }
    assert!(inside > 10, "the square crosses the door");
}

#[test]
fn bad_polygons_are_refused() {
    let r = run(&[
        "analyze",
        arg(static_clip()),
        "--kernels",
        "motion",
        "--zone",
        "door:0,0,1,1",
    ]);
    let line = r.fails_with(2);
    assert!(line.contains("at least 3 points"), "{line}");
    let r = run(&[
        "analyze",
        arg(static_clip()),
        "--kernels",
        "motion",
        "--mask",
        "0,0,x,1,2,2",
    ]);
    let line = r.fails_with(2);
    assert!(line.contains("not a number"), "{line}");
}
