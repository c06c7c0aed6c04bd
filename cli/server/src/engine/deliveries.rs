//! One delivery of the server: `osprey deliver STREAM --follow --consumer
//! NAME` ([`crate::deliver::run_on`]) on its own thread, on the server's
//! store, with a stop flag. Stopped, it delivers what it has read as one
//! last batch and checkpoints it; what came after is delivered by the next
//! run.
//!
//! In a cluster ([`ClusterMode`]) a delivery is this worker's member of
//! the consumer group `deliver-NAME` over its stream's shards: the same
//! delivery, once per shard it holds the lease of, reading the shard from
//! JetStream, its checkpoint (moved once a batch is delivered) written
//! into the lease ([`crate::cluster::DeliveryShards`]).

use std::sync::Arc;

use anyhow::Result;
use osprey_ingest::store::Store;
use tracing::info;

use super::task::Task;
use crate::cluster::{ClusterMode, DeliveryShards};
use crate::config::DeliveryConfig;

/// A running delivery.
#[derive(Debug)]
pub struct Delivery {
    /// Its settings, as configured.
    pub config: DeliveryConfig,
    task: Task,
}

impl Delivery {
    /// Checks `config` (as `osprey deliver` checks its arguments) and
    /// starts it.
    ///
    /// # Errors
    /// Arguments the deliver command refuses, a thread that cannot start.
    pub fn start(
        config: DeliveryConfig,
        store: &Arc<Store>,
        cluster: Option<&ClusterMode>,
    ) -> Result<Delivery> {
        let args = config.deliver_args(store.dir())?;
        let (checked, _) = crate::deliver::prepare(&args)?;
        if let Some(mode) = cluster {
            let work = DeliveryShards {
                from: checked.from,
                config: config.clone(),
                store: Arc::clone(store),
                cluster: Arc::clone(&mode.cluster),
            };
            let task = mode.spawn_member(
                format!("delivery {:?}", config.name),
                format!("deliver-{}", config.name),
                checked.stream,
                work,
            )?;
            return Ok(Delivery { config, task });
        }
        let store = Arc::clone(store);
        let name = config.name.clone();
        // A delivery that fails (its destination down past its retries, its
        // stream missing) runs again after a wait, from its consumer's
        // checkpoint: nothing is lost, and a batch may be sent twice.
        let task = Task::spawn_retrying(
            format!("delivery {:?}", config.name),
            move |stop| {
                let summary = crate::deliver::run_on(&args, &store, &stop)?;
                info!(delivery = %name, %summary, "Delivery stopped.");
                Ok(())
            },
            |e| e.chain().any(|c| c.is::<crate::error::UsageError>()),
        )?;
        Ok(Delivery { config, task })
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.config.name
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
