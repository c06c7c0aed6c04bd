//! The answer to a connection past the limit (503), and the careful close
//! that lets the peer read a last answer.
//!
//! A refused connection gets a small task, not a slot: it reads the
//! request first (the head up to [`MAX_HEAD`], a body up to [`MAX_BODY`],
//! for at most [`REFUSAL_WAIT`]), so that the answer does not cross a
//! request still on its way; a peer that sends nothing, or half a request,
//! is answered all the same. Then it answers, stops writing, and reads what
//! is left until the peer closes, so that the peer reads a whole answer
//! rather than a reset. A peer that opened with HTTP/2's preface (prior
//! knowledge or ALPN `h2`) reads no HTTP/1.1: it is sent HTTP/2's empty
//! `SETTINGS` and a `GOAWAY` with `REFUSED_STREAM` (no stream processed:
//! clients retry) instead.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::time::{Instant, timeout_at};

use super::service::error_json;
use super::{MAX_BODY, MAX_HEAD};

/// The longest a refused connection's request is waited for, and then the
/// longest the peer is given to close after the answer.
pub(super) const REFUSAL_WAIT: Duration = Duration::from_secs(1);

/// Answers a connection past the limit with 503 and closes it, within
/// about `wait` twice and [`REFUSAL_WAIT`].
pub(super) async fn overloaded<S: AsyncRead + AsyncWrite + Unpin>(mut sock: S, wait: Duration) {
    let h2 = matches!(
        timeout_at(Instant::now() + wait, read_request(&mut sock)).await,
        Ok(Ok(Opened::Http2))
    );
    let answer = if h2 {
        goaway()
    } else {
        let body = error_json(
            "ProvisionedThroughputExceededException",
            "too many connections; retry later",
        );
        let mut answer = format!(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\nx-amzn-RequestId: osprey\r\nRetry-After: 1\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        answer.extend_from_slice(&body);
        answer
    };
    let answer = async {
        sock.write_all(&answer).await?;
        sock.flush().await
    };
    match timeout_at(Instant::now() + wait, answer).await {
        Ok(Ok(())) => close_after(&mut sock).await,
        Ok(Err(e)) => tracing::debug!(error = %e, "Refused HTTP connection ended."),
        Err(_) => tracing::debug!("Refused HTTP connection did not take its answer."),
    }
}

/// How a refused connection opened.
#[derive(Debug, PartialEq)]
enum Opened {
    /// With an HTTP/1.1 request (or nothing readable).
    Http1,
    /// With HTTP/2's connection preface.
    Http2,
}

/// HTTP/2's answer to a refused connection: an empty `SETTINGS` frame (the
/// preface a server owes) and a `GOAWAY` frame naming no stream as
/// processed, error `REFUSED_STREAM`, with a reason as debug data.
fn goaway() -> Vec<u8> {
    const SETTINGS: u8 = 0x4;
    const GOAWAY: u8 = 0x7;
    const REFUSED_STREAM: u32 = 0x7;
    let reason = b"too many connections; retry later";
    let mut frames = vec![0, 0, 0, SETTINGS, 0, 0, 0, 0, 0];
    let length = u32::try_from(8 + reason.len()).expect("a short reason");
    frames.extend_from_slice(&length.to_be_bytes()[1..]);
    frames.extend_from_slice(&[GOAWAY, 0, 0, 0, 0, 0]);
    frames.extend_from_slice(&0u32.to_be_bytes());
    frames.extend_from_slice(&REFUSED_STREAM.to_be_bytes());
    frames.extend_from_slice(reason);
    frames
}

/// Reads one request (head and announced body) and drops it; an HTTP/2
/// preface (its `PRI` request and `SM` line) ends it there.
async fn read_request<S: AsyncRead + Unpin>(sock: &mut S) -> io::Result<Opened> {
    let mut head = Vec::with_capacity(4 << 10);
    let mut chunk = [0; 8 << 10];
    let end = loop {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Ok(Opened::Http1);
        }
        let from = head.len().saturating_sub(3);
        head.extend_from_slice(&chunk[..n]);
        if let Some(at) = head[from..].windows(4).position(|w| w == b"\r\n\r\n") {
            break from + at + 4;
        }
        if head.len() > MAX_HEAD {
            return Ok(Opened::Http1);
        }
    };
    if head.starts_with(b"PRI * HTTP/2.0\r\n") {
        return Ok(Opened::Http2);
    }
    let (length, expect_continue) = announced(&head[..end]);
    if expect_continue || length > MAX_BODY {
        return Ok(Opened::Http1);
    }
    let mut left = length.saturating_sub(head.len() - end);
    while left > 0 {
        let n = sock.read(&mut chunk[..left.min(8 << 10)]).await?;
        if n == 0 {
            return Ok(Opened::Http1);
        }
        left -= n;
    }
    Ok(Opened::Http1)
}

/// The `Content-Length` of a request head (0 when absent or unreadable)
/// and whether it expects `100-continue`.
fn announced(head: &[u8]) -> (usize, bool) {
    let (mut length, mut expect) = (0, false);
    for line in head.split(|&b| b == b'\n').skip(1) {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if name.eq_ignore_ascii_case(b"content-length") {
            length = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
        } else if name.eq_ignore_ascii_case(b"expect") {
            expect = value.eq_ignore_ascii_case(b"100-continue");
        }
    }
    (length, expect)
}

/// Closes a connection whose last answer is written: stops writing, then
/// reads and drops what the peer still sends until it closes (for at most
/// [`REFUSAL_WAIT`]), so that unread bytes do not turn the close into a
/// reset that can destroy the answer before the peer reads it.
pub(super) async fn close_after<S: AsyncRead + AsyncWrite + Unpin>(sock: &mut S) {
    let drain = async {
        sock.shutdown().await?;
        let mut sink = [0; 8 << 10];
        while sock.read(&mut sink).await? > 0 {}
        io::Result::Ok(())
    };
    let _ = timeout_at(Instant::now() + REFUSAL_WAIT, drain).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_announced_length_and_expectation_are_read_from_the_head() {
        let head = b"POST / HTTP/1.1\r\ncontent-LENGTH: 12\r\nExpect: 100-Continue\r\n\r\n";
        assert_eq!(announced(head), (12, true));
        assert_eq!(announced(b"POST / HTTP/1.1\r\n\r\n"), (0, false));
        assert_eq!(
            announced(b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"),
            (0, false)
        );
    }

    #[tokio::test]
    async fn a_refusal_reads_the_request_then_answers_503_and_closes() {
        let (mut client, server) = tokio::io::duplex(1 << 20);
        let task = tokio::spawn(overloaded(server, Duration::from_secs(5)));
        client
            .write_all(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")
            .await
            .unwrap();
        let mut got = String::new();
        client.read_to_string(&mut got).await.unwrap();
        assert!(got.starts_with("HTTP/1.1 503 "), "{got}");
        assert!(got.ends_with(
            r#"{"__type":"ProvisionedThroughputExceededException","message":"too many connections; retry later"}"#
        ), "{got}");
        drop(client);
        task.await.unwrap();
    }

    #[tokio::test]
    async fn an_http2_peer_is_refused_with_goaway() {
        let (mut client, server) = tokio::io::duplex(1 << 20);
        let task = tokio::spawn(overloaded(server, Duration::from_secs(5)));
        client
            .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
            .await
            .unwrap();
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        // SETTINGS (empty), then GOAWAY: last stream 0, REFUSED_STREAM.
        assert_eq!(got[..9], [0, 0, 0, 4, 0, 0, 0, 0, 0]);
        assert_eq!(got[12..22], [7, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(got[22..26], [0, 0, 0, 7]);
        assert_eq!(usize::from(got[11]), got.len() - 18);
        assert!(got.ends_with(b"retry later"));
        drop(client);
        task.await.unwrap();
    }
}
