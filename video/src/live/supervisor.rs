//! The supervisor of one source: connects, analyses, notices failures and
//! reconnects, on the source's own thread. What its records say is in the
//! [`super`] module's documentation.
//!
//! A connection is one [`DecodeThread`]: received from with a timeout, so
//! a stall is timed here; dropped (which cancels its decoder) when the
//! connection ends. One [`Analyzer`] serves every connection of the source,
//! restarted at each, so frame indices and event counts run on.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::time::{Duration, Instant};

use osprey_kernels::Backend;

use super::backoff::{Backoff, Retry};
use super::runner::{LiveSource, RunnerMessage, SourceTotals};
use super::status::SourceStatus;
use crate::analysis::record::{EventType, Record, StatusRecord, StatusType};
use crate::analysis::{Analyzer, Event, Thumbnails};
use crate::decode_thread::{DecodeThread, Delivery, OpenedStream, QueueSize, Received};
use crate::source::redact;
use crate::{DecodeOptions, FrameChunk, VideoError, wall_clock};

/// How often a waiting supervisor looks at the stop flags.
const LOOK: Duration = Duration::from_millis(100);

/// A file's read-ahead, in chunks (as [`crate::analysis::Analysis`]).
const READ_AHEAD_CHUNKS: usize = 2;

/// How often at most a `frames_dropped` status is written.
const DROP_REPORT_EVERY: Duration = Duration::from_secs(1);

/// How one connection ended.
enum Outcome {
    /// The stop flag was set.
    Stopped,
    /// A file reached its end.
    Finished,
    /// A live source failed: reconnect (or give up).
    Down {
        /// Why, redacted.
        reason: String,
        /// How soon to retry.
        retry: Retry,
        /// The error behind it, if any: with no retries at all it is the
        /// source's error.
        error: Option<VideoError>,
    },
}

/// The caller has gone: nobody reads the records any more.
struct Gone;

/// Why a source's work stopped early.
enum Halt {
    /// An error that ends the source.
    Failed(VideoError),
    /// The runner has gone.
    Gone,
}

impl From<VideoError> for Halt {
    fn from(e: VideoError) -> Self {
        Halt::Failed(e)
    }
}

impl From<Gone> for Halt {
    fn from(_: Gone) -> Self {
        Halt::Gone
    }
}

/// One source's supervision and analysis.
pub(crate) struct Supervisor {
    index: usize,
    source: LiveSource,
    analyzer: Analyzer,
    messages: SyncSender<RunnerMessage>,
    stops: [Arc<AtomicBool>; 2],
    /// What watchers see of this source.
    status: Arc<SourceStatus>,
    backoff: Backoff,
    /// Records not yet handed to the caller.
    lines: Vec<u8>,
    announced: bool,
    /// Failures in a row, and when the first of them happened.
    attempt: u32,
    failing_since: Option<Instant>,
    /// Since when (wall clock) a source that had delivered frames is down.
    offline_since: Option<f64>,
    reconnects: u32,
    /// Frames dropped by earlier connections, and the total reported.
    dropped_before: u64,
    dropped_reported: u64,
    last_drop_report: Option<Instant>,
}

impl Supervisor {
    /// A supervisor for source `index`, sending to `messages`, stopping
    /// when either flag of `stops` is set, keeping `status` up to date.
    pub(crate) fn new(
        index: usize,
        source: LiveSource,
        thumbnails: Option<Thumbnails>,
        backend: Box<dyn Backend>,
        messages: SyncSender<RunnerMessage>,
        stops: [Arc<AtomicBool>; 2],
        status: Arc<SourceStatus>,
    ) -> Self {
        let seed = wall_clock::now().to_bits() ^ index as u64;
        let backoff = Backoff::new(&source.supervision, seed);
        let analyzer = Analyzer::new(
            source.name.clone(),
            source.analysis.clone(),
            thumbnails,
            backend,
            None,
        );
        Supervisor {
            index,
            source,
            analyzer,
            messages,
            stops,
            status,
            backoff,
            lines: Vec::new(),
            announced: false,
            attempt: 0,
            failing_since: None,
            offline_since: None,
            reconnects: 0,
            dropped_before: 0,
            dropped_reported: 0,
            last_drop_report: None,
        }
    }

    /// Runs the source to its end and sends its `Ended` message.
    pub(crate) fn run(mut self) {
        // The whole source (this thread, its decode thread, the pipeline's
        // streaming threads) yields to the process's API and store threads.
        osprey_kernels::priority::run_below_process(self.source.live.decode_nice);
        let supervised = self.supervise();
        self.status.ended();
        let result = match supervised {
            Ok(()) => Ok(self.totals()),
            Err(Halt::Failed(e)) => Err(e),
            // Nobody is listening: nothing to say.
            Err(Halt::Gone) => return,
        };
        // Records written before the end (closing events, the last status)
        // go first.
        if self.flush(0).is_ok() {
            let _ = self.messages.send(RunnerMessage::Ended {
                source: self.index,
                result,
            });
        }
    }

    fn totals(&self) -> SourceTotals {
        let totals = self.analyzer.totals();
        SourceTotals {
            frames: totals.frames,
            events: totals.events,
            dropped_frames: self.dropped_before,
            reconnects: self.reconnects,
            backend: self.analyzer.label().to_owned(),
        }
    }

    fn stopped(&self) -> bool {
        self.stops.iter().any(|s| s.load(Ordering::Relaxed))
    }

    /// Whether failures are retried at all (a file's are not).
    fn retries(&self) -> bool {
        self.source.supervision.retry_for != Some(Duration::ZERO)
    }

    /// Connections until the source ends.
    fn supervise(&mut self) -> Result<(), Halt> {
        loop {
            let outcome = self.connect()?;
            let (reason, retry, error) = match outcome {
                Outcome::Stopped => return self.close_at_end(),
                Outcome::Finished => {
                    let (lines, volume) = (&mut self.lines, self.source.volume);
                    self.analyzer.close(&mut |r| write_line(lines, volume, r))?;
                    return Ok(());
                }
                Outcome::Down {
                    reason,
                    retry,
                    error,
                } => (reason, retry, error),
            };
            self.status.down();
            self.went_down()?;
            self.attempt += 1;
            let since = *self.failing_since.get_or_insert_with(Instant::now);
            let delay = self.backoff.next_delay(retry);
            let mut down = StatusRecord::new(
                &self.source.name,
                StatusType::SourceDown,
                Some(wall_clock::now()),
            );
            down.reason = Some(&reason);
            down.attempt = Some(self.attempt);
            let gives_up = self
                .source
                .supervision
                .retry_for
                .is_some_and(|limit| since.elapsed() + delay > limit);
            if !gives_up {
                down.retry_in = Some(delay.as_secs_f64());
            }
            tracing::warn!(
                source = %self.source.name,
                %reason,
                attempt = self.attempt,
                retry_in = ?(!gives_up).then_some(delay),
                "Source down."
            );
            let down = Record::Status(down);
            write_line(&mut self.lines, self.source.volume, &down)?;
            if gives_up {
                self.close_at_end()?;
                self.flush(0)?;
                return Err(Halt::Failed(match error {
                    Some(e) if !self.retries() => e,
                    _ => VideoError::GaveUp {
                        input: self.source.spec.redacted(),
                        attempts: self.attempt,
                        last: reason,
                    },
                }));
            }
            self.flush(0)?;
            if self.wait(delay) {
                return self.close_at_end();
            }
            self.reconnects += 1;
            self.status.reconnected();
        }
    }

    /// One connection, from starting its decoder to its end.
    fn connect(&mut self) -> Result<Outcome, Halt> {
        let options = &self.source.analysis;
        let decode_options = DecodeOptions {
            chunk_frames: options.chunk_frames,
            max_fps: self.source.live.fps,
            max_latency: Some(self.source.live.max_latency),
            record: self.source.record.clone(),
            nice: self.source.live.decode_nice,
            ..DecodeOptions::default()
        };
        let size = QueueSize {
            read_ahead_frames: READ_AHEAD_CHUNKS * options.chunk_frames.max(1),
            live_frames: self.source.live.queue_frames,
        };
        let mut decode = DecodeThread::start(
            &self.source.spec,
            decode_options,
            size,
            Some(Arc::clone(&self.status)),
        )?;
        let stall = self.source.supervision.stall_timeout;
        let mut live = None::<bool>;
        let mut flowed = false;
        let mut last_delivery = Instant::now();
        let outcome = loop {
            if self.stopped() {
                break Outcome::Stopped;
            }
            // A file is not timed; a source not yet open is when it may be
            // retried.
            let timed = live.unwrap_or_else(|| self.retries());
            let left = stall.saturating_sub(last_delivery.elapsed());
            if timed && left.is_zero() {
                break Outcome::Down {
                    reason: format!("stalled: no frame for {:.1} s", stall.as_secs_f64()),
                    retry: Retry::Soon,
                    error: None,
                };
            }
            let wait = if timed { left.min(LOOK) } else { LOOK };
            let delivery = match decode.receive(wait)? {
                Received::Waiting => continue,
                Received::End if live == Some(true) => {
                    break Outcome::Down {
                        reason: "the stream ended".into(),
                        retry: Retry::Soon,
                        error: None,
                    };
                }
                Received::End => break Outcome::Finished,
                Received::Delivery(d) => d,
            };
            last_delivery = Instant::now();
            match delivery {
                Delivery::Opened(stream) => {
                    live = Some(stream.live);
                    self.opened(&stream)?;
                }
                Delivery::Chunk(chunk) => {
                    if !flowed {
                        flowed = true;
                        self.frames_back(&chunk)?;
                    }
                    let frames = self.analyzer.analyze(&chunk, &mut |r| {
                        write_line(&mut self.lines, self.source.volume, r)
                    })?;
                    let ts = self.analyzer.last().and_then(|(_, ts)| ts);
                    let views = chunk.views();
                    self.status
                        .analyzed(frames, views.last(), ts.unwrap_or_else(wall_clock::now));
                    drop(views);
                    drop(chunk);
                    self.report_drops(self.dropped_before + decode.dropped_frames(), false)?;
                    self.flush(frames)?;
                    // Time spent analysing and handing over is not the
                    // source's: what it sent meanwhile is queued.
                    last_delivery = Instant::now();
                }
                Delivery::Failed(e) if live == Some(true) || (live.is_none() && self.retries()) => {
                    break Outcome::Down {
                        reason: redact(&e.to_string()),
                        retry: Retry::after(&e),
                        error: Some(e),
                    };
                }
                Delivery::Failed(e) => return Err(Halt::Failed(e)),
            }
        };
        self.dropped_before += decode.dropped_frames();
        self.report_drops(self.dropped_before, true)?;
        // Dropping the decode thread closes its queue; a stalled one ends
        // when GStreamer next wakes it.
        drop(decode);
        Ok(outcome)
    }

    /// A connection is open: announce it (the first time), check the detect
    /// size and the zones against its frame size, start detection afresh, say `source_up`.
    fn opened(&mut self, stream: &OpenedStream) -> Result<(), Halt> {
        if !self.announced {
            self.announced = true;
            self.send(RunnerMessage::Opened {
                source: self.index,
                stream: stream.clone(),
            })?;
        }
        if let Some((width, height)) = stream.size {
            self.source.analysis.check_frame_size(width, height)?;
        }
        self.analyzer.restart(stream.frame_rate, stream.live);
        self.status.opened(stream);
        if stream.live {
            let mut up = StatusRecord::new(
                &self.source.name,
                StatusType::SourceUp,
                Some(wall_clock::now()),
            );
            up.codec = stream.codec.as_deref();
            up.decoder = stream.decoder.as_deref();
            up.width = stream.size.map(|s| s.0);
            up.height = stream.size.map(|s| s.1);
            up.fps = stream.frame_rate;
            tracing::info!(source = %self.source.name, "Source up.");
            write_line(&mut self.lines, self.source.volume, &Record::Status(up))?;
        }
        Ok(())
    }

    /// The first chunk of a connection: failures in a row are over, and a
    /// source that was offline says for how long (`gap`,
    /// `camera_offline_end`).
    fn frames_back(&mut self, chunk: &FrameChunk) -> Result<(), Halt> {
        self.attempt = 0;
        self.failing_since = None;
        self.backoff.reset();
        let Some(since) = self.offline_since.take() else {
            return Ok(());
        };
        let first = chunk.metas().first();
        let back = first.and_then(|m| m.ts).unwrap_or_else(wall_clock::now);
        let mut gap = StatusRecord::new(&self.source.name, StatusType::Gap, Some(back));
        gap.from = self.analyzer.last().and_then(|(_, ts)| ts).or(Some(since));
        gap.to = Some(back);
        gap.duration = gap.from.map(|from| back - from);
        write_line(&mut self.lines, self.source.volume, &Record::Status(gap))?;
        let Some(at) = first.map(|meta| self.analyzer.mark(meta)) else {
            return Ok(());
        };
        let end = Event {
            kind: EventType::CameraOfflineEnd,
            at,
            duration: Some(back - since),
            score: None,
            zone: None,
            eos: false,
        };
        self.analyzer
            .write_event(&end, Some(back), &mut |r| {
                write_line(&mut self.lines, self.source.volume, r)
            })
            .map_err(Halt::Failed)
    }

    /// A live source went down: close its open periods and, when it had
    /// delivered frames, start `camera_offline`.
    fn went_down(&mut self) -> Result<(), Halt> {
        if self.offline_since.is_some() {
            return Ok(());
        }
        let Some((last, _)) = self.analyzer.last() else {
            return Ok(());
        };
        let (lines, volume) = (&mut self.lines, self.source.volume);
        self.analyzer.close(&mut |r| write_line(lines, volume, r))?;
        let now = wall_clock::now();
        self.offline_since = Some(now);
        let start = Event {
            kind: EventType::CameraOfflineStart,
            at: last,
            duration: None,
            score: None,
            zone: None,
            eos: false,
        };
        self.analyzer.write_event(&start, Some(now), &mut |r| {
            write_line(&mut self.lines, self.source.volume, r)
        })?;
        Ok(())
    }

    /// Stopped or given up: close what is open (periods, an offline source)
    /// with `"eos":true`.
    fn close_at_end(&mut self) -> Result<(), Halt> {
        match self.offline_since.take() {
            Some(since) => {
                if let Some((last, _)) = self.analyzer.last() {
                    let now = wall_clock::now();
                    let end = Event {
                        kind: EventType::CameraOfflineEnd,
                        at: last,
                        duration: Some(now - since),
                        score: None,
                        zone: None,
                        eos: true,
                    };
                    self.analyzer.write_event(&end, Some(now), &mut |r| {
                        write_line(&mut self.lines, self.source.volume, r)
                    })?;
                }
            }
            None => {
                let (lines, volume) = (&mut self.lines, self.source.volume);
                self.analyzer.close(&mut |r| write_line(lines, volume, r))?;
            }
        }
        Ok(())
    }

    /// Says how many frames were dropped since the last report, at most
    /// once a second while dropping unless `now` (`total`: all dropped so
    /// far).
    fn report_drops(&mut self, total: u64, now: bool) -> Result<(), Halt> {
        self.status.dropped_total(total);
        let new = total.saturating_sub(self.dropped_reported);
        let due = now
            || self
                .last_drop_report
                .is_none_or(|at| at.elapsed() >= DROP_REPORT_EVERY);
        if new == 0 || !due {
            return Ok(());
        }
        self.dropped_reported = total;
        self.last_drop_report = Some(Instant::now());
        tracing::warn!(source = %self.source.name, dropped = new, "Analysis fell behind; frames dropped.");
        let mut status = StatusRecord::new(
            &self.source.name,
            StatusType::FramesDropped,
            Some(wall_clock::now()),
        );
        status.dropped = Some(new);
        write_line(&mut self.lines, self.source.volume, &Record::Status(status))?;
        Ok(())
    }

    /// Waits `delay`, looking at the stop flags; true when stopped.
    fn wait(&self, delay: Duration) -> bool {
        let until = Instant::now() + delay;
        loop {
            if self.stopped() {
                return true;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            std::thread::sleep(left.min(LOOK));
        }
    }

    /// Hands the pending lines to the caller, with the `frames` analysed.
    fn flush(&mut self, frames: usize) -> Result<(), Gone> {
        if self.lines.is_empty() && frames == 0 {
            return Ok(());
        }
        let lines = std::mem::take(&mut self.lines);
        self.send(RunnerMessage::Records {
            source: self.index,
            lines,
            frames,
        })
    }

    fn send(&self, message: RunnerMessage) -> Result<(), Gone> {
        self.messages.send(message).map_err(|_| Gone)
    }
}

/// Appends `record` to `lines` as one NDJSON line, unless `volume` leaves
/// it out (frame records only are ever left out).
fn write_line(
    lines: &mut Vec<u8>,
    volume: super::RecordVolume,
    record: &Record<'_>,
) -> Result<(), VideoError> {
    if let Record::Frame(f) = record
        && !volume.keeps_frame(f.frame)
    {
        return Ok(());
    }
    serde_json::to_writer(&mut *lines, record)
        .map_err(|e| VideoError::Internal(format!("cannot encode a record: {e}")))?;
    lines.push(b'\n');
    Ok(())
}
