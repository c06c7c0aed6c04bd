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
//! Only this pool's threads are lowered (on Linux, `setpriority` names one
//! thread); the priority is relative to the process's own, so a process
//! started with `nice` keeps the same spacing. `OSPREY_KERNEL_NICE=N`
//! changes the distance (`0`: the same priority as the decoder, as before
//! this pool existed); `RAYON_NUM_THREADS` the number of workers. Where the
//! priority cannot be changed the workers run at the process's own and say
//! so at debug level.

use std::sync::OnceLock;

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
        let nice = kernel_nice(std::env::var(KERNEL_NICE_ENV).ok().as_deref());
        rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("osprey-kernel-{i}"))
            .start_handler(move |_| lower_priority(nice))
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

/// The distance below the process's priority: the environment's value when
/// it is an integer from 0 to 19, else [`KERNEL_NICE`].
fn kernel_nice(env: Option<&str>) -> i32 {
    env.and_then(|v| v.trim().parse::<i32>().ok())
        .filter(|n| (0..=19).contains(n))
        .unwrap_or(KERNEL_NICE)
}

/// Lowers the calling thread's priority by `nice` levels.
fn lower_priority(nice: i32) {
    if nice == 0 {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{getpriority_process, setpriority_process};
        let tid = Some(rustix::thread::gettid());
        let result =
            getpriority_process(tid).and_then(|own| setpriority_process(tid, (own + nice).min(19)));
        if let Err(e) = result {
            tracing::debug!(error = %e, nice, "Cannot lower a kernel thread's priority.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_comes_from_the_environment_when_valid() {
        assert_eq!(kernel_nice(None), KERNEL_NICE);
        assert_eq!(kernel_nice(Some("0")), 0);
        assert_eq!(kernel_nice(Some(" 12 ")), 12);
        assert_eq!(kernel_nice(Some("20")), KERNEL_NICE);
        assert_eq!(kernel_nice(Some("-3")), KERNEL_NICE);
        assert_eq!(kernel_nice(Some("high")), KERNEL_NICE);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn workers_are_named_and_run_below_the_caller() {
        use rustix::process::getpriority_process;
        let own = getpriority_process(Some(rustix::thread::gettid())).unwrap();
        let (name, prio) = run_on_kernel_pool(|| {
            (
                std::thread::current().name().map(str::to_owned),
                getpriority_process(Some(rustix::thread::gettid())).unwrap(),
            )
        });
        assert!(name.unwrap().starts_with("osprey-kernel-"));
        let nice = kernel_nice(std::env::var(KERNEL_NICE_ENV).ok().as_deref());
        assert_eq!(prio, (own + nice).min(19));
        assert!(kernel_threads() >= 1);
    }
}
