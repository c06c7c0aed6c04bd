//! A partitioned consumer group: the shards of a stream shared among
//! workers, each shard processed by exactly one worker at a time.
//!
//! Each worker runs [`run_member`] for each group it is part of. Every
//! `renew` interval it:
//!
//! 1. says it is alive (the bucket [`WORKERS`](super::WORKERS));
//! 2. renews each lease it holds by compare-and-set over the revision it
//!    last wrote, writing the shard's latest checkpoint with it; a renewal
//!    another worker's write beat (the lease was taken) stops that shard's
//!    work at once, and a worker that has not renewed for `lease − renew`
//!    (the server out of reach) stops it too, before anyone may take it;
//! 3. looks at every other lease, and takes those whose revision it has
//!    seen unchanged for a whole `lease` (by its own clock: no clock is
//!    compared across machines), which their holder stopped using before
//!    then;
//! 4. balances: with `w` live workers (heartbeats within `lease`) each
//!    aims at `ceil(shards / w)` leases: one above gives its last lease
//!    back (its work stopped, the final checkpoint written, the lease
//!    released for the next worker to take at once); one below takes free
//!    leases.
//!
//! The work on a shard starts from the lease's checkpoint; what it read
//! after it is read again by the next holder (at least once).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::lease::{Lease, Swap, key};
use super::{Cluster, ClusterError, check_name};
use crate::log::Log as _;

/// How a worker takes part in groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSettings {
    /// This worker's id (letters, digits, `-`, `_`), unique in the cluster.
    pub worker: String,
    /// How long a lease lasts without renewal.
    pub lease: Duration,
    /// How often leases are renewed (well under `lease`).
    pub renew: Duration,
}

/// A shard a worker took: where its work starts and where its checkpoints
/// go.
#[derive(Debug, Clone)]
pub struct ShardLease {
    /// The stream.
    pub stream: String,
    /// The shard.
    pub shard: String,
    /// The lease's checkpoint (the next sequence to read), if it has one.
    pub from: Option<u64>,
    /// The work writes the checkpoints it may save here; the lease writes
    /// them to the cluster at its next renewal.
    pub checkpoint: Arc<Mutex<Option<u64>>>,
}

/// The work on one shard.
pub trait ShardTask: Send {
    /// Asks it to stop: it processes nothing more once this returns and
    /// its current batch is done.
    fn stop(&self);
    /// Waits for it to have stopped.
    fn join(&mut self);
    /// True while it runs (false once it ended, failed or not).
    fn running(&self) -> bool;
}

/// Starts the work on a shard a worker took.
pub trait ShardWork: Send + Sync {
    /// Starts it.
    ///
    /// # Errors
    /// Why it could not start (the lease is given back).
    fn start(&self, lease: ShardLease) -> Result<Box<dyn ShardTask>, String>;
}

/// A lease this worker holds.
struct Held {
    key: String,
    revision: u64,
    /// When the last successful renewal was sent.
    renewed: Instant,
    checkpoint: Option<u64>,
    slot: Arc<Mutex<Option<u64>>>,
    task: Box<dyn ShardTask>,
}

impl Held {
    /// The checkpoint to write: the work's latest, else the lease's.
    fn latest(&self) -> Option<u64> {
        (*self.slot.lock().unwrap_or_else(PoisonError::into_inner)).or(self.checkpoint)
    }
}

/// Runs this worker's part of consumer group `group` over `stream` until
/// `stop` is set: takes, renews, gives back and balances leases, starting
/// and stopping `work` on the shards held. Stopped, it stops every shard's
/// work and releases its leases with their final checkpoints.
///
/// # Errors
/// A bad name, a stream the cluster does not have.
pub fn run_member(
    cluster: &Arc<Cluster>,
    group: &str,
    stream: &str,
    settings: &GroupSettings,
    work: &dyn ShardWork,
    stop: &AtomicBool,
) -> Result<(), ClusterError> {
    check_name("worker", &settings.worker)?;
    let shards: Vec<String> = cluster
        .shards(stream)
        .map_err(|e| ClusterError::Call {
            action: format!("list the shards of {stream:?}"),
            reason: e.to_string(),
        })?
        .into_iter()
        .map(|s| s.id)
        .collect();
    let mut member = Member {
        cluster,
        group,
        stream,
        settings,
        work,
        held: BTreeMap::new(),
        seen: HashMap::new(),
    };
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        member.cycle(&shards);
        while started.elapsed() < settings.renew && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(20).min(settings.renew));
        }
    }
    let keys: Vec<String> = member.held.keys().cloned().collect();
    member.release(&keys);
    Ok(())
}

/// One worker in one group.
struct Member<'a> {
    cluster: &'a Arc<Cluster>,
    group: &'a str,
    stream: &'a str,
    settings: &'a GroupSettings,
    work: &'a dyn ShardWork,
    held: BTreeMap<String, Held>,
    /// Leases of others: the revision seen and since when.
    seen: HashMap<String, (u64, Instant)>,
}

impl Member<'_> {
    fn cycle(&mut self, shards: &[String]) {
        let worker = &self.settings.worker;
        if let Err(e) = self.cluster.heartbeat(worker) {
            warn!(error = %e, "Cannot say this worker is alive.");
        }
        self.renew();
        let live = match self.cluster.live_workers(self.settings.lease) {
            Ok(mut live) => {
                if !live.contains(worker) {
                    live.push(worker.clone());
                }
                live.len()
            }
            Err(e) => {
                warn!(error = %e, "Cannot list the workers.");
                return;
            }
        };
        let target = shards.len().div_ceil(live.max(1));
        if self.held.len() > target {
            if let Some(last) = self.held.keys().next_back().cloned() {
                self.release(&[last]);
            }
            return;
        }
        for shard in shards {
            if !self.held.contains_key(shard) {
                let below = self.held.len() < target;
                self.look(shard, below);
            }
        }
    }

    /// Renews every lease held; stops the work of those lost or too late.
    fn renew(&mut self) {
        let (lease, renew) = (self.settings.lease, self.settings.renew);
        let mut lost = Vec::new();
        let mut ended = Vec::new();
        for (shard, held) in &mut self.held {
            if !held.task.running() {
                ended.push(shard.clone());
                continue;
            }
            let checkpoint = held.latest();
            let sent = Instant::now();
            let value = Lease::new(&self.settings.worker, checkpoint);
            match self
                .cluster
                .swap_lease(&held.key, &value, Some(held.revision), renew)
            {
                Ok(Swap::Done(revision)) => {
                    held.revision = revision;
                    held.renewed = sent;
                    held.checkpoint = checkpoint;
                }
                Ok(Swap::Lost) => {
                    warn!(shard = %shard, "Lease taken by another worker; stopping the shard.");
                    lost.push(shard.clone());
                    continue;
                }
                Err(e) => warn!(shard = %shard, error = %e, "Cannot renew a lease."),
            }
            if held.renewed.elapsed() + renew >= lease {
                warn!(shard = %shard, "Lease not renewed in time; stopping the shard.");
                lost.push(shard.clone());
            }
        }
        let mut stopped: Vec<Held> = lost.iter().filter_map(|s| self.held.remove(s)).collect();
        for held in &stopped {
            held.task.stop();
        }
        for held in &mut stopped {
            held.task.join();
        }
        // Work that ended by itself (it failed): its lease goes back.
        self.release(&ended);
    }

    /// Stops the work on `shards` and gives their leases back with the
    /// final checkpoints.
    fn release(&mut self, shards: &[String]) {
        let mut gone: Vec<(String, Held)> = shards
            .iter()
            .filter_map(|s| self.held.remove(s).map(|h| (s.clone(), h)))
            .collect();
        for (_, held) in &gone {
            held.task.stop();
        }
        for (shard, held) in &mut gone {
            held.task.join();
            let value = Lease::new("", held.latest());
            match self.cluster.swap_lease(
                &held.key,
                &value,
                Some(held.revision),
                self.settings.renew,
            ) {
                Ok(Swap::Done(_)) => info!(shard = %shard, "Lease released."),
                Ok(Swap::Lost) => warn!(shard = %shard, "Lease was taken before its release."),
                Err(e) => warn!(shard = %shard, error = %e, "Cannot release a lease; it expires."),
            }
        }
    }

    /// Looks at the lease of `shard` (every cycle, so that its expiry is
    /// known when it comes) and takes it, starting the work on it, if it
    /// expired, or if it is free and this worker is `below` its share.
    fn look(&mut self, shard: &str, below: bool) {
        let key = key(self.group, self.stream, shard);
        let current = match self.cluster.lease(&key) {
            Ok(c) => c,
            Err(e) => {
                warn!(shard = %shard, error = %e, "Cannot read a lease.");
                return;
            }
        };
        let (revision, checkpoint) = match current {
            None if below => (None, None),
            Some((revision, lease)) if lease.is_free() && below => {
                (Some(revision), lease.checkpoint)
            }
            // Held by another worker, or by this one before a restart
            // (never renewed since: no work of ours runs on it); expired
            // leases are taken whatever the share, balance comes after.
            Some((revision, lease)) if !lease.is_free() => {
                if !self.expired(&key, revision) {
                    return;
                }
                info!(shard = %shard, from = %lease.worker, "Taking over an expired lease.");
                (Some(revision), lease.checkpoint)
            }
            _ => return,
        };
        let value = Lease::new(&self.settings.worker, checkpoint);
        let taken = self
            .cluster
            .swap_lease(&key, &value, revision, self.settings.renew);
        let sent = Instant::now();
        let revision = match taken {
            Ok(Swap::Done(r)) => r,
            Ok(Swap::Lost) => return,
            Err(e) => {
                warn!(shard = %shard, error = %e, "Cannot take a lease.");
                return;
            }
        };
        self.seen.remove(&key);
        let slot = Arc::new(Mutex::new(None));
        let lease = ShardLease {
            stream: self.stream.to_owned(),
            shard: shard.to_owned(),
            from: checkpoint,
            checkpoint: Arc::clone(&slot),
        };
        match self.work.start(lease) {
            Ok(task) => {
                info!(shard = %shard, ?checkpoint, "Lease taken; shard started.");
                self.held.insert(
                    shard.to_owned(),
                    Held {
                        key,
                        revision,
                        renewed: sent,
                        checkpoint,
                        slot,
                        task,
                    },
                );
            }
            Err(e) => {
                warn!(shard = %shard, error = %e, "Cannot start the shard; releasing it.");
                let value = Lease::new("", checkpoint);
                let _ = self
                    .cluster
                    .swap_lease(&key, &value, Some(revision), self.settings.renew);
            }
        }
    }

    /// True once the lease at `key` has stayed at `revision` for a whole
    /// lease time, as this worker has watched it.
    fn expired(&mut self, key: &str, revision: u64) -> bool {
        let now = Instant::now();
        let entry = self.seen.entry(key.to_owned()).or_insert((revision, now));
        if entry.0 != revision {
            *entry = (revision, now);
        }
        now.duration_since(entry.1) >= self.settings.lease
    }
}
