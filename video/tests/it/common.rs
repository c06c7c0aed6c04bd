//! Helpers: fixtures made with ffmpeg, the ffmpeg/ffprobe oracles, a decode
//! loop and a watchdog that turns a hang into a failure.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use osprey_kernels::FrameView;
use osprey_video::{
    ClipSpec, DecodeOptions, Decoder, FrameMeta, StreamInfo, VideoError, generate_clip,
};

/// Test result with `?` on anything.
pub type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// Runs ffmpeg quietly with `args`, failing the test when it fails.
pub fn ffmpeg(args: &[&str]) -> TestResult {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-y", "-nostdin"])
        .args(args)
        .output()?;
    if !out.status.success() {
        return Err(format!("ffmpeg {args:?}: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(())
}

/// ffmpeg's own decode of `input`, every frame tightly packed in `pix_fmt`.
pub fn ffmpeg_raw(input: &Path, pix_fmt: &str) -> TestResult<Vec<u8>> {
    let input = input.to_str().ok_or("utf-8 path")?;
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-nostdin", "-i", input])
        .args(["-f", "rawvideo", "-pix_fmt", pix_fmt, "-"])
        .output()?;
    if !out.status.success() {
        return Err(format!("ffmpeg decode: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(out.stdout)
}

/// ffprobe's `pts_time` of every video frame of `input`.
pub fn ffprobe_pts(input: &Path) -> TestResult<Vec<f64>> {
    let input = input.to_str().ok_or("utf-8 path")?;
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=pts_time",
        ])
        .args(["-of", "csv=p=0", input])
        .output()?;
    if !out.status.success() {
        return Err(format!("ffprobe: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let text = String::from_utf8(out.stdout)?;
    // Frames with side data print an extra, empty section line: skip those.
    text.lines()
        .filter_map(|l| l.split(',').next().map(str::trim).filter(|f| !f.is_empty()))
        .map(|f| f.parse::<f64>().map_err(Into::into))
        .collect()
}

/// A clip written by `generate_clip` in `dir`.
pub fn clip(dir: &Path, name: &str, spec: &ClipSpec) -> TestResult<PathBuf> {
    let path = dir.join(name);
    generate_clip(&path, spec)?;
    Ok(path)
}

/// What a whole decode produced.
#[derive(Debug, Default)]
pub struct Decoded {
    /// Every frame's meta, in order.
    pub metas: Vec<FrameMeta>,
    /// The length of every chunk.
    pub chunk_sizes: Vec<usize>,
    /// Stream info after open.
    pub info: Option<StreamInfo>,
    /// Frame rate after open.
    pub frame_rate: Option<f64>,
    /// Duration after open.
    pub duration: Option<f64>,
}

/// Decodes `input` to the end, calling `each` on every frame.
pub fn decode_all(
    input: &str,
    chunk_frames: usize,
    mut each: impl FnMut(&FrameView<'_>, &FrameMeta) -> TestResult,
) -> TestResult<Decoded> {
    let mut decoder = Decoder::open(
        input,
        DecodeOptions {
            chunk_frames,
            ..DecodeOptions::default()
        },
    )?;
    let mut out = Decoded {
        info: decoder.info(),
        frame_rate: decoder.frame_rate(),
        duration: decoder.duration(),
        ..Decoded::default()
    };
    while let Some(chunk) = decoder.next_chunk()? {
        assert_eq!(chunk.views().len(), chunk.len());
        assert_eq!(chunk.metas().len(), chunk.len());
        assert!(!chunk.is_empty());
        for (view, meta) in chunk.views().iter().zip(chunk.metas()) {
            each(view, meta)?;
        }
        out.chunk_sizes.push(chunk.len());
        out.metas.extend_from_slice(chunk.metas());
    }
    Ok(out)
}

/// Opens `input` expecting an error, within [`PATIENCE`].
pub fn open_err(input: &str) -> VideoError {
    let input = input.to_owned();
    let result = within(move || Decoder::open(&input, DecodeOptions::default()).map(|_| ()));
    match result {
        Err(e) => e,
        Ok(()) => panic!("opening succeeded where it should fail"),
    }
}

/// How long [`within`] waits: far beyond what opening or decoding a test
/// clip takes, even while GStreamer builds its plugin registry on a cold,
/// loaded machine (that alone can take many seconds), so that only a hang
/// reaches it.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// Runs `f` on its own thread; panics when it takes more than [`PATIENCE`]
/// (a hang).
pub fn within<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _sent = tx.send(f());
    });
    rx.recv_timeout(PATIENCE)
        .unwrap_or_else(|e| panic!("no result within {PATIENCE:?} ({e}): hang"))
}

/// Path as `&str` for `Decoder::open`.
pub fn s(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}
