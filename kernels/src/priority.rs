//! Thread priorities inside one osprey process: the work that can fall
//! behind gracefully runs a few nice levels below the work that answers
//! someone.
//!
//! - The CPU kernels' workers ([`crate::cpu::pool`]) run below the video
//!   decoders, so a decoder's chain of dependent frames is never stalled by
//!   kernels that would then wait for its frames.
//! - A live source's decoding (its GStreamer streaming threads and the
//!   thread pulling its frames) runs below the server's HTTP and store
//!   threads: under overload a camera drops frames, counted and reported,
//!   while a client's PutRecords waits (what it buys the server soak's
//!   p99 put-to-read is still within its run-to-run noise: BENCHMARKS.md).
//!
//! A level is a factor of about 1.25 in CPU share under contention, and
//! nothing changes on an idle machine. Levels count from the process's own
//! (its main thread's), so a process started with `nice` keeps the same
//! spacing, and setting a thread twice gives the same level. Linux only
//! (`setpriority` names one thread there); elsewhere, or where the priority
//! cannot be changed, threads run at the process's own and say so at debug
//! level.

/// Parses a nice distance from an environment variable's value: an integer
/// from 0 to 19, else `default`.
pub fn nice_from(value: Option<&str>, default: i32) -> i32 {
    value
        .and_then(|v| v.trim().parse::<i32>().ok())
        .filter(|n| (0..=19).contains(n))
        .unwrap_or(default)
}

/// The nice distance environment variable `var` gives, else `default`.
pub fn nice_from_env(var: &str, default: i32) -> i32 {
    nice_from(std::env::var(var).ok().as_deref(), default)
}

/// Runs the calling thread `nice` levels below its process (at most 19);
/// `0` leaves it as it is.
pub fn run_below_process(nice: i32) {
    if nice == 0 {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{getpriority_process, setpriority_process};
        let process = getpriority_process(Some(rustix::process::getpid()));
        let tid = Some(rustix::thread::gettid());
        let result = process.and_then(|own| setpriority_process(tid, (own + nice).min(19)));
        if let Err(e) = result {
            tracing::debug!(error = %e, nice, "Cannot lower a thread's priority.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_are_integers_from_0_to_19() {
        assert_eq!(nice_from(None, 5), 5);
        assert_eq!(nice_from(Some("0"), 5), 0);
        assert_eq!(nice_from(Some(" 12 "), 5), 12);
        assert_eq!(nice_from(Some("20"), 5), 5);
        assert_eq!(nice_from(Some("-3"), 5), 5);
        assert_eq!(nice_from(Some("high"), 5), 5);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_thread_runs_below_its_process_once() {
        use rustix::process::getpriority_process;
        let own = getpriority_process(Some(rustix::process::getpid())).unwrap();
        let prio = std::thread::spawn(|| {
            run_below_process(3);
            run_below_process(3);
            getpriority_process(Some(rustix::thread::gettid())).unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(prio, (own + 3).min(19));
    }
}
