//! HLS: media playlists over a stream's fragments (one segment per
//! fragment), live (a sliding window that grows) or on demand (a range,
//! `#EXT-X-ENDLIST`), and the segments themselves.

use osprey_ingest::video::{Fragment, FragmentMeta};

use super::PlaybackError;

/// A media playlist over `fragments` (oldest first); `segment_uri` names
/// the segment of a fragment number; `live` leaves the list open.
#[expect(
    unused_variables,
    reason = "interface for issue 16's helpers; bodies land with playback"
)]
#[must_use]
pub fn media_playlist(
    fragments: &[FragmentMeta],
    live: bool,
    segment_uri: &dyn Fn(u64) -> String,
) -> String {
    todo!("playback")
}

/// The MIME type of the segments [`segment`] makes.
pub const SEGMENT_CONTENT_TYPE: &str = "video/mp2t";

/// One fragment as an HLS segment.
#[expect(
    unused_variables,
    reason = "interface for issue 16's helpers; bodies land with playback"
)]
pub fn segment(fragment: &Fragment) -> Result<Vec<u8>, PlaybackError> {
    todo!("playback")
}
