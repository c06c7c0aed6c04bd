//! The bounded queue between a decode thread and the analysis of its
//! source: [`channel`] makes a [`Producer`] for the decoder and a
//! [`Consumer`] for the kernels.
//!
//! It holds at most `capacity` units of weight (frames: an item says its
//! own [`Weight`]). What happens when an item does not fit is the
//! [`Full`] policy: a file's decoder waits ([`Full::Block`], no frame is
//! ever lost), a live source's drops the oldest items that carry weight
//! ([`Full::DropOldest`]: analysis sees the newest frames and the backlog
//! never grows), counting what it dropped. Items of no weight (a stream
//! opened, an error, the end) are never dropped. The decoder learns
//! whether its input is live only once it is open, so it sets the policy
//! then ([`Producer::set_policy`]).
//!
//! Either side going away is seen by the other: a push after the consumer
//! has gone fails (the decode thread stops), a pop after the producer has
//! gone and the queue has drained says [`Pop::Closed`].

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How much of the queue's capacity an item takes.
pub(crate) trait Weight {
    /// Units of capacity (frames); 0 for items that are never dropped.
    fn weight(&self) -> usize;
}

/// What a push does when the item does not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Full {
    /// Wait until the consumer has taken enough (files).
    Block,
    /// Drop the oldest weighted items until it fits (live sources).
    DropOldest,
}

/// What a pop found.
#[derive(Debug)]
pub(crate) enum Pop<T> {
    /// The oldest item.
    Item(T),
    /// Nothing came within the timeout.
    Empty,
    /// The producer has gone and every item has been taken.
    Closed,
}

/// The consumer has gone: nothing will take the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Closed;

struct State<T> {
    items: VecDeque<T>,
    held: usize,
    capacity: usize,
    policy: Full,
    dropped: u64,
    producer_gone: bool,
    consumer_gone: bool,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    /// Signalled when an item arrives or the producer goes.
    arrived: Condvar,
    /// Signalled when an item leaves or the consumer goes.
    left: Condvar,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic while holding this lock leaves the queue consistent (every
        // update is one step), so a poisoned lock is still usable.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The decoder's end.
pub(crate) struct Producer<T> {
    shared: Arc<Shared<T>>,
}

/// The analysis's end.
pub(crate) struct Consumer<T> {
    shared: Arc<Shared<T>>,
}

/// A queue of `capacity` units (at least 1) with the `policy` given.
pub(crate) fn channel<T: Weight>(capacity: usize, policy: Full) -> (Producer<T>, Consumer<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: VecDeque::new(),
            held: 0,
            capacity: capacity.max(1),
            policy,
            dropped: 0,
            producer_gone: false,
            consumer_gone: false,
        }),
        arrived: Condvar::new(),
        left: Condvar::new(),
    });
    (
        Producer {
            shared: Arc::clone(&shared),
        },
        Consumer { shared },
    )
}

impl<T: Weight> Producer<T> {
    /// Changes the capacity (at least 1) and the policy from now on.
    pub(crate) fn set_policy(&self, capacity: usize, policy: Full) {
        let mut s = self.shared.lock();
        s.capacity = capacity.max(1);
        s.policy = policy;
        drop(s);
        self.shared.left.notify_all();
    }

    /// Adds `item`, waiting or dropping the oldest as the policy says. An
    /// item heavier than the whole capacity is taken once the queue is
    /// empty (or, dropping, once everything older is dropped).
    ///
    /// # Errors
    /// [`Closed`] when the consumer has gone.
    pub(crate) fn push(&self, item: T) -> Result<(), Closed> {
        let weight = item.weight();
        let mut s = self.shared.lock();
        loop {
            if s.consumer_gone {
                return Err(Closed);
            }
            if weight == 0 || s.held + weight <= s.capacity || s.held == 0 {
                break;
            }
            match s.policy {
                Full::Block => {
                    s = self
                        .shared
                        .left
                        .wait(s)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                }
                Full::DropOldest => {
                    let Some(oldest) = s.items.iter().position(|i| i.weight() > 0) else {
                        break;
                    };
                    if let Some(gone) = s.items.remove(oldest) {
                        let w = gone.weight();
                        s.held -= w;
                        s.dropped += w as u64;
                    }
                }
            }
        }
        s.held += weight;
        s.items.push_back(item);
        drop(s);
        self.shared.arrived.notify_one();
        Ok(())
    }
}

impl<T> Producer<T> {
    /// Units waiting now.
    pub(crate) fn held(&self) -> usize {
        self.shared.lock().held
    }
}

impl<T> Drop for Producer<T> {
    fn drop(&mut self) {
        self.shared.lock().producer_gone = true;
        self.shared.arrived.notify_all();
    }
}

impl<T: Weight> Consumer<T> {
    /// The oldest item, waiting at most `timeout` for one.
    pub(crate) fn pop(&self, timeout: Duration) -> Pop<T> {
        let deadline = Instant::now() + timeout;
        let mut s = self.shared.lock();
        loop {
            if let Some(item) = s.items.pop_front() {
                s.held -= item.weight();
                drop(s);
                self.shared.left.notify_one();
                return Pop::Item(item);
            }
            if s.producer_gone {
                return Pop::Closed;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Pop::Empty;
            }
            s = self
                .shared
                .arrived
                .wait_timeout(s, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    /// Units dropped so far.
    pub(crate) fn dropped(&self) -> u64 {
        self.shared.lock().dropped
    }
}

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        let mut s = self.shared.lock();
        s.consumer_gone = true;
        // What is still queued goes now (a chunk holds decoder buffers).
        let items = std::mem::take(&mut s.items);
        s.held = 0;
        drop(s);
        drop(items);
        self.shared.left.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An item of `.0` frames, named `.1`.
    #[derive(Debug, PartialEq)]
    struct Frames(usize, &'static str);

    impl Weight for Frames {
        fn weight(&self) -> usize {
            self.0
        }
    }

    fn drain(rx: &Consumer<Frames>) -> Vec<&'static str> {
        let mut names = Vec::new();
        while let Pop::Item(Frames(_, name)) = rx.pop(Duration::ZERO) {
            names.push(name);
        }
        names
    }

    #[test]
    fn dropping_keeps_the_newest_and_counts_the_rest() {
        let (tx, rx) = channel(4, Full::DropOldest);
        for (w, name) in [(0, "opened"), (2, "a"), (2, "b"), (2, "c"), (1, "d")] {
            tx.push(Frames(w, name)).unwrap();
        }
        // "a" went for "c"; "b" for "d" (2 + 2 + 1 > 4); "opened" stays.
        assert_eq!(rx.dropped(), 4);
        assert_eq!(tx.held(), 3);
        assert_eq!(drain(&rx), ["opened", "c", "d"]);
        assert_eq!(tx.held(), 0);
        // An item heavier than the queue goes in alone.
        tx.push(Frames(1, "e")).unwrap();
        tx.push(Frames(9, "big")).unwrap();
        assert_eq!(rx.dropped(), 5);
        assert_eq!(drain(&rx), ["big"]);
    }

    #[test]
    fn weightless_items_are_never_dropped() {
        let (tx, rx) = channel(1, Full::DropOldest);
        tx.push(Frames(1, "a")).unwrap();
        tx.push(Frames(0, "error")).unwrap();
        tx.push(Frames(1, "b")).unwrap();
        assert_eq!(drain(&rx), ["error", "b"]);
        assert_eq!(rx.dropped(), 1);
    }

    #[test]
    fn blocking_waits_for_the_consumer_and_loses_nothing() {
        let (tx, rx) = channel(2, Full::Block);
        let producer = std::thread::spawn(move || {
            for i in 0..50 {
                tx.push(Frames(1, if i % 2 == 0 { "even" } else { "odd" }))
                    .unwrap();
            }
        });
        let mut got = 0;
        loop {
            match rx.pop(Duration::from_secs(5)) {
                Pop::Item(_) => got += 1,
                Pop::Closed => break,
                Pop::Empty => panic!("the producer stalled"),
            }
            // Never more than the capacity waits.
            assert!(rx.shared.lock().held <= 2);
        }
        producer.join().unwrap();
        assert_eq!((got, rx.dropped()), (50, 0));
    }

    #[test]
    fn a_pop_times_out_then_sees_the_end() {
        let (tx, rx) = channel::<Frames>(2, Full::Block);
        let started = Instant::now();
        assert!(matches!(rx.pop(Duration::from_millis(30)), Pop::Empty));
        assert!(started.elapsed() >= Duration::from_millis(30));
        tx.push(Frames(1, "last")).unwrap();
        drop(tx);
        assert!(matches!(
            rx.pop(Duration::ZERO),
            Pop::Item(Frames(1, "last"))
        ));
        assert!(matches!(rx.pop(Duration::from_secs(5)), Pop::Closed));
    }

    #[test]
    fn a_blocked_push_fails_once_the_consumer_goes() {
        let (tx, rx) = channel(1, Full::Block);
        tx.push(Frames(1, "a")).unwrap();
        let producer = std::thread::spawn(move || tx.push(Frames(1, "b")));
        std::thread::sleep(Duration::from_millis(20));
        drop(rx);
        assert_eq!(producer.join().unwrap(), Err(Closed));
    }

    #[test]
    fn a_queue_switched_to_dropping_drops_the_oldest() {
        let (tx, rx) = channel(1, Full::Block);
        tx.push(Frames(1, "a")).unwrap();
        tx.set_policy(1, Full::DropOldest);
        tx.push(Frames(1, "b")).unwrap();
        assert_eq!(drain(&rx), ["b"]);
        assert_eq!(rx.dropped(), 1);
    }
}
