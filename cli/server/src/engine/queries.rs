//! One query of the server: `osprey aggregate stream:INPUT --follow
//! --consumer NAME` ([`crate::aggregate::run_with`]) on its own thread,
//! on the server's store, with a stop flag and live counters.
//!
//! In a cluster ([`ClusterMode`]) a query is this worker's member of the
//! consumer group named after it: the same `osprey aggregate` run, once per
//! shard it holds the lease of, reading the shard from JetStream
//! ([`crate::cluster`]).
//!
//! A query that fails runs again after a wait ([`Task::spawn_retrying`]),
//! from its consumer's checkpoint, unless the error is one a new run cannot
//! mend (its arguments or data make no sense for it, or its state outgrew
//! its memory limit).
//!
//! Stopped (removed, changed, or the server shutting down), a query writes
//! no more windows: those still open are neither closed nor checkpointed
//! past. Its consumer's checkpoint stays before their records, so the next
//! run re-reads them and writes those windows whole, once (windows already
//! written are behind the checkpoint and not written again).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::Result;
use osprey_ingest::store::Store;
use osprey_kernels::error::KernelError;
use osprey_query::QueryError;
use osprey_query::source::LiveCounts;

use super::task::Task;
use crate::aggregate::{self, Attached};
use crate::cluster::{ClusterMode, QueryShards, ShardCounts};
use crate::config::QueryConfig;
use crate::control::QueryView;
use crate::error::UsageError;

/// True for an error that running the query again cannot mend: its
/// arguments or data make no sense for it, or its state outgrew its memory
/// limit. Any other (a stream missing or damaged, an output that cannot be
/// written) makes it run again after a wait ([`Task::spawn_retrying`]).
fn cannot_mend(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.is::<UsageError>()
            || matches!(
                cause.downcast_ref::<QueryError>(),
                Some(
                    QueryError::Usage(_)
                        | QueryError::AnomalyMemory { .. }
                        | QueryError::Kernel(KernelError::MemoryLimit { .. })
                )
            )
            || matches!(
                cause.downcast_ref::<KernelError>(),
                Some(KernelError::MemoryLimit { .. })
            )
    })
}

/// A running query.
#[derive(Debug)]
pub struct Query {
    /// Its settings, as configured.
    pub config: QueryConfig,
    counts: Arc<LiveCounts>,
    /// In a cluster, the counters of the shards' runs (`counts` stays 0).
    shards: Option<Arc<ShardCounts>>,
    task: Task,
}

impl Query {
    /// Checks `config` (as `osprey aggregate` checks its arguments) and
    /// starts it: on `store`, or, in a cluster, as this worker's member of
    /// its consumer group.
    ///
    /// # Errors
    /// Arguments the aggregate command refuses, a thread that cannot start.
    pub fn start(
        config: QueryConfig,
        store: &Arc<Store>,
        cluster: Option<&ClusterMode>,
    ) -> Result<Query> {
        let args = config.aggregate_args(store.dir())?;
        crate::aggregate::check(&args)?;
        let counts = Arc::new(LiveCounts::new());
        if let Some(mode) = cluster {
            let shards = Arc::new(ShardCounts::default());
            let work = QueryShards {
                from: args.stream.position()?,
                config: config.clone(),
                store: Arc::clone(store),
                cluster: Arc::clone(&mode.cluster),
                counts: Arc::clone(&shards),
            };
            let task = mode.spawn_member(
                format!("query {:?}", config.name),
                config.name.clone(),
                config.input.clone(),
                work,
            )?;
            return Ok(Query {
                config,
                counts,
                shards: Some(shards),
                task,
            });
        }
        let (store, live) = (Arc::clone(store), Arc::clone(&counts));
        let task = Task::spawn_retrying(
            format!("query {:?}", config.name),
            move |stop| {
                let attached = Attached {
                    store: Arc::clone(&store),
                    stop,
                    counts: Arc::clone(&live),
                    input: None,
                    append: false,
                };
                aggregate::run_with(&args, Some(&attached))
            },
            cannot_mend,
        )?;
        Ok(Query {
            config,
            counts,
            shards: None,
            task,
        })
    }

    /// Checks `config` without starting it.
    ///
    /// # Errors
    /// As [`Query::start`].
    pub fn check(config: &QueryConfig, data_dir: &Path) -> Result<()> {
        crate::aggregate::check(&config.aggregate_args(data_dir)?)
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The counters (in a cluster, the sum over the shards' runs on this
    /// worker).
    pub fn counts(&self) -> Arc<LiveCounts> {
        match &self.shards {
            Some(shards) => Arc::new(shards.total()),
            None => Arc::clone(&self.counts),
        }
    }

    /// What `/api/queries` shows of it.
    pub fn view(&self) -> QueryView {
        let (state, error) = self.task.state();
        let c = self.counts();
        QueryView {
            name: self.config.name.clone(),
            input: self.config.input.clone(),
            output: self.config.output.clone(),
            state,
            rows: c.windows.load(Ordering::Relaxed),
            late: c.late.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
            watermark: c.watermark().map(osprey_ingest::store::time::format_ms),
            error,
        }
    }

    /// True while it runs.
    pub fn running(&self) -> bool {
        self.task.running()
    }

    /// Asks it to stop.
    pub fn stop(&self) {
        self.task.stop();
    }

    /// Waits for it to have stopped.
    pub fn join(&mut self) {
        self.task.join();
    }
}
