//! The NDJSON listener of `osprey put <stream> --listen tcp://HOST:PORT`.
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
//! one put, so one fsync serves many lines. Memory stays bounded: a line is
//! kept only up to the record limit, a connection holds one batch, the
//! number of connections is capped, and the store refuses puts past its
//! in-flight limit with a retryable answer. Blank lines get no answer.

use std::io::{BufReader, BufWriter, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context as _, Result};
use osprey_ingest::store::record::too_large;
use osprey_ingest::store::{MAX_DATA_BYTES, PutRecord, Store};

use super::lines::{Line, LineCodec, read_line};
use crate::exit::UsageError;

/// Most records taken into one put.
pub const BATCH_RECORDS: usize = 8192;

/// Most bytes of lines taken into one put.
pub const BATCH_BYTES: usize = 8 << 20;

/// Most connections served at once; more are answered with a retryable error.
pub const MAX_CONNECTIONS: usize = 128;

/// The `host:port` of a `tcp://host:port` URL.
pub fn parse_url(url: &str) -> Result<&str> {
    url.strip_prefix("tcp://")
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            UsageError(format!(
                "invalid listen address {url:?}: use tcp://HOST:PORT"
            ))
            .into()
        })
}

/// Serves `stream` on `url` until the process is stopped.
pub fn serve(store: Arc<Store>, stream: &str, codec: LineCodec, url: &str) -> Result<()> {
    let addr = parse_url(url)?;
    let listener = TcpListener::bind(addr).with_context(|| format!("cannot listen on {url}"))?;
    let local = listener
        .local_addr()
        .context("cannot read the listening address")?;
    let _ = writeln!(
        std::io::stderr(),
        "osprey: listening on tcp://{local} for stream {stream:?}"
    );
    let _retention = store.spawn_retention(Duration::from_secs(60));
    let active = Arc::new(AtomicUsize::new(0));
    let stream: Arc<str> = Arc::from(stream);
    let codec = Arc::new(codec);
    for conn in listener.incoming() {
        let sock = match conn {
            Ok(s) => s,
            Err(e) => {
                // Out of file descriptors, a connection reset before accept: go on.
                tracing::warn!(error = %e, "Cannot accept a connection.");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        if active.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::AcqRel);
            let mut sock = sock;
            let _ = sock.write_all(
                b"{\"error\":\"too many connections; retry later\",\"retryable\":true}\n",
            );
            continue;
        }
        let (store, stream, codec, active) = (
            Arc::clone(&store),
            Arc::clone(&stream),
            Arc::clone(&codec),
            Arc::clone(&active),
        );
        std::thread::spawn(move || {
            let peer = sock.peer_addr().map(|a| a.to_string()).unwrap_or_default();
            if let Err(e) = connection(&store, &stream, &codec, sock) {
                tracing::debug!(%peer, error = %e, "Connection ended.");
            }
            active.fetch_sub(1, Ordering::AcqRel);
        });
    }
    Ok(())
}

/// One answer slot: a record to store, an error found before storing, or
/// nothing (a blank line).
enum Slot {
    Record(u64),
    Error(u64, String),
}

/// Serves one connection until it closes.
fn connection(
    store: &Store,
    stream: &str,
    codec: &LineCodec,
    sock: TcpStream,
) -> std::io::Result<()> {
    sock.set_nodelay(true)?;
    let mut reader = BufReader::with_capacity(1 << 20, sock.try_clone()?);
    let mut writer = BufWriter::with_capacity(1 << 20, sock);
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    let mut answer = Vec::new();
    loop {
        let mut slots = Vec::new();
        let mut records = Vec::new();
        let mut bytes = 0;
        let mut eof = false;
        loop {
            let line = read_line(&mut reader, &mut buf, MAX_DATA_BYTES)?;
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
        answer.clear();
        write_answers(&mut answer, store, stream, &slots, &records);
        writer.write_all(&answer)?;
        writer.flush()?;
        if eof {
            return Ok(());
        }
    }
}

/// Stores `records` and writes one answer per slot.
fn write_answers(
    out: &mut Vec<u8>,
    store: &Store,
    stream: &str,
    slots: &[Slot],
    records: &[PutRecord],
) {
    let outcomes = if records.is_empty() {
        Ok(Vec::new())
    } else {
        store.put_records(stream, records)
    };
    let mut next = 0;
    for slot in slots {
        match slot {
            Slot::Error(line, e) => error_line(out, *line, e, false),
            Slot::Record(line) => {
                match &outcomes {
                    Ok(outcomes) => match &outcomes[next] {
                        Ok(ack) => {
                            out.extend_from_slice(b"{\"shard\":\"");
                            out.extend_from_slice(ack.shard.as_bytes());
                            out.extend_from_slice(format!("\",\"seq\":{}}}\n", ack.seq).as_bytes());
                        }
                        Err(e) => error_line(out, *line, &e.to_string(), e.is_retryable()),
                    },
                    Err(e) => error_line(out, *line, &e.to_string(), e.is_retryable()),
                }
                next += 1;
            }
        }
    }
}

fn error_line(out: &mut Vec<u8>, line: u64, error: &str, retryable: bool) {
    out.extend_from_slice(format!("{{\"line\":{line},\"error\":").as_bytes());
    // A string always serialises.
    let _ = serde_json::to_writer(&mut *out, error);
    out.extend_from_slice(format!(",\"retryable\":{retryable}}}\n").as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

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
