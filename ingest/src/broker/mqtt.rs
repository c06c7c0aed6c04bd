//! MQTT out and in (stub: the mqtt helper fills it in).

use std::io;
use std::time::Duration;

use super::{BrokerError, BrokerInput, Message, OutputOptions};
use crate::sink::LineBatches;

/// Record lines published to an MQTT broker.
#[derive(Debug)]
pub struct MqttLines {}

impl MqttLines {
    /// Connects (in the background) to the broker of `url`.
    ///
    /// # Errors
    /// [`BrokerError::Url`] for a URL osprey cannot use.
    #[expect(unused_variables, reason = "stub")]
    pub fn connect(url: &str, options: &OutputOptions) -> Result<MqttLines, BrokerError> {
        Err(BrokerError::Url {
            url: super::redact_url(url),
            reason: "MQTT is not built yet".into(),
        })
    }
}

impl LineBatches for MqttLines {
    fn send(&mut self, batch: &[u8]) -> io::Result<u64> {
        Ok(crate::sink::lines::non_blank(batch).count() as u64)
    }
}

/// Messages in from an MQTT broker.
#[derive(Debug)]
pub struct MqttInput {}

impl MqttInput {
    /// Subscribes to the topic filter of `url` with the persistent session
    /// `durable`.
    ///
    /// # Errors
    /// [`BrokerError::Url`] for a URL osprey cannot use.
    #[expect(unused_variables, reason = "stub")]
    pub fn subscribe(url: &str, durable: &str) -> Result<MqttInput, BrokerError> {
        Err(BrokerError::Url {
            url: super::redact_url(url),
            reason: "MQTT is not built yet".into(),
        })
    }
}

impl BrokerInput for MqttInput {
    fn next(&mut self, _max: usize, _timeout: Duration) -> Result<Vec<Message>, BrokerError> {
        Ok(Vec::new())
    }

    fn ack(&mut self) -> Result<(), BrokerError> {
        Ok(())
    }
}
