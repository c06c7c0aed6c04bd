//! Recording: an encoded H.264/H.265 stream taken as it came (parsed, never
//! re-encoded), cut at key frames into fragments of about
//! [`PutOptions::fragment`] and appended to a video stream of the store
//! ([`osprey_ingest::video::VideoStore`]).
//!
//! [`Fragmenter`] is the cutting, on its own (the KVS API's PutMedia uses it
//! too); [`put`] records any source (a file, RTSP, a camera) into a stream.

mod branch;
mod fragmenter;
mod source;
mod tap;

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use osprey_ingest::video::{FragmentIn, FragmentMeta, VideoStore};

pub use fragmenter::{Fragmenter, MAX_FRAGMENT_BYTES};
pub use tap::{RecordTap, Recorder, RecorderCounts};

use crate::pipeline_source::Origin;
use crate::source::SourceSpec;
use source::EncodedSource;

/// The default fragment length the cutter aims at.
pub const DEFAULT_FRAGMENT: Duration = Duration::from_secs(2);

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
    /// Nanoseconds of media in them (their durations summed).
    pub media_ns: u64,
    /// Frames dropped for want of a key frame to start a fragment on.
    pub dropped: u64,
}

/// Frame rate assumed for raw video of unknown rate when choosing the
/// encoder's key frame interval.
const RAW_FPS: u32 = 30;

/// Records `source` into video stream `stream` until the source ends or
/// `stop` is set; `on_fragment` sees each fragment once it is durable. The
/// fragment in progress when the source ends, fails or is stopped is
/// appended too.
///
/// H.264 and H.265 are kept as they come (parsed, not re-encoded); a
/// `test:` pattern and a camera giving raw frames are encoded with
/// `x264enc` (a key frame every fragment length), as there is nothing
/// encoded to keep. A file's frames are stamped
/// [`PutOptions::start_time_ns`] plus their pts; a live source's with its
/// own clock (RTCP/NTP sender reports), else their arrival time.
///
/// # Errors
/// [`crate::VideoError::Config`] for a zero fragment length,
/// [`crate::VideoError::Store`] when the stream does not exist or an
/// append fails, [`crate::VideoError::Unsupported`] for video in another
/// codec, and the decoder's errors for a source that cannot be opened.
pub fn put(
    source: &SourceSpec,
    store: &VideoStore,
    stream: &str,
    options: &PutOptions,
    stop: &AtomicBool,
    on_fragment: &mut dyn FnMut(&FragmentMeta),
) -> Result<PutSummary, crate::VideoError> {
    if options.fragment.is_zero() {
        return Err(crate::VideoError::Config(
            "the fragment length must be above zero".into(),
        ));
    }
    store.describe(stream)?;
    let fps = match Origin::of(source)? {
        Origin::Test(pattern) => pattern.fps(),
        Origin::Uri(_) => RAW_FPS,
    };
    let key_int = (f64::from(fps) * options.fragment.as_secs_f64()).ceil();
    let key_int = if key_int >= 1.0 { key_int as u32 } else { 1 };
    let start_ns = options
        .start_time_ns
        .unwrap_or_else(|| (crate::wall_clock::now() * 1e9) as u64);
    let mut encoded = EncodedSource::open(source, start_ns, key_int)?;
    tracing::debug!(input = %source.redacted(), live = encoded.is_live(), "Recording.");
    let mut cutter = Fragmenter::new(options.fragment);
    let mut summary = PutSummary::default();
    let mut append = |fragment: FragmentIn, summary: &mut PutSummary| {
        let meta = store.append(stream, fragment)?;
        summary.fragments += 1;
        summary.frames += u64::from(meta.frames);
        summary.bytes += meta.size;
        summary.media_ns += meta.duration_ns;
        on_fragment(&meta);
        Ok::<_, crate::VideoError>(())
    };
    let ended = loop {
        match encoded.next(stop) {
            Ok(Some((track, frame))) => {
                if let Some(fragment) = cutter.push(&track, frame) {
                    append(fragment, &mut summary)?;
                }
            }
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    drop(encoded);
    if let Some(fragment) = cutter.finish() {
        append(fragment, &mut summary)?;
    }
    summary.dropped = cutter.dropped();
    ended.map(|()| summary)
}
