//! Host side of `shaders/blur.wgsl`: blurdetect and the Laplacian sums.
//!
//! Per frame four dispatches (Gaussian + Laplacian, Sobel, suppression,
//! threshold + widths) run one after another over scratch images sized for
//! the largest frame seen and reused; wgpu orders the dispatches of a pass
//! that write and read the same buffers. Each frame's sums land in its own
//! record of `results`, copied into this kernel's staging buffer in the
//! chunk's command buffer and read after the chunk's submission.
//!
//! The kernel keeps its own per-frame uniform ([`BlurFrame`]) and buffers, so
//! the backend only calls `BlurKernel::encode` before submitting and
//! `BlurKernel::read` after waiting.

use std::num::NonZeroU64;

use super::pipeline::{self, params_binding, whole_binding};
use super::shaders::BLUR_KERNEL;
use super::stage::{Chunk, Stage};
use super::types::{BlurFrame, WORKGROUP_SIZE};
use crate::error::{KernelError, Result};
use crate::kernel::{BlurBlock, BlurParams, FrameRaw};
use crate::setup::blur::BlurSetup;

/// `shaders/blur.wgsl` with its shared module prepended.
pub const SOURCE: &str = concat!(
    include_str!("../../../shaders/shared/frame.wgsl"),
    "\n",
    include_str!("../../../shaders/blur.wgsl"),
);

/// Entry points, in dispatch order.
pub const ENTRIES: [&str; 4] = ["blur_gauss", "blur_sobel", "blur_nms", "blur_edges"];

/// Side of the square tile one workgroup covers (WGSL `TILE`).
pub const TILE: u32 = 16;
/// Words of one block's record in the results (WGSL `BLOCK_WORDS`).
pub const BLOCK_WORDS: u32 = 4;
/// Words before a frame's block records: the Laplacian sum and sum of
/// squares as u32 pairs.
pub const HEADER_WORDS: u32 = 4;
/// Added to every Laplacian value on the GPU so that sums are unsigned
/// (WGSL `LAPLACIAN_BIAS`).
pub const LAPLACIAN_BIAS: i64 = 1020;

const _: () = assert!(TILE * TILE == WORKGROUP_SIZE);

/// One frame of the chunk being encoded.
#[derive(Debug, Clone, Copy)]
struct Planned {
    /// Dynamic offset of the frame's entries in `params` and `blur`.
    offset: u32,
    groups: (u32, u32),
    out_offset: u32,
    blocks: u32,
    laplacian_count: u64,
}

/// A buffer that grows to the largest size asked of it.
#[derive(Debug)]
struct Growing {
    label: &'static str,
    usage: wgpu::BufferUsages,
    buffer: Option<wgpu::Buffer>,
}

impl Growing {
    fn new(label: &'static str, usage: wgpu::BufferUsages) -> Self {
        Growing {
            label,
            usage,
            buffer: None,
        }
    }

    /// Makes room for `size` bytes; true when the buffer was (re)created.
    fn reserve(&mut self, device: &wgpu::Device, size: u64) -> bool {
        let size = size.max(16).next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT);
        if self.buffer.as_ref().is_some_and(|b| b.size() >= size) {
            return false;
        }
        // Rounded up to a power of two so that slowly growing frames do not
        // re-create it each time, but never past what the device binds.
        let limits = device.limits();
        let cap = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size)
            & !(wgpu::COPY_BUFFER_ALIGNMENT - 1);
        let size = size.next_power_of_two().min(cap).max(size);
        self.buffer = Some(device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(self.label),
            size,
            usage: self.usage,
            mapped_at_creation: false,
        }));
        true
    }

    fn get(&self) -> Result<&wgpu::Buffer> {
        self.buffer
            .as_ref()
            .ok_or_else(|| KernelError::Internal(format!("{} used before reserve", self.label)))
    }
}

/// The compiled blur kernel and its scratch.
#[derive(Debug)]
pub(crate) struct BlurKernel {
    setup: BlurSetup,
    layout: wgpu::BindGroupLayout,
    pipelines: Vec<wgpu::ComputePipeline>,
    frame_params: Growing,
    diagonal: wgpu::Buffer,
    images: [Growing; 3],
    results: Growing,
    bind_group: Option<wgpu::BindGroup>,
    planned: Vec<Planned>,
    param_bytes: Vec<u8>,
    result_words: u32,
}

impl BlurKernel {
    /// Compiles the shader for `params`.
    pub(crate) fn new(device: &wgpu::Device, params: &BlurParams) -> Self {
        use wgpu::BufferUsages as U;
        let setup = BlurSetup::new(params);
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("osprey blur bind group layout"),
            entries: &BLUR_KERNEL.layout_entries(),
        });
        let module = pipeline::module(device, "osprey blur shader", SOURCE);
        let pipelines = ENTRIES
            .iter()
            .map(|entry| pipeline::compute(device, entry, &layout, &module, entry))
            .collect();
        let table: &[u8] = bytemuck::cast_slice(setup.diagonal_widths());
        let diagonal = wgpu::util::DeviceExt::create_buffer_init(
            device,
            &wgpu::util::BufferInitDescriptor {
                label: Some("osprey blur diagonal widths"),
                contents: table,
                usage: U::STORAGE,
            },
        );
        let scratch = |label| Growing::new(label, U::STORAGE);
        BlurKernel {
            setup,
            layout,
            pipelines,
            frame_params: Growing::new("osprey blur frame params", U::UNIFORM | U::COPY_DST),
            diagonal,
            images: [
                scratch("osprey blur image"),
                scratch("osprey blur gradients"),
                scratch("osprey blur suppressed"),
            ],
            results: Growing::new(
                "osprey blur results",
                U::STORAGE | U::COPY_SRC | U::COPY_DST,
            ),
            bind_group: None,
            planned: Vec::new(),
            param_bytes: Vec::new(),
            result_words: 0,
        }
    }
}

impl Stage for BlurKernel {
    /// Plans the chunk's results and uniforms (frame `i`'s [`BlurFrame`] at
    /// the same dynamic offset as its
    /// [`FrameParams`](super::types::FrameParams)), grows, binds, uploads
    /// the uniforms and clears the results.
    ///
    /// # Errors
    /// When a frame needs more workgroups than the adapter dispatches, or its
    /// results more words than a u32 indexes.
    fn prepare(&mut self, chunk: &Chunk<'_>, encoder: &mut wgpu::CommandEncoder) -> Result<()> {
        let (device, queue, frames) = (chunk.device, chunk.queue, chunk.frames);
        let (params, frames_buffer) = (&chunk.buffers.params, &chunk.buffers.frames);
        let (rebind, param_stride, max_dim) = (chunk.rebind, chunk.param_stride, chunk.max_dim);
        // Plan: results layout, dispatch sizes, per-frame uniforms.
        self.planned.clear();
        self.param_bytes.clear();
        let stride = param_stride as usize;
        self.param_bytes.resize(frames.len() * stride, 0);
        let mut words = 0u64;
        let mut pixels = 0u64;
        for (i, (frame, entry)) in frames
            .iter()
            .zip(self.param_bytes.chunks_exact_mut(stride))
            .enumerate()
        {
            let (w, h) = (frame.width(), frame.height());
            let grid = self.setup.grid(w, h);
            let blocks = u32::try_from(grid.count())
                .map_err(|_| KernelError::Gpu(format!("{} blur blocks", grid.count())))?;
            let out_offset = u32::try_from(words)
                .map_err(|_| KernelError::Gpu("blur results past 2^32 words".into()))?;
            let groups = (w.div_ceil(TILE), h.div_ceil(TILE));
            if groups.0 > max_dim || groups.1 > max_dim {
                return Err(KernelError::Gpu(format!(
                    "a {w}x{h} frame needs more blur workgroups than the adapter dispatches"
                )));
            }
            let uniform = BlurFrame {
                block_width: grid.block_width,
                block_height: grid.block_height,
                cols: grid.cols,
                rows: grid.rows,
                out_offset,
                low: u32::from(self.setup.low),
                high: u32::from(self.setup.high),
                radius: self.setup.radius,
            };
            entry[..size_of::<BlurFrame>()].copy_from_slice(bytemuck::bytes_of(&uniform));
            let interior = |n: u32| u64::from(n.saturating_sub(2));
            self.planned.push(Planned {
                offset: chunk.dynamic_offset(i)?,
                groups,
                out_offset,
                blocks,
                laplacian_count: interior(w) * interior(h),
            });
            words += u64::from(HEADER_WORDS) + u64::from(blocks) * u64::from(BLOCK_WORDS);
            pixels = pixels.max(u64::from(w) * u64::from(h));
        }
        self.result_words = u32::try_from(words)
            .map_err(|_| KernelError::Gpu("blur results past 2^32 words".into()))?;
        let result_bytes = words * 4;

        // Buffers: grown when needed, then rebound.
        let mut grown = rebind || self.bind_group.is_none();
        grown |= self
            .frame_params
            .reserve(device, self.param_bytes.len() as u64);
        for image in &mut self.images {
            grown |= image.reserve(device, pixels * 4);
        }
        grown |= self.results.reserve(device, result_bytes);
        if grown {
            let [img, grad, nms] = &self.images;
            let frame_binding = wgpu::BindGroupEntry {
                binding: const { BLUR_KERNEL.number("blur") },
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: self.frame_params.get()?,
                    offset: 0,
                    size: NonZeroU64::new(size_of::<BlurFrame>() as u64),
                }),
            };
            self.bind_group = Some(device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("osprey blur bind group"),
                layout: &self.layout,
                entries: &[
                    params_binding(const { BLUR_KERNEL.number("params") }, params),
                    whole_binding(const { BLUR_KERNEL.number("frames") }, frames_buffer),
                    frame_binding,
                    whole_binding(const { BLUR_KERNEL.number("diagonal") }, &self.diagonal),
                    whole_binding(const { BLUR_KERNEL.number("img") }, img.get()?),
                    whole_binding(const { BLUR_KERNEL.number("grad") }, grad.get()?),
                    whole_binding(const { BLUR_KERNEL.number("nms") }, nms.get()?),
                    whole_binding(const { BLUR_KERNEL.number("results") }, self.results.get()?),
                ],
            }));
        }
        queue.write_buffer(self.frame_params.get()?, 0, &self.param_bytes);
        encoder.clear_buffer(self.results.get()?, 0, Some(result_bytes));
        Ok(())
    }

    /// Per frame, the four steps in order.
    fn dispatch(&self, pass: &mut wgpu::ComputePass<'_>) {
        let Some(bind_group) = &self.bind_group else {
            return;
        };
        for plan in &self.planned {
            pass.set_bind_group(0, bind_group, &[plan.offset, plan.offset]);
            for pipeline in &self.pipelines {
                pass.set_pipeline(pipeline);
                pass.dispatch_workgroups(plan.groups.0, plan.groups.1, 1);
            }
        }
    }

    fn readback_bytes(&self) -> u64 {
        u64::from(self.result_words) * 4
    }

    fn copy_out(
        &self,
        _: &Chunk<'_>,
        encoder: &mut wgpu::CommandEncoder,
        staging: &wgpu::Buffer,
        offset: u64,
    ) {
        if let Ok(results) = self.results.get() {
            encoder.copy_buffer_to_buffer(results, 0, staging, offset, self.readback_bytes());
        }
    }

    /// Each frame's Laplacian sums and block records.
    fn read(&mut self, _: &Chunk<'_>, bytes: &[u8], out: &mut [FrameRaw]) -> Result<()> {
        let planned = &self.planned;
        for (raw, plan) in out.iter_mut().zip(planned) {
            let word = |k: u32| {
                let at = (plan.out_offset + k) as usize * 4;
                u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
            };
            let wide = |k: u32| u64::from(word(k + 1)) << 32 | u64::from(word(k));
            let blur = &mut raw.blur;
            blur.laplacian_count = plan.laplacian_count;
            let count = i64::try_from(plan.laplacian_count).unwrap_or(i64::MAX);
            blur.laplacian_sum = wide(0) as i64 - LAPLACIAN_BIAS * count;
            blur.laplacian_sq = wide(2);
            blur.blocks.clear();
            blur.blocks.extend((0..plan.blocks).map(|b| {
                let k = HEADER_WORDS + b * BLOCK_WORDS;
                BlurBlock {
                    width_sum: wide(k),
                    edges: word(k + 2),
                }
            }));
        }
        Ok(())
    }
}
