//! `osprey serve --http HOST:PORT`: the first piece of the headless server,
//! the Kinesis Data Streams API over HTTP/1.1 (JSON 1.1: `POST /` with
//! `X-Amz-Target: Kinesis_20131202.<Operation>`), so that the AWS CLI, boto3
//! and the SDKs work against osprey with an endpoint URL.
//!
//! A small HTTP/1.1 server of its own: a thread per connection (at most
//! [`MAX_CONNECTIONS`]), keep-alive, `Content-Length` bodies up to
//! [`MAX_BODY`]; anything else is answered with an error and the connection
//! closed. Given credentials, every request's SigV4 signature is checked
//! ([`sigv4`]); without, signed requests are accepted unchecked. It binds to
//! 127.0.0.1 unless told otherwise.

pub mod kinesis;
pub mod sigv4;

use std::io::{self, BufRead as _, BufReader, BufWriter, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context as _, Result};
use osprey_ingest::store::{Durability, Store};

use crate::args::stream::{DurabilityArg, ServeArgs};
use crate::stream::open_store;

/// Most connections served at once.
pub const MAX_CONNECTIONS: usize = 64;

/// The largest request body (PutRecords allows 5 MiB of data, in base64).
pub const MAX_BODY: usize = 8 << 20;

/// The largest request head (request line and headers).
const MAX_HEAD: usize = 64 << 10;

/// Runs `osprey serve`.
pub fn run(args: &ServeArgs) -> Result<()> {
    let durability = match args.durability {
        DurabilityArg::Fsync => Durability::Fsync,
        DurabilityArg::Os => Durability::Os,
    };
    let creds = match (&args.access_key_id, &args.secret_access_key_file) {
        (Some(id), Some(path)) => {
            let secret = std::fs::read_to_string(path).map_err(|e| crate::exit::InputError {
                input: path.display().to_string(),
                reason: e.to_string().to_lowercase(),
            })?;
            Some(sigv4::Credentials {
                access_key_id: id.clone(),
                secret_access_key: secret.trim().to_owned(),
            })
        }
        _ => None,
    };
    let creds = Arc::new(creds);
    let store = Arc::new(open_store(&args.data.data_dir, durability)?);
    let listener =
        TcpListener::bind(&args.http).with_context(|| format!("cannot listen on {}", args.http))?;
    let local = listener
        .local_addr()
        .context("cannot read the listening address")?;
    let _ = writeln!(
        io::stderr(),
        "osprey: serving the Kinesis API on http://{local}"
    );
    let _retention = store.spawn_retention(Duration::from_secs(60));
    let active = Arc::new(AtomicUsize::new(0));
    for conn in listener.incoming() {
        let Ok(sock) = conn else {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        if active.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::AcqRel);
            let body = kinesis::error_body(
                "ProvisionedThroughputExceededException",
                "too many connections; retry later",
            );
            let _ = respond(&mut BufWriter::new(&sock), 503, &body, true);
            continue;
        }
        let (store, active, creds) = (Arc::clone(&store), Arc::clone(&active), Arc::clone(&creds));
        std::thread::spawn(move || {
            if let Err(e) = connection(&store, creds.as_ref().as_ref(), sock) {
                tracing::debug!(error = %e, "HTTP connection ended.");
            }
            active.fetch_sub(1, Ordering::AcqRel);
        });
    }
    Ok(())
}

/// Serves requests on one connection until it closes.
fn connection(
    store: &Store,
    creds: Option<&sigv4::Credentials>,
    sock: TcpStream,
) -> io::Result<()> {
    sock.set_nodelay(true)?;
    let mut reader = BufReader::new(sock.try_clone()?);
    let mut writer = BufWriter::new(sock);
    loop {
        let Some(head) = read_head(&mut reader)? else {
            return Ok(());
        };
        let bad = |msg: &str| kinesis::error_body("SerializationException", msg);
        let (status, body, close) = match parse_head(&head) {
            Err(msg) => (400, bad(&msg), true),
            Ok(req) if req.length > MAX_BODY => (413, bad("request body too large"), true),
            Ok(req) => {
                let mut body = vec![0; req.length];
                reader.read_exact(&mut body)?;
                let refused = creds.and_then(|c| {
                    sigv4::verify(c, &req.method, &req.path, &req.query, &req.headers, &body).err()
                });
                let (status, out) = match refused {
                    Some((name, msg)) => (400, kinesis::error_body(name, &msg)),
                    None => kinesis::handle(store, req.target.as_deref(), &body),
                };
                (status, out, req.close)
            }
        };
        respond(&mut writer, status, &body, close)?;
        if close {
            return Ok(());
        }
    }
}

/// What osprey needs of a request head.
struct Head {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    target: Option<String>,
    length: usize,
    close: bool,
}

/// Reads a request head up to its blank line; `None` at a clean end.
fn read_head(reader: &mut BufReader<TcpStream>) -> io::Result<Option<String>> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        let n = (&mut *reader)
            .take((MAX_HEAD - head.len()) as u64 + 1)
            .read_line(&mut line)?;
        if n == 0 {
            return if head.is_empty() {
                Ok(None)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
        if head.len() + n > MAX_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request head too large",
            ));
        }
        if line == "\r\n" || line == "\n" {
            if head.is_empty() {
                continue; // stray blank lines between requests
            }
            return Ok(Some(head));
        }
        head.push_str(&line);
    }
}

fn parse_head(head: &str) -> Result<Head, String> {
    let mut lines = head.lines();
    let request = lines.next().unwrap_or_default();
    let mut parts = request.split_whitespace();
    let (method, uri, version) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    if method != "POST" {
        return Err(format!("only POST is served, not {method:?}"));
    }
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    let mut out = Head {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers: Vec::new(),
        target: None,
        length: 0,
        close: version == "HTTP/1.0",
    };
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        let name = name.trim().to_ascii_lowercase();
        out.headers.push((name.clone(), value.to_owned()));
        match name.as_str() {
            "x-amz-target" => out.target = Some(value.to_owned()),
            "content-length" => {
                out.length = value
                    .parse()
                    .map_err(|_| "invalid content-length".to_owned())?
            }
            "transfer-encoding" => return Err("chunked request bodies are not served".into()),
            "connection" => out.close = value.eq_ignore_ascii_case("close"),
            _ => {}
        }
    }
    Ok(out)
}

fn respond(w: &mut impl io::Write, status: u16, body: &[u8], close: bool) -> io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        413 => "Payload Too Large",
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
