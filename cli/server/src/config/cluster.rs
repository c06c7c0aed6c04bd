//! `[cluster]`: run the server as one worker of a cluster on NATS
//! JetStream (`osprey serve --cluster URL` sets or overrides `url`).
//!
//! ```toml
//! [cluster]
//! url = "nats://127.0.0.1:4222"
//! worker = "w1"          # unique per worker; default: worker-<pid>
//! lease_seconds = 3      # a dead worker's shards are taken after this
//! renew_seconds = 1      # leases renewed (and checkpoints written) this often
//! ```

use std::time::Duration;

use osprey_ingest::cluster::{GroupSettings, check_name};
use serde::{Deserialize, Serialize};

/// The table.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// `nats://HOST:PORT` (a user and password may be in it; never shown).
    pub url: String,
    /// This worker's id: letters, digits, `-`, `_`.
    pub worker: Option<String>,
    /// How long a lease lasts without renewal (default 3).
    pub lease_seconds: Option<f64>,
    /// How often leases are renewed (default 1; under half the lease).
    pub renew_seconds: Option<f64>,
}

impl std::fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("url", &osprey_ingest::broker::redact_url(&self.url))
            .field("worker", &self.worker)
            .field("lease_seconds", &self.lease_seconds)
            .field("renew_seconds", &self.renew_seconds)
            .finish()
    }
}

/// The default lease time.
const LEASE: f64 = 3.0;

/// The default renewal interval.
const RENEW: f64 = 1.0;

impl ClusterConfig {
    /// A table with only `url`.
    pub fn with_url(url: String) -> ClusterConfig {
        ClusterConfig {
            url,
            worker: None,
            lease_seconds: None,
            renew_seconds: None,
        }
    }

    /// Checks the values: the key at fault and the message.
    ///
    /// # Errors
    /// A URL that is not `nats://` or `tls://`, a bad worker id, a lease
    /// not at least twice the renewal interval.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        let scheme = self.url.split("://").next().unwrap_or_default();
        if !matches!(scheme, "nats" | "tls") || !self.url.contains("://") {
            let shown = osprey_ingest::broker::redact_url(&self.url);
            return Err((
                "url",
                format!("url must be nats://HOST:PORT, not {shown:?}"),
            ));
        }
        if let Some(w) = &self.worker {
            check_name("worker", w).map_err(|e| ("worker", e.to_string()))?;
        }
        let (lease, renew) = self.seconds();
        if !(renew > 0.0 && renew.is_finite()) {
            return Err(("renew_seconds", "renew_seconds must be above 0".into()));
        }
        if !(lease >= 2.0 * renew && lease.is_finite()) {
            return Err((
                "lease_seconds",
                format!("lease_seconds ({lease}) must be at least twice renew_seconds ({renew})"),
            ));
        }
        Ok(())
    }

    fn seconds(&self) -> (f64, f64) {
        (
            self.lease_seconds.unwrap_or(LEASE),
            self.renew_seconds.unwrap_or(RENEW),
        )
    }

    /// How this worker takes part in consumer groups (call after
    /// [`ClusterConfig::check`]).
    pub fn group_settings(&self) -> GroupSettings {
        let (lease, renew) = self.seconds();
        GroupSettings {
            worker: self
                .worker
                .clone()
                .unwrap_or_else(|| format!("worker-{}", std::process::id())),
            lease: Duration::from_secs_f64(lease),
            renew: Duration::from_secs_f64(renew),
        }
    }
}
