//! [`Task`]: a piece of the server on its own thread (a query, a delivery)
//! with its own stop flag, and how it ended.
//!
//! A piece that fails runs again, as a dropped camera reconnects: after 1 s,
//! then twice as long each time up to a minute (back to 1 s after a run that
//! lasted longer than that), until it is stopped, unless its error is one
//! that running again cannot mend ([`Task::spawn_retrying`]'s `permanent`:
//! for a query, a usage error or its memory limit). While it waits its
//! state is `retrying`, with the error that stopped it. A query or delivery
//! starts again from its consumer's checkpoint, so nothing is lost or
//! written twice by the retry.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use osprey_ingest::stop::sleep_unless_stopped;
use tracing::{error, info, warn};

/// The first wait before a failed piece runs again.
const RETRY_FIRST: Duration = Duration::from_secs(1);
/// The longest wait; a run that lasted longer starts the waits over.
const RETRY_LAST: Duration = Duration::from_secs(60);

/// Where a piece stands.
#[derive(Debug, Clone)]
enum Outcome {
    Running,
    /// Failed and waiting to run again: the error.
    Retrying(String),
    Stopped,
    Failed(String),
}

/// A running piece and its outcome.
#[derive(Debug)]
pub struct Task {
    stop: Arc<AtomicBool>,
    outcome: Arc<Mutex<Outcome>>,
    thread: Option<JoinHandle<()>>,
}

impl Task {
    /// Runs `work` once with a stop flag on a thread named for `what`
    /// (`query "q1"`); an error it returns is logged and kept.
    ///
    /// # Errors
    /// A thread that cannot start.
    pub fn spawn(
        what: String,
        work: impl FnOnce(Arc<AtomicBool>) -> Result<()> + Send + 'static,
    ) -> Result<Task> {
        let mut work = Some(work);
        Task::spawn_retrying(
            what,
            move |stop| match work.take() {
                Some(work) => work(stop),
                None => Ok(()),
            },
            |_| true,
        )
    }

    /// Runs `work` with a stop flag on a thread named for `what`, and again
    /// after each error for which `permanent` is false (the waits in the
    /// module's docs), until it returns `Ok`, is stopped, or fails for good.
    /// Each error is logged; the last is kept.
    ///
    /// # Errors
    /// A thread that cannot start.
    pub fn spawn_retrying(
        what: String,
        mut work: impl FnMut(Arc<AtomicBool>) -> Result<()> + Send + 'static,
        permanent: fn(&anyhow::Error) -> bool,
    ) -> Result<Task> {
        let stop = Arc::new(AtomicBool::new(false));
        let outcome = Arc::new(Mutex::new(Outcome::Running));
        let (flag, shared, name) = (Arc::clone(&stop), Arc::clone(&outcome), what.clone());
        let set = move |o: Outcome| *shared.lock().unwrap_or_else(PoisonError::into_inner) = o;
        let thread = std::thread::Builder::new()
            .name(format!(
                "osprey-{}",
                what.split(' ').next().unwrap_or("task")
            ))
            .spawn(move || {
                let mut wait = RETRY_FIRST;
                loop {
                    let started = Instant::now();
                    let error = match work(Arc::clone(&flag)) {
                        Ok(()) => {
                            info!(what = %name, "Stopped.");
                            set(Outcome::Stopped);
                            return;
                        }
                        Err(e) => e,
                    };
                    let text = format!("{error:#}");
                    if permanent(&error) || flag.load(Ordering::Relaxed) {
                        error!(what = %name, error = %text, "Failed.");
                        set(Outcome::Failed(text));
                        return;
                    }
                    if started.elapsed() > RETRY_LAST {
                        wait = RETRY_FIRST;
                    }
                    warn!(what = %name, error = %text, retry_in_s = wait.as_secs_f64(), "Failed; it runs again after a wait.");
                    set(Outcome::Retrying(text));
                    if sleep_unless_stopped(&flag, wait) {
                        set(Outcome::Stopped);
                        return;
                    }
                    wait = (wait * 2).min(RETRY_LAST);
                    set(Outcome::Running);
                }
            })
            .with_context(|| format!("cannot start a thread for {what}"))?;
        Ok(Task {
            stop,
            outcome,
            thread: Some(thread),
        })
    }

    /// `"running"`, `"retrying"`, `"failed"` or `"stopped"`, and the error
    /// of a failed or retrying one.
    pub fn state(&self) -> (&'static str, Option<String>) {
        match &*self.outcome.lock().unwrap_or_else(PoisonError::into_inner) {
            Outcome::Running => ("running", None),
            Outcome::Retrying(e) => ("retrying", Some(e.clone())),
            Outcome::Stopped => ("stopped", None),
            Outcome::Failed(e) => ("failed", Some(e.clone())),
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;

    use super::*;

    fn settle(task: &Task, state: &str) {
        let until = Instant::now() + Duration::from_secs(10);
        while task.state().0 != state && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(task.state().0, state, "{:?}", task.state());
    }

    #[test]
    fn a_failed_piece_runs_again_until_it_ends_well() {
        let runs = Arc::new(AtomicU32::new(0));
        let counted = Arc::clone(&runs);
        let mut task = Task::spawn_retrying(
            "query \"t\"".into(),
            move |_| match counted.fetch_add(1, Ordering::Relaxed) {
                0 => Err(anyhow::anyhow!("no such stream")),
                _ => Ok(()),
            },
            |_| false,
        )
        .unwrap();
        settle(&task, "stopped");
        task.join();
        assert_eq!(runs.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn a_permanent_error_fails_and_a_stop_ends_the_wait() {
        let mut task = Task::spawn_retrying(
            "query \"p\"".into(),
            |_| Err(anyhow::anyhow!("bad query")),
            |_| true,
        )
        .unwrap();
        settle(&task, "failed");
        assert_eq!(task.state().1.as_deref(), Some("bad query"));
        task.join();
        let mut task = Task::spawn_retrying(
            "query \"r\"".into(),
            |_| Err(anyhow::anyhow!("webhook down")),
            |_| false,
        )
        .unwrap();
        settle(&task, "retrying");
        assert_eq!(task.state().1.as_deref(), Some("webhook down"));
        task.stop();
        settle(&task, "stopped");
        task.join();
    }
}
