//! `generate_clip`: a valid H.264 MP4 by ffprobe's reading, with hard cuts
//! exactly where the spec puts them.

use osprey_kernels::FrameView;
use osprey_video::ClipSpec;

use crate::common::{TestResult, clip, decode_all, ffprobe_pts, s};

#[test]
fn ffprobe_reads_the_clip_as_specified() -> TestResult {
    let dir = tempfile::tempdir()?;
    let spec = ClipSpec {
        width: 64,
        height: 48,
        fps: 30,
        frames: 12,
        cut_every: 0,
    };
    let path = clip(dir.path(), "probe.mp4", &spec)?;
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0"])
        .args([
            "-show_entries",
            "stream=codec_name,width,height,pix_fmt,r_frame_rate",
        ])
        .args(["-of", "csv=p=0", s(&path)])
        .output()?;
    assert_eq!(
        String::from_utf8(out.stdout)?.trim(),
        "h264,64,48,yuv420p,30/1"
    );
    let pts = ffprobe_pts(&path)?;
    assert_eq!(pts.len(), 12);
    assert!(
        pts.iter()
            .enumerate()
            .all(|(i, p)| (p - i as f64 / 30.0).abs() < 1e-5),
        "{pts:?}"
    );
    Ok(())
}

/// Mean absolute difference of the Y planes of two frames (scdet's MAFD).
fn mafd(a: &FrameView<'_>, b: &FrameView<'_>) -> f64 {
    let (w, h) = (a.width() as usize, a.height() as usize);
    let sum: u64 = (0..h)
        .map(|y| {
            let (ra, rb) = (a.plane(0).row(y, w), b.plane(0).row(y, w));
            ra.iter()
                .zip(rb)
                .map(|(&p, &q)| u64::from(p.abs_diff(q)))
                .sum::<u64>()
        })
        .sum();
    sum as f64 / (w * h) as f64
}

#[test]
fn cuts_land_exactly_every_cut_every_frames() -> TestResult {
    let dir = tempfile::tempdir()?;
    let spec = ClipSpec {
        width: 96,
        height: 64,
        fps: 10,
        frames: 40,
        cut_every: 5,
    };
    let path = clip(dir.path(), "cuts.mp4", &spec)?;
    // Keep a packed copy of the previous frame to diff against.
    let mut previous: Option<osprey_kernels::OwnedFrame> = None;
    let mut diffs = Vec::new();
    decode_all(s(&path), 8, |view, _| {
        if let Some(prev) = &previous {
            diffs.push(mafd(&prev.view(), view));
        }
        previous = Some(osprey_kernels::OwnedFrame::from_view(view));
        Ok(())
    })?;
    assert_eq!(diffs.len(), 39);
    // diffs[i] compares frame i and i + 1: cuts sit at i + 1 = 5, 10, ...
    let (cuts, within): (Vec<_>, Vec<_>) = diffs
        .iter()
        .enumerate()
        .partition(|(i, _)| (i + 1) % 5 == 0);
    let min_cut = cuts.iter().map(|(_, d)| **d).fold(f64::INFINITY, f64::min);
    let max_within = within.iter().map(|(_, d)| **d).fold(0.0, f64::max);
    assert!(min_cut > 10.0, "weakest cut {min_cut}: {diffs:?}");
    assert!(
        min_cut > 3.0 * max_within,
        "cuts {min_cut} vs motion {max_within}: {diffs:?}"
    );
    Ok(())
}
