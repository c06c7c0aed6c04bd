//! What became of the records of a stream read: the event time (and, for
//! session windows, a hash of the key values) of each row the chunker made,
//! so a consumer's checkpoint can move past records whose windows are
//! written.

use arrow::array::TimestampMicrosecondArray;
use arrow::record_batch::RecordBatch;

/// What became of the records pushed into the chunker since the last look:
/// the event time (and, for sessions, a hash of the key values) of each row
/// of its batches, in order, and the chunker lines it refused. Rows are the
/// records pushed, less the blank and the refused ones, in order.
#[derive(Debug, Default)]
pub(super) struct Trace {
    /// Whether key hashes are wanted (session windows).
    pub(super) with_keys: bool,
    pub(super) times: Vec<Option<i64>>,
    pub(super) keys: Vec<u64>,
    pub(super) bad: Vec<u64>,
    /// A batch without a readable time or key column went by.
    pub(super) unknown: bool,
}

impl Trace {
    /// Takes in the rows of one chunker batch.
    pub(super) fn rows(&mut self, batch: &RecordBatch, time_field: &str, keys: &[String]) {
        let times = batch
            .column_by_name(time_field)
            .and_then(|c| c.as_any().downcast_ref::<TimestampMicrosecondArray>());
        match times {
            Some(t) => self.times.extend(t.iter()),
            None => self.unknown = true,
        }
        if self.with_keys {
            match key_hashes(batch, keys) {
                Some(h) => self.keys.extend(h),
                None => self.unknown = true,
            }
        }
    }

    /// Empties it, for the next read.
    pub(super) fn take(&mut self) -> Trace {
        let with_keys = self.with_keys;
        std::mem::replace(
            self,
            Trace {
                with_keys,
                ..Trace::default()
            },
        )
    }
}

/// Per row of `batch`, a hash of the values of the columns `keys` (a
/// missing column counts as nulls); `None` when a column cannot be read as
/// text.
pub(super) fn key_hashes(batch: &RecordBatch, keys: &[String]) -> Option<Vec<u64>> {
    use std::hash::{BuildHasher as _, Hash as _, Hasher as _};
    let state = std::hash::RandomState::new();
    let mut hashers: Vec<_> = (0..batch.num_rows())
        .map(|_| state.build_hasher())
        .collect();
    for key in keys {
        let Some(column) = batch.column_by_name(key) else {
            hashers.iter_mut().for_each(|h| h.write_u8(0));
            continue;
        };
        let text = arrow::compute::cast(column, &arrow::datatypes::DataType::Utf8).ok()?;
        let text = text.as_any().downcast_ref::<arrow::array::StringArray>()?;
        for (h, value) in hashers.iter_mut().zip(text.iter()) {
            value.hash(h);
        }
    }
    Some(hashers.iter().map(std::hash::Hasher::finish).collect())
}
