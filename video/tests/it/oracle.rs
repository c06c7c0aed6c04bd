//! osprey's decode held to ffmpeg's on the same files: pixels byte for byte,
//! row by row through each plane's stride, and timestamps against ffprobe.

use std::path::Path;

use osprey_kernels::frame::chroma_size;
use osprey_kernels::{FrameView, PixelFormat};
use osprey_video::ClipSpec;

use crate::common::{TestResult, clip, decode_all, ffmpeg, ffmpeg_raw, ffprobe_pts, s};

/// Decodes `path` and compares every plane of every frame with ffmpeg's
/// packed yuv420p decode. Returns the strides seen (Y, U, V) of frame 0.
fn assert_same_pixels_as_ffmpeg(
    path: &Path,
    width: u32,
    height: u32,
    frames: usize,
) -> TestResult<[usize; 3]> {
    let reference = ffmpeg_raw(path, "yuv420p")?;
    let (w, h) = (width as usize, height as usize);
    let (cw, ch) = chroma_size(width, height);
    let (cw, ch) = (cw as usize, ch as usize);
    let frame_bytes = w * h + 2 * cw * ch;
    assert_eq!(
        reference.len(),
        frame_bytes * frames,
        "ffmpeg decoded a different frame count"
    );
    let mut strides = None;
    let decoded = decode_all(s(path), 4, |view: &FrameView<'_>, meta| {
        assert_eq!(
            (view.width(), view.height(), view.format()),
            (width, height, PixelFormat::I420)
        );
        let i = usize::try_from(meta.index)?;
        let frame = reference
            .get(i * frame_bytes..(i + 1) * frame_bytes)
            .ok_or("more frames than ffmpeg")?;
        let (y, uv) = frame.split_at(w * h);
        let (u, v) = uv.split_at(cw * ch);
        for (p, plane, row_bytes, rows) in [(0, y, w, h), (1, u, cw, ch), (2, v, cw, ch)] {
            for row in 0..rows {
                let ours = view.plane(p).row(row, row_bytes);
                let theirs = &plane[row * row_bytes..(row + 1) * row_bytes];
                if ours != theirs {
                    return Err(format!("frame {i} plane {p} row {row} differs from ffmpeg").into());
                }
            }
        }
        strides.get_or_insert([
            view.plane(0).stride,
            view.plane(1).stride,
            view.plane(2).stride,
        ]);
        Ok(())
    })?;
    assert_eq!(decoded.metas.len(), frames);
    strides.ok_or_else(|| "no frames".into())
}

#[test]
fn odd_size_ffv1_matches_ffmpeg_byte_for_byte() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("odd.mkv");
    // testsrc (not testsrc2, which rounds to even sizes) keeps 99x61.
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=99x61:rate=10",
        "-frames:v",
        "12",
        "-pix_fmt",
        "yuv420p",
        "-c:v",
        "ffv1",
        s(&path),
    ])?;
    let strides = assert_same_pixels_as_ffmpeg(&path, 99, 61, 12)?;
    // The test only means something when rows are padded.
    assert!(strides[0] > 99 && strides[1] > 50, "strides {strides:?}");
    Ok(())
}

#[test]
fn odd_size_y4m_matches_ffmpeg_byte_for_byte() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("odd.y4m");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=99x61:rate=10",
        "-frames:v",
        "7",
        "-pix_fmt",
        "yuv420p",
        s(&path),
    ])?;
    let strides = assert_same_pixels_as_ffmpeg(&path, 99, 61, 7)?;
    assert!(strides[0] > 99 && strides[1] > 50, "strides {strides:?}");
    Ok(())
}

#[test]
fn h264_clip_of_width_100_matches_ffmpeg_byte_for_byte() -> TestResult {
    // H.264 decoding is bit-exact, so GStreamer's decoder must agree with
    // ffmpeg's on every sample of the generated clip.
    let dir = tempfile::tempdir()?;
    let spec = ClipSpec {
        width: 100,
        height: 58,
        fps: 10,
        frames: 15,
        cut_every: 4,
    };
    let path = clip(dir.path(), "w100.mp4", &spec)?;
    let strides = assert_same_pixels_as_ffmpeg(&path, 100, 58, 15)?;
    assert!(strides[0] >= 100 && strides[1] >= 50, "strides {strides:?}");
    Ok(())
}

#[test]
fn pts_match_ffprobe_with_b_frames_and_audio() -> TestResult {
    let dir = tempfile::tempdir()?;
    // MP4: libx264's B-frame delay is undone by an edit list, which qtdemux
    // expresses as a segment start: stream time, as ffprobe, starts at 0.
    // MKV (video only): timestamps are the container's own.
    for (name, audio) in [("bframes.mp4", true), ("bframes.mkv", false)] {
        let path = dir.path().join(name);
        let mut args = vec!["-f", "lavfi", "-i", "testsrc2=size=128x72:rate=25"];
        if audio {
            args.extend([
                "-f",
                "lavfi",
                "-i",
                "sine=frequency=300",
                "-c:a",
                "aac",
                "-shortest",
            ]);
        }
        args.extend([
            "-frames:v",
            "40",
            "-c:v",
            "libx264",
            "-bf",
            "3",
            "-pix_fmt",
            "yuv420p",
            s(&path),
        ]);
        ffmpeg(&args)?;
        let expected = ffprobe_pts(&path)?;
        assert_eq!(expected.len(), 40, "{name}");
        let decoded = decode_all(s(&path), 8, |_, _| Ok(()))?;
        let ours: Vec<f64> = decoded
            .metas
            .iter()
            .map(|m| m.pts.unwrap_or(f64::NAN))
            .collect();
        assert_eq!(ours.len(), expected.len(), "{name}");
        for (i, (a, b)) in ours.iter().zip(&expected).enumerate() {
            // ffprobe prints 6 decimals.
            assert!(
                (a - b).abs() < 1e-5,
                "{name} frame {i}: ours {a}, ffprobe {b}"
            );
        }
    }
    Ok(())
}
