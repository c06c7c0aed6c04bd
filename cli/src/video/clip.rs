//! `osprey video clip NAME --start T --end T -o clip.mp4`.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;

use crate::args::stream::DataDirArg;

/// Arguments of `osprey video clip`.
#[derive(Debug, Args)]
pub struct ClipArgs {
    /// The video stream's name
    pub name: String,
    /// Start (RFC 3339 or Unix seconds); the clip starts at the key frame at
    /// or before it
    #[arg(long, value_name = "T")]
    pub start: String,
    /// End (RFC 3339 or Unix seconds)
    #[arg(long, value_name = "T")]
    pub end: String,
    /// The MP4 file to write
    #[arg(short, long, value_name = "PATH")]
    pub output: PathBuf,
    /// The store.
    #[command(flatten)]
    pub data: DataDirArg,
}

/// `osprey video clip`.
pub fn run(args: &ClipArgs) -> Result<()> {
    bail!("osprey video clip: not built yet ({})", args.name)
}
