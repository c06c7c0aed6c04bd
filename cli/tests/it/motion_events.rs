//! Motion and zone events, frame for frame, on clips with known motion, and
//! the effect of every motion flag.
//!
//! The clips are lossless (FFV1) 320x240 at 25 fps on a black background, so
//! the detector needs no calibration (its background starts at 0, and black
//! differs from it by less than the threshold) and the only change is a white
//! 24x24 square drawn by ffmpeg's `overlay` on the frames its `enable`
//! expression names.
//!
//! The event rules (README, "Records"): a frame is moving when the detector
//! is calibrated, has a box, and its ratio is above `--motion-min-ratio`. A
//! period begins at its first moving frame F and `motion_start` names F once
//! `--motion-start-frames` S moving frames in a row are seen, so it is written
//! after the record of frame F + S - 1. It ends at the first still frame Q once
//! `--motion-end-frames` E still frames in a row are seen, so `motion_end`
//! names Q and is written after the record of Q + E - 1, with duration
//! (Q - F) / 25; a period still open at the last frame is closed there with
//! `eos` (at Q if a still run had begun). Zones follow the same rules with
//! their own ratio; a `motion_start` precedes its zones' enters and a zone's
//! exit precedes the `motion_end` it comes with.
//!
//! The square's figures, from the geometry: the detector works on a
//! 133x100 copy (nearest neighbour, 2.4 frame pixels a small pixel), where the
//! square covers exactly 10x10 pixels (24 / 2.4). The blur spreads it by one
//! pixel on each side (an edge neighbour gets the side weight, about 0.27 of
//! the square's contrast of about 219, above the threshold of 30; a diagonal
//! neighbour about 0.075 of it, below), so 12x12 less the four corners
//! changes; the 3x3 dilation makes that 14x14 less the four corners, whose
//! outer border (through the pixel centres) encloses 13 * 13 - 4 * 0.5 = 167
//! small pixels: the ratio is 167 / 13300 in every frame the square is in.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;

use crate::common::{arg, frame_records, require_gpu, run};
use crate::event_log::{durations, event_log};
use crate::made_clips::{FFV1, made};

/// Frames in the clips (4 s) but the faint one.
const FRAMES: u32 = 100;
/// Pixels of the detector's small image (133x100).
const SMALL: f64 = 13_300.0;
/// The square's border area in small pixels (module doc).
const SQUARE_AREA: f64 = 167.0;

/// The square moves right 4 pixels a frame (x = 40 + 4n, y = 100) on frames
/// 40 to 59 only.
pub fn vanishing_clip() -> &'static Path {
    static CELL: OnceLock<PathBuf> = OnceLock::new();
    made(
        &CELL,
        "vanish-320x240.mkv",
        "color=black:s=320x240:r=25[bg];color=white:s=24x24:r=25[sq];\
         [bg][sq]overlay=x='40+4*n':y=100:eval=frame:enable='between(n,40,59)',format=yuv420p",
        FRAMES,
        &FFV1,
    )
}

/// The square appears at (140, 100) on frame 40 and stays to the end.
fn parked_clip() -> &'static Path {
    static CELL: OnceLock<PathBuf> = OnceLock::new();
    made(
        &CELL,
        "parked-320x240.mkv",
        "color=black:s=320x240:r=25[bg];color=white:s=24x24:r=25[sq];\
         [bg][sq]overlay=x=140:y=100:enable='gte(n,40)',format=yuv420p",
        FRAMES,
        &FFV1,
    )
}

/// The square stands at (40, 100) on frames 30 to 49, jumps to (250, 100)
/// for frames 50 to 59, then is gone.
pub fn jumping_clip() -> &'static Path {
    static CELL: OnceLock<PathBuf> = OnceLock::new();
    made(
        &CELL,
        "jump-320x240.mkv",
        "color=black:s=320x240:r=25[bg];\
         color=white:s=24x24:r=25[a];color=white:s=24x24:r=25[b];\
         [bg][a]overlay=x=40:y=100:enable='between(n,30,49)'[m];\
         [m][b]overlay=x=250:y=100:enable='between(n,50,59)',format=yuv420p",
        FRAMES,
        &FFV1,
    )
}

/// Low contrast: black on the left, dark grey (Y 71) on the right, and on
/// frames 90 to 109 a square a little darker (Y 61) on the grey, 130 frames.
fn faint_clip() -> &'static Path {
    static CELL: OnceLock<PathBuf> = OnceLock::new();
    made(
        &CELL,
        "faint-320x240.mkv",
        "color=black:s=320x240:r=25[bg];color=0x404040:s=160x240:r=25[half];\
         color=0x343434:s=24x24:r=25[sq];[bg][half]overlay=x=160:y=0[b];\
         [b][sq]overlay=x=220:y=100:enable='between(n,90,109)',format=yuv420p",
        130,
        &FFV1,
    )
}

/// The records of `clip` analysed for motion on `backend` with `extra`.
fn analyse_on(clip: &Path, backend: &str, extra: &[&str]) -> Vec<Value> {
    let mut args = vec![
        "analyze",
        arg(clip),
        "--kernels",
        "motion",
        "--backend",
        backend,
    ];
    args.extend_from_slice(extra);
    run(&args).success().records()
}

/// The records of `clip` analysed for motion on the CPU with `extra`.
fn analyse(clip: &Path, extra: &[&str]) -> Vec<Value> {
    analyse_on(clip, "cpu", extra)
}

/// `(frame, motion)` of every frame record.
fn motions(records: &[Value]) -> Vec<(u64, &Value)> {
    frame_records(records)
        .into_iter()
        .map(|f| (f["frame"].as_u64().unwrap(), &f["motion"]))
        .collect()
}

/// Each frame's motion ratio in small pixels (ratio times 13300, rounded).
fn areas(records: &[Value]) -> Vec<(u64, f64)> {
    motions(records)
        .into_iter()
        .map(|(n, m)| (n, (m["ratio"].as_f64().unwrap() * SMALL).round()))
        .collect()
}

/// Asserts the square's frames (`on`) have the border area `area` and every
/// other frame none.
#[track_caller]
fn assert_area(records: &[Value], on: std::ops::RangeInclusive<u64>, area: f64) {
    let found = areas(records);
    assert_eq!(found.len() as u32, FRAMES, "one record a frame");
    for (n, a) in found {
        let want = if on.contains(&n) { area } else { 0.0 };
        assert_eq!(a, want, "frame {n}: border area in small pixels");
    }
}

/// The events of the vanishing square with default flags: start at 40
/// (written at 40 + 2 - 1), end at 60 (written at 60 + 15 - 1).
const VANISH_EVENTS: [&str; 2] = ["motion_start 40 @41", "motion_end 60 @74"];

#[test]
fn a_square_that_vanishes_starts_and_ends_motion() {
    let records = analyse(vanishing_clip(), &[]);
    assert_eq!(event_log(&records), VANISH_EVENTS);
    // (60 - 40) / 25, as pts differences.
    let d = durations(&records);
    assert_eq!(d.len(), 1);
    assert!((d[0] - 0.8).abs() < 1e-9, "{d:?}");
    assert_area(&records, 40..=59, SQUARE_AREA);
    for (n, m) in motions(&records) {
        assert!(m["calibrating"].is_null(), "frame {n} calibrates: {m}");
        let boxes = m["boxes"].as_array().unwrap();
        if !(40..=59).contains(&n) {
            assert!(boxes.is_empty(), "frame {n}: {m}");
            continue;
        }
        // One box around the square: 14 small pixels are 33 or 34 frame
        // pixels, and it covers the square with at most 10 pixels to spare.
        assert_eq!(boxes.len(), 1, "frame {n}: {m}");
        let b: Vec<u64> = boxes[0]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        let (sx, sy) = (40 + 4 * n, 100);
        assert!(
            b[0] <= sx && b[0] + 10 >= sx && b[1] <= sy && b[1] + 10 >= sy,
            "frame {n}: box {b:?} for the square at ({sx}, {sy})"
        );
        assert!(
            (33..=34).contains(&b[2]) && (33..=34).contains(&b[3]),
            "frame {n}: box {b:?}"
        );
        assert!(
            b[0] + b[2] >= sx + 24 && b[1] + b[3] >= sy + 24,
            "frame {n}: box {b:?} for the square at ({sx}, {sy})"
        );
    }
}

#[test]
fn start_frames_delay_the_start_by_as_many_frames() {
    for s in [1u64, 5, 20] {
        let records = analyse(vanishing_clip(), &["--motion-start-frames", &s.to_string()]);
        assert_eq!(
            event_log(&records),
            [
                format!("motion_start 40 @{}", 40 + s - 1),
                "motion_end 60 @74".to_owned()
            ],
            "--motion-start-frames {s}"
        );
    }
    // More than the 20 moving frames: no period at all.
    let records = analyse(vanishing_clip(), &["--motion-start-frames", "21"]);
    assert_eq!(event_log(&records), Vec::<String>::new());
}

#[test]
fn end_frames_move_the_end_by_as_many_frames() {
    for e in [1u64, 5, 40] {
        let records = analyse(vanishing_clip(), &["--motion-end-frames", &e.to_string()]);
        assert_eq!(
            event_log(&records),
            [
                "motion_start 40 @41".to_owned(),
                format!("motion_end 60 @{}", 60 + e - 1)
            ],
            "--motion-end-frames {e}"
        );
    }
    // 41 still frames do not fit in 60..=99: the stream ends first, and the
    // end names the first still frame.
    let records = analyse(vanishing_clip(), &["--motion-end-frames", "41"]);
    assert_eq!(
        event_log(&records),
        ["motion_start 40 @41", "motion_end 60 @99 eos"]
    );
}

#[test]
fn min_ratio_above_the_square_hides_it() {
    // The square's ratio is 167 / 13300 = 0.012556.
    let records = analyse(vanishing_clip(), &["--motion-min-ratio", "0.0125"]);
    assert_eq!(event_log(&records), VANISH_EVENTS);
    let records = analyse(vanishing_clip(), &["--motion-min-ratio", "0.0126"]);
    assert_eq!(event_log(&records), Vec::<String>::new());
    // The figures do not change, only the events.
    assert_area(&records, 40..=59, SQUARE_AREA);
}

#[test]
fn contour_area_above_the_square_hides_it() {
    // A region is a box when its area is above --motion-contour-area.
    let records = analyse(vanishing_clip(), &["--motion-contour-area", "166"]);
    assert_eq!(event_log(&records), VANISH_EVENTS);
    let records = analyse(vanishing_clip(), &["--motion-contour-area", "167"]);
    assert_eq!(event_log(&records), Vec::<String>::new());
    // The ratio still counts the region; it makes no box.
    assert_area(&records, 40..=59, SQUARE_AREA);
    for (n, m) in motions(&records) {
        assert_eq!(m["boxes"], serde_json::json!([]), "frame {n}");
    }
}

#[test]
fn a_taller_small_image_scales_the_square() {
    // 200 rows: 266x200 small pixels, 1.2 frame pixels each; the square
    // covers 20x20, 24x24 less the corners after the blur and the dilation,
    // whose border encloses 23 * 23 - 2 = 527.
    let records = analyse(vanishing_clip(), &["--motion-frame-height", "200"]);
    assert_eq!(event_log(&records), VANISH_EVENTS);
    for (n, m) in motions(&records) {
        let want = if (40..=59).contains(&n) { 527.0 } else { 0.0 };
        let area = (m["ratio"].as_f64().unwrap() * 53_200.0).round();
        assert_eq!(area, want, "frame {n}: {m}");
    }
}

#[test]
fn a_higher_threshold_shrinks_then_hides_the_square() {
    // At 100 the blur's one-pixel spread (about 0.27 * 219 = 60 above the
    // background) no longer counts: 10x10 dilated to 12x12, area 11 * 11.
    let records = analyse(vanishing_clip(), &["--motion-threshold", "100"]);
    assert_eq!(event_log(&records), VANISH_EVENTS);
    assert_area(&records, 40..=59, 121.0);
    // At 200 the square's own edge (about 0.73 * 219 = 160) drops too: 8x8
    // dilated to 10x10, area 9 * 9.
    let records = analyse(vanishing_clip(), &["--motion-threshold", "200"]);
    assert_eq!(event_log(&records), VANISH_EVENTS);
    assert_area(&records, 40..=59, 81.0);
    // Above the square's contrast nothing changes.
    let records = analyse(vanishing_clip(), &["--motion-threshold", "250"]);
    assert_eq!(event_log(&records), Vec::<String>::new());
    assert_area(&records, 0..=0, 0.0);
}

#[test]
fn a_lightning_threshold_below_the_square_recalibrates() {
    // The square's ratio (0.012556) is above 0.0125: its first frame is taken
    // for lightning and the detector calibrates again, so nothing it sees
    // while the square is there is motion.
    let records = analyse(vanishing_clip(), &["--lightning-threshold", "0.0125"]);
    for (n, m) in motions(&records) {
        if n < 40 {
            assert!(m["calibrating"].is_null(), "frame {n}: {m}");
        } else if n < 50 {
            assert_eq!(m["calibrating"], true, "frame {n}: {m}");
        }
    }
    // Pinned: while calibrating, the background takes in the square after
    // 10 frames of boxes at alpha 0.2, and the trail it leaves fades below
    // 5% of the frame only at frame 63, where calibration ends and the trail
    // still there is motion to the end.
    assert_eq!(
        event_log(&records),
        ["motion_start 63 @64", "motion_end 99 @99 eos"]
    );
    // The default threshold (0.8) takes the square for motion.
    let records = analyse(vanishing_clip(), &["--lightning-threshold", "0.8"]);
    assert_eq!(event_log(&records), VANISH_EVENTS);
}

#[test]
fn alpha_sets_how_fast_a_parked_square_is_absorbed() {
    // The square's 10th frame in a row with a box (frame 49) is the first the
    // background takes in, at alpha a a frame: after k frames the difference
    // is about 219 * (1 - a)^k, and motion ends at the first frame 49 + k
    // where it is no longer above 30 (k = 3 at 0.5, 9 at 0.2, 19 at 0.1).
    let cases = [("0.5", 52u64), ("0.2", 58), ("0.1", 68)];
    for (alpha, end) in cases {
        let records = analyse(parked_clip(), &["--motion-alpha", alpha]);
        assert_eq!(
            event_log(&records),
            [
                "motion_start 40 @41".to_owned(),
                format!("motion_end {end} @{}", end + 14)
            ],
            "--motion-alpha {alpha}"
        );
    }
    // At the default 0.01 it takes about 200 frames: still moving at the end.
    let records = analyse(parked_clip(), &[]);
    assert_eq!(
        event_log(&records),
        ["motion_start 40 @41", "motion_end 99 @99 eos"]
    );
}

#[test]
fn the_contrast_stretch_finds_a_faint_square() {
    // The 4th and 96th percentiles are 16 and 71, so the stretch multiplies
    // the square's difference of 10 by 255 / 55 to about 46, above the
    // threshold of 30; without it the difference stays 10. Alpha 0.2 lets
    // the background follow the stretch while it settles over its first 50
    // frames.
    let stretched = analyse(faint_clip(), &["--motion-alpha", "0.2"]);
    let log = event_log(&stretched);
    assert!(log.contains(&"motion_start 90 @91".to_owned()), "{log:?}");
    let m = &frame_records(&stretched)[90]["motion"];
    assert!(m["ratio"].as_f64().unwrap() > 0.0, "{m}");

    let plain = analyse(
        faint_clip(),
        &["--motion-alpha", "0.2", "--no-motion-contrast"],
    );
    assert_eq!(event_log(&plain), Vec::<String>::new());
    for (n, m) in motions(&plain) {
        if n >= 20 {
            assert_eq!(m["ratio"].as_f64(), Some(0.0), "frame {n}: {m}");
        }
    }
}

/// Zones over each place the jumping square stands, as TOML.
pub const ZONES_TOML: &str = "\
[[zones]]
name = \"left\"
points = [[0, 60], [120, 60], [120, 180], [0, 180]]

[[zones]]
name = \"right\"
points = [[200, 60], [320, 60], [320, 180], [200, 180]]
";

/// The same zones as JSON.
const ZONES_JSON: &str = r#"{"zones":[
  {"name":"left","points":[[0,60],[120,60],[120,180],[0,180]]},
  {"name":"right","points":[[200,60],[320,60],[320,180],[200,180]]}]}"#;

/// Writes `text` as `name` in a new temporary folder.
pub fn zones_file(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

#[test]
fn zones_from_a_file_are_entered_and_left_frame_for_frame() {
    let (_dir, toml) = zones_file("zones.toml", ZONES_TOML);
    let records = analyse(jumping_clip(), &["--zones", arg(&toml)]);
    // Motion from 30 to 59; left from 30 to 49; right from 50 to 59; each
    // start written a frame later, each end 14 frames later.
    assert_eq!(
        event_log(&records),
        [
            "motion_start 30 @31",
            "zone_enter left 30 @31",
            "zone_enter right 50 @51",
            "zone_exit left 50 @64",
            "zone_exit right 60 @74",
            "motion_end 60 @74",
        ]
    );
    // Each zone is 50x50 small pixels; the square changes 14 * 14 - 4 of
    // them: 192 / 2500.
    for (n, m) in motions(&records) {
        let (left, right) = match n {
            30..=49 => (0.0768, 0.0),
            50..=59 => (0.0, 0.0768),
            _ => (0.0, 0.0),
        };
        assert_eq!(m["zones"]["left"].as_f64(), Some(left), "frame {n}: {m}");
        assert_eq!(m["zones"]["right"].as_f64(), Some(right), "frame {n}: {m}");
    }

    let (_dir, json) = zones_file("zones.json", ZONES_JSON);
    let from_json = analyse(jumping_clip(), &["--zones", arg(&json)]);
    assert_eq!(from_json, records, "TOML and JSON give the same records");
}

#[test]
fn a_mask_from_the_zones_file_hides_the_right_place() {
    let text = format!(
        "{ZONES_TOML}\n[[masks]]\npoints = [[230, 80], [300, 80], [300, 150], [230, 150]]\n"
    );
    let (_dir, toml) = zones_file("zones.toml", &text);
    let records = analyse(jumping_clip(), &["--zones", arg(&toml)]);
    assert_eq!(
        event_log(&records),
        [
            "motion_start 30 @31",
            "zone_enter left 30 @31",
            "zone_exit left 50 @64",
            "motion_end 50 @64",
        ]
    );
}

#[test]
fn motion_events_on_gpu_equal_cpu() {
    require_gpu();
    let (_dir, toml) = zones_file("zones.toml", ZONES_TOML);
    let extra = ["--zones", arg(&toml)];
    assert_eq!(
        analyse_on(jumping_clip(), "gpu", &extra),
        analyse_on(jumping_clip(), "cpu", &extra)
    );
}
