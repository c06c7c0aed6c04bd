//! The window engine: rows in, closed windows out.
//!
//! For every row, in input order, the engine updates the watermark (the
//! largest event time seen minus the allowed lateness) and decides which open
//! windows the row falls into; a row whose windows have all closed is late
//! and goes back to the caller (its index in the batch). A window `[start,
//! end)` closes once the watermark reaches `end`; at the end of the input
//! ([`Engine::finish`]) every open window closes. Deciding row by row makes
//! the result independent of how the input was cut into batches.
//!
//! Session windows: per group, a row joins every open session it is closer
//! than `gap` to (merging them when it bridges two), or starts one; a session
//! `[first, last + gap)` closes when the watermark reaches its end. A row is
//! late for sessions when its time is below the watermark.
//!
//! The rows of a batch, numbered as dense slots per (window, group), go to the
//! [`Aggregator`] in pieces of at most [`Engine::batch_rows`] rows.
//!
//! Hopping windows share *panes*: a row goes once into the pane of one slide
//! that holds it (the slide divides the size, so it is the panes' greatest
//! common length), and when a window closes its `size / slide` panes are
//! merged into its result. Each row is aggregated once, not once per window
//! it falls into, and the state is one pane a slide, not one window a slide
//! with a copy of every row of the panes it overlaps. A pane is dropped once
//! the last window that holds it has closed; a row is late when that window
//! has.
//!
//! Percentile and distinct-count sketches are built on the host from each
//! piece's rows ([`super::sketch`]), slot by slot, and merged with the
//! kernels' state: the backends compute only the exact words.

use std::collections::BTreeMap;

use super::acc::{AggValue, SlotAcc};
use super::keys::FastMap;
use super::layout::NO_SLOT;
/// Kept at this path for callers; it lives in `result.rs`.
pub use super::result::{AggSlot, Closed, WindowKey};
use super::sketch::BatchSketches;
use super::spec::{Floors, WindowSpec};
use super::store::{Shape, WindowStore};
use super::{AggInput, AggState, Aggregator, SlotPass};
use crate::error::{KernelError, Result};

/// How the engine is set up.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The windows.
    pub window: WindowSpec,
    /// How far behind the largest event time seen rows may still arrive (µs, ≥ 0).
    pub lateness: i64,
    /// Value columns every batch carries.
    pub columns: usize,
    /// Hashed columns (for `approx_count_distinct`).
    pub hashed: usize,
    /// Value columns `0..pct_columns` get percentile sketches.
    pub pct_columns: u32,
    /// Whether `first`/`last` are asked for.
    pub first_last: bool,
    /// Most rows one aggregation call takes (rounded down to a multiple of 32).
    pub batch_rows: usize,
    /// The aggregates each closed (window, group) is finished into, in order.
    pub aggs: Vec<AggSlot>,
}

impl EngineConfig {
    /// The default piece size: 2^20 rows. Sketches do not shrink it: they
    /// are built on the host and grow with the rows, not with the slots.
    pub fn default_batch_rows() -> usize {
        1 << 20
    }
}

/// One batch of rows for [`Engine::push`].
#[derive(Debug, Clone, Default)]
pub struct Batch<'a> {
    /// Event times, microseconds since the epoch.
    pub ts: &'a [i64],
    /// Group ids (see [`super::GroupIndex`]).
    pub groups: &'a [u32],
    /// Value columns, `EngineConfig::columns` of them.
    pub values: Vec<&'a [f64]>,
    /// Their validity bitmaps (Arrow's layout, bit set = present).
    pub valid: Vec<Option<&'a [u32]>>,
    /// Hashed columns, `EngineConfig::hashed` of them.
    pub hashes: Vec<&'a [u64]>,
    /// Their validity bitmaps.
    pub hash_valid: Vec<Option<&'a [u32]>>,
}

/// What one [`Engine::push`] gives back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pushed {
    /// Windows the watermark closed, by start, then group, finished.
    pub closed: Closed,
    /// Rows (indices into the batch) that arrived after all their windows closed.
    pub late: Vec<usize>,
}

/// Batch-local slot numbers of (window start, group) pairs.
#[derive(Debug, Default)]
struct SlotMap {
    /// Per window start: one slot per group id, `NO_SLOT` when unused.
    dense: Vec<(i64, Vec<u32>)>,
    /// Dense tables of earlier pieces, all `NO_SLOT`, for reuse.
    spare: Vec<Vec<u32>>,
    hashed: FastMap<(i64, u32), u32>,
    keys: Vec<(i64, u32)>,
    groups: usize,
    last: usize,
}

/// Most windows a piece numbers through dense tables before hashing.
const DENSE_WINDOWS: usize = 16;

impl SlotMap {
    fn reset(&mut self, groups: usize) {
        // Clear the cells the last piece used, not whole tables: a table is
        // as long as the group ids, a piece may use few of them.
        let mut w = 0;
        for &(start, group) in &self.keys {
            if self.dense.get(w).is_none_or(|(s, _)| *s != start) {
                match self.dense.iter().position(|(s, _)| *s == start) {
                    Some(i) => w = i,
                    None => continue,
                }
            }
            self.dense[w].1[group as usize] = NO_SLOT;
        }
        self.spare
            .extend(self.dense.drain(..).map(|(_, table)| table));
        self.hashed.clear();
        self.keys.clear();
        self.groups = groups;
        self.last = 0;
    }

    #[inline]
    fn slot(&mut self, start: i64, group: u32) -> u32 {
        let w = match self.dense.get(self.last) {
            Some((s, _)) if *s == start => Some(self.last),
            _ => match self.dense.iter().position(|(s, _)| *s == start) {
                Some(i) => Some(i),
                None if self.dense.len() < DENSE_WINDOWS && self.groups <= 1 << 24 => {
                    let mut table = self.spare.pop().unwrap_or_default();
                    table.resize(table.len().max(self.groups), NO_SLOT);
                    self.dense.push((start, table));
                    Some(self.dense.len() - 1)
                }
                None => None,
            },
        };
        let next = self.keys.len() as u32;
        if let Some(w) = w {
            self.last = w;
            let cell = &mut self.dense[w].1[group as usize];
            if *cell == NO_SLOT {
                *cell = next;
                self.keys.push((start, group));
            }
            *cell
        } else {
            *self.hashed.entry((start, group)).or_insert_with(|| {
                self.keys.push((start, group));
                next
            })
        }
    }
}

/// Closed windows' stores kept for reuse: with data in time order, more than
/// the windows one piece opens (a million rows over a million keys open
/// six or seven 1-minute windows). A store not kept is allocated anew for
/// the next window and grows again from nothing, faulting in fresh pages:
/// with 4 kept, that was a sixth of the CPU time at a million keys. Kept
/// stores count towards the memory limit, and are let go before it fails.
const SPARE_STORES: usize = 16;

/// How many slots ahead a window store's entry is prefetched before it is
/// merged.
const PREFETCH_SLOTS: usize = 8;

/// Most cells the dense indexes of open windows take together (256 MiB);
/// windows beyond it index their groups by hashing.
const DENSE_CELLS: usize = 1 << 26;

/// The store of the open window at `start`, opened (from `spare` when one is
/// there) if it is not. `groups` is one more than the largest group id of
/// the piece: the length its dense index would have.
fn open_store<'a>(
    open: &'a mut BTreeMap<i64, WindowStore>,
    spare: &mut Vec<WindowStore>,
    start: i64,
    groups: usize,
) -> &'a mut WindowStore {
    if !open.contains_key(&start) {
        let cells: usize = open.values().map(WindowStore::dense_cells).sum();
        let dense = cells.saturating_add(groups) <= DENSE_CELLS;
        let store = match spare.iter().position(|s| s.is_dense() == dense) {
            Some(i) => spare.swap_remove(i),
            None => WindowStore::new(dense),
        };
        open.insert(start, store);
    }
    open.get_mut(&start).expect("inserted above")
}

/// A session window of one group.
#[derive(Debug, Clone)]
struct Session {
    group: u32,
    start: i64,
    last: i64,
    /// The session this one was merged into (itself when it is a root).
    parent: u32,
}

/// The window engine; see the module docs.
pub struct Engine {
    config: EngineConfig,
    backend: Box<dyn Aggregator>,
    state: AggState,
    max_ts: Option<i64>,
    /// Open tumbling/hopping windows, by start.
    open: BTreeMap<i64, WindowStore>,
    /// Stores of closed windows, empty, for reuse.
    spare_stores: Vec<WindowStore>,
    /// Sessions ever opened; roots with an accumulator are open.
    sessions: Vec<Session>,
    session_accs: FastMap<u32, SlotAcc>,
    open_sessions: FastMap<u32, Vec<u32>>,
    map: SlotMap,
    /// Every pass's slots of the piece, pass after pass.
    slots: Vec<u32>,
    /// Every pass's (window start, group) of each slot, by slot.
    pass_keys: Vec<Vec<(i64, u32)>>,
    late: Vec<bool>,
    /// Bytes of state past which [`Engine::push`] fails (see `memory.rs`).
    memory_limit: Option<u64>,
    /// The sketches of the piece's slots.
    sketches: BatchSketches,
    /// Hopping windows: the first window not yet closed.
    next_window: Option<i64>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .field("backend", &self.backend.label())
            .field("watermark", &self.watermark())
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine aggregating on `backend`.
    ///
    /// # Errors
    /// [`KernelError::InvalidConfig`] for a bad window or a negative lateness.
    pub fn new(mut config: EngineConfig, backend: Box<dyn Aggregator>) -> Result<Self> {
        config.window.validate()?;
        if config.lateness < 0 {
            return Err(KernelError::InvalidConfig(
                "the allowed lateness must not be negative".into(),
            ));
        }
        let limit = backend.max_rows(config.columns as u32);
        config.batch_rows = (config.batch_rows.min(limit) / 32 * 32).max(32);
        Ok(Engine {
            config,
            backend,
            state: AggState::default(),
            max_ts: None,
            open: BTreeMap::new(),
            spare_stores: Vec::new(),
            sessions: Vec::new(),
            session_accs: FastMap::default(),
            open_sessions: FastMap::default(),
            map: SlotMap::default(),
            slots: Vec::new(),
            pass_keys: Vec::new(),
            late: Vec::new(),
            memory_limit: None,
            sketches: BatchSketches::default(),
            next_window: None,
        })
    }

    /// Sets the bytes of state past which [`Engine::push`] fails with
    /// [`KernelError::MemoryLimit`] (`None`, the default: no limit). The
    /// state is checked after every piece of at most
    /// [`Engine::batch_rows`] rows.
    pub fn set_memory_limit(&mut self, bytes: Option<u64>) {
        self.memory_limit = bytes;
    }

    /// Bytes of state the engine holds between batches: the open windows'
    /// stores or sessions, the stores kept for reuse and the batch state.
    pub fn state_bytes(&self) -> u64 {
        let stores: usize = self
            .open
            .values()
            .chain(&self.spare_stores)
            .map(WindowStore::bytes)
            .sum();
        let sessions = self
            .session_accs
            .values()
            .map(|acc| size_of::<(u32, SlotAcc)>() + acc.heap_bytes())
            .sum::<usize>()
            + self.sessions.capacity() * size_of::<Session>();
        let batch = 4 * self.state.words.capacity() + self.sketches.bytes();
        (stores + sessions + batch) as u64
    }

    /// Open (window, group) slots: groups of the open windows, or open
    /// sessions.
    pub fn open_slots(&self) -> u64 {
        (self.open.values().map(WindowStore::entries).sum::<usize>() + self.session_accs.len())
            as u64
    }

    /// Lets go of the stores kept for reuse (they count towards
    /// [`Engine::state_bytes`]).
    pub fn release_spare_stores(&mut self) {
        self.spare_stores = Vec::new();
    }

    /// [`KernelError::MemoryLimit`] when the state is over the limit, the
    /// stores kept for reuse let go first.
    fn check_memory(&mut self) -> Result<()> {
        let Some(limit) = self.memory_limit else {
            return Ok(());
        };
        if self.state_bytes() > limit {
            self.release_spare_stores();
        }
        let state = self.state_bytes();
        if state > limit {
            return Err(KernelError::MemoryLimit {
                state,
                slots: self.open_slots(),
                limit,
            });
        }
        Ok(())
    }

    /// What every group's state holds.
    fn shape(&self) -> Shape {
        Shape {
            columns: self.config.columns,
            hashed: self.config.hashed,
            pct: self.config.pct_columns as usize,
            first_last: self.config.first_last,
        }
    }

    /// Rows one aggregation call takes at most.
    pub fn batch_rows(&self) -> usize {
        self.config.batch_rows
    }

    /// The backend's label.
    pub fn backend_label(&self) -> String {
        self.backend.label()
    }

    /// True when the backend is the GPU.
    pub fn is_gpu(&self) -> bool {
        self.backend.is_gpu()
    }

    /// The watermark: the largest event time seen minus the lateness.
    pub fn watermark(&self) -> Option<i64> {
        self.max_ts.map(|t| t.saturating_sub(self.config.lateness))
    }

    /// Adds a batch; returns the windows its watermark closed and its late rows.
    ///
    /// # Errors
    /// [`KernelError::Internal`] when the columns do not line up;
    /// [`KernelError::Gpu`] when the device fails.
    pub fn push<'a>(&mut self, batch: &Batch<'a>) -> Result<Pushed> {
        let rows = batch.ts.len();
        if batch.groups.len() != rows
            || batch.values.len() != self.config.columns
            || batch.valid.len() != self.config.columns
            || batch.hashes.len() != self.config.hashed
            || batch.hash_valid.len() != self.config.hashed
        {
            return Err(KernelError::Internal(
                "a batch that does not match the engine's columns".into(),
            ));
        }
        let mut pushed = Pushed::default();
        let step = self.config.batch_rows;
        let mut at = 0;
        while at < rows {
            let end = (at + step).min(rows);
            let words = |v: &Option<&'a [u32]>| v.map(|b| &b[at / 32..]);
            let piece = Batch {
                ts: &batch.ts[at..end],
                groups: &batch.groups[at..end],
                values: batch.values.iter().map(|v| &v[at..end]).collect(),
                valid: batch.valid.iter().map(words).collect(),
                hashes: batch.hashes.iter().map(|v| &v[at..end]).collect(),
                hash_valid: batch.hash_valid.iter().map(words).collect(),
            };
            self.piece(&piece)?;
            self.check_memory()?;
            pushed.late.extend(
                self.late
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| **l)
                    .map(|(i, _)| at + i),
            );
            at = end;
        }
        pushed.closed = self.close(self.watermark());
        Ok(pushed)
    }

    /// Closes every open window (the end of the input).
    pub fn finish(&mut self) -> Closed {
        self.close(None)
    }

    /// The kernels' input: the exact words only (the host builds the
    /// sketches).
    fn input<'a>(&self, piece: &'a Batch<'a>, slots: &'a [u32], slot_count: u32) -> AggInput<'a> {
        AggInput {
            slots,
            slot_count,
            ts: piece.ts,
            values: &piece.values,
            valid: &piece.valid,
            first_last: self.config.first_last,
            squares: self.config.aggs.iter().any(|a| a.func.needs_squares()),
        }
    }

    /// One piece of at most `batch_rows` rows.
    fn piece(&mut self, piece: &Batch<'_>) -> Result<()> {
        let rows = piece.ts.len();
        let groups = piece.groups.iter().max().map_or(0, |&g| g as usize + 1);
        self.late.clear();
        self.late.resize(rows, false);
        match self.config.window {
            WindowSpec::Tumbling { size } => self.fixed(piece, (size, size), (size, size), groups),
            WindowSpec::Hop { slide, size } => {
                self.fixed(piece, (slide, slide), (slide, size), groups)
            }
            WindowSpec::Session { gap } => self.sessions(piece, gap),
        }
    }

    /// Tumbling windows (`slide == size`) and the panes of hopping ones; a
    /// row is late once the last window that holds it, of `window` (slide,
    /// size), has closed.
    fn fixed(
        &mut self,
        piece: &Batch<'_>,
        (slide, size): (i64, i64),
        window: (i64, i64),
        groups: usize,
    ) -> Result<()> {
        let rows = piece.ts.len();
        let hops = size / slide;
        // The watermark before each row, as row-at-a-time processing sees it.
        let mut marks = Vec::with_capacity(rows);
        let mut max_ts = self.max_ts;
        for &t in piece.ts {
            marks.push(max_ts.map(|m| m.saturating_sub(self.config.lateness)));
            max_ts = Some(max_ts.map_or(t, |m| m.max(t)));
        }
        // Number the rows into slots once per window a row may fall into
        // (one pass for tumbling windows, `size / slide` for hopping ones),
        // then aggregate every pass in one call: the backend takes the
        // batch's columns once for all of them.
        let mut any = vec![false; rows];
        let mut slots = std::mem::take(&mut self.slots);
        slots.clear();
        let mut pass_keys = std::mem::take(&mut self.pass_keys);
        let mut counts = Vec::with_capacity(hops as usize);
        let (mut slides, mut windows) = (Floors::new(slide), Floors::new(window.0));
        for j in 0..hops {
            self.map.reset(groups);
            let before = slots.len();
            for (i, (&t, &g)) in piece.ts.iter().zip(piece.groups).enumerate() {
                let start = slides.of(t).saturating_sub(j * slide);
                let last_end = windows
                    .of(t)
                    .saturating_sub(j * slide)
                    .saturating_add(window.1);
                let open = marks[i].is_none_or(|w| last_end > w);
                if open {
                    any[i] = true;
                    slots.push(self.map.slot(start, g));
                } else {
                    slots.push(NO_SLOT);
                }
            }
            if self.map.keys.is_empty() {
                // Nothing of this pass is open: no pass at all.
                slots.truncate(before);
                continue;
            }
            counts.push(self.map.keys.len() as u32);
            let k = counts.len() - 1;
            if pass_keys.len() <= k {
                pass_keys.push(Vec::new());
            }
            pass_keys[k].clear();
            pass_keys[k].extend_from_slice(&self.map.keys);
        }
        let passes: Vec<SlotPass<'_>> = slots
            .chunks_exact(rows.max(1))
            .zip(&counts)
            .map(|(slots, &slot_count)| SlotPass { slots, slot_count })
            .collect();
        let mut state = std::mem::take(&mut self.state);
        let result = if passes.is_empty() {
            Ok(())
        } else {
            let input = self.input(piece, &[], 0);
            let shape = self.shape();
            let (open, spare) = (&mut self.open, &mut self.spare_stores);
            let sketches = &mut self.sketches;
            // Slots are numbered in order of appearance, so runs of them
            // share a window: one window lookup a run.
            let mut merge = |k: usize, state: &AggState| {
                let keys = &pass_keys[k];
                sketches.fill(passes[k].slots, keys.len(), piece, shape.pct);
                let mut s = 0;
                while s < keys.len() {
                    let start = keys[s].0;
                    let run = keys[s..].iter().take_while(|k| k.0 == start).count();
                    let store = open_store(open, spare, start, groups);
                    let end = s + run;
                    for (slot, &(_, g)) in keys.iter().enumerate().skip(s).take(run) {
                        if slot + 2 * PREFETCH_SLOTS < end {
                            store.prefetch_index(keys[slot + 2 * PREFETCH_SLOTS].1);
                        }
                        if slot + PREFETCH_SLOTS < end {
                            store.prefetch(shape, keys[slot + PREFETCH_SLOTS].1);
                        }
                        store.merge_slot(shape, g, (state, sketches), slot as u32, &piece.values);
                    }
                    s += run;
                }
            };
            self.backend
                .aggregate_passes(&input, &passes, &mut state, &mut merge)
        };
        drop(passes);
        self.state = state;
        self.slots = slots;
        self.pass_keys = pass_keys;
        result?;
        for (l, a) in self.late.iter_mut().zip(any) {
            *l = !a;
        }
        self.max_ts = max_ts;
        Ok(())
    }

    fn root(&mut self, mut s: u32) -> u32 {
        while self.sessions[s as usize].parent != s {
            let p = self.sessions[s as usize].parent;
            let gp = self.sessions[p as usize].parent;
            self.sessions[s as usize].parent = gp;
            s = p;
        }
        s
    }

    fn sessions(&mut self, piece: &Batch<'_>, gap: i64) -> Result<()> {
        let rows = piece.ts.len();
        let mut slot_of: FastMap<u32, u32> = FastMap::default();
        let mut keys: Vec<u32> = Vec::new();
        let mut slots = std::mem::take(&mut self.slots);
        slots.clear();
        slots.reserve(rows);
        let mut max_ts = self.max_ts;
        for (i, (&t, &g)) in piece.ts.iter().zip(piece.groups).enumerate() {
            let mark = max_ts.map(|m| m.saturating_sub(self.config.lateness));
            max_ts = Some(max_ts.map_or(t, |m| m.max(t)));
            if mark.is_some_and(|w| t < w) {
                self.late[i] = true;
                slots.push(NO_SLOT);
                continue;
            }
            let list = self.open_sessions.entry(g).or_default();
            let mut touching: Vec<u32> = list
                .iter()
                .copied()
                .filter(|&s| {
                    let s = &self.sessions[s as usize];
                    t > s.start.saturating_sub(gap) && t < s.last.saturating_add(gap)
                })
                .collect();
            let id = if touching.is_empty() {
                let id = self.sessions.len() as u32;
                self.sessions.push(Session {
                    group: g,
                    start: t,
                    last: t,
                    parent: id,
                });
                list.push(id);
                id
            } else {
                touching.sort_unstable();
                let root = touching[0];
                list.retain(|s| !touching[1..].contains(s));
                for &other in &touching[1..] {
                    let (start, last) = {
                        let o = &self.sessions[other as usize];
                        (o.start, o.last)
                    };
                    self.sessions[other as usize].parent = root;
                    let r = &mut self.sessions[root as usize];
                    r.start = r.start.min(start);
                    r.last = r.last.max(last);
                    if let Some(acc) = self.session_accs.remove(&other) {
                        self.session_accs
                            .entry(root)
                            .or_insert_with(|| SlotAcc::new(0, 0))
                            .merge_owned(acc);
                    }
                }
                let r = &mut self.sessions[root as usize];
                r.start = r.start.min(t);
                r.last = r.last.max(t);
                root
            };
            let next = keys.len() as u32;
            let slot = *slot_of.entry(id).or_insert_with(|| {
                keys.push(id);
                next
            });
            slots.push(slot);
        }
        let slot_count = keys.len() as u32;
        if slot_count > 0 {
            let mut state = std::mem::take(&mut self.state);
            let result = {
                let input = self.input(piece, &slots, slot_count);
                self.backend.aggregate(&input, &mut state)
            };
            if let Err(e) = result {
                self.state = state;
                self.slots = slots;
                return Err(e);
            }
            let shape = self.shape();
            self.sketches
                .fill(&slots, slot_count as usize, piece, shape.pct);
            for (s, &id) in keys.iter().enumerate() {
                let mut acc = SlotAcc::from_state(&state, s as u32, &piece.values);
                for (c, column) in acc.columns.iter_mut().enumerate().take(shape.pct) {
                    column.pct = Some(self.sketches.quantiles(s as u32, c));
                }
                acc.hll = (0..shape.hashed)
                    .map(|h| self.sketches.distinct(s as u32, h))
                    .collect();
                let root = self.root(id);
                self.session_accs
                    .entry(root)
                    .or_insert_with(|| SlotAcc::new(0, 0))
                    .merge_owned(acc);
            }
            self.state = state;
        }
        self.slots = slots;
        self.max_ts = max_ts;
        Ok(())
    }

    /// Closes the hopping windows that end at or before `mark` (all with
    /// `None`), each the merge of its panes, and drops the panes no open
    /// window holds.
    fn close_panes(&mut self, mark: Option<i64>, slide: i64, size: i64, out: &mut Closed) {
        let shape = self.shape();
        while let Some((&first, _)) = self.open.first_key_value() {
            // The first window not yet closed that holds the first pane: no
            // earlier one holds a row.
            let earliest = first
                .saturating_sub(size)
                .div_euclid(slide)
                .saturating_mul(slide)
                .saturating_add(slide);
            let start = self.next_window.map_or(earliest, |n| n.max(earliest));
            let end = start.saturating_add(size);
            if mark.is_some_and(|w| end > w) {
                break;
            }
            let mut window = self
                .spare_stores
                .pop()
                .unwrap_or_else(|| WindowStore::new(false));
            for pane in self.open.range(start..end).map(|(_, p)| p) {
                window.merge_store(shape, pane);
            }
            window.drain_into(shape, (start, end), &self.config.aggs, out);
            self.spare_stores.push(window);
            self.next_window = Some(start.saturating_add(slide));
            // Panes whose last window (the one starting at their own slide)
            // has closed.
            while let Some(entry) = self.open.first_entry() {
                if entry.key().div_euclid(slide).saturating_mul(slide) > start {
                    break;
                }
                let mut pane = entry.remove();
                pane.clear();
                if self.spare_stores.len() < SPARE_STORES {
                    self.spare_stores.push(pane);
                }
            }
        }
    }

    /// Closes the windows that end at or before `mark` (all with `None`).
    fn close(&mut self, mark: Option<i64>) -> Closed {
        let mut out = Closed::new(self.config.aggs.len());
        match self.config.window {
            WindowSpec::Hop { slide, size } => self.close_panes(mark, slide, size, &mut out),
            WindowSpec::Tumbling { size } => {
                while let Some(entry) = self.open.first_entry() {
                    let start = *entry.key();
                    let end = start.saturating_add(size);
                    if mark.is_some_and(|w| end > w) {
                        break;
                    }
                    let mut store = entry.remove();
                    store.drain_into(self.shape(), (start, end), &self.config.aggs, &mut out);
                    if self.spare_stores.len() < SPARE_STORES {
                        self.spare_stores.push(store);
                    }
                }
            }
            WindowSpec::Session { gap } => {
                let mut closed = Vec::new();
                for list in self.open_sessions.values_mut() {
                    list.retain(|&s| {
                        let end = self.sessions[s as usize].last.saturating_add(gap);
                        let close = mark.is_none_or(|w| end <= w);
                        if close {
                            closed.push(s);
                        }
                        !close
                    });
                }
                self.open_sessions.retain(|_, l| !l.is_empty());
                for s in closed {
                    let session = self.sessions[s as usize].clone();
                    let acc = self
                        .session_accs
                        .remove(&s)
                        .unwrap_or_else(|| SlotAcc::new(0, 0));
                    let key = WindowKey {
                        start: session.start,
                        end: session.last.saturating_add(gap),
                        group: session.group,
                    };
                    let aggs = &self.config.aggs;
                    out.push_with(key, |a| {
                        aggs.get(a)
                            .map_or(AggValue::Null, |s| acc.finish(s.func, s.column))
                    });
                }
                out.sort();
            }
        }
        out
    }
}
