//! Frame analysis.
//!
//! Kernel-only (in this process, no decode): every kernel at once (`all`)
//! and each alone, on each backend, on raw I420 frames in memory: seeded
//! synthetic frames (noise, gradients and flat areas: the worst case for
//! `blur`) at 720p and 1080p, and the frames of the camera-like clip
//! decoded by ffmpeg when it is there. The GPU backend's upload, dispatch
//! and readback are timed apart. On a software adapter (lavapipe) the GPU
//! runs `all` on the first input only.
//!
//! End to end (the `osprey` binary): `osprey analyze` on H.264 clips (a
//! test pattern at 720p and 1080p, the camera-like clip at 1080p) against
//! GStreamer decode-only (`uridecodebin ! fakesink`) and ffmpeg's filters
//! that compute the same figures (`signalstats,scdet,blurdetect,blackdetect,
//! freezedetect` for `all`; ffmpeg has no motion detector, so osprey does
//! strictly more work there); then each kernel with an ffmpeg twin alone,
//! on one clip.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use osprey_kernels::cpu::CpuBackend;
use osprey_kernels::gpu::{GpuBackend, GpuContext};
use osprey_kernels::{Backend, FrameRaw, Kernel, KernelSet, OwnedFrame, PixelFormat, synth};

use crate::Ctx;
use crate::args::{BackendKind, Peer, Workload};
use crate::error::Result;
use crate::inputs::{self, Clip};
use crate::report::Stages;
use crate::runner::{Case, Contender, child, in_process};
use crate::workloads::measure;

/// Frames a backend call takes (`osprey analyze`'s default `--chunk`).
const CHUNK: usize = 8;

/// A kernel set by name.
fn sets(quick: bool) -> Vec<(&'static str, KernelSet)> {
    let mut out = vec![("all", KernelSet::ALL)];
    let alone: &[Kernel] = if quick {
        &[Kernel::Stats]
    } else {
        &Kernel::ALL
    };
    out.extend(alone.iter().map(|&k| (k.name(), KernelSet::of(&[k]))));
    out
}

/// ffmpeg's filters for a kernel set, when it has twins of them all.
fn ffmpeg_filters(set: &str) -> Option<&'static str> {
    Some(match set {
        "all" => "signalstats,scdet,blurdetect,blackdetect,freezedetect",
        "stats" => "signalstats",
        "scene" => "scdet",
        "black" => "blackdetect",
        "freeze" => "freezedetect",
        "blur" => "blurdetect",
        _ => return None,
    })
}

/// Runs the frames workload.
///
/// # Errors
/// A backend that fails, an input that cannot be made, an osprey run that fails.
pub fn run(ctx: &mut Ctx<'_>) -> Result<()> {
    let quick = ctx.options.quick;
    let w = Workload::Frames;
    let osprey = ctx.osprey(w, "end-to-end analysis (osprey analyze)");
    let ffmpeg = ctx.peer(w, Peer::Ffmpeg);
    let gstreamer = ctx.peer(w, Peer::Gstreamer);
    let gpu = ctx.gpu(w);
    let camera = if ffmpeg || ctx.peers.ffmpeg.is_some() {
        let (cw, ch, n) = if quick {
            (160, 96, 24)
        } else {
            (1920, 1080, 250)
        };
        Some(inputs::camera_clip(&ctx.inputs, cw, ch, n)?)
    } else {
        ctx.note(
            w,
            "",
            "the camera-like clip needs ffmpeg: only synthetic frames and the test pattern",
        );
        None
    };
    kernel_only(ctx, gpu.as_ref(), camera.as_ref())?;
    if let Some(osprey) = osprey {
        let mut clips = Vec::new();
        if quick {
            clips.push(inputs::pattern_clip(&osprey, &ctx.inputs, 160, 96, 24)?);
        } else {
            clips.push(inputs::pattern_clip(&osprey, &ctx.inputs, 1280, 720, 250)?);
            clips.push(inputs::pattern_clip(&osprey, &ctx.inputs, 1920, 1080, 250)?);
        }
        clips.extend(camera);
        end_to_end(ctx, &osprey, &clips, gpu.is_some(), ffmpeg, gstreamer)?;
    }
    Ok(())
}

/// The frames of each kernel-only input: synthetic at each size, and the
/// camera clip's.
fn frame_inputs(
    quick: bool,
    camera: Option<&Clip>,
) -> Result<Vec<(String, String, Vec<OwnedFrame>)>> {
    let sizes: &[(u32, u32)] = if quick {
        &[(160, 96)]
    } else {
        &[(1280, 720), (1920, 1080)]
    };
    let count = if quick { 16 } else { 48 };
    let mut out: Vec<_> = sizes
        .iter()
        .map(|&(w, h)| {
            (
                format!("{}-synthetic", inputs::size_name(w, h)),
                format!("{count} seeded synthetic {w}x{h} I420 frames in memory, a cut every 5"),
                synth::clip(7, PixelFormat::I420, w, h, count, 5),
            )
        })
        .collect();
    if let Some(clip) = camera {
        let frames = inputs::decoded_frames(clip, count as u32)?;
        out.push((
            clip.name.clone(),
            format!(
                "{} frames of the {}, decoded into memory",
                frames.len(),
                clip.describe
            ),
            frames,
        ));
    }
    Ok(out)
}

/// One pass of `backend` over `frames`, a chunk at a time, from a fresh
/// stream.
fn pass(backend: &mut dyn Backend, frames: &[OwnedFrame], out: &mut Vec<FrameRaw>) -> Result<()> {
    backend.reset();
    for chunk in frames.chunks(CHUNK) {
        let views: Vec<_> = chunk.iter().map(OwnedFrame::view).collect();
        backend.analyze(&views, out)?;
    }
    Ok(())
}

/// One timed pass of the GPU backend, its stages summed over the chunks.
fn gpu_pass(
    backend: &mut GpuBackend,
    frames: &[OwnedFrame],
    out: &mut Vec<FrameRaw>,
) -> Result<Option<Stages>> {
    backend.reset();
    let (mut up, mut disp, mut back, mut n) = (0.0, 0.0, 0.0, 0usize);
    for chunk in frames.chunks(CHUNK) {
        let views: Vec<_> = chunk.iter().map(OwnedFrame::view).collect();
        backend.analyze(&views, out)?;
        if let Some(t) = backend.last_timings() {
            up += t.upload.as_secs_f64();
            disp += t.dispatch.as_secs_f64();
            back += t.readback.as_secs_f64();
            n += t.frames;
        }
    }
    Ok((n > 0).then(|| {
        let per = 1e3 / n as f64;
        Stages {
            upload_ms: up * per,
            dispatch_ms: disp * per,
            readback_ms: back * per,
        }
    }))
}

fn kernel_only(
    ctx: &mut Ctx<'_>,
    gpu: Option<&Arc<GpuContext>>,
    camera: Option<&Clip>,
) -> Result<()> {
    let quick = ctx.options.quick;
    let software = ctx.gpu_is_software();
    if gpu.is_some() && software {
        ctx.note(
            Workload::Frames,
            "osprey-gpu",
            "the GPU adapter is a software one (it runs shaders on the CPU): the GPU backend runs the `all` set on the first input only",
        );
    }
    let backends = ctx.options.backends.clone();
    for (k, (input, describe, frames)) in frame_inputs(quick, camera)?.into_iter().enumerate() {
        for (set_name, set) in sets(quick) {
            let case = Case {
                workload: Workload::Frames.name(),
                name: format!("kernels/{set_name}/{input}"),
                input: describe.clone(),
                unit: "frames",
                items: frames.len() as u64,
            };
            let mut contenders = Vec::new();
            if backends.contains(&BackendKind::Cpu) {
                let mut cpu = CpuBackend::new(set);
                let mut out = Vec::new();
                pass(&mut cpu, &frames[..CHUNK.min(frames.len())], &mut out)?;
                let frames = &frames;
                contenders.push(Contender::new(BackendKind::Cpu.subject(), move || {
                    in_process(|| pass(&mut cpu, frames, &mut out).map(|()| None))
                }));
            }
            if let Some(ctx_gpu) = gpu.filter(|_| !software || (set_name == "all" && k == 0)) {
                let mut backend = GpuBackend::new(Arc::clone(ctx_gpu), set)?;
                let mut out = Vec::new();
                // Warm-up: buffers are made at the first chunk of a size.
                gpu_pass(&mut backend, &frames[..CHUNK.min(frames.len())], &mut out)?;
                let frames = &frames;
                contenders.push(Contender::new(BackendKind::Gpu.subject(), move || {
                    in_process(|| gpu_pass(&mut backend, frames, &mut out))
                }));
            }
            measure(
                &mut ctx.results,
                ctx.options,
                ctx.progress,
                &case,
                &mut contenders,
            )?;
        }
    }
    Ok(())
}

/// `osprey analyze CLIP --kernels SET --backend B`, output discarded.
fn analyze(osprey: &Path, clip: &Clip, kernels: &str, backend: BackendKind) -> Command {
    let mut cmd = Command::new(osprey);
    cmd.args(["-q", "analyze"]).arg(&clip.path).args([
        "--kernels",
        kernels,
        "--backend",
        backend.name(),
        "--output",
        "/dev/null",
    ]);
    cmd
}

fn end_to_end(
    ctx: &mut Ctx<'_>,
    osprey: &Path,
    clips: &[Clip],
    gpu: bool,
    ffmpeg: bool,
    gstreamer: bool,
) -> Result<()> {
    let quick = ctx.options.quick;
    let mut backends = ctx.options.backends.clone();
    if !gpu || ctx.gpu_is_software() {
        backends.retain(|b| *b == BackendKind::Cpu);
    }
    let log = ctx.scratch.join("frames.log");
    // `all` on every clip; each kernel with an ffmpeg twin on the last clip.
    let mut plan: Vec<(&Clip, &str)> = clips.iter().map(|c| (c, "all")).collect();
    if let Some(last) = clips.last() {
        for (name, _) in sets(quick).into_iter().skip(1) {
            if ffmpeg_filters(name).is_some() {
                plan.push((last, name));
            }
        }
    }
    for (clip, set) in plan {
        let case = Case {
            workload: Workload::Frames.name(),
            name: format!("analyze/{set}/{}", clip.name),
            input: clip.describe.clone(),
            unit: "frames",
            items: u64::from(clip.frames),
        };
        let kernels = if set == "all" {
            "stats,scene,motion,black,freeze,blur"
        } else {
            set
        };
        let mut contenders = Vec::new();
        for &b in &backends {
            let log = &log;
            contenders.push(Contender::new(b.subject(), move || {
                child(&mut analyze(osprey, clip, kernels, b), None, log)
            }));
        }
        if gstreamer && set == "all" {
            let uri = format!("file://{}", absolute(&clip.path).display());
            let log = &log;
            contenders.push(Contender::new("gstreamer-decode", move || {
                child(
                    Command::new("gst-launch-1.0")
                        .args(["-q", "uridecodebin"])
                        .arg(format!("uri={uri}"))
                        .args(["!", "fakesink", "sync=false"]),
                    None,
                    log,
                )
            }));
        }
        if let (true, Some(filters)) = (ffmpeg, ffmpeg_filters(set)) {
            let log = &log;
            contenders.push(Contender::new("ffmpeg", move || {
                child(
                    Command::new("ffmpeg")
                        .args(["-v", "error", "-nostdin", "-i"])
                        .arg(&clip.path)
                        .args(["-vf", filters, "-f", "null", "-"]),
                    None,
                    log,
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
    }
    Ok(())
}

/// `path` made absolute against the current folder.
pub(crate) fn absolute(path: &Path) -> std::path::PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}
