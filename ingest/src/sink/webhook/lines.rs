//! A [`Write`](std::io::Write) that posts the complete lines gathered at each flush to a
//! webhook as one batch: how `osprey analyze --output http://...` sends its
//! NDJSON records (the [`NdjsonSink`](crate::NdjsonSink) flushes once a chunk
//! of frames, so a chunk is one POST).
//!
//! A batch leaves the buffer only once the endpoint acknowledged it; a flush
//! that fails (refused, or given up on after the retry time) returns the
//! [`WebhookError`](super::WebhookError) inside an [`io::Error`], and a
//! retried flush posts the same lines again.

use std::io;

use super::Webhook;
use crate::sink::lines::{LineBatches, Lines, non_blank};

/// Lines into a webhook, one batch a flush.
pub type WebhookLines = Lines<Webhook>;

impl Lines<Webhook> {
    /// Lines posted through `webhook`.
    pub fn new(webhook: Webhook) -> Self {
        Lines::with_target(webhook)
    }
}

impl LineBatches for Webhook {
    fn send(&mut self, batch: &[u8]) -> io::Result<u64> {
        let lines = non_blank(batch).count();
        if lines > 0 {
            self.post(batch).map_err(io::Error::other)?;
        }
        Ok(lines as u64)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

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
        assert_eq!(
            lines.pending(),
            b"{\"a\":1}\n\n",
            "kept for a retried flush"
        );
    }
}
