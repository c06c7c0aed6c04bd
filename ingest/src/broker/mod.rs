//! Message brokers, as outputs and inputs: MQTT ([`mqtt`]) and NATS, core
//! and JetStream ([`nats`]).
//!
//! A broker is named by URL (`mqtt://HOST:PORT/PREFIX`,
//! `nats://HOST:PORT/SUBJECT`, `jetstream://HOST:PORT/SUBJECT`), read by
//! [`Broker::parse`]. As an output it is a [`LineBatches`] destination like
//! the webhook: [`lines`] connects and returns it, and every NDJSON record
//! line written to it is published (MQTT: under the topic layout of
//! [`mqtt`]; NATS: on the subject). As an input, [`input`] subscribes and
//! hands out [`Message`]s, acknowledged once the caller stored them.
//!
//! Both sides work in the background with bounded queues and reconnect with
//! backoff; what is dropped because a broker stayed away past the bound is
//! counted and said.

pub mod mqtt;
pub mod nats;

use std::time::Duration;

use crate::sink::LineBatches;

/// A broker as a URL names it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Broker {
    /// `mqtt://` (or `mqtts://`, TLS): the whole URL.
    Mqtt(String),
    /// `nats://` (or `tls://`): core NATS, the whole URL.
    Nats(String),
    /// `jetstream://`: NATS JetStream, the whole URL.
    JetStream(String),
}

impl Broker {
    /// The broker `url` names, or `None` when it names none (a file path, a
    /// webhook, `stream:NAME`).
    pub fn parse(url: &str) -> Option<Broker> {
        let lower = url.get(..url.find("://")?)?.to_ascii_lowercase();
        match lower.as_str() {
            "mqtt" | "mqtts" => Some(Broker::Mqtt(url.to_owned())),
            "nats" | "tls" => Some(Broker::Nats(url.to_owned())),
            "jetstream" => Some(Broker::JetStream(url.to_owned())),
            _ => None,
        }
    }

    /// The URL without its password, for messages and logs.
    pub fn redacted(&self) -> String {
        let url = match self {
            Broker::Mqtt(u) | Broker::Nats(u) | Broker::JetStream(u) => u,
        };
        redact_url(url)
    }
}

/// `url` with the password of its `user:password@` part replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..scheme_end],
            &rest[..colon],
            &rest[at..]
        ),
        None => url.to_owned(),
    }
}

/// Settings an output broker shares across protocols.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutputOptions {
    /// Records kept while the broker is away; past it the oldest are
    /// dropped and counted.
    pub queue_records: usize,
    /// MQTT QoS (0 or 1); NATS ignores it (JetStream always waits for acks).
    pub qos: u8,
    /// The client id (MQTT) or connection name (NATS).
    pub client_id: String,
}

impl Default for OutputOptions {
    fn default() -> Self {
        OutputOptions {
            queue_records: 100_000,
            qos: 1,
            client_id: "osprey".to_owned(),
        }
    }
}

/// A message in from a broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The MQTT topic or NATS subject it came on.
    pub topic: String,
    /// Its payload, as sent.
    pub payload: Vec<u8>,
}

/// Messages in from a broker, acknowledged after use: nothing handed out is
/// lost across a reconnect until it was acknowledged (MQTT QoS 1 with a
/// persistent session, JetStream durable consumers with explicit acks).
pub trait BrokerInput: Send {
    /// Waits up to `timeout` for messages, and returns at most `max` of
    /// them (none on timeout).
    ///
    /// # Errors
    /// [`BrokerError`] when the broker cannot be reached for good (bad
    /// credentials, a subject that cannot exist); a dropped connection is
    /// reconnected, not an error.
    fn next(&mut self, max: usize, timeout: Duration) -> Result<Vec<Message>, BrokerError>;

    /// Acknowledges every message handed out so far.
    ///
    /// # Errors
    /// [`BrokerError`] when the acknowledgement could not be sent.
    fn ack(&mut self) -> Result<(), BrokerError>;
}

/// A broker that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrokerError {
    /// The URL is not one osprey can use; the message says why.
    #[error("{url}: {reason}")]
    Url {
        /// The URL, password redacted.
        url: String,
        /// Why.
        reason: String,
    },
    /// Connecting or talking to the broker failed.
    #[error("{url}: {reason}")]
    Broker {
        /// The URL, password redacted.
        url: String,
        /// What the broker or the connection said.
        reason: String,
    },
}

/// Connects to `broker` as an output: record lines written to the result
/// are published.
///
/// # Errors
/// [`BrokerError::Url`] for a URL osprey cannot use; a broker that is not
/// up yet is connected in the background, not an error.
pub fn lines(
    broker: &Broker,
    options: &OutputOptions,
) -> Result<Box<dyn LineBatches + Send>, BrokerError> {
    match broker {
        Broker::Mqtt(url) => Ok(Box::new(mqtt::MqttLines::connect(url, options)?)),
        Broker::Nats(url) => Ok(Box::new(nats::NatsLines::connect(url, false, options)?)),
        Broker::JetStream(url) => Ok(Box::new(nats::NatsLines::connect(url, true, options)?)),
    }
}

/// Subscribes to `broker` as an input; `durable` names the persistent
/// session (MQTT client id) or durable consumer (JetStream).
///
/// # Errors
/// [`BrokerError::Url`] for a URL osprey cannot use.
pub fn input(broker: &Broker, durable: &str) -> Result<Box<dyn BrokerInput>, BrokerError> {
    match broker {
        Broker::Mqtt(url) => Ok(Box::new(mqtt::MqttInput::subscribe(url, durable)?)),
        Broker::Nats(url) => Ok(Box::new(nats::NatsInput::subscribe(url, false, durable)?)),
        Broker::JetStream(url) => Ok(Box::new(nats::NatsInput::subscribe(url, true, durable)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_broker() {
        assert_eq!(
            Broker::parse("mqtt://h:1883/osprey"),
            Some(Broker::Mqtt("mqtt://h:1883/osprey".into()))
        );
        assert_eq!(
            Broker::parse("NATS://h/x"),
            Some(Broker::Nats("NATS://h/x".into()))
        );
        assert!(matches!(
            Broker::parse("jetstream://h/x"),
            Some(Broker::JetStream(_))
        ));
        assert_eq!(Broker::parse("http://h/x"), None);
        assert_eq!(Broker::parse("out.ndjson"), None);
        assert_eq!(Broker::parse("stream:frames"), None);
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("mqtt://u:secret@h:1883/p"),
            "mqtt://u:***@h:1883/p"
        );
        assert_eq!(redact_url("mqtt://h:1883/p"), "mqtt://h:1883/p");
        assert_eq!(redact_url("nats://token@h/p"), "nats://token@h/p");
    }
}
