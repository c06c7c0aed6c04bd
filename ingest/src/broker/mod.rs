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
    /// The client id (MQTT) or connection name (NATS); empty: one made
    /// for the process (`osprey-PID-N`), as two MQTT clients with one id
    /// throw each other off.
    pub client_id: String,
    /// Where records that name no source go, under the prefix (MQTT:
    /// `PREFIX/OTHER`, `/` separating levels): `rows` for a query's rows,
    /// `STREAM/records` for a delivery, `records` otherwise.
    pub other_topic: String,
}

impl Default for OutputOptions {
    fn default() -> Self {
        OutputOptions {
            queue_records: 100_000,
            qos: 1,
            client_id: String::new(),
            other_topic: "records".to_owned(),
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

/// The field an input adds to JSON object payloads unless its URL says
/// otherwise (`?topic_field=NAME`, or `?topic_field=` for none).
pub const TOPIC_FIELD: &str = "topic";

impl Message {
    /// The message as one NDJSON line (no newline) into `out`: a JSON
    /// object payload gets `"FIELD":"TOPIC"` as its first field when
    /// `topic_field` names one (a field of the same name in the payload
    /// comes later, so it is the one readers keep); anything else is the
    /// payload as sent, newlines replaced by spaces to keep one line.
    pub fn line(&self, topic_field: Option<&str>, out: &mut Vec<u8>) {
        let payload = self.payload.trim_ascii();
        let start = out.len();
        match (topic_field, payload.strip_prefix(b"{")) {
            (Some(field), Some(rest)) if payload.ends_with(b"}") => {
                out.push(b'{');
                // Serialising a str cannot fail.
                let _ = serde_json::to_writer(&mut *out, field);
                out.push(b':');
                let _ = serde_json::to_writer(&mut *out, &self.topic);
                if !rest[..rest.len() - 1].trim_ascii().is_empty() {
                    out.push(b',');
                }
                out.extend_from_slice(rest);
            }
            _ => out.extend_from_slice(payload),
        }
        for b in &mut out[start..] {
            if *b == b'\n' || *b == b'\r' {
                *b = b' ';
            }
        }
    }
}

/// The field an input's messages carry their topic in, as its URL's
/// `topic_field` option says ([`TOPIC_FIELD`] by default, none when empty).
pub fn topic_field(url: &str) -> Option<String> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    match url_options(query).find(|(name, _)| name == "topic_field") {
        Some((_, value)) if value.is_empty() => None,
        Some((_, value)) => Some(value),
        None => Some(TOPIC_FIELD.to_owned()),
    }
}

/// The `NAME=VALUE` pairs of a URL's query (`%XX` and `+` not decoded:
/// the options' values need neither).
pub(crate) fn url_options(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        (name.to_owned(), value.to_owned())
    })
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

/// Checks `broker`'s URL as [`lines`] and [`input`] would, without
/// connecting.
///
/// # Errors
/// [`BrokerError::Url`] for a URL osprey cannot use.
pub fn check(broker: &Broker) -> Result<(), BrokerError> {
    match broker {
        Broker::Mqtt(url) => mqtt::check(url),
        Broker::Nats(_) | Broker::JetStream(_) => Ok(()),
    }
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
    fn messages_become_lines_with_their_topic() {
        let line = |payload: &str, field: Option<&str>| {
            let m = Message {
                topic: "s/1".into(),
                payload: payload.as_bytes().to_vec(),
            };
            let mut out = Vec::new();
            m.line(field, &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(
            line(r#" {"t":1} "#, Some("topic")),
            r#"{"topic":"s/1","t":1}"#
        );
        assert_eq!(line("{}", Some("tp")), r#"{"tp":"s/1"}"#);
        assert_eq!(line(r#"{"t":1}"#, None), r#"{"t":1}"#);
        assert_eq!(line("[1,\n2]", Some("topic")), "[1, 2]");
        assert_eq!(topic_field("mqtt://h/t/#"), Some("topic".into()));
        assert_eq!(
            topic_field("mqtt://h/t/#?qos=1&topic_field=src"),
            Some("src".into())
        );
        assert_eq!(topic_field("mqtt://h/t/#?topic_field="), None);
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
