//! Which stream positions a consumer may checkpoint: those whose records are
//! all in windows already written.
//!
//! Each record read is noted with what it needs before all its windows
//! have closed (and so been written):
//!
//! - tumbling and hopping windows: the watermark at the end of the last
//!   window holding its event time, `floor(t / slide) * slide + size` (the
//!   engine closes a window once the watermark reaches its end);
//! - session windows, which grow with their group: the watermark at the
//!   last time seen in its group plus the gap, however late that is by
//!   then (no session of the group can be open past it). Groups are told
//!   apart by a hash of the key values.
//!
//! Per shard, the position after a record is safe once it and every record
//! of the shard before it have what they need; shards move on apart. So the
//! checkpoint lands on the first record of the earliest window still open in
//! each shard, and a restart re-reads only records of unwritten windows, as
//! long as each shard's records come in event-time order. A record that came
//! out of order (within the lateness) after one of a later window holds the
//! checkpoint back, and a restart re-reads the records after it, which may
//! write an earlier window again with just those records: at least once,
//! never lost.
//!
//! The rows of each batch are noted by their origin as they go into the
//! engine ([`Progress::rows`]); once a read's records are all in, each is
//! noted in its shard's order ([`Progress::read`]) with its row, or with
//! none: records that were refused or blank need nothing of their own.
//! Rows WHERE drops still wait for their windows, as do rows the engine
//! refuses; late rows went to the error output as they came and need no
//! more than their (closed) windows. A row whose time cannot be read waits
//! for the end of the run.

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash as _, Hasher as _};

use arrow::array::{Array as _, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use osprey_ingest::chunk::Origin;
use osprey_ingest::store::Checkpoint;
use osprey_kernels::window::WindowSpec;

/// A record's row, as far as the checkpoint is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowTime {
    /// Its event time (µs).
    pub time: i64,
    /// A hash of its key values (sessions tell groups apart by it).
    pub key: u64,
}

/// What the records of a stretch of a shard wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Nothing: no row.
    Nothing,
    /// The watermark at this time.
    Watermark(i64),
    /// The watermark at the last time of this group plus the gap.
    Group(u64),
    /// The end of the run.
    End,
}

/// Tracks which positions of a stream are safe to checkpoint; see the module docs.
#[derive(Debug)]
pub struct Progress {
    window: WindowSpec,
    /// The positions found safe so far (at first, where the read started).
    safe: Checkpoint,
    /// Per shard: (position after a stretch of records, what they need).
    shards: HashMap<String, VecDeque<(u64, Need)>>,
    /// Sessions: the largest time seen per group.
    last: HashMap<u64, i64>,
    /// The rows noted by [`Progress::rows`] whose records are not read yet,
    /// by shard and sequence number (`None`: a row whose time is unknown).
    noted: HashMap<(String, u64), Option<RowTime>>,
}

impl Progress {
    /// A tracker for windows `window` of a read that started at `start`.
    pub fn new(window: WindowSpec, start: Checkpoint) -> Self {
        Progress {
            window,
            safe: start,
            shards: HashMap::new(),
            last: HashMap::new(),
            noted: HashMap::new(),
        }
    }

    /// Notes the rows of `batch` that came from stream records, by their
    /// `origins` (row `i`'s is entry `i`): their event time in `time_field`
    /// and, for sessions, a hash of their `keys`' values.
    pub fn rows(
        &mut self,
        batch: &RecordBatch,
        origins: &[Origin],
        time_field: &str,
        keys: &[String],
    ) {
        let times = batch
            .column_by_name(time_field)
            .and_then(|c| c.as_any().downcast_ref::<TimestampMicrosecondArray>());
        let hashes = if self.needs_keys() {
            key_hashes(batch, keys)
        } else {
            Some(vec![0; batch.num_rows()])
        };
        for (row, origin) in origins.iter().enumerate() {
            let Origin::Stream { shard, seq } = origin else {
                continue;
            };
            let time = times
                .filter(|t| row < t.len() && t.is_valid(row))
                .map(|t| t.value(row));
            let key = hashes.as_ref().and_then(|h| h.get(row).copied());
            let row = time.zip(key).map(|(time, key)| RowTime { time, key });
            self.noted.insert((shard.clone(), *seq), row);
        }
    }

    /// The record at `seq` of `shard` is read and all the rows of its read
    /// are in the engine: it is noted with the row [`Progress::rows`] saw
    /// for it, or with none. Call it in the shard's order.
    pub fn read(&mut self, shard: &str, seq: u64) {
        match self.noted.remove(&(shard.to_owned(), seq)) {
            None => self.record(shard, seq, None),
            Some(None) => self.record_unknown(shard, seq),
            Some(row) => self.record(shard, seq, row),
        }
    }

    /// True for session windows, whose records need their key hashes.
    pub fn needs_keys(&self) -> bool {
        matches!(self.window, WindowSpec::Session { .. })
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

    /// The record at `seq` of `shard` is in the engine, with its row
    /// (`None`: it made none).
    pub fn record(&mut self, shard: &str, seq: u64, row: Option<RowTime>) {
        let need = match (row, self.window) {
            (None, _) => Need::Nothing,
            (Some(r), WindowSpec::Tumbling { size }) => {
                Need::Watermark(last_end(r.time, size, size))
            }
            (Some(r), WindowSpec::Hop { slide, size }) => {
                Need::Watermark(last_end(r.time, slide, size))
            }
            (Some(r), WindowSpec::Session { .. }) => {
                let last = self.last.entry(r.key).or_insert(r.time);
                *last = (*last).max(r.time);
                Need::Group(r.key)
            }
        };
        self.push(shard, seq, need);
    }

    /// The record at `seq` of `shard` is in the engine, but its row cannot
    /// be told: it waits for the end of the run.
    pub fn record_unknown(&mut self, shard: &str, seq: u64) {
        self.push(shard, seq, Need::End);
    }

    fn push(&mut self, shard: &str, seq: u64, need: Need) {
        let queue = self.shards.entry(shard.to_owned()).or_default();
        if let Some(back) = queue.back_mut() {
            // The stretch before must be safe first anyway: a record that
            // needs no more than it joins it.
            let joins = match (back.1, need) {
                (_, Need::Nothing) => true,
                (Need::Watermark(a), Need::Watermark(b)) => b <= a,
                (a, b) => a == b,
            };
            if joins {
                back.0 = seq + 1;
                return;
            }
        }
        queue.push_back((seq + 1, need));
    }

    /// The positions whose records, and all records before them in their
    /// shard, are in windows closed at `watermark`, when they moved since
    /// the last call.
    pub fn safe(&mut self, watermark: Option<i64>) -> Option<Checkpoint> {
        let gap = match self.window {
            WindowSpec::Session { gap } => gap,
            WindowSpec::Tumbling { .. } | WindowSpec::Hop { .. } => 0,
        };
        let reached = |t: i64| watermark.is_some_and(|w| w >= t);
        let mut moved = false;
        for (shard, queue) in &mut self.shards {
            while let Some(&(position, need)) = queue.front() {
                let ok = match need {
                    Need::Nothing => true,
                    Need::Watermark(t) => reached(t),
                    Need::Group(k) => reached(
                        self.last
                            .get(&k)
                            .copied()
                            .unwrap_or(i64::MAX)
                            .saturating_add(gap),
                    ),
                    Need::End => false,
                };
                if !ok {
                    break;
                }
                self.safe.insert(shard.clone(), position);
                queue.pop_front();
                moved = true;
            }
        }
        moved.then(|| self.safe.clone())
    }
}

/// Per row of `batch`, a hash of the values of the columns `keys` (a
/// missing column counts as nulls); `None` when a column cannot be read as
/// text. The hasher's keys are fixed, so a group hashes the same in every
/// batch.
fn key_hashes(batch: &RecordBatch, keys: &[String]) -> Option<Vec<u64>> {
    let mut hashers: Vec<std::hash::DefaultHasher> = (0..batch.num_rows())
        .map(|_| std::hash::DefaultHasher::new())
        .collect();
    for key in keys {
        let Some(column) = batch.column_by_name(key) else {
            hashers.iter_mut().for_each(|h| h.write_u8(0));
            continue;
        };
        let text = arrow::compute::cast(column, &DataType::Utf8).ok()?;
        let text = text.as_any().downcast_ref::<StringArray>()?;
        for (h, value) in hashers.iter_mut().zip(text.iter()) {
            value.hash(h);
        }
    }
    Some(hashers.iter().map(std::hash::Hasher::finish).collect())
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

    fn row(time: i64, key: u64) -> Option<RowTime> {
        Some(RowTime { time, key })
    }

    #[test]
    fn tumbling_positions_stop_at_the_first_record_of_an_open_window() {
        let mut p = Progress::new(WindowSpec::Tumbling { size: 10 }, at(&[(A, 0), (B, 0)]));
        p.record(A, 0, row(3, 0));
        p.record(A, 1, None); // refused: needs nothing of its own
        p.record(A, 2, row(15, 0));
        p.record(B, 7, row(-1, 0));
        assert_eq!(p.safe(None), None);
        assert_eq!(
            p.safe(Some(10)),
            Some(at(&[(A, 2), (B, 8)])),
            "[0, 10) and [-10, 0) closed, [10, 20) open"
        );
        assert_eq!(p.safe(Some(19)), None, "nothing moved");
        p.record(A, 3, row(4, 0)); // out of order: behind the record of [10, 20)
        assert_eq!(p.safe(Some(19)), None);
        assert_eq!(p.safe(Some(20)), Some(at(&[(A, 4), (B, 8)])));
        p.record_unknown(B, 8);
        p.record(B, 9, None);
        assert_eq!(
            p.safe(Some(i64::MAX)),
            None,
            "an unknown row waits for the end"
        );
    }

    #[test]
    fn rows_are_noted_by_origin_and_records_read_in_order() {
        use std::sync::Arc;

        use arrow::datatypes::{Field, Schema, TimeUnit};

        let ts = TimestampMicrosecondArray::from(vec![Some(3), Some(15), None]);
        let schema = Schema::new(vec![Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            true,
        )]);
        let batch = RecordBatch::try_new(Arc::new(schema), vec![Arc::new(ts)]).unwrap();
        let stream = |shard: &str, seq| Origin::Stream {
            shard: shard.into(),
            seq,
        };
        let mut p = Progress::new(WindowSpec::Tumbling { size: 10 }, at(&[(A, 0), (B, 0)]));
        p.rows(
            &batch,
            &[stream(A, 0), stream(A, 2), stream(B, 0)],
            "ts",
            &[],
        );
        p.read(A, 0);
        p.read(A, 1); // refused by the chunker: no row
        p.read(A, 2);
        p.read(B, 0); // a row without a time: waits for the end
        assert_eq!(p.safe(Some(10)), Some(at(&[(A, 2), (B, 0)])));
        assert_eq!(p.safe(Some(20)), Some(at(&[(A, 3), (B, 0)])));
        assert!(p.noted.is_empty(), "each noted row is taken once read");
    }

    #[test]
    fn a_group_hashes_alike_in_every_batch() {
        use std::sync::Arc;

        use arrow::datatypes::{Field, Schema};

        let batch = |k: &str| {
            let schema = Schema::new(vec![Field::new("k", DataType::Utf8, true)]);
            let column = StringArray::from(vec![Some(k), None]);
            RecordBatch::try_new(Arc::new(schema), vec![Arc::new(column)]).unwrap()
        };
        let keys = ["k".to_owned()];
        let a = key_hashes(&batch("a"), &keys).unwrap();
        assert_eq!(a, key_hashes(&batch("a"), &keys).unwrap());
        assert_ne!(a[0], key_hashes(&batch("b"), &keys).unwrap()[0]);
        assert_ne!(a[0], a[1], "null is a value of its own");
    }

    #[test]
    fn hopping_rows_wait_for_the_last_window_that_holds_them() {
        let mut p = Progress::new(WindowSpec::Hop { slide: 5, size: 15 }, Checkpoint::new());
        p.record(A, 0, row(7, 0));
        // 7 is in [-5, 10), [0, 15) and [5, 20).
        assert_eq!(p.safe(Some(19)), None);
        assert_eq!(p.safe(Some(20)), Some(at(&[(A, 1)])));
    }

    #[test]
    fn sessions_wait_for_the_last_time_of_their_group() {
        let mut p = Progress::new(WindowSpec::Session { gap: 10 }, Checkpoint::new());
        assert!(p.needs_keys());
        p.record(A, 0, row(0, 1));
        p.record(A, 1, row(5, 2));
        p.record(A, 2, row(40, 1));
        // Group 1's first session ended at 10, but the group's row at 40 may
        // have joined it as far as the tracker knows: wait for 50. Group 2's
        // ends at 15.
        assert_eq!(p.safe(Some(30)), None);
        p.record(B, 0, row(6, 2));
        assert_eq!(p.safe(Some(30)), Some(at(&[(B, 1)])));
        assert_eq!(p.safe(Some(50)), Some(at(&[(A, 3), (B, 1)])));
    }
}
