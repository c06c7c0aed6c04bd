//! The server as one worker of a cluster on NATS JetStream (`osprey serve
//! --config FILE --cluster nats://...`): the `[[streams]]` are JetStream
//! streams, and each query is a consumer group over its input's shards
//! ([`osprey_ingest::cluster::group`]): this worker runs the query, the
//! same `osprey aggregate` code as on one machine, once per shard it holds
//! the lease of, reading the shard from JetStream from the lease's
//! checkpoint. Every worker appends its rows to the query's NDJSON output
//! whole lines at a time ([`AppendLines`]), so workers on one machine may
//! share a file.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use osprey_ingest::cluster::{Cluster, GroupSettings, ShardLease, ShardTask, ShardWork};
use osprey_ingest::log::LogReader;
use osprey_ingest::store::{StartingPosition, Store};
use osprey_query::source::LiveCounts;

use super::config::cluster::ClusterConfig;
use super::config::{QueryConfig, ServerConfig};
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

    /// Makes the `[[streams]]` of `config` the cluster does not have.
    ///
    /// # Errors
    /// A stream name the cluster cannot take, another shard count.
    pub fn create_streams(&self, config: &ServerConfig) -> Result<()> {
        for s in &config.streams {
            let o = s.options();
            self.cluster
                .create_stream(&s.name, o.shards, o.retention_hours)?;
        }
        Ok(())
    }
}

/// `--config` with `--cluster URL` and `--worker-id ID` applied, and the
/// cluster settings checked.
///
/// # Errors
/// [`UsageError`](crate::exit::UsageError): `--worker-id` without a
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
            return Err(crate::exit::UsageError(
                "--worker-id needs --cluster or a [cluster] table".into(),
            )
            .into());
        };
        c.worker = Some(worker.to_owned());
    }
    if let Some(c) = &config.cluster {
        c.check()
            .map_err(|(_, m)| crate::exit::UsageError(format!("cluster: {m}")))?;
    }
    Ok(())
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
}

impl ShardWork for QueryShards {
    fn start(&self, lease: ShardLease) -> Result<Box<dyn ShardTask>, String> {
        let start = || -> Result<Task> {
            let from = match lease.from {
                Some(next) => next,
                None => self.cluster.start_seq(&lease.stream, self.from)?,
            };
            let reader = self.cluster.shard_reader(
                &lease.stream,
                &lease.shard,
                from,
                Arc::clone(&lease.checkpoint),
            )?;
            let input = LogInput::new(Box::new(reader) as Box<dyn LogReader>);
            let args = self.config.aggregate_args(self.store.dir())?;
            let store = Arc::clone(&self.store);
            Task::spawn(
                format!("query {:?} {}", self.config.name, lease.shard),
                move |stop| {
                    let attached = Attached {
                        store,
                        stop,
                        counts: Arc::new(LiveCounts::new()),
                        input: Some(input),
                        append: true,
                    };
                    aggregate::run_with(&args, Some(&attached))
                },
            )
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
