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
    /// The cluster (NATS JetStream) log failed.
    #[error(transparent)]
    Cluster(Box<crate::cluster::ClusterError>),
    /// A stream that the store does not hold.
    #[error("cannot open stream {stream:?}: no such stream")]
    NoSuchStream {
        /// The stream's name.
        stream: String,
    },
    /// A stream created under a name that is taken.
    #[error("cannot create stream {stream:?}: it exists already")]
    StreamExists {
        /// The stream's name.
        stream: String,
    },
    /// A shard that the stream does not have.
    #[error("stream {stream:?} has no shard {shard:?}")]
    NoSuchShard {
        /// The stream's name.
        stream: String,
        /// The shard id asked for.
        shard: String,
    },
    /// An argument out of range: a bad name, shard count, hash key, position.
    #[error("{0}")]
    InvalidArgument(String),
    /// A record that cannot be stored (too large, a bad partition key, ...).
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    /// More load than the store takes now; the same call may succeed later.
    #[error("store overloaded: {0}; retry later")]
    Overloaded(String),
    /// Reading or writing the data directory failed.
    #[error("{action} {path:?}")]
    Storage {
        /// What was being done (`cannot write`, ...).
        action: &'static str,
        /// The file or folder.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The data directory is held by another osprey process.
    #[error("data directory {dir:?} is in use by another osprey process")]
    Locked {
        /// The data directory.
        dir: std::path::PathBuf,
    },
    /// A file in the data directory that cannot be understood.
    #[error("corrupt {path:?}: {reason}")]
    Corrupt {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A stream whose metadata cannot be read; the others work, and
    /// deleting it removes it.
    #[error("stream {stream:?} is damaged: {reason}")]
    Damaged {
        /// The stream's name.
        stream: String,
        /// Why it cannot be opened.
        reason: String,
    },
    /// A write through a store opened read-only.
    #[error("the store is open read-only")]
    ReadOnly,
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

    /// True when the same call may succeed later: the store was overloaded,
    /// or its disk is full (the store goes on by itself once space is freed).
    pub fn is_retryable(&self) -> bool {
        match self {
            IngestError::Overloaded(_) => true,
            IngestError::Storage { source, .. } => is_out_of_space(source),
            _ => false,
        }
    }
}

/// True for "no space left on device" and "disk quota exceeded".
pub fn is_out_of_space(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}

/// An error with the whole chain of its sources, `outer: inner: ...`, as
/// `{:#}` writes an `anyhow` error: the store's I/O errors keep their cause
/// (`no space left on device`) in a source, not in their own message. A
/// source whose text the message already holds is not repeated, an I/O
/// error's text starts lowercase like osprey's own, and an empty message
/// never stands alone. Servers and error records use it, so that a reason is
/// never empty and never cut short.
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    for s in std::iter::successors(err.source(), |e| e.source()) {
        let mut part = s.to_string();
        if s.is::<std::io::Error>()
            && let Some(first) = part.chars().next()
        {
            part.replace_range(..first.len_utf8(), &first.to_lowercase().to_string());
        }
        if !part.is_empty() && !text.contains(&part) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
    }
    if text.trim().is_empty() {
        format!("{err:?}")
    } else {
        text
    }
}

/// An I/O error as a short lowercase reason for a message (`cannot open
/// "x.mp4": no such file`): `no such file` and `permission denied` for
/// those two kinds (the words other code and tests look for), else the
/// system's text without Rust's ` (os error N)`, its first letter lowered
/// unless it starts an acronym. One wording for every crate.
pub fn io_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => return "no such file".to_owned(),
        std::io::ErrorKind::PermissionDenied => return "permission denied".to_owned(),
        _ => {}
    }
    let text = err.to_string();
    let text = text.split(" (os error").next().unwrap_or_default().trim();
    let text = text.trim_end_matches('.');
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (None, _) => format!("{:?}", err.kind()).to_lowercase(),
        // An acronym (`TLS ...`) keeps its case.
        (Some(_), Some(second)) if second.is_uppercase() => text.to_owned(),
        (Some(first), _) => first.to_lowercase().chain(text.chars().skip(1)).collect(),
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = IngestError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[test]
    fn io_reasons_read_as_short_lowercase_reasons() {
        let reason = |e: io::Error| io_reason(&e);
        assert_eq!(reason(io::Error::from_raw_os_error(2)), "no such file");
        assert_eq!(
            reason(io::Error::from_raw_os_error(13)),
            "permission denied"
        );
        assert_eq!(reason(io::Error::from_raw_os_error(21)), "is a directory");
        assert_eq!(reason(io::Error::other("TLS failed.")), "TLS failed");
        assert_eq!(reason(io::Error::other("")), "other");
    }

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
