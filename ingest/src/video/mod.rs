//! Video streams: encoded video kept as it came, cut at key frames into
//! durable, time-indexed fragments, in the same data directory as the
//! telemetry streams (the Kinesis Video Streams side of the store).
//!
//! A [`VideoStore`] holds named video streams. Each stream is a growing list
//! of [`Fragment`]s: one or more GOPs of H.264 or H.265 access units, in the
//! form MP4 and Matroska carry them (length-prefixed NAL units, the
//! parameter sets in the [`Track`]'s `codec_data`, `avcC`/`hvcC`), so a
//! fragment decodes alone. A fragment gets a number that only grows and is
//! never reused, a producer timestamp (from the source), a server timestamp
//! (its arrival), a duration and a size; [`VideoStore::append`] returns only
//! once it is durable. Retention by age and by size removes whole fragments.
//!
//! Everything here is plain Rust: muxing, demuxing and decoding are the
//! video crate's (`osprey_video::record`, `osprey_video::playback`,
//! `osprey_video::kvs`).
//!
//! # On disk
//!
//! ```text
//! <data-dir>/video/LOCK                                held by the one writing process
//! <data-dir>/video/streams/<name>/stream.json          created, version, retention,
//!                                                      media type, tags, next number
//! <data-dir>/video/streams/<name>/fragments/<n:020>.frag  one fragment (see format)
//! <data-dir>/video/streams/<name>/fragments/<n:020>.tmp   one being written
//! <data-dir>/video/streams/.<name>.creating|deleting/  a create or delete under way
//! ```
//!
//! **A file per fragment**, rather than an append-only log with an index:
//! a fragment is written to a temporary name, synced, renamed into place
//! and its folder synced, and only then acknowledged, so a crash leaves a
//! whole fragment or a `.tmp` file (never acknowledged; removed on the
//! next writable open). Retention is exact (whole files unlinked, no
//! compaction), damage stays inside the one file it hits, and the index is
//! the folder itself: on open each file's header is read (not its media)
//! and checked by its own CRC32 and the file's length, and a damaged file
//! is warned about and skipped. Fragments are large (a GOP or more: tens
//! of kB to MBs), so a file each costs little. Each stream has its own
//! locks and its own folder fsync: appends to different streams run in
//! parallel; appends to one stream are ordered.
//!
//! **Numbers** start at 1 and grow: the next one is the larger of
//! `stream.json`'s `next_number` and one past the largest fragment file
//! (damaged ones included); before retention removes the newest fragment,
//! `next_number` is saved, so no number is ever used twice, across
//! restarts too.
//!
//! **Retention** runs after each append and in
//! [`VideoStore::enforce_retention`]: by age, a fragment whose end (producer
//! time) is older than `max_age` before the later of the wall clock and the
//! newest fragment's end goes; by size, the oldest go until the media left
//! is at most `max_bytes`, but the newest fragment always stays (a live
//! reader has something to play).
//!
//! **Readers in other processes** open it with
//! [`VideoStore::open_read_only`]: every call on a stream reads its folder
//! again (new files' headers only), so `osprey video list|fragments|clip`
//! see what a running `osprey serve` records. A stream whose `stream.json`
//! cannot be read is listed by [`VideoStore::damaged_streams`] and can be
//! deleted; the others work.
//!
//! **Bounds**: a fragment holds at most [`MAX_FRAGMENT_BYTES`] of media,
//! [`MAX_FRAMES`] frames of at most [`MAX_FRAME_BYTES`] each, and
//! [`MAX_CODEC_DATA`] of codec data; reading one holds at most that much.

mod format;
mod store;
mod stream;
#[cfg(test)]
mod tests;

pub use format::{MAX_CODEC_DATA, MAX_FRAGMENT_BYTES, MAX_FRAME_BYTES, MAX_FRAMES};
pub use store::VideoStore;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// The video codecs a video stream keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    /// H.264 / AVC: `codec_data` is an `avcC` record.
    H264,
    /// H.265 / HEVC: `codec_data` is an `hvcC` record.
    H265,
}

/// What a decoder needs to start on a fragment: the codec and its private
/// data (SPS/PPS, and VPS for H.265), and the picture size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Track {
    /// The codec.
    pub codec: Codec,
    /// `avcC` or `hvcC` bytes, as GStreamer's `codec_data` caps field, MP4's
    /// sample entry and Matroska's `CodecPrivate` carry them.
    pub codec_data: Vec<u8>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// One access unit (a whole picture) of a fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Presentation time, producer clock, nanoseconds since the Unix epoch.
    pub pts_ns: u64,
    /// Decode time, same clock (equal to `pts_ns` without B-frames).
    pub dts_ns: u64,
    /// Duration in nanoseconds.
    pub duration_ns: u64,
    /// A key frame (IDR or CRA/BLA): decoding can start here.
    pub key: bool,
    /// The access unit: NAL units each prefixed by its 4-byte big-endian
    /// length.
    pub data: Bytes,
}

/// A fragment to append: whole GOPs, the first frame a key frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FragmentIn {
    /// Codec and parameter sets of every frame in it.
    pub track: Track,
    /// Frames in decode order.
    pub frames: Vec<Frame>,
}

/// What the store knows of a fragment without reading it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FragmentMeta {
    /// The fragment number: grows, never reused within a stream.
    pub number: u64,
    /// Producer timestamp of its first frame (smallest pts), Unix ns.
    pub producer_ns: u64,
    /// When the store received it (server clock), Unix ns.
    pub server_ns: u64,
    /// From the first pts to the end of the last frame, ns.
    pub duration_ns: u64,
    /// Bytes of media (frames' data) it holds.
    pub size: u64,
    /// Frames in it.
    pub frames: u32,
    /// Its codec.
    pub codec: Codec,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// A stored fragment, read back whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    /// Its metadata.
    pub meta: FragmentMeta,
    /// Codec and parameter sets.
    pub track: Track,
    /// Frames in decode order, the first a key frame.
    pub frames: Vec<Frame>,
}

/// Which clock a time range is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimeBase {
    /// The producer's timestamps (the source's clock).
    Producer,
    /// The store's arrival timestamps.
    Server,
}

/// A half-open time range `[start_ns, end_ns)` on one clock. A fragment is
/// in it when any part of it overlaps it (producer clock) or when it
/// arrived in it (server clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// The clock.
    pub base: TimeBase,
    /// Start, Unix ns, inclusive.
    pub start_ns: u64,
    /// End, Unix ns, exclusive.
    pub end_ns: u64,
}

/// How long and how much a video stream keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    /// Fragments older than this (producer time, against the newest
    /// fragment's and the wall clock's later) go; `None` keeps them.
    pub max_age: Option<Duration>,
    /// Past this many bytes of media the oldest fragments go; `None` keeps
    /// them.
    pub max_bytes: Option<u64>,
}

/// The settings a video stream is created with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VideoStreamConfig {
    /// Retention.
    pub retention: Retention,
    /// The media type producers declare (KVS' `MediaType`, e.g.
    /// `video/h264`); informational.
    pub media_type: Option<String>,
    /// Tags (KVS' stream tags).
    pub tags: BTreeMap<String, String>,
}

/// A video stream as `describe` and `list` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VideoStreamInfo {
    /// The stream's name.
    pub name: String,
    /// When it was created, Unix ms.
    pub created_ms: u64,
    /// Changes every time its settings change (KVS' `Version`).
    pub version: String,
    /// Retention.
    pub retention: Retention,
    /// Declared media type.
    pub media_type: Option<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Fragments kept now.
    pub fragments: u64,
    /// Bytes of media kept now.
    pub bytes: u64,
    /// The oldest and newest fragments kept, if any.
    pub first: Option<FragmentMeta>,
    /// The newest fragment kept, if any.
    pub last: Option<FragmentMeta>,
}

/// What went wrong in the video store.
#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    /// No video stream of that name.
    #[error("video stream {0:?} does not exist")]
    NotFound(String),
    /// A video stream of that name exists already.
    #[error("video stream {0:?} exists already")]
    Exists(String),
    /// No fragment of that number is kept.
    #[error("video stream {stream:?} has no fragment {number}")]
    NoFragment {
        /// The stream.
        stream: String,
        /// The fragment number asked for.
        number: u64,
    },
    /// A request the store refuses (bad name, empty fragment, no key
    /// frame first, ...).
    #[error("{0}")]
    Invalid(String),
    /// Damaged bytes on disk.
    #[error("video stream {stream:?}: {detail}")]
    Damaged {
        /// The stream.
        stream: String,
        /// What is damaged and where.
        detail: String,
    },
    /// Another process has the video store open for writing.
    #[error("the video store in {0:?} is open for writing by another process")]
    Locked(PathBuf),
    /// An I/O error, with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// A damaged fragment `verify` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VideoDamage {
    /// The fragment number, when it could be read.
    pub number: Option<u64>,
    /// The file that holds the damage.
    pub path: PathBuf,
    /// What is wrong.
    pub detail: String,
}
