//! Host side of `shaders/scene.wgsl`: its pipeline, bind group and dispatches.
//!
//! One dispatch per frame that has a predecessor of the same size; it adds the
//! luma SAD into the frame's first [`SadTotal`](super::types::SadTotal) in
//! `sad`. The predecessor of a chunk's first frame is the previous chunk's
//! last frame, kept on the GPU in the backend's previous-frame slot. It runs
//! for `scene` and for `stats` (signalstats' `YDIF`).

use super::pipeline::{self, grid};
use super::shaders::{self, SCENE_KERNEL};
use crate::error::Result;

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
}

impl SceneKernel {
    /// Compiles the shader and builds the pipeline.
    pub(crate) fn new(device: &wgpu::Device) -> Self {
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
        }
    }

    /// (Re)binds the buffers; called when any of them was re-created.
    pub(crate) fn bind(
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

    /// Records one dispatch per frame that has a predecessor: `frames` holds
    /// each one's dynamic offset into `params` and its grid.
    pub(crate) fn encode(&self, pass: &mut wgpu::ComputePass<'_>, frames: &[(u32, (u32, u32))]) {
        let bind_group = self
            .bind_group
            .as_ref()
            .expect("the backend binds buffers before encoding");
        pass.set_pipeline(&self.sad);
        for &(offset, (x, y)) in frames {
            pass.set_bind_group(0, bind_group, &[offset]);
            pass.dispatch_workgroups(x, y, 1);
        }
    }
}
