//! Waiting that a stop flag cuts short: a retry's wait, a reconnection's
//! backoff, a recorder's pause.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How often a wait looks at its stop flag.
const LOOK: Duration = Duration::from_millis(100);

/// Sleeps `wait`, looking at `stop` every 100 ms; true when it was set
/// (then it returns at once).
pub fn sleep_unless_stopped(stop: &AtomicBool, wait: Duration) -> bool {
    let until = Instant::now() + wait;
    loop {
        if stop.load(Ordering::Relaxed) {
            return true;
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        std::thread::sleep(left.min(LOOK));
    }
}
