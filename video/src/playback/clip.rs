//! Clips: the frames of a time range as one MP4 (H.264/H.265 as stored, no
//! re-encoding), from the key frame at or before the start, timestamps
//! continuous from zero.

use osprey_ingest::video::VideoStore;

use super::PlaybackError;

/// An MP4 clip made by [`mp4`].
#[derive(Debug, Clone)]
pub struct Clip {
    /// The MP4 file's bytes.
    pub data: Vec<u8>,
    /// Frames in it.
    pub frames: u32,
    /// Producer time of its first frame, Unix ns.
    pub start_ns: u64,
    /// Producer time of the end of its last frame, Unix ns.
    pub end_ns: u64,
}

/// The clip of `[start_ns, end_ns)` (producer time) of video stream
/// `stream`: from the key frame at or before `start_ns` to the last frame
/// that starts before `end_ns`.
#[expect(
    unused_variables,
    reason = "interface for issue 16's helpers; bodies land with playback"
)]
pub fn mp4(
    store: &VideoStore,
    stream: &str,
    start_ns: u64,
    end_ns: u64,
) -> Result<Clip, PlaybackError> {
    todo!("playback")
}
