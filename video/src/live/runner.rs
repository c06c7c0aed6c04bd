//! [`Runner`]: many sources in one process.
//!
//! Each [`LiveSource`] runs on its own threads: a decode thread (replaced
//! at each reconnection) and an `osprey-src` thread that supervises it and
//! runs the kernels on its chunks (see [`super::supervisor`]). Their
//! backends are all made from the one [`Device`], so on a GPU every
//! source's kernel work goes to the one adapter. Sources share nothing else
//! but the bounded channel of [`RunnerMessage`]s to the caller, whose
//! writing is the only shared step: a slow or dead source never delays the
//! others, and a caller that cannot keep up holds back the analysis
//! threads, whose live sources then drop their oldest frames (counted)
//! rather than queue them.
//!
//! # Example
//! ```no_run
//! use std::sync::Arc;
//! use std::sync::atomic::AtomicBool;
//! use osprey_video::analysis::AnalysisOptions;
//! use osprey_video::live::{LiveOptions, LiveSource, RecordVolume, Runner, RunnerMessage, Supervision};
//! use osprey_video::source::SourceSpec;
//!
//! let device = osprey_kernels::Device::open(osprey_kernels::BackendChoice::Cpu)?;
//! let source = LiveSource {
//!     name: "cam1".into(),
//!     spec: SourceSpec::new("rtsp://127.0.0.1:8554/cam1"),
//!     analysis: AnalysisOptions::default(),
//!     supervision: Supervision::live(),
//!     live: LiveOptions::default(),
//!     volume: RecordVolume::All,
//!     record: None,
//! };
//! let stop = Arc::new(AtomicBool::new(false));
//! let mut runner = Runner::start(vec![source], &device, stop)?;
//! while let Some(message) = runner.next() {
//!     if let RunnerMessage::Records { lines, .. } = message {
//!         std::io::Write::write_all(&mut std::io::stdout(), &lines)?;
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::JoinHandle;

use osprey_kernels::Device;

use super::status::SourceStatus;
use super::supervisor::Supervisor;
use super::{LiveOptions, RecordVolume, Supervision};
use crate::VideoError;
use crate::analysis::{AnalysisOptions, EventCounts, Thumbnails};
use crate::decode_thread::OpenedStream;
use crate::source::SourceSpec;

/// Messages a source may have waiting for the caller before it waits.
const MESSAGES_PER_SOURCE: usize = 4;

/// One source of a [`Runner`].
#[derive(Debug, Clone)]
pub struct LiveSource {
    /// The name records give as their `source` (give it without a
    /// password: see [`crate::source::redact`]).
    pub name: String,
    /// What to open.
    pub spec: SourceSpec,
    /// Kernels, detectors, zones, thumbnails, chunk size.
    pub analysis: AnalysisOptions,
    /// Reconnection: stall timeout, backoff, how long to retry
    /// ([`Supervision::file`] for files: no retries).
    pub supervision: Supervision,
    /// The bounds on a live source's work (detect rate, latency, queue).
    pub live: LiveOptions,
    /// Which records leave.
    pub volume: RecordVolume,
    /// Record the source's encoded stream into a video stream, from the
    /// same connection ([`crate::record::Recorder::tap`]); `None` records
    /// nothing.
    pub record: Option<crate::record::RecordTap>,
}

/// What a [`Runner`] hands its caller.
#[derive(Debug)]
pub enum RunnerMessage {
    /// A source is open (the first time): what the decoder knows (for a
    /// progress bar).
    Opened {
        /// Index into the sources given to [`Runner::start`].
        source: usize,
        /// What the decoder knows about the stream.
        stream: OpenedStream,
    },
    /// Whole NDJSON lines of one source: the records of one chunk (after
    /// the [`RecordVolume`] filter), or status records.
    Records {
        /// Index into the sources given to [`Runner::start`].
        source: usize,
        /// One record a line, each ending in `\n`.
        lines: Vec<u8>,
        /// Frames analysed for these records (0 for status records).
        frames: usize,
    },
    /// A source ended: its totals, or the error that ended it (a file's
    /// decode error, [`VideoError::GaveUp`] when a live source's retry time
    /// ran out). It is the source's last message.
    Ended {
        /// Index into the sources given to [`Runner::start`].
        source: usize,
        /// What it did, or why it failed.
        result: Result<SourceTotals, VideoError>,
    },
}

/// What one source of a [`Runner`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceTotals {
    /// Frames analysed.
    pub frames: u64,
    /// Events written, by type.
    pub events: EventCounts,
    /// Frames dropped before the kernels because analysis fell behind.
    pub dropped_frames: u64,
    /// Reconnections made after failures.
    pub reconnects: u32,
    /// The backend's label.
    pub backend: String,
}

/// Many sources analysed at once, each on its own threads.
pub struct Runner {
    messages: Receiver<RunnerMessage>,
    threads: Vec<JoinHandle<()>>,
    /// Each source's live state, in the order given to [`Runner::start`].
    statuses: Vec<Arc<SourceStatus>>,
    /// Set when the runner is dropped: the sources stop.
    abandoned: Arc<AtomicBool>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("sources", &self.threads.len())
            .finish_non_exhaustive()
    }
}

impl Runner {
    /// Starts every source on its own threads (decode, supervision and
    /// analysis), with backends made from the one `device`. Setting `stop`
    /// (SIGINT, SIGTERM) ends every source: its open events are closed
    /// (`eos`) and it ends with its totals, within about a second.
    ///
    /// # Errors
    /// A thumbnail folder that cannot be written
    /// ([`VideoError::ThumbnailFolder`]), a backend that cannot be made
    /// ([`VideoError::Backend`]), a thread that cannot start
    /// ([`VideoError::DecodeThread`]); nothing has started then.
    pub fn start(
        sources: Vec<LiveSource>,
        device: &Device,
        stop: Arc<AtomicBool>,
    ) -> Result<Runner, VideoError> {
        let label = if device.is_gpu() { "gpu" } else { "cpu" };
        let mut prepared = Vec::with_capacity(sources.len());
        for source in sources {
            let thumbnails = match &source.analysis.thumbnails {
                Some(t) => Some(Thumbnails::new(t.dir.clone(), t.width)?),
                None => None,
            };
            let backend = device
                .frame_backend(source.analysis.backend.clone())
                .map_err(|e| VideoError::Backend {
                    label: label.into(),
                    source: e,
                })?;
            prepared.push((source, thumbnails, backend));
        }
        let (tx, rx) = sync_channel(MESSAGES_PER_SOURCE * prepared.len().max(1));
        let abandoned = Arc::new(AtomicBool::new(false));
        let mut runner = Runner {
            messages: rx,
            threads: Vec::with_capacity(prepared.len()),
            statuses: Vec::with_capacity(prepared.len()),
            abandoned: Arc::clone(&abandoned),
        };
        for (index, (source, thumbnails, backend)) in prepared.into_iter().enumerate() {
            let status = Arc::new(SourceStatus::new(&source.name, backend.label()));
            runner.statuses.push(Arc::clone(&status));
            let supervisor = Supervisor::new(
                index,
                source,
                thumbnails,
                backend,
                tx.clone(),
                [Arc::clone(&stop), Arc::clone(&abandoned)],
                status,
            );
            let thread = std::thread::Builder::new()
                .name(format!("osprey-src-{index}"))
                .spawn(move || supervisor.run())
                .map_err(VideoError::DecodeThread)?;
            runner.threads.push(thread);
        }
        Ok(runner)
    }

    /// Each source's live state (decoded, analysed and dropped frames, up
    /// or down, the latest frame), in the order given to [`Runner::start`].
    pub fn statuses(&self) -> &[Arc<SourceStatus>] {
        &self.statuses
    }

    /// The next message from any source; blocks until one comes. `None`
    /// once every source has ended.
    #[expect(
        clippy::should_implement_trait,
        reason = "blocking, and the interface the callers were promised; Runner is also an Iterator"
    )]
    pub fn next(&mut self) -> Option<RunnerMessage> {
        let message = self.messages.recv().ok();
        if message.is_none() {
            // Every source has ended and dropped its sender: reap threads.
            for thread in self.threads.drain(..) {
                let _ = thread.join();
            }
        }
        message
    }
}

impl Iterator for Runner {
    type Item = RunnerMessage;

    fn next(&mut self) -> Option<RunnerMessage> {
        Runner::next(self)
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        // Sources still running stop at their next look; they are not
        // joined, as one may be waiting on a camera.
        self.abandoned.store(true, Ordering::Relaxed);
    }
}
