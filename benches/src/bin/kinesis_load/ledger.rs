//! What happened to every record id: acknowledged, refused, and how many
//! times it was read back. One byte an id, allocated up front (bounded: the
//! producers stop at its capacity).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// Set once the put of the id was acknowledged.
const ACKED: u8 = 1;
/// Set once the put of the id was refused (or its call failed).
const REFUSED: u8 = 2;
/// The read count lives in the bits above these two.
const SEEN_ONE: u8 = 4;

/// The ids' states and running totals.
pub struct Ledger {
    state: Mutex<Vec<u8>>,
    next_id: AtomicU64,
    acked: AtomicU64,
    refused: AtomicU64,
    read: AtomicU64,
}

/// The verdict over every id handed out.
#[derive(Debug, Default)]
pub struct Verdict {
    /// Ids handed out to puts.
    pub sent: u64,
    /// Acknowledged.
    pub acked: u64,
    /// Refused by the server (or in a failed call).
    pub refused: u64,
    /// Acknowledged and never read back.
    pub lost: u64,
    /// Read back more than once.
    pub duplicated: u64,
    /// Read back but never acknowledged (refused, or the call failed).
    pub read_unacked: u64,
}

impl Ledger {
    /// A ledger for at most `capacity` ids.
    pub fn new(capacity: usize) -> Self {
        Ledger {
            state: Mutex::new(vec![0; capacity]),
            next_id: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            read: AtomicU64::new(0),
        }
    }

    /// The first of `n` fresh ids, or `None` once the capacity is spent.
    pub fn take_ids(&self, n: u64) -> Option<u64> {
        let capacity = self.lock().len() as u64;
        self.next_id
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |next| {
                (next + n <= capacity).then_some(next + n)
            })
            .ok()
    }

    /// Marks the ids `first..` as acknowledged (`true`) or refused.
    pub fn answer(&self, first: u64, outcomes: &[bool]) {
        let mut state = self.lock();
        let (mut acked, mut refused) = (0, 0);
        for (i, ok) in outcomes.iter().enumerate() {
            let s = &mut state[first as usize + i];
            if *ok {
                *s |= ACKED;
                acked += 1;
            } else {
                *s |= REFUSED;
                refused += 1;
            }
        }
        drop(state);
        self.acked.fetch_add(acked, Ordering::Relaxed);
        self.refused.fetch_add(refused, Ordering::Relaxed);
    }

    /// Counts one read of each of `ids`; an id never handed out is
    /// reported back (it cannot be this run's).
    pub fn read(&self, ids: &[u64]) -> usize {
        let mut state = self.lock();
        let mut foreign = 0;
        for &id in ids {
            match state.get_mut(id as usize) {
                Some(s) if id < self.next_id.load(Ordering::Relaxed) => {
                    if *s < u8::MAX - SEEN_ONE {
                        *s += SEEN_ONE;
                    }
                }
                _ => foreign += 1,
            }
        }
        drop(state);
        self.read
            .fetch_add((ids.len() - foreign) as u64, Ordering::Relaxed);
        foreign
    }

    /// Acknowledged records so far.
    pub fn acked(&self) -> u64 {
        self.acked.load(Ordering::Relaxed)
    }

    /// Reads so far (duplicates included).
    pub fn reads(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }

    /// Whether every acknowledged id has been read back at least once.
    pub fn all_acked_read(&self) -> bool {
        self.lock().iter().all(|s| s & ACKED == 0 || *s >= SEEN_ONE)
    }

    /// The verdict over every id handed out.
    pub fn verdict(&self) -> Verdict {
        let state = self.lock();
        let sent = self.next_id.load(Ordering::Relaxed).min(state.len() as u64);
        let mut v = Verdict {
            sent,
            ..Verdict::default()
        };
        for &s in &state[..sent as usize] {
            let seen = s / SEEN_ONE;
            v.acked += u64::from(s & ACKED != 0);
            v.refused += u64::from(s & REFUSED != 0);
            v.lost += u64::from(s & ACKED != 0 && seen == 0);
            v.duplicated += u64::from(seen > 1);
            v.read_unacked += u64::from(s & ACKED == 0 && seen > 0);
        }
        v
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verdict_sorts_every_id() {
        let l = Ledger::new(10);
        assert_eq!(l.take_ids(4), Some(0));
        assert_eq!(l.take_ids(4), Some(4));
        assert_eq!(l.take_ids(4), None, "past the capacity");
        l.answer(0, &[true, true, false, true]);
        l.answer(4, &[true; 4]);
        assert_eq!(
            l.read(&[0, 1, 1, 2, 5, 6, 7, 9]),
            1,
            "9 was never handed out"
        );
        assert!(!l.all_acked_read());
        let v = l.verdict();
        assert_eq!(v.sent, 8);
        assert_eq!(v.acked, 7);
        assert_eq!(v.refused, 1);
        assert_eq!(v.lost, 2, "3 and 4");
        assert_eq!(v.duplicated, 1);
        assert_eq!(v.read_unacked, 1);
        l.read(&[3, 4]);
        assert!(l.all_acked_read());
    }
}
