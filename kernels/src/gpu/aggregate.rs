//! Host side of `shaders/aggregate.wgsl`: window aggregation state on the GPU.
//!
//! One [`aggregate`](Aggregator::aggregate) call is one upload of the batch's
//! columns (slots, times, f64 bits, validity bitmaps), one command
//! buffer with the init pass and passes A, B (and C for `first`/`last`) over
//! the rows, one copy of the state into the staging buffer and one readback.
//! Buffers grow to the largest batch seen and are reused, with their bind
//! group. The words are the CPU twin's (`cpu/aggregate.rs`) bit for bit.
//! [`aggregate_passes`](Aggregator::aggregate_passes) (hopping windows: one
//! slot numbering per overlapping window) uploads the columns once and then,
//! per pass, only its slots: one submission and one readback a pass.
//!
//! Strategy at every cardinality: one invocation a row, direct-indexed global
//! atomics on the row's slot; the host numbers slots per batch, so the state
//! is at most one slot a row whatever the number of groups (see
//! [`crate::window`]).

use std::sync::Arc;

use super::GpuContext;
use super::pipeline;
use super::readback::{Readback, wait_for};
use super::shaders::AGGREGATE_KERNEL;
use super::types::AggParams;
use crate::error::{KernelError, Result};
use crate::window::layout::slot_words;
use crate::window::{AggInput, AggState, Aggregator, SlotPass};

/// `shaders/aggregate.wgsl` (it needs none of the shared modules).
pub const SOURCE: &str = include_str!("../../../shaders/aggregate.wgsl");

/// Entry point that initialises the slot words.
pub const ENTRY_INIT: &str = "agg_init";
/// Entry point of pass A.
pub const ENTRY_A: &str = "agg_pass_a";
/// Entry point of pass B.
pub const ENTRY_B: &str = "agg_pass_b";
/// Entry point of pass C.
pub const ENTRY_C: &str = "agg_pass_c";
/// Every entry point, in the shader's order.
pub const ENTRIES: [&str; 4] = [ENTRY_INIT, ENTRY_A, ENTRY_B, ENTRY_C];

/// Invocations per workgroup (WGSL `WORKGROUP_SIZE`).
pub const WORKGROUP_SIZE: u32 = 256;

/// A storage buffer that grows to the largest size asked of it.
#[derive(Debug, Default)]
struct Grown {
    buffer: Option<wgpu::Buffer>,
}

impl Grown {
    /// The buffer, at least `size` bytes; true when it was (re)created.
    fn ensure(
        &mut self,
        device: &wgpu::Device,
        label: &'static str,
        size: u64,
        usage: wgpu::BufferUsages,
    ) -> bool {
        let size = size.max(16).next_multiple_of(16);
        if self.buffer.as_ref().is_some_and(|b| b.size() >= size) {
            return false;
        }
        self.buffer = Some(device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: size.next_power_of_two(),
            usage: usage | wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        }));
        true
    }

    fn get(&self) -> &wgpu::Buffer {
        self.buffer.as_ref().expect("ensure() ran before")
    }
}

/// The GPU aggregation backend.
#[derive(Debug)]
pub struct GpuAggregator {
    ctx: Arc<GpuContext>,
    layout: wgpu::BindGroupLayout,
    init: wgpu::ComputePipeline,
    pass_a: wgpu::ComputePipeline,
    pass_b: wgpu::ComputePipeline,
    pass_c: wgpu::ComputePipeline,
    params: wgpu::Buffer,
    slots: Grown,
    ts: Grown,
    values: Grown,
    valid: Grown,
    state: Grown,
    bind_group: Option<wgpu::BindGroup>,
    readback: Readback,
    /// Largest binding, in bytes.
    bind_limit: u64,
    max_dim: u32,
    scratch: Vec<u32>,
    /// The last batch's dispatch.
    last: Option<Dispatch>,
}

/// Workgroups `(x, y)` covering `items` invocations.
fn grid(items: u64, max_dim: u32) -> Result<(u32, u32)> {
    let groups = items.div_ceil(u64::from(WORKGROUP_SIZE)).max(1);
    let max = u64::from(max_dim.max(1));
    let x = groups.min(max);
    let y = groups.div_ceil(x);
    if y > max {
        return Err(KernelError::Gpu(format!(
            "{items} invocations are more than one dispatch holds"
        )));
    }
    Ok((x as u32, y as u32))
}

impl GpuAggregator {
    /// Opens the preferred adapter and builds the pipelines.
    ///
    /// # Errors
    /// [`KernelError::NoAdapter`], [`KernelError::DeviceRequest`] or
    /// [`KernelError::Gpu`], as [`GpuContext::new`] and pipeline creation fail.
    pub fn open() -> Result<Self> {
        Self::new(Arc::new(GpuContext::new()?))
    }

    /// Builds the pipelines on a context the caller opened.
    ///
    /// # Errors
    /// [`KernelError::Gpu`] when a pipeline fails to build.
    pub fn new(ctx: Arc<GpuContext>) -> Result<Self> {
        let device = ctx.device();
        let limits = ctx.limits();
        let built = ctx.scoped(|| {
            let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some("osprey aggregate bind group layout"),
                entries: &AGGREGATE_KERNEL.layout_entries(),
            });
            let module = pipeline::module(device, "osprey aggregate shader", SOURCE);
            let make = |entry: &str| {
                pipeline::compute(device, "osprey aggregate", &layout, &module, entry)
            };
            let (init, a, b, c) = (
                make(ENTRY_INIT),
                make(ENTRY_A),
                make(ENTRY_B),
                make(ENTRY_C),
            );
            let params = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("osprey aggregate params"),
                size: size_of::<AggParams>() as u64,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            Ok((layout, init, a, b, c, params))
        })?;
        let (layout, init, pass_a, pass_b, pass_c, params) = built;
        Ok(GpuAggregator {
            layout,
            init,
            pass_a,
            pass_b,
            pass_c,
            params,
            slots: Grown::default(),
            ts: Grown::default(),
            values: Grown::default(),
            valid: Grown::default(),
            state: Grown::default(),
            bind_group: None,
            readback: Readback::new("osprey aggregate staging"),
            bind_limit: limits
                .max_storage_buffer_binding_size
                .min(limits.max_buffer_size),
            max_dim: limits.max_compute_workgroups_per_dimension,
            scratch: Vec::new(),
            last: None,
            ctx,
        })
    }

    /// The adapter this backend runs on.
    pub fn context(&self) -> &Arc<GpuContext> {
        &self.ctx
    }

    fn run(&mut self, input: &AggInput<'_>, out: &mut AggState) -> Result<()> {
        self.load(input, input.slot_count)?;
        self.pass(input, out)
    }

    /// Sizes the buffers for `input`'s rows and up to `max_slots` slots, and
    /// uploads its columns (times, values, validity): everything a
    /// [`pass`](Self::pass) reads but the slots.
    fn load(&mut self, input: &AggInput<'_>, max_slots: u32) -> Result<()> {
        let device = self.ctx.device();
        let queue = self.ctx.queue();
        let rows = input.slots.len();
        let columns = input.values.len() as u32;
        let words = slot_words(columns);
        let slots = u64::from(max_slots);
        let state_bytes = slots * u64::from(words) * 4;
        let valid_words = rows.div_ceil(32).max(1);
        let sizes = [
            ("values", rows as u64 * u64::from(columns) * 8),
            ("state", state_bytes),
        ];
        for (what, bytes) in sizes {
            if bytes > self.bind_limit {
                return Err(KernelError::Gpu(format!(
                    "a batch of {rows} rows needs {bytes} bytes of {what}, more than the adapter binds at once ({} bytes)",
                    self.bind_limit
                )));
            }
        }
        let storage = wgpu::BufferUsages::empty();
        let copy_src = wgpu::BufferUsages::COPY_SRC;
        let mut changed = false;
        changed |= self
            .slots
            .ensure(device, "osprey aggregate slots", rows as u64 * 4, storage);
        changed |= self
            .ts
            .ensure(device, "osprey aggregate times", rows as u64 * 8, storage);
        changed |= self
            .values
            .ensure(device, "osprey aggregate values", sizes[0].1, storage);
        let valid_bytes = (u64::from(columns) * valid_words as u64) * 4;
        changed |= self
            .valid
            .ensure(device, "osprey aggregate validity", valid_bytes, storage);
        changed |= self
            .state
            .ensure(device, "osprey aggregate state", state_bytes, copy_src);
        if changed || self.bind_group.is_none() {
            let entries = [
                pipeline::whole_binding(const { AGGREGATE_KERNEL.number("params") }, &self.params),
                pipeline::whole_binding(
                    const { AGGREGATE_KERNEL.number("slots") },
                    self.slots.get(),
                ),
                pipeline::whole_binding(const { AGGREGATE_KERNEL.number("ts") }, self.ts.get()),
                pipeline::whole_binding(
                    const { AGGREGATE_KERNEL.number("values") },
                    self.values.get(),
                ),
                pipeline::whole_binding(
                    const { AGGREGATE_KERNEL.number("valid") },
                    self.valid.get(),
                ),
                pipeline::whole_binding(
                    const { AGGREGATE_KERNEL.number("state") },
                    self.state.get(),
                ),
            ];
            self.bind_group = Some(device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("osprey aggregate bind group"),
                layout: &self.layout,
                entries: &entries,
            }));
        }

        if input.first_last && !input.ts.is_empty() {
            queue.write_buffer(self.ts.get(), 0, bytemuck::cast_slice(input.ts));
        }
        for (c, v) in input.values.iter().enumerate() {
            if !v.is_empty() {
                queue.write_buffer(
                    self.values.get(),
                    (c * rows * 8) as u64,
                    bytemuck::cast_slice(v),
                );
            }
        }
        for (i, bitmap) in input.valid.iter().enumerate() {
            let at = (i * valid_words * 4) as u64;
            match bitmap {
                Some(b) => queue.write_buffer(
                    self.valid.get(),
                    at,
                    bytemuck::cast_slice(&b[..valid_words.min(b.len())]),
                ),
                None => {
                    self.scratch.clear();
                    self.scratch.resize(valid_words, u32::MAX);
                    queue.write_buffer(self.valid.get(), at, bytemuck::cast_slice(&self.scratch));
                }
            }
        }
        Ok(())
    }

    /// Runs the passes over the columns [`load`](Self::load) put on the
    /// device, with `input`'s slots, and reads the state back into `out`.
    fn pass(&mut self, input: &AggInput<'_>, out: &mut AggState) -> Result<()> {
        let device = self.ctx.device();
        let queue = self.ctx.queue();
        let rows = input.slots.len();
        let columns = input.values.len() as u32;
        let words = slot_words(columns);
        let slots = u64::from(input.slot_count);
        let state_bytes = slots * u64::from(words) * 4;
        let valid_words = rows.div_ceil(32).max(1);
        let params = AggParams {
            rows: rows as u32,
            slot_count: input.slot_count,
            columns,
            slot_words: words,
            valid_words: valid_words as u32,
            first_last: u32::from(input.first_last),
            squares: u32::from(input.squares),
            ..AggParams::default()
        };
        queue.write_buffer(&self.params, 0, bytemuck::bytes_of(&params));
        queue.write_buffer(self.slots.get(), 0, bytemuck::cast_slice(input.slots));
        let dispatch = Dispatch {
            row_grid: grid(rows as u64, self.max_dim)?,
            init_grid: grid(slots * u64::from(words), self.max_dim)?,
            first_last: input.first_last,
        };
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("osprey aggregate"),
        });
        self.encode_passes(&mut encoder, &dispatch);
        self.last = Some(dispatch);
        let total = state_bytes;
        let staging = self.readback.target(device, total);
        encoder.copy_buffer_to_buffer(
            self.state.get(),
            0,
            staging,
            0,
            Some(state_bytes.next_multiple_of(4).max(4)),
        );
        let submission = queue.submit([encoder.finish()]);
        wait_for(device, submission)?;
        let sw = (state_bytes / 4) as usize;
        out.columns = columns;
        out.slots = input.slot_count;
        self.readback.read(device, total, |bytes| {
            let all: &[u32] =
                bytemuck::cast_slice(&bytes[..(total as usize).max(4).next_multiple_of(4)]);
            out.words.clear();
            out.words.extend_from_slice(&all[..sw]);
        })
    }
}

impl GpuAggregator {
    /// Records the init pass and passes A, B (and C) of a batch.
    fn encode_passes(&self, encoder: &mut wgpu::CommandEncoder, d: &Dispatch) {
        let bind_group = self.bind_group.as_ref().expect("made before any dispatch");
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("osprey aggregate passes"),
            timestamp_writes: None,
        });
        pass.set_bind_group(0, bind_group, &[]);
        pass.set_pipeline(&self.init);
        pass.dispatch_workgroups(d.init_grid.0, d.init_grid.1, 1);
        pass.set_pipeline(&self.pass_a);
        pass.dispatch_workgroups(d.row_grid.0, d.row_grid.1, 1);
        pass.set_pipeline(&self.pass_b);
        pass.dispatch_workgroups(d.row_grid.0, d.row_grid.1, 1);
        if d.first_last {
            pass.set_pipeline(&self.pass_c);
            pass.dispatch_workgroups(d.row_grid.0, d.row_grid.1, 1);
        }
    }

    /// Runs the passes of the last batch again on the columns already on the
    /// device (no upload, no readback; the state is recomputed in place, to
    /// the same words) and returns the time from submission to completion:
    /// the kernels' throughput with the data resident, for benchmarks.
    ///
    /// # Errors
    /// [`KernelError::Internal`] before any batch;
    /// [`KernelError::Gpu`] when the device fails.
    pub fn rerun_resident(&mut self) -> Result<std::time::Duration> {
        let Some(d) = self.last.clone() else {
            return Err(KernelError::Internal(
                "no batch on the device to run again".into(),
            ));
        };
        let ctx = Arc::clone(&self.ctx);
        ctx.scoped(|| {
            let mut encoder =
                ctx.device()
                    .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                        label: Some("osprey aggregate (resident)"),
                    });
            self.encode_passes(&mut encoder, &d);
            let started = std::time::Instant::now();
            let submission = ctx.queue().submit([encoder.finish()]);
            wait_for(ctx.device(), submission)?;
            Ok(started.elapsed())
        })
    }
}

/// The dispatch of one batch, kept to run it again ([`GpuAggregator::rerun_resident`]).
#[derive(Debug, Clone)]
struct Dispatch {
    row_grid: (u32, u32),
    init_grid: (u32, u32),
    first_last: bool,
}

impl Aggregator for GpuAggregator {
    fn label(&self) -> String {
        let s = self.ctx.summary();
        format!("gpu: {} ({})", s.name, s.backend_name())
    }

    fn is_gpu(&self) -> bool {
        true
    }

    fn max_rows(&self, columns: u32) -> usize {
        let per_row = (u64::from(slot_words(columns)) * 4)
            .max(u64::from(columns) * 8)
            .max(8);
        usize::try_from(self.bind_limit / per_row).unwrap_or(usize::MAX)
    }

    fn aggregate(&mut self, input: &AggInput<'_>, out: &mut AggState) -> Result<()> {
        input.check()?;
        if input.slot_count == 0 || input.slots.is_empty() {
            out.reset_for(input);
            return Ok(());
        }
        let ctx = Arc::clone(&self.ctx);
        ctx.scoped(|| self.run(input, out))
    }

    fn aggregate_passes(
        &mut self,
        input: &AggInput<'_>,
        passes: &[SlotPass<'_>],
        out: &mut AggState,
        each: &mut dyn FnMut(usize, &AggState),
    ) -> Result<()> {
        let gpu_passes = |p: &SlotPass<'_>| p.slot_count > 0 && !p.slots.is_empty();
        let Some(max_slots) = passes
            .iter()
            .filter(|p| gpu_passes(p))
            .map(|p| p.slot_count)
            .max()
        else {
            // Nothing for the device: the states before any row.
            for (k, pass) in passes.iter().enumerate() {
                self.aggregate(&pass.of(input), out)?;
                each(k, out);
            }
            return Ok(());
        };
        for pass in passes {
            pass.of(input).check()?;
        }
        let ctx = Arc::clone(&self.ctx);
        ctx.scoped(|| {
            // The columns once; then per pass only its slots.
            self.load(&passes[0].of(input), max_slots)?;
            for (k, pass) in passes.iter().enumerate() {
                let input = pass.of(input);
                if gpu_passes(pass) {
                    self.pass(&input, out)?;
                } else {
                    out.reset_for(&input);
                }
                each(k, out);
            }
            Ok(())
        })
    }
}
