//! The merged state of one open tumbling or hopping window, flat: one entry a
//! group, its fields in vectors indexed by a dense entry number, and an index
//! from group id to entry.
//!
//! With a million keys nearly every (window, group) pair of a batch is a
//! slot of one row, so the host's cost is per slot: a store takes a slot's
//! words ([`AggState`]) straight into its vectors, with no allocation per
//! group and no hashing when the index is dense (a vector as long as the
//! group ids; a hash map for windows that would make the dense indexes too
//! large). Merging follows
//! [`ColumnAcc::merge_owned`](super::acc::ColumnAcc::merge_owned) exactly, so a window's
//! result does not depend on the store. Closed windows hand their stores
//! back for reuse, so steady state allocates nothing but the results; a
//! closing window's aggregates are finished straight from these vectors.

use super::AggState;
use super::acc::{AggValue, ExactAcc, Parts, Timed, ends_from_words, finish_value, merge_ends};
use super::keys::FastMap;
use super::layout::NO_SLOT;
use super::result::{AggSlot, Closed, WindowKey};
use super::sketch::{BatchSketches, Distinct, Quantiles};

/// A hint to load the cache line at `p` (nothing where the target has no
/// such instruction). A prefetch never faults, whatever the address.
#[inline]
#[expect(
    unsafe_code,
    reason = "_mm_prefetch is a target-feature intrinsic; it reads nothing and cannot fault"
)]
fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of the x86_64 baseline, and a prefetch of any
    // address, valid or not, has no effect but on the caches.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// What every entry holds: value columns, hashed columns, sketched columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    /// Value columns.
    pub columns: usize,
    /// Hashed columns (HyperLogLog registers).
    pub hashed: usize,
    /// Value columns `0..pct` with percentile bins.
    pub pct: usize,
    /// Whether the first and last rows by time are kept.
    pub first_last: bool,
}

/// Group id to entry.
#[derive(Debug)]
enum Index {
    /// One cell a group id, [`NO_SLOT`] when the group has no entry.
    Dense(Vec<u32>),
    /// For windows whose dense index would take too much memory.
    Hashed(FastMap<u32, u32>),
}

/// One open window's groups; see the module docs.
#[derive(Debug)]
pub(crate) struct WindowStore {
    index: Index,
    /// The group of each entry, in order of first appearance.
    groups: Vec<u32>,
    /// `count(*)` of each entry.
    rows: Vec<u64>,
    /// Value columns' counts, extremes and sums, entry-major.
    cols: Vec<ExactAcc>,
    /// Their first and last rows, entry-major, when the shape keeps them.
    ends: Vec<(Timed, Timed)>,
    /// HyperLogLog sketches, `entry * hashed + column`.
    hll: Vec<Distinct>,
    /// Percentile sketches, `entry * pct + column`.
    pct: Vec<Quantiles>,
    /// Bytes the sketches take on the heap.
    sketch_heap: usize,
    /// Entries in group order, reused by [`WindowStore::drain_into`].
    order: Vec<(u32, u32)>,
    /// The finished aggregates, entry-major, reused by
    /// [`WindowStore::drain_into`].
    finished: Vec<AggValue>,
}

impl WindowStore {
    /// An empty store, with a dense index or a hashed one.
    pub(super) fn new(dense: bool) -> Self {
        WindowStore {
            index: if dense {
                Index::Dense(Vec::new())
            } else {
                Index::Hashed(FastMap::default())
            },
            groups: Vec::new(),
            rows: Vec::new(),
            cols: Vec::new(),
            ends: Vec::new(),
            hll: Vec::new(),
            pct: Vec::new(),
            sketch_heap: 0,
            order: Vec::new(),
            finished: Vec::new(),
        }
    }

    /// Entries: the groups this window holds.
    pub(super) fn entries(&self) -> usize {
        self.groups.len()
    }

    /// Bytes this store holds: its vectors' and index's capacities.
    pub(super) fn bytes(&self) -> usize {
        use std::mem::size_of;
        let index = match &self.index {
            Index::Dense(cells) => cells.capacity() * size_of::<u32>(),
            // A hash table's slots and one control byte each.
            Index::Hashed(map) => map.capacity() * (size_of::<(u32, u32)>() + 1),
        };
        index
            + self.groups.capacity() * size_of::<u32>()
            + self.rows.capacity() * size_of::<u64>()
            + self.cols.capacity() * size_of::<ExactAcc>()
            + self.ends.capacity() * size_of::<(Timed, Timed)>()
            + self.hll.capacity() * size_of::<Distinct>()
            + self.pct.capacity() * size_of::<Quantiles>()
            + self.sketch_heap
            + self.order.capacity() * size_of::<(u32, u32)>()
            + self.finished.capacity() * size_of::<AggValue>()
    }

    /// Whether the index is dense.
    pub(super) fn is_dense(&self) -> bool {
        matches!(self.index, Index::Dense(_))
    }

    /// Cells of the dense index (0 for a hashed one).
    pub(super) fn dense_cells(&self) -> usize {
        match &self.index {
            Index::Dense(cells) => cells.len(),
            Index::Hashed(_) => 0,
        }
    }

    /// The entry of `group`, when it has one.
    #[inline]
    fn find(&self, group: u32) -> Option<usize> {
        match &self.index {
            Index::Dense(cells) => cells
                .get(group as usize)
                .filter(|&&e| e != NO_SLOT)
                .map(|&e| e as usize),
            Index::Hashed(map) => map.get(&group).map(|&e| e as usize),
        }
    }

    /// Asks the CPU to start loading `group`'s entry, which a merge a few
    /// slots later reads: slots come in the order their rows came, so
    /// entries are read all over the store, and without this each merge
    /// waited for its entry's cache lines.
    #[inline]
    pub(super) fn prefetch(&self, shape: Shape, group: u32) {
        if let Some(e) = self.find(group)
            && let Some(acc) = self.cols.get(e * shape.columns)
        {
            prefetch(std::ptr::from_ref(acc).cast());
            if shape.columns > 1 {
                prefetch(std::ptr::from_ref(acc).cast::<u8>().wrapping_add(128));
            }
        }
    }

    /// Asks the CPU to start loading where the dense index holds `group`'s
    /// entry, which [`WindowStore::prefetch`] reads a few slots later: at a
    /// million groups the index is 4 MB, and that read missed the cache
    /// too.
    #[inline]
    pub(super) fn prefetch_index(&self, group: u32) {
        if let Index::Dense(cells) = &self.index
            && let Some(cell) = cells.get(group as usize)
        {
            prefetch(std::ptr::from_ref(cell).cast());
        }
    }

    /// Records that `group` is entry `entry`.
    fn insert(&mut self, group: u32, entry: u32) {
        match &mut self.index {
            Index::Dense(cells) => {
                let g = group as usize;
                if g >= cells.len() {
                    cells.resize((g + 1).max(cells.len() * 2), NO_SLOT);
                }
                cells[g] = entry;
            }
            Index::Hashed(map) => {
                map.insert(group, entry);
            }
        }
    }

    /// Merges slot `slot` of a batch's state and sketches into `group`'s
    /// entry; `values` are the batch's value columns (for first and last).
    pub(super) fn merge_slot(
        &mut self,
        shape: Shape,
        group: u32,
        (state, sketches): (&AggState, &mut BatchSketches),
        slot: u32,
        values: &[&[f64]],
    ) {
        let rows = u64::from(state.slot_words(slot)[0]);
        let words = |c: usize| state.column_words(slot, c);
        let ends = |c: usize| ends_from_words(words(c), values.get(c).copied());
        let Some(e) = self.find(group) else {
            // A new group: its entry is the slot as it is.
            self.insert(group, self.groups.len() as u32);
            self.groups.push(group);
            self.rows.push(rows);
            self.cols
                .extend((0..shape.columns).map(|c| ExactAcc::from_words(words(c))));
            if shape.first_last {
                self.ends.extend((0..shape.columns).map(ends));
            }
            for h in 0..shape.hashed {
                let d = sketches.distinct(slot, h);
                self.sketch_heap += d.heap_bytes();
                self.hll.push(d);
            }
            for c in 0..shape.pct {
                let q = sketches.quantiles(slot, c);
                self.sketch_heap += q.heap_bytes();
                self.pct.push(q);
            }
            return;
        };
        self.rows[e] += rows;
        for c in 0..shape.columns {
            let at = e * shape.columns + c;
            if !self.cols[at].merge(&ExactAcc::from_words(words(c))) {
                continue;
            }
            if shape.first_last {
                let (first, last) = &mut self.ends[at];
                merge_ends(first, last, ends(c));
            }
            if c < shape.pct {
                let mine = &mut self.pct[e * shape.pct + c];
                self.sketch_heap -= mine.heap_bytes();
                mine.merge(sketches.quantiles(slot, c));
                self.sketch_heap += mine.heap_bytes();
            }
        }
        for h in 0..shape.hashed {
            let mine = &mut self.hll[e * shape.hashed + h];
            self.sketch_heap -= mine.heap_bytes();
            mine.merge(&sketches.distinct(slot, h));
            self.sketch_heap += mine.heap_bytes();
        }
    }

    /// Merges every entry of `other` (a later pane of the same window) into
    /// this store's entry of the same group.
    pub(super) fn merge_store(&mut self, shape: Shape, other: &WindowStore) {
        for (oe, &group) in other.groups.iter().enumerate() {
            let e = match self.find(group) {
                Some(e) => e,
                None => self.push_empty(shape, group),
            };
            self.rows[e] += other.rows[oe];
            for c in 0..shape.columns {
                let (at, theirs) = (e * shape.columns + c, oe * shape.columns + c);
                if !self.cols[at].merge(&other.cols[theirs]) {
                    continue;
                }
                if shape.first_last {
                    let (first, last) = &mut self.ends[at];
                    merge_ends(first, last, other.ends[theirs]);
                }
                if c < shape.pct {
                    let mine = &mut self.pct[e * shape.pct + c];
                    self.sketch_heap -= mine.heap_bytes();
                    mine.merge(other.pct[oe * shape.pct + c].clone());
                    self.sketch_heap += mine.heap_bytes();
                }
            }
            for h in 0..shape.hashed {
                let mine = &mut self.hll[e * shape.hashed + h];
                self.sketch_heap -= mine.heap_bytes();
                mine.merge(&other.hll[oe * shape.hashed + h]);
                self.sketch_heap += mine.heap_bytes();
            }
        }
    }

    /// A new entry for `group` holding nothing; its number.
    fn push_empty(&mut self, shape: Shape, group: u32) -> usize {
        let e = self.groups.len();
        self.insert(group, e as u32);
        self.groups.push(group);
        self.rows.push(0);
        self.cols
            .extend(std::iter::repeat_n(ExactAcc::default(), shape.columns));
        if shape.first_last {
            self.ends
                .extend(std::iter::repeat_n((None, None), shape.columns));
        }
        self.hll
            .extend(std::iter::repeat_n(Distinct::default(), shape.hashed));
        self.pct
            .extend(std::iter::repeat_n(Quantiles::default(), shape.pct));
        e
    }

    /// Appends this window's groups to `out`, by group id, each with the
    /// aggregates `aggs` finished, and leaves the store empty (its memory
    /// kept for the next window).
    pub(super) fn drain_into(
        &mut self,
        shape: Shape,
        (start, end): (i64, i64),
        aggs: &[AggSlot],
        out: &mut Closed,
    ) {
        let entries = self.groups.len();
        self.order.clear();
        match &mut self.index {
            // Few groups in a long index: sort them rather than scan it.
            Index::Dense(cells) if entries.saturating_mul(8) >= cells.len() => {
                self.order.extend(
                    cells
                        .iter()
                        .enumerate()
                        .filter(|(_, e)| **e != NO_SLOT)
                        .map(|(g, &e)| (g as u32, e)),
                );
            }
            _ => {
                self.order
                    .extend(self.groups.iter().enumerate().map(|(e, &g)| (g, e as u32)));
                self.order.sort_unstable();
            }
        }
        // Finished in entry order, as the state lies in memory (in group
        // order the reads jump about a window's whole state: at a million
        // groups that was most of the finishing time), then handed on in
        // group order.
        self.finished.clear();
        self.finished.reserve(entries * aggs.len());
        for e in 0..entries {
            for &AggSlot { func, column: c } in aggs {
                let value = (c < shape.columns).then_some(e * shape.columns + c);
                self.finished.push(finish_value(
                    func,
                    &Parts {
                        rows: self.rows[e],
                        exact: value.and_then(|at| self.cols.get(at)),
                        ends: value
                            .and_then(|at| self.ends.get(at).copied())
                            .unwrap_or_default(),
                        pct: (c < shape.pct)
                            .then(|| self.pct.get(e * shape.pct + c))
                            .flatten(),
                        hll: (c < shape.hashed)
                            .then(|| self.hll.get(e * shape.hashed + c))
                            .flatten(),
                    },
                ));
            }
        }
        out.reserve(entries);
        for &(group, e) in &self.order {
            let row = &self.finished[e as usize * aggs.len()..][..aggs.len()];
            let key = WindowKey { start, end, group };
            out.push_with(key, |a| row.get(a).copied().unwrap_or(AggValue::Null));
        }
        self.clear();
    }

    /// Forgets every entry, keeping the memory.
    pub(super) fn clear(&mut self) {
        match &mut self.index {
            Index::Dense(cells) => {
                for &g in &self.groups {
                    cells[g as usize] = NO_SLOT;
                }
            }
            Index::Hashed(map) => map.clear(),
        }
        self.groups.clear();
        self.rows.clear();
        self.cols.clear();
        self.ends.clear();
        self.hll.clear();
        self.pct.clear();
        self.sketch_heap = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::aggregate::aggregate;
    use crate::window::acc::SlotAcc;
    use crate::window::spec::AggFunc;
    use crate::window::{AggInput, Batch};

    /// The state and sketches of `values` cut into slots by `slots`, with a
    /// percentile sketch and one hashed column.
    fn state(slots: &[u32], values: &[f64]) -> (AggState, BatchSketches) {
        let hashes: Vec<u64> = values
            .iter()
            .map(|v| v.to_bits().wrapping_mul(0x9e37_79b9))
            .collect();
        let ts: Vec<i64> = (0..values.len() as i64).collect();
        let slot_count = slots.iter().max().map_or(0, |&s| s + 1);
        let input = AggInput {
            slots,
            slot_count,
            ts: &ts,
            values: &[values],
            valid: &[None],
            first_last: true,
            squares: true,
        };
        let mut out = AggState::default();
        aggregate(&input, &mut out);
        let piece = Batch {
            ts: &ts,
            groups: slots,
            values: vec![values],
            valid: vec![None],
            hashes: vec![&hashes],
            hash_valid: vec![None],
        };
        let mut sketches = BatchSketches::default();
        sketches.fill(slots, slot_count as usize, &piece, 1);
        (out, sketches)
    }

    #[test]
    fn both_indexes_merge_and_finish_like_slot_accumulators() {
        let shape = Shape {
            columns: 1,
            hashed: 1,
            pct: 1,
            first_last: true,
        };
        // Two batches; group 7 spans both, with anchors far apart.
        let a = [1.5, -2.0, 1e10, 0.25];
        let b = [3.0, 1e-5, f64::INFINITY];
        let (ga, gb) = ([7, 3, 9], [9, 7]);
        let mut want: Vec<(u32, SlotAcc)> = Vec::new();
        let (sa, mut ka) = state(&[0, 1, 0, 2], &a);
        let (sb, mut kb) = state(&[0, 0, 1], &b);
        for (st, sk, vals, groups) in [
            (&sa, &mut ka, &a[..], &ga[..]),
            (&sb, &mut kb, &b[..], &gb[..]),
        ] {
            for (s, &g) in groups.iter().enumerate() {
                let mut acc = SlotAcc::from_state(st, s as u32, &[vals]);
                acc.columns[0].pct = Some(sk.quantiles(s as u32, 0));
                acc.hll = vec![sk.distinct(s as u32, 0)];
                match want.iter_mut().find(|(h, _)| *h == g) {
                    Some((_, w)) => w.merge_owned(acc),
                    None => want.push((g, acc)),
                }
            }
        }
        want.sort_by_key(|(g, _)| *g);
        for dense in [true, false] {
            let mut store = WindowStore::new(dense);
            for _ in 0..2 {
                let (sa, mut ka) = state(&[0, 1, 0, 2], &a);
                let (sb, mut kb) = state(&[0, 0, 1], &b);
                for (st, sk, vals, groups) in [
                    (&sa, &mut ka, &a[..], &ga[..]),
                    (&sb, &mut kb, &b[..], &gb[..]),
                ] {
                    for (s, &g) in groups.iter().enumerate() {
                        store.merge_slot(shape, g, (st, sk), s as u32, &[vals]);
                    }
                }
                let mut aggs = crate::synth::rows::every_agg(1);
                aggs.extend(
                    [
                        AggFunc::Percentile(0.5),
                        AggFunc::First,
                        AggFunc::Last,
                        AggFunc::ApproxDistinct,
                    ]
                    .map(|func| AggSlot { func, column: 0 }),
                );
                let mut out = Closed::new(aggs.len());
                store.drain_into(shape, (60, 120), &aggs, &mut out);
                assert_eq!(out.len(), want.len());
                for ((key, values), (g, w)) in out.iter().zip(&want) {
                    assert_eq!((key.start, key.end, key.group), (60, 120, *g));
                    // Debug text: a NaN equals a NaN.
                    let finished: Vec<String> = aggs
                        .iter()
                        .map(|a| format!("{:?}", w.finish(a.func, a.column)))
                        .collect();
                    let got: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
                    assert_eq!(got, finished, "dense {dense}, group {g}");
                }
                assert_eq!(out.values(1)[2], AggValue::Float(f64::INFINITY));
                assert_eq!(out.values(2)[2], AggValue::Float(3.25 + 1e-5));
            }
        }
    }
}
