//! Damaged input that must not stop the decode: a stretch of garbage in the
//! middle of an MPEG-TS and an MP4 yields issues naming the first frame after
//! the damage, decoding goes on to the end, and the frames it reports lost
//! plus the frames it decoded add up to the clean file's count (ffprobe's).

use std::path::Path;

use osprey_video::{DecodeIssue, DecodeOptions, Decoder};

use crate::common::{TestResult, ffmpeg, s, within};

/// Frames of the clean clip: 8 s at 25 fps.
const FRAMES: usize = 200;

/// An H.264 clip in `ext`'s container, a keyframe a second.
fn clean(dir: &Path, ext: &str) -> TestResult<std::path::PathBuf> {
    let path = dir.join(format!("clean.{ext}"));
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
        s(&path),
    ])?;
    Ok(path)
}

/// A copy of `path` with 16 KiB of pseudo-random bytes from its middle on.
pub fn corrupt_copy(path: &Path, out: &Path) -> TestResult {
    let mut bytes = std::fs::read(path)?;
    let start = bytes.len() / 2;
    let mut state = 0x2545_f491_u32;
    for b in bytes.iter_mut().skip(start).take(16 * 1024) {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        *b = state as u8;
    }
    std::fs::write(out, bytes)?;
    Ok(())
}

/// Every frame's index and pts, and every issue, of one decode.
type Decoded = (Vec<(u64, Option<f64>)>, Vec<DecodeIssue>);

/// Decodes to the end: frame indices and pts, and every issue.
fn decode(path: &Path) -> TestResult<Decoded> {
    let input = s(path).to_owned();
    within(move || -> Result<_, String> {
        let mut decoder = Decoder::open(
            &input,
            DecodeOptions {
                chunk_frames: 8,
                ..DecodeOptions::default()
            },
        )
        .map_err(|e| e.to_string())?;
        let (mut frames, mut issues) = (Vec::new(), Vec::new());
        while let Some(chunk) = decoder.next_chunk().map_err(|e| e.to_string())? {
            frames.extend(chunk.metas().iter().map(|m| (m.index, m.pts)));
            issues.extend_from_slice(chunk.issues());
        }
        Ok((frames, issues))
    })
    .map_err(Into::into)
}

#[test]
fn clean_files_raise_no_issue() -> TestResult {
    let dir = tempfile::tempdir()?;
    for ext in ["ts", "mp4"] {
        let (frames, issues) = decode(&clean(dir.path(), ext)?)?;
        assert_eq!(frames.len(), FRAMES, "{ext}");
        assert!(issues.is_empty(), "{ext}: {issues:?}");
    }
    Ok(())
}

#[test]
fn garbage_mid_file_is_reported_and_decoding_goes_on() -> TestResult {
    let dir = tempfile::tempdir()?;
    for ext in ["ts", "mp4"] {
        let bad = dir.path().join(format!("bad.{ext}"));
        corrupt_copy(&clean(dir.path(), ext)?, &bad)?;
        let (frames, issues) = decode(&bad)?;
        assert!(!issues.is_empty(), "{ext}: the damage went unreported");
        let lost: u64 = issues.iter().filter_map(|i| i.missing_frames).sum();
        assert!(lost > 0, "{ext}: {issues:?}");
        // The frames around each issue, for a failure to show what the
        // decoder gave there.
        let around: Vec<_> = issues
            .iter()
            .filter_map(|i| i.frame)
            .map(|at| {
                let at = at as usize;
                frames[at.saturating_sub(3)..(at + 3).min(frames.len())].to_vec()
            })
            .collect();
        assert_eq!(
            frames.len() as u64 + lost,
            FRAMES as u64,
            "{ext}: decoded and lost frames should add up to the clean count: {issues:?}; \
             frames around them: {around:?}"
        );
        for issue in &issues {
            let at = issue
                .frame
                .ok_or("an issue before the end names its frame")? as usize;
            // The damage sits mid-file; frames follow it.
            assert!(at > 10 && at + 10 < frames.len(), "{ext}: {issue:?}");
            assert_eq!(issue.pts, frames[at].1, "{ext}: {issue:?}");
            let pts = issue.pts.ok_or("the frame has a pts")?;
            assert!((2.0..6.0).contains(&pts), "{ext}: {issue:?}");
            // What the decoder saw, or the demuxer's own warning (its bus
            // message, as "tsdemux0: CONTINUITY: ..."), which GStreamer
            // posts or not depending on where the garbage cuts the packets
            // it has buffered: both report the same damage.
            let demuxer = ["tsdemux", "qtdemux"]
                .iter()
                .any(|d| issue.message.starts_with(d));
            assert!(
                issue.message.contains("missing between pts")
                    || issue.message.contains("discontinuity")
                    || demuxer,
                "{issue:?}"
            );
        }
        // Indices stay dense: the frames after the damage are counted on.
        for (i, (index, _)) in frames.iter().enumerate() {
            assert_eq!(*index, i as u64, "{ext}");
        }
    }
    Ok(())
}

#[test]
fn an_mp4_cut_short_reports_its_missing_tail() -> TestResult {
    let dir = tempfile::tempdir()?;
    // Sample tables at the front (faststart), no B-frames: a cut loses the
    // tail only, and the tables still name every frame of the 8 s.
    let whole = dir.path().join("whole.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=25:duration=8",
        "-c:v",
        "libx264",
        "-g",
        "25",
        "-bf",
        "0",
        "-pix_fmt",
        "yuv420p",
        "-movflags",
        "+faststart",
        s(&whole),
    ])?;
    let (frames, issues) = decode(&whole)?;
    assert_eq!(frames.len(), FRAMES);
    assert!(issues.is_empty(), "a whole file: {issues:?}");

    let bytes = std::fs::read(&whole)?;
    let cut = dir.path().join("cut.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() * 6 / 10])?;
    let (frames, issues) = decode(&cut)?;
    assert!(
        frames.len() > FRAMES / 3 && frames.len() < FRAMES,
        "{}",
        frames.len()
    );
    assert_eq!(issues.len(), 1, "{issues:?}");
    let issue = &issues[0];
    assert_eq!(
        (issue.frame, issue.pts),
        (None, None),
        "after the last frame"
    );
    assert!(
        issue.message.starts_with("the input ends early: "),
        "{}",
        issue.message
    );
    assert_eq!(
        frames.len() as u64 + issue.missing_frames.ok_or("a count")?,
        FRAMES as u64,
        "{issue:?}"
    );
    Ok(())
}
