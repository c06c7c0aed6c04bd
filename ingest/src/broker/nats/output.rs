//! [`NatsLines`]: record lines into a bounded queue that a background task
//! publishes on a subject, through core NATS or JetStream.
//!
//! JetStream publishes go out a window at a time, their acks awaited in
//! order; after a failure the window is sent again from its first
//! unacknowledged record. The order per subject holds across a lost
//! connection too: where the stream holds osprey's subject alone, each
//! publish of a window after the first names the one before it as the
//! stream's expected last message (`Nats-Expected-Last-Msg-Id`), so a
//! publish the client kept and sent on reconnect, after one that was lost
//! with the connection, is refused rather than stored out of order, and
//! goes again, in order, with the rest of the window (`Nats-Msg-Id`
//! de-duplicates what had landed).

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_nats::connection::State as Connection;
use async_nats::jetstream::{self, message::PublishMessage};
use async_nats::{Client, Subject};
use bytes::Bytes;
use tokio::runtime::Runtime;
use tokio::sync::Notify;

use super::connect::{backoff, close_runtime, connect, ensure_stream, runtime};
use super::msg_id::msg_id;
use super::url::NatsUrl;
use crate::broker::{BrokerError, OutputOptions};
use crate::sink::LineBatches;
use crate::sink::lines::non_blank;

/// How long a JetStream ack or a core flush may take before the server
/// counts as away.
const ACK_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `send` waits for room in a full queue while the server seems
/// up before it counts it as away and drops the oldest.
const STALL: Duration = Duration::from_secs(5);
/// How long closing waits for the queue to drain.
const LINGER: Duration = Duration::from_secs(10);
/// Room for the `Nats-Msg-Id` header and the rest of a JetStream message's
/// headers, under the server's largest payload.
const HEADER_ROOM: usize = 512;

/// Record lines published to a NATS server.
#[derive(Debug)]
pub struct NatsLines {
    shared: Arc<Shared>,
    runtime: Option<Runtime>,
    redacted: String,
    bound: usize,
    /// How long closing waits for the queue to drain.
    linger: Duration,
}

/// What an output has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NatsStats {
    /// Records the server took: acked by JetStream, or flushed to core NATS.
    pub published: u64,
    /// Of those, the ones JetStream said it had already (the same
    /// `Nats-Msg-Id` within its duplicate window).
    pub duplicates: u64,
    /// Records dropped, oldest first, past the queue bound while the server
    /// was away.
    pub dropped: u64,
    /// Records larger than the server takes, dropped.
    pub too_large: u64,
    /// Records waiting in the queue or in flight.
    pub queued: u64,
}

/// The queue between `send` and the publishing task.
#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    /// `send` and closing wait on it for room or a drained queue.
    room: Condvar,
    /// The task waits on it for records or the close.
    work: Notify,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Bytes>,
    in_flight: usize,
    /// The server is disconnected or did not answer the last window.
    away: bool,
    closed: bool,
    stats: NatsStats,
    /// The drops since the server was last seen were warned about.
    warned: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl NatsLines {
    /// Connects (in the background) to the server of `url`; with
    /// `jetstream`, publishes through JetStream and waits for its acks.
    ///
    /// # Errors
    /// [`BrokerError::Url`] for a URL osprey cannot use;
    /// [`BrokerError::Broker`] when no runtime can be started.
    pub fn connect(
        url: &str,
        jetstream: bool,
        options: &OutputOptions,
    ) -> Result<NatsLines, BrokerError> {
        let url = NatsUrl::parse(url, jetstream, true)?;
        let runtime = runtime(&url)?;
        let bound = url.queue.unwrap_or(options.queue_records).max(1);
        let shared = Arc::new(Shared::default());
        let redacted = url.redacted.clone();
        let name = options.client_id.clone();
        let task_shared = Arc::clone(&shared);
        // Not `block_on`: the caller may be inside a runtime of its own.
        runtime.spawn(async move {
            match connect(&url, &name).await {
                Ok(client) => publish(task_shared, client, url).await,
                Err(e) => {
                    tracing::error!("{e}");
                    task_shared.lock().away = true;
                }
            }
        });
        Ok(NatsLines {
            shared,
            runtime: Some(runtime),
            redacted,
            bound,
            linger: LINGER,
        })
    }

    /// What this output has done so far.
    pub fn stats(&self) -> NatsStats {
        let state = self.shared.lock();
        let mut stats = state.stats;
        stats.queued = (state.queue.len() + state.in_flight) as u64;
        stats
    }

    /// Closes the output, waiting up to `wait` (instead of 10 s) for the
    /// queue to drain; returns what it did (`queued`: what was left).
    pub fn close(mut self, wait: Duration) -> NatsStats {
        self.shared.lock().closed = true;
        self.drain(wait);
        let stats = self.stats();
        self.linger = Duration::ZERO;
        stats
    }

    /// Waits up to `wait` for every queued record to be published; returns
    /// whether they were.
    pub fn drain(&self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        let mut state = self.shared.lock();
        self.shared.work.notify_one();
        while !state.queue.is_empty() || state.in_flight > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            state = self
                .shared
                .room
                .wait_timeout(state, Duration::from_millis(20))
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
        true
    }
}

impl LineBatches for NatsLines {
    /// Queues the lines of `batch` and returns how many; waits while the
    /// queue is full and the server takes records, drops the oldest while
    /// it is away.
    fn send(&mut self, batch: &[u8]) -> io::Result<u64> {
        let mut count = 0;
        let mut state = self.shared.lock();
        for line in non_blank(batch) {
            let mut progress = (state.stats.published, Instant::now());
            while state.queue.len() >= self.bound {
                if state.away || progress.1.elapsed() >= STALL {
                    state.queue.pop_front();
                    state.stats.dropped += 1;
                    if !state.warned {
                        state.warned = true;
                        tracing::warn!(
                            "{}: the server is away; past {} queued records the oldest are dropped",
                            self.redacted,
                            self.bound
                        );
                    }
                    continue;
                }
                self.shared.work.notify_one();
                state = self
                    .shared
                    .room
                    .wait_timeout(state, Duration::from_millis(100))
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .0;
                if state.stats.published != progress.0 {
                    progress = (state.stats.published, Instant::now());
                }
            }
            state.queue.push_back(Bytes::copy_from_slice(line));
            count += 1;
        }
        drop(state);
        self.shared.work.notify_one();
        Ok(count)
    }
}

impl Drop for NatsLines {
    /// Waits up to 10 s (or what [`NatsLines::close`] says) for the queue to
    /// drain, then says what was dropped or left.
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.drain(self.linger);
        let state = self.shared.lock();
        let left = state.queue.len() + state.in_flight;
        let stats = state.stats;
        drop(state);
        if stats.dropped > 0 {
            tracing::warn!(
                "{}: {} records dropped while the server was away (queue bound {})",
                self.redacted,
                stats.dropped,
                self.bound
            );
        }
        if stats.too_large > 0 {
            tracing::warn!(
                "{}: {} records larger than the server takes, dropped",
                self.redacted,
                stats.too_large
            );
        }
        if left > 0 {
            tracing::warn!(
                "{}: {left} records not delivered before closing",
                self.redacted
            );
        }
        if let Some(runtime) = self.runtime.take() {
            close_runtime(runtime);
        }
    }
}

/// How a window went.
struct Sent {
    /// Records of the window the server took (or that were too large), in
    /// order from the first; the rest go again.
    done: usize,
    duplicates: u64,
    too_large: u64,
    /// The server failed to take the rest.
    failed: bool,
}

/// The publishing task: takes windows of records off the queue until it is
/// closed and empty.
async fn publish(shared: Arc<Shared>, client: Client, url: NatsUrl) {
    let subject = Subject::from(url.subject.as_str());
    let js = url.jetstream.then(|| {
        jetstream::ContextBuilder::new()
            .ack_timeout(ACK_TIMEOUT)
            .max_ack_inflight(url.window)
            .backpressure_on_inflight(true)
            .build(client.clone())
    });
    let mut stream_ready = js.is_none();
    // Whether the stream holds our subject alone: windows are chained.
    let mut chain = false;
    let mut failures = 0usize;
    let mut said = None::<String>;
    loop {
        let window: Vec<Bytes> = loop {
            let notified = shared.work.notified();
            {
                let mut state = shared.lock();
                if !state.queue.is_empty() {
                    let n = state.queue.len().min(url.window);
                    state.in_flight = n;
                    break state.queue.drain(..n).collect();
                }
                if state.closed {
                    return;
                }
            }
            notified.await;
        };
        let sent = if client.connection_state() != Connection::Connected {
            None
        } else if let Some(js) = &js {
            if !stream_ready {
                match ensure_stream(js, &url).await {
                    Ok(stream) => {
                        chain = stream.cached_info().config.subjects == [url.subject.clone()];
                        stream_ready = true;
                    }
                    Err(reason) => {
                        if said.as_ref() != Some(&reason) {
                            tracing::warn!("{}: {reason}", url.redacted);
                            said = Some(reason);
                        }
                    }
                }
            }
            if stream_ready {
                Some(publish_jetstream(js, &client, &subject, &window, chain).await)
            } else {
                None
            }
        } else {
            Some(publish_core(&client, &subject, &window).await)
        }
        .unwrap_or(Sent {
            done: 0,
            duplicates: 0,
            too_large: 0,
            failed: true,
        });
        {
            let mut state = shared.lock();
            state.in_flight = 0;
            state.stats.published += (sent.done as u64).saturating_sub(sent.too_large);
            state.stats.duplicates += sent.duplicates;
            state.stats.too_large += sent.too_large;
            for line in window.into_iter().skip(sent.done).rev() {
                state.queue.push_front(line);
            }
            state.away = sent.failed;
            if !sent.failed {
                state.warned = false;
            }
        }
        shared.room.notify_all();
        if sent.failed {
            if js.is_some() && client.connection_state() == Connection::Connected {
                // Connected yet refused: the stream may have gone.
                stream_ready = false;
            }
            tokio::time::sleep(backoff(failures)).await;
            failures += 1;
        } else {
            failures = 0;
            said = None;
        }
    }
}

/// Publishes `window` through JetStream, each with its `Nats-Msg-Id`, and
/// awaits the acks in order; with `chain`, each publish after the window's
/// first expects the one before it as the stream's last.
async fn publish_jetstream(
    js: &jetstream::Context,
    client: &Client,
    subject: &Subject,
    window: &[Bytes],
    chain: bool,
) -> Sent {
    let limit = client.server_info().max_payload.saturating_sub(HEADER_ROOM);
    let mut acks = Vec::with_capacity(window.len());
    let mut previous: Option<String> = None;
    for line in window {
        if line.len() > limit {
            acks.push(None);
            continue;
        }
        let id = msg_id(line);
        let mut message = PublishMessage::build().payload(line.clone());
        if let Some(previous) = previous.as_deref().filter(|_| chain) {
            message = message.expected_last_message_id(previous);
        }
        let message = message.message_id(&id);
        previous = Some(id);
        match js.send_publish(subject.clone(), message).await {
            Ok(ack) => acks.push(Some(ack)),
            Err(e) => {
                tracing::debug!("publish: {e}");
                break;
            }
        }
    }
    let mut sent = Sent {
        done: 0,
        duplicates: 0,
        too_large: 0,
        failed: acks.len() < window.len(),
    };
    for ack in acks {
        match ack {
            None => sent.too_large += 1,
            Some(ack) => match ack.await {
                Ok(ack) => sent.duplicates += u64::from(ack.duplicate),
                Err(e) => {
                    tracing::debug!("ack: {e}");
                    sent.failed = true;
                    break;
                }
            },
        }
        sent.done += 1;
    }
    sent
}

/// Hands `window` to the core NATS connection and flushes it: at most
/// once, what was handed over counts as sent even when the flush fails.
async fn publish_core(client: &Client, subject: &Subject, window: &[Bytes]) -> Sent {
    let limit = client.server_info().max_payload;
    let mut sent = Sent {
        done: 0,
        duplicates: 0,
        too_large: 0,
        failed: false,
    };
    for line in window {
        if line.len() > limit {
            sent.too_large += 1;
        } else if let Err(e) = client.publish(subject.clone(), line.clone()).await {
            tracing::debug!("publish: {e}");
            sent.failed = true;
            return sent;
        }
        sent.done += 1;
    }
    if !matches!(
        tokio::time::timeout(ACK_TIMEOUT, client.flush()).await,
        Ok(Ok(()))
    ) {
        sent.failed = true;
    }
    sent
}
