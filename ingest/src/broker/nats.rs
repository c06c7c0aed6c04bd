//! NATS and JetStream out and in (stub: the nats helper fills it in).

use std::io;
use std::time::Duration;

use super::{BrokerError, BrokerInput, Message, OutputOptions};
use crate::sink::LineBatches;

/// Record lines published to a NATS server.
#[derive(Debug)]
pub struct NatsLines {}

impl NatsLines {
    /// Connects (in the background) to the server of `url`; with
    /// `jetstream`, publishes through JetStream and waits for its acks.
    ///
    /// # Errors
    /// [`BrokerError::Url`] for a URL osprey cannot use.
    #[expect(unused_variables, reason = "stub")]
    pub fn connect(
        url: &str,
        jetstream: bool,
        options: &OutputOptions,
    ) -> Result<NatsLines, BrokerError> {
        Err(BrokerError::Url {
            url: super::redact_url(url),
            reason: "NATS is not built yet".into(),
        })
    }
}

impl LineBatches for NatsLines {
    fn send(&mut self, batch: &[u8]) -> io::Result<u64> {
        Ok(crate::sink::lines::non_blank(batch).count() as u64)
    }
}

/// Messages in from a NATS server.
#[derive(Debug)]
pub struct NatsInput {}

impl NatsInput {
    /// Subscribes to the topic filter of `url` with the persistent session
    /// `durable`.
    ///
    /// # Errors
    /// [`BrokerError::Url`] for a URL osprey cannot use.
    #[expect(unused_variables, reason = "stub")]
    pub fn subscribe(url: &str, jetstream: bool, durable: &str) -> Result<NatsInput, BrokerError> {
        Err(BrokerError::Url {
            url: super::redact_url(url),
            reason: "NATS is not built yet".into(),
        })
    }
}

impl BrokerInput for NatsInput {
    fn next(&mut self, _max: usize, _timeout: Duration) -> Result<Vec<Message>, BrokerError> {
        Ok(Vec::new())
    }

    fn ack(&mut self) -> Result<(), BrokerError> {
        Ok(())
    }
}
