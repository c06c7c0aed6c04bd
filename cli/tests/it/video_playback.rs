//! `osprey video clip` and `osprey video images` over a video stream
//! appended through the library (four 1 s fragments of 320x240 at 25 fps,
//! the last after a 2 s gap): ffprobe reads the clip, the images decode,
//! and a range without media is one line with exit 3.

use std::path::Path;
use std::process::Command;

use osprey_ingest::video::{VideoStore, VideoStreamConfig};
use osprey_video::playback::synthetic::{Synthetic, fragments};

use crate::common::osprey;

/// 2026-12-06T10:00:00Z in ns.
const T0: u64 = 1_796_551_200_000_000_000;

/// Stream `cam` in `dir`: media from 10:00:00 to 10:00:03, none from
/// 10:00:03 to 10:00:05, media from 10:00:05 to 10:00:06.
fn recorded(dir: &Path) {
    let store = VideoStore::open(dir).unwrap();
    store.create("cam", VideoStreamConfig::default()).unwrap();
    let spec = Synthetic {
        width: 320,
        height: 240,
        fps: 25,
        frames: 100,
        gop: 25,
        start_ns: T0,
    };
    for (i, mut f) in fragments(&spec).unwrap().into_iter().enumerate() {
        if i == 3 {
            for frame in &mut f.frames {
                frame.pts_ns += 2_000_000_000;
                frame.dts_ns += 2_000_000_000;
            }
        }
        store.append("cam", f).unwrap();
    }
}

fn stdout_json(out: &std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "osprey: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn clip_and_images_of_a_recorded_range() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    recorded(&data);
    let clip = dir.path().join("clip.mp4");
    let out = osprey()
        .args(["video", "clip", "cam", "--start", "2026-12-06T10:00:01.5Z"])
        .args(["--end", "2026-12-06T10:00:02.6Z", "-o"])
        .arg(&clip)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    let summary = stdout_json(&out);
    // From the key frame at 10:00:01 to the frame at 10:00:02.56.
    assert_eq!(summary["frames"], 40, "{summary}");
    assert_eq!(summary["start"], "2026-12-06T10:00:01.000Z");
    assert_eq!(summary["end"], "2026-12-06T10:00:02.600Z");
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=nb_read_frames,width,height"])
        .args(["-of", "csv=p=0"])
        .arg(&clip)
        .output()
        .unwrap();
    assert!(probe.status.success());
    assert_eq!(String::from_utf8_lossy(&probe.stdout).trim(), "320,240,40");

    let images = dir.path().join("images");
    let out = osprey()
        .args(["video", "images", "cam", "--start", "2026-12-06T10:00:00Z"])
        .args([
            "--end",
            "2026-12-06T10:00:06Z",
            "--every",
            "1s",
            "--width",
            "160",
        ])
        .args(["--format", "png", "-o"])
        .arg(&images)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    let summary = stdout_json(&out);
    assert_eq!(
        (summary["images"].as_u64(), summary["no_media"].as_u64()),
        (Some(4), Some(2)),
        "{summary}"
    );
    let mut names: Vec<String> = std::fs::read_dir(&images)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "cam-20261206T100000.000Z.png",
            "cam-20261206T100001.000Z.png",
            "cam-20261206T100002.000Z.png",
            "cam-20261206T100005.000Z.png",
        ]
    );
    let img = image::open(images.join(&names[3])).unwrap();
    assert_eq!((img.width(), img.height()), (160, 120));

    // The gap: no media, one line, exit 3.
    let out = osprey()
        .args(["video", "clip", "cam", "--start", "2026-12-06T10:00:03.5Z"])
        .args(["--end", "2026-12-06T10:00:04.5Z", "-o"])
        .arg(dir.path().join("none.mp4"))
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "osprey: no media in video stream \"cam\" between 2026-12-06T10:00:03.500Z and 2026-12-06T10:00:04.500Z\n"
    );
}
