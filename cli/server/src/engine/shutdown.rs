//! Stopping the whole engine in order, within a bound ([`BOUND`], 10 s):
//!
//! 1. the cameras: each source closes its open events (`eos`) and its last
//!    records are put (in-flight puts finish: a put is acknowledged only
//!    once durable, and a camera's thread ends only after its last put);
//! 2. the queries: the windows still open are not closed; each query's
//!    consumer checkpoint stays before their records, so the next start
//!    re-reads them and writes those windows whole (see [`super::queries`]);
//! 3. the deliveries: what each has read is delivered and checkpointed.
//!
//! Whatever has not stopped by the bound is named in the error; the caller
//! then exits non-zero. The HTTP listener stops accepting first (the
//! caller's part).

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use tracing::info;

use super::Engine;

/// How long a shutdown may take in all.
pub const BOUND: Duration = Duration::from_secs(10);

/// How often stopping pieces are looked at.
const LOOK_EVERY: Duration = Duration::from_millis(20);

impl Engine {
    /// Stops everything, in order, within `within`.
    ///
    /// # Errors
    /// The pieces still running when the time was up.
    pub fn shutdown(&self, within: Duration) -> Result<()> {
        let deadline = Instant::now() + within;
        self.ready
            .store(false, std::sync::atomic::Ordering::Relaxed);
        let mut state = self.state();
        let mut late: Vec<String> = Vec::new();
        for c in &state.cameras {
            c.stop();
        }
        wait(deadline, || state.cameras.iter().any(|c| c.running()));
        for c in &mut state.cameras {
            if c.running() {
                late.push(format!("camera {:?}", c.name()));
            } else {
                c.join();
            }
        }
        for q in &state.queries {
            q.stop();
        }
        wait(deadline, || state.queries.iter().any(|q| q.running()));
        for q in &mut state.queries {
            if q.running() {
                late.push(format!("query {:?}", q.name()));
            } else {
                q.join();
            }
        }
        for d in &state.deliveries {
            d.stop();
        }
        wait(deadline, || state.deliveries.iter().any(|d| d.running()));
        for d in &mut state.deliveries {
            if d.running() {
                late.push(format!("delivery {:?}", d.name()));
            } else {
                d.join();
            }
        }
        if late.is_empty() {
            info!("Every camera, query and delivery stopped.");
            Ok(())
        } else {
            Err(anyhow!(
                "did not stop within {} s: {}",
                within.as_secs(),
                late.join(", ")
            ))
        }
    }
}

/// Waits while `busy` says so, until `deadline`.
fn wait(deadline: Instant, busy: impl Fn() -> bool) {
    while busy() && Instant::now() < deadline {
        std::thread::sleep(LOOK_EVERY);
    }
}
