//! `osprey video`: video streams in the store (issue 16): create, list,
//! describe, delete and verify them ([`manage`]), record a source into one
//! ([`put`]), and read clips ([`clip`]) and images ([`images`]) back.

pub mod clip;
pub mod images;
pub mod manage;
pub mod put;
pub use osprey_server::time_arg;

use anyhow::Result;
use clap::{Args, Subcommand};

/// Arguments of `osprey video`.
#[derive(Debug, Args)]
pub struct VideoArgs {
    /// What to do with video streams.
    #[command(subcommand)]
    pub command: VideoCommand,
}

/// `osprey video` subcommands.
#[derive(Debug, Subcommand)]
pub enum VideoCommand {
    /// Create a video stream
    Create(manage::CreateArgs),
    /// List the video streams
    List(manage::ListArgs),
    /// Describe a video stream: retention, fragments kept, time span
    Describe(manage::NameArgs),
    /// Delete a video stream and everything it holds
    Delete(manage::NameArgs),
    /// Read every fragment of a video stream and report damage
    Verify(manage::NameArgs),
    /// List a video stream's fragments, optionally over a time range
    Fragments(manage::FragmentsArgs),
    /// Record a file, RTSP stream or camera into a video stream (no re-encoding)
    Put(put::PutArgs),
    /// Write an MP4 clip of a time range
    Clip(clip::ClipArgs),
    /// Write JPEG or PNG images sampled over a time range
    Images(images::ImagesArgs),
}

/// Runs `osprey video ...`.
pub fn run(args: &VideoArgs) -> Result<()> {
    match &args.command {
        VideoCommand::Create(a) => manage::create(a),
        VideoCommand::List(a) => manage::list(a),
        VideoCommand::Describe(a) => manage::describe(a),
        VideoCommand::Delete(a) => manage::delete(a),
        VideoCommand::Verify(a) => manage::verify(a),
        VideoCommand::Fragments(a) => manage::fragments(a),
        VideoCommand::Put(a) => put::run(a),
        VideoCommand::Clip(a) => clip::run(a),
        VideoCommand::Images(a) => images::run(a),
    }
}
