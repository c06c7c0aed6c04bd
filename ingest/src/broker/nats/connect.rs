//! What the output and the input share: their runtime, the connection (in
//! the background, reconnecting with backoff) and the JetStream stream that
//! captures the subject.

use std::time::Duration;

use async_nats::jetstream::{self, context::GetStreamByNameErrorKind, stream};
use async_nats::{Client, ConnectOptions};
use tokio::runtime::Runtime;

use super::url::{Auth, NatsUrl};
use crate::broker::BrokerError;

/// The longest wait between two reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// A runtime of one worker thread, for one output or input: its tasks run
/// whatever thread calls osprey's blocking methods.
pub(super) fn runtime(url: &NatsUrl) -> Result<Runtime, BrokerError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("osprey-nats")
        .enable_all()
        .build()
        .map_err(|e| BrokerError::Broker {
            url: url.redacted.clone(),
            reason: format!("cannot start a runtime: {e}"),
        })
}

/// Stops `runtime`, waiting a second at most for its tasks; without waiting
/// when called from inside another runtime (where blocking would panic).
pub(super) fn close_runtime(runtime: Runtime) {
    if tokio::runtime::Handle::try_current().is_ok() {
        runtime.shutdown_background();
    } else {
        runtime.shutdown_timeout(Duration::from_secs(1));
    }
}

/// The wait before reconnection attempt `attempt` (from 0): 50 ms doubled
/// up to [`MAX_BACKOFF`].
pub(super) fn backoff(attempt: usize) -> Duration {
    let shift = u32::try_from(attempt.min(8)).unwrap_or(8);
    Duration::from_millis(50u64 << shift).min(MAX_BACKOFF)
}

/// Connects to the server of `url` as `name`; returns at once, a server
/// not up yet is connected in the background and reconnected for ever.
pub(super) async fn connect(url: &NatsUrl, name: &str) -> Result<Client, BrokerError> {
    let mut options = ConnectOptions::new()
        .name(name)
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(5))
        .reconnect_delay_callback(backoff)
        // Messages the connection buffers: bounded, on top of osprey's queue.
        .client_capacity(1024)
        .subscription_capacity(4096);
    options = match &url.auth {
        Auth::None => options,
        Auth::User(user, pass) => options.user_and_password(user.clone(), pass.clone()),
        Auth::Token(token) => options.token(token.clone()),
    };
    options
        .connect(url.server.as_str())
        .await
        .map_err(|e| BrokerError::Broker {
            url: url.redacted.clone(),
            reason: e.to_string(),
        })
}

/// The stream that captures the subject of `url`, created when there is
/// none and `create` allows; the error says why not.
pub(super) async fn ensure_stream(
    js: &jetstream::Context,
    url: &NatsUrl,
) -> Result<stream::Stream, String> {
    match js.stream_by_subject(url.subject.as_str()).await {
        Ok(name) => js.get_stream(name).await.map_err(|e| e.to_string()),
        Err(e) if e.kind() == GetStreamByNameErrorKind::NotFound => {
            if !url.create {
                return Err(format!(
                    "no JetStream stream captures {} (and create=0)",
                    url.subject
                ));
            }
            js.get_or_create_stream(stream::Config {
                name: url.stream.clone(),
                subjects: vec![url.subject.clone()],
                ..Default::default()
            })
            .await
            .map_err(|e| format!("cannot create stream {}: {e}", url.stream))
        }
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_bound() {
        assert_eq!(backoff(0), Duration::from_millis(50));
        assert_eq!(backoff(1), Duration::from_millis(100));
        assert_eq!(backoff(5), Duration::from_millis(1600));
        assert_eq!(backoff(6), MAX_BACKOFF);
        assert_eq!(backoff(usize::MAX), MAX_BACKOFF);
    }
}
