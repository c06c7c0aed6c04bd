//! Host side of `shaders/stats.wgsl`: its pipelines, bind group and dispatches.
//!
//! Per frame, `stats_luma` covers the Y plane and `stats_chroma` the U and V
//! (or UV) planes; both add into the frame's [`FrameHist`]
//! in `hist`, which the backend clears before the pass and reads back after.
//! The chroma pass also counts hue, through signalstats' hue of every (u, v)
//! computed once on the host ([`hue_table`](crate::setup::hue::hue_table)),
//! and adds the U and V differences against the previous frame to `sad`.

use super::pipeline::{self, grid};
use super::shaders::{self, STATS_KERNEL};
use super::stage::{Chunk, Stage};
use super::types::{FORMAT_NV12, FrameHist};
use crate::error::Result;
use crate::kernel::FrameRaw;

/// Entry point over the luma plane.
pub const ENTRY_LUMA: &str = "stats_luma";
/// Entry point over the chroma planes.
pub const ENTRY_CHROMA: &str = "stats_chroma";

/// Workgroups of one frame's two dispatches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StatsGrid {
    /// Over the luma plane.
    pub luma: (u32, u32),
    /// Over the chroma planes.
    pub chroma: (u32, u32),
}

impl StatsGrid {
    /// The dispatch sizes for a frame of `width` x `height` (4:2:0, `nv12` or I420).
    ///
    /// # Errors
    /// When the frame needs more workgroups than the adapter dispatches.
    pub(crate) fn new(width: u32, height: u32, nv12: bool, max_dim: u32) -> Result<Self> {
        let (cw, ch) = crate::frame::chroma_size(width, height);
        let chroma_row = if nv12 { 2 * cw } else { cw };
        Ok(StatsGrid {
            luma: grid(u64::from(width.div_ceil(4)) * u64::from(height), max_dim)?,
            chroma: grid(u64::from(chroma_row.div_ceil(4)) * u64::from(ch), max_dim)?,
        })
    }
}

/// The compiled stats kernel and its bind group.
#[derive(Debug)]
pub(crate) struct StatsKernel {
    layout: wgpu::BindGroupLayout,
    hue_table: wgpu::Buffer,
    luma: wgpu::ComputePipeline,
    chroma: wgpu::ComputePipeline,
    bind_group: Option<wgpu::BindGroup>,
    /// Each frame's dynamic offset and grid, for this chunk.
    grids: Vec<(u32, StatsGrid)>,
    /// Bytes of `hist` this chunk fills.
    hist_bytes: u64,
}

impl StatsKernel {
    /// Compiles the shader and builds both pipelines.
    pub(crate) fn new(device: &wgpu::Device) -> Self {
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("osprey stats bind group layout"),
            entries: &STATS_KERNEL.layout_entries(),
        });
        let table: Vec<u32> = crate::setup::hue::hue_table()
            .iter()
            .map(|&h| u32::from(h))
            .collect();
        let hue_table = wgpu::util::DeviceExt::create_buffer_init(
            device,
            &wgpu::util::BufferInitDescriptor {
                label: Some("osprey hue table"),
                contents: bytemuck::cast_slice(&table),
                usage: wgpu::BufferUsages::STORAGE,
            },
        );
        let module = pipeline::module(device, "osprey stats shader", shaders::STATS);
        let luma = pipeline::compute(device, "osprey stats_luma", &layout, &module, ENTRY_LUMA);
        let chroma = pipeline::compute(
            device,
            "osprey stats_chroma",
            &layout,
            &module,
            ENTRY_CHROMA,
        );
        StatsKernel {
            layout,
            hue_table,
            luma,
            chroma,
            bind_group: None,
            grids: Vec::new(),
            hist_bytes: 0,
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
        hist: &wgpu::Buffer,
    ) {
        self.bind_group = Some(device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("osprey stats bind group"),
            layout: &self.layout,
            entries: &[
                pipeline::params_binding(const { STATS_KERNEL.number("params") }, params),
                pipeline::whole_binding(const { STATS_KERNEL.number("frames") }, frames),
                pipeline::whole_binding(const { STATS_KERNEL.number("prev_frame") }, prev_frame),
                pipeline::whole_binding(const { STATS_KERNEL.number("sad") }, sad),
                pipeline::whole_binding(const { STATS_KERNEL.number("hist") }, hist),
                pipeline::whole_binding(
                    const { STATS_KERNEL.number("hue_table") },
                    &self.hue_table,
                ),
            ],
        }));
    }

    /// Records both dispatches for every frame of the chunk.
    fn encode(&self, pass: &mut wgpu::ComputePass<'_>) {
        let Some(bind_group) = &self.bind_group else {
            return;
        };
        pass.set_pipeline(&self.luma);
        for &(offset, grid) in &self.grids {
            pass.set_bind_group(0, bind_group, &[offset]);
            pass.dispatch_workgroups(grid.luma.0, grid.luma.1, 1);
        }
        pass.set_pipeline(&self.chroma);
        for &(offset, grid) in &self.grids {
            pass.set_bind_group(0, bind_group, &[offset]);
            pass.dispatch_workgroups(grid.chroma.0, grid.chroma.1, 1);
        }
    }
}

impl Stage for StatsKernel {
    fn prepare(&mut self, chunk: &Chunk<'_>, encoder: &mut wgpu::CommandEncoder) -> Result<()> {
        let b = chunk.buffers;
        if chunk.rebind || self.bind_group.is_none() {
            self.bind(
                chunk.device,
                &b.params,
                &b.frames,
                &chunk.prev.buffer,
                &b.sad,
                &b.hist,
            );
        }
        self.grids.clear();
        for (i, (frame, params)) in chunk.frames.iter().zip(chunk.params).enumerate() {
            let nv12 = params.format == FORMAT_NV12;
            let grid = StatsGrid::new(frame.width(), frame.height(), nv12, chunk.max_dim)?;
            self.grids.push((chunk.dynamic_offset(i)?, grid));
        }
        self.hist_bytes = (chunk.frames.len() * size_of::<FrameHist>()) as u64;
        encoder.clear_buffer(&b.hist, 0, Some(self.hist_bytes));
        Ok(())
    }

    fn dispatch(&self, pass: &mut wgpu::ComputePass<'_>) {
        self.encode(pass);
    }

    fn readback_bytes(&self) -> u64 {
        self.hist_bytes
    }

    fn copy_out(
        &self,
        chunk: &Chunk<'_>,
        encoder: &mut wgpu::CommandEncoder,
        staging: &wgpu::Buffer,
        offset: u64,
    ) {
        encoder.copy_buffer_to_buffer(&chunk.buffers.hist, 0, staging, offset, self.hist_bytes);
    }

    fn read(&mut self, _: &Chunk<'_>, bytes: &[u8], out: &mut [FrameRaw]) -> Result<()> {
        for (raw, at) in out.iter_mut().zip((0..).step_by(size_of::<FrameHist>())) {
            let hist: FrameHist =
                bytemuck::pod_read_unaligned(&bytes[at..at + size_of::<FrameHist>()]);
            raw.hist = hist.to_channels();
            raw.hue_hist = hist.hue_bins();
        }
        Ok(())
    }
}
