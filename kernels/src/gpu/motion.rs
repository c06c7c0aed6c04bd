//! Host side of `shaders/motion.wgsl`: the motion detector's small luma image.
//!
//! The shader gathers each small pixel from the chunk's packed luma planes
//! through the index tables of [`ResampleTables`](crate::metrics::motion::resample::ResampleTables), which the host computes once
//! per frame size and uploads only when the sizes in a chunk change. Each
//! frame gets a [`MotionFrame`] (where its tables and output lie), one
//! dispatch, and its bytes in `motion_out`, which this kernel reads back into
//! [`FrameRaw::motion`] with its own staging buffer.

use super::pipeline::{self, grid};
use super::shaders::MOTION_KERNEL;
use super::stage::{Chunk, Stage};
use super::types::MotionFrame;
use crate::error::{KernelError, Result};
use crate::kernel::FrameRaw;
use crate::metrics::motion::resample::ResampleCache;

/// Entry point of the gather.
pub const ENTRY: &str = "motion_gather";

/// `shaders/motion.wgsl` with its shared modules prepended.
pub const SOURCE: &str = concat!(
    include_str!("../../../shaders/shared/frame.wgsl"),
    "\n",
    include_str!("../../../shaders/motion.wgsl"),
);

fn storage(
    device: &wgpu::Device,
    label: &str,
    bytes: u64,
    usage: wgpu::BufferUsages,
) -> wgpu::Buffer {
    // A power of two, so that growing chunks do not re-create it each time,
    // but never past what the device binds.
    let limits = device.limits();
    let cap = limits
        .max_storage_buffer_binding_size
        .min(limits.max_buffer_size)
        & !(wgpu::COPY_BUFFER_ALIGNMENT - 1);
    let bytes = bytes.max(16).next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT);
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes.next_power_of_two().min(cap).max(bytes),
        usage: wgpu::BufferUsages::STORAGE | usage,
        mapped_at_creation: false,
    })
}

/// The compiled motion kernel, its buffers and its readback.
#[derive(Debug)]
pub(crate) struct MotionKernel {
    layout: wgpu::BindGroupLayout,
    pipeline: wgpu::ComputePipeline,
    bind_group: Option<wgpu::BindGroup>,
    cache: ResampleCache,
    /// Frame sizes whose tables `tables` holds, in order, and their offsets.
    uploaded: Vec<((u32, u32), u32)>,
    tables: wgpu::Buffer,
    frames: wgpu::Buffer,
    out: wgpu::Buffer,
    // Per chunk, reused.
    infos: Vec<MotionFrame>,
    grids: Vec<(u32, (u32, u32))>,
    words: Vec<u32>,
    out_bytes: u64,
}

impl MotionKernel {
    /// Compiles the shader; small images will be `frame_height` rows high.
    pub(crate) fn new(device: &wgpu::Device, frame_height: u32) -> Self {
        use wgpu::BufferUsages as U;
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("osprey motion bind group layout"),
            entries: &MOTION_KERNEL.layout_entries(),
        });
        let module = pipeline::module(device, "osprey motion shader", SOURCE);
        let pipeline = pipeline::compute(device, "osprey motion_gather", &layout, &module, ENTRY);
        MotionKernel {
            layout,
            pipeline,
            bind_group: None,
            cache: ResampleCache::new(frame_height),
            uploaded: Vec::new(),
            tables: storage(device, "osprey motion tables", 16, U::COPY_DST),
            frames: storage(device, "osprey motion frames", 16, U::COPY_DST),
            out: storage(device, "osprey motion images", 16, U::COPY_SRC),
            infos: Vec::new(),
            grids: Vec::new(),
            words: Vec::new(),
            out_bytes: 0,
        }
    }
}

impl Stage for MotionKernel {
    /// Lays out the chunk's small images, uploads what changed and binds.
    fn prepare(&mut self, chunk: &Chunk<'_>, _: &mut wgpu::CommandEncoder) -> Result<()> {
        let (device, queue, frames) = (chunk.device, chunk.queue, chunk.frames);
        let (params, packed) = (&chunk.buffers.params, &chunk.buffers.frames);
        let mut rebind = chunk.rebind;
        use wgpu::BufferUsages as U;
        let sizes_changed = frames.iter().any(|f| {
            !self
                .uploaded
                .iter()
                .any(|(s, _)| *s == (f.width(), f.height()))
        });
        if sizes_changed {
            // Tables for this chunk's sizes: usually one, rebuilt on a change.
            self.uploaded.clear();
            self.words.clear();
            for f in frames {
                let size = (f.width(), f.height());
                if self.uploaded.iter().any(|(s, _)| *s == size) {
                    continue;
                }
                self.cache.prepare(size.0, size.1);
                let t = self
                    .cache
                    .find(size.0, size.1)
                    .ok_or_else(|| KernelError::Internal("motion tables missing".into()))?;
                self.uploaded.push((size, word_index(self.words.len())?));
                self.words.extend_from_slice(&t.cols);
                self.words.extend_from_slice(&t.rows);
            }
            let bytes = (self.words.len() * 4) as u64;
            if self.tables.size() < bytes {
                self.tables = storage(device, "osprey motion tables", bytes, U::COPY_DST);
                rebind = true;
            }
            queue.write_buffer(&self.tables, 0, bytemuck::cast_slice(&self.words));
        }
        self.infos.clear();
        self.grids.clear();
        let mut out_words = 0u64;
        for (i, f) in frames.iter().enumerate() {
            let size = (f.width(), f.height());
            let (_, table) = self
                .uploaded
                .iter()
                .find(|(s, _)| *s == size)
                .copied()
                .ok_or_else(|| KernelError::Internal("motion tables not uploaded".into()))?;
            let (sw, sh) = self
                .cache
                .find(size.0, size.1)
                .map(|t| t.small)
                .ok_or_else(|| KernelError::Internal("motion tables missing".into()))?;
            let words = (u64::from(sw) * u64::from(sh)).div_ceil(4);
            self.infos.push(MotionFrame {
                table,
                small_width: sw,
                small_height: sh,
                out_offset: word_index(out_words as usize)?,
            });
            self.grids
                .push((chunk.dynamic_offset(i)?, grid(words, chunk.max_dim)?));
            out_words += words;
        }
        let info_bytes = (self.infos.len() * size_of::<MotionFrame>()) as u64;
        if self.frames.size() < info_bytes {
            self.frames = storage(device, "osprey motion frames", info_bytes, U::COPY_DST);
            rebind = true;
        }
        queue.write_buffer(&self.frames, 0, bytemuck::cast_slice(&self.infos));
        self.out_bytes = out_words * 4;
        if self.out.size() < self.out_bytes {
            self.out = storage(device, "osprey motion images", self.out_bytes, U::COPY_SRC);
            rebind = true;
        }
        if rebind || self.bind_group.is_none() {
            self.bind_group = Some(device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("osprey motion bind group"),
                layout: &self.layout,
                entries: &[
                    pipeline::params_binding(const { MOTION_KERNEL.number("params") }, params),
                    pipeline::whole_binding(const { MOTION_KERNEL.number("frames") }, packed),
                    pipeline::whole_binding(
                        const { MOTION_KERNEL.number("motion_frames") },
                        &self.frames,
                    ),
                    pipeline::whole_binding(
                        const { MOTION_KERNEL.number("motion_tables") },
                        &self.tables,
                    ),
                    pipeline::whole_binding(
                        const { MOTION_KERNEL.number("motion_out") },
                        &self.out,
                    ),
                ],
            }));
        }
        Ok(())
    }

    /// One dispatch a frame.
    fn dispatch(&self, pass: &mut wgpu::ComputePass<'_>) {
        let Some(bind_group) = &self.bind_group else {
            return;
        };
        pass.set_pipeline(&self.pipeline);
        for &(offset, (x, y)) in &self.grids {
            pass.set_bind_group(0, bind_group, &[offset]);
            pass.dispatch_workgroups(x, y, 1);
        }
    }

    fn readback_bytes(&self) -> u64 {
        self.out_bytes
    }

    fn copy_out(
        &self,
        _: &Chunk<'_>,
        encoder: &mut wgpu::CommandEncoder,
        staging: &wgpu::Buffer,
        offset: u64,
    ) {
        if self.out_bytes > 0 {
            encoder.copy_buffer_to_buffer(&self.out, 0, staging, offset, self.out_bytes);
        }
    }

    /// The small images, into each frame's [`FrameRaw::motion`].
    fn read(&mut self, _: &Chunk<'_>, bytes: &[u8], out: &mut [FrameRaw]) -> Result<()> {
        for (raw, info) in out.iter_mut().zip(&self.infos) {
            let at = info.out_offset as usize * 4;
            let len = info.small_width as usize * info.small_height as usize;
            let m = &mut raw.motion;
            m.width = info.small_width;
            m.height = info.small_height;
            m.pixels.clear();
            m.pixels.extend_from_slice(&bytes[at..at + len]);
        }
        Ok(())
    }
}

/// A word index as the shader's `u32`.
fn word_index(words: usize) -> Result<u32> {
    u32::try_from(words).map_err(|_| KernelError::Gpu("motion buffers past 2^32 words".into()))
}
