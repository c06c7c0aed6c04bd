//! The listener: binding, the accept loop with its connection slots, each
//! connection on hyper under its watchdog, and the graceful stop.
//!
//! A connection speaks HTTP/2 when TLS agreed on ALPN `h2`, or, on plain
//! TCP, when it opens with HTTP/2's preface (prior knowledge, h2c); else
//! HTTP/1.1.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;

use super::metrics::RequestMetricsLayer;
use super::refuse::{REFUSAL_WAIT, overloaded};
use super::watch::{Activity, Watched, watchdog};
use super::{MAX_HEAD, MAX_REFUSERS, MAX_STREAMS, ServeError, service, tls};
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
        let builder = Arc::new(Builders::new(timeouts));
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

/// HTTP/2 flow control: a stream's receive window (a 5 MiB PutRecords
/// arrives in a few round trips)...
const H2_STREAM_WINDOW: u32 = 1 << 20;
/// ... and the connection's, which bounds what all its streams together
/// hold unread.
const H2_CONNECTION_WINDOW: u32 = 4 << 20;
/// The most bytes of an answer buffered per stream beyond what the peer's
/// window lets out.
const H2_SEND_BUFFER: usize = 256 << 10;

/// HTTP/2's connection preface, which a client with prior knowledge sends
/// first.
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// hyper's connection builders, one per protocol.
struct Builders {
    http1: http1::Builder,
    http2: http2::Builder<TokioExecutor>,
}

impl Builders {
    fn new(timeouts: Timeouts) -> Builders {
        let mut http1 = http1::Builder::new();
        http1
            .timer(TokioTimer::new())
            // A backstop: the watchdog cuts a slow head at `request` from its
            // first byte; hyper's clock starts when it waits for a head.
            .header_read_timeout(timeouts.idle.max(timeouts.first_byte) + timeouts.request)
            .max_header_size(MAX_HEAD)
            // A client may shut its side once its request is sent: it still
            // gets its answer (hyper would otherwise close at the EOF).
            .half_close(true);
        let mut http2 = http2::Builder::new(TokioExecutor::new());
        http2
            .timer(TokioTimer::new())
            .max_concurrent_streams(MAX_STREAMS)
            .max_header_list_size(u32::try_from(MAX_HEAD).unwrap_or(u32::MAX))
            .initial_stream_window_size(H2_STREAM_WINDOW)
            .initial_connection_window_size(H2_CONNECTION_WINDOW)
            .max_send_buf_size(H2_SEND_BUFFER);
        Builders { http1, http2 }
    }
}

/// Whether a plain connection opens with HTTP/2's preface: peeks (reads
/// nothing) until its first bytes differ from the preface or match it whole.
async fn prior_knowledge(sock: &TcpStream) -> bool {
    let mut first = [0; H2_PREFACE.len()];
    loop {
        let n = match sock.peek(&mut first).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        if first[..n] != H2_PREFACE[..n] {
            return false;
        }
        if n == H2_PREFACE.len() {
            return true;
        }
        // Part of the preface (rare: clients send it in one write): peek
        // again once more may have come.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Serves one connection (after its TLS handshake, if any) until it closes,
/// breaks, or outlives a timeout.
async fn connection(
    builder: Arc<Builders>,
    router: Router,
    tls: Option<TlsAcceptor>,
    sock: TcpStream,
    timeouts: Timeouts,
    watcher: Watcher,
) {
    let activity = Activity::new();
    match tls {
        None => {
            // Silence before the first byte is bounded by the watchdog.
            let h2 = tokio::select! {
                h2 = prior_knowledge(&sock) => h2,
                () = watchdog(&activity, timeouts) => return,
            };
            let io = Watched::new(sock, Arc::clone(&activity));
            run(&builder, h2, router, io, activity, timeouts, watcher).await;
        }
        Some(acceptor) => {
            let io = Watched::new(sock, Arc::clone(&activity));
            let accepted = tokio::select! {
                accepted = acceptor.accept(io) => accepted,
                () = watchdog(&activity, timeouts) => return,
            };
            match accepted {
                Ok(io) => {
                    let h2 = io.get_ref().1.alpn_protocol() == Some(&b"h2"[..]);
                    run(&builder, h2, router, io, activity, timeouts, watcher).await;
                }
                Err(e) => tracing::debug!(error = %e, "TLS handshake failed."),
            }
        }
    }
}

/// Serves HTTP/2 (`h2`) or HTTP/1.1 on `io` until it closes or the watchdog
/// ends it.
async fn run<I>(
    builder: &Builders,
    h2: bool,
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
    let io = TokioIo::new(io);
    if h2 {
        let conn = builder.http2.serve_connection(io, handler);
        drive(watcher.watch(conn), &activity, timeouts).await;
    } else {
        let conn = builder.http1.serve_connection(io, handler);
        drive(watcher.watch(conn), &activity, timeouts).await;
    }
}

/// Runs a connection until it ends or the watchdog ends it.
async fn drive<E: std::fmt::Display>(
    conn: impl Future<Output = Result<(), E>>,
    activity: &Activity,
    timeouts: Timeouts,
) {
    tokio::select! {
        ended = conn => if let Err(e) = ended {
            tracing::debug!(error = %e, "HTTP connection ended.");
        },
        () = watchdog(activity, timeouts) => {
            tracing::debug!("HTTP connection closed at a timeout.");
        }
    }
}
