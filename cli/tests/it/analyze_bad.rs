//! Bad input to `osprey analyze` (issue 12): zones that cover nothing or lie
//! outside the frame, a thumbnail folder that cannot be written, an MP4 cut
//! short, and a frame too large for the GPU. Each is found as early as it
//! can be and said in one line (or, for damaged input, in an `error` record
//! while the run goes on; for the large frame, in one warning).

use std::path::{Path, PathBuf};

use crate::common::{arg, ffmpeg, frame_records, require_gpu, run, small_clip};

/// A file that is not media: decoding it fails (exit 3), so a run that
/// exits 2 on it refused its arguments before decoding.
fn not_media(dir: &Path) -> PathBuf {
    let path = dir.join("noise.mp4");
    std::fs::write(&path, vec![0x5a_u8; 4096]).unwrap();
    path
}

#[test]
fn a_zone_with_no_area_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let line = run(&[
        "analyze",
        arg(small_clip()),
        "--backend",
        "cpu",
        "--zone",
        "path:0,0,10,10,20,20",
    ])
    .fails_with(2);
    assert!(line.contains("zone \"path\" has no area"), "{line}");
    // From a file too, and before the input is decoded.
    let file = dir.path().join("zones.toml");
    std::fs::write(
        &file,
        "[[zones]]\nname = \"door\"\npoints = [[0, 0], [10, 0], [10, 10]]\n\
         [[zones]]\nname = \"flat\"\npoints = [[0, 5], [30, 5], [10, 5]]\n",
    )
    .unwrap();
    let noise = not_media(dir.path());
    let line = run(&["analyze", arg(&noise), "--zones", arg(&file)]).fails_with(2);
    assert!(line.contains("zone \"flat\" has no area"), "{line}");
}

#[test]
fn a_zone_at_negative_coordinates_is_refused_before_decoding() {
    let dir = tempfile::tempdir().unwrap();
    let noise = not_media(dir.path());
    let line = run(&["analyze", arg(&noise), "--zone", "left:-50,0,-10,0,-10,40"]).fails_with(2);
    assert!(
        line.contains("zone \"left\" lies entirely outside the frame"),
        "{line}"
    );
}

#[test]
fn a_zone_outside_the_frame_is_refused_before_any_record() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.ndjson");
    // small_clip is 64x48: "far" starts past its right edge, "corner"
    // only touches its bottom-right corner.
    for zone in ["far:100,0,200,0,200,40", "corner:64,48,80,48,80,60"] {
        let r = run(&[
            "analyze",
            arg(small_clip()),
            "--backend",
            "cpu",
            "--zone",
            "near:0,0,32,0,32,24",
            "--zone",
            zone,
            "--output",
            arg(&out),
        ]);
        let line = r.fails_with(2);
        let name = zone.split(':').next().unwrap();
        assert!(
            line.ends_with(&format!(
                "zone \"{name}\" lies entirely outside the 64x48 frame"
            )),
            "{line}"
        );
        assert!(!out.exists(), "no output is made for a refused run");
    }
    // Partly inside is fine.
    run(&[
        "analyze",
        arg(small_clip()),
        "--backend",
        "cpu",
        "--kernels",
        "motion",
        "--zone",
        "edge:40,20,100,20,100,100,40,100",
    ])
    .success();
}

#[test]
fn a_thumbnail_folder_that_is_a_file_is_refused_before_decoding() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("thumbs");
    std::fs::write(&file, "x").unwrap();
    let noise = not_media(dir.path());
    for (input, folder) in [(&noise, file.clone()), (&noise, file.join("sub"))] {
        let line = run(&["analyze", arg(input), "--thumbnails", arg(&folder)]).fails_with(2);
        assert!(line.starts_with("osprey: --thumbnails \""), "{line}");
        assert!(
            line.ends_with(": not a folder") || line.contains("cannot create the folder"),
            "{line}"
        );
    }
}

#[test]
fn a_thumbnail_folder_that_cannot_be_written_is_refused_before_decoding() {
    let dir = tempfile::tempdir().unwrap();
    let noise = not_media(dir.path());
    // /sys is a folder that refuses new files, to root as well.
    let line = run(&["analyze", arg(&noise), "--thumbnails", "/sys"]).fails_with(2);
    assert!(
        line.starts_with("osprey: --thumbnails \"/sys\": cannot write there: "),
        "{line}"
    );
    // A folder osprey may write to is left as it was.
    let thumbs = dir.path().join("thumbs");
    std::fs::create_dir(&thumbs).unwrap();
    run(&[
        "analyze",
        arg(small_clip()),
        "--backend",
        "cpu",
        "--thumbnails",
        arg(&thumbs),
    ])
    .success();
    assert_eq!(std::fs::read_dir(&thumbs).unwrap().count(), 0);
}

/// Frames of the clip cut short below: 8 s at 25 fps.
const FRAMES: usize = 200;

#[test]
fn an_mp4_cut_short_gets_an_error_record() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x120:rate=25:duration=8",
        "-c:v",
        "libx264",
        "-g",
        "25",
        "-pix_fmt",
        "yuv420p",
        // No B-frames: the cut then loses only the tail, not also frames
        // whose references lie past it (reported as a gap of their own).
        "-bf",
        "0",
        "-movflags",
        "+faststart",
        arg(&whole),
    ]);
    // The whole file: every frame, no error record.
    let r = run(&[
        "analyze",
        arg(&whole),
        "--backend",
        "cpu",
        "--kernels",
        "stats",
    ])
    .success();
    let records = r.records();
    assert_eq!(frame_records(&records).len(), FRAMES);
    assert!(
        records.iter().all(|r| r["kind"] != "error"),
        "a whole file has no error record: {}",
        r.stdout
    );

    // 60% of it: the sample tables (at the front) name frames past the end.
    let bytes = std::fs::read(&whole).unwrap();
    let cut = dir.path().join("cut.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() * 6 / 10]).unwrap();
    let r = run(&[
        "analyze",
        arg(&cut),
        "--backend",
        "cpu",
        "--kernels",
        "stats",
        "--source",
        "cam",
    ])
    .success();
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    let records = r.records();
    let frames = frame_records(&records).len();
    assert!(frames > FRAMES / 3 && frames < FRAMES, "{frames} frames");
    let errors: Vec<_> = records.iter().filter(|r| r["kind"] == "error").collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let e = errors[0];
    assert_eq!(e["source"], "cam");
    assert!(e["frame"].is_null(), "the stream ended first: {e}");
    let message = e["message"].as_str().unwrap();
    assert!(message.starts_with("the input ends early: "), "{message}");
    assert!(message.contains("of the 8.000 s it announces"), "{message}");
    // It comes after the last frame record, and the missing frames add up.
    assert_eq!(records.last(), Some(e));
    let missing = message
        .split("about ")
        .nth(1)
        .and_then(|m| m.split(' ').next())
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or_else(|| panic!("no count in {message}"));
    assert_eq!(frames + missing, FRAMES, "{message}");
}

/// A 6144x5472 frame: its blur images (4 bytes a pixel, 128.25 MiB in one
/// binding) pass what lavapipe binds (128 MiB) by as little as a frame
/// size allows, so that both runs of it stay short. `--backend gpu`
/// analyses it on the CPU twin, says so once over three chunks, and writes
/// the records `--backend cpu` writes.
#[test]
fn a_frame_too_large_for_the_gpu_goes_to_the_cpu_twin_said_once() {
    let gpu = require_gpu();
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.mkv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=6144x5472:rate=25",
        "-frames:v",
        "3",
        "-c:v",
        "ffv1",
        "-pix_fmt",
        "yuv420p",
        arg(&big),
    ]);
    let analyze = |backend: &str| {
        run(&[
            "analyze",
            arg(&big),
            "--backend",
            backend,
            "--kernels",
            "stats,blur",
            "--chunk-frames",
            "1",
        ])
        .success()
    };
    let on_gpu = analyze("gpu");
    let on_cpu = analyze("cpu");
    assert_eq!(on_gpu.stdout, on_cpu.stdout);
    assert_eq!(frame_records(&on_gpu.records()).len(), 3);
    let said = on_gpu.stderr.matches("analysed by the CPU twin").count();
    // lavapipe binds 128 MiB: said once. A hardware GPU may bind more and
    // run the frame itself; it never says it twice.
    if gpu["device_type"] == "cpu" {
        assert_eq!(said, 1, "{}", on_gpu.stderr);
    } else {
        assert!(said <= 1, "{}", on_gpu.stderr);
    }
}
