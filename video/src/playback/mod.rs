//! Playback of video streams: clips as MP4 ([`clip`]), frames sampled as
//! JPEG or PNG images ([`images`]) and HLS playlists and segments ([`hls`]),
//! all made from stored fragments without re-encoding (images decode only
//! from the key frame before each sample). [`synthetic`] encodes test
//! fragments in memory.

mod bmff;
pub mod clip;
mod gst_util;
pub mod hls;
pub mod images;
pub mod synthetic;
#[cfg(test)]
mod tests;

/// What went wrong making a clip, an image or a segment.
#[derive(Debug, thiserror::Error)]
pub enum PlaybackError {
    /// The store failed (no such stream, I/O, damage).
    #[error(transparent)]
    Store(#[from] osprey_ingest::video::VideoError),
    /// Nothing is kept in the range asked for.
    #[error("no media in the range asked for")]
    NoMedia,
    /// A request that cannot be met (bad range, size, interval).
    #[error("{0}")]
    Invalid(String),
    /// GStreamer failed muxing or decoding.
    #[error("{0}")]
    Media(String),
}
