//! Recording: an encoded H.264/H.265 stream taken as it came (parsed, never
//! re-encoded), cut at key frames into fragments of about
//! [`PutOptions::fragment`] and appended to a video stream of the store
//! ([`osprey_ingest::video::VideoStore`]).
//!
//! [`Fragmenter`] is the cutting, on its own (the KVS API's PutMedia uses it
//! too); [`put`] records any source (a file, RTSP, a camera) into a stream.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use osprey_ingest::video::{FragmentIn, FragmentMeta, Frame, Track, VideoStore};

use crate::source::SourceSpec;

/// The default fragment length the cutter aims at.
pub const DEFAULT_FRAGMENT: Duration = Duration::from_secs(2);

/// Cuts a stream of access units into fragments: a fragment ends at the
/// first key frame at least the target length after its start, or when the
/// track changes (new parameter sets or size).
#[derive(Debug)]
pub struct Fragmenter {
    #[expect(dead_code, reason = "read once recording lands")]
    target: Duration,
}

#[expect(
    clippy::unused_self,
    unused_variables,
    clippy::needless_pass_by_ref_mut,
    reason = "interface for issue 16's helpers; bodies land with recording"
)]
impl Fragmenter {
    /// A cutter aiming at `target` per fragment.
    #[must_use]
    pub fn new(target: Duration) -> Fragmenter {
        Fragmenter { target }
    }

    /// Takes the next frame (decode order) of `track`; returns the fragment
    /// it closed, if any. Frames before the first key frame are dropped.
    pub fn push(&mut self, track: &Track, frame: Frame) -> Option<FragmentIn> {
        todo!("recording")
    }

    /// Ends the stream: the fragment in progress, if any.
    pub fn finish(&mut self) -> Option<FragmentIn> {
        todo!("recording")
    }
}

/// How [`put`] records.
#[derive(Debug, Clone)]
pub struct PutOptions {
    /// The fragment length to aim at (cut at the first key frame past it).
    pub fragment: Duration,
    /// For a file: the producer time of its first frame, Unix ns (default:
    /// when the put starts); live sources use their own clock (RTCP/NTP).
    pub start_time_ns: Option<u64>,
}

impl Default for PutOptions {
    fn default() -> Self {
        PutOptions {
            fragment: DEFAULT_FRAGMENT,
            start_time_ns: None,
        }
    }
}

/// What a [`put`] recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutSummary {
    /// Fragments appended.
    pub fragments: u64,
    /// Frames in them.
    pub frames: u64,
    /// Bytes of media in them.
    pub bytes: u64,
}

/// Records `source` into video stream `stream` until the source ends or
/// `stop` is set; `on_fragment` sees each fragment once it is durable.
#[expect(
    unused_variables,
    reason = "interface for issue 16's helpers; bodies land with recording"
)]
pub fn put(
    source: &SourceSpec,
    store: &VideoStore,
    stream: &str,
    options: &PutOptions,
    stop: &AtomicBool,
    on_fragment: &mut dyn FnMut(&FragmentMeta),
) -> Result<PutSummary, crate::VideoError> {
    todo!("recording")
}
