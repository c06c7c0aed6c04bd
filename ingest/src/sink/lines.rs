//! The [`Write`] half that the line sinks share: bytes gather until
//! [`Write::flush`], which hands the complete lines gathered so far to the
//! destination as one batch (the [`NdjsonSink`](super::NdjsonSink) flushes
//! once a chunk of frames or a batch of closed windows, so that is one put
//! or one POST). A partial last line waits for the next flush. A batch leaves
//! the buffer only once the destination took it, so a flush that failed and
//! is tried again sends the same lines again, and nothing is dropped.

use std::io::{self, Write};

/// A destination of batches of complete lines.
pub trait LineBatches {
    /// Takes `batch`, whole NDJSON lines each ending in `\n` (blank lines
    /// included, to skip), and returns how many records it stored or sent;
    /// an error leaves the batch to be sent again.
    ///
    /// # Errors
    /// The destination's own, as an [`io::Error`].
    fn send(&mut self, batch: &[u8]) -> io::Result<u64>;
}

impl<T: LineBatches + ?Sized> LineBatches for Box<T> {
    fn send(&mut self, batch: &[u8]) -> io::Result<u64> {
        (**self).send(batch)
    }
}

/// Lines into a [`LineBatches`] destination, one batch a flush.
#[derive(Debug)]
pub struct Lines<T> {
    target: T,
    pending: Vec<u8>,
    records: u64,
}

impl<T> Lines<T> {
    /// Lines into `target`.
    pub fn with_target(target: T) -> Self {
        Lines {
            target,
            pending: Vec::new(),
            records: 0,
        }
    }

    /// Records stored or sent so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The destination.
    pub fn target(&self) -> &T {
        &self.target
    }

    /// Bytes written but not yet sent.
    pub fn pending(&self) -> &[u8] {
        &self.pending
    }

    #[cfg(test)]
    pub(crate) fn target_mut(&mut self) -> &mut T {
        &mut self.target
    }
}

/// The non-blank lines of `batch`.
pub fn non_blank(batch: &[u8]) -> impl Iterator<Item = &[u8]> {
    batch.split(|&b| b == b'\n').filter(|l| !l.is_empty())
}

impl<T: LineBatches> Write for Lines<T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        Ok(buf.len())
    }

    /// Sends every complete line gathered so far; a partial last line waits
    /// for the next flush.
    fn flush(&mut self) -> io::Result<()> {
        let Some(end) = self.pending.iter().rposition(|&b| b == b'\n') else {
            return Ok(());
        };
        self.records += self.target.send(&self.pending[..=end])?;
        self.pending.drain(..=end);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes batches, or refuses them while `fail` is set.
    #[derive(Default)]
    struct Batches {
        sent: Vec<Vec<u8>>,
        fail: bool,
    }

    impl LineBatches for Batches {
        fn send(&mut self, batch: &[u8]) -> io::Result<u64> {
            if self.fail {
                return Err(io::Error::other("refused"));
            }
            self.sent.push(batch.to_vec());
            Ok(non_blank(batch).count() as u64)
        }
    }

    #[test]
    fn complete_lines_go_at_flush_and_a_failed_batch_stays() {
        let mut lines = Lines::with_target(Batches::default());
        lines.write_all(b"{\"a\":1}\n\n{\"a\"").unwrap();
        assert!(lines.target().sent.is_empty(), "nothing before a flush");
        lines.target_mut().fail = true;
        assert!(lines.flush().is_err());
        assert_eq!(lines.pending(), b"{\"a\":1}\n\n{\"a\"", "kept for a retry");
        lines.target_mut().fail = false;
        lines.flush().unwrap();
        assert_eq!(lines.records(), 1);
        assert_eq!(lines.pending(), b"{\"a\"", "the partial line waits");
        lines.write_all(b":2}\n").unwrap();
        lines.flush().unwrap();
        lines.flush().unwrap();
        assert_eq!(lines.target().sent, [&b"{\"a\":1}\n\n"[..], b"{\"a\":2}\n"]);
        assert_eq!(lines.records(), 2);
    }
}
