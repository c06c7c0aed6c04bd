//! Inputs that are not 8-bit 4:2:0 against ffmpeg 5.1 on the same files:
//! 10-bit 4:2:0 and 8-bit 4:2:2, FFV1, 320x240, 50 frames (testsrc2 then
//! smptebars: one cut, at 25).
//!
//! osprey's decoder asks GStreamer for I420 or NV12, and `videoconvert`
//! turns anything else into I420:
//! - 10-bit: each sample loses its two low bits (a truncation, no dither).
//!   osprey's figures must equal ffmpeg's signalstats and scdet after
//!   swscale's conversion without dither (`scale=sws_dither=none`), and
//!   ffmpeg's 10-bit figures truncated: minima, percentiles and maxima
//!   `>> 2`, averages between a quarter of the 10-bit one less 3/4 and a
//!   quarter of it (so osprey's averages run up to 3/4 of a level low).
//! - 4:2:2: luma is untouched: every luma figure and the scene scores must
//!   equal ffmpeg's on the native 4:2:2 planes. Chroma is resampled to half
//!   the rows, each sample a rounded mean of its neighbours: it cannot go
//!   below the native minimum or above the native maximum, and its average
//!   moves by at most the rounding, half a level (about 0.06 here, upwards).
//!   Chroma percentiles, saturation and hue depend on the filter and on
//!   there being half as many samples: not compared.
//!
//! Native NV12 is not here: no container that both this GStreamer (1.22)
//! and ffmpeg read carries raw NV12 (GStreamer refuses ffmpeg's raw NV12 in
//! Matroska, AVI and MOV, and its matroskamux refuses NV12), and the
//! software decoders both have give I420. NV12 frames are covered by
//! `FrameView`'s tests in `video/src/chunk.rs` and the kernels' parity tests.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;

use crate::common::{arg, frame_records, require_gpu, run};
use crate::ffmpeg_meta::{FfRun, ffmpeg_meta};
use crate::made_clips::made;

/// testsrc2 then smptebars, a cut at frame 25; `{fmt}` is the pixel format.
fn graph(fmt: &str) -> String {
    format!(
        "testsrc2=s=320x240:r=25:d=1[a];smptebars=s=320x240:r=25:d=1[b];\
         [a][b]concat=n=2:v=1:a=0,format={fmt},gblur=sigma=2"
    )
}

/// 10-bit 4:2:0; the blur gives samples that are not multiples of 4.
fn ten_bit_clip() -> &'static Path {
    static CELL: OnceLock<PathBuf> = OnceLock::new();
    made(
        &CELL,
        "ten-bit-320x240.mkv",
        &graph("yuv420p10le"),
        50,
        &["-c:v", "ffv1", "-pix_fmt", "yuv420p10le"],
    )
}

/// 8-bit 4:2:2.
fn four_two_two_clip() -> &'static Path {
    static CELL: OnceLock<PathBuf> = OnceLock::new();
    made(
        &CELL,
        "422-320x240.mkv",
        &graph("yuv422p"),
        50,
        &["-c:v", "ffv1", "-pix_fmt", "yuv422p"],
    )
}

/// osprey's stats and scene records of `clip` on `backend`, as NDJSON.
fn analyse(clip: &Path, backend: &str) -> String {
    run(&[
        "analyze",
        arg(clip),
        "--backend",
        backend,
        "--kernels",
        "stats,scene",
    ])
    .success()
    .stdout
}

/// The signalstats key of an osprey stats key: `sat_low` is `SATLOW`.
fn ffmpeg_key(key: &str) -> String {
    key.replace('_', "").to_uppercase()
}

/// `stats` keys of `channels` with the integer figures.
fn integer_keys(channels: &[&str]) -> Vec<String> {
    channels
        .iter()
        .flat_map(|c| ["min", "low", "high", "max"].map(|f| format!("{c}_{f}")))
        .collect()
}

/// Whether `ours` prints as `want` with `%g`'s six significant digits.
fn same_at_six_digits(ours: f64, want: f64) -> bool {
    let unit = if want == 0.0 {
        1e-6
    } else {
        10f64.powf(want.abs().log10().floor() - 5.0)
    };
    (ours - want).abs() <= unit / 2.0 + 1e-9
}

/// Collects the disagreements of every frame, `check` being called with
/// the frame index, osprey's record and ffmpeg's run; fails with the first
/// ones.
#[track_caller]
fn assert_frames(
    what: &str,
    stdout: &str,
    ff: &FfRun,
    mut check: impl FnMut(usize, &Value, &mut Vec<String>),
) {
    let records = crate::common::parse_ndjson(stdout);
    let frames = frame_records(&records);
    assert_eq!(frames.len(), ff.frames.len(), "{what}: frame count");
    let mut bad = Vec::new();
    for (n, f) in frames.iter().enumerate() {
        check(n, f, &mut bad);
    }
    let cuts: Vec<u64> = records
        .iter()
        .filter(|r| r["type"] == "scene_cut")
        .map(|r| r["frame"].as_u64().unwrap())
        .collect();
    assert_eq!(ff.frames_with("scd.time"), [25], "{what}: ffmpeg's cuts");
    if cuts != [25] {
        bad.push(format!("cuts at {cuts:?}, ffmpeg's at 25"));
    }
    assert!(
        bad.is_empty(),
        "{what}: {} disagreements with ffmpeg, first ones:\n{}",
        bad.len(),
        bad[..bad.len().min(20)].join("\n")
    );
}

/// Checks `stats.{key}` of frame `n` is exactly ffmpeg's `transform`ed.
fn exact(
    n: usize,
    f: &Value,
    ff: &FfRun,
    keys: &[String],
    transform: fn(f64) -> f64,
    bad: &mut Vec<String>,
) {
    for key in keys {
        let ours = f["stats"][key].as_f64().unwrap_or(f64::NAN);
        let want = transform(ff.num(n, &ffmpeg_key(key)));
        if ours != want {
            bad.push(format!("frame {n}: {key} {ours}, ffmpeg's {want}"));
        }
    }
}

/// Checks frame `n`'s scene figures are ffmpeg's within its three decimals.
fn scene(n: usize, f: &Value, ff: &FfRun, bad: &mut Vec<String>) {
    for key in ["mafd", "score"] {
        let ours = f["scene"][key].as_f64().unwrap_or(f64::NAN);
        let want = ff.num(n, &format!("scd.{key}"));
        if (ours - want).abs() > 0.0005 + 1e-9 {
            bad.push(format!("frame {n}: scene {key} {ours}, ffmpeg's {want}"));
        }
    }
}

fn ten_bit_matches_ffmpeg_without_dither(backend: &str) -> String {
    let stdout = analyse(ten_bit_clip(), backend);
    let ff = ffmpeg_meta(
        ten_bit_clip(),
        "scale=sws_dither=none,format=yuv420p,signalstats,scdet",
    );
    let ints = integer_keys(&["y", "u", "v", "sat"]);
    assert_frames("10-bit", &stdout, &ff, |n, f, bad| {
        exact(n, f, &ff, &ints, |x| x, bad);
        for c in ["y", "u", "v", "sat"] {
            let key = format!("{c}_avg");
            let ours = f["stats"][&key].as_f64().unwrap_or(f64::NAN);
            let want = ff.num(n, &ffmpeg_key(&key));
            if !same_at_six_digits(ours, want) {
                bad.push(format!("frame {n}: {key} {ours}, ffmpeg's {want}"));
            }
        }
        scene(n, f, &ff, bad);
    });
    stdout
}

#[test]
fn ten_bit_input_matches_ffmpeg_truncating_to_eight_bits() {
    ten_bit_matches_ffmpeg_without_dither("cpu");
}

#[test]
fn ten_bit_input_on_gpu_matches_ffmpeg_and_cpu() {
    require_gpu();
    let gpu = ten_bit_matches_ffmpeg_without_dither("gpu");
    assert!(
        gpu == analyse(ten_bit_clip(), "cpu"),
        "GPU and CPU records differ"
    );
}

#[test]
fn ten_bit_figures_are_the_ten_bit_ones_truncated() {
    let stdout = analyse(ten_bit_clip(), "cpu");
    let ff = ffmpeg_meta(ten_bit_clip(), "signalstats,scdet");
    let ints = integer_keys(&["y", "u", "v"]);
    let mut low_by = 0.0f64;
    assert_frames("10-bit, native", &stdout, &ff, |n, f, bad| {
        exact(n, f, &ff, &ints, |x| (x / 4.0).floor(), bad);
        for c in ["y", "u", "v"] {
            let key = format!("{c}_avg");
            let ours = f["stats"][&key].as_f64().unwrap_or(f64::NAN);
            // %g prints six digits of a 10-bit average: 0.0005 at most off.
            let quarter = ff.num(n, &ffmpeg_key(&key)) / 4.0;
            let slack = 0.0005 / 4.0;
            if !(ours >= quarter - 0.75 - slack && ours <= quarter + slack) {
                bad.push(format!(
                    "frame {n}: {key} {ours}, ffmpeg's 10-bit / 4 {quarter}"
                ));
            }
            low_by = low_by.max(quarter - ours);
        }
    });
    // The truncation shows: the averages run low by about 3/8 of a level.
    assert!(low_by > 0.25, "averages at most {low_by} low");
}

#[test]
fn four_two_two_input_matches_ffmpeg_on_the_native_planes() {
    let stdout = analyse(four_two_two_clip(), "cpu");
    let ff = ffmpeg_meta(four_two_two_clip(), "signalstats,scdet");
    let ints = integer_keys(&["y"]);
    assert_frames("4:2:2", &stdout, &ff, |n, f, bad| {
        exact(n, f, &ff, &ints, |x| x, bad);
        for c in ["u", "v"] {
            let low = f["stats"][format!("{c}_min")].as_f64().unwrap_or(f64::NAN);
            let high = f["stats"][format!("{c}_max")].as_f64().unwrap_or(f64::NAN);
            let (ff_low, ff_high) = (
                ff.num(n, &ffmpeg_key(&format!("{c}_min"))),
                ff.num(n, &ffmpeg_key(&format!("{c}_max"))),
            );
            if !(low >= ff_low && high <= ff_high) {
                bad.push(format!(
                    "frame {n}: {c} from {low} to {high}, ffmpeg's from {ff_low} to {ff_high}"
                ));
            }
        }
        let y = f["stats"]["y_avg"].as_f64().unwrap_or(f64::NAN);
        if !same_at_six_digits(y, ff.num(n, "YAVG")) {
            bad.push(format!(
                "frame {n}: y_avg {y}, ffmpeg's {}",
                ff.num(n, "YAVG")
            ));
        }
        for key in ["u_avg", "v_avg"] {
            let ours = f["stats"][key].as_f64().unwrap_or(f64::NAN);
            let want = ff.num(n, &ffmpeg_key(key));
            if (ours - want).abs() > 0.5 {
                bad.push(format!("frame {n}: {key} {ours}, ffmpeg's {want}"));
            }
        }
        scene(n, f, &ff, bad);
    });
}
