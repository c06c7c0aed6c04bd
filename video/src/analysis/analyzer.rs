//! [`Analyzer`]: the kernels and the [`Finisher`] run on chunks of frames,
//! records out, whoever decodes the chunks.
//!
//! [`super::Analysis`] feeds it one source's chunks from start to end; the
//! supervisor of a live source ([`crate::live`]) feeds it the chunks of
//! each connection in turn, closing its open periods when the source goes
//! down and starting detection afresh on the next connection
//! ([`Analyzer::restart`]), while frame indices keep counting across
//! connections.

use std::time::Instant;

use osprey_kernels::metrics::period::Mark;
use osprey_kernels::{Backend, FrameRaw, FrameView};

use super::counts::EventCounts;
use super::events::Event;
use super::finisher::Finisher;
use super::options::AnalysisOptions;
use super::record::{ErrorRecord, EventRecord, FrameRecord, Record};
use super::run::Totals;
use super::thumbnail::Thumbnails;
use crate::{DecodeIssue, FrameChunk, FrameMeta, VideoError};

/// Runs the kernels on chunks and turns their results into records.
pub(crate) struct Analyzer {
    source: String,
    options: AnalysisOptions,
    thumbnails: Option<Thumbnails>,
    backend: Box<dyn Backend>,
    label: String,
    /// Seconds each chunk spends in the backend ([`crate::metrics::KERNEL_SECONDS`]).
    kernel_seconds: metrics::Histogram,
    finisher: Finisher,
    raws: Vec<FrameRaw>,
    counts: EventCounts,
    frames: u64,
    /// Added to the decoder's frame indices: frames of earlier connections.
    index_base: u64,
    /// The last frame analysed and its wall-clock time, when known.
    last: Option<(Mark, Option<f64>)>,
    /// A live source: its `error` records carry the wall-clock time (the
    /// time of the frame they name, else the time they were written).
    live: bool,
}

impl Analyzer {
    /// An analyzer of `source` on `backend`, which runs the kernels of
    /// `options`; `frame_rate` measures durations where timestamps are
    /// missing.
    pub(crate) fn new(
        source: String,
        options: AnalysisOptions,
        thumbnails: Option<Thumbnails>,
        backend: Box<dyn Backend>,
        frame_rate: Option<f64>,
    ) -> Self {
        let finisher = Finisher::new(&options, frame_rate);
        let kernels: Vec<&str> = options.backend.kernels.iter().map(|k| k.name()).collect();
        let kernel_seconds = metrics::histogram!(
            crate::metrics::KERNEL_SECONDS,
            "kernel" => kernels.join("+"),
            "backend" => if backend.is_gpu() { "gpu" } else { "cpu" },
        );
        Analyzer {
            raws: Vec::with_capacity(options.chunk_frames),
            source,
            options,
            thumbnails,
            label: backend.label(),
            kernel_seconds,
            backend,
            finisher,
            counts: EventCounts::default(),
            frames: 0,
            index_base: 0,
            last: None,
            live: false,
        }
    }

    /// The name the records give as their `source`.
    pub(crate) fn source(&self) -> &str {
        &self.source
    }

    /// The backend's label.
    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    /// The last frame analysed and its wall-clock time.
    pub(crate) fn last(&self) -> Option<(Mark, Option<f64>)> {
        self.last
    }

    /// What the analysis did so far.
    pub(crate) fn totals(&self) -> Totals {
        Totals {
            frames: self.frames,
            events: self.counts,
        }
    }

    /// Where frame `meta` of the current connection stands in the source.
    pub(crate) fn mark(&self, meta: &FrameMeta) -> Mark {
        Mark {
            frame: self.index_base + meta.index,
            pts: meta.pts,
        }
    }

    /// Starts detection afresh for a new connection (`live` when it is a
    /// live source's) whose frames the decoder counts from 0 again: they
    /// continue after the last frame analysed.
    pub(crate) fn restart(&mut self, frame_rate: Option<f64>, live: bool) {
        self.live = live;
        self.finisher = Finisher::new(&self.options, frame_rate);
        self.index_base = self.last.map_or(0, |(mark, _)| mark.frame + 1);
    }

    /// Analyses one chunk and hands its records to `out` in order: `error`
    /// records of damage before a frame, then each frame's `frame` record
    /// followed by its events, then damage after the last frame. Returns
    /// the chunk's frame count.
    ///
    /// # Errors
    /// `out`'s errors; [`VideoError::Backend`] when the backend fails;
    /// thumbnail errors; [`VideoError::Internal`] for a broken invariant.
    pub(crate) fn analyze<E: From<VideoError>>(
        &mut self,
        chunk: &FrameChunk,
        out: &mut impl FnMut(&Record<'_>) -> Result<(), E>,
    ) -> Result<usize, E> {
        let views = chunk.views();
        let metas = chunk.metas();
        // Damage the decoder went past, named before the frames after it;
        // damage after the last frame (a file cut short), after the frames.
        let (before, after): (Vec<_>, Vec<_>) =
            chunk.issues().iter().partition(|i| i.frame.is_some());
        let base = self.index_base;
        let clock = self.live.then_some(metas);
        write_issues(&self.source, base, &before, clock, out)?;
        let started = Instant::now();
        self.backend
            .analyze(&views, &mut self.raws)
            .map_err(|source| VideoError::Backend {
                label: self.label.clone(),
                source,
            })?;
        self.kernel_seconds.record(started.elapsed());
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
            let now = self.mark(meta);
            let ts = meta.ts;
            let figures = self.finisher.push(raw, now)?;
            self.last = Some((now, ts));
            out(&Record::Frame(FrameRecord::new(
                &self.source,
                now,
                ts,
                raw,
                &figures,
            )))?;
            let shot = self.thumbnails.as_mut().map(|t| Shot {
                thumbnails: t,
                backend: self.backend.as_mut(),
                frame: view,
                index: now.frame,
            });
            write_events(
                &self.source,
                &self.finisher,
                self.finisher.events(),
                Some((now, ts)),
                shot,
                &mut self.counts,
                out,
            )?;
        }
        write_issues(&self.source, base, &after, clock, out)?;
        self.frames += views.len() as u64;
        Ok(views.len())
    }

    /// Closes the periods still open after the last frame and hands their
    /// events (flagged `eos`) to `out`.
    ///
    /// # Errors
    /// `out`'s errors.
    pub(crate) fn close<E: From<VideoError>>(
        &mut self,
        out: &mut impl FnMut(&Record<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let closing = self.finisher.finish().to_vec();
        // The frames are gone by now: events closed at the end carry no
        // thumbnail.
        write_events(
            &self.source,
            &self.finisher,
            &closing,
            self.last,
            None,
            &mut self.counts,
            out,
        )
    }

    /// Hands one event of supervision (`camera_offline_*`) to `out` and
    /// counts it: `ts` is its wall-clock time.
    ///
    /// # Errors
    /// `out`'s errors.
    pub(crate) fn write_event<E: From<VideoError>>(
        &mut self,
        event: &Event,
        ts: Option<f64>,
        out: &mut impl FnMut(&Record<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        write_events(
            &self.source,
            &self.finisher,
            std::slice::from_ref(event),
            Some((event.at, ts)),
            None,
            &mut self.counts,
            out,
        )
    }
}

/// Hands one `error` record an issue to `out`; `base` is added to frame
/// indices. With `clock` (a live source, the chunk's frames) each carries
/// the wall-clock time of the frame it names, else of its writing (damage
/// before any frame, or after the last).
fn write_issues<E>(
    source: &str,
    base: u64,
    issues: &[&DecodeIssue],
    clock: Option<&[FrameMeta]>,
    out: &mut impl FnMut(&Record<'_>) -> Result<(), E>,
) -> Result<(), E> {
    for issue in issues {
        let ts = clock.map(|metas| {
            metas
                .iter()
                .find(|m| Some(m.index) == issue.frame)
                .and_then(|m| m.ts)
                .unwrap_or_else(crate::wall_clock::now)
        });
        out(&Record::Error(ErrorRecord {
            source,
            frame: issue.frame.map(|f| base + f),
            pts: issue.pts,
            ts,
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
        metrics::counter!(
            crate::metrics::EVENTS,
            "source" => source.to_owned(),
            "type" => e.kind.name(),
        )
        .increment(1);
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
    fn a_live_source_s_error_records_carry_the_wall_clock_time() {
        let issue = |frame| DecodeIssue {
            message: "lost".into(),
            frame,
            pts: None,
            missing_frames: None,
        };
        let (named, unnamed) = (issue(Some(3)), issue(None));
        let metas = [FrameMeta {
            index: 3,
            pts: Some(0.12),
            ts: Some(100.0),
        }];
        let written = |clock: Option<&[FrameMeta]>| {
            let mut out = Vec::new();
            write_issues("cam", 10, &[&named, &unnamed], clock, &mut |r| {
                if let Record::Error(e) = r {
                    out.push((e.frame, e.ts));
                }
                Ok::<(), VideoError>(())
            })
            .unwrap();
            out
        };
        let before = crate::wall_clock::now();
        let live = written(Some(&metas));
        // The frame's own time; damage naming no frame (before the first,
        // or after the last), the time it was written.
        assert_eq!(live[0], (Some(13), Some(100.0)));
        let (frame, ts) = live[1];
        assert_eq!(frame, None);
        assert!(
            ts.is_some_and(|ts| ts >= before && ts < before + 60.0),
            "{ts:?}"
        );
        // A file's error records stay as they were: no ts.
        assert_eq!(written(None), [(Some(13), None), (None, None)]);
    }
}
