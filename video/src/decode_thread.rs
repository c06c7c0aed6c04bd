//! Decoding on its own thread, so that decode and kernels overlap.
//!
//! The [`Decoder`] is opened and driven on an `osprey-decode` thread and hands
//! chunks to the analysis loop through a bounded channel: decode runs a few
//! chunks ahead, and memory stays bounded when the kernels are slower. The
//! decoder never leaves its thread, so it need not be `Send`; only chunks
//! cross. Dropping the [`DecodeThread`] closes the channel, which stops the
//! thread at its next chunk.

use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::JoinHandle;

use crate::{DecodeOptions, Decoder, FrameChunk, VideoError};

/// What the decoder knows about the stream once it is open.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenedStream {
    /// Frames a second, when the caps say.
    pub frame_rate: Option<f64>,
    /// Duration in seconds, when known.
    pub duration: Option<f64>,
    /// Width and height of the first frame, when one was decoded.
    pub size: Option<(u32, u32)>,
}

impl OpenedStream {
    /// Expected number of frames (for a progress bar), when the frame rate
    /// and the duration are known.
    pub fn expected_frames(&self) -> Option<u64> {
        let frames = self.frame_rate? * self.duration?;
        (frames.is_finite() && frames >= 1.0).then(|| frames.round() as u64)
    }
}

/// A decoder running on its own thread.
#[derive(Debug)]
pub struct DecodeThread {
    chunks: Option<Receiver<Result<FrameChunk, VideoError>>>,
    handle: Option<JoinHandle<()>>,
    opened: OpenedStream,
}

impl DecodeThread {
    /// Starts decoding `input` with `depth` chunks of read-ahead, and waits
    /// until the input is open.
    ///
    /// # Errors
    /// The decoder's open error; [`VideoError::DecodeThread`] when the thread
    /// cannot be started; [`VideoError::Internal`] when it panicked.
    pub fn spawn(input: &str, options: DecodeOptions, depth: usize) -> Result<Self, VideoError> {
        let (open_tx, open_rx) = sync_channel::<Result<OpenedStream, VideoError>>(1);
        let (chunk_tx, chunk_rx) = sync_channel(depth);
        let owned = input.to_owned();
        let handle = std::thread::Builder::new()
            .name("osprey-decode".into())
            .spawn(move || {
                let mut decoder = match Decoder::open(&owned, options) {
                    Ok(d) => d,
                    Err(e) => {
                        let _ = open_tx.send(Err(e));
                        return;
                    }
                };
                let info = OpenedStream {
                    frame_rate: decoder.frame_rate(),
                    duration: decoder.duration(),
                    size: decoder.info().map(|i| (i.width, i.height)),
                };
                if open_tx.send(Ok(info)).is_err() {
                    return;
                }
                loop {
                    let next = decoder.next_chunk();
                    let last = !matches!(next, Ok(Some(_)));
                    let sent = match next {
                        Ok(Some(chunk)) => chunk_tx.send(Ok(chunk)),
                        Ok(None) => return,
                        Err(e) => chunk_tx.send(Err(e)),
                    };
                    // A closed channel means the reader stopped (an error, a
                    // closed pipe): stop decoding.
                    if last || sent.is_err() {
                        return;
                    }
                }
            })
            .map_err(VideoError::DecodeThread)?;
        let mut this = DecodeThread {
            chunks: Some(chunk_rx),
            handle: Some(handle),
            opened: OpenedStream::default(),
        };
        match open_rx.recv() {
            Ok(Ok(info)) => {
                this.opened = info;
                Ok(this)
            }
            Ok(Err(e)) => Err(e),
            // The thread ended without a word: it panicked.
            Err(_) => Err(this.join().err().unwrap_or_else(|| {
                VideoError::Internal("the decode thread ended before opening the input".into())
            })),
        }
    }

    /// What the decoder knows about the stream.
    pub fn opened(&self) -> OpenedStream {
        self.opened
    }

    /// The next chunk, `None` at the end of the stream.
    ///
    /// # Errors
    /// The decoder's error; a panic of the decode thread as
    /// [`VideoError::Internal`].
    pub fn next_chunk(&mut self) -> Result<Option<FrameChunk>, VideoError> {
        let received = match &self.chunks {
            Some(rx) => rx.recv(),
            None => return Ok(None),
        };
        match received {
            Ok(Ok(chunk)) => Ok(Some(chunk)),
            Ok(Err(e)) => Err(e),
            Err(_) => {
                // The channel is closed: the thread has ended, normally or by
                // a panic.
                self.join()?;
                Ok(None)
            }
        }
    }

    /// Stops the thread (if it still runs) and waits for it.
    fn join(&mut self) -> Result<(), VideoError> {
        self.chunks = None;
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
        // Closing the channel stops a thread waiting to send. It is not joined
        // here: on an error path it may sit in a live source waiting for the
        // next frame, and the process is about to end anyway.
        self.chunks = None;
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
