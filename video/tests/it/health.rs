//! Camera health events through the library: clips made here with ffmpeg's
//! test sources (a card over a live pattern, a frozen stretch, a blurred
//! stretch, a jump to another part of a wide scene), each period held to
//! the frames the clip was made with, on the CPU and on the GPU backend
//! (lavapipe here) with identical records; and no health event at all on
//! moving scenes that are healthy.
//!
//! The clips are 320x240 at 10 fps, so a frame interval is 0.1 s; ffmpeg's
//! `enable='between(t,a,b)'` covers frames `10a` to `10b`.

use osprey_kernels::{BackendChoice, KernelSet};
use osprey_video::VideoError;
use osprey_video::analysis::record::{EventType, Record};
use osprey_video::analysis::{Analysis, AnalysisOptions, HealthOptions};

use crate::common::{TestResult, ffmpeg, s};

/// One health event: its type, frame, duration and whether the stream's
/// end closed it.
type Health = (EventType, u64, Option<f64>, bool);

/// Makes `name` in `dir` from the lavfi `source` and the filter chain `vf`,
/// 10 fps H.264.
fn make(dir: &std::path::Path, name: &str, source: &str, vf: &str) -> TestResult<String> {
    let path = dir.join(name);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        source,
        "-vf",
        vf,
        "-r",
        "10",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "18",
        "-g",
        "20",
        "-pix_fmt",
        "yuv420p",
        path.to_str().ok_or("utf-8 path")?,
    ])?;
    Ok(s(&path).to_owned())
}

/// ffmpeg's freezedetect on `input` with `d` = `min` seconds: the
/// `freeze_start` and `freeze_end` times it logs, in order.
fn freezedetect(input: &str, min: f64) -> TestResult<Vec<f64>> {
    let out = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-i", input, "-vf"])
        .arg(format!("freezedetect=d={min}"))
        .args(["-f", "null", "-"])
        .output()?;
    if !out.status.success() {
        return Err(format!("freezedetect: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|l| {
            let (_, rest) = l.split_once("lavfi.freezedetect.freeze_")?;
            let (what, value) = rest.split_once(": ")?;
            (what == "start" || what == "end").then(|| value.trim().parse::<f64>())
        })
        .map(|v| v.map_err(Into::into))
        .collect()
}

/// Runs `kernels` with `health` on `backend` over `input`: every record's
/// line and the health events.
fn analyse(
    input: &str,
    kernels: &str,
    health: HealthOptions,
    backend: BackendChoice,
) -> Result<(Vec<String>, Vec<Health>), Box<dyn std::error::Error>> {
    let mut options = AnalysisOptions::default();
    options.backend.kernels = KernelSet::parse(kernels)?;
    options.health = health;
    let backend = osprey_kernels::Device::open(backend)?.frame_backend(options.backend.clone())?;
    let (mut lines, mut events) = (Vec::new(), Vec::new());
    let totals = Analysis::open(input, "cam", options)?
        .start(backend)
        .run(&mut |record| {
            lines.push(
                serde_json::to_string(record).map_err(|e| VideoError::Internal(e.to_string()))?,
            );
            if let Record::Event(e) = record
                && e.event.name().starts_with("camera_")
            {
                events.push((e.event, e.frame, e.duration, e.eos));
            }
            Ok::<(), VideoError>(())
        })?;
    // The summary counts what was written.
    let counted: u64 = EventType::ALL
        .iter()
        .filter(|k| k.name().starts_with("camera_"))
        .map(|&k| totals.events.get(k))
        .sum();
    assert_eq!(counted, events.len() as u64);
    Ok((lines, events))
}

/// [`analyse`] on the CPU and on the GPU: the records must be identical;
/// the health events.
fn both(input: &str, kernels: &str, health: HealthOptions) -> TestResult<Vec<Health>> {
    let (cpu, events) = analyse(input, kernels, health, BackendChoice::Cpu)?;
    let (gpu, _) = analyse(input, kernels, health, BackendChoice::Gpu)?;
    assert_eq!(cpu.len(), gpu.len());
    for (c, g) in cpu.iter().zip(&gpu) {
        assert_eq!(c, g, "CPU and GPU records differ");
    }
    Ok(events)
}

/// Health on, every minimum duration `min` seconds.
fn health(min: f64) -> HealthOptions {
    HealthOptions {
        enabled: true,
        blocked_min_duration: min,
        moved_min_duration: min,
        blurred_min_duration: min,
        frozen_min_duration: min,
        ..HealthOptions::default()
    }
}

/// A start at `start` and its end at `end`, `end - start` frames long.
fn pair(kinds: [EventType; 2], start: u64, end: u64) -> [Health; 2] {
    let duration = (end - start) as f64 / 10.0;
    [
        (kinds[0], start, None, false),
        (kinds[1], end, Some(duration), false),
    ]
}

/// Durations to the millisecond (pts carry float rounding).
fn rounded(events: Vec<Health>) -> Vec<Health> {
    events
        .into_iter()
        .map(|(k, f, d, eos)| (k, f, d.map(|d| (d * 1000.0).round() / 1000.0), eos))
        .collect()
}

const BLOCKED: [EventType; 2] = [EventType::CameraBlockedStart, EventType::CameraBlockedEnd];
const FROZEN: [EventType; 2] = [EventType::CameraFrozenStart, EventType::CameraFrozenEnd];
const BLURRED: [EventType; 2] = [EventType::CameraBlurredStart, EventType::CameraBlurredEnd];
const MOVED: [EventType; 2] = [EventType::CameraMovedStart, EventType::CameraMovedEnd];

#[test]
fn a_black_card_and_a_grey_card_block_the_camera() -> TestResult {
    let dir = tempfile::tempdir()?;
    // Frames 20..=49 under a black card, 70..=99 under a grey one, over the
    // moving pattern; the last card stays to the end (frames 110..=119).
    let clip = make(
        dir.path(),
        "cards.mp4",
        "testsrc2=size=320x240:rate=10:duration=12",
        "drawbox=c=black:t=fill:enable='between(t,2,4.95)',\
         drawbox=c=gray:t=fill:enable='between(t,7,9.95)',\
         drawbox=c=white:t=fill:enable='gte(t,11)'",
    )?;
    let mut want: Vec<Health> = pair(BLOCKED, 20, 50).into();
    want.extend(pair(BLOCKED, 70, 100));
    // The last is open at the end: closed at the last frame, 0.9 s after
    // its start (as long as the minimum, so it counts).
    let end = health(0.9);
    // The freeze kernel runs too: the cards repeat themselves, but a blocked
    // picture is not frozen.
    let events = rounded(both(&clip, "black,freeze", end)?);
    let mut with_eos = want;
    with_eos.extend([
        (EventType::CameraBlockedStart, 110, None, false),
        (EventType::CameraBlockedEnd, 119, Some(0.9), true),
    ]);
    assert_eq!(events, with_eos);
    // stats alone sees the flat histograms (the black card too).
    let events = rounded(both(&clip, "stats", end)?);
    assert_eq!(events, with_eos);
    // The records, as `osprey analyze` writes them: the start names the
    // card's first frame and follows the frame that confirmed it (0.9 s
    // in); the end follows blackdetect's own (its minimum is 2 s).
    let (lines, _) = analyse(&clip, "black", end, BackendChoice::Cpu)?;
    let at = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .ok_or(format!("no {needle}"))
    };
    let start = at("camera_blocked_start")?;
    assert!(lines[start - 1].starts_with("{\"kind\":\"frame\",\"source\":\"cam\",\"frame\":29,"));
    assert_eq!(
        lines[start],
        r#"{"kind":"event","source":"cam","type":"camera_blocked_start","frame":20,"pts":2.0}"#
    );
    let stop = at("camera_blocked_end")?;
    assert_eq!(
        lines[stop - 1..=stop],
        [
            r#"{"kind":"event","source":"cam","type":"black_end","frame":50,"pts":5.0,"duration":3.0}"#,
            r#"{"kind":"event","source":"cam","type":"camera_blocked_end","frame":50,"pts":5.0,"duration":3.0}"#
        ]
    );
    // A minimum longer than the cards: nothing.
    assert_eq!(both(&clip, "black,stats", health(3.5))?, vec![]);
    Ok(())
}

#[test]
fn a_frozen_picture_while_frames_arrive() -> TestResult {
    let dir = tempfile::tempdir()?;
    // One picture held for about 4 s, then the pattern goes on.
    let clip = make(
        dir.path(),
        "frozen.mp4",
        "testsrc2=size=320x240:rate=10:duration=8",
        "loop=loop=40:size=1:start=30,setpts=N/10/TB",
    )?;
    let events = rounded(both(&clip, "freeze,black", health(2.0))?);
    // Starts at the last frame that changed, ends at the first that
    // differs, where ffmpeg's freezedetect puts them on the same clip (the
    // loop holds the picture of frame 29 through frame 69).
    let [start, end] = freezedetect(&clip, 2.0)?[..] else {
        return Err("freezedetect found no single freeze".into());
    };
    let frame = |t: f64| (t * 10.0).round() as u64;
    let (start, end) = (frame(start), frame(end));
    assert!(
        (29..=30).contains(&start) && end == start + 41,
        "{start} {end}"
    );
    assert_eq!(events, pair(FROZEN, start, end).to_vec());
    assert_eq!(both(&clip, "freeze", health(4.5))?, vec![]);
    Ok(())
}

#[test]
fn a_blurred_stretch_above_the_baseline() -> TestResult {
    let dir = tempfile::tempdir()?;
    // Sharp for 5 s (the baseline), blurred for frames 50..=99, sharp again.
    let clip = make(
        dir.path(),
        "blurred.mp4",
        "testsrc2=size=320x240:rate=10:duration=13",
        "gblur=sigma=4:enable='between(t,5,9.95)'",
    )?;
    let events = rounded(both(&clip, "blur", health(2.0))?);
    assert_eq!(events, pair(BLURRED, 50, 100).to_vec());
    // A margin larger than this blur: nothing.
    let mut wide = health(2.0);
    wide.blur_margin = 50.0;
    assert_eq!(both(&clip, "blur", wide)?, vec![]);
    Ok(())
}

#[test]
fn a_view_that_stays_changed_is_a_move() -> TestResult {
    let dir = tempfile::tempdir()?;
    // A wide scene (the ball pattern beside colour bars with sensor
    // noise), seen through a 320x240 window: at 3 s the window jumps to the
    // bars for 1 s and comes back (not a move); at 7 s it jumps there
    // again and stays (frame 70).
    let clip = make(
        dir.path(),
        "moved.mp4",
        "testsrc2=size=320x240:rate=10:duration=13[a];\
         smptehdbars=size=320x240:rate=10:duration=13,noise=alls=12:allf=t[b];\
         [a][b]hstack[out0]",
        "crop=w=320:h=240:x='if(between(t,3,3.95)+gte(t,7),320,0)':y=0",
    )?;
    // Known 3 s after the jump (frame 100), when the new view becomes the
    // reference: start at the jump, end at the recalibration.
    let want = pair(MOVED, 70, 100).to_vec();
    assert_eq!(rounded(both(&clip, "scene,motion", health(3.0))?), want);
    // Without motion the luma histogram is the picture.
    assert_eq!(rounded(both(&clip, "scene,stats", health(3.0))?), want);
    // scene alone has no picture to compare: nothing.
    assert_eq!(both(&clip, "scene", health(3.0))?, vec![]);
    // motion alone: the jumps are motion over the lightning threshold.
    assert_eq!(rounded(both(&clip, "motion", health(3.0))?), want);
    Ok(())
}

#[test]
fn a_pan_that_stays_is_a_move() -> TestResult {
    let dir = tempfile::tempdir()?;
    // The window pans across the wide scene from 3 s to 4 s (frames 30 to
    // 40) and stays on the bars.
    let clip = make(
        dir.path(),
        "pan.mp4",
        "testsrc2=size=320x240:rate=10:duration=10[a];\
         smptehdbars=size=320x240:rate=10:duration=10,noise=alls=12:allf=t[b];\
         [a][b]hstack[out0]",
        "crop=w=320:h=240:x='320*clip(t-3,0,1)':y=0",
    )?;
    // The move starts within the pan, at the first frame whose motion is
    // over the lightning threshold while the picture is far from the
    // reference (frame 31 here), and ends 3 s later.
    let events = rounded(both(&clip, "scene,motion", health(3.0))?);
    let [(EventType::CameraMovedStart, start, None, false), end] = events[..] else {
        return Err(format!("not one move: {events:?}").into());
    };
    assert!((30..=40).contains(&start), "{events:?}");
    assert_eq!(
        end,
        (EventType::CameraMovedEnd, start + 30, Some(3.0), false)
    );
    Ok(())
}

#[test]
fn healthy_moving_scenes_raise_nothing() -> TestResult {
    let dir = tempfile::tempdir()?;
    // The ball pattern, and a camera-like scene: a still background with
    // sensor noise and a dark figure walking across it.
    let pattern = make(
        dir.path(),
        "pattern.mp4",
        "testsrc2=size=320x240:rate=10:duration=10",
        "null",
    )?;
    let street = make(
        dir.path(),
        "street.mp4",
        "smptehdbars=size=320x240:rate=10:duration=10",
        "noise=alls=12:allf=t,\
         drawbox=x='mod(t*40,320)':y=80:w=40:h=110:c=0x202020:t=fill",
    )?;
    for clip in [&pattern, &street] {
        let events = both(clip, "stats,scene,motion,black,freeze,blur", health(0.5))?;
        assert_eq!(events, vec![], "{clip}");
    }
    Ok(())
}

#[test]
fn passing_close_and_switching_the_lights_on_are_not_moves() -> TestResult {
    let dir = tempfile::tempdir()?;
    // The street scene; someone passes right in front of the lens (a dark
    // shape over most of the picture for 0.6 s from 3 s), then at 6 s the
    // lights go up and stay up. Each is a scene cut (30 and 36, 60).
    let clip = make(
        dir.path(),
        "lights.mp4",
        "smptehdbars=size=320x240:rate=10:duration=10",
        "noise=alls=12:allf=t,\
         drawbox=x=20:y=0:w=280:h=240:c=0x302820:t=fill:enable='between(t,3,3.55)',\
         eq=brightness=0.2:enable='gte(t,6)'",
    )?;
    let kernels = "stats,scene,motion,black,freeze,blur";
    let (lines, _) = analyse(&clip, kernels, health(1.0), BackendChoice::Cpu)?;
    let cuts: Vec<_> = lines
        .iter()
        .filter(|l| l.contains("\"type\":\"scene_cut\""))
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()?["frame"].as_u64())
        .collect();
    assert_eq!(cuts, [30, 36, 60]);
    // The passer-by comes back to the old view; the lights leave the
    // picture's structure (motion's grid, less its mean) as it was.
    assert_eq!(both(&clip, kernels, health(1.0))?, vec![]);
    // The luma histogram moves with the lights: without motion the step
    // counts as a move, as HealthOptions::moved_difference warns.
    assert_eq!(
        rounded(both(&clip, "scene,stats", health(1.0))?),
        pair(MOVED, 60, 70).to_vec()
    );
    Ok(())
}
