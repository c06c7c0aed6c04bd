//! Where `osprey aggregate` reads records: a file, stdin, a stream of the
//! store, or NDJSON lines over TCP; and where a refused record came from, for
//! the error output.
//!
//! The TCP listener takes any number of connections (up to the cap of `osprey
//! put --listen`, [`MAX_CONNECTIONS`](crate::stream::tcp::MAX_CONNECTIONS)); each has a thread that reads its lines
//! (kept only up to the store's record limit, as `put --listen` does) and
//! sends them into one bounded channel, so a fast sender waits for the engine
//! instead of filling memory. Lines carry their peer and line number; nothing
//! is answered, since results go to the output and refusals to the error
//! output.

use std::io::{self, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use anyhow::{Context as _, Result};
use osprey_ingest::store::MAX_DATA_BYTES;
use osprey_ingest::store::record::too_large;

use crate::exit::UsageError;
use crate::stream::lines::{Line, read_line};
use crate::stream::tcp::{accept_each, parse_url};

/// The prefix of a stream input or output, `stream:NAME`.
pub const STREAM_PREFIX: &str = "stream:";

/// An input, as `INPUT` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// `-`: standard input.
    Stdin,
    /// A file.
    File(String),
    /// `stream:NAME`: a stream of the store.
    Stream(String),
    /// `tcp://HOST:PORT`: NDJSON lines from the connections to this address.
    Tcp(String),
}

impl Input {
    /// Reads `INPUT`.
    ///
    /// # Errors
    /// [`UsageError`] for `stream:` without a name or a bad `tcp://` address.
    pub fn parse(input: &str) -> Result<Input> {
        if input == "-" {
            return Ok(Input::Stdin);
        }
        if let Some(name) = input.strip_prefix(STREAM_PREFIX) {
            return Ok(Input::Stream(stream_name(name, "INPUT")?));
        }
        if input.starts_with("tcp://") {
            return Ok(Input::Tcp(parse_url(input)?.to_owned()));
        }
        Ok(Input::File(input.to_owned()))
    }

    /// True for inputs read as they arrive, whose end is a signal or
    /// `--until-idle` rather than the end of a file.
    pub fn is_live(&self, follow: bool) -> bool {
        match self {
            Input::Tcp(_) => true,
            Input::Stream(_) => follow,
            Input::Stdin | Input::File(_) => false,
        }
    }
}

/// The name after `stream:`, which must not be empty.
///
/// # Errors
/// [`UsageError`] naming `what` when it is.
pub fn stream_name(name: &str, what: &str) -> Result<String> {
    if name.is_empty() {
        return Err(UsageError(format!(
            "{what} {STREAM_PREFIX} needs a stream name ({STREAM_PREFIX}NAME)"
        ))
        .into());
    }
    Ok(name.to_owned())
}

/// Where a record came from, for the error output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Its 1-based line (NDJSON) or record (CSV) number in a file or stdin.
    Line(u64),
    /// A line of a TCP connection.
    Tcp {
        /// The connection's peer.
        peer: SocketAddr,
        /// The 1-based line number within the connection.
        line: u64,
    },
    /// A record of a stream.
    Stream {
        /// Its shard.
        shard: String,
        /// Its sequence number.
        seq: u64,
    },
}

/// The origins of the records the chunker holds, by the chunker's line
/// number, so a record refused later (when the schema is inferred, say) is
/// named by where it came from. Each is taken once the record is refused or
/// is in a batch, so the table holds no more than the chunker does.
#[derive(Debug, Default)]
pub struct Origins {
    /// The chunker's line count, kept in step with it.
    line: u64,
    /// (chunker line, origin), lines increasing.
    held: Vec<(u64, Origin)>,
}

impl Origins {
    /// Notes the origin of the record about to be pushed into the chunker
    /// (which counts every push as a line).
    pub fn push(&mut self, origin: Origin) {
        self.line += 1;
        self.held.push((self.line, origin));
    }

    /// The chunker's line number of the last record pushed.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The origin of the chunker's line `line`, taken off the table; a plain
    /// line number when none was noted (files and stdin).
    pub fn take(&mut self, line: u64) -> Origin {
        match self.held.binary_search_by_key(&line, |(l, _)| *l) {
            Ok(at) => self.held.remove(at).1,
            Err(_) => Origin::Line(line),
        }
    }

    /// Forgets every origin: the chunker has handed on all it held.
    pub fn clear(&mut self) {
        self.held.clear();
    }
}

/// One line from a TCP connection.
#[derive(Debug)]
pub struct TcpLine {
    /// Where it came from.
    pub origin: Origin,
    /// The line's text, or why it cannot be a record (too long, not UTF-8).
    pub text: std::result::Result<String, String>,
}

/// Lines that arrived in a channel, at most this many ahead of the engine.
const BACKLOG: usize = 4096;

/// A TCP listener feeding lines into a channel.
#[derive(Debug)]
pub struct Listener {
    /// The address it is bound to (the port picked when 0 was asked for).
    pub local: SocketAddr,
    /// The lines of every connection, in the order they arrived.
    pub lines: Receiver<TcpLine>,
    active: Arc<AtomicUsize>,
    /// When a connection last opened or closed.
    changed: Arc<Mutex<Instant>>,
}

impl Listener {
    /// Connections open now.
    pub fn connections(&self) -> usize {
        self.active.load(Ordering::Acquire)
    }

    /// When a connection last opened or closed (or the listener started).
    pub fn last_change(&self) -> Instant {
        *self.changed.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Listens on `addr` (`host:port`) and accepts connections on a thread of
/// its own for as long as the process runs.
///
/// # Errors
/// When the address cannot be bound.
pub fn listen(addr: &str) -> Result<Listener> {
    let listener =
        TcpListener::bind(addr).with_context(|| format!("cannot listen on tcp://{addr}"))?;
    let local = listener
        .local_addr()
        .context("cannot read the listening address")?;
    let (tx, lines) = sync_channel(BACKLOG);
    let active = Arc::new(AtomicUsize::new(0));
    let changed = Arc::new(Mutex::new(Instant::now()));
    let (a, c) = (Arc::clone(&active), Arc::clone(&changed));
    std::thread::spawn(move || accept(&listener, &tx, &a, &c));
    Ok(Listener {
        local,
        lines,
        active,
        changed,
    })
}

fn touch(changed: &Mutex<Instant>) {
    *changed.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
}

/// Accepts connections, each served by a thread of its own, for as long as
/// the process runs.
fn accept(
    listener: &TcpListener,
    tx: &SyncSender<TcpLine>,
    active: &Arc<AtomicUsize>,
    changed: &Arc<Mutex<Instant>>,
) {
    let (tx, changed) = (tx.clone(), Arc::clone(changed));
    let refusal = b"{\"error\":\"too many connections; retry later\"}\n";
    accept_each(listener, active, refusal, move |sock| {
        touch(&changed);
        if let Err(e) = connection(sock, &tx) {
            tracing::debug!(error = %e, "Connection ended.");
        }
        touch(&changed);
    });
}

/// Sends the lines of one connection until it closes (or the engine is gone).
fn connection(sock: TcpStream, tx: &SyncSender<TcpLine>) -> io::Result<()> {
    let peer = sock.peer_addr()?;
    let mut reader = BufReader::with_capacity(1 << 16, sock);
    let mut buf = Vec::new();
    let mut line = 0u64;
    loop {
        let text = match read_line(&mut reader, &mut buf, MAX_DATA_BYTES)? {
            Line::Eof => return Ok(()),
            Line::TooLong(n) => Err(too_large(n).to_string()),
            Line::Data => {
                let bytes = buf.strip_suffix(b"\r").unwrap_or(&buf);
                match std::str::from_utf8(bytes) {
                    Ok(t) => Ok(t.to_owned()),
                    Err(e) => Err(format!("not UTF-8 text: {e}")),
                }
            }
        };
        line += 1;
        if text.as_ref().is_ok_and(|t| t.trim().is_empty()) {
            continue;
        }
        let item = TcpLine {
            origin: Origin::Tcp { peer, line },
            text,
        };
        if tx.send(item).is_err() {
            return Ok(());
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests unwrap their own set-up")]
mod tests {
    use std::io::Write as _;
    use std::time::Duration;

    use super::*;

    #[test]
    fn inputs_by_their_form() {
        assert_eq!(Input::parse("-").unwrap(), Input::Stdin);
        assert_eq!(Input::parse("stream:t").unwrap(), Input::Stream("t".into()));
        assert_eq!(
            Input::parse("tcp://127.0.0.1:0").unwrap(),
            Input::Tcp("127.0.0.1:0".into())
        );
        assert_eq!(
            Input::parse("a.ndjson").unwrap(),
            Input::File("a.ndjson".into())
        );
        let err = Input::parse("stream:").unwrap_err().to_string();
        assert!(err.contains("needs a stream name"), "{err}");
        assert!(Input::parse("tcp://").is_err());
    }

    #[test]
    fn origins_are_taken_once_and_default_to_the_line() {
        let mut o = Origins::default();
        let at = |seq| Origin::Stream {
            shard: "s".into(),
            seq,
        };
        o.push(at(10));
        o.push(at(11));
        o.push(at(12));
        assert_eq!(o.take(2), at(11));
        assert_eq!(o.take(2), Origin::Line(2));
        assert_eq!(o.take(3), at(12));
        o.clear();
        assert_eq!(o.take(1), Origin::Line(1));
        o.push(at(13));
        assert_eq!(o.take(4), at(13));
    }

    #[test]
    fn lines_of_two_connections_arrive_with_their_peer() {
        let l = listen("127.0.0.1:0").unwrap();
        let mut a = TcpStream::connect(l.local).unwrap();
        a.write_all(b"{\"x\":1}\n\n{\"x\":2}\r\n").unwrap();
        drop(a);
        let mut b = TcpStream::connect(l.local).unwrap();
        b.write_all(&[0xff, b'\n']).unwrap();
        drop(b);
        let got: Vec<TcpLine> = (0..3)
            .map(|_| l.lines.recv_timeout(Duration::from_secs(30)).unwrap())
            .collect();
        let texts: Vec<_> = got.iter().map(|g| g.text.clone()).collect();
        assert!(texts.contains(&Ok("{\"x\":1}".into())), "{texts:?}");
        assert!(texts.contains(&Ok("{\"x\":2}".into())), "{texts:?}");
        assert!(
            texts
                .iter()
                .any(|t| t.as_ref().is_err_and(|e| e.contains("UTF-8"))),
            "{texts:?}"
        );
        let second = got
            .iter()
            .find(|g| g.text == Ok("{\"x\":2}".into()))
            .unwrap();
        assert!(matches!(second.origin, Origin::Tcp { line: 3, .. }));
    }
}
