//! osprey's video layer: GStreamer decode into chunks of frames.
//!
//! (API sketch: the implementation is being written. Signatures here are the
//! contract the CLI codes against.)

use osprey_kernels::FrameView;

/// Errors of the video layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VideoError {
    /// The input file does not exist or cannot be read.
    #[error("cannot open {input:?}: {reason}")]
    Open {
        /// The path or URI as the user gave it.
        input: String,
        /// Why.
        reason: String,
    },
    /// The input has no video stream.
    #[error("{input:?} has no video stream")]
    NoVideo {
        /// The path or URI as the user gave it.
        input: String,
    },
    /// GStreamer reported an error while decoding.
    #[error("decoding {input:?} failed: {reason}")]
    Decode {
        /// The path or URI as the user gave it.
        input: String,
        /// GStreamer's message and debug detail.
        reason: String,
    },
    /// GStreamer is missing or a needed element is not installed.
    #[error("GStreamer is not usable: {0}")]
    Gstreamer(String),
}

/// Options for opening a source.
#[derive(Debug, Clone)]
pub struct DecodeOptions {
    /// Frames per chunk handed to the kernels (default 8).
    pub chunk_frames: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions { chunk_frames: 8 }
    }
}

/// A decoded frame's place in the stream.
#[derive(Debug, Clone, Copy)]
pub struct FrameMeta {
    /// 0-based index in decode order.
    pub index: u64,
    /// Presentation timestamp in seconds, when the stream has one.
    pub pts: Option<f64>,
}

/// A chunk of decoded frames, each in its native I420/NV12 layout.
pub struct FrameChunk {
    _private: (),
}

impl FrameChunk {
    /// Number of frames.
    pub fn len(&self) -> usize {
        0
    }
    /// True when the chunk has no frames.
    pub fn is_empty(&self) -> bool {
        true
    }
    /// Borrowed views of the frames, for the kernels.
    pub fn views(&self) -> Vec<FrameView<'_>> {
        Vec::new()
    }
    /// Index and pts of every frame.
    pub fn metas(&self) -> &[FrameMeta] {
        &[]
    }
}

/// A running decode pipeline.
pub struct Decoder {
    _private: (),
}

impl Decoder {
    /// Opens a file path or URI (anything uridecodebin can open).
    ///
    /// # Errors
    /// [`VideoError::Open`] for a missing file, [`VideoError::NoVideo`] when the
    /// input has no video stream.
    pub fn open(input: &str, options: DecodeOptions) -> Result<Decoder, VideoError> {
        let _ = options;
        Err(VideoError::Gstreamer(format!("not yet implemented for {input}")))
    }

    /// The next chunk, `None` at end of stream.
    ///
    /// # Errors
    /// [`VideoError::Decode`] when GStreamer reports an error.
    pub fn next_chunk(&mut self) -> Result<Option<FrameChunk>, VideoError> {
        Ok(None)
    }

    /// Frame rate reported by caps, when known (frames per second).
    pub fn frame_rate(&self) -> Option<f64> {
        None
    }

    /// Duration when known, in seconds (for progress).
    pub fn duration(&self) -> Option<f64> {
        None
    }
}

/// What [`generate_clip`] writes.
#[derive(Debug, Clone)]
pub struct ClipSpec {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
    /// Total frames.
    pub frames: u32,
    /// Frames between hard cuts (the test pattern changes); 0 for none.
    pub cut_every: u32,
}

/// Writes an H.264 MP4 test clip made by GStreamer's videotestsrc, with hard
/// cuts between patterns, so osprey can demo and test itself offline.
///
/// # Errors
/// [`VideoError::Gstreamer`] when an element is missing, [`VideoError::Decode`]
/// when encoding fails.
pub fn generate_clip(path: &std::path::Path, spec: &ClipSpec) -> Result<(), VideoError> {
    let _ = (path, spec);
    Err(VideoError::Gstreamer("not yet implemented".into()))
}
