//! [`MqttInput`]: messages in from an MQTT broker, at least once.
//!
//! The session is persistent (clean session off, the client id the caller's
//! durable name) and subscribed at QoS 1 with manual acknowledgements: the
//! broker keeps what arrives while osprey is away or reconnecting, and
//! sends again whatever was handed out but not acknowledged
//! ([`BrokerInput::ack`]) when the connection dropped, so a message may
//! come twice but none is missed. A thread runs the connection; messages
//! wait in a bounded channel (the broker's in-flight window bounds them
//! too).

use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError, sync_channel};
use std::time::Duration;

use rumqttc::mqttbytes::v4::ConnectReturnCode;
use rumqttc::{Client, Connection, ConnectionError, Event, Incoming, Publish, QoS};

use super::Settings;
use crate::broker::{BrokerError, BrokerInput, Message};

/// Messages the connection's thread holds for the reader.
const CHANNEL: usize = 1024;

/// The first wait before connecting again; it doubles up to 2 s.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// Messages in from an MQTT broker.
pub struct MqttInput {
    url: String,
    client: Client,
    messages: Receiver<Result<Publish, BrokerError>>,
    /// Handed out, not acknowledged: packet ids (QoS 1 only).
    unacked: Vec<u16>,
}

impl std::fmt::Debug for MqttInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttInput")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl MqttInput {
    /// Subscribes to the topic filter of `url` with the persistent session
    /// `durable` (the client id, unless the URL names one).
    ///
    /// # Errors
    /// [`BrokerError::Url`] for a URL osprey cannot use.
    pub fn subscribe(url: &str, durable: &str) -> Result<MqttInput, BrokerError> {
        let settings = Settings::parse(url)?;
        let bad = |reason: &str| BrokerError::Url {
            url: settings.redacted.clone(),
            reason: reason.to_owned(),
        };
        if settings.path.is_empty() {
            return Err(bad(
                "give the topic to subscribe to (mqtt://HOST:PORT/TOPIC/#)",
            ));
        }
        let id = settings
            .client_id
            .clone()
            .unwrap_or_else(|| durable.to_owned());
        let mut options = settings.options(&id, Duration::from_secs(30))?;
        options.set_clean_session(false).set_manual_acks(true);
        let (client, connection) = Client::new(options, 64);
        let (tx, messages) = sync_channel(CHANNEL);
        let filter = settings.path.clone();
        let url = settings.redacted.clone();
        let thread_client = client.clone();
        std::thread::Builder::new()
            .name("osprey-mqtt-in".into())
            .spawn(move || run(connection, &thread_client, &filter, &url, &tx))
            .map_err(|e| BrokerError::Broker {
                url: settings.redacted.clone(),
                reason: format!("cannot start the connection's thread: {e}"),
            })?;
        Ok(MqttInput {
            url: settings.redacted,
            client,
            messages,
            unacked: Vec::new(),
        })
    }

    fn take(&mut self, publish: Publish) -> Message {
        if publish.qos != QoS::AtMostOnce {
            self.unacked.push(publish.pkid);
        }
        Message {
            topic: publish.topic,
            payload: publish.payload.to_vec(),
        }
    }
}

impl BrokerInput for MqttInput {
    fn next(&mut self, max: usize, timeout: Duration) -> Result<Vec<Message>, BrokerError> {
        let mut out = Vec::new();
        let first = match self.messages.recv_timeout(timeout) {
            Ok(m) => m?,
            Err(RecvTimeoutError::Timeout) => return Ok(out),
            Err(RecvTimeoutError::Disconnected) => return Err(self.gone()),
        };
        out.push(self.take(first));
        while out.len() < max {
            match self.messages.try_recv() {
                Ok(m) => {
                    let m = m?;
                    out.push(self.take(m));
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return Err(self.gone()),
            }
        }
        Ok(out)
    }

    fn ack(&mut self) -> Result<(), BrokerError> {
        for pkid in self.unacked.drain(..) {
            let mut publish = Publish::new("", QoS::AtLeastOnce, Vec::new());
            publish.pkid = pkid;
            self.client.ack(&publish).map_err(|e| BrokerError::Broker {
                url: self.url.clone(),
                reason: format!("cannot acknowledge: {e}"),
            })?;
        }
        Ok(())
    }
}

impl Drop for MqttInput {
    /// Disconnects cleanly: the session stays on the broker, and what was
    /// not acknowledged comes again to the next run with the same name.
    fn drop(&mut self) {
        let _ = self.client.try_disconnect();
    }
}

impl MqttInput {
    fn gone(&self) -> BrokerError {
        BrokerError::Broker {
            url: self.url.clone(),
            reason: "the connection ended".into(),
        }
    }
}

/// The connection's thread: subscribes on every new session, hands
/// messages on, reconnects with backoff; credentials refused end it with
/// an error for the reader.
fn run(
    mut connection: Connection,
    client: &Client,
    filter: &str,
    url: &str,
    tx: &SyncSender<Result<Publish, BrokerError>>,
) {
    let mut backoff = FIRST_BACKOFF;
    let mut warned = false;
    let mut connected_once = false;
    while let Ok(event) = connection.recv() {
        match event {
            Ok(Event::Incoming(Incoming::ConnAck(ack))) => {
                backoff = FIRST_BACKOFF;
                if warned || connected_once {
                    tracing::info!(url, "MQTT broker reconnected");
                }
                warned = false;
                connected_once = true;
                if !ack.session_present && client.try_subscribe(filter, QoS::AtLeastOnce).is_err() {
                    let _ = tx.send(Err(BrokerError::Broker {
                        url: url.to_owned(),
                        reason: format!("cannot subscribe to {filter:?}"),
                    }));
                    return;
                }
            }
            Ok(Event::Incoming(Incoming::SubAck(ack))) => {
                let refused = ack
                    .return_codes
                    .iter()
                    .any(|c| matches!(c, rumqttc::SubscribeReasonCode::Failure));
                if refused {
                    let _ = tx.send(Err(BrokerError::Broker {
                        url: url.to_owned(),
                        reason: format!("the broker refused the subscription to {filter:?}"),
                    }));
                    return;
                }
            }
            Ok(Event::Incoming(Incoming::Publish(publish))) => {
                if tx.send(Ok(publish)).is_err() {
                    return;
                }
            }
            Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => return,
            Ok(_) => {}
            Err(ConnectionError::ConnectionRefused(
                code @ (ConnectReturnCode::BadUserNamePassword
                | ConnectReturnCode::NotAuthorized
                | ConnectReturnCode::BadClientId),
            )) => {
                let _ = tx.send(Err(BrokerError::Broker {
                    url: url.to_owned(),
                    reason: format!("the broker refused the connection ({code:?})"),
                }));
                return;
            }
            Err(e) => {
                if !warned {
                    warned = true;
                    tracing::warn!(url, "MQTT broker unreachable ({e}); retrying");
                }
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
    }
}
