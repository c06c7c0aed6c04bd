//! A [`Write`] that posts the complete lines gathered at each flush to a
//! webhook as one batch: how `osprey analyze --output http://...` sends its
//! NDJSON records (the [`NdjsonSink`](crate::NdjsonSink) flushes once a chunk
//! of frames, so a chunk is one POST).
//!
//! A batch leaves the buffer only once the endpoint acknowledged it; a flush
//! that fails (refused, or given up on after the retry time) returns the
//! [`WebhookError`](super::WebhookError) inside an [`io::Error`], and a
//! retried flush posts the same lines again.

use std::io::{self, Write};

use super::Webhook;

/// Lines into a webhook, one batch a flush.
#[derive(Debug)]
pub struct WebhookLines {
    webhook: Webhook,
    pending: Vec<u8>,
    records: u64,
}

impl WebhookLines {
    /// Lines posted through `webhook`.
    pub fn new(webhook: Webhook) -> Self {
        WebhookLines {
            webhook,
            pending: Vec::new(),
            records: 0,
        }
    }

    /// Records (lines) acknowledged so far.
    pub fn records(&self) -> u64 {
        self.records
    }
}

impl Write for WebhookLines {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        Ok(buf.len())
    }

    /// Posts every complete line gathered so far; a partial last line waits
    /// for the next flush.
    fn flush(&mut self) -> io::Result<()> {
        let Some(end) = self.pending.iter().rposition(|&b| b == b'\n') else {
            return Ok(());
        };
        let batch = &self.pending[..=end];
        let lines = batch
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count();
        if lines > 0 {
            self.webhook.post(batch).map_err(io::Error::other)?;
        }
        self.records += lines as u64;
        self.pending.drain(..=end);
        Ok(())
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests unwrap their own set-up")]
mod tests {
    use super::*;
    use crate::sink::webhook::{WebhookConfig, WebhookError};

    #[test]
    fn nothing_is_posted_without_a_complete_line() {
        // A port nothing listens on: any post would fail.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut config = WebhookConfig::new(format!("http://{}/", listener.local_addr().unwrap()));
        drop(listener);
        config.retry_for = std::time::Duration::ZERO;
        let mut lines = WebhookLines::new(Webhook::new(config).unwrap());
        lines.write_all(b"{\"a\"").unwrap();
        lines.flush().unwrap();
        lines.write_all(b":1}\n\n").unwrap();
        let err = lines.flush().unwrap_err();
        let inner = err.get_ref().and_then(|e| e.downcast_ref::<WebhookError>());
        assert!(
            matches!(inner, Some(WebhookError::GaveUp { .. })),
            "{err:?}"
        );
        assert_eq!(lines.records(), 0);
        assert_eq!(lines.pending, b"{\"a\":1}\n\n", "kept for a retried flush");
    }
}
