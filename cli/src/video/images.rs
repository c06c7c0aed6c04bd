//! `osprey video images NAME --start --end --every 1s --width 320 -o DIR`.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;

use crate::args::stream::DataDirArg;

/// Arguments of `osprey video images`.
#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// The video stream's name
    pub name: String,
    /// Start (RFC 3339 or Unix seconds)
    #[arg(long, value_name = "T")]
    pub start: String,
    /// End (RFC 3339 or Unix seconds)
    #[arg(long, value_name = "T")]
    pub end: String,
    /// One image every this long (e.g. 1s, 500ms)
    #[arg(long, default_value = "1s", value_name = "DURATION")]
    pub every: String,
    /// Scale to this width (the height follows the aspect unless given)
    #[arg(long, value_name = "PX")]
    pub width: Option<u32>,
    /// Scale to this height
    #[arg(long, value_name = "PX")]
    pub height: Option<u32>,
    /// The folder to write the images into
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,
    /// The store.
    #[command(flatten)]
    pub data: DataDirArg,
}

/// `osprey video images`.
pub fn run(args: &ImagesArgs) -> Result<()> {
    bail!("osprey video images: not built yet ({})", args.name)
}
