//! osprey against ffmpeg on the same files: signalstats for `stats`, scdet
//! for `scene`, frame by frame, on both backends.
//!
//! ffmpeg prints its figures with `metadata=mode=print`: integers as
//! integers, averages with `%g` (six significant digits), `mafd` and `score`
//! with three decimals, and `pts_time` with `%.6g`. Each osprey figure is held
//! to what that print can tell: integers equal, averages equal once rounded to
//! six significant digits, scene figures within half a unit of the third
//! decimal, and the scene cuts (`lavfi.scd.time`, at score >= 10) the same
//! frames. ffmpeg 5.1's scdet measures luma only for YUV input, as osprey does.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::common::{PerClip, arg, frame_records, h264_clip, odd_clip, require_gpu, run};
use crate::ffmpeg_meta::{FfFrame, ffmpeg_meta, parse_metadata};

/// What signalstats and scdet printed over `clip`, once a clip (the CPU and
/// GPU tests share it). The clips are built with hard cuts, so the oracle
/// itself must see them: a test whose oracle sees nothing could not fail.
fn ffmpeg_figures(clip: &Path, expected_cuts: &[u64]) -> &'static [FfFrame] {
    static FIGURES: PerClip<Vec<FfFrame>> = PerClip::new();
    FIGURES.get(clip, || {
        let ff = ffmpeg_meta(clip, "signalstats,scdet").frames;
        let ff_cuts: Vec<u64> = ff
            .iter()
            .filter(|f| f.meta.contains_key("scd.time"))
            .map(|f| f.frame)
            .collect();
        assert_eq!(ff_cuts, expected_cuts, "ffmpeg's cuts in {clip:?}");
        ff
    })
}

/// `x` rounded to six significant digits, as `%g` prints it.
fn sig6(x: f64) -> f64 {
    format!("{x:.5e}")
        .parse()
        .expect("Rust prints a float it can read")
}

/// (osprey key, ffmpeg key) of each integer signalstats figure.
const INTEGER_STATS: [(&str, &str); 16] = [
    ("y_min", "YMIN"),
    ("y_low", "YLOW"),
    ("y_high", "YHIGH"),
    ("y_max", "YMAX"),
    ("u_min", "UMIN"),
    ("u_low", "ULOW"),
    ("u_high", "UHIGH"),
    ("u_max", "UMAX"),
    ("v_min", "VMIN"),
    ("v_low", "VLOW"),
    ("v_high", "VHIGH"),
    ("v_max", "VMAX"),
    ("sat_min", "SATMIN"),
    ("sat_low", "SATLOW"),
    ("sat_high", "SATHIGH"),
    ("sat_max", "SATMAX"),
];

/// (osprey key, ffmpeg key) of each average.
const AVERAGES: [(&str, &str); 4] = [
    ("y_avg", "YAVG"),
    ("u_avg", "UAVG"),
    ("v_avg", "VAVG"),
    ("sat_avg", "SATAVG"),
];

/// Half a unit of ffmpeg's third decimal, plus float noise.
const SCENE_TOLERANCE: f64 = 0.0005 + 1e-9;

/// Holds osprey's records to ffmpeg's figures, collecting every mismatch
/// before failing so one run shows the whole picture.
#[track_caller]
fn assert_agrees(records: &[Value], ff: &[FfFrame], what: &str) {
    let frames = frame_records(records);
    assert_eq!(frames.len(), ff.len(), "{what}: frame count against ffmpeg");
    let mut bad: Vec<String> = Vec::new();
    for (ours, theirs) in frames.iter().zip(ff) {
        let n = theirs.frame;
        if ours["frame"].as_u64() != Some(n) {
            bad.push(format!("frame {n}: osprey numbers it {}", ours["frame"]));
        }
        let pts = ours["pts"].as_f64().unwrap_or(f64::NAN);
        // Written so that a NaN fails too.
        let pts_ok = (pts - theirs.pts_time).abs() <= 1e-6;
        if !pts_ok {
            bad.push(format!("frame {n}: pts {pts}, ffmpeg {}", theirs.pts_time));
        }
        let stats = &ours["stats"];
        for (key, ffkey) in INTEGER_STATS {
            let want: u64 = theirs.get(ffkey).parse().unwrap_or(u64::MAX);
            if stats[key].as_u64() != Some(want) {
                bad.push(format!(
                    "frame {n}: {key} {} != ffmpeg {ffkey} {want}",
                    stats[key]
                ));
            }
        }
        for (key, ffkey) in AVERAGES {
            let ours = stats[key].as_f64().unwrap_or(f64::NAN);
            let want = theirs.num(ffkey);
            if sig6(ours) != want {
                bad.push(format!(
                    "frame {n}: {key} {ours} (%g {}) != ffmpeg {ffkey} {}",
                    sig6(ours),
                    theirs.get(ffkey)
                ));
            }
        }
        for key in ["mafd", "score"] {
            let ours = ours["scene"][key].as_f64().unwrap_or(f64::NAN);
            let want = theirs.num(&format!("scd.{key}"));
            let close = (ours - want).abs() <= SCENE_TOLERANCE;
            if !close {
                bad.push(format!("frame {n}: {key} {ours} != ffmpeg {want}"));
            }
        }
    }

    // Cuts: each event right after its frame record, at the frames where
    // ffmpeg logs lavfi.scd.time.
    let mut ours_cuts = BTreeSet::new();
    for (i, r) in records.iter().enumerate() {
        if r["kind"] != "event" {
            continue;
        }
        let frame = r["frame"].as_u64().unwrap_or(u64::MAX);
        ours_cuts.insert(frame);
        let before = i.checked_sub(1).map(|j| &records[j]);
        let follows = before.is_some_and(|b| {
            b["kind"] == "frame"
                && b["frame"] == r["frame"]
                && b["pts"] == r["pts"]
                && b["scene"]["score"] == r["score"]
        });
        if !follows {
            bad.push(format!("event {r} does not follow its frame record"));
        }
    }
    let ff_cuts: BTreeSet<u64> = ff
        .iter()
        .filter(|f| f.meta.contains_key("scd.time"))
        .map(|f| f.frame)
        .collect();
    if ours_cuts != ff_cuts {
        bad.push(format!(
            "scene cuts at {ours_cuts:?}, ffmpeg at {ff_cuts:?}"
        ));
    }

    assert!(
        bad.is_empty(),
        "{what}: {} disagreements with ffmpeg, first ones:\n{}",
        bad.len(),
        bad.iter().take(25).cloned().collect::<Vec<_>>().join("\n")
    );
}

/// Analyses `clip` with `backend`, holds it to ffmpeg, and returns the NDJSON.
fn check_clip(clip: &Path, backend: &str, expected_cuts: &[u64]) -> String {
    let ff = ffmpeg_figures(clip, expected_cuts);
    let r = run(&[
        "analyze",
        arg(clip),
        "--backend",
        backend,
        "--kernels",
        "stats,scene",
    ])
    .success();
    assert_agrees(
        &r.records(),
        ff,
        &format!("{} on {backend}", clip.display()),
    );
    r.stdout
}

/// The CPU's NDJSON of `clip`, held to ffmpeg, once a clip: the CPU test's
/// check, and what the GPU's records must equal.
fn cpu_checked(clip: &Path) -> &'static str {
    static RECORDS: PerClip<String> = PerClip::new();
    RECORDS.get(clip, || check_clip(clip, "cpu", &[25, 50]))
}

#[test]
fn h264_cpu_matches_ffmpeg() {
    cpu_checked(h264_clip());
}

#[test]
fn h264_gpu_matches_ffmpeg_and_cpu() {
    require_gpu();
    let gpu = check_clip(h264_clip(), "gpu", &[25, 50]);
    assert!(
        gpu == cpu_checked(h264_clip()),
        "GPU and CPU records differ"
    );
}

#[test]
fn odd_size_ffv1_cpu_matches_ffmpeg() {
    cpu_checked(odd_clip());
}

#[test]
fn odd_size_ffv1_gpu_matches_ffmpeg_and_cpu() {
    require_gpu();
    let gpu = check_clip(odd_clip(), "gpu", &[25, 50]);
    assert!(gpu == cpu_checked(odd_clip()), "GPU and CPU records differ");
}

#[test]
fn odd_size_cpu_sees_odd_size() {
    let r = run(&[
        "analyze",
        arg(odd_clip()),
        "--backend",
        "cpu",
        "--kernels",
        "stats",
    ])
    .success();
    let records = r.records();
    let frames = frame_records(&records);
    assert_eq!(frames.len(), 75);
    assert!(
        frames
            .iter()
            .all(|f| f["width"] == 321 && f["height"] == 241)
    );
}

#[test]
fn metadata_parser_reads_ffmpeg_blocks() {
    let text = "frame:0    pts:0       pts_time:0\n\
                lavfi.signalstats.YMIN=19\n\
                lavfi.signalstats.YAVG=122.09\n\
                lavfi.scd.mafd=0.000\n\
                frame:1    pts:512     pts_time:0.04\n\
                lavfi.scd.score=18.519\n\
                lavfi.scd.time=1\n";
    let frames = parse_metadata(text);
    assert_eq!(frames.len(), 2);
    assert_eq!((frames[0].frame, frames[0].pts_time), (0, 0.0));
    assert_eq!(frames[0].get("YMIN"), "19");
    assert_eq!(frames[0].num("YAVG"), 122.09);
    assert_eq!(frames[0].get("scd.mafd"), "0.000");
    assert_eq!((frames[1].frame, frames[1].pts_time), (1, 0.04));
    assert!(frames[1].meta.contains_key("scd.time"));
}

#[test]
fn sig6_rounds_like_printf_g() {
    assert_eq!(sig6(122.09), 122.09);
    assert_eq!(sig6(129.345_271), 129.345);
    assert_eq!(sig6(110.359_499_9), 110.359);
    assert_eq!(sig6(110.359_500_1), 110.36);
    assert_eq!(sig6(0.333_333_333), 0.333_333);
    assert_eq!(sig6(128.0), 128.0);
}
