//! The Kinesis Data Streams API over HTTP/1.1 (JSON 1.1: `POST /` with
//! `X-Amz-Target: Kinesis_20131202.<Operation>`), so that the AWS CLI, boto3
//! and the SDKs work against osprey with an endpoint URL ([`Server`], which
//! `osprey serve --http HOST:PORT` runs).
//!
//! A small HTTP/1.1 server of its own: a thread per connection (at most
//! [`ServerConfig::max_connections`]), keep-alive,
//! `Content-Length` bodies up to [`MAX_BODY`], `Expect: 100-continue` met;
//! anything else is answered with one error and the connection closed. A
//! peer cannot hold a slot for long ([`Timeouts`]): a new connection that
//! sends nothing for `first_byte` and a keep-alive one silent
//! between requests for `idle` are closed quietly, and one whose
//! request (head and body) takes longer than `request` to arrive,
//! or whose answer is not taken in that time, is closed.
//!
//! A connection beyond the limit is answered 503
//! (`ProvisionedThroughputExceededException`) by a thread of its own (at
//! most [`MAX_REFUSERS`] at once; past that, new connections wait in the
//! listen queue): it reads the request first (bounded in bytes and time),
//! then answers, stops writing and reads what is left until the peer
//! closes, so that the peer reads a whole answer rather than a reset.
//!
//! Each connection keeps its buffers (head, body, answer, the records of a
//! PutRecords call) from request to request. Given credentials, every
//! request's SigV4 signature is checked ([`sigv4`]); without, signed
//! requests are accepted unchecked.

use std::io::{self, BufRead as _, BufReader, BufWriter, Read, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::{api as kinesis, iterator, sigv4};
use crate::listen::{ListenError, bind};
use crate::store::Store;

/// Most refusals (503 answers to connections past the limit) under way at
/// once.
pub const MAX_REFUSERS: usize = 64;

/// The longest a refused connection's request is waited for, and then the
/// longest the peer is given to close after the answer.
const REFUSAL_WAIT: Duration = Duration::from_secs(1);

/// The largest request body (PutRecords allows 5 MiB of data, in base64).
pub const MAX_BODY: usize = 8 << 20;

/// The largest request head (request line and headers).
const MAX_HEAD: usize = 64 << 10;

/// The largest request body or answer buffer a connection keeps for its next
/// request; a larger one is given back once its request is answered.
const KEEP_BUFFER: usize = 1 << 20;

/// How long the server waits on a peer.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// The longest a new connection may stay silent before its first
    /// request (at most `idle`).
    pub first_byte: Duration,
    /// The longest a keep-alive connection may stay silent between requests.
    pub idle: Duration,
    /// The longest a request may take to arrive, from its first byte to its
    /// body's last, and an answer to be taken.
    pub request: Duration,
}

/// How a [`Server`] serves.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The `HOST:PORT` to listen on.
    pub addr: String,
    /// Most connections served at once; more are answered 503.
    pub max_connections: usize,
    /// How long the server waits on a peer.
    pub timeouts: Timeouts,
    /// How long a shard iterator stays valid.
    pub iterator_lifetime: Duration,
    /// The key pair requests must be signed with (SigV4); `None` accepts
    /// requests unchecked.
    pub credentials: Option<sigv4::Credentials>,
}

/// Why a [`Server`] cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The operating system's random source cannot be read.
    #[error("cannot draw a key for shard iterators")]
    Key(#[source] getrandom::Error),
    /// The address cannot be listened on.
    #[error(transparent)]
    Listen(#[from] ListenError),
}

/// The Kinesis API server, bound and not yet serving.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    local: SocketAddr,
    store: Arc<Store>,
    iterators: Arc<iterator::Iterators>,
    creds: Arc<Option<sigv4::Credentials>>,
    max_connections: usize,
    timeouts: Timeouts,
}

impl Server {
    /// Draws the shard iterators' key and binds `config.addr`.
    ///
    /// # Errors
    /// [`ServeError`].
    pub fn bind(store: Arc<Store>, config: ServerConfig) -> Result<Server, ServeError> {
        let iterators =
            iterator::Iterators::new(config.iterator_lifetime).map_err(ServeError::Key)?;
        let (listener, local) = bind(&config.addr, &config.addr)?;
        Ok(Server {
            listener,
            local,
            store,
            iterators: Arc::new(iterators),
            creds: Arc::new(config.credentials),
            max_connections: config.max_connections.max(1),
            timeouts: config.timeouts,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Serves connections (and sweeps the store's retention every minute)
    /// until the process is stopped.
    pub fn run(self) {
        let Server {
            listener,
            store,
            iterators,
            creds,
            max_connections,
            timeouts,
            ..
        } = self;
        let _retention = store.spawn_retention(Duration::from_secs(60));
        let slots = Arc::new(Slots::default());
        for conn in listener.incoming() {
            let Ok(sock) = conn else {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            let (slot, spawned) = match slots.take(max_connections) {
                Kind::Serve => {
                    let slot = Slot(Arc::clone(&slots), Kind::Serve);
                    let (store, creds) = (Arc::clone(&store), Arc::clone(&creds));
                    let iterators = Arc::clone(&iterators);
                    let spawned = std::thread::Builder::new()
                        .name("osprey-http".into())
                        .spawn(move || {
                            let _slot = slot;
                            let api = Api {
                                store: &store,
                                iterators: &iterators,
                                creds: creds.as_ref().as_ref(),
                            };
                            if let Err(e) = connection(&api, timeouts, sock) {
                                tracing::debug!(error = %e, "HTTP connection ended.");
                            }
                        });
                    ("connection", spawned)
                }
                Kind::Refuse => {
                    let slot = Slot(Arc::clone(&slots), Kind::Refuse);
                    let wait = REFUSAL_WAIT.min(timeouts.request);
                    let spawned = std::thread::Builder::new()
                        .name("osprey-http-503".into())
                        .stack_size(64 << 10)
                        .spawn(move || {
                            let _slot = slot;
                            if let Err(e) = overloaded(sock, wait) {
                                tracing::debug!(error = %e, "Refused HTTP connection ended.");
                            }
                        });
                    ("refusal", spawned)
                }
            };
            if let Err(e) = spawned {
                // The closure, its slot and the socket are dropped with the error.
                tracing::warn!(error = %e, what = slot, "Cannot start a thread for an HTTP connection.");
            }
        }
    }
}

/// What a request is served with.
struct Api<'a> {
    store: &'a Store,
    iterators: &'a iterator::Iterators,
    creds: Option<&'a sigv4::Credentials>,
}

/// What a new connection gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A connection slot: it is served.
    Serve,
    /// A refuser's slot: it is answered 503.
    Refuse,
}

/// The connection and refuser slots in use.
#[derive(Debug, Default)]
struct Slots {
    /// (connections, refusers) in use.
    used: Mutex<(usize, usize)>,
    /// Told when a slot is given back.
    freed: Condvar,
}

impl Slots {
    /// Takes a connection slot if one of `max` is free, else a refuser's,
    /// waiting for either when all [`MAX_REFUSERS`] are busy (the peers
    /// meanwhile wait in the listen queue).
    fn take(&self, max: usize) -> Kind {
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if used.0 < max {
                used.0 += 1;
                return Kind::Serve;
            }
            if used.1 < MAX_REFUSERS {
                used.1 += 1;
                return Kind::Refuse;
            }
            used = self
                .freed
                .wait(used)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// A slot taken from [`Slots`], given back when dropped (even if its thread
/// unwinds).
struct Slot(Arc<Slots>, Kind);

impl Drop for Slot {
    fn drop(&mut self) {
        let mut used = self.0.used.lock().unwrap_or_else(PoisonError::into_inner);
        match self.1 {
            Kind::Serve => used.0 -= 1,
            Kind::Refuse => used.1 -= 1,
        }
        self.0.freed.notify_all();
    }
}

/// Answers a connection past the limit with 503: reads its request first
/// (the head, and a body up to [`MAX_BODY`], for at most `wait`), so that
/// the answer does not cross a request still on its way, then answers and
/// closes as [`refuse`] does.
fn overloaded(sock: TcpStream, wait: Duration) -> io::Result<()> {
    sock.set_nodelay(true)?;
    sock.set_write_timeout(Some(wait))?;
    let timed = Timed {
        sock: sock.try_clone()?,
        deadline: Instant::now() + wait,
    };
    let mut reader = BufReader::with_capacity(16 << 10, timed);
    let mut head = Vec::new();
    // A peer that sends nothing, or half a request, is answered all the same.
    if let Ok(true) = read_head(&mut reader, &mut head) {
        let length = std::str::from_utf8(&head)
            .ok()
            .and_then(|h| parse_head(h).ok())
            .filter(|h| h.length <= MAX_BODY && !h.expect_continue)
            .map_or(0, |h| h.length as u64);
        let _ = io::copy(&mut (&mut reader).take(length), &mut io::sink());
    }
    let body = kinesis::error_body(
        "ProvisionedThroughputExceededException",
        "too many connections; retry later",
    );
    let mut writer = BufWriter::new(sock);
    respond(&mut writer, 503, &body, true)?;
    close_after(writer.get_ref())
}

/// The read side of a connection: every read ends by `deadline`, so a peer
/// that stops sending cannot hold its thread.
struct Timed {
    sock: TcpStream,
    deadline: Instant,
}

impl Read for Timed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        self.sock.set_read_timeout(Some(left))?;
        self.sock.read(buf)
    }
}

/// True for the error of a read whose time ran out.
fn timed_out(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

/// What one request leads to before the operation runs.
enum Step<'h> {
    /// A request to answer.
    Serve(Head<'h>),
    /// An error to answer, after which the connection closes: the status and
    /// the message.
    Refuse(u16, String),
}

/// Serves requests on one connection until it closes, the peer is silent
/// for `timeouts.first_byte` before its first request or `timeouts.idle`
/// between requests, or a request (or the taking of its answer) lasts
/// longer than `timeouts.request`.
fn connection(api: &Api<'_>, timeouts: Timeouts, sock: TcpStream) -> io::Result<()> {
    sock.set_nodelay(true)?;
    sock.set_write_timeout(Some(timeouts.request))?;
    let timed = Timed {
        sock: sock.try_clone()?,
        deadline: Instant::now() + timeouts.first_byte,
    };
    let mut reader = BufReader::with_capacity(64 << 10, timed);
    let mut writer = BufWriter::with_capacity(64 << 10, sock);
    let (mut head, mut body, mut out) = (Vec::new(), Vec::new(), Vec::new());
    let mut scratch = kinesis::Scratch::default();
    let mut silence = timeouts.first_byte;
    loop {
        // Idle until the next request's first byte (or one already read).
        reader.get_mut().deadline = Instant::now() + silence;
        silence = timeouts.idle;
        match reader.fill_buf() {
            Ok([]) => return Ok(()),
            Ok(_) => {}
            Err(e) if timed_out(&e) => return Ok(()),
            Err(e) => return Err(e),
        }
        reader.get_mut().deadline = Instant::now() + timeouts.request;
        if !read_head(&mut reader, &mut head)? {
            return refuse(&mut writer, 431, "request head too large");
        }
        let (status, close) = match step(&head) {
            Step::Refuse(status, msg) => return refuse(&mut writer, status, &msg),
            Step::Serve(req) => {
                if req.expect_continue {
                    writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
                    writer.flush()?;
                }
                body.clear();
                body.reserve_exact(req.length);
                let got = (&mut reader)
                    .take(req.length as u64)
                    .read_to_end(&mut body)?;
                if got < req.length {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                let refused = api.creds.and_then(|c| {
                    sigv4::verify(c, req.method, req.path, req.query, &req.headers, &body).err()
                });
                let status = match refused {
                    Some((name, msg)) => {
                        out.clear();
                        out.extend_from_slice(&kinesis::error_body(name, &msg));
                        400
                    }
                    None => kinesis::handle(
                        api.store,
                        api.iterators,
                        req.target,
                        &body,
                        &mut scratch,
                        &mut out,
                    ),
                };
                (status, req.close)
            }
        };
        if body.capacity() > KEEP_BUFFER {
            body = Vec::new();
        }
        respond(&mut writer, status, &out, close)?;
        if out.capacity() > KEEP_BUFFER {
            out = Vec::new();
        }
        if close {
            return Ok(());
        }
    }
}

/// Answers an error and closes the connection: stops writing, then reads
/// (for a moment) what the peer still sends, so that closing with unread
/// bytes does not reset the connection before the answer is read.
fn refuse(writer: &mut BufWriter<TcpStream>, status: u16, msg: &str) -> io::Result<()> {
    respond(
        writer,
        status,
        &kinesis::error_body("SerializationException", msg),
        true,
    )?;
    close_after(writer.get_ref())
}

/// Closes a connection whose last answer is written: stops writing, then
/// reads and drops what the peer still sends until it closes (for at most
/// [`REFUSAL_WAIT`]), so that unread bytes do not turn the close into a
/// reset that can destroy the answer before the peer reads it.
fn close_after(sock: &TcpStream) -> io::Result<()> {
    sock.shutdown(Shutdown::Write)?;
    let mut drain = Timed {
        sock: sock.try_clone()?,
        deadline: Instant::now() + REFUSAL_WAIT,
    };
    let mut sink = [0; 16 << 10];
    while matches!(drain.read(&mut sink), Ok(n) if n > 0) {}
    Ok(())
}

/// Checks a request head: what to serve, or the error to answer.
fn step(head: &[u8]) -> Step<'_> {
    let Ok(head) = std::str::from_utf8(head) else {
        return Step::Refuse(400, "the request head is not UTF-8".into());
    };
    match parse_head(head) {
        Err(msg) => Step::Refuse(400, msg),
        Ok(req) if req.length > MAX_BODY => Step::Refuse(413, "request body too large".into()),
        Ok(req) => Step::Serve(req),
    }
}

/// What osprey needs of a request head, borrowed from it.
#[derive(Debug)]
struct Head<'h> {
    method: &'h str,
    path: &'h str,
    query: &'h str,
    /// Every header, its name as sent.
    headers: Vec<(&'h str, &'h str)>,
    target: Option<&'h str>,
    length: usize,
    close: bool,
    /// `Expect: 100-continue`: the client waits for a `100 Continue` before
    /// it sends the body.
    expect_continue: bool,
}

/// Reads a request head up to its blank line into `head` (emptied first);
/// false when it is larger than [`MAX_HEAD`].
///
/// # Errors
/// A read error, a timeout, or the end of the stream before the blank line.
fn read_head(reader: &mut BufReader<Timed>, head: &mut Vec<u8>) -> io::Result<bool> {
    head.clear();
    loop {
        let start = head.len();
        let n = (&mut *reader)
            .take((MAX_HEAD - start) as u64 + 1)
            .read_until(b'\n', head)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if head.len() > MAX_HEAD {
            return Ok(false);
        }
        match &head[start..] {
            b"\r\n" | b"\n" if start == 0 => head.clear(), // blank lines between requests
            b"\r\n" | b"\n" => return Ok(true),
            line if line.ends_with(b"\n") => {}
            _ => return Err(io::ErrorKind::UnexpectedEof.into()),
        }
    }
}

fn parse_head(head: &str) -> Result<Head<'_>, String> {
    let mut lines = head.lines();
    let request = lines.next().unwrap_or_default();
    let mut parts = request.split(' ');
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("malformed request line".into());
    };
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(format!("only HTTP/1.0 and 1.1 are served, not {version:?}"));
    }
    if method != "POST" {
        return Err(format!("only POST is served, not {method:?}"));
    }
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    let mut out = Head {
        method,
        path,
        query,
        headers: Vec::new(),
        target: None,
        length: 0,
        close: version == "HTTP/1.0",
        expect_continue: false,
    };
    let mut length = None;
    for line in lines.take_while(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return Err("malformed header line".into());
        };
        if name.is_empty() || name.contains(|c: char| c.is_ascii_whitespace()) {
            return Err("malformed header name".into());
        }
        let value = value.trim();
        out.headers.push((name, value));
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        if is("x-amz-target") {
            out.target = Some(value);
        } else if is("content-length") {
            let n = (!value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()))
                .then(|| value.parse::<u64>().ok())
                .flatten()
                .ok_or("invalid content-length")?;
            if length.is_some_and(|l| l != n) {
                return Err("conflicting content-length headers".into());
            }
            length = Some(n);
        } else if is("transfer-encoding") {
            return Err("chunked request bodies are not served".into());
        } else if is("connection") {
            out.close = value.eq_ignore_ascii_case("close");
        } else if is("expect") {
            if !value.eq_ignore_ascii_case("100-continue") {
                return Err(format!("cannot meet expectation {value:?}"));
            }
            out.expect_continue = true;
        }
    }
    // A length past MAX_BODY is refused by the caller; usize::MAX stands for
    // one that does not fit.
    out.length = length.map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX));
    Ok(out)
}

fn respond(w: &mut impl io::Write, status: u16, body: &[u8], close: bool) -> io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    };
    write!(
        w,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\nx-amzn-RequestId: osprey\r\n{}\r\n",
        body.len(),
        if close { "Connection: close\r\n" } else { "" }
    )?;
    w.write_all(body)?;
    w.flush()
}
