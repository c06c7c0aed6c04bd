//! NDJSON lines over TCP: a listener that takes any number of connections
//! (up to the cap of `osprey put --listen`,
//! [`MAX_CONNECTIONS`](osprey_ingest::tcp::MAX_CONNECTIONS)); each has a
//! thread that reads its lines (kept only up to the store's record limit,
//! as `put --listen` does) and sends them into one bounded channel, so a
//! fast sender waits for the engine instead of filling memory. Lines carry
//! their peer and line number; nothing is answered, since results go to the
//! output and refusals to the error output.

use std::cell::RefCell;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use osprey_ingest::chunk::{Origin, ParsedJson};
use osprey_ingest::tcp::accept_each;

use super::text::{BATCH_ITEMS, Batcher, Lines, Rejected, SendFirst};
use crate::error::{QueryError, Result};

/// One line from a TCP connection.
#[derive(Debug)]
pub struct TcpLine {
    /// Where it came from.
    pub origin: Origin,
    /// The line, parsed on its connection's thread, or why it cannot be a
    /// record (too long, not UTF-8).
    pub text: Result<ParsedJson, Rejected>,
}

/// Lines that arrived in a channel, at most this many ahead of the engine
/// (in batches of [`BATCH_ITEMS`]).
const BACKLOG: usize = 4096;

/// A TCP listener feeding lines into a channel.
#[derive(Debug)]
pub struct Listener {
    /// The address it is bound to (the port picked when 0 was asked for).
    pub local: SocketAddr,
    /// The lines of every connection, in the order they arrived.
    pub lines: Receiver<Vec<TcpLine>>,
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
/// [`QueryError::Listen`] when the address cannot be bound.
pub fn listen(addr: &str) -> Result<Listener> {
    let listener = TcpListener::bind(addr).map_err(|source| QueryError::Listen {
        what: format!("cannot listen on tcp://{addr}"),
        source,
    })?;
    let local = listener.local_addr().map_err(|source| QueryError::Listen {
        what: "cannot read the listening address".into(),
        source,
    })?;
    let (tx, lines) = sync_channel(BACKLOG / BATCH_ITEMS);
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
    tx: &SyncSender<Vec<TcpLine>>,
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

/// Sends the lines of one connection, parsed, until it closes (or the
/// engine is gone): in batches, one sent before each read of the socket,
/// so a quiet connection's lines are not held back.
fn connection(sock: TcpStream, tx: &SyncSender<Vec<TcpLine>>) -> io::Result<()> {
    let peer = sock.peer_addr()?;
    let tx = tx.clone();
    let out = Rc::new(RefCell::new(Batcher::new(move |batch| {
        tx.send(batch).is_ok()
    })));
    let mut lines = Lines::new(SendFirst {
        inner: sock,
        out: Rc::clone(&out),
    });
    let mut line = 0u64;
    let read = loop {
        let text = match lines.next() {
            Ok(Some(text)) => text,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        line += 1;
        if text.as_ref().is_ok_and(|t| t.trim().is_empty()) {
            continue;
        }
        let item = TcpLine {
            origin: Origin::Tcp { peer, line },
            text: text.map(ParsedJson::parse),
        };
        if !out.borrow_mut().push(item) {
            break Ok(());
        }
    };
    out.borrow_mut().flush();
    read
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::time::Duration;

    use super::*;

    #[test]
    fn lines_of_two_connections_arrive_with_their_peer() {
        let l = listen("127.0.0.1:0").unwrap();
        let mut a = TcpStream::connect(l.local).unwrap();
        a.write_all(b"{\"x\":1}\n\n{\"x\":2}\r\n").unwrap();
        drop(a);
        let mut b = TcpStream::connect(l.local).unwrap();
        b.write_all(&[0xff, b'\n']).unwrap();
        drop(b);
        // Batches, from each connection in turn: three lines in all.
        let mut got: Vec<TcpLine> = Vec::new();
        while got.len() < 3 {
            got.extend(l.lines.recv_timeout(Duration::from_secs(30)).unwrap());
        }
        assert_eq!(got.len(), 3);
        let texts: Vec<Result<&str, &Rejected>> = got
            .iter()
            .map(|g| g.text.as_ref().map(ParsedJson::line))
            .collect();
        assert!(texts.contains(&Ok("{\"x\":1}")), "{texts:?}");
        assert!(texts.contains(&Ok("{\"x\":2}")), "{texts:?}");
        assert!(
            texts
                .iter()
                .any(|t| t.is_err_and(|e| e.reason.contains("UTF-8"))),
            "{texts:?}"
        );
        let second = got
            .iter()
            .find(|g| g.text.as_ref().is_ok_and(|p| p.line() == "{\"x\":2}"))
            .unwrap();
        assert!(matches!(second.origin, Origin::Tcp { line: 3, .. }));
    }
}
