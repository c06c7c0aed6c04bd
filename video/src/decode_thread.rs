//! Decoding on its own thread, so that decode and kernels overlap.
//!
//! The [`Decoder`] is opened and driven on an `osprey-decode` thread and hands
//! chunks to the analysis through a bounded queue
//! ([`crate::live::queue`]): decode runs a few chunks ahead, and memory
//! stays bounded when the kernels are slower. A file's decoder then waits
//! (no frame is lost); a live source's queue drops its oldest chunks
//! instead (counted: [`DecodeThread::dropped_frames`]), so analysis keeps up
//! with the present. The decoder never leaves its thread, so it need not be
//! `Send`; only chunks cross.
//!
//! [`DecodeThread::spawn`] waits until the input is open (a file's analysis
//! checks its zones against the first frame); the supervisor of a live
//! source starts one without waiting ([`DecodeThread::start`]) and
//! receives the opening, the chunks and the end with a timeout
//! ([`DecodeThread::receive`]), so that a camera that never answers is
//! noticed as stalled. Dropping the [`DecodeThread`] closes the queue and
//! cancels the decoder's wait ([`DecodeOptions::cancel`]), which stops the
//! thread within about 50 ms; it is not joined.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::live::SourceStatus;
use crate::live::queue::{self, Consumer, Full, Pop, Producer, Weight};
use crate::source::SourceSpec;
use crate::{DecodeOptions, Decoder, FrameChunk, VideoError};

/// What the decoder knows about the stream once it is open.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OpenedStream {
    /// Frames a second, when the caps say.
    pub frame_rate: Option<f64>,
    /// Duration in seconds, when known.
    pub duration: Option<f64>,
    /// Width and height of the first frame, when one was decoded.
    pub size: Option<(u32, u32)>,
    /// A live source (camera, RTSP, test pattern): its end is a failure to
    /// supervise, not the end of the work.
    pub live: bool,
    /// The codec negotiated (`h264`, ...), when the decoder says.
    pub codec: Option<String>,
    /// The GStreamer decoder element in use, when the decoder says.
    pub decoder: Option<String>,
}

impl OpenedStream {
    /// Expected number of frames (for a progress bar), when the frame rate
    /// and the duration are known.
    pub fn expected_frames(&self) -> Option<u64> {
        let frames = self.frame_rate? * self.duration?;
        (frames.is_finite() && frames >= 1.0).then(|| frames.round() as u64)
    }
}

/// What the decode thread hands over, in order: the opening (or the error
/// that prevented it), chunks, and an error if decoding failed.
#[derive(Debug)]
pub(crate) enum Delivery {
    /// The input is open.
    Opened(OpenedStream),
    /// Decoded frames.
    Chunk(FrameChunk),
    /// Opening or decoding failed; nothing follows.
    Failed(VideoError),
}

impl Weight for Delivery {
    fn weight(&self) -> usize {
        match self {
            Delivery::Chunk(chunk) => chunk.len(),
            Delivery::Opened(_) | Delivery::Failed(_) => 0,
        }
    }
}

/// What [`DecodeThread::receive`] found.
#[derive(Debug)]
pub(crate) enum Received {
    /// The next delivery.
    Delivery(Delivery),
    /// Nothing within the timeout.
    Waiting,
    /// The stream ended (after every chunk was received).
    End,
}

/// How many frames may wait between decoder and kernels.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QueueSize {
    /// A file's read-ahead: its decoder waits past this.
    pub(crate) read_ahead_frames: usize,
    /// A live source's: the oldest are dropped past this.
    pub(crate) live_frames: usize,
}

/// A decoder running on its own thread.
pub struct DecodeThread {
    queue: Option<Consumer<Delivery>>,
    /// Set when the thread is dropped: the decoder stops waiting for frames.
    cancel: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    opened: OpenedStream,
}

impl std::fmt::Debug for DecodeThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecodeThread")
            .field("opened", &self.opened)
            .field("running", &self.queue.is_some())
            .finish()
    }
}

impl DecodeThread {
    /// Starts decoding `input` with `depth` chunks of read-ahead, and waits
    /// until the input is open.
    ///
    /// # Errors
    /// The decoder's open error; [`VideoError::DecodeThread`] when the thread
    /// cannot be started; [`VideoError::Internal`] when it panicked.
    pub fn spawn(input: &str, options: DecodeOptions, depth: usize) -> Result<Self, VideoError> {
        let frames = depth.max(1).saturating_mul(options.chunk_frames.max(1));
        let size = QueueSize {
            read_ahead_frames: frames,
            live_frames: frames,
        };
        let mut this = DecodeThread::start(&SourceSpec::new(input), options, size, None)?;
        loop {
            match this.receive(Duration::from_secs(3600))? {
                Received::Delivery(Delivery::Opened(info)) => {
                    this.opened = info;
                    return Ok(this);
                }
                Received::Delivery(Delivery::Failed(e)) => return Err(e),
                Received::Delivery(Delivery::Chunk(_)) | Received::Waiting => {}
                Received::End => {
                    return Err(VideoError::Internal(
                        "the decode thread ended before opening the input".into(),
                    ));
                }
            }
        }
    }

    /// Starts decoding `spec` without waiting: the opening comes first
    /// through [`DecodeThread::receive`]. With a `status`, the frames
    /// handed over and the queue's depth are counted there.
    pub(crate) fn start(
        spec: &SourceSpec,
        mut options: DecodeOptions,
        size: QueueSize,
        status: Option<Arc<SourceStatus>>,
    ) -> Result<Self, VideoError> {
        let cancel = Arc::clone(options.cancel.get_or_insert_default());
        let (tx, rx) = queue::channel(size.read_ahead_frames, Full::Block);
        let spec = spec.clone();
        let handle = std::thread::Builder::new()
            .name("osprey-decode".into())
            .spawn(move || decode(&spec, options, size, &tx, status.as_deref()))
            .map_err(VideoError::DecodeThread)?;
        Ok(DecodeThread {
            queue: Some(rx),
            cancel,
            handle: Some(handle),
            opened: OpenedStream::default(),
        })
    }

    /// What the decoder knows about the stream (once [`DecodeThread::spawn`]
    /// has returned).
    pub fn opened(&self) -> OpenedStream {
        self.opened.clone()
    }

    /// Frames of a live source dropped because analysis fell behind.
    pub fn dropped_frames(&self) -> u64 {
        self.queue.as_ref().map_or(0, Consumer::dropped)
    }

    /// The next chunk, `None` at the end of the stream.
    ///
    /// # Errors
    /// The decoder's error; a panic of the decode thread as
    /// [`VideoError::Internal`].
    pub fn next_chunk(&mut self) -> Result<Option<FrameChunk>, VideoError> {
        loop {
            match self.receive(Duration::from_secs(3600))? {
                Received::Delivery(Delivery::Chunk(chunk)) => return Ok(Some(chunk)),
                Received::Delivery(Delivery::Failed(e)) => return Err(e),
                Received::Delivery(Delivery::Opened(info)) => self.opened = info,
                Received::Waiting => {}
                Received::End => return Ok(None),
            }
        }
    }

    /// The next delivery, waiting at most `timeout`.
    ///
    /// # Errors
    /// A panic of the decode thread as [`VideoError::Internal`].
    pub(crate) fn receive(&mut self, timeout: Duration) -> Result<Received, VideoError> {
        let popped = match &self.queue {
            Some(rx) => rx.pop(timeout),
            None => return Ok(Received::End),
        };
        match popped {
            Pop::Item(delivery) => Ok(Received::Delivery(delivery)),
            Pop::Empty => Ok(Received::Waiting),
            Pop::Closed => {
                // The thread has ended, normally or by a panic.
                self.join()?;
                Ok(Received::End)
            }
        }
    }

    /// Stops the thread (if it still runs) and waits for it.
    fn join(&mut self) -> Result<(), VideoError> {
        self.queue = None;
        match self.handle.take() {
            Some(handle) => handle
                .join()
                .map_err(|_| VideoError::Internal("the decode thread panicked".into())),
            None => Ok(()),
        }
    }
}

impl Drop for DecodeThread {
    fn drop(&mut self) {
        // Closing the queue stops a thread waiting to hand over a chunk;
        // cancelling stops one waiting for a frame (within about 50 ms). It
        // is not joined here: a stalled source need not hold up its caller.
        self.cancel.store(true, Ordering::Relaxed);
        self.queue = None;
    }
}

/// The decode thread: opens `spec`, then hands over chunks until the end,
/// an error, or the consumer going away, counting them in `status`.
fn decode(
    spec: &SourceSpec,
    options: DecodeOptions,
    size: QueueSize,
    tx: &Producer<Delivery>,
    status: Option<&SourceStatus>,
) {
    osprey_kernels::priority::run_below_process(options.nice);
    let mut decoder = match Decoder::open_spec(spec, options) {
        Ok(d) => d,
        Err(e) => {
            let _ = tx.push(Delivery::Failed(e));
            return;
        }
    };
    let info = OpenedStream {
        frame_rate: decoder.frame_rate(),
        duration: decoder.duration(),
        size: decoder.info().map(|i| (i.width, i.height)),
        live: decoder.is_live(),
        codec: decoder.codec(),
        decoder: decoder.decoder_name(),
    };
    if info.live {
        tx.set_policy(size.live_frames, Full::DropOldest);
    }
    if tx.push(Delivery::Opened(info)).is_err() {
        return;
    }
    loop {
        let sent = match decoder.next_chunk() {
            Ok(Some(chunk)) => {
                let frames = chunk.len();
                let sent = tx.push(Delivery::Chunk(chunk));
                if let Some(status) = status
                    && sent.is_ok()
                {
                    status.decoded(frames, tx.held());
                }
                sent
            }
            Ok(None) => return,
            Err(e) => {
                let _ = tx.push(Delivery::Failed(e));
                return;
            }
        };
        // A closed queue means the reader stopped (an error, a closed pipe,
        // a source torn down): stop decoding.
        if sent.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_frames_needs_both_figures() {
        let mut info = OpenedStream::default();
        assert_eq!(info.expected_frames(), None);
        info.frame_rate = Some(25.0);
        assert_eq!(info.expected_frames(), None);
        info.duration = Some(6.0);
        assert_eq!(info.expected_frames(), Some(150));
        info.duration = Some(f64::NAN);
        assert_eq!(info.expected_frames(), None);
    }
}
