//! Images: frames sampled at an interval over a time range, as JPEG or PNG,
//! optionally scaled, decoding only from the key frame before each sample.

use std::time::Duration;

use osprey_ingest::video::VideoStore;

use super::PlaybackError;

/// The image format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// JPEG.
    Jpeg,
    /// PNG.
    Png,
}

/// What to sample.
#[derive(Debug, Clone)]
pub struct ImageRequest {
    /// Range start, producer time, Unix ns.
    pub start_ns: u64,
    /// Range end (exclusive), producer time, Unix ns.
    pub end_ns: u64,
    /// One image every this long from `start_ns`.
    pub every: Duration,
    /// Format.
    pub format: ImageFormat,
    /// Width to scale to (the height follows the aspect unless given).
    pub width: Option<u32>,
    /// Height to scale to (the width follows the aspect unless given).
    pub height: Option<u32>,
    /// At most this many images.
    pub max_images: usize,
}

/// One sample: the frame shown at `ts_ns`, or none where no media is kept.
#[derive(Debug, Clone)]
pub struct SampledImage {
    /// The sample time asked for, Unix ns.
    pub ts_ns: u64,
    /// The encoded image, `None` where there is no media at that time.
    pub data: Option<Vec<u8>>,
}

/// Samples `request` from video stream `stream`.
#[expect(
    unused_variables,
    reason = "interface for issue 16's helpers; bodies land with playback"
)]
pub fn sample(
    store: &VideoStore,
    stream: &str,
    request: &ImageRequest,
) -> Result<Vec<SampledImage>, PlaybackError> {
    todo!("playback")
}
