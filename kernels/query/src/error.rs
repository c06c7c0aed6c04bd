//! The one error type of `osprey-query`.
//!
//! A query that cannot be run as asked (a syntax error, a construct osprey
//! does not support, a field the input lacks) is [`QueryError::Usage`]; the
//! window engine's, the store's and Arrow's errors keep their own type
//! inside, so a caller maps each to its exit code (the binary's `exit.rs`).

use osprey_ingest::IngestError;
use osprey_kernels::KernelError;

/// Everything that can go wrong planning or running a query.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The query, a flag of it, or the input's columns make no sense for it:
    /// a syntax error, an unsupported construct, a missing or unusable field.
    #[error("{0}")]
    Usage(String),
    /// The window engine failed (a device error among them).
    #[error(transparent)]
    Kernel(#[from] KernelError),
    /// The result or error output could not be written, or a stream refused
    /// a row ([`IngestError::BrokenPipe`] when its reader went away).
    #[error(transparent)]
    Output(#[from] IngestError),
    /// Arrow could not convert or filter a batch.
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
    /// A step on Arrow data failed; `what` names the step.
    #[error("{what}")]
    ArrowStep {
        /// The step, as a message: `cannot apply WHERE`.
        what: &'static str,
        /// Arrow's error.
        #[source]
        source: arrow::error::ArrowError,
    },
    /// An input cannot be opened or read (a Parquet file that cannot be
    /// decoded, a text input that fails, a CSV record over the limit).
    #[error("cannot open {input:?}: {reason}")]
    Input {
        /// The input as the user named it.
        input: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// A stream input could not be read (no such stream, damage, the store
    /// cannot be read).
    #[error(transparent)]
    Read(IngestError),
    /// A stream consumer's checkpoint could not be saved.
    #[error("cannot save the checkpoint of consumer {consumer:?}")]
    Checkpoint {
        /// The consumer.
        consumer: String,
        /// The store's error.
        #[source]
        source: IngestError,
    },
    /// A TCP input cannot listen; `what` says which step failed.
    #[error("{what}")]
    Listen {
        /// The step, as a message: `cannot listen on tcp://127.0.0.1:9000`.
        what: String,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// A Parquet or Arrow IPC result file could not be written.
    #[error("{what}")]
    ResultFile {
        /// The step, as a message: `cannot write parquet`.
        what: &'static str,
        /// The writer's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The forests of an anomaly query would grow past the memory limit.
    #[error(
        "the anomaly forests need {} ({groups} groups of {} each once their samples are full), over the memory limit of {}; use fewer or coarser PARTITION BY / --group-by keys, fewer trees or a smaller sample, or a larger --memory-limit",
        osprey_kernels::window::memory::human(*.state),
        osprey_kernels::window::memory::human(*.per_group),
        osprey_kernels::window::memory::human(*.limit)
    )]
    AnomalyMemory {
        /// Bytes the forests would hold.
        state: u64,
        /// Groups (forests), the one that passed the limit included.
        groups: u64,
        /// Bytes of one group's forest.
        per_group: u64,
        /// The limit, in bytes.
        limit: u64,
    },
}

impl QueryError {
    /// A [`QueryError::Usage`] with `message`.
    pub fn usage(message: impl std::fmt::Display) -> Self {
        QueryError::Usage(message.to_string())
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = QueryError> = std::result::Result<T, E>;
