//! The binary's arguments, exit codes, error lines, record shape and outputs.

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;

use serde_json::Value;

use crate::common::{
    PATIENCE, Proc, arg, frame_records, h264_clip, long_clip, osprey, parse_ndjson, require_gpu,
    run, run_cmd, run_in, small_clip,
};

/// The keys of `stats`, in order.
pub const STATS_KEYS: [&str; 25] = [
    "y_min", "y_low", "y_avg", "y_high", "y_max", "u_min", "u_low", "u_avg", "u_high", "u_max",
    "v_min", "v_low", "v_avg", "v_high", "v_max", "sat_min", "sat_low", "sat_avg", "sat_high",
    "sat_max", "y_dif", "u_dif", "v_dif", "hue_med", "hue_avg",
];

#[test]
fn help_lists_subcommands_and_exit_codes() {
    let r = run(&["--help"]).success();
    for word in ["analyze", "devices", "generate", "Exit codes:", "  4  "] {
        assert!(
            r.stdout.contains(word),
            "{word:?} missing from:\n{}",
            r.stdout
        );
    }
    let r = run(&["analyze", "--help"]).success();
    for word in [
        "--backend",
        "--kernels",
        "--output",
        "--scene-threshold",
        "Exit codes:",
    ] {
        assert!(
            r.stdout.contains(word),
            "{word:?} missing from:\n{}",
            r.stdout
        );
    }
}

#[test]
fn bad_syntax_is_a_usage_error() {
    let r = run(&["analyze"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = run(&["analyze", "x.mp4", "--backend", "tpu"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"));
}

#[test]
fn missing_file_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let line = run_in(dir.path(), &["analyze", "nothere.mp4"]).fails_with(3);
    assert_eq!(line, "osprey: cannot open \"nothere.mp4\": no such file");
}

#[test]
fn folder_as_input_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let line = run(&["analyze", arg(dir.path())]).fails_with(3);
    assert!(line.contains("folder"), "{line}");
}

#[test]
fn unknown_kernel_exits_2() {
    let line = run(&["analyze", arg(small_clip()), "--kernels", "stats,bogus"]).fails_with(2);
    assert_eq!(
        line,
        "osprey: unknown kernel \"bogus\" (known: stats, scene, motion, black, freeze, blur)"
    );
}

#[test]
fn out_of_range_arguments_exit_2() {
    let clip = arg(small_clip());
    let line = run(&["analyze", clip, "--scene-threshold", "250"]).fails_with(2);
    assert!(line.contains("--scene-threshold"), "{line}");
    let line = run(&["analyze", clip, "--chunk-frames", "0"]).fails_with(2);
    assert!(line.contains("--chunk-frames"), "{line}");
}

#[test]
fn text_file_named_mp4_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("notes.mp4");
    std::fs::write(&fake, "these are notes, not a video\n".repeat(50)).unwrap();
    let r = run(&["analyze", arg(&fake), "--backend", "cpu"]);
    assert_ne!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.code, 3, "input errors exit 3: {}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    let last = r.stderr.lines().last().unwrap_or_default();
    assert!(last.starts_with("osprey: "), "{}", r.stderr);
    assert!(
        last.contains("notes.mp4"),
        "the message names the input: {last}"
    );
    assert!(r.stdout.is_empty(), "no records: {}", r.stdout);
}

#[test]
fn file_without_video_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let audio = dir.path().join("tone.wav");
    crate::common::ffmpeg(&["-f", "lavfi", "-i", "sine=duration=0.2", arg(&audio)]);
    let line = run(&["analyze", arg(&audio), "--backend", "cpu"]).fails_with(3);
    assert!(line.contains("has no video stream"), "{line}");
}

/// Every kernel, as `--kernels` names them and frame records key them.
const KERNELS: [&str; 6] = ["stats", "scene", "motion", "black", "freeze", "blur"];

/// The kernel whose detector writes events of `kind`.
fn event_kernel(kind: &str) -> &'static str {
    match kind {
        "scene_cut" => "scene",
        "black_start" | "black_end" => "black",
        "freeze_start" | "freeze_end" => "freeze",
        "motion_start" | "motion_end" | "zone_enter" | "zone_exit" => "motion",
        other => panic!("unknown event type {other:?}"),
    }
}

/// Checks the documented shape of every record, with `kernels` run, and
/// returns the frame records.
#[track_caller]
fn check_shape<'a>(records: &'a [Value], source: &str, kernels: &[&str]) -> Vec<&'a Value> {
    let stats = kernels.contains(&"stats");
    let scene = kernels.contains(&"scene");
    for r in records {
        assert_eq!(r["source"], source, "{r}");
        match r["kind"].as_str() {
            Some("frame") => {
                for key in ["frame", "width", "height"] {
                    assert!(r[key].is_u64(), "{key} is an integer: {r}");
                }
                assert!(r["pts"].is_f64() || r["pts"].is_u64(), "pts: {r}");
                for k in KERNELS {
                    assert_eq!(r.get(k).is_some(), kernels.contains(&k), "{k}: {r}");
                }
                check_detectors(r);
                if stats {
                    let s = r["stats"].as_object().unwrap();
                    let keys: Vec<&str> = s.keys().map(String::as_str).collect();
                    let mut want = STATS_KEYS.to_vec();
                    want.sort_unstable();
                    let mut got = keys.clone();
                    got.sort_unstable();
                    assert_eq!(got, want, "{r}");
                    for key in STATS_KEYS {
                        if key.ends_with("_avg") || key.ends_with("_dif") {
                            assert!(s[key].is_f64(), "{key} is a float: {r}");
                        } else if key == "hue_med" {
                            assert!(s[key].as_u64().is_some_and(|v| v < 360), "{key}: {r}");
                        } else {
                            assert!(s[key].as_u64().is_some_and(|v| v <= 255), "{key}: {r}");
                        }
                    }
                }
                if scene {
                    assert!(r["scene"]["mafd"].is_f64(), "{r}");
                    assert!(r["scene"]["score"].is_f64(), "{r}");
                }
            }
            Some("event") => {
                let kind = r["type"].as_str().unwrap();
                assert!(kernels.contains(&event_kernel(kind)), "{r}");
                assert!(r["frame"].is_u64(), "{r}");
                assert_eq!(r.get("score").is_some(), kind == "scene_cut", "{r}");
                assert_eq!(r.get("zone").is_some(), kind.starts_with("zone_"), "{r}");
                if kind.ends_with("_end") || kind == "zone_exit" {
                    assert!(r["duration"].is_f64() || r["duration"].is_u64(), "{r}");
                } else {
                    assert!(r.get("duration").is_none() && r.get("eos").is_none(), "{r}");
                }
            }
            _ => panic!("unknown record kind: {r}"),
        }
    }
    frame_records(records)
}

/// Checks the shape of the suite's parts of a frame record, where present.
#[track_caller]
fn check_detectors(r: &Value) {
    if let Some(m) = r.get("motion") {
        let ratio = m["ratio"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&ratio), "{r}");
        for b in m["boxes"].as_array().unwrap() {
            let b = b.as_array().unwrap();
            assert!(b.len() == 4 && b.iter().all(Value::is_u64), "{r}");
        }
    }
    if let Some(b) = r.get("black") {
        assert!(
            b["ratio"]
                .as_f64()
                .is_some_and(|v| (0.0..=1.0).contains(&v)),
            "{r}"
        );
    }
    if let Some(f) = r.get("freeze") {
        assert!(f["frozen"].is_boolean(), "{r}");
        assert!(
            f["mafd"].is_null() || f["mafd"].is_f64() || f["mafd"].is_u64(),
            "{r}"
        );
    }
    if let Some(b) = r.get("blur") {
        assert!(
            b["blur"].is_null() || b["blur"].is_f64() || b["blur"].is_u64(),
            "{r}"
        );
        assert!(b["sharpness"].is_f64() || b["sharpness"].is_u64(), "{r}");
    }
}

#[test]
fn cpu_backend_writes_one_record_a_frame() {
    let r = run(&["analyze", arg(small_clip()), "--backend", "cpu"]).success();
    let records = r.records();
    let frames = check_shape(&records, "small-64x48", &KERNELS);
    assert_eq!(frames.len(), 12);
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f["frame"], i as u64);
        assert_eq!(
            (f["width"].as_u64(), f["height"].as_u64()),
            (Some(64), Some(48))
        );
        let pts = f["pts"].as_f64().unwrap();
        assert!((pts - i as f64 / 25.0).abs() < 1e-6, "frame {i} pts {pts}");
    }
    // The summary is the last line on stderr.
    let last = r.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("osprey: small-64x48: 12 frames in ") && last.contains(" on cpu"),
        "{}",
        r.stderr
    );
}

#[test]
fn kernels_not_run_are_left_out() {
    let clip = arg(small_clip());
    let r = run(&["analyze", clip, "--backend", "cpu", "--kernels", "stats"]).success();
    let records = r.records();
    assert_eq!(check_shape(&records, "small-64x48", &["stats"]).len(), 12);
    assert!(records.iter().all(|r| r["kind"] == "frame"));
    let r = run(&[
        "analyze",
        clip,
        "--backend",
        "cpu",
        "--kernels",
        "scene",
        "--source",
        "cam7",
    ])
    .success();
    assert_eq!(check_shape(&r.records(), "cam7", &["scene"]).len(), 12);
}

#[test]
fn chunk_size_does_not_change_results() {
    let clip = arg(long_clip());
    let one = run(&["analyze", clip, "--backend", "cpu", "--chunk-frames", "1"]).success();
    let many = run(&["analyze", clip, "--backend", "cpu", "--chunk-frames", "37"]).success();
    assert_eq!(one.records().len(), many.records().len());
    assert_eq!(one.stdout, many.stdout);
}

#[test]
fn output_file_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let r = run_in(
        dir.path(),
        &[
            "analyze",
            arg(small_clip()),
            "--backend",
            "cpu",
            "--output",
            "out.ndjson",
        ],
    )
    .success();
    assert!(r.stdout.is_empty(), "stdout stays empty: {}", r.stdout);
    let text = std::fs::read_to_string(dir.path().join("out.ndjson")).unwrap();
    let records = parse_ndjson(&text);
    assert_eq!(frame_records(&records).len(), 12);
}

#[test]
fn output_in_missing_folder_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let line = run_in(
        dir.path(),
        &[
            "analyze",
            arg(small_clip()),
            "--backend",
            "cpu",
            "-o",
            "no/such/out.ndjson",
        ],
    )
    .fails_with(1);
    assert_eq!(
        line,
        "osprey: cannot create output \"no/such/out.ndjson\": its folder \"no/such\" does not exist"
    );
}

#[test]
fn closed_stdout_is_success() {
    // 400 frames of records are far more than a pipe buffer holds, so osprey
    // must meet the closed pipe.
    let mut child = Proc::spawn(
        osprey()
            .args([
                "analyze",
                arg(long_clip()),
                "--backend",
                "cpu",
                "--chunk-frames",
                "4",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let stderr = child.stderr_lines();
    // One line is read, then the reader ends and the pipe is closed.
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut first = String::new();
        let _ = BufReader::new(stdout).read_line(&mut first);
        let _ = tx.send(first);
    });
    let first = rx
        .recv_timeout(PATIENCE)
        .expect("a first line within PATIENCE");
    assert!(first.starts_with("{\"kind\":\"frame\""), "{first}");
    let status = child.wait_exit("analyze into a closed pipe");
    let stderr = stderr.to_end("analyze's stderr").join("\n");
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("broken pipe"), "{stderr}");
}

#[test]
fn devices_lists_adapters() {
    let r = run(&["devices"]).success();
    assert!(r.stdout.contains("auto: "), "{}", r.stdout);
    let r = run(&["devices", "--json"]).success();
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert!(v["adapters"].is_array(), "{v}");
    assert!(v.get("auto").is_some(), "{v}");
    assert!(v.get("gpu").is_some(), "{v}");
}

#[test]
fn gpu_backend_matches_cpu_exactly() {
    let adapter = require_gpu();
    let clip = arg(small_clip());
    let gpu = run(&["analyze", clip, "--backend", "gpu"]).success();
    let cpu = run(&["analyze", clip, "--backend", "cpu"]).success();
    check_shape(&gpu.records(), "small-64x48", &KERNELS);
    // Integers are bit-identical and the floats come from the same host code.
    assert_eq!(gpu.stdout, cpu.stdout);
    let last = gpu.stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains(" on gpu"),
        "summary names the GPU: {}",
        gpu.stderr
    );
    // No driver noise (libwayland's XDG_RUNTIME_DIR complaint, loader errors).
    assert!(
        !gpu.stderr
            .lines()
            .any(|l| l.starts_with("error") || l.contains("ERROR")),
        "{}",
        gpu.stderr
    );
    let name = adapter["name"].as_str().unwrap_or_default();
    assert!(
        gpu.stderr.contains(name),
        "summary names {name:?}: {}",
        gpu.stderr
    );
}

#[test]
fn auto_takes_a_hardware_gpu_and_leaves_a_software_one() {
    let adapter = require_gpu();
    let r = run(&["analyze", arg(small_clip())]).success();
    if adapter["device_type"] == "cpu" {
        // lavapipe: the CPU twins are faster than shaders run on the CPU.
        assert!(
            r.stderr.contains("Only a software GPU adapter found"),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains(" on cpu"), "{}", r.stderr);
    } else {
        assert!(r.stderr.contains("Auto took a GPU adapter"), "{}", r.stderr);
    }
    assert_eq!(frame_records(&r.records()).len(), 12);
    let devices = run(&["devices", "--json"]).success();
    let v: Value = serde_json::from_str(devices.stdout.trim()).unwrap();
    assert_eq!(v["auto"].is_null(), adapter["device_type"] == "cpu", "{v}");
}

#[test]
fn without_an_adapter_gpu_exits_4_and_auto_uses_the_cpu() {
    // wgpu honours WGPU_BACKEND; Metal does not exist on Linux, so it finds
    // no adapter at all.
    let no_vulkan = [("WGPU_BACKEND", "metal")];
    let gpu = run_cmd(
        osprey()
            .args(["analyze", arg(small_clip()), "--backend", "gpu"])
            .envs(no_vulkan),
    );
    let line = gpu.fails_with(4);
    assert!(line.contains("no GPU adapter"), "{line}");
    let auto = run_cmd(
        osprey()
            .args(["analyze", arg(small_clip())])
            .envs(no_vulkan),
    )
    .success();
    assert!(
        auto.stderr.contains("No GPU adapter found"),
        "{}",
        auto.stderr
    );
    assert!(auto.stderr.contains(" on cpu"), "{}", auto.stderr);
    assert_eq!(frame_records(&auto.records()).len(), 12);
}

#[test]
fn generated_clip_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    run_in(
        dir.path(),
        &[
            "generate",
            "gen.mp4",
            "--width",
            "96",
            "--height",
            "64",
            "--frames",
            "30",
            "--cut-every",
            "10",
        ],
    )
    .success();
    let r = run_in(dir.path(), &["analyze", "gen.mp4", "--backend", "cpu"]).success();
    let records = r.records();
    let frames = check_shape(&records, "gen", &KERNELS);
    assert_eq!(frames.len(), 30);
    assert!(frames.iter().all(|f| f["width"] == 96 && f["height"] == 64));
    let events: Vec<(&str, u64)> = records
        .iter()
        .filter(|r| r["kind"] == "event")
        .map(|r| (r["type"].as_str().unwrap(), r["frame"].as_u64().unwrap()))
        .collect();
    // Exactly the pattern changes, and nothing else.
    assert_eq!(events, [("scene_cut", 10), ("scene_cut", 20)]);
}

#[test]
fn generate_refuses_odd_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let line = run_in(dir.path(), &["generate", "x.mp4", "--width", "321"]).fails_with(2);
    assert!(line.contains("--width"), "{line}");
    assert!(!dir.path().join("x.mp4").exists());
}

#[test]
fn bad_suite_options_exit_2_with_one_line() {
    let clip = arg(small_clip());
    for (args, option) in [
        (&["--black-ratio", "2"][..], "--black-ratio"),
        (&["--freeze-noise", "loud"][..], "--freeze-noise"),
        (&["--freeze-noise", "6dB"][..], "--freeze-noise"),
        (&["--motion-start-frames", "0"][..], "--motion-start-frames"),
        (&["--zone", "door:1,2,3,4"][..], "--zone"),
        (&["--mask", "x,1,2,3,4,5"][..], "--mask"),
        (&["--blur-block-pct", "0"][..], "--blur-block-pct"),
        (
            &["--thumbnails", "t", "--thumbnail-width", "5000"][..],
            "--thumbnail-width",
        ),
    ] {
        let mut argv = vec!["analyze", clip];
        argv.extend_from_slice(args);
        let line = run(&argv).fails_with(2);
        assert!(
            line.starts_with(&format!("osprey: {option}")),
            "{args:?}: {line}"
        );
    }
}

#[test]
fn zones_file_with_a_bad_polygon_names_file_and_zone() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("zones.toml");
    std::fs::write(
        &file,
        "[[zones]]\nname = \"door\"\npoints = [[0, 0], [10, 0], [10, 10]]\n\
         [[zones]]\nname = \"gate\"\npoints = [[0, 0], [10, 0]]\n",
    )
    .unwrap();
    let line = run(&["analyze", arg(small_clip()), "--zones", arg(&file)]).fails_with(2);
    assert!(line.contains("zones.toml"), "{line}");
    assert!(line.contains("zone \"gate\""), "{line}");
    let json = dir.path().join("zones.json");
    std::fs::write(&json, r#"{"masks":[{"points":[[0,0],[1,"a"]]}]}"#).unwrap();
    let line = run(&["analyze", arg(small_clip()), "--zones", arg(&json)]).fails_with(2);
    assert!(line.contains("zones.json"), "{line}");
}

#[test]
fn zones_reach_the_records() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("zones.json");
    std::fs::write(
        &file,
        r#"{"zones":[{"name":"left","points":[[0,0],[32,0],[32,48],[0,48]]}],
            "masks":[{"points":[[60,0],[64,0],[64,4]]}]}"#,
    )
    .unwrap();
    let r = run(&[
        "analyze",
        arg(small_clip()),
        "--backend",
        "cpu",
        "--kernels",
        "motion",
        "--zones",
        arg(&file),
        "--zone",
        "right:32,0,64,0,64,48,32,48",
    ])
    .success();
    let records = r.records();
    let frames = check_shape(&records, "small-64x48", &["motion"]);
    assert_eq!(frames.len(), 12);
    for f in frames {
        let zones = f["motion"]["zones"].as_object().unwrap();
        let names: Vec<&str> = zones.keys().map(String::as_str).collect();
        assert_eq!(names, ["left", "right"], "{f}");
    }
}

#[test]
fn summary_counts_events_by_type() {
    let r = run(&[
        "analyze",
        arg(long_clip()),
        "--backend",
        "cpu",
        "--kernels",
        "scene",
    ])
    .success();
    let cuts = r
        .records()
        .iter()
        .filter(|r| r["type"] == "scene_cut")
        .count();
    let last = r.stderr.lines().last().unwrap_or_default();
    if cuts == 0 {
        assert!(last.ends_with("; no events"), "{last}");
    } else {
        assert!(last.ends_with(&format!("; {cuts} scene_cut")), "{last}");
    }
}

/// `--thumbnails`: every event names a JPEG of the requested width that
/// exists, and the GPU's downscale gives the same file as the CPU's.
#[test]
fn events_name_their_thumbnails() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for backend in ["cpu", "gpu"] {
        if backend == "gpu" {
            require_gpu();
        }
        let thumbs = dir.path().join(backend);
        let r = run(&[
            "analyze",
            arg(h264_clip()),
            "--backend",
            backend,
            "--kernels",
            "scene",
            "--thumbnails",
            thumbs.to_str().unwrap(),
            "--thumbnail-width",
            "160",
        ])
        .success();
        let events: Vec<_> = r
            .records()
            .into_iter()
            .filter(|r| r["kind"] == "event")
            .collect();
        assert_eq!(events.len(), 2, "two cuts: {}", r.stdout);
        for e in &events {
            let name = e["thumbnail"].as_str().unwrap();
            let frame = e["frame"].as_u64().unwrap();
            assert_eq!(name, format!("cuts-320x240-{frame}-scene_cut.jpg"));
            let img = image::open(thumbs.join(name)).unwrap();
            assert_eq!((img.width(), img.height()), (160, 120), "{name}");
        }
        let mut names: Vec<_> = std::fs::read_dir(&thumbs)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        files.push(
            names
                .iter()
                .map(|p| std::fs::read(p).unwrap())
                .collect::<Vec<_>>(),
        );
    }
    assert!(files[0] == files[1], "GPU and CPU thumbnails differ");
}
