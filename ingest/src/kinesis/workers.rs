//! The threads the Kinesis operations run on ([`Workers`]): blocking work
//! (a put waits for its fsync, a read may wait for the disk) kept off the
//! threads that drive connections, as on tokio's blocking pool, except that
//! the thread idle for the shortest time takes the next call (last in, first
//! out), not the one idle longest.
//!
//! Why: an operation allocates and frees much (a GetRecords' records and
//! answer, a PutRecords' parse), and the allocator keeps memory per thread
//! and gives memory unused for a few milliseconds back to the system. Spread
//! round robin over every thread the pool ever started, each call met a
//! cold thread whose memory had been given back and faulted it in again:
//! the kernel clearing fresh pages was the largest single cost in a profile
//! of `serve --http`. On the most recently used thread a call finds its
//! memory warm, as on the thread-per-connection server this replaced.
//!
//! Threads start on demand, at most [`MAX_THREADS`]; past that, calls wait
//! in a queue (at most one a connection, so bounded by the connection
//! slots). A thread idle for [`IDLE_EXIT`] ends. A job that panics loses
//! only its own answer (its sender is dropped); the thread goes on.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// The most threads at once; enough for every connection slot of the
/// default (64) to wait for an fsync together.
pub(super) const MAX_THREADS: usize = 64;

/// How long an idle thread waits for work before it ends.
pub(super) const IDLE_EXIT: Duration = Duration::from_secs(10);

/// A piece of work.
type Job = Box<dyn FnOnce() + Send>;

/// The operations' threads (cheap to share: clones are the same pool).
#[derive(Clone)]
pub(super) struct Workers {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    max: usize,
}

/// The threads waiting for work and the work waiting for a thread (never
/// both at once).
#[derive(Default)]
struct State {
    /// The most recently idle last.
    idle: Vec<Arc<Parked>>,
    queue: VecDeque<Job>,
    threads: usize,
}

/// Where an idle thread waits for its next job.
#[derive(Default)]
struct Parked {
    job: Mutex<Option<Job>>,
    ready: Condvar,
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.inner.lock();
        f.debug_struct("Workers")
            .field("threads", &state.threads)
            .field("idle", &state.idle.len())
            .field("queued", &state.queue.len())
            .finish()
    }
}

impl Workers {
    /// A pool of at most `max` threads (at least one), none started yet.
    pub(super) fn new(max: usize) -> Workers {
        Workers {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                max: max.max(1),
            }),
        }
    }

    /// Runs `job` on the most recently idle thread, a new one, or, with
    /// every thread busy, the first to be free. Without a thread at all (one
    /// cannot be started), on tokio's blocking pool, which then must be
    /// running.
    pub(super) fn run(&self, job: impl FnOnce() + Send + 'static) {
        let job: Job = Box::new(job);
        let mut state = self.inner.lock();
        if let Some(parked) = state.idle.pop() {
            drop(state);
            parked.hand(job);
            return;
        }
        if state.threads >= self.inner.max {
            state.queue.push_back(job);
            return;
        }
        state.threads += 1;
        drop(state);
        let parked = Arc::new(Parked::default());
        *lock(&parked.job) = Some(job);
        let (inner, first) = (Arc::clone(&self.inner), Arc::clone(&parked));
        let started = std::thread::Builder::new()
            .name("osprey-kinesis".into())
            .spawn(move || inner.work(&first));
        if let Err(e) = started {
            tracing::warn!(error = %e, "Cannot start a Kinesis worker thread.");
            self.inner.lock().threads -= 1;
            if let Some(job) = lock(&parked.job).take() {
                drop(tokio::task::spawn_blocking(job));
            }
        }
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// A thread's life: its job, then queued jobs, then jobs handed to it
    /// while idle, until it has been idle for [`IDLE_EXIT`].
    fn work(&self, parked: &Arc<Parked>) {
        while let Some(job) = parked.wait(|| self.retire(parked)) {
            // The job's own answer channel tells its caller of a panic.
            let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
            loop {
                let mut state = self.lock();
                match state.queue.pop_front() {
                    Some(next) => {
                        drop(state);
                        let _ = std::panic::catch_unwind(AssertUnwindSafe(next));
                    }
                    None => {
                        state.idle.push(Arc::clone(parked));
                        break;
                    }
                }
            }
        }
    }

    /// Ends an idle thread unless a job is already on its way to it: true
    /// when it was still idle (and is now gone from the pool).
    fn retire(&self, parked: &Arc<Parked>) -> bool {
        let mut state = self.lock();
        match state.idle.iter().position(|p| Arc::ptr_eq(p, parked)) {
            Some(at) => {
                state.idle.remove(at);
                state.threads -= 1;
                true
            }
            None => false,
        }
    }
}

impl Parked {
    /// Gives the waiting thread its job.
    fn hand(&self, job: Job) {
        *lock(&self.job) = Some(job);
        self.ready.notify_one();
    }

    /// The next job, or `None` once idle for [`IDLE_EXIT`] and `retire`
    /// agrees.
    fn wait(&self, retire: impl Fn() -> bool) -> Option<Job> {
        let mut slot = lock(&self.job);
        loop {
            if let Some(job) = slot.take() {
                return Some(job);
            }
            let (back, waited) = self
                .ready
                .wait_timeout(slot, IDLE_EXIT)
                .unwrap_or_else(PoisonError::into_inner);
            slot = back;
            if waited.timed_out() && slot.is_none() {
                // Never both locks at once: the pool's, then this slot's.
                drop(slot);
                if retire() {
                    return None;
                }
                slot = lock(&self.job);
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// The thread a job ran on, once every thread is idle again (as the
    /// next request of a connection finds them, a round trip later).
    fn on(workers: &Workers) -> std::thread::ThreadId {
        let (tx, rx) = mpsc::channel();
        workers.run(move || tx.send(std::thread::current().id()).unwrap());
        let id = rx.recv().unwrap();
        all_idle(workers);
        id
    }

    fn all_idle(workers: &Workers) {
        while {
            let state = workers.inner.lock();
            state.idle.len() < state.threads
        } {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn the_most_recently_idle_thread_takes_the_next_job() {
        let workers = Workers::new(8);
        // Four threads busy at once, then all idle.
        let (tx, rx) = mpsc::channel();
        let gate = Arc::new(std::sync::Barrier::new(5));
        for _ in 0..4 {
            let (tx, gate) = (tx.clone(), Arc::clone(&gate));
            workers.run(move || {
                gate.wait();
                tx.send(std::thread::current().id()).unwrap();
            });
        }
        gate.wait();
        let started: std::collections::HashSet<_> = (0..4).map(|_| rx.recv().unwrap()).collect();
        assert_eq!(started.len(), 4);
        all_idle(&workers);
        // One call after another: always the same (warm) thread, one of them.
        let first = on(&workers);
        assert!(started.contains(&first));
        for _ in 0..20 {
            assert_eq!(on(&workers), first);
        }
        assert_eq!(workers.inner.lock().threads, 4);
    }

    #[test]
    fn past_the_bound_jobs_wait_and_a_panic_loses_only_its_job() {
        let workers = Workers::new(2);
        let (tx, rx) = mpsc::channel();
        workers.run(|| panic!("a job that panics"));
        for i in 0..10 {
            let tx = tx.clone();
            workers.run(move || {
                std::thread::sleep(Duration::from_millis(2));
                tx.send(i).unwrap();
            });
        }
        let mut got: Vec<i32> = (0..10).map(|_| rx.recv().unwrap()).collect();
        got.sort_unstable();
        assert_eq!(got, (0..10).collect::<Vec<_>>());
        assert!(workers.inner.lock().threads <= 2);
    }
}
