//! `osprey video put NAME SRC`: record a source into a video stream.

use anyhow::{Result, bail};
use clap::Args;

use crate::args::stream::DataDirArg;

/// Arguments of `osprey video put`.
#[derive(Debug, Args)]
pub struct PutArgs {
    /// The video stream's name
    pub name: String,
    /// The source: a video file, an RTSP URI, a camera (v4l2:///dev/video0)
    /// or a test source (test:ball)
    pub source: String,
    /// Fragment length to aim at, in seconds (cut at the first key frame
    /// past it)
    #[arg(long, default_value_t = 2.0, value_name = "S")]
    pub fragment_seconds: f64,
    /// For a file: the producer time of its first frame (RFC 3339 or Unix
    /// seconds; default: when the put starts)
    #[arg(long, value_name = "T")]
    pub start_time: Option<String>,
    /// The store.
    #[command(flatten)]
    pub data: DataDirArg,
}

/// `osprey video put`.
pub fn run(args: &PutArgs) -> Result<()> {
    bail!("osprey video put: not built yet ({})", args.name)
}
