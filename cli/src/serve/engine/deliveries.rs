//! One delivery of the server: `osprey deliver STREAM --follow --consumer
//! NAME` ([`crate::deliver::run_on`]) on its own thread, on the server's
//! store, with a stop flag. Stopped, it delivers what it has read as one
//! last batch and checkpoints it; what came after is delivered by the next
//! run.

use std::sync::Arc;

use anyhow::Result;
use osprey_ingest::store::Store;
use tracing::info;

use super::task::Task;
use crate::serve::config::DeliveryConfig;

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
    pub fn start(config: DeliveryConfig, store: &Arc<Store>) -> Result<Delivery> {
        let args = config.deliver_args(store.dir())?;
        crate::deliver::prepare(&args)?;
        let store = Arc::clone(store);
        let name = config.name.clone();
        let task = Task::spawn(format!("delivery {:?}", config.name), move |stop| {
            let summary = crate::deliver::run_on(&args, &store, &stop)?;
            info!(delivery = %name, %summary, "Delivery stopped.");
            Ok(())
        })?;
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
