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

use osprey_kernels::metrics::period::Mark;
use osprey_kernels::{Backend, FrameRaw, FrameView};
use tracing::debug;

use super::counts::EventCounts;
use super::events::Event;
use super::finisher::Finisher;
use super::options::{AnalysisOptions, check_zones_in_frame};
use super::record::{ErrorRecord, EventRecord, FrameRecord, Record};
use super::thumbnail::Thumbnails;
use crate::decode_thread::{DecodeThread, OpenedStream};
use crate::{DecodeIssue, DecodeOptions, VideoError};

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
    source: String,
    decode: DecodeThread,
    thumbnails: Option<Thumbnails>,
    backend: Box<dyn Backend>,
    label: String,
    finisher: Finisher,
    raws: Vec<FrameRaw>,
    counts: EventCounts,
    frames: u64,
    /// The last frame analysed and its wall-clock time, for events closed
    /// at the end.
    last: Option<(Mark, f64)>,
}

impl std::fmt::Debug for Analysis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analysis")
            .field("source", &self.source)
            .field("backend", &self.label)
            .field("frames", &self.frames)
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
    /// decoding), starts decoding on its own thread, and refuses zones that
    /// lie outside the first frame.
    ///
    /// # Errors
    /// [`VideoError::ThumbnailFolder`], the decoder's open errors
    /// ([`VideoError::Open`], [`VideoError::NoVideo`], ...), and
    /// [`VideoError::ZoneOutsideFrame`].
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
            check_zones_in_frame(&options.motion.zones, width, height)?;
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
        &self.source
    }

    /// The backend's label, as [`Backend::label`] gave it at the start.
    pub fn backend_label(&self) -> &str {
        &self.label
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
        let Some(chunk) = self.decode.next_chunk()? else {
            return Ok(None);
        };
        let views = chunk.views();
        let metas = chunk.metas();
        // Damage the decoder went past, named before the frames after it;
        // damage after the last frame (a file cut short), after the frames.
        let (before, after): (Vec<_>, Vec<_>) =
            chunk.issues().iter().partition(|i| i.frame.is_some());
        write_issues(&self.source, &before, out)?;
        self.backend
            .analyze(&views, &mut self.raws)
            .map_err(|source| VideoError::Backend {
                label: self.label.clone(),
                source,
            })?;
        if self.raws.len() != views.len() || metas.len() != views.len() {
            return Err(VideoError::Internal(format!(
                "a chunk of {} frames gave {} results and {} timestamps",
                views.len(),
                self.raws.len(),
                metas.len()
            ))
            .into());
        }
        for ((meta, raw), view) in metas.iter().zip(&self.raws).zip(&views) {
            let now = Mark {
                frame: meta.index,
                pts: meta.pts,
            };
            let figures = self.finisher.push(raw, now)?;
            if let Some(ts) = meta.ts {
                self.last = Some((now, ts));
            }
            out(&Record::Frame(FrameRecord::new(
                &self.source,
                now,
                meta.ts,
                raw,
                &figures,
            )))?;
            let shot = self.thumbnails.as_mut().map(|t| Shot {
                thumbnails: t,
                backend: self.backend.as_mut(),
                frame: view,
                index: meta.index,
            });
            write_events(
                &self.source,
                &self.finisher,
                self.finisher.events(),
                Some((now, meta.ts)),
                shot,
                &mut self.counts,
                out,
            )?;
        }
        write_issues(&self.source, &after, out)?;
        self.frames += views.len() as u64;
        Ok(Some(views.len()))
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
        let closing = self.finisher.finish().to_vec();
        // The frames are gone by now: events closed at the end carry no
        // thumbnail.
        write_events(
            &self.source,
            &self.finisher,
            &closing,
            self.last.map(|(now, ts)| (now, Some(ts))),
            None,
            &mut self.counts,
            out,
        )?;
        Ok(Totals {
            frames: self.frames,
            events: self.counts,
        })
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
    pub fn start(self, backend: Box<dyn Backend>) -> Analysis {
        let finisher = Finisher::new(&self.options, self.decode.opened().frame_rate);
        Analysis {
            source: self.source,
            decode: self.decode,
            thumbnails: self.thumbnails,
            label: backend.label(),
            backend,
            finisher,
            raws: Vec::with_capacity(self.options.chunk_frames),
            counts: EventCounts::default(),
            frames: 0,
            last: None,
        }
    }
}

/// Hands one `error` record an issue to `out`.
fn write_issues<E>(
    source: &str,
    issues: &[&DecodeIssue],
    out: &mut impl FnMut(&Record<'_>) -> Result<(), E>,
) -> Result<(), E> {
    for issue in issues {
        out(&Record::Error(ErrorRecord {
            source,
            frame: issue.frame,
            pts: issue.pts,
            ts: None,
            message: &issue.message,
        }))?;
    }
    Ok(())
}

/// The wall-clock time of an event naming frame `at`, from the frame being
/// written (`now`, at wall-clock `ts`): the same offset in stream time.
fn event_ts(at: Mark, now: Mark, ts: f64) -> Option<f64> {
    if at.frame == now.frame {
        return Some(ts);
    }
    Some(ts + (at.pts? - now.pts?))
}

/// The frame being written, for the thumbnails of its events.
struct Shot<'a, 'f> {
    thumbnails: &'a mut Thumbnails,
    backend: &'a mut dyn Backend,
    frame: &'a FrameView<'f>,
    index: u64,
}

/// Hands `events` to `out` and counts them; with `shot`, each event gets a
/// thumbnail of the frame at which it is written (for a start, the frame
/// that confirmed the period, which the event's `frame` field may precede).
fn write_events<E: From<VideoError>>(
    source: &str,
    finisher: &Finisher,
    events: &[Event],
    clock: Option<(Mark, Option<f64>)>,
    mut shot: Option<Shot<'_, '_>>,
    counts: &mut EventCounts,
    out: &mut impl FnMut(&Record<'_>) -> Result<(), E>,
) -> Result<(), E> {
    for e in events {
        counts.add(e.kind);
        let zone = e.zone.and_then(|z| finisher.zone_name(z));
        let thumbnail = match shot.as_mut() {
            Some(s) => {
                let what = match zone {
                    Some(z) => format!("{}-{z}", e.kind.name()),
                    None => e.kind.name().to_owned(),
                };
                Some(
                    s.thumbnails
                        .write(s.backend, s.frame, source, s.index, &what)?,
                )
            }
            None => None,
        };
        out(&Record::Event(EventRecord {
            source,
            event: e.kind,
            frame: e.at.frame,
            pts: e.at.pts,
            ts: clock.and_then(|(now, ts)| event_ts(e.at, now, ts?)),
            duration: e.duration,
            score: e.score,
            zone,
            thumbnail: thumbnail.as_deref(),
            eos: e.eos,
        }))?;
    }
    Ok(())
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
