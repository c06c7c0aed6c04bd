//! An analysis driven through library calls alone: a generated clip in,
//! records out, held to figures computed here from the decoder's own frames
//! and to the cuts the clip was made with.

use osprey_kernels::{BackendChoice, KernelSet};
use osprey_video::ClipSpec;
use osprey_video::VideoError;
use osprey_video::analysis::record::{EventType, Record};
use osprey_video::analysis::{Analysis, AnalysisOptions};

use crate::common::{TestResult, clip, decode_all, s};

/// 64x48 at 10 fps, 20 frames, a hard cut every 5 frames.
const SPEC: ClipSpec = ClipSpec {
    width: 64,
    height: 48,
    fps: 10,
    frames: 20,
    cut_every: 5,
};

/// One frame record's figures, owned.
#[derive(Debug, PartialEq)]
struct FrameFigures {
    frame: u64,
    pts: Option<f64>,
    size: (u32, u32),
    y_min: u8,
    y_avg: f64,
    y_max: u8,
}

/// What [`analyse`] kept.
#[derive(Debug, Default)]
struct Analysed {
    /// Each frame record's figures.
    frames: Vec<FrameFigures>,
    /// Each event's type and frame.
    events: Vec<(EventType, u64)>,
    /// Each record's JSON line.
    lines: Vec<String>,
    /// The scene cuts the totals counted.
    cuts: u64,
}

/// Runs the options' kernels on the CPU over `input`.
fn analyse(input: &str, options: AnalysisOptions) -> Result<Analysed, VideoError> {
    let backend = osprey_kernels::Device::open(BackendChoice::Cpu)
        .and_then(|d| d.frame_backend(options.backend.clone()))
        .map_err(|e| VideoError::Internal(e.to_string()))?;
    let analysis = Analysis::open(input, "cam", options)?.start(backend);
    let (mut frames, mut events, mut lines) = (Vec::new(), Vec::new(), Vec::new());
    let totals = analysis.run(&mut |record| {
        lines.push(serde_json::to_string(record).map_err(|e| VideoError::Internal(e.to_string()))?);
        match record {
            Record::Frame(f) => {
                let stats = f
                    .stats
                    .as_ref()
                    .ok_or(VideoError::Internal("no stats".into()))?;
                frames.push(FrameFigures {
                    frame: f.frame,
                    pts: f.pts,
                    size: (f.width, f.height),
                    y_min: stats.y_min,
                    y_avg: stats.y_avg,
                    y_max: stats.y_max,
                });
            }
            Record::Event(e) => events.push((e.event, e.frame)),
            Record::Error(e) => return Err(VideoError::Internal(e.message.to_owned())),
            Record::Status(s) => {
                return Err(VideoError::Internal(format!(
                    "a file had status {:?}",
                    s.status
                )));
            }
        }
        Ok(())
    })?;
    assert_eq!(totals.frames, frames.len() as u64);
    Ok(Analysed {
        frames,
        events,
        lines,
        cuts: totals.events.get(EventType::SceneCut),
    })
}

#[test]
fn a_generated_clip_becomes_records() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = clip(dir.path(), "cuts.mp4", &SPEC)?;
    let mut options = AnalysisOptions::default();
    options.backend.kernels = KernelSet::parse("stats,scene")?;
    options.chunk_frames = 3;
    let Analysed {
        frames,
        events,
        lines,
        cuts,
    } = analyse(s(&path), options)?;

    // The luma figures, computed here from the same decoder's frames.
    let mut want = Vec::new();
    decode_all(s(&path), 8, |view, meta| {
        let (w, h) = (view.width() as usize, view.height() as usize);
        let luma: Vec<u8> = (0..h)
            .flat_map(|y| view.plane(0).row(y, w).to_vec())
            .collect();
        let sum: u64 = luma.iter().map(|&p| u64::from(p)).sum();
        want.push(FrameFigures {
            frame: meta.index,
            pts: meta.pts,
            size: (view.width(), view.height()),
            y_min: luma.iter().copied().min().unwrap_or(0),
            y_avg: sum as f64 / (w * h) as f64,
            y_max: luma.iter().copied().max().unwrap_or(0),
        });
        Ok(())
    })?;
    assert_eq!(frames.len(), 20);
    assert_eq!(frames, want);
    assert_eq!(frames[7].pts, Some(0.7));
    assert_eq!(frames[19].size, (64, 48));

    // scdet sees the cuts exactly where the clip has them.
    assert_eq!(
        events,
        [
            (EventType::SceneCut, 5),
            (EventType::SceneCut, 10),
            (EventType::SceneCut, 15)
        ]
    );
    assert_eq!(cuts, 3);
    // A frame line, then its cut, as `osprey analyze` writes them.
    let cut = lines
        .iter()
        .position(|l| l.contains("\"type\":\"scene_cut\""))
        .ok_or("no cut line")?;
    assert!(
        lines[cut - 1].starts_with(
            "{\"kind\":\"frame\",\"source\":\"cam\",\"frame\":5,\"pts\":0.5,\"width\":64,\"height\":48,\"stats\":{\"y_min\":"
        ),
        "{}",
        lines[cut - 1]
    );
    assert!(
        lines[cut].starts_with(
            "{\"kind\":\"event\",\"source\":\"cam\",\"type\":\"scene_cut\",\"frame\":5,\"pts\":0.5,\"score\":"
        ),
        "{}",
        lines[cut]
    );
    Ok(())
}

#[test]
fn a_zone_outside_the_frame_is_refused_on_open() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = clip(dir.path(), "small.mp4", &SPEC)?;
    let mut options = AnalysisOptions::default();
    options.motion.zones = vec![osprey_kernels::metrics::zones::Zone::parse(
        "far:100,0,200,0,200,40",
    )?];
    let err = Analysis::open(s(&path), "cam", options)
        .err()
        .ok_or("opened")?;
    assert!(
        matches!(&err, VideoError::ZoneOutsideFrame { zone, width: 64, height: 48 } if zone == "far"),
        "{err}"
    );
    Ok(())
}

#[test]
fn a_detect_size_is_the_analysed_size_and_the_zones_frame() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = clip(dir.path(), "detect.mp4", &SPEC)?;
    let mut options = AnalysisOptions::default();
    options.backend.kernels = KernelSet::parse("stats,scene")?;
    options.backend.detect_size = Some((32, 24));
    options.chunk_frames = 3;
    let Analysed { frames, events, .. } = analyse(s(&path), options.clone())?;

    // The luma figures of the decoder's frames, area-downscaled here by the
    // CPU twin: what the frame records must report, at the detect size.
    let mut want = Vec::new();
    let mut small = osprey_kernels::OwnedFrame::zeroed(osprey_kernels::PixelFormat::I420, 1, 1, 0);
    decode_all(s(&path), 8, |view, meta| {
        osprey_kernels::cpu::downscale::downscale(view, 32, 24, &mut small)?;
        let luma = &small.planes[0];
        let sum: u64 = luma.iter().map(|&p| u64::from(p)).sum();
        want.push(FrameFigures {
            frame: meta.index,
            pts: meta.pts,
            size: (32, 24),
            y_min: luma.iter().copied().min().unwrap_or(0),
            y_avg: sum as f64 / luma.len() as f64,
            y_max: luma.iter().copied().max().unwrap_or(0),
        });
        Ok(())
    })?;
    assert_eq!(frames.len(), 20);
    assert_eq!(frames, want);
    assert_eq!(
        events.iter().map(|e| e.1).collect::<Vec<_>>(),
        [5, 10, 15],
        "{events:?}"
    );

    // Zones are in detect-size pixels: one inside the 64x48 frame but
    // outside 32x24 is refused, naming the detect size.
    let zone = osprey_kernels::metrics::zones::Zone::parse("right:40,0,60,0,60,20")?;
    options.motion.zones = vec![zone];
    let err = Analysis::open(s(&path), "cam", options.clone())
        .err()
        .ok_or("opened")?;
    assert!(
        matches!(&err, VideoError::ZoneOutsideFrame { zone, width: 32, height: 24 } if zone == "right"),
        "{err}"
    );
    options.backend.detect_size = None;
    assert!(Analysis::open(s(&path), "cam", options.clone()).is_ok());

    // A detect size larger than the frame is refused on open.
    options.motion.zones.clear();
    options.backend.detect_size = Some((66, 48));
    let err = Analysis::open(s(&path), "cam", options)
        .err()
        .ok_or("opened")?;
    assert_eq!(
        err.to_string(),
        "invalid configuration: detect size 66x48 is larger than the 64x48 frame"
    );
    Ok(())
}

#[test]
fn analyses_run_side_by_side_on_their_own_threads() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = clip(dir.path(), "shared.mp4", &SPEC)?;
    let mut options = AnalysisOptions::default();
    options.backend.kernels = KernelSet::parse("stats,scene")?;
    // Two cameras, as a server runs them: each analysis owns its decoder
    // thread and backend, and neither disturbs the other.
    let cameras: Vec<_> = (0..2)
        .map(|_| {
            let (input, options) = (s(&path).to_owned(), options.clone());
            std::thread::spawn(move || analyse(&input, options).map(|a| a.lines))
        })
        .collect();
    let mut outputs = Vec::new();
    for camera in cameras {
        outputs.push(camera.join().map_err(|_| "an analysis panicked")??);
    }
    assert_eq!(outputs[0].len(), 23);
    assert_eq!(outputs[0], outputs[1]);
    Ok(())
}
