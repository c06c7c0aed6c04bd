//! The errors osprey's engines return for what a user gave them: a
//! [`UsageError`] (arguments or a config that make no sense) and an
//! [`InputError`] (an input that cannot be used). They travel inside
//! `anyhow` chains; the binary reads the first one it knows in a chain to
//! choose its exit code, so context added on the way never changes it.

use osprey_video::VideoError;

/// Arguments that parse but make no sense (a kernel osprey does not know, a
/// threshold out of range, ...).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// An input that cannot be used, found before decoding starts (a missing
/// file, a folder).
#[derive(Debug, thiserror::Error)]
#[error("cannot open {input:?}: {reason}")]
pub struct InputError {
    /// The input as the user gave it.
    pub input: String,
    /// Why it cannot be used.
    pub reason: String,
}

/// A video or analysis error as osprey says it: a thumbnail folder that
/// cannot be used is a `--thumbnails` usage error; the others as they are.
pub fn from_video(err: VideoError) -> anyhow::Error {
    match err {
        VideoError::ThumbnailFolder {
            dir,
            problem,
            source,
        } => {
            let why = match source {
                Some(e) => format!("{problem}: {}", crate::analyze::io_reason(&e)),
                None => problem.to_owned(),
            };
            UsageError(format!("--thumbnails {dir:?}: {why}")).into()
        }
        other => other.into(),
    }
}
