//! `osprey video create|list|describe|delete|verify|fragments`.

use anyhow::{Result, bail};
use clap::Args;

use crate::args::stream::DataDirArg;

/// Arguments of `osprey video create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The video stream's name
    pub name: String,
    /// Keep fragments this many hours (default: keep them until deleted or
    /// --retention-mib is reached)
    #[arg(long, value_name = "H")]
    pub retention_hours: Option<u32>,
    /// Keep at most this many MiB of media, dropping the oldest fragments
    #[arg(long, value_name = "N")]
    pub retention_mib: Option<u64>,
    /// The store.
    #[command(flatten)]
    pub data: DataDirArg,
}

/// Arguments of `osprey video list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// The store.
    #[command(flatten)]
    pub data: DataDirArg,
}

/// Arguments naming one video stream.
#[derive(Debug, Args)]
pub struct NameArgs {
    /// The video stream's name
    pub name: String,
    /// The store.
    #[command(flatten)]
    pub data: DataDirArg,
}

/// Arguments of `osprey video fragments`.
#[derive(Debug, Args)]
pub struct FragmentsArgs {
    /// The video stream's name
    pub name: String,
    /// From this time (RFC 3339 or Unix seconds)
    #[arg(long, value_name = "T")]
    pub start: Option<String>,
    /// Until this time (RFC 3339 or Unix seconds)
    #[arg(long, value_name = "T")]
    pub end: Option<String>,
    /// The store.
    #[command(flatten)]
    pub data: DataDirArg,
}

/// `osprey video create`.
pub fn create(args: &CreateArgs) -> Result<()> {
    bail!("osprey video create: not built yet ({})", args.name)
}

/// `osprey video list`.
pub fn list(args: &ListArgs) -> Result<()> {
    bail!(
        "osprey video list: not built yet ({:?})",
        args.data.data_dir
    )
}

/// `osprey video describe`.
pub fn describe(args: &NameArgs) -> Result<()> {
    bail!("osprey video describe: not built yet ({})", args.name)
}

/// `osprey video delete`.
pub fn delete(args: &NameArgs) -> Result<()> {
    bail!("osprey video delete: not built yet ({})", args.name)
}

/// `osprey video verify`.
pub fn verify(args: &NameArgs) -> Result<()> {
    bail!("osprey video verify: not built yet ({})", args.name)
}

/// `osprey video fragments`.
pub fn fragments(args: &FragmentsArgs) -> Result<()> {
    bail!("osprey video fragments: not built yet ({})", args.name)
}
