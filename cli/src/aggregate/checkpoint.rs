//! Which stream positions a consumer may checkpoint: those whose records are
//! all in windows already written.
//!
//! Tumbling and hopping windows: each record needs the watermark to reach
//! the end of the last window holding its event time, `floor(t / slide) *
//! slide + size` (the engine closes a window once the watermark reaches its
//! end). Per shard, the position after a record is safe once the watermark
//! has reached what it and every record of the shard before it need; shards
//! move on apart, so the checkpoint lands on the first record of the
//! earliest window still open in each shard. A restart then re-reads only
//! records of unwritten windows, as long as each shard's records come in
//! event-time order; a record that came out of order (within the lateness)
//! after one of a later window holds the checkpoint back, and a restart
//! re-reads the records after it, which may write an earlier window again
//! with just those records (at least once, never lost).
//!
//! Session windows grow with their group, so a record's need is known only
//! per group: the positions after a whole read are sealed with the groups
//! its rows touched, and are safe once, for each of those groups, the
//! watermark has reached the last time seen in the group plus the gap (no
//! session of the group can be open past that).
//!
//! Records that were refused, blank or filtered out need nothing; late rows
//! went to the error output as they came and need nothing more than their
//! (closed) windows.

use std::collections::{HashMap, VecDeque};

use osprey_ingest::store::Checkpoint;
use osprey_kernels::window::WindowSpec;

/// Tracks which positions of a stream are safe to checkpoint; see the module docs.
#[derive(Debug)]
pub struct Progress {
    window: WindowSpec,
    /// The positions found safe so far (at first, where the read started).
    safe: Checkpoint,
    /// Fixed windows, per shard: (position after a record, the largest need
    /// of the shard up to it), needs increasing.
    shards: HashMap<String, VecDeque<(u64, i64)>>,
    /// Sessions: the groups touched since the last seal.
    touched: Vec<u32>,
    /// Sessions: sealed positions and the groups they wait for.
    sealed: VecDeque<(Checkpoint, Vec<u32>)>,
    /// Sessions: the largest time seen per group.
    last: HashMap<u32, i64>,
}

impl Progress {
    /// A tracker for windows `window` of a read that started at `start`.
    pub fn new(window: WindowSpec, start: Checkpoint) -> Self {
        Progress {
            window,
            safe: start,
            shards: HashMap::new(),
            touched: Vec::new(),
            sealed: VecDeque::new(),
            last: HashMap::new(),
        }
    }

    /// True when needs are kept per record ([`Progress::record`]), false for
    /// sessions ([`Progress::rows`] and [`Progress::seal`]).
    pub fn per_record(&self) -> bool {
        !matches!(self.window, WindowSpec::Session { .. })
    }

    /// Notes a shard the read started at no position for (one made by a
    /// split or merge since), at its first sequence number: no record of it
    /// has been read before that.
    pub fn start_shard(&mut self, shard: &str, first_seq: u64) {
        self.safe.entry(shard.to_owned()).or_insert(first_seq);
    }

    /// True when the positions include `shard`.
    pub fn knows(&self, shard: &str) -> bool {
        self.safe.contains_key(shard)
    }

    /// Fixed windows: the record at `seq` of `shard` is in the engine, with
    /// the event time `time` (`None`: it made no row).
    pub fn record(&mut self, shard: &str, seq: u64, time: Option<i64>) {
        let (slide, size) = match self.window {
            WindowSpec::Tumbling { size } => (size, size),
            WindowSpec::Hop { slide, size } => (slide, size),
            WindowSpec::Session { .. } => return,
        };
        let need = time.map_or(i64::MIN, |t| last_end(t, slide, size));
        let queue = self.shards.entry(shard.to_owned()).or_default();
        let need = queue.back().map_or(need, |&(_, n)| n.max(need));
        match queue.back_mut() {
            Some(back) if back.1 == need => back.0 = seq + 1,
            _ => queue.push_back((seq + 1, need)),
        }
    }

    /// Sessions: rows pushed into the engine, their event times and groups.
    pub fn rows(&mut self, ts: &[i64], groups: &[u32]) {
        if self.per_record() {
            return;
        }
        for (&t, &g) in ts.iter().zip(groups) {
            let last = self.last.entry(g).or_insert(t);
            *last = (*last).max(t);
            self.touched.push(g);
        }
        self.touched.sort_unstable();
        self.touched.dedup();
    }

    /// Sessions: seals the rows noted since the last seal with the positions
    /// after them.
    pub fn seal(&mut self, positions: &Checkpoint) {
        if !self.per_record() {
            let touched = std::mem::take(&mut self.touched);
            self.sealed.push_back((positions.clone(), touched));
        }
    }

    /// The positions whose records, and all records before them, are in
    /// windows closed at `watermark`, when they moved since the last call.
    pub fn safe(&mut self, watermark: Option<i64>) -> Option<Checkpoint> {
        let reached = |need: i64| need == i64::MIN || watermark.is_some_and(|w| w >= need);
        let mut moved = false;
        if let WindowSpec::Session { gap } = self.window {
            while let Some((positions, groups)) = self.sealed.front() {
                let ok = groups.iter().all(|g| {
                    let last = self.last.get(g).copied().unwrap_or(i64::MIN);
                    watermark.is_some_and(|w| w >= last.saturating_add(gap))
                });
                if !ok {
                    break;
                }
                self.safe.clone_from(positions);
                self.sealed.pop_front();
                moved = true;
            }
        } else {
            for (shard, queue) in &mut self.shards {
                while let Some(&(position, need)) = queue.front() {
                    if !reached(need) {
                        break;
                    }
                    self.safe.insert(shard.clone(), position);
                    queue.pop_front();
                    moved = true;
                }
            }
        }
        moved.then(|| self.safe.clone())
    }
}

/// The end of the last window `[k * slide, k * slide + size)` holding `t`.
fn last_end(t: i64, slide: i64, size: i64) -> i64 {
    t.div_euclid(slide)
        .saturating_mul(slide)
        .saturating_add(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "shardId-000000000000";
    const B: &str = "shardId-000000000001";

    fn at(pairs: &[(&str, u64)]) -> Checkpoint {
        pairs.iter().map(|&(s, q)| (s.to_owned(), q)).collect()
    }

    #[test]
    fn tumbling_positions_stop_at_the_first_record_of_an_open_window() {
        let mut p = Progress::new(WindowSpec::Tumbling { size: 10 }, at(&[(A, 0), (B, 0)]));
        p.record(A, 0, Some(3));
        p.record(A, 1, None); // refused: needs nothing of its own
        p.record(A, 2, Some(15));
        p.record(B, 7, Some(-1));
        assert_eq!(p.safe(None), None);
        assert_eq!(
            p.safe(Some(10)),
            Some(at(&[(A, 2), (B, 8)])),
            "[0, 10) and [-10, 0) closed, [10, 20) open"
        );
        assert_eq!(p.safe(Some(19)), None, "nothing moved");
        p.record(A, 3, Some(4)); // out of order: behind the record of [10, 20)
        assert_eq!(p.safe(Some(19)), None);
        assert_eq!(p.safe(Some(20)), Some(at(&[(A, 4), (B, 8)])));
    }

    #[test]
    fn hopping_rows_wait_for_the_last_window_that_holds_them() {
        let mut p = Progress::new(WindowSpec::Hop { slide: 5, size: 15 }, Checkpoint::new());
        p.record(A, 0, Some(7));
        // 7 is in [-5, 10), [0, 15) and [5, 20).
        assert_eq!(p.safe(Some(19)), None);
        assert_eq!(p.safe(Some(20)), Some(at(&[(A, 1)])));
    }

    #[test]
    fn sessions_wait_for_every_group_they_touched() {
        let mut p = Progress::new(WindowSpec::Session { gap: 10 }, Checkpoint::new());
        assert!(!p.per_record());
        p.rows(&[0, 5], &[1, 2]);
        p.seal(&at(&[(A, 2)]));
        p.rows(&[40], &[1]);
        p.seal(&at(&[(A, 3)]));
        // Group 2's session ends at 15; group 1's first one at 10, but the
        // group has a row at 40 since, which may have joined it: wait for 50.
        assert_eq!(p.safe(Some(30)), None);
        assert_eq!(p.safe(Some(50)), Some(at(&[(A, 3)])));
        p.seal(&at(&[(A, 4)]));
        assert_eq!(
            p.safe(None),
            Some(at(&[(A, 4)])),
            "no rows, nothing to wait for"
        );
    }
}
