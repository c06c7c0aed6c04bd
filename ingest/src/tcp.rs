//! The NDJSON listener of `osprey put <stream> --listen tcp://HOST:PORT`
//! ([`LineServer`]), and the accept loop that `osprey aggregate`'s TCP input
//! shares with it ([`accept_each`]).
//!
//! Each connection sends records as NDJSON lines and gets one answer line
//! per record line, in order, once the record is durable:
//!
//! ```text
//! {"shard":"shardId-000000000000","seq":41}
//! {"line":3,"error":"malformed JSON: EOF while parsing a value at line 1 column 5","retryable":false}
//! {"line":4,"error":"store overloaded: ...; retry later","retryable":true}
//! ```
//!
//! Lines a connection has sent are taken in batches (whatever has arrived,
//! up to [`BATCH_RECORDS`] records or [`BATCH_BYTES`] bytes) and stored with
//! one put, so one fsync serves many lines; the next batches are read and
//! appended while earlier ones wait for their fsync, up to
//! [`QUEUED_LINES`] lines a connection, so a reader of the stream sees
//! records at once even while the disk stalls an fsync for a second.
//! Memory stays bounded: a line is kept only up to the record limit, a
//! connection reads one batch at a time and keeps only answer slots (not
//! data) for the queued ones, the number of connections is capped, and the
//! store refuses puts past its in-flight limit with a retryable answer.
//! Blank lines get no answer.

use std::io::{self, BufReader, BufWriter, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, mpsc};
use std::time::Duration;

use crate::codec::lines::{Line, LineCodec, read_line};
use crate::listen::{ListenError, bind};
use crate::store::record::too_large;
use crate::store::{MAX_DATA_BYTES, PendingPut, Store};

/// Most records taken into one put.
pub const BATCH_RECORDS: usize = 8192;

/// Most bytes of lines taken into one put.
pub const BATCH_BYTES: usize = 4 << 20;

/// Lines of one connection appended and waiting for their fsync, at most:
/// at 50,000 lines/s, 5 s of a stalled fsync, in at most about 20 MiB of
/// answer slots (record data is not kept). A count of lines rather than of batches, because batches are as
/// small as one line when the producer is slow and as large as
/// [`BATCH_RECORDS`] when it is fast.
pub const QUEUED_LINES: usize = 1 << 18;

/// Most connections served at once; more are answered with a retryable error.
pub const MAX_CONNECTIONS: usize = 64;

/// The `host:port` of a `tcp://host:port` URL.
///
/// # Errors
/// [`ListenError::InvalidUrl`] for anything else.
pub fn parse_url(url: &str) -> Result<&str, ListenError> {
    url.strip_prefix("tcp://")
        .filter(|a| !a.is_empty())
        .ok_or_else(|| ListenError::InvalidUrl(url.to_owned()))
}

/// The NDJSON listener of one stream, bound and not yet serving.
#[derive(Debug)]
pub struct LineServer {
    listener: TcpListener,
    local: SocketAddr,
    store: Arc<Store>,
    stream: Arc<str>,
    codec: Arc<LineCodec>,
}

impl LineServer {
    /// Binds `url` (`tcp://HOST:PORT`) for records into `stream`.
    ///
    /// # Errors
    /// [`ListenError`]: a bad URL, or an address that cannot be bound.
    pub fn bind(
        store: Arc<Store>,
        stream: &str,
        codec: LineCodec,
        url: &str,
    ) -> Result<Self, ListenError> {
        let (listener, local) = bind(parse_url(url)?, url)?;
        Ok(LineServer {
            listener,
            local,
            store,
            stream: Arc::from(stream),
            codec: Arc::new(codec),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Serves connections (and sweeps the store's retention every minute)
    /// until the process is stopped.
    pub fn run(self) {
        let LineServer {
            listener,
            store,
            stream,
            codec,
            ..
        } = self;
        let _retention = store.spawn_retention(Duration::from_secs(60));
        accept_each(
            &listener,
            &Arc::new(AtomicUsize::new(0)),
            b"{\"error\":\"too many connections; retry later\",\"retryable\":true}\n",
            move |sock| {
                let peer = sock.peer_addr().map(|a| a.to_string()).unwrap_or_default();
                if let Err(e) = connection(&store, &stream, &codec, sock) {
                    tracing::debug!(%peer, error = %e, "Connection ended.");
                }
            },
        );
    }
}

/// Accepts connections on `listener` for as long as it lives, at most
/// [`MAX_CONNECTIONS`] at once (counted in `active`, which others may read):
/// each is served by `serve` on a thread of its own; one over the limit
/// gets `refusal` written to it and is closed. A failed accept (out of file
/// descriptors, a connection reset before it was taken) is logged and the
/// loop goes on.
pub fn accept_each<F>(listener: &TcpListener, active: &Arc<AtomicUsize>, refusal: &[u8], serve: F)
where
    F: Fn(TcpStream) + Clone + Send + 'static,
{
    for conn in listener.incoming() {
        let mut sock = match conn {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "Cannot accept a connection.");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        if active.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::AcqRel);
            tracing::warn!(
                limit = MAX_CONNECTIONS,
                "Too many connections; one refused."
            );
            let _ = sock.write_all(refusal);
            continue;
        }
        let (serve, active) = (serve.clone(), Arc::clone(active));
        std::thread::spawn(move || {
            serve(sock);
            active.fetch_sub(1, Ordering::AcqRel);
        });
    }
}

/// One answer slot: a record to store, or an error found before storing.
enum Slot {
    Record(u64),
    Error(u64, String),
}

/// One batch on its way from the reading to the answering thread.
struct Batch<'s> {
    slots: Vec<Slot>,
    put: Option<crate::Result<PendingPut<'s>>>,
}

/// Serves one connection until it closes. One thread reads and appends
/// batches; another waits for each batch's durability and answers, so the
/// next batch is read and appended while the last one's fsync runs.
fn connection(store: &Store, stream: &str, codec: &LineCodec, sock: TcpStream) -> io::Result<()> {
    sock.set_nodelay(true)?;
    let mut reader = BufReader::with_capacity(1 << 20, sock.try_clone()?);
    let writer = BufWriter::with_capacity(1 << 20, sock);
    // Batches waiting for their fsync hold no record data (the store's
    // in-flight limit bounds them); a deep queue lets reading go on through
    // a slow fsync, so followers see records without waiting for it.
    let (tx, rx) = mpsc::channel::<Batch<'_>>();
    let backlog = Backlog::default();
    std::thread::scope(|scope| {
        let answers = scope.spawn(|| {
            let answered = answer(rx, writer, &backlog);
            backlog.close();
            answered
        });
        let read = read_batches(&mut reader, store, stream, codec, &tx, &backlog);
        drop(tx);
        let answered = answers
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the answering thread panicked")));
        read.and(answered)
    })
}

/// Reads lines into batches (whatever has arrived, within the limits),
/// appends each, and hands it on, until the peer closes its side.
fn read_batches<'s>(
    reader: &mut BufReader<TcpStream>,
    store: &'s Store,
    stream: &str,
    codec: &LineCodec,
    tx: &mpsc::Sender<Batch<'s>>,
    backlog: &Backlog,
) -> io::Result<()> {
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    loop {
        let mut slots = Vec::new();
        let mut records = Vec::new();
        let mut bytes = 0;
        let mut eof = false;
        loop {
            let line = read_line(reader, &mut buf, MAX_DATA_BYTES)?;
            if line != Line::Eof {
                line_no += 1;
            }
            match line {
                Line::Eof => {
                    eof = true;
                    break;
                }
                Line::Data if buf.iter().all(u8::is_ascii_whitespace) => {}
                Line::Data => match codec.ndjson(&buf, line_no) {
                    Ok(r) => {
                        bytes += r.data.len();
                        records.push(r);
                        slots.push(Slot::Record(line_no));
                    }
                    Err(e) => slots.push(Slot::Error(line_no, e)),
                },
                Line::TooLong(n) => slots.push(Slot::Error(line_no, too_large(n).to_string())),
            }
            let more = reader.buffer().contains(&b'\n');
            if !more || records.len() >= BATCH_RECORDS || bytes >= BATCH_BYTES {
                break;
            }
        }
        let put = (!records.is_empty()).then(|| store.begin_put(stream, &records));
        if !slots.is_empty()
            && (!backlog.reserve(slots.len()) || tx.send(Batch { slots, put }).is_err())
        {
            // The answering side failed: the peer is gone.
            return Ok(());
        }
        if eof {
            return Ok(());
        }
    }
}

/// Waits for each batch's durability and writes its answers, in order.
fn answer(
    rx: mpsc::Receiver<Batch<'_>>,
    mut writer: BufWriter<TcpStream>,
    backlog: &Backlog,
) -> io::Result<()> {
    let mut out = Vec::new();
    for batch in rx {
        out.clear();
        let outcomes = batch.put.map(|p| p.map(PendingPut::wait));
        let mut next = 0;
        for slot in &batch.slots {
            match (slot, &outcomes) {
                (Slot::Error(line, e), _) => error_line(&mut out, *line, e, false),
                (Slot::Record(line), Some(Ok(outcomes))) => {
                    match &outcomes[next] {
                        Ok(ack) => {
                            out.extend_from_slice(b"{\"shard\":\"");
                            out.extend_from_slice(ack.shard.as_bytes());
                            out.extend_from_slice(format!("\",\"seq\":{}}}\n", ack.seq).as_bytes());
                        }
                        Err(e) => error_line(&mut out, *line, &reason(e), retryable(e)),
                    }
                    next += 1;
                }
                (Slot::Record(line), Some(Err(e))) => {
                    error_line(&mut out, *line, &reason(e), retryable(e))
                }
                (Slot::Record(line), None) => {
                    error_line(&mut out, *line, "internal error: record not put", false)
                }
            }
        }
        writer.write_all(&out)?;
        writer.flush()?;
        backlog.release(batch.slots.len());
    }
    Ok(())
}

/// The lines of one connection queued between its reading and answering
/// threads, bounded by [`QUEUED_LINES`].
#[derive(Default)]
struct Backlog {
    /// Lines queued, and whether the answering side has ended.
    state: Mutex<(usize, bool)>,
    changed: Condvar,
}

impl Backlog {
    /// Waits until `lines` more fit (a batch always fits in an empty
    /// queue) and counts them; false once the answering side has ended.
    fn reserve(&self, lines: usize) -> bool {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        while !st.1 && st.0 > 0 && st.0 + lines > QUEUED_LINES {
            st = self
                .changed
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
        }
        st.0 += lines;
        !st.1
    }

    /// Counts `lines` as answered.
    fn release(&self, lines: usize) {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        st.0 = st.0.saturating_sub(lines);
        self.changed.notify_all();
    }

    /// The answering side has ended: nothing waits any more.
    fn close(&self) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).1 = true;
        self.changed.notify_all();
    }
}

/// The whole chain of `err`'s sources, never empty (one function for every
/// server: [`crate::error::chain`]).
pub fn reason(err: &(dyn std::error::Error + 'static)) -> String {
    crate::error::chain(err)
}

/// True when sending the line again may succeed: the store says so, or
/// the cause somewhere in the chain is a full disk or quota, which frees up.
pub fn retryable(err: &crate::IngestError) -> bool {
    err.is_retryable()
        || sources(err)
            .filter_map(|s| s.downcast_ref::<io::Error>())
            .any(crate::error::is_out_of_space)
}

/// `err` and then each of its sources.
fn sources<'e>(
    err: &'e (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'e (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(err), |e| e.source())
}

/// Appends one error answer line: the input line it is about, the reason,
/// and whether sending the same line again may succeed.
fn error_line(out: &mut Vec<u8>, line: u64, error: &str, retryable: bool) {
    out.extend_from_slice(format!("{{\"line\":{line},\"error\":").as_bytes());
    // A string always serialises.
    let _ = serde_json::to_writer(&mut *out, error);
    out.extend_from_slice(format!(",\"retryable\":{retryable}}}\n").as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write that failed for lack of space answers with its cause and as
    /// retryable: the whole chain, never an empty message.
    #[test]
    fn disk_full_answer_line() {
        let e = crate::IngestError::Storage {
            action: "cannot write",
            path: "data/s/shardId-000000000000/00000000000000000000.seg".into(),
            // ENOSPC, as the kernel reports a full disk.
            source: io::Error::from_raw_os_error(28),
        };
        let mut out = Vec::new();
        error_line(&mut out, 7, &reason(&e), retryable(&e));
        let v: serde_json::Value = serde_json::from_slice(&out).expect("one JSON line");
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
        assert_eq!(v["line"], 7);
        assert_eq!(v["retryable"], true);
        let said = v["error"].as_str().unwrap_or_default();
        assert!(
            said.starts_with("cannot write \"data/s/")
                && said.contains(": no space left on device"),
            "{said}"
        );
        // A source already in the message is not said twice.
        let e = crate::IngestError::Io(io::Error::other("disk on fire"));
        assert_eq!(reason(&e), "cannot write output: disk on fire");
        let e = crate::IngestError::InvalidRecord("too big".into());
        assert_eq!(reason(&e), "invalid record: too big");
    }

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("tcp://127.0.0.1:9000").ok(),
            Some("127.0.0.1:9000")
        );
        assert!(parse_url("udp://x:1").is_err());
        assert!(parse_url("tcp://").is_err());
    }
}
