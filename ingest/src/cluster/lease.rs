//! Leases: who owns a shard of a consumer group, and its checkpoint.
//!
//! A lease is one key of the bucket [`LEASES`](super::LEASES),
//! `<group>.<stream>.<shard>`, whose value is a [`Lease`]: the holding
//! worker (empty once released), the shard's checkpoint and when it was
//! written. Every write is a compare-and-set on the key's revision
//! (`update(key, value, revision)`): a worker writes only over the revision
//! it last wrote or read, so of two workers racing for a lease one wins and
//! the other learns it lost, and a worker whose lease was taken can neither
//! renew it nor move its checkpoint. The bucket keeps each key's last
//! revisions, the lease history.

use serde::{Deserialize, Serialize};

use super::{CALL_TIMEOUT, Cluster, ClusterError, call_error};

/// A lease's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The worker holding it; empty when released.
    pub worker: String,
    /// The shard's checkpoint: the next sequence number to read (`None`:
    /// none yet, the group's starting position applies).
    pub checkpoint: Option<u64>,
    /// When the worker wrote it (ms since the epoch, its clock): for the
    /// history, not for the protocol, which trusts no clock but the
    /// observer's own.
    pub at_ms: i64,
}

impl Lease {
    /// A lease of `worker` (empty: released) with `checkpoint`, written now.
    pub fn new(worker: &str, checkpoint: Option<u64>) -> Lease {
        Lease {
            worker: worker.to_owned(),
            checkpoint,
            at_ms: now_ms(),
        }
    }

    /// True once released.
    pub fn is_free(&self) -> bool {
        self.worker.is_empty()
    }
}

/// Milliseconds since the epoch by this machine's clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The key of `shard` of `stream` in `group`.
pub fn key(group: &str, stream: &str, shard: &str) -> String {
    format!("{group}.{stream}.{shard}")
}

/// What a compare-and-set came to.
#[derive(Debug)]
pub enum Swap {
    /// Written: the new revision.
    Done(u64),
    /// Someone else wrote first: the lease is not ours.
    Lost,
}

impl Cluster {
    /// The lease at `key` and its revision, if there is one.
    ///
    /// # Errors
    /// The bucket cannot be read.
    pub fn lease(&self, key: &str) -> Result<Option<(u64, Lease)>, ClusterError> {
        let entry = self.call("read a lease", CALL_TIMEOUT, self.leases.entry(key))?;
        Ok(entry.and_then(|e| {
            // A deleted or purged key, or a value not ours, is no lease.
            let lease = serde_json::from_slice::<Lease>(&e.value).ok()?;
            Some((e.revision, lease))
        }))
    }

    /// Writes `lease` at `key` over revision `revision` (`None`: only if
    /// there is no such key yet), within `timeout`.
    ///
    /// # Errors
    /// The bucket cannot be reached in time (the lease may or may not have
    /// been written: the caller goes on as if not).
    pub fn swap_lease(
        &self,
        key: &str,
        lease: &Lease,
        revision: Option<u64>,
        timeout: std::time::Duration,
    ) -> Result<Swap, ClusterError> {
        let value = serde_json::to_vec(lease).map_err(|e| call_error("encode a lease", e))?;
        let handle = self.runtime.handle();
        let done = handle.block_on(async {
            tokio::time::timeout(timeout, async {
                match revision {
                    Some(r) => self.leases.update(key, value.into(), r).await.map_err(|e| {
                        let lost = e.kind()
                            == async_nats::jetstream::kv::UpdateErrorKind::WrongLastRevision;
                        (lost, e.to_string())
                    }),
                    None => self.leases.create(key, value.into()).await.map_err(|e| {
                        let lost =
                            e.kind() == async_nats::jetstream::kv::CreateErrorKind::AlreadyExists;
                        (lost, e.to_string())
                    }),
                }
            })
            .await
        });
        match done {
            Ok(Ok(r)) => Ok(Swap::Done(r)),
            Ok(Err((true, _))) => Ok(Swap::Lost),
            Ok(Err((false, e))) => Err(call_error("write a lease", e)),
            Err(_) => Err(call_error("write a lease", "timed out")),
        }
    }

    /// Every revision the bucket still holds of the lease at `key`, oldest
    /// first: (revision, lease).
    ///
    /// # Errors
    /// The bucket cannot be read.
    pub fn lease_history(&self, key: &str) -> Result<Vec<(u64, Lease)>, ClusterError> {
        use futures_util::StreamExt as _;
        self.call("read a lease's history", CALL_TIMEOUT, async {
            let mut history = self.leases.history(key).await?;
            let mut out = Vec::new();
            while let Some(entry) = history.next().await {
                let entry = entry?;
                if let Ok(lease) = serde_json::from_slice::<Lease>(&entry.value) {
                    out.push((entry.revision, lease));
                }
                if entry.delta == 0 {
                    break;
                }
            }
            Ok::<_, async_nats::Error>(out)
        })
    }

    /// Says `worker` is alive now.
    ///
    /// # Errors
    /// The bucket cannot be reached.
    pub fn heartbeat(&self, worker: &str) -> Result<(), ClusterError> {
        let now = now_ms().to_string();
        self.call(
            "write a heartbeat",
            CALL_TIMEOUT,
            self.workers.put(worker, now.into_bytes().into()),
        )
        .map(drop)
    }

    /// The workers whose last heartbeat is newer than `within` (by this
    /// machine's clock).
    ///
    /// # Errors
    /// The bucket cannot be read.
    pub fn live_workers(&self, within: std::time::Duration) -> Result<Vec<String>, ClusterError> {
        use futures_util::StreamExt as _;
        let since = now_ms() - i64::try_from(within.as_millis()).unwrap_or(i64::MAX);
        self.call("list the workers", CALL_TIMEOUT, async {
            let mut keys = self.workers.keys().await?;
            let mut names = Vec::new();
            while let Some(k) = keys.next().await {
                names.push(k?);
            }
            let mut live = Vec::new();
            for name in names {
                let beat = self.workers.get(&name).await?;
                let at = beat
                    .and_then(|v| std::str::from_utf8(&v).ok()?.parse::<i64>().ok())
                    .unwrap_or(i64::MIN);
                if at >= since {
                    live.push(name);
                }
            }
            Ok::<_, async_nats::Error>(live)
        })
    }
}
