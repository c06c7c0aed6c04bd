//! The server as one worker of a cluster on NATS JetStream (`osprey serve
//! --config FILE --cluster nats://...`): the `[[streams]]` are JetStream
//! streams, and each query is a consumer group over its input's shards
//! ([`osprey_ingest::cluster::group`]): this worker runs the query, the
//! same `osprey aggregate` code as on one machine, once per shard it holds
//! the lease of, reading the shard from JetStream from the lease's
//! checkpoint. Every worker appends its rows to the query's NDJSON output
//! whole lines at a time ([`AppendLines`]), so workers on one machine may
//! share a file. Deliveries are consumer groups the same way
//! ([`DeliveryShards`]).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{Context as _, Result};
use osprey_ingest::cluster::{
    Cluster, GroupSettings, ShardLease, ShardReader, ShardTask, ShardWork,
};
use osprey_ingest::log::LogReader;
use osprey_ingest::store::{StartingPosition, Store};
use osprey_query::source::LiveCounts;

use super::config::cluster::ClusterConfig;
use super::config::{DeliveryConfig, QueryConfig, ServerConfig};
use super::engine::task::Task;
use crate::aggregate::{self, Attached, LogInput};

/// A worker's connection to the cluster and how it takes part in groups.
#[derive(Debug, Clone)]
pub struct ClusterMode {
    /// The connection.
    pub cluster: Arc<Cluster>,
    /// Its id, lease time and renewal interval.
    pub settings: GroupSettings,
}

impl ClusterMode {
    /// Connects as `config` says.
    ///
    /// # Errors
    /// The server cannot be reached or has no JetStream.
    pub fn connect(config: &ClusterConfig) -> Result<ClusterMode> {
        let cluster = Cluster::connect(&config.url)?;
        let settings = config.group_settings();
        tracing::info!(url = cluster.url(), worker = %settings.worker, "Joined the cluster.");
        Ok(ClusterMode {
            cluster: Arc::new(cluster),
            settings,
        })
    }

    /// The task `what` that runs `work` as this worker's member of consumer
    /// group `group` over `stream` until stopped: the one way queries and
    /// deliveries join the group.
    ///
    /// # Errors
    /// The thread cannot be started.
    pub fn spawn_member(
        &self,
        what: String,
        group: String,
        stream: String,
        work: impl ShardWork + 'static,
    ) -> Result<super::engine::task::Task> {
        let mode = self.clone();
        super::engine::task::Task::spawn(what, move |stop| {
            osprey_ingest::cluster::run_member(
                &mode.cluster,
                &group,
                &stream,
                &mode.settings,
                &work,
                &stop,
            )?;
            Ok(())
        })
    }

    /// Makes the streams of `config` the cluster does not have: the
    /// `[[streams]]`, each camera's own and `frames` and `events`, as the
    /// store makes them (so the cameras' records go to JetStream).
    ///
    /// # Errors
    /// A stream name the cluster cannot take, another shard count.
    pub fn create_streams(&self, config: &ServerConfig) -> Result<()> {
        for s in &super::engine::streams::wanted(config) {
            let o = s.options();
            let made = self
                .cluster
                .create_stream(&s.name, o.shards, o.retention_hours);
            match made {
                Err(e) if !config.streams.iter().any(|d| d.name == s.name) => {
                    // A camera's stream the cluster cannot hold (a name
                    // with a '.'): the camera writes to the store.
                    tracing::warn!(stream = %s.name, error = %e, "Stream kept out of the cluster.");
                }
                other => other?,
            }
        }
        Ok(())
    }
}

/// `--config` with `--cluster URL` and `--worker-id ID` applied, and the
/// cluster settings checked.
///
/// # Errors
/// [`UsageError`](crate::error::UsageError): `--worker-id` without a
/// cluster, bad settings.
pub fn apply_flags(
    config: &mut ServerConfig,
    url: Option<&str>,
    worker: Option<&str>,
) -> Result<()> {
    if let Some(url) = url {
        config
            .cluster
            .get_or_insert_with(|| ClusterConfig::with_url(String::new()))
            .url = url.to_owned();
    }
    if let Some(worker) = worker {
        let Some(c) = &mut config.cluster else {
            return Err(crate::error::UsageError(
                "--worker-id needs --cluster or a [cluster] table".into(),
            )
            .into());
        };
        c.worker = Some(worker.to_owned());
    }
    if let Some(c) = &config.cluster {
        c.check()
            .map_err(|(_, m)| crate::error::UsageError(format!("cluster: {m}")))?;
    }
    Ok(())
}

/// A query's counters on a cluster worker, over the shards it runs the
/// query on: each shard's run has its own [`LiveCounts`] (a run sets its
/// counters, it does not add to them); `/api/queries` shows their sum,
/// with the runs that ended (shards given back or lost) kept in it, and
/// the lowest watermark of the shards running now that have one.
#[derive(Debug, Default)]
pub struct ShardCounts {
    inner: Mutex<CountsInner>,
}

/// What [`ShardCounts`] holds.
#[derive(Debug, Default)]
struct CountsInner {
    /// Rows, windows, late and refused of the runs that ended.
    ended: [u64; 4],
    /// The running shards' counters.
    live: BTreeMap<String, Arc<LiveCounts>>,
}

/// The four counters of `c` that add up.
fn sums(c: &LiveCounts) -> [u64; 4] {
    [&c.rows, &c.windows, &c.late, &c.refused].map(|a| a.load(Ordering::Relaxed))
}

impl ShardCounts {
    /// Counters for a run of `shard` starting now.
    fn start(&self, shard: &str) -> Arc<LiveCounts> {
        let counts = Arc::new(LiveCounts::new());
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(old) = inner.live.insert(shard.to_owned(), Arc::clone(&counts)) {
            inner.add_ended(&old);
        }
        counts
    }

    /// The run of `shard` ended: its counts are kept in the sum.
    fn end(&self, shard: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(old) = inner.live.remove(shard) {
            inner.add_ended(&old);
        }
    }

    /// The sum over the runs, as one query's counters.
    pub fn total(&self) -> LiveCounts {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let mut sum = inner.ended;
        for c in inner.live.values() {
            for (s, n) in sum.iter_mut().zip(sums(c)) {
                *s += n;
            }
        }
        let watermark = inner.live.values().filter_map(|c| c.watermark()).min();
        let total = LiveCounts::new();
        for (a, n) in [&total.rows, &total.windows, &total.late, &total.refused]
            .into_iter()
            .zip(sum)
        {
            a.store(n, Ordering::Relaxed);
        }
        total
            .watermark_ms
            .store(watermark.unwrap_or(i64::MIN), Ordering::Relaxed);
        total
    }
}

impl CountsInner {
    fn add_ended(&mut self, c: &LiveCounts) {
        for (s, n) in self.ended.iter_mut().zip(sums(c)) {
            *s += n;
        }
    }
}

/// A shard's run whose counters leave [`ShardCounts`]' running ones
/// when it is joined.
struct CountedTask {
    task: Task,
    shard: String,
    counts: Arc<ShardCounts>,
}

impl ShardTask for CountedTask {
    fn stop(&self) {
        self.task.stop();
    }

    fn join(&mut self) {
        self.task.join();
        self.counts.end(&self.shard);
    }

    fn running(&self) -> bool {
        self.task.running()
    }
}

/// One query's work on the shards this worker holds.
pub struct QueryShards {
    /// The query.
    pub config: QueryConfig,
    /// The server's store (for the outputs).
    pub store: Arc<Store>,
    /// The cluster.
    pub cluster: Arc<Cluster>,
    /// Where a shard without a checkpoint starts.
    pub from: StartingPosition,
    /// The counters of its shards' runs.
    pub counts: Arc<ShardCounts>,
}

/// The reader of the shard `lease` holds: from its checkpoint, or, for a
/// shard without one, from `from`; its checkpoints go to the lease.
fn lease_reader(
    cluster: &Arc<Cluster>,
    lease: &ShardLease,
    from: StartingPosition,
) -> Result<ShardReader> {
    let from = match lease.from {
        Some(next) => next,
        None => cluster.start_seq(&lease.stream, from)?,
    };
    Ok(cluster.shard_reader(
        &lease.stream,
        &lease.shard,
        from,
        Arc::clone(&lease.checkpoint),
    )?)
}

impl ShardWork for QueryShards {
    fn start(&self, lease: ShardLease) -> Result<Box<dyn ShardTask>, String> {
        let start = || -> Result<CountedTask> {
            let reader = lease_reader(&self.cluster, &lease, self.from)?;
            let input = LogInput::new(Box::new(reader) as Box<dyn LogReader>);
            let args = self.config.aggregate_args(self.store.dir())?;
            let store = Arc::clone(&self.store);
            let counts = self.counts.start(&lease.shard);
            let task = Task::spawn(
                format!("query {:?} {}", self.config.name, lease.shard),
                move |stop| {
                    let attached = Attached {
                        store,
                        stop,
                        counts,
                        input: Some(input),
                        append: true,
                    };
                    aggregate::run_with(&args, Some(&attached))
                },
            );
            if task.is_err() {
                self.counts.end(&lease.shard);
            }
            Ok(CountedTask {
                task: task?,
                shard: lease.shard.clone(),
                counts: Arc::clone(&self.counts),
            })
        };
        match start() {
            Ok(task) => Ok(Box::new(task)),
            Err(e) => Err(format!("{e:#}")),
        }
    }
}

/// One delivery's work on the shards this worker holds: on each, the
/// delivery (`osprey deliver`'s destination, its own per shard; batch
/// names carry the shard, so workers may share a folder) reading the shard
/// from JetStream, its checkpoint moved once a batch is delivered.
pub struct DeliveryShards {
    /// The delivery.
    pub config: DeliveryConfig,
    /// The server's store (its data directory resolves the arguments).
    pub store: Arc<Store>,
    /// The cluster.
    pub cluster: Arc<Cluster>,
    /// Where a shard without a checkpoint starts.
    pub from: StartingPosition,
}

impl ShardWork for DeliveryShards {
    fn start(&self, lease: ShardLease) -> Result<Box<dyn ShardTask>, String> {
        let start = || -> Result<Task> {
            let mut reader = lease_reader(&self.cluster, &lease, self.from)?;
            let args = self.config.deliver_args(self.store.dir())?;
            let name = format!("delivery {:?} {}", self.config.name, lease.shard);
            Task::spawn(name.clone(), move |stop| {
                let (config, mut destination) = crate::deliver::prepare(&args)?;
                let tally = osprey_ingest::deliver::run_reader(
                    &mut reader,
                    &config,
                    destination.as_mut(),
                    &stop,
                )?;
                tracing::info!(delivery = %name, summary = %destination.summary(&tally), "Shard's delivery stopped.");
                Ok(())
            })
        };
        match start() {
            Ok(task) => Ok(Box::new(task)),
            Err(e) => Err(format!("{e:#}")),
        }
    }
}

impl ShardTask for Task {
    fn stop(&self) {
        Task::stop(self);
    }

    fn join(&mut self) {
        Task::join(self);
    }

    fn running(&self) -> bool {
        Task::running(self)
    }
}

/// NDJSON rows appended to a file whole lines at a time: each flush is
/// one `write` of complete lines (the rest waits for its end), so the
/// rows of several writers, in one process or several, never interleave
/// within a line.
#[derive(Debug)]
pub struct AppendLines {
    file: File,
    pending: Vec<u8>,
}

/// Bytes held before complete lines are written without a flush.
const APPEND_BUFFER: usize = 1 << 20;

impl AppendLines {
    /// Opens `path` for appending (made when missing).
    ///
    /// # Errors
    /// When the file cannot be opened.
    pub fn open(path: &Path) -> Result<AppendLines> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open {} to append to", path.display()))?;
        Ok(AppendLines {
            file,
            pending: Vec::new(),
        })
    }

    /// Writes the complete lines held.
    fn write_lines(&mut self) -> std::io::Result<()> {
        if let Some(end) = self.pending.iter().rposition(|&b| b == b'\n') {
            self.file.write_all(&self.pending[..=end])?;
            self.pending.drain(..=end);
        }
        Ok(())
    }
}

impl Write for AppendLines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if self.pending.len() >= APPEND_BUFFER {
            self.write_lines()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.write_lines()?;
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_whole_lines_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rows.ndjson");
        std::fs::write(&path, "{\"a\":0}\n").unwrap();
        let mut w = AppendLines::open(&path).unwrap();
        w.write_all(b"{\"a\":1}\n{\"a\"").unwrap();
        w.flush().unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"a\":0}\n{\"a\":1}\n"
        );
        w.write_all(b":2}\n").unwrap();
        w.flush().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "{\"a\":0}\n{\"a\":1}\n{\"a\":2}\n");
    }
}
