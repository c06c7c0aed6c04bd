//! Message brokers (`mqtt://`, `nats://`, `jetstream://`) as the commands
//! use them: an output every command writes NDJSON record lines to
//! ([`output`]), and an input read as NDJSON lines ([`BrokerReader`], for
//! `osprey aggregate`; `osprey put` acknowledges after its puts itself).
//!
//! An input's messages become lines by `Message::line`: a JSON object gets
//! its topic as a field (`topic` unless the URL's `topic_field` option
//! names another, none with `topic_field=`).

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use anyhow::Result;
use osprey_ingest::broker::{self, Broker, BrokerError, BrokerInput, OutputOptions};
use osprey_ingest::sink::Lines;

use crate::error::UsageError;

/// Messages asked for at once.
pub const BATCH: usize = 1000;

/// How long one wait for messages lasts (the idle check's grain).
pub const POLL: Duration = Duration::from_millis(200);

/// A writer of record lines into `broker`, sent a batch a flush; the
/// broker is connected in the background.
///
/// # Errors
/// A [`UsageError`] for a URL osprey cannot use.
pub fn output(broker: &Broker, options: &OutputOptions) -> Result<Box<dyn Write + Send>> {
    let lines = broker::lines(broker, options).map_err(usage)?;
    Ok(Box::new(Lines::with_target(lines)))
}

/// Subscribes to `broker` as the persistent session or durable consumer
/// `durable`.
///
/// # Errors
/// A [`UsageError`] for a URL osprey cannot use.
pub fn input(broker: &Broker, durable: &str) -> Result<Box<dyn BrokerInput>> {
    broker::input(broker, durable).map_err(usage)
}

/// A broker's URL errors are the user's; the rest are the broker's.
fn usage(e: BrokerError) -> anyhow::Error {
    match e {
        BrokerError::Url { .. } => UsageError(e.to_string()).into(),
        e => e.into(),
    }
}

/// The messages of a broker input as NDJSON lines; a message is
/// acknowledged once its line was read (handed on), and the reader ends
/// once nothing came for `until_idle`.
pub struct BrokerReader {
    input: Box<dyn BrokerInput>,
    topic_field: Option<String>,
    until_idle: Option<Duration>,
    buf: Vec<u8>,
    pos: usize,
    last: Instant,
}

impl BrokerReader {
    /// Lines of `input`, whose URL is `url`.
    pub fn new(input: Box<dyn BrokerInput>, url: &str, until_idle: Option<Duration>) -> Self {
        BrokerReader {
            input,
            topic_field: broker::topic_field(url),
            until_idle,
            buf: Vec::new(),
            pos: 0,
            last: Instant::now(),
        }
    }
}

impl Read for BrokerReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.buf.len() {
            // Everything handed out so far was read.
            self.input.ack().map_err(io::Error::other)?;
            self.buf.clear();
            self.pos = 0;
            let messages = self.input.next(BATCH, POLL).map_err(io::Error::other)?;
            if messages.is_empty() {
                if self
                    .until_idle
                    .is_some_and(|idle| self.last.elapsed() >= idle)
                {
                    return Ok(0);
                }
                continue;
            }
            self.last = Instant::now();
            for message in &messages {
                message.line(self.topic_field.as_deref(), &mut self.buf);
                self.buf.push(b'\n');
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
