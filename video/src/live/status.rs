//! [`SourceStatus`]: what a running source is doing, shared between its
//! threads and whoever watches it (the server's `/api/sources`, `/metrics`,
//! the dashboard's latest frame).
//!
//! The decode thread counts the frames it hands over (before the
//! drop-oldest queue) and the queue's depth; the supervisor counts the
//! frames analysed and dropped, the connections made and lost, and keeps
//! a copy of the last frame of each chunk it analyses. Each update is a
//! few atomics and one short lock a chunk (the per-second ring of
//! [`Rates`]; the kept frame is copied outside any lock the readers take),
//! and moves the source's [`crate::metrics`] in step. Readers take a
//! [`SourceSnapshot`] or the latest frame as a JPEG at any time
//! ([`SourceStatus::latest_jpeg`], converted only on request), without
//! holding the source back.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use metrics::{Counter, Gauge};
use osprey_kernels::{FrameView, OwnedFrame};

use super::rates::Rates;
use crate::decode_thread::OpenedStream;
use crate::metrics as names;

/// JPEG quality of the latest frame.
const LATEST_QUALITY: u8 = 80;

/// The live state of one source of a [`super::Runner`].
pub struct SourceStatus {
    up: AtomicBool,
    decoded: AtomicU64,
    analyzed: AtomicU64,
    dropped: AtomicU64,
    reconnects: AtomicU32,
    /// The last analysed frame's wall-clock time as `f64` bits; `NO_TIME`
    /// before the first.
    last_frame_ts: AtomicU64,
    stream: Mutex<StreamFacts>,
    rates: Mutex<Rates>,
    /// The last analysed frame, as decoded; readers clone the `Arc`.
    latest: Mutex<Option<Arc<OwnedFrame>>>,
    /// The frame kept before it: refilled in place by the next chunk when
    /// no reader still holds it.
    spare: Mutex<Option<Arc<OwnedFrame>>>,
    handles: Handles,
}

/// `last_frame_ts` before any frame (a NaN no clock gives).
const NO_TIME: u64 = u64::MAX;

/// What the opened stream and the backend say.
#[derive(Debug, Default)]
struct StreamFacts {
    codec: Option<String>,
    size: Option<(u32, u32)>,
    decoder: Option<String>,
    backend: String,
}

/// The source's metrics, made once with its `source` label.
struct Handles {
    decoded: Counter,
    analyzed: Counter,
    dropped: Counter,
    reconnects: Counter,
    up: Gauge,
    queue: Gauge,
}

impl Handles {
    fn of(source: &str) -> Self {
        let label = [("source", source.to_owned())];
        Handles {
            decoded: metrics::counter!(names::FRAMES_DECODED, &label),
            analyzed: metrics::counter!(names::FRAMES_ANALYZED, &label),
            dropped: metrics::counter!(names::FRAMES_DROPPED, &label),
            reconnects: metrics::counter!(names::SOURCE_RECONNECTS, &label),
            up: metrics::gauge!(names::SOURCE_UP, &label),
            queue: metrics::gauge!(names::QUEUE_FRAMES, &label),
        }
    }
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

impl std::fmt::Debug for SourceStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceStatus")
            .field("snapshot", &self.snapshot())
            .finish_non_exhaustive()
    }
}

impl Default for SourceStatus {
    /// A status whose metrics go nowhere (no `source` label to give them).
    fn default() -> Self {
        SourceStatus::with_handles(
            String::new(),
            Handles {
                decoded: Counter::noop(),
                analyzed: Counter::noop(),
                dropped: Counter::noop(),
                reconnects: Counter::noop(),
                up: Gauge::noop(),
                queue: Gauge::noop(),
            },
        )
    }
}

/// Locks `mutex`: every update under these locks is one step, so a
/// poisoned one is still consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SourceStatus {
    /// The status of source `name` analysed on `backend` (its label),
    /// down and with nothing counted; its metrics carry
    /// `source="NAME"`.
    pub fn new(name: &str, backend: String) -> Self {
        SourceStatus::with_handles(backend, Handles::of(name))
    }

    fn with_handles(backend: String, handles: Handles) -> Self {
        handles.up.set(0.0);
        SourceStatus {
            up: AtomicBool::new(false),
            decoded: AtomicU64::new(0),
            analyzed: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            reconnects: AtomicU32::new(0),
            last_frame_ts: AtomicU64::new(NO_TIME),
            stream: Mutex::new(StreamFacts {
                backend,
                ..StreamFacts::default()
            }),
            rates: Mutex::new(Rates::new(Instant::now())),
            latest: Mutex::new(None),
            spare: Mutex::new(None),
            handles,
        }
    }

    /// The state now.
    pub fn snapshot(&self) -> SourceSnapshot {
        let (fps_in, fps_analyzed) = lock(&self.rates).per_second(Instant::now());
        let stream = lock(&self.stream);
        let ts = self.last_frame_ts.load(Ordering::Relaxed);
        SourceSnapshot {
            up: self.up.load(Ordering::Relaxed),
            codec: stream.codec.clone(),
            size: stream.size,
            decoder: stream.decoder.clone(),
            backend: stream.backend.clone(),
            frames_decoded: self.decoded.load(Ordering::Relaxed),
            frames_analyzed: self.analyzed.load(Ordering::Relaxed),
            frames_dropped: self.dropped.load(Ordering::Relaxed),
            fps_in,
            fps_analyzed,
            last_frame_ts: (ts != NO_TIME).then(|| f64::from_bits(ts)),
            reconnects: self.reconnects.load(Ordering::Relaxed),
        }
    }

    /// The latest analysed frame as a JPEG (quality 80) at most
    /// `max_width` pixels wide (aspect kept; never wider than the frame),
    /// or `None` before the first frame. Converted now (BT.601 limited
    /// range), on the caller's thread, from a copy of the frame as decoded.
    pub fn latest_jpeg(&self, max_width: u32) -> Option<Vec<u8>> {
        let frame = lock(&self.latest).clone()?;
        match crate::analysis::frame_jpeg(&frame.view(), max_width, LATEST_QUALITY) {
            Ok(jpeg) => Some(jpeg),
            Err(error) => {
                tracing::debug!(%error, "Cannot encode the latest frame.");
                None
            }
        }
    }

    /// A connection is open: what its stream is; the source is up.
    pub(crate) fn opened(&self, stream: &OpenedStream) {
        let mut facts = lock(&self.stream);
        facts.codec.clone_from(&stream.codec);
        facts.decoder.clone_from(&stream.decoder);
        facts.size = stream.size.or(facts.size);
        drop(facts);
        self.set_up(true);
    }

    /// The source is down (it failed, or it ended).
    pub(crate) fn down(&self) {
        self.set_up(false);
    }

    /// The source has ended: down, with nothing queued.
    pub(crate) fn ended(&self) {
        self.set_up(false);
        self.handles.queue.set(0.0);
    }

    fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::Relaxed);
        self.handles.up.set(if up { 1.0 } else { 0.0 });
    }

    /// The source is connecting again after a failure.
    pub(crate) fn reconnected(&self) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
        self.handles.reconnects.increment(1);
    }

    /// The decoder handed over `frames` frames; `queued` frames now wait
    /// for the kernels.
    pub(crate) fn decoded(&self, frames: usize, queued: usize) {
        self.decoded.fetch_add(frames as u64, Ordering::Relaxed);
        self.handles.decoded.increment(frames as u64);
        self.handles.queue.set(queued as f64);
        lock(&self.rates).add(Instant::now(), frames, 0);
    }

    /// The kernels analysed `frames` frames, the last of them `last` (kept
    /// as the latest frame) at wall-clock time `ts`.
    pub(crate) fn analyzed(&self, frames: usize, last: Option<&FrameView<'_>>, ts: f64) {
        self.analyzed.fetch_add(frames as u64, Ordering::Relaxed);
        self.handles.analyzed.increment(frames as u64);
        self.last_frame_ts.store(ts.to_bits(), Ordering::Relaxed);
        lock(&self.rates).add(Instant::now(), 0, frames);
        if let Some(view) = last {
            self.keep(view);
        }
    }

    /// Copies `view` as the latest frame: into the spare frame when no
    /// reader holds it any more (no allocation), else into a new one.
    fn keep(&self, view: &FrameView<'_>) {
        let spare = lock(&self.spare).take();
        let kept = match spare {
            Some(mut frame) => match Arc::get_mut(&mut frame) {
                Some(owned) => {
                    owned.copy_from(view);
                    frame
                }
                None => Arc::new(OwnedFrame::from_view(view)),
            },
            None => Arc::new(OwnedFrame::from_view(view)),
        };
        let previous = lock(&self.latest).replace(kept);
        *lock(&self.spare) = previous;
    }

    /// `total` frames have been dropped before the kernels so far.
    pub(crate) fn dropped_total(&self, total: u64) {
        let before = self.dropped.fetch_max(total, Ordering::Relaxed);
        if total > before {
            self.handles.dropped.increment(total - before);
        }
    }
}
