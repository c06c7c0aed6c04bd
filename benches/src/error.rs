//! The harness's errors.

use std::path::PathBuf;

/// Why a bench run failed. A missing peer is no error: it is skipped with a
/// note in the report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// Options that make no sense (an unknown workload, zero runs).
    #[error("{0}")]
    Usage(String),
    /// A file or folder cannot be written or read.
    #[error("cannot {what} {path:?}: {source}")]
    Io {
        /// What was being done, e.g. `write`.
        what: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A child process (osprey, a peer, an input maker) cannot start or failed.
    #[error("{command} failed: {reason}")]
    Process {
        /// The program and its first arguments.
        command: String,
        /// Its exit status and the end of its stderr, or why it did not start.
        reason: String,
    },
    /// The kernels failed (no GPU adapter with `--backend gpu`, a device lost).
    #[error(transparent)]
    Kernel(#[from] osprey_kernels::KernelError),
    /// The query engine failed on a table the harness made.
    #[error(transparent)]
    Query(#[from] osprey_query::QueryError),
    /// A table cannot be written.
    #[error("cannot write a table: {0}")]
    Table(String),
    /// A report cannot be read or written as JSON.
    #[error("report {path:?}: {reason}")]
    Report {
        /// The report's file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A plot cannot be drawn.
    #[error("cannot draw {path:?}: {reason}")]
    Plot {
        /// The SVG file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl BenchError {
    /// An I/O error on `path`.
    pub fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        BenchError::Io {
            what,
            path: path.into(),
            source,
        }
    }
}

/// The harness's result.
pub type Result<T, E = BenchError> = std::result::Result<T, E>;
