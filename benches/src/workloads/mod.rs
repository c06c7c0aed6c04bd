//! What each workload measures; each module says how.
//!
//! - [`frames`]: kernel-only in process per backend, and end to end
//!   (`osprey analyze`) against GStreamer decode-only and ffmpeg's filters.
//! - [`aggregate`]: window aggregation in process per backend against DuckDB.
//! - [`streams`]: `osprey put` and `osprey read` throughput, and
//!   put-to-read latency through `osprey put --listen` and `osprey read --follow`.
//! - [`live`]: the most real-time test cameras one `osprey analyze` keeps up with.
//! - [`video`]: recording a source into a video stream, and clips and
//!   images read back.

pub mod aggregate;
pub mod frames;
pub mod live;
pub mod streams;
pub mod video;

use crate::Ctx;
use crate::args::Workload;
use crate::error::Result;
use crate::runner::{self, Case, Contender};

/// Runs `workload`, adding its measurements and notes to `ctx`.
///
/// # Errors
/// As the workload's.
pub fn run(workload: Workload, ctx: &mut Ctx<'_>) -> Result<()> {
    match workload {
        Workload::Frames => frames::run(ctx),
        Workload::Aggregate => aggregate::run(ctx),
        Workload::Streams => streams::run(ctx),
        Workload::Live => live::run(ctx),
        Workload::Video => video::run(ctx),
    }
}

/// Runs `contenders` on `case` as [`runner::alternate`] does and keeps
/// their measurements in `ctx`.
///
/// # Errors
/// The first run that fails.
pub(crate) fn measure(
    results: &mut Vec<crate::report::Measurement>,
    options: &crate::Options,
    progress: &dyn crate::Progress,
    case: &Case,
    contenders: &mut [Contender<'_>],
) -> Result<()> {
    if contenders.is_empty() {
        return Ok(());
    }
    let measured = runner::alternate(case, contenders, options.runs, progress)?;
    results.extend(measured);
    Ok(())
}
