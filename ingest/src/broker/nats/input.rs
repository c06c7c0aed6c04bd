//! [`NatsInput`]: messages in from a core NATS subscription or a durable
//! JetStream pull consumer, served by a task that owns the connection.

use std::sync::mpsc::{SyncSender, sync_channel};
use std::time::Duration;

use async_nats::connection::State as Connection;
use async_nats::jetstream::{
    self, AckKind, consumer::AckPolicy, consumer::PullConsumer, consumer::pull,
};
use async_nats::{Client, Subscriber};
use futures_util::StreamExt as _;
use tokio::runtime::Runtime;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::time::{Instant, timeout, timeout_at};

use super::connect::{close_runtime, connect, ensure_stream, runtime};
use super::url::{NatsUrl, valid_name};
use crate::broker::{BrokerError, BrokerInput, Message};

/// The shortest wait a JetStream fetch asks the server for.
const MIN_EXPIRES: Duration = Duration::from_millis(10);
/// How long an acknowledgement may take to reach the server.
const ACK_TIMEOUT: Duration = Duration::from_secs(5);

/// Messages in from a NATS server.
#[derive(Debug)]
pub struct NatsInput {
    requests: UnboundedSender<Request>,
    runtime: Option<Runtime>,
    redacted: String,
}

/// A call of the blocking side, answered by the task.
#[derive(Debug)]
enum Request {
    Next {
        max: usize,
        wait: Duration,
        reply: SyncSender<Result<Vec<Message>, String>>,
    },
    Ack {
        reply: SyncSender<Result<(), String>>,
    },
    /// Gives back what was handed out and not acked, for the next consumer.
    Release {
        reply: SyncSender<Result<(), String>>,
    },
}

impl NatsInput {
    /// Subscribes to the subject (a filter, wildcards allowed) of `url`;
    /// with `jetstream`, through the durable pull consumer `durable`.
    ///
    /// # Errors
    /// [`BrokerError::Url`] for a URL osprey cannot use or a durable name
    /// JetStream cannot take; [`BrokerError::Broker`] when no runtime can be
    /// started.
    pub fn subscribe(url: &str, jetstream: bool, durable: &str) -> Result<NatsInput, BrokerError> {
        let url = NatsUrl::parse(url, jetstream, false)?;
        if jetstream && !valid_name(durable) {
            return Err(BrokerError::Url {
                url: url.redacted,
                reason: format!("not a durable consumer name: {durable:?}"),
            });
        }
        let runtime = runtime(&url)?;
        let (requests, receiver) = unbounded_channel();
        let redacted = url.redacted.clone();
        runtime.spawn(serve(receiver, url, durable.to_owned()));
        Ok(NatsInput {
            requests,
            runtime: Some(runtime),
            redacted,
        })
    }

    /// Sends `request` to the task and waits up to `wait` (and some) for
    /// the answer `reply` receives.
    fn call<T>(
        &self,
        request: Request,
        answer: &std::sync::mpsc::Receiver<Result<T, String>>,
        wait: Duration,
    ) -> Result<T, BrokerError> {
        let error = |reason: String| BrokerError::Broker {
            url: self.redacted.clone(),
            reason,
        };
        self.requests
            .send(request)
            .map_err(|_| error("the connection task ended".into()))?;
        answer
            .recv_timeout(wait + ACK_TIMEOUT + Duration::from_secs(5))
            .map_err(|_| error("the connection task did not answer".into()))?
            .map_err(error)
    }
}

impl BrokerInput for NatsInput {
    fn next(&mut self, max: usize, wait: Duration) -> Result<Vec<Message>, BrokerError> {
        let (reply, answer) = sync_channel(1);
        self.call(Request::Next { max, wait, reply }, &answer, wait)
    }

    fn ack(&mut self) -> Result<(), BrokerError> {
        let (reply, answer) = sync_channel(1);
        self.call(Request::Ack { reply }, &answer, Duration::ZERO)
    }
}

impl Drop for NatsInput {
    /// Gives back the JetStream messages handed out and not acked (a nak:
    /// they go to the next consumer at once, not after the ack wait).
    fn drop(&mut self) {
        let (reply, answer) = sync_channel(1);
        if let Err(e) = self.call(Request::Release { reply }, &answer, Duration::ZERO) {
            tracing::debug!("{e}");
        }
        if let Some(runtime) = self.runtime.take() {
            close_runtime(runtime);
        }
    }
}

/// Where messages come from.
enum Source {
    Core(Subscriber),
    JetStream(Box<Pull>),
}

/// A durable pull consumer, made at the first call that finds the server.
struct Pull {
    js: jetstream::Context,
    durable: String,
    consumer: Option<PullConsumer>,
    /// Handed out, not acked yet (at most `max_ack_pending`: the server
    /// sends no more).
    handed: Vec<jetstream::Message>,
    /// The last setup failure said, so it is said once.
    said: Option<String>,
}

/// The task: connects, subscribes, and answers the blocking side's calls
/// until it goes away.
async fn serve(mut requests: UnboundedReceiver<Request>, url: NatsUrl, durable: String) {
    let client = match connect(&url, &durable).await {
        Ok(client) => client,
        Err(e) => {
            while let Some(request) = requests.recv().await {
                request.refuse(e.to_string());
            }
            return;
        }
    };
    let mut source = if url.jetstream {
        Source::JetStream(Box::new(Pull {
            js: jetstream::new(client.clone()),
            durable,
            consumer: None,
            handed: Vec::new(),
            said: None,
        }))
    } else {
        match client.subscribe(url.subject.clone()).await {
            Ok(subscriber) => Source::Core(subscriber),
            Err(e) => {
                while let Some(request) = requests.recv().await {
                    request.refuse(format!("cannot subscribe: {e}"));
                }
                return;
            }
        }
    };
    while let Some(request) = requests.recv().await {
        match request {
            Request::Next { max, wait, reply } => {
                let deadline = Instant::now() + wait;
                let _ = reply.send(source.next(&client, &url, max.max(1), deadline).await);
            }
            Request::Ack { reply } => {
                let _ = reply.send(source.ack(&client, AckKind::Ack).await);
            }
            Request::Release { reply } => {
                let _ = reply.send(source.ack(&client, AckKind::Nak(None)).await);
            }
        }
    }
}

impl Request {
    fn refuse(self, reason: String) {
        match self {
            Request::Next { reply, .. } => drop(reply.send(Err(reason))),
            Request::Ack { reply } | Request::Release { reply } => drop(reply.send(Err(reason))),
        }
    }
}

impl Source {
    /// Up to `max` messages, waiting until `deadline` for the first.
    async fn next(
        &mut self,
        client: &Client,
        url: &NatsUrl,
        max: usize,
        deadline: Instant,
    ) -> Result<Vec<Message>, String> {
        let mut out = Vec::new();
        match self {
            Source::Core(subscriber) => {
                let Ok(first) = timeout_at(deadline, subscriber.next()).await else {
                    return Ok(out);
                };
                let mut message = first;
                while let Some(m) = message {
                    out.push(Message {
                        topic: m.subject.to_string(),
                        payload: m.payload.to_vec(),
                    });
                    if out.len() >= max {
                        break;
                    }
                    // What has arrived already, without waiting.
                    message = timeout(Duration::ZERO, subscriber.next())
                        .await
                        .ok()
                        .flatten();
                }
                Ok(out)
            }
            Source::JetStream(pull) => {
                let Pull {
                    js,
                    durable,
                    consumer,
                    handed,
                    said,
                } = &mut **pull;
                if client.connection_state() != Connection::Connected {
                    tokio::time::sleep_until(deadline).await;
                    return Ok(out);
                }
                if consumer.is_none() {
                    match pull_consumer(js, url, durable).await {
                        Ok(c) => *consumer = Some(c),
                        Err(reason) => {
                            if said.as_ref() != Some(&reason) {
                                tracing::warn!("{}: {reason}", url.redacted);
                                *said = Some(reason);
                            }
                            tokio::time::sleep_until(deadline).await;
                            return Ok(out);
                        }
                    }
                }
                let Some(consumer) = consumer else {
                    return Ok(out);
                };
                let room = url.max_ack_pending.saturating_sub(handed.len()).max(1);
                let expires = deadline
                    .saturating_duration_since(Instant::now())
                    .max(MIN_EXPIRES);
                let batch = consumer
                    .batch()
                    .max_messages(max.min(room))
                    .expires(expires)
                    .messages();
                let fetched = timeout_at(deadline + ACK_TIMEOUT, async {
                    let mut batch = match batch.await {
                        Ok(batch) => batch,
                        Err(e) => {
                            tracing::debug!("fetch: {e}");
                            return;
                        }
                    };
                    while let Some(message) = batch.next().await {
                        match message {
                            Ok(m) => {
                                out.push(Message {
                                    topic: m.subject.to_string(),
                                    payload: m.payload.to_vec(),
                                });
                                handed.push(m);
                            }
                            Err(e) => {
                                tracing::debug!("fetch: {e}");
                                break;
                            }
                        }
                    }
                })
                .await;
                if fetched.is_err() {
                    tracing::debug!("fetch: no end of batch in time");
                }
                Ok(out)
            }
        }
    }

    /// Acknowledges (or with `kind` naks) what was handed out.
    async fn ack(&mut self, client: &Client, kind: AckKind) -> Result<(), String> {
        let Source::JetStream(pull) = self else {
            return Ok(());
        };
        for message in pull.handed.drain(..) {
            message
                .ack_with(kind)
                .await
                .map_err(|e| format!("cannot ack: {e}"))?;
        }
        match timeout(ACK_TIMEOUT, client.flush()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("cannot ack: {e}")),
            Err(_) => Err("cannot ack: the server did not answer in time".into()),
        }
    }
}

/// The durable pull consumer `durable` on the stream that captures the
/// subject of `url`, made if it does not exist yet.
async fn pull_consumer(
    js: &jetstream::Context,
    url: &NatsUrl,
    durable: &str,
) -> Result<PullConsumer, String> {
    let stream = ensure_stream(js, url).await?;
    stream
        .get_or_create_consumer(
            durable,
            pull::Config {
                durable_name: Some(durable.to_owned()),
                ack_policy: AckPolicy::Explicit,
                max_ack_pending: i64::try_from(url.max_ack_pending).unwrap_or(i64::MAX),
                filter_subject: url.subject.clone(),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| format!("cannot make consumer {durable}: {e}"))
}
