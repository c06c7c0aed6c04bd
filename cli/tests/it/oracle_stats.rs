//! osprey's signalstats extras against ffmpeg 5.1's signalstats, frame by
//! frame, on both backends: `YDIF`, `UDIF`, `VDIF` (differences against the
//! previous frame, 0 on the first), `HUEMED` and `HUEAVG`.
//!
//! ffmpeg prints `HUEMED` as an integer and the others with `%g` (six
//! significant digits): the median must be equal, the others equal once
//! rounded to six significant digits.

use std::path::Path;

use serde_json::Value;

use crate::common::{PerClip, arg, ffmpeg, frame_records, h264_clip, odd_clip, require_gpu, run};

/// (osprey key, ffmpeg key) of each `%g` figure.
const FLOATS: [(&str, &str); 4] = [
    ("hue_avg", "HUEAVG"),
    ("y_dif", "YDIF"),
    ("u_dif", "UDIF"),
    ("v_dif", "VDIF"),
];

/// One map of signalstats keys (`YDIF`, ...) a frame.
type Figures = Vec<std::collections::BTreeMap<String, String>>;

/// What ffmpeg's signalstats printed over `clip`, once a clip (the CPU and
/// GPU tests share it).
fn signalstats(clip: &Path) -> &'static Figures {
    static FIGURES: PerClip<Figures> = PerClip::new();
    FIGURES.get(clip, || run_signalstats(clip))
}

/// Runs ffmpeg's signalstats over `clip`.
fn run_signalstats(clip: &Path) -> Figures {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("meta.txt");
    let graph = format!("signalstats,metadata=mode=print:file={}", arg(&out));
    ffmpeg(&["-i", arg(clip), "-vf", &graph, "-f", "null", "-"]);
    let text = std::fs::read_to_string(&out).unwrap();
    let mut frames = Vec::new();
    for line in text.lines() {
        if line.starts_with("frame:") {
            frames.push(std::collections::BTreeMap::new());
        } else if let Some((key, value)) = line.split_once('=')
            && let Some(key) = key.strip_prefix("lavfi.signalstats.")
        {
            let frame: &mut std::collections::BTreeMap<String, String> =
                frames.last_mut().expect("metadata follows a frame line");
            frame.insert(key.to_owned(), value.to_owned());
        }
    }
    assert!(!frames.is_empty(), "ffmpeg printed no frames for {clip:?}");
    frames
}

/// `x` as `%g` prints it: six significant digits.
fn printf_g(x: f64) -> f64 {
    format!("{x:.5e}")
        .parse()
        .expect("Rust reads back its floats")
}

/// Runs `osprey analyze --kernels stats` on `backend` and holds every frame's
/// extras to ffmpeg's; returns the NDJSON.
fn check(clip: &Path, backend: &str) -> String {
    let ff = signalstats(clip);
    let run = run(&[
        "analyze",
        arg(clip),
        "--backend",
        backend,
        "--kernels",
        "stats",
    ])
    .success();
    let records: Vec<Value> = run.records();
    let frames = frame_records(&records);
    assert_eq!(frames.len(), ff.len(), "{clip:?} on {backend}: frame count");
    let mut bad = Vec::new();
    let mut moved = 0;
    for (n, (ours, theirs)) in frames.iter().zip(ff).enumerate() {
        let stats = &ours["stats"];
        let want = &theirs["HUEMED"];
        if stats["hue_med"].as_u64().map(|v| v.to_string()).as_ref() != Some(want) {
            bad.push(format!(
                "frame {n}: hue_med {} != HUEMED {want}",
                stats["hue_med"]
            ));
        }
        for (key, ffkey) in FLOATS {
            let ours = stats[key].as_f64().unwrap_or(f64::NAN);
            let want: f64 = theirs[ffkey].parse().unwrap();
            if printf_g(ours) != want {
                bad.push(format!("frame {n}: {key} {ours} != {ffkey} {want}"));
            }
            if key == "u_dif" && want > 0.0 {
                moved += 1;
            }
        }
    }
    // The oracle must see something: differences in most frames, and the
    // first frame at 0.
    assert!(
        moved > ff.len() / 2,
        "ffmpeg's UDIF is 0 in most frames of {clip:?}"
    );
    assert_eq!(ff[0]["YDIF"], "0", "{clip:?}");
    assert!(
        bad.is_empty(),
        "{clip:?} on {backend}: {} disagreements with ffmpeg, first ones:\n{}",
        bad.len(),
        bad.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
    run.stdout
}

/// The CPU's NDJSON of `clip`, held to ffmpeg, once a clip: the CPU test's
/// check, and what the GPU's records must equal.
fn cpu_checked(clip: &Path) -> &'static str {
    static RECORDS: PerClip<String> = PerClip::new();
    RECORDS.get(clip, || check(clip, "cpu"))
}

#[test]
fn extras_cpu_match_ffmpeg() {
    cpu_checked(h264_clip());
    cpu_checked(odd_clip());
}

#[test]
fn extras_gpu_match_ffmpeg_and_cpu() {
    require_gpu();
    for clip in [h264_clip(), odd_clip()] {
        let gpu = check(clip, "gpu");
        assert!(
            gpu == cpu_checked(clip),
            "{clip:?}: GPU and CPU records differ"
        );
    }
}
