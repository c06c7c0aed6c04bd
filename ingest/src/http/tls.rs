//! TLS for the listener: a rustls server configuration (ring provider,
//! TLS 1.2 and 1.3, ALPN `h2` and `http/1.1`) from a PEM certificate chain and a PEM
//! private key.

use std::io;
use std::path::Path;
use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

use super::{ServeError, TlsFiles};

/// Reads `files` into an acceptor.
///
/// # Errors
/// [`ServeError::TlsFile`] (unreadable, not PEM, no certificate or key),
/// [`ServeError::Tls`] (a key that does not fit the certificate, ...).
pub(super) fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, ServeError> {
    let certs = read(&files.cert, |pem| {
        CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>()
    })?;
    if certs.is_empty() {
        return Err(file_error(&files.cert, "no certificate in it"));
    }
    let key = read(&files.key, PrivateKeyDer::from_pem_slice)?;
    #[expect(
        deprecated,
        reason = "ring lacks post-quantum key exchange; aws-lc-rs needs cmake and NASM to build"
    )]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(ServeError::Tls)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(ServeError::Tls)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Reads the PEM file at `path` with `parse`.
fn read<T, E: std::fmt::Display>(
    path: &Path,
    parse: impl FnOnce(&[u8]) -> Result<T, E>,
) -> Result<T, ServeError> {
    let pem = std::fs::read(path).map_err(|source| ServeError::TlsFile {
        path: path.to_owned(),
        source,
    })?;
    parse(&pem).map_err(|e| file_error(path, &e.to_string().to_lowercase()))
}

fn file_error(path: &Path, why: &str) -> ServeError {
    ServeError::TlsFile {
        path: path.to_owned(),
        source: io::Error::new(io::ErrorKind::InvalidData, why.to_owned()),
    }
}
