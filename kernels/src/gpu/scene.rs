//! Host side of `shaders/scene.wgsl`: its pipeline, bind group and dispatches.
//!
//! One dispatch per frame that has a predecessor of the same size; it adds the
//! luma SAD into the frame's first [`SadTotal`] in
//! `sad`. The predecessor of a chunk's first frame is the previous chunk's
//! last frame, kept on the GPU in the backend's kept previous frame. It runs
//! for `scene` and for `stats` (signalstats' `YDIF`).

use super::pipeline::{self, grid};
use super::shaders::{self, SCENE_KERNEL};
use super::stage::{Chunk, Stage};
use super::types::{PREV_NONE, SAD_PER_FRAME, SadTotal};
use crate::error::Result;
use crate::kernel::FrameRaw;

/// Entry point of the SAD kernel.
pub const ENTRY_SAD: &str = "scene_sad";

/// Workgroups of one frame's dispatch.
///
/// # Errors
/// When the frame needs more workgroups than the adapter dispatches.
pub(crate) fn scene_grid(width: u32, height: u32, max_dim: u32) -> Result<(u32, u32)> {
    grid(u64::from(width.div_ceil(4)) * u64::from(height), max_dim)
}

/// The compiled scene kernel and its bind group.
#[derive(Debug)]
pub(crate) struct SceneKernel {
    layout: wgpu::BindGroupLayout,
    sad: wgpu::ComputePipeline,
    bind_group: Option<wgpu::BindGroup>,
    /// Whether `stats` runs too, adding the U and V differences (at sums 1
    /// and 2 of each frame) that this stage reads back with the luma's.
    with_chroma: bool,
    /// The dynamic offset and grid of each frame with a predecessor.
    grids: Vec<(u32, (u32, u32))>,
    /// Bytes of `sad` this chunk fills.
    sad_bytes: u64,
}

impl SceneKernel {
    /// Compiles the shader and builds the pipeline; `with_chroma` when
    /// `stats` runs beside it (see [`SceneKernel::read`](Stage::read)).
    pub(crate) fn new(device: &wgpu::Device, with_chroma: bool) -> Self {
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("osprey scene bind group layout"),
            entries: &SCENE_KERNEL.layout_entries(),
        });
        let module = pipeline::module(device, "osprey scene shader", shaders::SCENE);
        let sad = pipeline::compute(device, "osprey scene_sad", &layout, &module, ENTRY_SAD);
        SceneKernel {
            layout,
            sad,
            bind_group: None,
            with_chroma,
            grids: Vec::new(),
            sad_bytes: 0,
        }
    }

    /// (Re)binds the buffers; called when any of them was re-created.
    fn bind(
        &mut self,
        device: &wgpu::Device,
        params: &wgpu::Buffer,
        frames: &wgpu::Buffer,
        prev_frame: &wgpu::Buffer,
        sad: &wgpu::Buffer,
    ) {
        self.bind_group = Some(device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("osprey scene bind group"),
            layout: &self.layout,
            entries: &[
                pipeline::params_binding(const { SCENE_KERNEL.number("params") }, params),
                pipeline::whole_binding(const { SCENE_KERNEL.number("frames") }, frames),
                pipeline::whole_binding(const { SCENE_KERNEL.number("prev_frame") }, prev_frame),
                pipeline::whole_binding(const { SCENE_KERNEL.number("sad") }, sad),
            ],
        }));
    }
}

impl Stage for SceneKernel {
    fn prepare(&mut self, chunk: &Chunk<'_>, encoder: &mut wgpu::CommandEncoder) -> Result<()> {
        let b = chunk.buffers;
        if chunk.rebind || self.bind_group.is_none() {
            self.bind(
                chunk.device,
                &b.params,
                &b.frames,
                &chunk.prev.buffer,
                &b.sad,
            );
        }
        self.grids.clear();
        for (i, (frame, params)) in chunk.frames.iter().zip(chunk.params).enumerate() {
            if params.prev_source != PREV_NONE {
                let grid = scene_grid(frame.width(), frame.height(), chunk.max_dim)?;
                self.grids.push((chunk.dynamic_offset(i)?, grid));
            }
        }
        self.sad_bytes =
            (chunk.frames.len() * SAD_PER_FRAME as usize * size_of::<SadTotal>()) as u64;
        encoder.clear_buffer(&b.sad, 0, Some(self.sad_bytes));
        Ok(())
    }

    /// One dispatch per frame that has a predecessor.
    fn dispatch(&self, pass: &mut wgpu::ComputePass<'_>) {
        let Some(bind_group) = &self.bind_group else {
            return;
        };
        pass.set_pipeline(&self.sad);
        for &(offset, (x, y)) in &self.grids {
            pass.set_bind_group(0, bind_group, &[offset]);
            pass.dispatch_workgroups(x, y, 1);
        }
    }

    fn readback_bytes(&self) -> u64 {
        self.sad_bytes
    }

    /// Also keeps the chunk's last frame on the device: the next chunk's
    /// first frame compares with it.
    fn copy_out(
        &self,
        chunk: &Chunk<'_>,
        encoder: &mut wgpu::CommandEncoder,
        staging: &wgpu::Buffer,
        offset: u64,
    ) {
        if let Some(last) = chunk.packing.last() {
            encoder.copy_buffer_to_buffer(
                &chunk.buffers.frames,
                last.luma().offset,
                &chunk.prev.buffer,
                0,
                last.size(),
            );
        }
        encoder.copy_buffer_to_buffer(&chunk.buffers.sad, 0, staging, offset, self.sad_bytes);
    }

    /// The luma SAD of every frame with a predecessor, and with `stats` the
    /// chroma SADs of those whose predecessor has their format.
    fn read(&mut self, chunk: &Chunk<'_>, bytes: &[u8], out: &mut [FrameRaw]) -> Result<()> {
        for (i, (raw, params)) in out.iter_mut().zip(chunk.params).enumerate() {
            if params.prev_source == PREV_NONE {
                continue;
            }
            let sad = |k: usize| {
                let at = (i * SAD_PER_FRAME as usize + k) * size_of::<SadTotal>();
                bytemuck::pod_read_unaligned::<SadTotal>(&bytes[at..at + size_of::<SadTotal>()])
                    .value()
            };
            raw.luma_sad = Some(sad(0));
            if self.with_chroma && params.prev_chroma != 0 {
                raw.chroma_sad = Some([sad(1), sad(2)]);
            }
        }
        Ok(())
    }
}
