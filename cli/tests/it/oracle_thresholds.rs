//! Black, freeze and scene events at non-default thresholds, on stretches
//! made to sit just either side of them, against ffmpeg 5.1's blackdetect,
//! freezedetect and scdet with the same thresholds on the same file.
//!
//! The clip (FFV1 320x240, 25 fps, 195 frames) splices with concat:
//! - 25 frames of testsrc2;
//! - 40 dark frames with temporal noise (`noise=alls=12`), flat luma 51 for
//!   9 frames then 52 for 3, repeated: at `pix_th` 0.2 (luma 59 and below is
//!   black) about 90.4% of a 51 frame's pixels are black and 88.6% of a 52
//!   frame's, so at `pic_th` 0.9 they are black and not black in turn, three
//!   periods of 0.36 s, each long enough at `d` 0.2;
//! - 25 frames of testsrc2;
//! - two frozen stretches of 20 frames, a testsrc2 frame and then a
//!   smptebars frame repeated with temporal noise (`alls=4`, then `alls=5`),
//!   whose mean difference from the reference, about 0.0082 and 0.0108, falls
//!   just under and just over freezedetect's `n` of -40dB (0.01);
//! - 40 flat frames stepping in luma every 8 frames by 10, 15, 20 and 30
//!   (scdet scores of about 3.9, 5.9, 7.8 and 11.7; at a threshold of 5 the
//!   last three are cuts, at the default 10 only the last), each step 8
//!   frames (0.32 s) frozen, just over a freeze `d` of 0.3;
//! - 25 frames of testsrc2.
//!
//! Every event must name the frame ffmpeg's does: blackdetect's periods from
//! its `black_start:... black_end:...` log lines, freezedetect's from its
//! `lavfi.freezedetect.*` metadata, scdet's cuts from `lavfi.scd.time`, each
//! time turned into a frame at 25 fps. The same records, events included,
//! must come out whatever the chunk size (`--chunk-frames` 1 to 256), on
//! both backends: periods and the motion detector's state run across chunks.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;

use crate::common::{arg, require_gpu, run};
use crate::ffmpeg_meta::{FfRun, ffmpeg_meta};
use crate::made_clips::{FFV1, made};

/// The concat graph of the clip (module doc).
const GRAPH: &str = "testsrc2=s=320x240:r=25:d=1[a];\
    color=c=black:s=320x240:r=25:d=1.6,format=yuv420p,\
    geq=lum='if(lt(mod(N,12),9),51,52)':cb=128:cr=128,noise=alls=12:allf=t[b];\
    testsrc2=s=320x240:r=25:d=1[c];\
    testsrc2=s=320x240:r=25:d=0.04,loop=loop=19:size=1:start=0,setpts=N/25/TB,\
    format=yuv420p,noise=alls=4:allf=t[d];\
    smptebars=s=320x240:r=25:d=0.04,loop=loop=19:size=1:start=0,setpts=N/25/TB,\
    format=yuv420p,noise=alls=5:allf=t[e];\
    color=c=black:s=320x240:r=25:d=1.6,format=yuv420p,\
    geq=lum='if(lt(N,8),100,if(lt(N,16),110,if(lt(N,24),125,if(lt(N,32),145,175))))'\
    :cb=128:cr=128[f];\
    testsrc2=s=320x240:r=25:d=1[g];\
    [a][b][c][d][e][f][g]concat=n=7:v=1:a=0,format=yuv420p";

/// Frames in the clip.
const FRAMES: u32 = 195;

fn clip() -> &'static Path {
    static CELL: OnceLock<PathBuf> = OnceLock::new();
    made(&CELL, "thresholds-320x240.mkv", GRAPH, FRAMES, &FFV1)
}

/// osprey's flags for the thresholds of [`events_at_non_default_thresholds_match_ffmpeg`].
const THRESHOLDS: [&str; 12] = [
    "--black-pixel",
    "0.2",
    "--black-ratio",
    "0.9",
    "--black-min-duration",
    "0.2",
    "--freeze-noise",
    "-40dB",
    "--freeze-min-duration",
    "0.3",
    "--scene-threshold",
    "5",
];

/// A time in seconds as a frame index at 25 fps.
fn frame_at(seconds: f64) -> u64 {
    (seconds * 25.0).round() as u64
}

/// Periods as `(first frame, end frame)`, and cut frames.
#[derive(Debug, PartialEq)]
struct Found {
    black: Vec<(u64, u64)>,
    freeze: Vec<(u64, u64)>,
    cuts: Vec<u64>,
}

/// What ffmpeg finds in `clip` with `graph` (blackdetect, freezedetect and
/// scdet with their options).
fn ffmpeg_found(clip: &Path, graph: &str) -> Found {
    let ff = ffmpeg_meta(clip, graph);
    assert_eq!(ff.frames.len() as u32, FRAMES);
    let black = ff
        .log
        .lines()
        .filter(|l| l.contains("black_duration:"))
        .map(|l| {
            let time = |key: &str| {
                l.split_whitespace()
                    .find_map(|t| t.strip_prefix(key))
                    .and_then(|t| t.parse().ok())
                    .unwrap_or_else(|| panic!("no {key} in {l:?}"))
            };
            (frame_at(time("black_start:")), frame_at(time("black_end:")))
        })
        .collect();
    Found {
        black,
        freeze: freeze_periods(&ff),
        cuts: ff.frames_with("scd.time"),
    }
}

/// freezedetect's periods from the frames that carry its start and end.
fn freeze_periods(ff: &FfRun) -> Vec<(u64, u64)> {
    let starts = ff.frames_with("freezedetect.freeze_start");
    let ends = ff.frames_with("freezedetect.freeze_end");
    assert_eq!(starts.len(), ends.len(), "no freeze open at the end");
    starts
        .iter()
        .zip(&ends)
        .map(|(&s, &e)| {
            let start = ff.num(s as usize, "freezedetect.freeze_start");
            let end = ff.num(e as usize, "freezedetect.freeze_end");
            (frame_at(start), frame_at(end))
        })
        .collect()
}

/// osprey's periods of `start`/`end` events.
fn periods(records: &[Value], start: &str, end: &str) -> Vec<(u64, u64)> {
    let frames = |kind: &str| -> Vec<u64> {
        records
            .iter()
            .filter(|r| r["kind"] == "event" && r["type"] == kind)
            .map(|r| r["frame"].as_u64().unwrap())
            .collect()
    };
    let (starts, ends) = (frames(start), frames(end));
    assert_eq!(starts.len(), ends.len(), "{start}/{end} in pairs");
    starts.into_iter().zip(ends).collect()
}

/// What osprey finds in `clip` on the CPU with `flags`.
fn osprey_found(clip: &Path, flags: &[&str]) -> Found {
    let mut args = vec![
        "analyze",
        arg(clip),
        "--backend",
        "cpu",
        "--kernels",
        "black,freeze,scene",
    ];
    args.extend_from_slice(flags);
    let records = run(&args).success().records();
    assert!(
        records.iter().all(|r| r["eos"].is_null()),
        "no period open at the end"
    );
    Found {
        black: periods(&records, "black_start", "black_end"),
        freeze: periods(&records, "freeze_start", "freeze_end"),
        cuts: records
            .iter()
            .filter(|r| r["type"] == "scene_cut")
            .map(|r| r["frame"].as_u64().unwrap())
            .collect(),
    }
}

#[test]
fn events_at_non_default_thresholds_match_ffmpeg() {
    let ff = ffmpeg_found(
        clip(),
        "blackdetect=d=0.2:pic_th=0.9:pix_th=0.2,freezedetect=n=-40dB:d=0.3,scdet=threshold=5",
    );
    // The oracle sees what the clip was made to hold, or this test could not
    // fail: three noisy black periods, the quieter noisy freeze but not the
    // louder one, the four steps frozen, and the steps of 15, 20 and 30 cut.
    assert_eq!(ff.black, [(25, 34), (37, 46), (49, 58)], "{ff:?}");
    assert_eq!(
        ff.freeze,
        [
            (90, 110),
            (130, 138),
            (138, 146),
            (146, 154),
            (154, 162),
            (162, 170)
        ],
        "{ff:?}"
    );
    assert_eq!(ff.cuts, [25, 65, 110, 130, 146, 154, 162, 170], "{ff:?}");
    assert_eq!(osprey_found(clip(), &THRESHOLDS), ff);
}

#[test]
fn events_at_default_thresholds_match_ffmpeg_on_the_same_clip() {
    // The same stretches at the defaults (pix_th 0.1: no noisy frame is
    // black; n -60dB: no noisy frame is frozen; d 2: no period long enough;
    // scdet 10: only the step of 30 among the steps).
    let ff = ffmpeg_found(
        clip(),
        "blackdetect=d=2:pic_th=0.98:pix_th=0.1,freezedetect=n=-60dB:d=2,scdet=threshold=10",
    );
    assert_eq!(ff.black, []);
    assert_eq!(ff.freeze, []);
    assert_eq!(ff.cuts, [25, 65, 110, 130, 162, 170], "{ff:?}");
    assert_eq!(osprey_found(clip(), &[]), ff);
}

/// The NDJSON of the clip with [`THRESHOLDS`] and motion on `backend`,
/// `chunk` frames a chunk.
fn chunked(backend: &str, chunk: &str) -> String {
    let mut args = vec![
        "analyze",
        arg(clip()),
        "--backend",
        backend,
        "--kernels",
        "black,freeze,scene,motion",
        "--chunk-frames",
        chunk,
    ];
    args.extend_from_slice(&THRESHOLDS);
    run(&args).success().stdout
}

#[test]
fn events_do_not_depend_on_the_chunk_size() {
    // Periods, cuts and motion run across chunk boundaries: one frame a
    // chunk, a few, and the whole clip in one give the same records.
    let one = chunked("cpu", "1");
    let events = one
        .lines()
        .filter(|l| l.contains(r#""kind":"event""#))
        .count();
    assert!(events >= 30, "the clip has its events: {events}");
    assert!(one == chunked("cpu", "7"), "chunks of 1 and 7 differ");
    assert!(one == chunked("cpu", "256"), "chunks of 1 and 256 differ");
}

#[test]
fn events_on_gpu_do_not_depend_on_the_chunk_size() {
    require_gpu();
    let cpu = chunked("cpu", "8");
    assert!(
        chunked("gpu", "1") == cpu,
        "GPU in chunks of 1 differs from CPU"
    );
    assert!(
        chunked("gpu", "256") == cpu,
        "GPU in one chunk differs from CPU"
    );
}
