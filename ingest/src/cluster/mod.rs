//! osprey on many machines: NATS JetStream as the log, and the partitioned
//! consumer group that shares a stream's shards among workers.
//!
//! - An osprey stream `S` is the JetStream stream `OSPREY_S` with one
//!   subject per shard, `osprey.S.<shard>`; records are routed by the same
//!   MD5 hash-key ranges as the embedded store ([`crate::log::route`]), and
//!   a record's sequence number is JetStream's stream sequence. The shard
//!   count lives in the key-value bucket `osprey_streams`. [`Cluster`]
//!   implements [`Log`](crate::log::Log) ([`log`]).
//! - A consumer group ([`group`]): each shard is owned by one worker at a
//!   time through a lease in the key-value bucket `osprey_leases` (key
//!   `<group>.<stream>.<shard>`), taken and renewed by revision
//!   compare-and-set; the shard's checkpoint is part of the lease's value,
//!   so only the holder can move it ([`lease`]).
//!
//! The calls here are blocking: the cluster runs its own small tokio
//! runtime, so the query threads (plain threads) use it as they use the
//! store.

pub mod group;
pub mod lease;
pub mod log;

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::{self, kv};

pub use self::group::{GroupSettings, ShardLease, ShardTask, ShardWork, run_member};
pub use self::log::ShardReader;

/// The bucket of leases and checkpoints.
pub const LEASES: &str = "osprey_leases";

/// The bucket of live workers (each worker's last heartbeat).
pub const WORKERS: &str = "osprey_workers";

/// The bucket of cluster streams (their shard counts).
pub const STREAMS: &str = "osprey_streams";

/// Revisions of each lease the bucket keeps (JetStream's most): the lease
/// history the ownership can be checked against.
const LEASE_HISTORY: i64 = 64;

/// How long a call to the cluster may take at most.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// What can go wrong with the cluster.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The server cannot be reached.
    #[error("cannot reach the cluster at {url}: {reason}")]
    Connect {
        /// The URL, without its password.
        url: String,
        /// Why.
        reason: String,
    },
    /// A JetStream or key-value call failed.
    #[error("cluster: cannot {action}: {reason}")]
    Call {
        /// What was being done.
        action: String,
        /// Why.
        reason: String,
    },
    /// A name that cannot be a subject token or a key.
    #[error(
        "cluster: {what} {name:?} cannot be used in the cluster: letters, digits, '-' and '_' only"
    )]
    BadName {
        /// Which name (`stream`, `worker`, ...).
        what: &'static str,
        /// The name.
        name: String,
    },
    /// A stream the cluster does not hold.
    #[error("cluster: no stream {0:?} (declare it in [[streams]])")]
    NoSuchStream(String),
    /// A stream declared with another shard count than the cluster's.
    #[error("cluster: stream {stream:?} has {found} shards in the cluster, not {wanted}")]
    ShardCount {
        /// The stream.
        stream: String,
        /// The cluster's count.
        found: u32,
        /// The count asked for.
        wanted: u32,
    },
    /// What the cluster log does not do (yet).
    #[error("cluster: {0}")]
    Unsupported(String),
}

impl From<ClusterError> for crate::IngestError {
    fn from(e: ClusterError) -> Self {
        crate::IngestError::Cluster(Box::new(e))
    }
}

/// Checks `name` is a subject token and key: letters, digits, `-`, `_`.
///
/// # Errors
/// [`ClusterError::BadName`].
pub fn check_name(what: &'static str, name: &str) -> Result<(), ClusterError> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ClusterError::BadName {
            what,
            name: name.to_owned(),
        })
    }
}

/// A connection to a JetStream server and its buckets.
pub struct Cluster {
    url: String,
    runtime: tokio::runtime::Runtime,
    js: jetstream::Context,
    leases: kv::Store,
    workers: kv::Store,
    streams: kv::Store,
    /// Shard counts of the streams read so far ([`Log::shards`](crate::log::Log::shards)).
    shard_counts: std::sync::Mutex<std::collections::HashMap<String, u32>>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// `e` as a [`ClusterError::Call`] doing `action`.
fn call_error(action: impl Into<String>, e: impl std::fmt::Display) -> ClusterError {
    ClusterError::Call {
        action: action.into(),
        reason: e.to_string(),
    }
}

impl Cluster {
    /// Connects to the server at `url` (`nats://HOST:PORT`, a user and
    /// password in it if the server wants them) and opens (or makes) the
    /// buckets.
    ///
    /// # Errors
    /// [`ClusterError::Connect`] when the server cannot be reached or has
    /// no JetStream.
    pub fn connect(url: &str) -> Result<Cluster, ClusterError> {
        let shown = crate::broker::redact_url(url);
        let connect_error = |reason: String| ClusterError::Connect {
            url: shown.clone(),
            reason,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("osprey-cluster")
            .enable_all()
            .build()
            .map_err(|e| connect_error(e.to_string()))?;
        let (js, leases, workers, streams) = runtime.block_on(async {
            let client = async_nats::ConnectOptions::new()
                .connection_timeout(CALL_TIMEOUT)
                .connect(url)
                .await
                .map_err(|e| connect_error(e.to_string()))?;
            let js = jetstream::new(client);
            let bucket = |name: &'static str, history: i64| {
                let js = js.clone();
                async move {
                    if let Ok(kv) = js.get_key_value(name).await {
                        return Ok(kv);
                    }
                    // The bucket's stream made as a key-value store's, by
                    // hand: the client's own bucket creation sends what
                    // servers before 2.10 do not answer in a form it reads.
                    let config = jetstream::stream::Config {
                        name: format!("KV_{name}"),
                        subjects: vec![format!("$KV.{name}.>")],
                        max_messages_per_subject: history,
                        discard: jetstream::stream::DiscardPolicy::New,
                        allow_rollup: true,
                        deny_delete: true,
                        allow_direct: true,
                        ..Default::default()
                    };
                    match js.get_or_create_stream(config).await.map(drop) {
                        Ok(()) => js
                            .get_key_value(name)
                            .await
                            .map_err(|e| connect_error(format!("bucket {name}: {e}"))),
                        // Another worker made it meanwhile.
                        Err(e) => js
                            .get_key_value(name)
                            .await
                            .map_err(|_| connect_error(format!("bucket {name}: {e}"))),
                    }
                }
            };
            let leases = bucket(LEASES, LEASE_HISTORY).await?;
            let workers = bucket(WORKERS, 1).await?;
            let streams = bucket(STREAMS, 1).await?;
            Ok::<_, ClusterError>((js, leases, workers, streams))
        })?;
        Ok(Cluster {
            url: shown,
            runtime,
            js,
            leases,
            workers,
            streams,
            shard_counts: std::sync::Mutex::default(),
        })
    }

    /// The server's URL, without its password.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs `f` on the cluster's runtime and waits for it, for at most
    /// `timeout`.
    fn call<T, E: std::fmt::Display>(
        &self,
        action: &str,
        timeout: Duration,
        f: impl Future<Output = Result<T, E>>,
    ) -> Result<T, ClusterError> {
        match self
            .runtime
            .handle()
            .block_on(async { tokio::time::timeout(timeout, f).await })
        {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(call_error(action, e)),
            Err(_) => Err(call_error(action, "timed out")),
        }
    }
}
