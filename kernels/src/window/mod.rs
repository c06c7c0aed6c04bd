//! Window aggregation over event time: the engine, and the exact per-batch
//! state its two backends compute.
//!
//! The host ([`Engine`]) assigns each row to its windows (tumbling and hopping
//! windows aligned to the Unix epoch, session windows per key), keeps the
//! watermark (the largest event time seen minus the allowed lateness), sends
//! late rows to the caller, and numbers the (window, group) pairs of a batch as
//! dense *slots*. An [`Aggregator`] (the GPU kernel `shaders/aggregate.wgsl`
//! or its CPU twin `cpu/aggregate.rs`) turns the rows of a batch into integer
//! state per slot ([`layout`]); the host merges that state into the open
//! windows' flat stores (`store.rs`: one entry a group, no allocation per
//! group), hands each closed window's groups out as accumulators ([`acc`]),
//! and those finish in f64. Percentile and distinct-count sketches
//! ([`sketch`]) are built on the host from the rows and grow with the data,
//! not with the number of groups; [`memory`] bounds the whole state.
//!
//! GROUP BY keys reach the engine as dense `u32` group ids: the caller
//! dictionary-encodes strings and tuples of keys ([`keys`]), so the kernels
//! index state directly and never hash or compare strings.
//!
//! GPU strategy, at every cardinality: direct-indexed global atomics on the
//! slot's words. Slots are numbered per batch, so the state buffer holds at
//! most one slot per row of the batch (a batch is at most
//! [`Engine::batch_rows`] rows), whatever the number of groups: one key, ten
//! thousand or millions cost the same memory per batch, and a million keys
//! only make more slots to merge on the host. With few slots every
//! invocation contends for the same words; the atomics stay correct, only
//! slower (a workgroup-local privatised pass for small slot counts is the
//! obvious next step and is not done).

pub mod acc;
pub mod engine;
mod exact;
mod input;
pub mod keys;
pub mod layout;
pub mod memory;
mod result;
pub mod sketch;
pub mod spec;
mod store;

pub use acc::{ColumnAcc, SlotAcc};
pub use engine::{Batch, Engine, EngineConfig, Pushed};
pub use input::{AggInput, AggState, SlotPass};
pub use keys::{GroupIndex, KeyDictionary};
pub use result::{AggSlot, Closed, WindowKey};
pub use spec::{AggFunc, Floors, WindowSpec, parse_duration};

use crate::error::Result;

/// A backend that computes [`AggState`] from [`AggInput`]: the GPU kernel or
/// its CPU twin, bit for bit the same.
pub trait Aggregator: Send {
    /// A short description for logs, e.g. `cpu (2 threads)`.
    fn label(&self) -> String;

    /// True for the wgpu backend.
    fn is_gpu(&self) -> bool;

    /// Computes the state of one batch into `out` (replacing what it held).
    ///
    /// # Errors
    /// [`crate::KernelError::Gpu`] when the device fails;
    /// [`crate::KernelError::Internal`] for inputs that do not line up.
    fn aggregate(&mut self, input: &AggInput<'_>, out: &mut AggState) -> Result<()>;

    /// Computes the state of `input`'s rows once for every pass in `passes`,
    /// each numbering the rows into slots its own way (`input.slots` and
    /// `input.slot_count` are not read), and hands each pass's state to
    /// `each` (with the pass's index) before the next pass overwrites `out`.
    ///
    /// Hopping windows make one pass per window a row falls into; a backend
    /// that copies the batch to a device (the GPU) copies its columns once
    /// for all the passes, and only each pass's slots after that.
    ///
    /// # Errors
    /// As [`aggregate`](Aggregator::aggregate); `each` is not called for the
    /// failed pass or any after it.
    fn aggregate_passes(
        &mut self,
        input: &AggInput<'_>,
        passes: &[SlotPass<'_>],
        out: &mut AggState,
        each: &mut dyn FnMut(usize, &AggState),
    ) -> Result<()> {
        for (k, pass) in passes.iter().enumerate() {
            self.aggregate(&pass.of(input), out)?;
            each(k, out);
        }
        Ok(())
    }

    /// Most rows one call takes with these columns, every row possibly a
    /// slot of its own (the GPU's largest storage binding); the engine cuts
    /// batches to it.
    fn max_rows(&self, columns: u32) -> usize {
        let _ = columns;
        usize::MAX
    }
}
