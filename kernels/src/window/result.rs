//! Closed windows as the engine hands them out, finished: one row a
//! (window, group), its aggregates in one flat vector. A leaf that the
//! engine and the windows' stores (`store.rs`) both use.
//!
//! The engine finishes the aggregates itself, on the thread that closed
//! the window: a window of a million groups is handed out as a million
//! keys and a flat run of values, not a million states with a vector each
//! (which cost more to copy and allocate than the rows cost to write).

use super::acc::AggValue;
use super::spec::AggFunc;

/// One aggregate the engine finishes: a function over a value column (a
/// hashed column for `approx_count_distinct`; none for `count(*)`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AggSlot {
    /// The function.
    pub func: AggFunc,
    /// Value column, or hashed column for `approx_count_distinct`.
    pub column: usize,
}

/// Which window and group a closed row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct WindowKey {
    /// Start (µs, inclusive).
    pub start: i64,
    /// End (µs, exclusive).
    pub end: i64,
    /// The group.
    pub group: u32,
}

/// Closed windows: one row a (window, group), each with the engine's
/// aggregates ([`super::EngineConfig::aggs`]) in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Closed {
    keys: Vec<WindowKey>,
    values: Vec<AggValue>,
    width: usize,
}

impl Closed {
    /// No rows, of `width` aggregates each.
    pub fn new(width: usize) -> Self {
        Closed {
            keys: Vec::new(),
            values: Vec::new(),
            width,
        }
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Aggregates a row.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Each row's window and group.
    pub fn keys(&self) -> &[WindowKey] {
        &self.keys
    }

    /// Row `i`'s aggregates.
    pub fn values(&self, i: usize) -> &[AggValue] {
        self.values
            .get(i * self.width..(i + 1) * self.width)
            .unwrap_or(&[])
    }

    /// The rows, in order.
    pub fn iter(&self) -> impl Iterator<Item = (WindowKey, &[AggValue])> {
        self.keys
            .iter()
            .enumerate()
            .map(|(i, &k)| (k, self.values(i)))
    }

    /// Room for `rows` more rows.
    pub fn reserve(&mut self, rows: usize) {
        self.keys.reserve(rows);
        self.values.reserve(rows * self.width);
    }

    /// Appends a row; `value(i)` gives its `i`th aggregate.
    pub fn push_with(&mut self, key: WindowKey, value: impl FnMut(usize) -> AggValue) {
        self.keys.push(key);
        self.values.extend((0..self.width).map(value));
    }

    /// Appends the rows of `other` (of the same width).
    pub fn append(&mut self, mut other: Closed) {
        if self.keys.is_empty() {
            *self = other;
            return;
        }
        self.keys.append(&mut other.keys);
        self.values.append(&mut other.values);
    }

    /// Orders the rows by start, then group (stable).
    pub fn sort(&mut self) {
        if self.keys.is_sorted_by_key(|k| (k.start, k.group)) {
            return;
        }
        let mut order: Vec<usize> = (0..self.keys.len()).collect();
        order.sort_by_key(|&i| (self.keys[i].start, self.keys[i].group));
        let mut sorted = Closed::new(self.width);
        sorted.reserve(order.len());
        for i in order {
            sorted.keys.push(self.keys[i]);
            sorted.values.extend_from_slice(self.values(i));
        }
        *self = sorted;
    }

    /// Merges rows already ordered by start, then group, part by part,
    /// into one run in that order; `key` maps each part's key to the
    /// merged one, `None` leaving the row out.
    pub fn merge(
        parts: Vec<Closed>,
        key: impl Fn(usize, WindowKey) -> Option<WindowKey>,
    ) -> Closed {
        let width = parts.first().map_or(0, Closed::width);
        let mut out = Closed::new(width);
        out.reserve(parts.iter().map(Closed::len).sum());
        // Each part's next row, mapped: a k-way merge, k being small (the
        // partitions), so a scan of the heads beats a heap.
        let mut at = vec![0usize; parts.len()];
        let next = |p: usize, at: &mut [usize]| -> Option<WindowKey> {
            let part = &parts[p];
            while at[p] < part.len() {
                match key(p, part.keys[at[p]]) {
                    Some(k) => return Some(k),
                    None => at[p] += 1,
                }
            }
            None
        };
        let mut heads: Vec<Option<WindowKey>> =
            (0..parts.len()).map(|p| next(p, &mut at)).collect();
        loop {
            let best = heads
                .iter()
                .enumerate()
                .filter_map(|(p, h)| h.map(|k| (k.start, k.group, p)))
                .min();
            let Some((_, _, p)) = best else {
                break;
            };
            let Some(k) = heads[p] else {
                break;
            };
            out.keys.push(k);
            out.values.extend_from_slice(parts[p].values(at[p]));
            at[p] += 1;
            heads[p] = next(p, &mut at);
        }
        out
    }
}
