//! [`MqttLines`]: record lines published to an MQTT broker.
//!
//! A thread runs rumqttc's connection (reconnecting with backoff while the
//! broker is away); lines written become [`Publication`]s (the layout of
//! [`topics`](super::topics)) in a bounded queue. A publication leaves the
//! queue for rumqttc's small request channel only while connected, and is
//! kept until it is acknowledged (QoS 1) or written (QoS 0): a connection
//! that drops puts the unacknowledged ones back at the queue's head, in
//! order, and a new session sends them again (at least once). While
//! connected a full queue holds the writer back; while the broker is away
//! the oldest publications are dropped past the bound, counted
//! ([`BROKER_MESSAGES_DROPPED`](crate::metrics::BROKER_MESSAGES_DROPPED))
//! and said. Dropping the output publishes what is queued, `offline` on
//! `PREFIX/available` and disconnects, waiting at most [`CLOSE_WAIT`] for a
//! broker that is away.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rumqttc::{Client, Connection, Event, Incoming, LastWill, Outgoing, QoS};

use super::topics::{self, Publication};
use super::{Settings, qos};
use crate::broker::{BrokerError, OutputOptions};
use crate::sink::LineBatches;

/// How long a closing output waits for the broker to take what is queued.
pub(super) const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// The first wait before connecting again; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// The longest wait between connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Requests rumqttc's channel holds (the rest wait in the queue).
const CHANNEL: usize = 64;

/// Client ids made for outputs that name none, numbered in this process.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// Record lines published to an MQTT broker.
pub struct MqttLines {
    shared: Arc<Shared>,
    client: Client,
    prefix: String,
    other: String,
    scratch: Vec<Publication>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for MqttLines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttLines")
            .field("url", &self.shared.url)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// What the writer and the connection's thread share.
struct Shared {
    /// The URL, password redacted.
    url: String,
    qos: QoS,
    bound: usize,
    available: String,
    state: Mutex<State>,
    changed: Condvar,
}

/// The queue and the connection's state.
#[derive(Default)]
struct State {
    /// Waiting to be handed to rumqttc.
    queue: VecDeque<Publication>,
    /// Handed to rumqttc, not yet acknowledged; with the packet id once sent.
    handed: VecDeque<(Publication, Option<u16>)>,
    connected: bool,
    /// Whether this connection was ever up.
    ever_connected: bool,
    /// The warning of the outage was given.
    warned_away: bool,
    closing: bool,
    offline_queued: bool,
    disconnect_sent: bool,
    closed: bool,
    abandoned: bool,
    dropped: u64,
    dropped_in_outage: u64,
}

impl MqttLines {
    /// Connects (in the background) to the broker of `url`.
    ///
    /// # Errors
    /// [`BrokerError::Url`] for a URL osprey cannot use.
    pub fn connect(url: &str, options: &OutputOptions) -> Result<MqttLines, BrokerError> {
        let settings = Settings::parse(url)?;
        let prefix = if settings.path.is_empty() {
            "osprey".to_owned()
        } else {
            settings.path.clone()
        };
        if prefix.contains(['+', '#']) {
            return Err(BrokerError::Url {
                url: settings.redacted,
                reason: "an output's topic prefix cannot hold + or #".into(),
            });
        }
        let id = match (&settings.client_id, options.client_id.as_str()) {
            (Some(id), _) => id.clone(),
            (None, "") => format!(
                "osprey-{}-{}",
                std::process::id(),
                NEXT_ID.fetch_add(1, Ordering::Relaxed)
            ),
            (None, id) => id.to_owned(),
        };
        let qos = qos(settings.qos.unwrap_or(options.qos));
        let available = format!("{prefix}/available");
        let mut mqtt = settings.options(&id, Duration::from_secs(30))?;
        mqtt.set_clean_session(true)
            .set_last_will(LastWill::new(&available, "offline", qos, true));
        let (client, connection) = Client::new(mqtt, CHANNEL);
        let shared = Arc::new(Shared {
            url: settings.redacted.clone(),
            qos,
            bound: settings.queue.unwrap_or(options.queue_records).max(1),
            available,
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let thread = {
            let shared = Arc::clone(&shared);
            let client = client.clone();
            std::thread::Builder::new()
                .name("osprey-mqtt-out".into())
                .spawn(move || shared.run(connection, &client))
                .map_err(|e| BrokerError::Broker {
                    url: settings.redacted.clone(),
                    reason: format!("cannot start the connection's thread: {e}"),
                })?
        };
        Ok(MqttLines {
            shared,
            client,
            prefix,
            other: options.other_topic.replace(['+', '#'], "_"),
            scratch: Vec::new(),
            thread: Some(thread),
        })
    }

    /// Messages dropped so far because the broker stayed away past the
    /// queue's bound.
    pub fn dropped(&self) -> u64 {
        self.shared.lock().dropped
    }
}

impl LineBatches for MqttLines {
    fn send(&mut self, batch: &[u8]) -> io::Result<u64> {
        let mut records = 0;
        self.scratch.clear();
        for line in crate::sink::lines::non_blank(batch) {
            topics::route(&self.prefix, &self.other, line, &mut self.scratch);
            records += 1;
        }
        let shared = &self.shared;
        let mut state = shared.lock();
        for publication in self.scratch.drain(..) {
            while state.connected && state.queue.len() >= shared.bound {
                // Connected: the broker is only slower; the writer waits.
                shared.drain(&mut state, &self.client);
                if state.queue.len() < shared.bound {
                    break;
                }
                state = shared
                    .changed
                    .wait_timeout(state, Duration::from_millis(100))
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            shared.push(&mut state, publication);
        }
        shared.drain(&mut state, &self.client);
        Ok(records)
    }
}

impl Drop for MqttLines {
    fn drop(&mut self) {
        let shared = &self.shared;
        let deadline = Instant::now() + CLOSE_WAIT;
        let mut state = shared.lock();
        state.closing = true;
        shared.drain(&mut state, &self.client);
        while !state.closed {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = shared
                .changed
                .wait_timeout(state, left.min(Duration::from_millis(100)))
                .unwrap_or_else(|e| e.into_inner())
                .0;
            shared.drain(&mut state, &self.client);
        }
        let closed = state.closed;
        if !closed {
            state.abandoned = true;
            let left = state
                .queue
                .iter()
                .chain(state.handed.iter().map(|(p, _)| p))
                .filter(|p| p.topic != shared.available)
                .count() as u64;
            state.dropped += left;
            metrics::counter!(crate::metrics::BROKER_MESSAGES_DROPPED, "broker" => "mqtt")
                .increment(left);
            tracing::warn!(
                url = %shared.url,
                "MQTT broker still away after {} s: {left} messages not delivered",
                CLOSE_WAIT.as_secs()
            );
        }
        if state.dropped > 0 {
            tracing::warn!(
                url = %shared.url,
                dropped = state.dropped,
                "MQTT output closed; {} messages were dropped in all (the broker was away past the queue's bound of {})",
                state.dropped,
                shared.bound
            );
        }
        drop(state);
        if closed && let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `publication`; while the broker is away, past the bound the
    /// oldest goes.
    fn push(&self, state: &mut State, publication: Publication) {
        state.queue.push_back(publication);
        self.trim(state);
    }

    /// Drops the oldest publications past the bound, counted and said.
    fn trim(&self, state: &mut State) {
        while state.queue.len() > self.bound {
            state.queue.pop_front();
            state.dropped += 1;
            state.dropped_in_outage += 1;
            metrics::counter!(crate::metrics::BROKER_MESSAGES_DROPPED, "broker" => "mqtt")
                .increment(1);
            if state.dropped_in_outage == 1 {
                tracing::warn!(
                    url = %self.url,
                    "MQTT broker away and its queue of {} messages full: dropping the oldest",
                    self.bound
                );
            }
        }
    }

    /// Hands queued publications to rumqttc while connected and its channel
    /// has room; closing, once everything is acknowledged, `offline` and the
    /// disconnect.
    fn drain(&self, state: &mut State, client: &Client) {
        if !state.connected || state.disconnect_sent {
            return;
        }
        loop {
            while let Some(p) = state.queue.front() {
                let sent =
                    client.try_publish(p.topic.clone(), self.qos, p.retain, p.payload.clone());
                if sent.is_err() {
                    // The channel is full: the connection's thread drains
                    // again after its next event.
                    return;
                }
                if let Some(p) = state.queue.pop_front() {
                    state.handed.push_back((p, None));
                }
            }
            if state.closing && !state.offline_queued {
                state.offline_queued = true;
                state.queue.push_back(Publication {
                    topic: self.available.clone(),
                    payload: b"offline".to_vec(),
                    retain: true,
                });
                continue;
            }
            break;
        }
        if state.offline_queued && state.handed.is_empty() && client.try_disconnect().is_ok() {
            state.disconnect_sent = true;
        }
    }

    /// The connection's thread: polls rumqttc, follows what was sent and
    /// acknowledged, reconnects with backoff.
    fn run(&self, mut connection: Connection, client: &Client) {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let Ok(event) = connection.recv() else {
                return;
            };
            let mut state = self.lock();
            match event {
                Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                    backoff = FIRST_BACKOFF;
                    state.connected = true;
                    if state.ever_connected {
                        tracing::info!(url = %self.url, "MQTT broker reconnected");
                    }
                    if state.dropped_in_outage > 0 {
                        tracing::warn!(
                            url = %self.url,
                            "MQTT broker back: {} messages were dropped while it was away",
                            state.dropped_in_outage
                        );
                    }
                    state.ever_connected = true;
                    state.warned_away = false;
                    state.dropped_in_outage = 0;
                    state.queue.push_front(Publication {
                        topic: self.available.clone(),
                        payload: b"online".to_vec(),
                        retain: true,
                    });
                }
                Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                    if self.qos == QoS::AtMostOnce {
                        state.handed.pop_front();
                    } else if let Some(entry) = state.handed.iter_mut().find(|e| e.1.is_none()) {
                        entry.1 = Some(pkid);
                    }
                }
                Ok(Event::Incoming(Incoming::PubAck(ack))) => {
                    if let Some(i) = state.handed.iter().position(|e| e.1 == Some(ack.pkid)) {
                        state.handed.remove(i);
                    }
                }
                Ok(Event::Outgoing(Outgoing::Disconnect)) => {
                    state.closed = true;
                    self.changed.notify_all();
                    return;
                }
                Ok(_) => {}
                Err(e) => {
                    state.connected = false;
                    // A new clean session: what rumqttc still holds is
                    // forgotten there and sent again from the queue.
                    connection.eventloop.clean();
                    connection.eventloop.pending.clear();
                    while let Some((p, _)) = state.handed.pop_back() {
                        state.queue.push_front(p);
                    }
                    self.trim(&mut state);
                    if state.disconnect_sent || state.abandoned {
                        state.closed = state.disconnect_sent;
                        self.changed.notify_all();
                        return;
                    }
                    if !state.warned_away {
                        state.warned_away = true;
                        tracing::warn!(
                            url = %self.url,
                            "MQTT broker unreachable ({e}); records are queued (at most {}) and the connection retried",
                            self.bound
                        );
                    }
                    self.changed.notify_all();
                    drop(state);
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            }
            self.drain(&mut state, client);
            self.changed.notify_all();
        }
    }
}
