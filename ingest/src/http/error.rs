//! Why an HTTP server cannot start.

use std::path::PathBuf;

use crate::listen::ListenError;

/// Why an HTTP server (or the Kinesis API it serves) cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The operating system's random source cannot be read.
    #[error("cannot draw a key for shard iterators")]
    Key(#[source] getrandom::Error),
    /// The address cannot be listened on.
    #[error(transparent)]
    Listen(#[from] ListenError),
    /// A TLS certificate chain or key file cannot be read.
    #[error("cannot read {}", path.display())]
    TlsFile {
        /// The PEM file.
        path: PathBuf,
        /// The I/O or PEM error.
        #[source]
        source: std::io::Error,
    },
    /// The certificate chain and key do not make a TLS configuration.
    #[error("invalid TLS certificate or key")]
    Tls(#[source] tokio_rustls::rustls::Error),
}
