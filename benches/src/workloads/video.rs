//! Video streams: recording a clip into a video stream of the store, and
//! reading clips and images back, through the `osprey` binary.
//!
//! - `record/file`: `osprey video put` of an H.264 clip (kept as it came,
//!   never decoded) into a fresh video stream, as fast as it goes.
//! - `clip/all`: `osprey video clip` of the whole recording into an MP4
//!   file, against ffmpeg cutting the same span from the source file
//!   (`-c copy`).
//! - `images/1s`: `osprey video images` of one JPEG a second, against
//!   ffmpeg writing one JPEG a second of the source file (`-vf fps=1`).
//!
//! The live recording cost of an RTSP camera is `benches/record.sh`, kept.

use std::path::Path;
use std::process::Command;

use crate::Ctx;
use crate::args::{Peer, Workload};
use crate::error::{BenchError, Result};
use crate::inputs::{self, Clip, FPS};
use crate::runner::{Case, Contender, child, setup};
use crate::workloads::measure;

/// The recording's start: 2025-12-01T17:00:00Z, in Unix seconds.
const START: u64 = 1_764_608_400;

/// Runs the video workload.
///
/// # Errors
/// An osprey or ffmpeg run that fails.
pub fn run(ctx: &mut Ctx<'_>) -> Result<()> {
    let w = Workload::Video;
    let Some(osprey) = ctx.osprey(w, "the video workload") else {
        return Ok(());
    };
    let ffmpeg = ctx.peer(w, Peer::Ffmpeg);
    let clip = if ctx.options.quick {
        inputs::pattern_clip(&osprey, &ctx.inputs, 160, 96, 50)?
    } else {
        inputs::pattern_clip(&osprey, &ctx.inputs, 1920, 1080, 250)?
    };
    let data = ctx.scratch.join("video-data");
    let log = ctx.scratch.join("video.log");
    let seconds = u64::from(clip.frames.div_ceil(FPS));
    let (start, end) = (START.to_string(), (START + seconds + 1).to_string());

    let case = Case {
        workload: w.name(),
        name: format!("record/{}", clip.name),
        input: clip.describe.clone(),
        unit: "frames",
        items: u64::from(clip.frames),
    };
    let mut record = [Contender::new("osprey", || {
        let _ = std::fs::remove_dir_all(&data);
        child(&mut put(&osprey, &clip, &data), None, &log)
    })];
    measure(
        &mut ctx.results,
        ctx.options,
        ctx.progress,
        &case,
        &mut record,
    )?;
    // The stream the clips and images read, recorded once more, untimed
    // (the runs above each started afresh).
    let _ = std::fs::remove_dir_all(&data);
    setup(&mut put(&osprey, &clip, &data), &log)?;

    let case = Case {
        name: format!("clip/{}", clip.name),
        input: format!("the whole recording of the {}", clip.describe),
        ..case
    };
    let mp4 = ctx.scratch.join("clip.mp4");
    let copy = ctx.scratch.join("ffmpeg-clip.mp4");
    let mut contenders = vec![Contender::new("osprey", || {
        child(
            Command::new(&osprey)
                .args([
                    "-q", "video", "clip", "v", "--start", &start, "--end", &end, "--output",
                ])
                .arg(&mp4)
                .arg("--data-dir")
                .arg(&data),
            None,
            &log,
        )
    })];
    if ffmpeg {
        contenders.push(Contender::new("ffmpeg", || {
            child(
                Command::new("ffmpeg")
                    .args(["-v", "error", "-nostdin", "-y", "-i"])
                    .arg(&clip.path)
                    .args(["-t", &seconds.to_string(), "-c", "copy"])
                    .arg(&copy),
                None,
                &log,
            )
        }));
    }
    measure(
        &mut ctx.results,
        ctx.options,
        ctx.progress,
        &case,
        &mut contenders,
    )?;

    let case = Case {
        name: format!("images/1s/{}", clip.name),
        input: format!("one JPEG a second of the {}", clip.describe),
        unit: "images",
        items: seconds,
        ..case
    };
    let ours = ctx.scratch.join("images");
    let theirs = ctx.scratch.join("ffmpeg-images");
    let mut contenders = vec![Contender::new("osprey", || {
        fresh(&ours)?;
        let s = child(
            Command::new(&osprey)
                .args([
                    "-q", "video", "images", "v", "--start", &start, "--end", &end, "--every",
                    "1s", "--output",
                ])
                .arg(&ours)
                .arg("--data-dir")
                .arg(&data),
            None,
            &log,
        )?;
        expect_files(&ours)?;
        Ok(s)
    })];
    if ffmpeg {
        contenders.push(Contender::new("ffmpeg", || {
            fresh(&theirs)?;
            let s = child(
                Command::new("ffmpeg")
                    .args(["-v", "error", "-nostdin", "-y", "-i"])
                    .arg(&clip.path)
                    .args(["-vf", "fps=1"])
                    .arg(theirs.join("%04d.jpg")),
                None,
                &log,
            )?;
            expect_files(&theirs)?;
            Ok(s)
        }));
    }
    measure(
        &mut ctx.results,
        ctx.options,
        ctx.progress,
        &case,
        &mut contenders,
    )?;
    Ok(())
}

/// `osprey video put v CLIP` into `data`.
fn put(osprey: &Path, clip: &Clip, data: &Path) -> Command {
    let mut cmd = Command::new(osprey);
    cmd.args(["-q", "video", "put", "v"])
        .arg(&clip.path)
        .args(["--start-time", &START.to_string(), "--data-dir"])
        .arg(data);
    cmd
}

fn fresh(dir: &Path) -> Result<()> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).map_err(|e| BenchError::io("create", dir, e))
}

fn expect_files(dir: &Path) -> Result<()> {
    let n = std::fs::read_dir(dir)
        .map_err(|e| BenchError::io("read", dir, e))?
        .count();
    if n == 0 {
        return Err(BenchError::Process {
            command: "images".into(),
            reason: format!("wrote nothing into {dir:?}"),
        });
    }
    Ok(())
}
