//! Pieces every kernel's pipeline is built from: bind group entries (the
//! layouts come from the table in [`super::shaders`]), compute pipelines from the composed WGSL, and dispatch sizes.

use std::borrow::Cow;
use std::num::NonZeroU64;

use super::types::{FrameParams, WORDS_PER_GROUP};
use crate::error::{KernelError, Result};

/// The bind group entry for `params`: one [`FrameParams`] at the dynamic offset.
pub(crate) fn params_binding(binding: u32, buffer: &wgpu::Buffer) -> wgpu::BindGroupEntry<'_> {
    wgpu::BindGroupEntry {
        binding,
        resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer,
            offset: 0,
            size: NonZeroU64::new(size_of::<FrameParams>() as u64),
        }),
    }
}

/// A bind group entry for a whole buffer.
pub(crate) fn whole_binding(binding: u32, buffer: &wgpu::Buffer) -> wgpu::BindGroupEntry<'_> {
    wgpu::BindGroupEntry {
        binding,
        resource: buffer.as_entire_binding(),
    }
}

/// A shader module from composed WGSL.
pub(crate) fn module(
    device: &wgpu::Device,
    label: &str,
    source: &'static str,
) -> wgpu::ShaderModule {
    device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(label),
        source: wgpu::ShaderSource::Wgsl(Cow::Borrowed(source)),
    })
}

/// A compute pipeline for `entry` with bind group 0 laid out as `layout`.
pub(crate) fn compute(
    device: &wgpu::Device,
    label: &str,
    layout: &wgpu::BindGroupLayout,
    module: &wgpu::ShaderModule,
    entry: &str,
) -> wgpu::ComputePipeline {
    let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(label),
        bind_group_layouts: &[Some(layout)],
        immediate_size: 0,
    });
    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(label),
        layout: Some(&pipeline_layout),
        module,
        entry_point: Some(entry),
        // Workgroup memory is zeroed: the histograms and sums start from it.
        compilation_options: wgpu::PipelineCompilationOptions::default(),
        cache: None,
    })
}

/// Workgroups to dispatch over `words` words of a plane: `(x, y)`, spilling
/// into `y` when one dimension cannot hold them all (the shaders linearise
/// the index and skip words past the plane).
///
/// # Errors
/// [`KernelError::Gpu`] when even `max_dim * max_dim` workgroups are too few.
pub(crate) fn grid(words: u64, max_dim: u32) -> Result<(u32, u32)> {
    let groups = words.div_ceil(u64::from(WORDS_PER_GROUP)).max(1);
    let max = u64::from(max_dim.max(1));
    let (x, y) = if groups <= max {
        (groups, 1)
    } else {
        (max, groups.div_ceil(max))
    };
    match (u32::try_from(x), u32::try_from(y)) {
        (Ok(x), Ok(y)) if u64::from(y) <= max => Ok((x, y)),
        _ => Err(KernelError::Gpu(format!(
            "a plane of {words} words needs more workgroups than the adapter can dispatch"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_covers_the_plane() {
        let g = u64::from(WORDS_PER_GROUP);
        assert_eq!(grid(1, 65535).expect("fits"), (1, 1));
        assert_eq!(grid(g, 65535).expect("fits"), (1, 1));
        assert_eq!(grid(g + 1, 65535).expect("fits"), (2, 1));
        assert_eq!(grid(10 * g, 4).expect("fits"), (4, 3));
        assert!(grid(17 * g, 4).is_err());
    }
}
