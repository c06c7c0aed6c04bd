//! `osprey analyze` options of recording: the video stream each source's
//! encoded stream is recorded into, from the same connection as the
//! analysis, and the clip of the recording each event names.

use clap::Args;

/// Recording options, under their own heading in `--help`.
#[derive(Debug, Clone, Args, PartialEq)]
#[command(next_help_heading = "Recording")]
pub struct RecordArgs {
    /// Record each source's H.264/H.265 stream, as it came (no re-encoding,
    /// one connection for analysis and recording), into video stream NAME
    /// of --data-dir (created when missing). With several sources, each
    /// records into NAME-SOURCE unless its sources-file table says `record
    /// = "NAME"`. Raw sources (test:, raw cameras) have nothing encoded to
    /// record
    #[arg(long, value_name = "NAME")]
    pub record: Option<String>,

    /// With --record: each event record names the clip of the recording
    /// from this long before it (clip_start, clip_end, clip)
    #[arg(long, value_name = "D", requires = "record")]
    pub clip_pre: Option<String>,

    /// With --record: ...and until this long after it
    #[arg(long, value_name = "D", requires = "record")]
    pub clip_post: Option<String>,
}
