//! Recording: an encoded H.264/H.265 stream taken as it came (parsed, never
//! re-encoded), cut at key frames into fragments of about
//! [`PutOptions::fragment`] and appended to a video stream of the store
//! ([`osprey_ingest::video::VideoStore`]).
//!
//! [`Fragmenter`] is the cutting, on its own (the KVS API's PutMedia uses it
//! too); [`put`] records any source (a file, RTSP, a camera) into a stream,
//! reconnecting a live source that drops under the live sources' backoff
//! ([`crate::live::Supervision`]): each connection is a run of fragments of
//! its own, starting on a key frame, fragment numbers growing on (the time
//! between two runs shows as a discontinuity in HLS playlists).

mod branch;
mod fragmenter;
mod source;
mod tap;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use osprey_ingest::video::{FragmentIn, FragmentMeta, VideoStore};

pub use fragmenter::{Fragmenter, MAX_FRAGMENT_BYTES};
pub use tap::{RecordTap, Recorder, RecorderCounts};

use crate::live::Supervision;
use crate::live::backoff::{Backoff, Retry};
use crate::pipeline_source::Origin;
use crate::source::SourceSpec;
use crate::source::redact;
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
    /// For a live source: how a dropped or stalled connection is retried
    /// (default [`Supervision::live`]: for ever, backoff from 1 s to 30 s).
    pub supervision: Supervision,
}

impl Default for PutOptions {
    fn default() -> Self {
        PutOptions {
            fragment: DEFAULT_FRAGMENT,
            start_time_ns: None,
            supervision: Supervision::live(),
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

/// Records `source` into video stream `stream` until a file ends, or
/// `stop` is set; `on_fragment` sees each fragment once it is durable. The
/// fragment in progress when a connection ends, fails or is stopped is
/// appended too. A live source that ends, fails or stalls
/// ([`Supervision::stall_timeout`]) is connected again after the backoff of
/// [`PutOptions::supervision`], until its `retry_for` runs out
/// ([`crate::VideoError::GaveUp`]).
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
    let origin = Origin::of(source)?;
    let fps = match &origin {
        Origin::Test(pattern) => pattern.fps(),
        Origin::Uri(_) => RAW_FPS,
    };
    let key_int = (f64::from(fps) * options.fragment.as_secs_f64()).ceil();
    let key_int = if key_int >= 1.0 { key_int as u32 } else { 1 };
    let start_ns = options
        .start_time_ns
        .unwrap_or_else(|| (crate::wall_clock::now() * 1e9) as u64);
    let live = origin.is_live_kind();
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
    let supervision = &options.supervision;
    let seed = crate::wall_clock::now().to_bits();
    let mut backoff = Backoff::new(supervision, seed);
    let (mut attempt, mut failing_since) = (0_u32, None::<Instant>);
    let stall = live.then_some(supervision.stall_timeout);
    let ended = loop {
        // One connection: its fragments, then the one in progress.
        let mut flowed = false;
        let connection = EncodedSource::open(source, start_ns, key_int).and_then(|mut encoded| {
            tracing::debug!(input = %source.redacted(), live = encoded.is_live(), "Recording.");
            loop {
                match encoded.next(stop, stall)? {
                    Some((track, frame)) => {
                        flowed = true;
                        if let Some(fragment) = cutter.push(&track, frame) {
                            append(fragment, &mut summary)?;
                        }
                    }
                    None => return Ok(()),
                }
            }
        });
        // A connection's last fragment ends with it: the next connection
        // starts a fragment of its own, on a key frame.
        if let Some(fragment) = cutter.finish() {
            append(fragment, &mut summary)?;
        }
        // Only the source's own failures are worth a new connection: a
        // store that refuses, or a codec not kept, ends the put.
        let source_failed = matches!(
            &connection,
            Ok(()) | Err(crate::VideoError::Open { .. } | crate::VideoError::Decode { .. })
        );
        if !live || !source_failed || stop.load(Ordering::Relaxed) {
            break connection;
        }
        // A live source that ended or failed: connect again after a while.
        if flowed {
            (attempt, failing_since) = (0, None);
            backoff.reset();
        }
        attempt += 1;
        let since = *failing_since.get_or_insert_with(Instant::now);
        let (reason, retry) = match &connection {
            Ok(()) => ("the stream ended".to_owned(), Retry::Soon),
            Err(e) => (redact(&e.to_string()), Retry::after(e)),
        };
        let delay = backoff.next_delay(retry);
        if supervision
            .retry_for
            .is_some_and(|limit| since.elapsed() + delay > limit)
        {
            break Err(match connection {
                Err(e) if supervision.retry_for == Some(Duration::ZERO) => e,
                _ => crate::VideoError::GaveUp {
                    input: source.redacted(),
                    attempts: attempt,
                    last: reason,
                },
            });
        }
        tracing::warn!(input = %source.redacted(), %reason, attempt, retry_in = ?delay, "Recording source down; reconnecting.");
        if osprey_ingest::stop::sleep_unless_stopped(stop, delay) {
            break Ok(());
        }
    };
    summary.dropped = cutter.dropped();
    ended.map(|()| summary)
}
