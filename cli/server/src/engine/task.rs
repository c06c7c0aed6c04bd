//! [`Task`]: a piece of the server on its own thread (a query, a delivery)
//! with its own stop flag, and how it ended.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use anyhow::{Context as _, Result};
use tracing::{error, info};

/// A running piece and its outcome.
#[derive(Debug)]
pub struct Task {
    stop: Arc<AtomicBool>,
    ended: Arc<Mutex<Option<Result<(), String>>>>,
    thread: Option<JoinHandle<()>>,
}

impl Task {
    /// Runs `work` with a stop flag on a thread named for `what` (`query
    /// "q1"`); an error it returns is logged and kept.
    ///
    /// # Errors
    /// A thread that cannot start.
    pub fn spawn(
        what: String,
        work: impl FnOnce(Arc<AtomicBool>) -> Result<()> + Send + 'static,
    ) -> Result<Task> {
        let stop = Arc::new(AtomicBool::new(false));
        let ended = Arc::new(Mutex::new(None));
        let (flag, outcome, name) = (Arc::clone(&stop), Arc::clone(&ended), what.clone());
        let thread = std::thread::Builder::new()
            .name(format!(
                "osprey-{}",
                what.split(' ').next().unwrap_or("task")
            ))
            .spawn(move || {
                let result = work(flag).map_err(|e| format!("{e:#}"));
                match &result {
                    Ok(()) => info!(what = %name, "Stopped."),
                    Err(e) => error!(what = %name, error = %e, "Failed."),
                }
                *outcome.lock().unwrap_or_else(PoisonError::into_inner) = Some(result);
            })
            .with_context(|| format!("cannot start a thread for {what}"))?;
        Ok(Task {
            stop,
            ended,
            thread: Some(thread),
        })
    }

    /// `"running"`, `"failed"` or `"stopped"`, and the error of a failed one.
    pub fn state(&self) -> (&'static str, Option<String>) {
        match &*self.ended.lock().unwrap_or_else(PoisonError::into_inner) {
            None => ("running", None),
            Some(Ok(())) => ("stopped", None),
            Some(Err(e)) => ("failed", Some(e.clone())),
        }
    }

    /// True while its thread runs.
    pub fn running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Asks it to stop.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Waits for it to have stopped (call [`Task::stop`] first).
    pub fn join(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
