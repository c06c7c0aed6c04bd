//! Analysis as a library: a video source in, records out.
//!
//! [`Analysis::open`] opens a source with its [`AnalysisOptions`] and
//! decodes it on its own thread; [`OpenedInput::start`] takes the compute
//! backend ([`osprey_kernels::Backend`], opened by the caller with
//! [`AnalysisOptions::backend`]); [`Analysis::next_chunk`] and
//! [`Analysis::finish`] (or [`Analysis::run`]) hand out the
//! [`record::Record`]s: one `frame` record a frame with the figures of each
//! kernel that ran, the `event`s found at that frame (scene cuts, black,
//! freeze, motion and zone periods, and with [`HealthOptions::enabled`] the
//! camera health periods, each with a thumbnail when asked), and
//! `error` records for damage the decoder went past.
//!
//! The per-frame figures and the event state machines are the
//! [`Finisher`]'s; the record types and their JSON shapes are in
//! [`record`]. This lives in `osprey-video` rather than `osprey-kernels`
//! because it decodes with GStreamer, which the kernels crate must never
//! link.
//!
//! # Example
//! ```no_run
//! use osprey_video::VideoError;
//! use osprey_video::analysis::{Analysis, AnalysisOptions, record::Record};
//!
//! let options = AnalysisOptions::default();
//! // One device a process; every camera's backend is made from it.
//! let device = osprey_kernels::Device::open(osprey_kernels::BackendChoice::Cpu)?;
//! let backend = device.frame_backend(options.backend.clone())?;
//! let totals = Analysis::open("clip.mp4", "cam1", options)?
//!     .start(backend)
//!     .run(&mut |record| {
//!         if let Record::Event(e) = record {
//!             println!("{} at frame {}", e.event.name(), e.frame);
//!         }
//!         Ok::<(), VideoError>(())
//!     })?;
//! println!("{} frames, {}", totals.frames, totals.events);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod analyzer;
mod counts;
mod detector_records;
mod events;
mod finisher;
mod health;
mod health_options;
mod motion_periods;
mod options;
pub mod record;
mod run;
mod thumbnail;

pub(crate) use analyzer::Analyzer;
pub use counts::EventCounts;
pub use events::Event;
pub use finisher::{Figures, Finisher};
pub use health_options::HealthOptions;
pub use options::{AnalysisOptions, MotionHysteresis, ThumbnailOptions, check_zones_in_frame};
pub use run::{Analysis, OpenedInput, Totals};
pub use thumbnail::Thumbnails;
pub(crate) use thumbnail::frame_jpeg;

/// The test helper the detectors' unit tests share.
#[cfg(test)]
mod test_marks {
    use osprey_kernels::metrics::period::Mark;

    /// Frame `frame` of a 10 fps stream.
    pub(crate) fn at(frame: u64) -> Mark {
        Mark {
            frame,
            pts: Some(frame as f64 / 10.0),
        }
    }
}
