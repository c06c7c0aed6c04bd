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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
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

/// The video streams of one data directory (`<data-dir>/video/`).
#[derive(Debug)]
pub struct VideoStore {
    dir: PathBuf,
}

#[expect(
    clippy::unused_self,
    unused_variables,
    reason = "interface for issue 16's helpers; bodies land with the video store"
)]
impl VideoStore {
    /// Opens (creating) the video store of `data_dir` for writing: one
    /// process writes at a time.
    pub fn open(data_dir: &Path) -> Result<VideoStore, VideoError> {
        Ok(VideoStore {
            dir: data_dir.join("video"),
        })
    }

    /// Opens it for reading alongside a writer in another process.
    pub fn open_read_only(data_dir: &Path) -> Result<VideoStore, VideoError> {
        Ok(VideoStore {
            dir: data_dir.join("video"),
        })
    }

    /// The directory it lives in.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Creates a video stream.
    pub fn create(
        &self,
        name: &str,
        config: VideoStreamConfig,
    ) -> Result<VideoStreamInfo, VideoError> {
        todo!("video store")
    }

    /// Every video stream, by name.
    pub fn list(&self) -> Result<Vec<VideoStreamInfo>, VideoError> {
        todo!("video store")
    }

    /// One video stream.
    pub fn describe(&self, name: &str) -> Result<VideoStreamInfo, VideoError> {
        todo!("video store")
    }

    /// Deletes a video stream and every fragment it holds.
    pub fn delete(&self, name: &str) -> Result<(), VideoError> {
        todo!("video store")
    }

    /// Changes retention (and applies it at once).
    pub fn set_retention(&self, name: &str, retention: Retention) -> Result<(), VideoError> {
        todo!("video store")
    }

    /// Adds and replaces tags (`remove` names the keys to drop).
    pub fn set_tags(
        &self,
        name: &str,
        add: &BTreeMap<String, String>,
        remove: &[String],
    ) -> Result<(), VideoError> {
        todo!("video store")
    }

    /// Appends a fragment; returns once it is durable, with its metadata.
    /// Retention is applied after it.
    pub fn append(&self, name: &str, fragment: FragmentIn) -> Result<FragmentMeta, VideoError> {
        todo!("video store")
    }

    /// The fragments kept that fall in `range` (all when `None`), oldest
    /// first (by number).
    pub fn fragments(
        &self,
        name: &str,
        range: Option<TimeRange>,
    ) -> Result<Vec<FragmentMeta>, VideoError> {
        todo!("video store")
    }

    /// Reads one fragment whole.
    pub fn read(&self, name: &str, number: u64) -> Result<Fragment, VideoError> {
        todo!("video store")
    }

    /// The newest fragment number, watched: changes each time a fragment
    /// is appended (for the async live readers of the KVS API and HLS).
    pub fn subscribe(
        &self,
        name: &str,
    ) -> Result<tokio::sync::watch::Receiver<Option<u64>>, VideoError> {
        todo!("video store")
    }

    /// Reads every kept fragment and reports each damaged one (what
    /// `osprey video verify` prints); damage costs only the fragments it
    /// touches.
    pub fn verify(&self, name: &str) -> Result<Vec<VideoDamage>, VideoError> {
        todo!("video store")
    }

    /// Waits until the stream holds a fragment numbered above `after` (any
    /// fragment when `None`) or `timeout` passes; returns the newest number
    /// then, if any. For live readers (GetMedia from NOW, HLS LIVE).
    pub fn wait_newer(
        &self,
        name: &str,
        after: Option<u64>,
        timeout: Duration,
    ) -> Result<Option<u64>, VideoError> {
        todo!("video store")
    }
}
