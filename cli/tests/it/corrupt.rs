//! A stretch of garbage in the middle of a file: `osprey analyze` writes an
//! `error` record naming the first frame after the damage, analyses the
//! frames after it, and exits 0 (the damage is reported in the output, where
//! a reader of the records sees it next to the frames it concerns; the run
//! itself did what it was asked). Checked on MPEG-TS and MP4, on the CPU.

use std::path::Path;

use crate::common::{arg, ffmpeg, frame_records, run};

/// Frames of the clean clip: 8 s at 25 fps.
const FRAMES: u64 = 200;

/// A clean H.264 clip in `ext`'s container and a copy with 16 KiB of
/// pseudo-random bytes from its middle on; returns the damaged one.
fn damaged(dir: &Path, ext: &str) -> std::path::PathBuf {
    let clean = dir.join(format!("clean.{ext}"));
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=25:duration=8",
        "-c:v",
        "libx264",
        "-g",
        "25",
        "-pix_fmt",
        "yuv420p",
        arg(&clean),
    ]);
    let mut bytes = std::fs::read(&clean).unwrap();
    let start = bytes.len() / 2;
    let mut state = 0x2545_f491_u32;
    for b in bytes.iter_mut().skip(start).take(16 * 1024) {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        *b = state as u8;
    }
    let bad = dir.join(format!("bad.{ext}"));
    std::fs::write(&bad, bytes).unwrap();
    bad
}

#[test]
fn damage_mid_file_is_an_error_record_and_analysis_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    for ext in ["ts", "mp4"] {
        let bad = damaged(dir.path(), ext);
        let r = run(&["analyze", arg(&bad), "--backend", "cpu", "--source", "cam"]).success();
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
        let records = r.records();
        let errors: Vec<_> = records.iter().filter(|r| r["kind"] == "error").collect();
        assert!(!errors.is_empty(), "{ext}: no error record");
        let frames = frame_records(&records);
        assert!(
            frames.len() as u64 > FRAMES / 2,
            "{ext}: {} frames",
            frames.len()
        );
        assert!((frames.len() as u64) < FRAMES, "{ext}: no frame was lost?");
        // The damage itself is named (a gap or a discontinuity); GStreamer
        // may add warnings of its own, which are error records too.
        assert!(
            errors.iter().any(|e| {
                let m = e["message"].as_str().unwrap_or("");
                m.contains("missing") || m.contains("discontinuity")
            }),
            "{ext}: no record names the lost frames: {errors:?}"
        );
        for e in &errors {
            assert_eq!(e["source"], "cam");
            assert!(!e["message"].as_str().unwrap().is_empty(), "{e}");
            // The record names the next decodable frame, which was analysed,
            // with its pts, and frames after it were analysed too.
            let at = e["frame"].as_u64().unwrap();
            let next = frames
                .iter()
                .find(|f| f["frame"] == at)
                .unwrap_or_else(|| panic!("{ext}: frame {at} of {e} was not analysed"));
            assert_eq!(next["pts"], e["pts"], "{e}");
            assert!(
                frames
                    .iter()
                    .filter(|f| f["frame"].as_u64() > Some(at))
                    .count()
                    > 10
            );
            // The error record comes before that frame's record.
            let pos = |v: &serde_json::Value| records.iter().position(|r| r == v).unwrap();
            assert!(pos(e) < pos(next), "{e}");
        }
    }
}
