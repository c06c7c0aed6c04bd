//! Live sources: supervised, many in one process.
//!
//! A camera is expected to fail, often. [`Supervision`] says how a source
//! that errors, ends or stalls is torn down and reconnected (exponential
//! backoff with jitter); [`LiveOptions`] bound the work between decode and
//! kernels (a drop-oldest queue, a detect rate, a latency bound on
//! chunks); [`RecordVolume`] says which records leave. [`Runner`] runs many
//! [`LiveSource`]s in one process, each on its own threads, and hands their
//! records to one caller.
//!
//! # What a live source's records say when it fails
//!
//! A live source that errors, reaches its end, or delivers no frame for
//! [`Supervision::stall_timeout`] (timed by osprey between deliveries, not
//! left to GStreamer's own timeouts) is torn down and connected again after
//! `backoff_min` doubling to `backoff_max`, each ±20%; refused credentials
//! and streams not found wait `backoff_max` from the first attempt. After
//! [`Supervision::retry_for`] of failures in a row the source ends with
//! [`crate::VideoError::GaveUp`] (with no retries at all, `Some(0)`, with
//! its own error).
//! - `source_down` (`reason` with passwords redacted, `attempt`, `retry_in`
//!   in seconds; no `retry_in` when it gives up) at each failure, and
//!   `source_up` (`codec`, `width`, `height`, `fps`, `decoder`) at each
//!   connection.
//! - When a source that delivered frames goes down, the periods open in its
//!   detectors (motion, black, freeze, health) end as at the end of a
//!   stream (`"eos":true`) and a `camera_offline_start` event is written;
//!   detection starts afresh on the next connection, as the detectors need
//!   their own history of the new stream.
//! - When frames come back: a `gap` status (`from`, `to`: the wall-clock
//!   times of the last frame before and the first after; `duration`) and a
//!   `camera_offline_end` event with its `duration`.
//! - Frame indices keep counting across connections (one count a source);
//!   `pts` is the connection's own and restarts; `ts` is the wall clock.
//! - Frames the analysis could not keep up with are dropped before the
//!   kernels, oldest first, leaving holes in the frame indices; a
//!   `frames_dropped` status (`dropped`: since the last one) says so at
//!   most once a second, and [`SourceTotals::dropped_frames`] counts them.
//! - When the stop flag is set, or the source gives up, what is open ends
//!   with `"eos":true` (an offline period with `camera_offline_end`).
//!
//! A looping file ([`crate::source::SourceSpec::looping`]) is supervised as
//! a live source: it never ends by itself, and its pts and frame indices
//! run on across its rounds.
//!
//! A file that does not loop is not supervised: its end is its normal end, its error ends it,
//! its decoder waits for the analysis (nothing dropped), and its records
//! are the bytes [`crate::analysis::Analysis::run`] gives.

pub(crate) mod backoff;
pub(crate) mod queue;
mod rates;
mod runner;
mod status;
#[cfg(test)]
mod status_tests;
mod supervisor;

use std::time::Duration;

pub use runner::{LiveSource, Runner, RunnerMessage, SourceTotals};
pub use status::{SourceSnapshot, SourceStatus};

/// How a failing source is retried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Supervision {
    /// A source that delivers no frame for this long is torn down and
    /// reconnected (default 10 s).
    pub stall_timeout: Duration,
    /// How long to keep retrying after a failure; `None` for ever. When it
    /// runs out the source ends with an error (never as if it had ended).
    pub retry_for: Option<Duration>,
    /// First retry delay (default 1 s), doubled each failure...
    pub backoff_min: Duration,
    /// ...up to this (default 30 s); authentication refused and not found
    /// are retried at this slowest rate from the start.
    pub backoff_max: Duration,
}

impl Supervision {
    /// Defaults for a live source: retried for ever.
    pub fn live() -> Self {
        Supervision {
            stall_timeout: Duration::from_secs(10),
            retry_for: None,
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
        }
    }

    /// Defaults for a file: no retries.
    pub fn file() -> Self {
        Supervision {
            retry_for: Some(Duration::ZERO),
            ..Supervision::live()
        }
    }
}

/// Bounds on the work between a live source's decoder and the kernels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiveOptions {
    /// Analyse at most this many frames a second, dropping the rest before
    /// the kernels (and before colour conversion); `None` for every frame.
    pub fps: Option<f64>,
    /// A chunk of a live source is cut once its first frame has waited this
    /// long (default 100 ms), so records leave within about a frame
    /// interval plus the kernels' time.
    pub max_latency: Duration,
    /// Frames held between decode and kernels; past it the oldest are
    /// dropped (counted and reported), never queued without bound.
    pub queue_frames: usize,
    /// The source's threads (its supervisor, its decoding) run this many
    /// nice levels below the process ([`osprey_kernels::priority`]; default
    /// [`LIVE_DECODE_NICE`], or `OSPREY_LIVE_DECODE_NICE`).
    pub decode_nice: i32,
}

/// How many nice levels a live source's threads run below their process:
/// below the server's API and store threads (a camera that falls behind
/// drops frames, counted; a put that waits is a client waiting), level with
/// the kernels' workers ([`osprey_kernels::cpu::pool::KERNEL_NICE`]): a
/// camera's decoder is paced by the camera, not by the cores, so the reason
/// a file's decoder runs above the kernels does not hold for it. What it
/// buys the server soak's p99 put-to-read (2 cores, 4 cameras, 50,000
/// records/s) is not shown yet: 9.3 ms in one 3-minute run against 12.4 at
/// 0, but 14.6 ms in a 10-minute run (BENCHMARKS.md); no frame was dropped.
pub const LIVE_DECODE_NICE: i32 = 5;

/// The environment variable that overrides [`LIVE_DECODE_NICE`] (an
/// integer, 0 to 19).
pub const LIVE_DECODE_NICE_ENV: &str = "OSPREY_LIVE_DECODE_NICE";

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            fps: None,
            max_latency: Duration::from_millis(100),
            queue_frames: 64,
            decode_nice: osprey_kernels::priority::nice_from_env(
                LIVE_DECODE_NICE_ENV,
                LIVE_DECODE_NICE,
            ),
        }
    }
}

/// Which records leave an analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecordVolume {
    /// Every frame record, every event, status and error record.
    #[default]
    All,
    /// Events, status and error records only.
    Events,
    /// Every Nth frame record (frames 0, N, 2N, ... of the source) plus all
    /// events, status and error records.
    EveryNth(u64),
}

impl RecordVolume {
    /// Parses `all`, `events` or `every:N` (N at least 1).
    ///
    /// # Errors
    /// A sentence saying what is accepted.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "all" => Ok(RecordVolume::All),
            "events" => Ok(RecordVolume::Events),
            _ => match text.strip_prefix("every:").map(str::parse::<u64>) {
                Some(Ok(n)) if n >= 1 => Ok(RecordVolume::EveryNth(n)),
                _ => Err(format!(
                    "{text:?} is not all, events or every:N with N a whole number of at least 1"
                )),
            },
        }
    }

    /// Whether a frame record of frame `index` leaves.
    pub fn keeps_frame(self, index: u64) -> bool {
        match self {
            RecordVolume::All => true,
            RecordVolume::Events => false,
            RecordVolume::EveryNth(n) => index.is_multiple_of(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_volumes_parse_and_filter() {
        assert_eq!(RecordVolume::parse("all"), Ok(RecordVolume::All));
        assert_eq!(RecordVolume::parse("events"), Ok(RecordVolume::Events));
        assert_eq!(
            RecordVolume::parse("every:25"),
            Ok(RecordVolume::EveryNth(25))
        );
        for bad in ["every:0", "every:", "every:x", "some", ""] {
            assert!(RecordVolume::parse(bad).is_err(), "{bad}");
        }
        let v = RecordVolume::EveryNth(3);
        assert_eq!(
            (0..7).filter(|&i| v.keeps_frame(i)).collect::<Vec<_>>(),
            [0, 3, 6]
        );
        assert!(!RecordVolume::Events.keeps_frame(0));
        assert!(RecordVolume::All.keeps_frame(5));
    }
}
