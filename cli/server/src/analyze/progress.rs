//! Progress on stderr while `osprey analyze` runs, and the summary line after.
//!
//! The bar (frames, frames a second, backend) is drawn only when stderr is a
//! terminal, so logs piped to a file stay clean; the one-line summary is
//! printed always.

use std::fmt;
use std::io::IsTerminal as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use osprey_video::analysis::EventCounts;

/// A progress bar that is hidden unless stderr is a terminal.
#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar for `total` frames (a spinner when the total is unknown), labelled
    /// with the backend.
    pub fn new(total: Option<u64>, backend: &str) -> Self {
        if !std::io::stderr().is_terminal() {
            return Progress {
                bar: ProgressBar::hidden(),
            };
        }
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
        let template = if total.is_some() {
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} frames, {fps}, {msg}"
        } else {
            "{spinner} [{elapsed_precise}] {pos} frames, {fps}, {msg}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.with_key(
                "fps",
                |state: &ProgressState, w: &mut dyn fmt::Write| {
                    let _ = write!(w, "{:.1} fps", state.per_sec());
                },
            ));
        }
        bar.set_message(backend.to_owned());
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress { bar }
    }

    /// Counts `frames` more frames done.
    pub fn advance(&self, frames: u64) {
        self.bar.inc(frames);
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        // On an error path the bar is still drawn; clear it before the error
        // line is printed.
        if !self.bar.is_finished() {
            self.bar.finish_and_clear();
        }
    }
}

/// What one analysis did, printed as the last line on stderr.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// The source's name.
    pub source: String,
    /// Frames analysed.
    pub frames: u64,
    /// Wall-clock time from opening the input to the last record written.
    pub elapsed: Duration,
    /// The backend's label (with the adapter for a GPU).
    pub backend: String,
    /// Events written, by type.
    pub events: EventCounts,
    /// For a live source: what supervision did.
    pub live: Option<LiveCounts>,
}

/// What supervision did to a live source, for its summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LiveCounts {
    /// Frames dropped before the kernels because analysis fell behind.
    pub dropped_frames: u64,
    /// Reconnections after failures.
    pub reconnects: u32,
}

impl Summary {
    /// Frames a second over the whole run.
    pub fn fps(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.frames as f64 / secs
        } else {
            0.0
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} frames in {:.2} s ({:.1} fps) on {}",
            self.source,
            self.frames,
            self.elapsed.as_secs_f64(),
            self.fps(),
            self.backend
        )?;
        write!(f, "; {}", self.events)?;
        if let Some(l) = self.live {
            let s = if l.reconnects == 1 { "" } else { "s" };
            write!(
                f,
                "; {} dropped frames, {} reconnect{s}",
                l.dropped_frames, l.reconnects
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use osprey_video::analysis::record::EventType;

    use super::*;

    #[test]
    fn summary_line() {
        let s = Summary {
            source: "demo".into(),
            frames: 150,
            elapsed: Duration::from_millis(1500),
            backend: "cpu (2 threads)".into(),
            events: EventCounts::default(),
            live: None,
        };
        let mut events = EventCounts::default();
        for kind in [
            EventType::SceneCut,
            EventType::BlackEnd,
            EventType::SceneCut,
        ] {
            events.add(kind);
        }
        events.add(EventType::BlackStart);
        assert_eq!(events.total(), 4);
        let s = Summary { events, ..s };
        assert_eq!(
            s.to_string(),
            "demo: 150 frames in 1.50 s (100.0 fps) on cpu (2 threads); \
             2 scene_cut, 1 black_start, 1 black_end"
        );
        let none = Summary {
            frames: 0,
            elapsed: Duration::ZERO,
            events: EventCounts::default(),
            ..s
        };
        assert_eq!(none.fps(), 0.0);
        assert_eq!(
            none.to_string(),
            "demo: 0 frames in 0.00 s (0.0 fps) on cpu (2 threads); no events"
        );
        let live = Summary {
            live: Some(LiveCounts {
                dropped_frames: 3,
                reconnects: 1,
            }),
            ..none
        };
        assert!(
            live.to_string()
                .ends_with("; no events; 3 dropped frames, 1 reconnect"),
            "{live}"
        );
    }

    #[test]
    fn hidden_when_not_a_terminal() {
        // Under a test runner in CI stderr is a pipe, so this is the hidden
        // bar (run from a terminal, it is the drawn one); either counts.
        let p = Progress::new(Some(10), "cpu");
        assert_eq!(
            p.bar.is_hidden(),
            !std::io::stderr().is_terminal(),
            "hidden exactly when stderr is not a terminal"
        );
        p.advance(3);
        p.advance(2);
        assert_eq!(p.bar.position(), 5);
        p.finish();
        assert!(p.bar.is_finished());
    }
}
