//! The one error type of `osprey-ingest`.
//!
//! A reader that went away ([`IngestError::BrokenPipe`]) is kept apart from
//! other I/O failures, because a command-line tool treats it as a normal end.

/// Everything that can go wrong in the stream layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// A `--schema` declaration that cannot be used (chunker).
    #[error("invalid schema: {0}")]
    InvalidSchema(String),
    /// A `--time-format` that osprey cannot read times with (chunker).
    #[error("invalid time format: {0}")]
    InvalidTimeFormat(String),
    /// A Parquet file that cannot be opened or decoded.
    #[error("cannot read parquet {0}")]
    Parquet(String),
    /// A bug in osprey's stream layer: an invariant did not hold.
    #[error("internal error: {0}")]
    Internal(String),
    /// The reader of the output closed it (a pipe into `head`, for instance).
    #[error("output closed by its reader (broken pipe)")]
    BrokenPipe,
    /// Writing or flushing the output failed for another reason.
    #[error("cannot write output")]
    Io(#[source] std::io::Error),
    /// A record could not be encoded (a map with non-string keys, for instance).
    #[error("cannot encode record as JSON")]
    Encode(#[source] serde_json::Error),
}

impl From<std::io::Error> for IngestError {
    /// Sorts an I/O error: a broken pipe becomes [`IngestError::BrokenPipe`].
    fn from(err: std::io::Error) -> Self {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            IngestError::BrokenPipe
        } else {
            IngestError::Io(err)
        }
    }
}

impl IngestError {
    /// True when the reader closed the output; callers that write to a pipe
    /// usually treat this as success.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, IngestError::BrokenPipe)
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = IngestError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[test]
    fn broken_pipe_is_sorted_out() {
        let e = IngestError::from(io::Error::from(io::ErrorKind::BrokenPipe));
        assert!(e.is_broken_pipe());
        let e = IngestError::from(io::Error::other("disk on fire"));
        assert!(!e.is_broken_pipe());
        assert_eq!(e.to_string(), "cannot write output");
        let source = std::error::Error::source(&e).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("disk on fire"));
    }
}
