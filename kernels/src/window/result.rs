//! A closed window of one group, as the engine hands it out: a leaf that
//! the engine and the windows' stores (`store.rs`) both use.

use super::acc::SlotAcc;

/// A closed window of one group.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowResult {
    /// Start (µs, inclusive).
    pub start: i64,
    /// End (µs, exclusive).
    pub end: i64,
    /// The group.
    pub group: u32,
    /// Its merged state; [`SlotAcc::finish`] gives the aggregates.
    pub acc: SlotAcc,
}
