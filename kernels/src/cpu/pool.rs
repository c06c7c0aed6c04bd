//! The CPU kernels' own thread pool: one rayon worker a core, named
//! `osprey-kernel-N`, running a few nice levels below the rest of the
//! process.
//!
//! Why below: a software H.264 decoder is a chain (each frame needs the one
//! before it) that libavcodec spreads over a few threads, and it cannot use
//! every core by itself (on 2 cores, `gst-launch-1.0 ... ! avdec_h264 !
//! fakesink` keeps about 1.6 of them busy). The kernels are the opposite:
//! the frames of a chunk are independent and wait in a read-ahead queue.
//! When both run at the same priority, every time slice a kernel worker
//! takes from a decoder thread stalls the decoder's chain while the kernels
//! soon run out of decoded frames, and the cores idle in turn. With the
//! kernels below, a decoder thread that can run, runs; the kernels take the
//! cycles the decoder leaves, and the read-ahead keeps them fed, so both
//! cores stay busy. For live sources the order is the right one too: a
//! decoder that falls behind loses packets (broken frames), kernels that fall
//! behind drop whole frames before analysis, counted and reported.
//!
//! Only this pool's threads are lowered ([`crate::priority`]); the
//! priority is relative to the process's own. `OSPREY_KERNEL_NICE=N`
//! changes the distance (`0`: the same priority as the decoder, as before
//! this pool existed); `RAYON_NUM_THREADS` the number of workers.

use std::sync::OnceLock;

use crate::priority;

/// How many nice levels the kernel workers run below their process: each
/// level is a factor of about 1.25 in CPU share under contention, so 5
/// gives a decoder thread about three times a kernel worker's share.
pub const KERNEL_NICE: i32 = 5;

/// The environment variable that overrides [`KERNEL_NICE`] (an integer,
/// 0 to 19).
pub const KERNEL_NICE_ENV: &str = "OSPREY_KERNEL_NICE";

/// The pool the CPU kernels run on, made on first use; `None` when its
/// threads could not be started (then the kernels use rayon's global pool).
pub fn kernel_pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        let nice = priority::nice_from_env(KERNEL_NICE_ENV, KERNEL_NICE);
        rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("osprey-kernel-{i}"))
            .start_handler(move |_| priority::run_below_process(nice))
            .build()
            .inspect_err(|e| {
                tracing::warn!(error = %e, "Cannot start the kernel threads; using rayon's global pool.");
            })
            .ok()
    })
    .as_ref()
}

/// Runs `f` on the kernels' pool (or in place, on rayon's global pool, when
/// it could not be made): the parallel iterators inside use its workers.
pub fn run_on_kernel_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    match kernel_pool() {
        Some(pool) => pool.install(f),
        None => f(),
    }
}

/// The worker threads of the pool, as [`rayon::current_num_threads`] counts
/// them outside it.
pub fn kernel_threads() -> usize {
    kernel_pool().map_or_else(
        rayon::current_num_threads,
        rayon::ThreadPool::current_num_threads,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn workers_are_named_and_run_below_the_caller() {
        use rustix::process::getpriority_process;
        let own = getpriority_process(Some(rustix::process::getpid())).unwrap();
        let (name, prio) = run_on_kernel_pool(|| {
            (
                std::thread::current().name().map(str::to_owned),
                getpriority_process(Some(rustix::thread::gettid())).unwrap(),
            )
        });
        assert!(name.unwrap().starts_with("osprey-kernel-"));
        let nice = priority::nice_from_env(KERNEL_NICE_ENV, KERNEL_NICE);
        assert_eq!(prio, (own + nice).min(19));
        assert!(kernel_threads() >= 1);
    }
}
