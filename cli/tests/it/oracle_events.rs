//! osprey's black and freeze events against ffmpeg 5.1's blackdetect and
//! freezedetect on the same files, on both backends.
//!
//! The clip (testsrc2 320x240 at 25 fps) holds, spliced with concat: motion,
//! a black stretch (`color=black`, 2.5 s), motion, a frozen stretch (one
//! frame repeated by `loop`, 3 s), motion, and a black stretch that runs to
//! the end (2.2 s). Black stretches are frozen too, so freezedetect sees
//! three freezes, the last one open at end of stream. Made as H.264 and as
//! lossless FFV1.
//!
//! ffmpeg's periods come from blackdetect's `black_start:... black_end:...
//! black_duration:...` log lines and freezedetect's `lavfi.freezedetect.*`
//! metadata (`metadata=mode=print`); the per-frame black ratio from
//! blackdetect's debug line `picture_black_ratio:%f`. Times must agree within
//! half a frame. ffmpeg leaves a freeze open at end of stream, where osprey
//! closes it with `"eos":true` at the last frame; a black period open at end
//! of stream both close at the last frame's pts.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use crate::common::{PerClip, arg, ffmpeg, frame_records, require_gpu, run};

/// Half a frame at 25 fps.
const HALF_FRAME: f64 = 0.02;

/// The concat graph of the clip.
const GRAPH: &str = "testsrc2=s=320x240:r=25:d=2[a];\
    color=c=black:s=320x240:r=25:d=2.5[b];\
    testsrc2=s=320x240:r=25:d=1[c];\
    testsrc2=s=320x240:r=25:d=0.04,loop=loop=74:size=1:start=0,setpts=N/25/TB[d];\
    testsrc2=s=320x240:r=25:d=1[e];\
    color=c=black:s=320x240:r=25:d=2.2[f];\
    [a][b][c][d][e][f]concat=n=6:v=1:a=0,format=yuv420p";

/// Makes (once a run) the clip with `codec` arguments as `name`.
fn clip(cell: &'static OnceLock<PathBuf>, name: &str, codec: &[&str]) -> &'static Path {
    cell.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("osprey-it-events");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        let mut args = vec!["-filter_complex", GRAPH];
        args.extend_from_slice(codec);
        args.push(arg(&path));
        ffmpeg(&args);
        path
    })
}

fn h264_clip() -> &'static Path {
    static CELL: OnceLock<PathBuf> = OnceLock::new();
    clip(
        &CELL,
        "black-freeze.mp4",
        &["-c:v", "libx264", "-preset", "veryfast", "-crf", "20"],
    )
}

fn ffv1_clip() -> &'static Path {
    static CELL: OnceLock<PathBuf> = OnceLock::new();
    clip(&CELL, "black-freeze.mkv", &["-c:v", "ffv1"])
}

/// A period: start, end and duration in seconds; `None` for an end that the
/// tool did not report.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Period {
    start: f64,
    end: Option<f64>,
    duration: Option<f64>,
}

/// What ffmpeg found in a clip.
#[derive(Debug)]
struct Oracle {
    black: Vec<Period>,
    freeze: Vec<Period>,
    /// blackdetect's `picture_black_ratio` of each frame, printed with `%f`.
    ratios: Vec<f64>,
}

/// The number after `key` in `line`, up to the next space.
fn field(line: &str, key: &str) -> Option<f64> {
    let rest = &line[line.find(key)? + key.len()..];
    rest.split_whitespace().next()?.parse().ok()
}

/// What blackdetect and freezedetect find in `clip`, once a clip (the CPU
/// and GPU tests share it). The oracle itself must see what the clip was
/// made with, or the tests could not fail: two black periods, three freezes
/// (the last one open).
fn oracle(clip: &Path) -> &'static Oracle {
    static ORACLES: PerClip<Oracle> = PerClip::new();
    ORACLES.get(clip, || {
        let ff = run_oracle(clip);
        assert_eq!(ff.black.len(), 2, "blackdetect: {:?}", ff.black);
        assert_eq!(ff.freeze.len(), 3, "freezedetect: {:?}", ff.freeze);
        assert_eq!(ff.freeze[2].end, None, "freezedetect: {:?}", ff.freeze);
        ff
    })
}

/// Runs blackdetect and freezedetect with their defaults on `clip`.
fn run_oracle(clip: &Path) -> Oracle {
    // Each call its own file: the two clips' oracles may run at the same time.
    let tmp = tempfile::tempdir().unwrap();
    let meta = tmp.path().join("freeze.txt");
    let graph = format!(
        "blackdetect=d=2:pic_th=0.98:pix_th=0.10,freezedetect=n=-60dB:d=2,\
         metadata=mode=print:file={}",
        meta.display()
    );
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "debug", "-i"])
        .arg(clip)
        .args(["-vf", &graph, "-f", "null", "-"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ffmpeg failed:\n{log}");
    let mut black = Vec::new();
    let mut ratios = Vec::new();
    for line in log.lines() {
        if line.contains("black_duration:") {
            black.push(Period {
                start: field(line, "black_start:").unwrap(),
                end: field(line, "black_end:"),
                duration: field(line, "black_duration:"),
            });
        } else if line.contains(" picture_black_ratio:") {
            let frame = field(line, "frame:").unwrap() as usize;
            assert_eq!(frame, ratios.len(), "frames in order: {line}");
            ratios.push(field(line, "picture_black_ratio:").unwrap());
        }
    }
    let text = std::fs::read_to_string(&meta).unwrap();
    let mut freeze: Vec<Period> = Vec::new();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value: f64 = value.parse().unwrap();
        match key {
            "lavfi.freezedetect.freeze_start" => freeze.push(Period {
                start: value,
                end: None,
                duration: None,
            }),
            "lavfi.freezedetect.freeze_duration" => {
                freeze.last_mut().unwrap().duration = Some(value);
            }
            "lavfi.freezedetect.freeze_end" => freeze.last_mut().unwrap().end = Some(value),
            _ => {}
        }
    }
    Oracle {
        black,
        freeze,
        ratios,
    }
}

/// osprey's periods of `start`/`end` events, with the eos flag of each end.
fn periods(records: &[Value], start: &str, end: &str) -> Vec<(Period, bool)> {
    let mut out: Vec<(Period, bool)> = Vec::new();
    for r in records.iter().filter(|r| r["kind"] == "event") {
        let pts = r["pts"].as_f64().unwrap();
        if r["type"] == start {
            assert!(
                out.last().is_none_or(|(p, _)| p.end.is_some()),
                "{start} inside an open period: {r}"
            );
            out.push((
                Period {
                    start: pts,
                    end: None,
                    duration: None,
                },
                false,
            ));
        } else if r["type"] == end {
            let (p, eos) = out.last_mut().unwrap_or_else(|| panic!("{end} first: {r}"));
            assert!(p.end.is_none(), "two ends: {r}");
            p.end = Some(pts);
            p.duration = r["duration"].as_f64();
            *eos = r["eos"] == true;
        }
    }
    for (p, _) in &out {
        assert!(p.end.is_some(), "osprey leaves no period open: {p:?}");
    }
    out
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= HALF_FRAME
}

/// Holds osprey's periods to ffmpeg's; ffmpeg's open ends (`None`) must be
/// closed by osprey at end of stream.
fn assert_periods(what: &str, ours: &[(Period, bool)], theirs: &[Period], last_pts: f64) {
    assert_eq!(
        ours.len(),
        theirs.len(),
        "{what}: osprey {ours:?}, ffmpeg {theirs:?}"
    );
    for ((p, eos), f) in ours.iter().zip(theirs) {
        let ctx = || format!("{what}: osprey {p:?} eos={eos}, ffmpeg {f:?}");
        assert!(close(p.start, f.start), "{}", ctx());
        let end = p.end.unwrap();
        match f.end {
            Some(fend) => {
                assert!(close(end, fend), "{}", ctx());
                assert!(close(p.duration.unwrap(), f.duration.unwrap()), "{}", ctx());
                // blackdetect closes at EOF too, at the last pts.
                assert_eq!(*eos, close(fend, last_pts) && what == "black", "{}", ctx());
            }
            None => {
                assert!(*eos, "{}", ctx());
                assert!(close(end, last_pts), "{}", ctx());
                assert!(close(p.duration.unwrap(), last_pts - f.start), "{}", ctx());
            }
        }
    }
}

/// Analyses `clip` on `backend` and holds it to ffmpeg; returns the NDJSON.
fn check(clip: &Path, backend: &str) -> String {
    let ff = oracle(clip);
    let r = run(&[
        "analyze",
        arg(clip),
        "--backend",
        backend,
        "--kernels",
        "black,freeze",
    ])
    .success();
    let records = r.records();
    let frames = frame_records(&records);
    assert_eq!(frames.len(), ff.ratios.len(), "frame count");
    let last_pts = frames.last().unwrap()["pts"].as_f64().unwrap();
    for (f, want) in frames.iter().zip(&ff.ratios) {
        let ratio = f["black"]["ratio"].as_f64().unwrap();
        // %f prints 6 decimals, rounded.
        assert!(
            (ratio - want).abs() <= 5e-7 + 1e-12,
            "frame {}: black ratio {ratio}, blackdetect {want}",
            f["frame"]
        );
        assert!(f["freeze"]["frozen"].is_boolean(), "{f}");
    }
    assert_periods(
        "black",
        &periods(&records, "black_start", "black_end"),
        &ff.black,
        last_pts,
    );
    assert_periods(
        "freeze",
        &periods(&records, "freeze_start", "freeze_end"),
        &ff.freeze,
        last_pts,
    );
    r.stdout
}

/// The CPU's NDJSON of `clip`, held to ffmpeg, once a clip: the CPU test's
/// check, and what the GPU's records must equal.
fn cpu_checked(clip: &Path) -> &'static str {
    static RECORDS: PerClip<String> = PerClip::new();
    RECORDS.get(clip, || check(clip, "cpu"))
}

#[test]
fn h264_events_match_ffmpeg_on_cpu() {
    cpu_checked(h264_clip());
}

#[test]
fn ffv1_events_match_ffmpeg_on_cpu() {
    cpu_checked(ffv1_clip());
}

#[test]
fn h264_events_match_ffmpeg_on_gpu_and_cpu() {
    require_gpu();
    let gpu = check(h264_clip(), "gpu");
    assert!(
        gpu == cpu_checked(h264_clip()),
        "GPU and CPU records differ"
    );
}

#[test]
fn ffv1_events_match_ffmpeg_on_gpu_and_cpu() {
    require_gpu();
    let gpu = check(ffv1_clip(), "gpu");
    assert!(
        gpu == cpu_checked(ffv1_clip()),
        "GPU and CPU records differ"
    );
}

#[test]
fn field_parser_reads_ffmpeg_lines() {
    let line = "[blackdetect @ 0x1] black_start:9.52 black_end:11.68 black_duration:2.16";
    assert_eq!(field(line, "black_start:"), Some(9.52));
    assert_eq!(field(line, "black_duration:"), Some(2.16));
    assert_eq!(field(line, "nothing:"), None);
    let dbg = "[Parsed_blackdetect_0 @ 0x2] frame:58 picture_black_ratio:1.000000 pts:2320";
    assert_eq!(field(dbg, "frame:"), Some(58.0));
    assert_eq!(field(dbg, "picture_black_ratio:"), Some(1.0));
}
