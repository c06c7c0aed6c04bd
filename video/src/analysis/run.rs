//! [`Analysis`]: one source, from opening it to its last record.
//!
//! Three steps, so that a caller can do its own work between them and
//! nothing is made before the input is known to be good:
//! [`Analysis::open`] checks the thumbnail folder, starts the read-ahead
//! [`DecodeThread`] and checks the zones against the first frame;
//! [`OpenedInput::start`] takes the backend, which the caller opens while the
//! decoder fills its read-ahead; [`Analysis::next_chunk`] runs the backend
//! on one chunk, finishes its figures and events and hands the chunk's
//! records to the caller, and [`Analysis::finish`] closes the periods still
//! open at the end. [`Analysis::run`] does the last two in one call.
//!
//! An `Analysis` owns its decode thread, backend, detectors and thumbnail
//! buffers, and is `Send`: a server runs one per camera, each on its own
//! thread.

use tracing::debug;

use super::analyzer::Analyzer;
use super::counts::EventCounts;
use super::options::AnalysisOptions;
use super::record::Record;
use super::thumbnail::Thumbnails;
use crate::decode_thread::{DecodeThread, OpenedStream};
use crate::{DecodeOptions, VideoError};

/// Chunks decoded ahead of the kernels: enough to hide decode jitter, few
/// enough to bound memory. Each chunk holds its frames' decoder buffers, so
/// about `(READ_AHEAD_CHUNKS + 2) * chunk_frames` buffers are out at once.
const READ_AHEAD_CHUNKS: usize = 2;

/// An input that is open and checked, waiting for its backend.
#[derive(Debug)]
pub struct OpenedInput {
    source: String,
    options: AnalysisOptions,
    decode: DecodeThread,
    thumbnails: Option<Thumbnails>,
}

/// One analysis of one source, running.
pub struct Analysis {
    decode: DecodeThread,
    analyzer: Analyzer,
}

impl std::fmt::Debug for Analysis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analysis")
            .field("source", &self.analyzer.source())
            .field("backend", &self.analyzer.label())
            .field("frames", &self.analyzer.totals().frames)
            .finish_non_exhaustive()
    }
}

/// What one analysis did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// Frames analysed.
    pub frames: u64,
    /// Events written, by type.
    pub events: EventCounts,
}

impl Analysis {
    /// Opens `input` (a file path or URI) for an analysis whose records name
    /// `source`: makes sure the thumbnail folder can be written (before any
    /// decoding), starts decoding on its own thread, and refuses a detect
    /// size or zones that do not fit the first frame
    /// ([`AnalysisOptions::check_frame_size`]).
    ///
    /// # Errors
    /// [`VideoError::ThumbnailFolder`], the decoder's open errors
    /// ([`VideoError::Open`], [`VideoError::NoVideo`], ...),
    /// [`VideoError::Config`] and [`VideoError::ZoneOutsideFrame`].
    pub fn open(
        input: &str,
        source: impl Into<String>,
        options: AnalysisOptions,
    ) -> Result<OpenedInput, VideoError> {
        let thumbnails = match &options.thumbnails {
            Some(t) => Some(Thumbnails::new(t.dir.clone(), t.width)?),
            None => None,
        };
        let decode_options = DecodeOptions {
            chunk_frames: options.chunk_frames,
            ..DecodeOptions::default()
        };
        let decode = DecodeThread::spawn(input, decode_options, READ_AHEAD_CHUNKS)?;
        let opened = decode.opened();
        debug!(%input, frame_rate = ?opened.frame_rate, duration = ?opened.duration, "Input open.");
        if let Some((width, height)) = opened.size {
            options.check_frame_size(width, height)?;
        }
        Ok(OpenedInput {
            source: source.into(),
            options,
            decode,
            thumbnails,
        })
    }

    /// The name the records give as their `source`.
    pub fn source(&self) -> &str {
        self.analyzer.source()
    }

    /// The backend's label, as [`osprey_kernels::Backend::label`] gave it at
    /// the start.
    pub fn backend_label(&self) -> &str {
        self.analyzer.label()
    }

    /// Analyses the next chunk and hands its records to `out` in order:
    /// `error` records of damage before a frame, then each frame's `frame`
    /// record followed by its events, then damage after the last frame.
    /// Returns the chunk's frame count, or `None` at the end of the input
    /// (then call [`Analysis::finish`]).
    ///
    /// # Errors
    /// `out`'s errors; the decoder's; [`VideoError::Backend`] when the
    /// backend fails; thumbnail errors; [`VideoError::Internal`] for a
    /// broken invariant.
    pub fn next_chunk<E: From<VideoError>>(
        &mut self,
        out: &mut impl FnMut(&Record<'_>) -> Result<(), E>,
    ) -> Result<Option<usize>, E> {
        match self.decode.next_chunk()? {
            Some(chunk) => self.analyzer.analyze(&chunk, out).map(Some),
            None => Ok(None),
        }
    }

    /// Closes the periods still open after the last frame, hands their
    /// events (flagged `eos`) to `out`, and says what the analysis did.
    ///
    /// # Errors
    /// `out`'s errors.
    pub fn finish<E: From<VideoError>>(
        mut self,
        out: &mut impl FnMut(&Record<'_>) -> Result<(), E>,
    ) -> Result<Totals, E> {
        self.analyzer.close(out)?;
        Ok(self.analyzer.totals())
    }

    /// Analyses every chunk to the end of the input, then
    /// [`Analysis::finish`]es.
    ///
    /// # Errors
    /// Those of [`Analysis::next_chunk`] and [`Analysis::finish`].
    pub fn run<E: From<VideoError>>(
        mut self,
        out: &mut impl FnMut(&Record<'_>) -> Result<(), E>,
    ) -> Result<Totals, E> {
        while self.next_chunk(out)?.is_some() {}
        self.finish(out)
    }
}

impl OpenedInput {
    /// What the decoder knows about the input.
    pub fn stream(&self) -> OpenedStream {
        self.decode.opened()
    }

    /// Starts the analysis on `backend`, which must run the kernels of the
    /// options' [`AnalysisOptions::backend`] (open it with that config).
    pub fn start(self, backend: Box<dyn osprey_kernels::Backend>) -> Analysis {
        let frame_rate = self.decode.opened().frame_rate;
        Analysis {
            decode: self.decode,
            analyzer: Analyzer::new(
                self.source,
                self.options,
                self.thumbnails,
                backend,
                frame_rate,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analyses_can_move_to_threads() {
        fn send<T: Send>() {}
        send::<Analysis>();
        send::<OpenedInput>();
    }
}
