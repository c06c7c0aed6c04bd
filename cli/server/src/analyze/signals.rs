//! SIGINT and SIGTERM during `osprey analyze`: the first sets the run's
//! stop flag, so the sources end cleanly (open events closed with
//! `"eos":true`, the output flushed, the summary printed, exit 0); a second
//! one exits at once with the shell's code for the signal (130 for SIGINT,
//! 143 for SIGTERM).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::{Context as _, Result};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::flag;

/// Installs the handlers and returns the stop flag they set.
///
/// # Errors
/// When a handler cannot be registered.
pub fn stop_flag() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for (signal, code) in [(SIGINT, 130), (SIGTERM, 143)] {
        // The exit is armed first, so it fires only on a signal that finds
        // the flag already set: the second one.
        flag::register_conditional_shutdown(signal, code, Arc::clone(&stop))
            .and_then(|_| flag::register(signal, Arc::clone(&stop)))
            .context("cannot install the signal handlers")?;
    }
    Ok(stop)
}
