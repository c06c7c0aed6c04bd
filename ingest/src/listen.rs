//! The listening socket of a server (the TCP line listener, the Kinesis
//! API): binding it and reading its address, with errors that say which.

use std::net::{SocketAddr, TcpListener};

/// Why a server cannot listen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ListenError {
    /// A listen URL that is not `tcp://HOST:PORT`.
    #[error("invalid listen address {0:?}: use tcp://HOST:PORT")]
    InvalidUrl(String),
    /// The address cannot be bound (in use, not local, ...).
    #[error("cannot listen on {shown}")]
    Bind {
        /// The address as the user gave it.
        shown: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The bound socket's address cannot be read.
    #[error("cannot read the listening address")]
    LocalAddr(#[source] std::io::Error),
}

/// Binds `addr` (shown as `shown` in errors) and returns the listener with
/// the address it is bound to (the port the system picked for port 0).
///
/// # Errors
/// [`ListenError::Bind`] or [`ListenError::LocalAddr`].
pub fn bind(addr: &str, shown: &str) -> Result<(TcpListener, SocketAddr), ListenError> {
    let listener = TcpListener::bind(addr).map_err(|source| ListenError::Bind {
        shown: shown.to_owned(),
        source,
    })?;
    let local = listener.local_addr().map_err(ListenError::LocalAddr)?;
    Ok((listener, local))
}
