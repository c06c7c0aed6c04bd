//! What the aggregation backends take and give: one batch's rows numbered
//! into slots ([`AggInput`], one numbering a [`SlotPass`]) and the integer
//! state per slot ([`AggState`]), with the checks both backends share. A
//! leaf of the window engine: the CPU twin and the GPU host both build on it.

use super::layout::{self, NO_SLOT};
use crate::error::{KernelError, Result};

/// One batch of rows as the aggregation kernels take it.
///
/// Validity bitmaps are Arrow's: bit `row % 32` of word `row / 32` is set when
/// the value is present; `None` means every value is.
#[derive(Debug, Clone, Copy)]
pub struct AggInput<'a> {
    /// The slot of every row, or [`layout::NO_SLOT`] for rows this pass skips.
    pub slots: &'a [u32],
    /// Slots in this batch; every slot id is below it.
    pub slot_count: u32,
    /// Event times (microseconds), one a row; only read with `first_last`.
    pub ts: &'a [i64],
    /// The value columns.
    pub values: &'a [&'a [f64]],
    /// Their validity bitmaps.
    pub valid: &'a [Option<&'a [u32]>],
    /// Whether to find the first and last row by event time (pass C).
    pub first_last: bool,
    /// Whether to sum the squares (for `var` and `stddev` only): without
    /// them the words of the sum of squares stay zero, and each value costs
    /// about a third less.
    pub squares: bool,
}

impl AggInput<'_> {
    /// Checks that the columns line up with the slots.
    ///
    /// # Errors
    /// [`crate::KernelError::Internal`]: the engine builds these, so a mismatch is a bug.
    pub fn check(&self) -> Result<()> {
        let input = self;
        let rows = input.slots.len();
        let bad = |what: String| Err(KernelError::Internal(format!("aggregate input: {what}")));
        if u32::try_from(rows).is_err() {
            return bad(format!("{rows} rows in one batch"));
        }
        if input.first_last && input.ts.len() != rows {
            return bad(format!("{} times for {rows} rows", input.ts.len()));
        }
        if input.valid.len() != input.values.len() {
            return bad("a validity bitmap per column".into());
        }
        let words = rows.div_ceil(32);
        for (v, valid) in input.values.iter().zip(input.valid) {
            if v.len() != rows || valid.is_some_and(|b| b.len() < words) {
                return bad("a value column of another length".into());
            }
        }
        if let Some(s) = input
            .slots
            .iter()
            .find(|&&s| s != NO_SLOT && s >= input.slot_count)
        {
            return bad(format!("slot {s} of {}", input.slot_count));
        }
        Ok(())
    }
}

/// One numbering of a batch's rows into slots, for
/// [`Aggregator::aggregate_passes`](super::Aggregator::aggregate_passes).
#[derive(Debug, Clone, Copy)]
pub struct SlotPass<'a> {
    /// The slot of every row, or [`layout::NO_SLOT`] for rows this pass skips.
    pub slots: &'a [u32],
    /// Slots in this pass; every slot id is below it.
    pub slot_count: u32,
}

impl SlotPass<'_> {
    /// `input` with this pass's slots.
    pub fn of<'a>(&'a self, input: &AggInput<'a>) -> AggInput<'a> {
        AggInput {
            slots: self.slots,
            slot_count: self.slot_count,
            ..*input
        }
    }
}

/// The state of one batch: [`layout::slot_words`] words a slot. (Percentile
/// and distinct-count sketches are built on the host, in
/// [`super::sketch`], from the same rows.)
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AggState {
    /// Value columns.
    pub columns: u32,
    /// Slots.
    pub slots: u32,
    /// Slot words, slot-major.
    pub words: Vec<u32>,
}

impl AggState {
    /// Sets `self` to the state of `input` before any row: every slot's
    /// words at their initial values ([`layout::slot_init`]). Both backends
    /// start from it; with no slots it is empty.
    pub fn reset_for(&mut self, input: &AggInput<'_>) {
        let columns = input.values.len() as u32;
        let slots = input.slot_count as usize;
        let init = layout::slot_init(columns);
        self.columns = columns;
        self.slots = input.slot_count;
        self.words.clear();
        self.words.reserve(slots * init.len());
        for _ in 0..slots {
            self.words.extend_from_slice(&init);
        }
    }
}
