//! The listener: binding, the accept loop with its connection slots, each
//! connection on hyper under its watchdog, and the graceful stop.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;

use super::metrics::RequestMetricsLayer;
use super::refuse::{REFUSAL_WAIT, overloaded};
use super::watch::{Activity, Watched, watchdog};
use super::{MAX_HEAD, MAX_REFUSERS, ServeError, service, tls};
use crate::listen::{ListenError, bind};

/// How long the server waits on a peer.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// The longest a new connection may stay silent before its first
    /// request (at most `idle`).
    pub first_byte: Duration,
    /// The longest a keep-alive connection may stay silent between requests.
    pub idle: Duration,
    /// The longest a request head may take to arrive from its first byte,
    /// a handler to answer (the body's arrival included), and an answer to
    /// be taken.
    pub request: Duration,
}

/// A PEM certificate chain and its PEM private key.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain, the server's certificate first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// How an [`HttpServer`] listens.
#[derive(Debug, Clone)]
pub struct HttpServerConfig {
    /// The `HOST:PORT` to listen on.
    pub addr: String,
    /// Most connections served at once; more are answered 503.
    pub max_connections: usize,
    /// How long the server waits on a peer.
    pub timeouts: Timeouts,
    /// Serve HTTPS with these files; `None` for plain HTTP.
    pub tls: Option<TlsFiles>,
}

/// An HTTP listener, bound and not yet serving.
pub struct HttpServer {
    listener: std::net::TcpListener,
    local: SocketAddr,
    max_connections: usize,
    timeouts: Timeouts,
    tls: Option<TlsAcceptor>,
}

impl std::fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServer")
            .field("local", &self.local)
            .field("max_connections", &self.max_connections)
            .field("timeouts", &self.timeouts)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// What a new connection gets.
enum Slot {
    /// A connection slot: it is served.
    Serve(OwnedSemaphorePermit),
    /// A refuser's slot: it is answered 503.
    Refuse(OwnedSemaphorePermit),
}

impl HttpServer {
    /// Reads the TLS files, if any, and binds `config.addr`.
    ///
    /// # Errors
    /// [`ServeError::Listen`], [`ServeError::TlsFile`], [`ServeError::Tls`].
    pub fn bind(config: HttpServerConfig) -> Result<HttpServer, ServeError> {
        let tls = config.tls.as_ref().map(tls::acceptor).transpose()?;
        let (listener, local) = bind(&config.addr, &config.addr)?;
        listener
            .set_nonblocking(true)
            .map_err(|source| ListenError::Bind {
                shown: config.addr.clone(),
                source,
            })?;
        Ok(HttpServer {
            listener,
            local,
            max_connections: config.max_connections.max(1),
            timeouts: config.timeouts,
            tls,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// `https` when serving TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// Serves `router` until `shutdown` completes; then stops accepting,
    /// lets the requests in flight finish (for at most the request
    /// timeout), and returns. Must run inside a tokio runtime.
    ///
    /// # Errors
    /// The listener cannot be registered with the runtime.
    pub async fn serve(
        self,
        router: Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        let HttpServer {
            listener,
            max_connections,
            timeouts,
            tls,
            ..
        } = self;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let router = router.layer(RequestMetricsLayer);
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            // A backstop: the watchdog cuts a slow head at `request` from its
            // first byte; hyper's clock starts when it waits for a head.
            .header_read_timeout(timeouts.idle.max(timeouts.first_byte) + timeouts.request)
            .max_header_size(MAX_HEAD)
            // A client may shut its side once its request is sent: it still
            // gets its answer (hyper would otherwise close at the EOF).
            .half_close(true);
        let builder = Arc::new(builder);
        let slots = Arc::new(Semaphore::new(max_connections));
        let refusers = Arc::new(Semaphore::new(MAX_REFUSERS));
        let graceful = GracefulShutdown::new();
        let shutdown = std::pin::pin!(shutdown);
        let mut shutdown = shutdown;
        loop {
            let sock = tokio::select! {
                biased;
                () = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok((sock, _)) => sock,
                    Err(e) => {
                        // Out of descriptors and the like: let some close.
                        tracing::warn!(error = %e, "Cannot accept an HTTP connection.");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                },
            };
            let slot = match (
                Arc::clone(&slots).try_acquire_owned(),
                Arc::clone(&refusers).try_acquire_owned(),
            ) {
                (Ok(serve), _) => Slot::Serve(serve),
                (Err(_), Ok(refuse)) => Slot::Refuse(refuse),
                // Every slot busy: the peers wait in the listen queue.
                (Err(_), Err(_)) => tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    serve = Arc::clone(&slots).acquire_owned() => Slot::Serve(serve.expect("never closed")),
                    refuse = Arc::clone(&refusers).acquire_owned() => Slot::Refuse(refuse.expect("never closed")),
                },
            };
            let _ = sock.set_nodelay(true);
            let tls = tls.clone();
            match slot {
                Slot::Serve(permit) => {
                    let conn = connection(
                        Arc::clone(&builder),
                        router.clone(),
                        tls,
                        sock,
                        timeouts,
                        graceful.watcher(),
                    );
                    tokio::spawn(async move {
                        let _permit = permit;
                        conn.await;
                    });
                }
                Slot::Refuse(permit) => {
                    let wait = REFUSAL_WAIT.min(timeouts.request);
                    tokio::spawn(async move {
                        let _permit = permit;
                        match tls {
                            None => overloaded(sock, wait).await,
                            Some(acceptor) => {
                                let accepted =
                                    tokio::time::timeout(wait, acceptor.accept(sock)).await;
                                if let Ok(Ok(sock)) = accepted {
                                    overloaded(sock, wait).await;
                                }
                            }
                        }
                    });
                }
            }
        }
        drop(listener);
        if tokio::time::timeout(timeouts.request, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("HTTP requests still in flight at shutdown were dropped.");
        }
        Ok(())
    }
}

/// Serves one connection (after its TLS handshake, if any) until it closes,
/// breaks, or outlives a timeout.
async fn connection(
    builder: Arc<http1::Builder>,
    router: Router,
    tls: Option<TlsAcceptor>,
    sock: TcpStream,
    timeouts: Timeouts,
    watcher: Watcher,
) {
    let activity = Activity::new();
    let io = Watched::new(sock, Arc::clone(&activity));
    match tls {
        None => run(&builder, router, io, activity, timeouts, watcher).await,
        Some(acceptor) => {
            let accepted = tokio::select! {
                accepted = acceptor.accept(io) => accepted,
                () = watchdog(&activity, timeouts) => return,
            };
            match accepted {
                Ok(io) => run(&builder, router, io, activity, timeouts, watcher).await,
                Err(e) => tracing::debug!(error = %e, "TLS handshake failed."),
            }
        }
    }
}

/// Serves HTTP/1.1 on `io` until it closes or the watchdog ends it.
async fn run<I>(
    builder: &http1::Builder,
    router: Router,
    io: I,
    activity: Arc<Activity>,
    timeouts: Timeouts,
    watcher: Watcher,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let served = Arc::clone(&activity);
    let handler = hyper::service::service_fn(move |request| {
        service::serve(
            router.clone(),
            Arc::clone(&served),
            timeouts.request,
            request,
        )
    });
    let conn = watcher.watch(builder.serve_connection(TokioIo::new(io), handler));
    tokio::select! {
        ended = conn => if let Err(e) = ended {
            tracing::debug!(error = %e, "HTTP connection ended.");
        },
        () = watchdog(&activity, timeouts) => {
            tracing::debug!("HTTP connection closed at a timeout.");
        }
    }
}
