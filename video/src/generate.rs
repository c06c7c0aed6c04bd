//! Test clips made offline, so osprey can demo and test itself without
//! downloading video.
//!
//! ```text
//! videotestsrc (pattern switched every cut_every frames) ─► I420 caps
//!   ─► x264enc ─► h264parse ─► mp4mux ─► filesink
//! ```
//!
//! A buffer probe on the source's pad counts frames and switches the pattern
//! property between two frames; the probe runs on the streaming thread right
//! after a frame is produced, so the switch lands exactly on the next frame.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use gst::prelude::*;
use gstreamer as gst;

use crate::error::{VideoError, gst_reason};
use crate::init::{init, make};

/// Patterns shown in turn, one per cut. All are static or slowly moving
/// (no `snow`), so only the cuts look like scene changes.
const PATTERNS: [&str; 8] = [
    "smpte",
    "ball",
    "checkers-8",
    "pinwheel",
    "colors",
    "circular",
    "zone-plate",
    "gamut",
];

/// What [`generate_clip`] writes.
#[derive(Debug, Clone)]
pub struct ClipSpec {
    /// Width in pixels (even, as H.264 4:2:0 needs).
    pub width: u32,
    /// Height in pixels (even).
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
    /// Total frames.
    pub frames: u32,
    /// Frames between hard cuts (the test pattern changes); 0 for none.
    pub cut_every: u32,
}

impl ClipSpec {
    /// Checks the spec before any element is made.
    fn validate(&self) -> Result<(), VideoError> {
        let bad = |why: String| Err(VideoError::Config(format!("clip spec: {why}")));
        if self.width < 2
            || self.height < 2
            || !self.width.is_multiple_of(2)
            || !self.height.is_multiple_of(2)
        {
            return bad(format!(
                "size {}x{} must be even and at least 2x2 for H.264 4:2:0",
                self.width, self.height
            ));
        }
        if self.fps == 0 || i32::try_from(self.fps).is_err() {
            return bad(format!(
                "fps {} must be between 1 and {}",
                self.fps,
                i32::MAX
            ));
        }
        if self.frames == 0 || i32::try_from(self.frames).is_err() {
            return bad(format!(
                "frames {} must be between 1 and {}",
                self.frames,
                i32::MAX
            ));
        }
        let (w, h) = (i32::try_from(self.width), i32::try_from(self.height));
        if w.is_err() || h.is_err() {
            return bad(format!("size {}x{} is too large", self.width, self.height));
        }
        Ok(())
    }
}

/// Sets a pipeline to `Null` however the function that owns it ends.
struct StopOnDrop(gst::Pipeline);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Err(e) = self.0.set_state(gst::State::Null) {
            tracing::warn!(error = %e, "Cannot stop clip pipeline.");
        }
    }
}

/// Writes an H.264 MP4 test clip made by GStreamer's videotestsrc, with hard
/// cuts between patterns, so osprey can demo and test itself offline.
///
/// Frame `i` shows pattern `(i / cut_every) % 8` of smpte, ball, checkers-8,
/// pinwheel, colors, circular, zone-plate, gamut; timestamps are `i / fps`.
/// A partly written file is removed when encoding fails.
///
/// # Errors
/// [`VideoError::Config`] for an odd or zero size, zero fps or zero frames,
/// [`VideoError::Gstreamer`] when an element is missing (x264enc comes with
/// gstreamer1.0-plugins-ugly), [`VideoError::Encode`] when encoding or
/// writing fails.
pub fn generate_clip(path: &Path, spec: &ClipSpec) -> Result<(), VideoError> {
    spec.validate()?;
    let location = path
        .to_str()
        .ok_or_else(|| VideoError::Config(format!("clip path {path:?} is not valid UTF-8")))?;
    init()?;
    let encode_error = |reason: String| VideoError::Encode {
        path: path.to_owned(),
        reason,
    };

    let encoder = make("x264enc", |b| {
        b.property_from_str("speed-preset", "fast")
            .property("key-int-max", spec.fps.saturating_mul(2))
    })?;
    let parse = make("h264parse", |b| b)?;
    let mux = make("mp4mux", |b| b)?;
    let source = make("videotestsrc", |b| {
        b.property(
            "num-buffers",
            i32::try_from(spec.frames).unwrap_or(i32::MAX),
        )
        .property_from_str("pattern", PATTERNS[0])
    })?;
    let caps = gst::Caps::builder("video/x-raw")
        .field("format", "I420")
        .field("width", i32::try_from(spec.width).unwrap_or(i32::MAX))
        .field("height", i32::try_from(spec.height).unwrap_or(i32::MAX))
        .field(
            "framerate",
            gst::Fraction::new(i32::try_from(spec.fps).unwrap_or(i32::MAX), 1),
        )
        .build();
    let filter = make("capsfilter", |b| b.property("caps", &caps))?;
    let sink = make("filesink", |b| b.property("location", location))?;

    let pipeline = gst::Pipeline::new();
    let elements = [&source, &filter, &encoder, &parse, &mux, &sink];
    pipeline
        .add_many(elements)
        .map_err(|e| VideoError::Gstreamer(format!("cannot assemble clip pipeline: {e}")))?;
    gst::Element::link_many(elements)
        .map_err(|e| VideoError::Gstreamer(format!("cannot link clip pipeline: {e}")))?;
    if spec.cut_every > 0 {
        switch_patterns(&source, spec.cut_every)?;
    }
    let guard = StopOnDrop(pipeline);
    let result = run_to_eos(&guard.0).map_err(encode_error);
    drop(guard);
    match result {
        Ok(()) => {
            tracing::debug!(path = %path.display(), frames = spec.frames, "Clip written.");
            Ok(())
        }
        Err(e) => {
            // A partly written MP4 has no index and is useless.
            if let Err(rm) = std::fs::remove_file(path) {
                tracing::debug!(path = %path.display(), error = %rm, "No partial clip to remove.");
            }
            Err(e)
        }
    }
}

/// Switches `source`'s pattern after every `cut_every` frames it pushes.
fn switch_patterns(source: &gst::Element, cut_every: u32) -> Result<(), VideoError> {
    let pad = source
        .static_pad("src")
        .ok_or_else(|| VideoError::Gstreamer("videotestsrc has no src pad".into()))?;
    let pushed = AtomicU64::new(0);
    let cut_every = u64::from(cut_every);
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, _| {
        let n = pushed.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_multiple_of(cut_every) {
            let pattern = PATTERNS[usize::try_from(n / cut_every).unwrap_or(0) % PATTERNS.len()];
            if let Some(src) = pad.parent_element() {
                src.set_property_from_str("pattern", pattern);
            }
        }
        gst::PadProbeReturn::Ok
    })
    .ok_or_else(|| VideoError::Gstreamer("cannot add a probe to videotestsrc".into()))?;
    Ok(())
}

/// Plays `pipeline` until EOS, so the muxer writes its index; the first error
/// on the bus ends it instead.
fn run_to_eos(pipeline: &gst::Pipeline) -> Result<(), String> {
    let bus = pipeline.bus().ok_or("pipeline has no bus")?;
    pipeline.set_state(gst::State::Playing).map_err(|e| {
        match bus.pop_filtered(&[gst::MessageType::Error]) {
            Some(msg) => error_text(&msg),
            None => format!("the pipeline refused to start: {e}"),
        }
    })?;
    loop {
        let Some(msg) = bus.timed_pop_filtered(
            gst::ClockTime::NONE,
            &[gst::MessageType::Eos, gst::MessageType::Error],
        ) else {
            return Err("the bus closed before end of stream".into());
        };
        match msg.view() {
            gst::MessageView::Eos(_) => return Ok(()),
            gst::MessageView::Error(_) => return Err(error_text(&msg)),
            _ => {}
        }
    }
}

fn error_text(msg: &gst::Message) -> String {
    let source = msg.src().map(|s| s.name().to_string());
    match msg.view() {
        gst::MessageView::Error(e) => {
            let debug = e.debug();
            gst_reason(source.as_deref(), &e.error(), debug.as_deref())
        }
        _ => "unexpected message".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(width: u32, height: u32, fps: u32, frames: u32) -> ClipSpec {
        ClipSpec {
            width,
            height,
            fps,
            frames,
            cut_every: 0,
        }
    }

    #[test]
    fn bad_specs_are_refused_before_work() {
        for s in [
            spec(99, 60, 10, 5),
            spec(0, 2, 10, 5),
            spec(64, 64, 0, 5),
            spec(64, 64, 10, 0),
        ] {
            let err = generate_clip(Path::new("/nonexistent/x.mp4"), &s);
            assert!(matches!(err, Err(VideoError::Config(_))), "{s:?}: {err:?}");
        }
    }

    #[test]
    fn unwritable_path_is_an_encode_error() {
        let err = generate_clip(Path::new("/nonexistent/dir/x.mp4"), &spec(64, 64, 10, 2));
        let msg = err
            .as_ref()
            .map_err(ToString::to_string)
            .err()
            .unwrap_or_default();
        assert!(matches!(err, Err(VideoError::Encode { .. })), "{msg}");
        assert!(msg.contains("filesink"), "{msg}");
    }
}
