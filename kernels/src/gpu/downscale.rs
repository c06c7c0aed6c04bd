//! Host side of `shaders/downscale.wgsl`: the thumbnail downscaler.
//!
//! Thumbnails are rare, so this kernel keeps to itself: its pipeline and
//! buffers are made on the first call and grown when a frame needs more room,
//! and each call is one upload (the frame packed as `upload.rs` packs chunks),
//! one dispatch over the three output planes and one readback. The arithmetic
//! is the CPU twin's, `cpu/downscale.rs`, which also checks the request.

use super::GpuContext;
use super::pipeline;
use super::readback::{Readback, wait_for};
use super::shaders::DOWNSCALE_KERNEL;
use super::types::{DownscaleParams, PlaneParams, WORKGROUP_SIZE};
use super::upload::{self, PackedFrame};
use crate::error::{KernelError, Result};
use crate::frame::{FrameView, OwnedFrame, PixelFormat, chroma_size};
use crate::setup::downscale::{check_target, prepare_output, source_planes};

/// `shaders/downscale.wgsl` (it needs none of the shared modules).
pub const SOURCE: &str = include_str!("../../../shaders/downscale.wgsl");

/// Entry point of the downscale kernel.
pub const ENTRY: &str = "downscale";

/// The compiled pipeline, made on first use.
#[derive(Debug)]
struct Pipeline {
    layout: wgpu::BindGroupLayout,
    pipeline: wgpu::ComputePipeline,
    params: wgpu::Buffer,
}

/// A storage buffer that grows to the largest size asked of it.
#[derive(Debug, Default)]
struct Grown {
    buffer: Option<wgpu::Buffer>,
}

impl Grown {
    fn get(
        &mut self,
        device: &wgpu::Device,
        label: &'static str,
        size: u64,
        usage: wgpu::BufferUsages,
    ) -> &wgpu::Buffer {
        let size = size.max(4).next_multiple_of(4);
        if self.buffer.as_ref().is_none_or(|b| b.size() < size) {
            self.buffer = Some(device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage: usage | wgpu::BufferUsages::STORAGE,
                mapped_at_creation: false,
            }));
        }
        self.buffer
            .as_ref()
            .expect("the buffer was created just above")
    }
}

/// The downscale kernel of one [`GpuBackend`](super::GpuBackend).
#[derive(Debug)]
pub(crate) struct DownscaleKernel {
    pipeline: Option<Pipeline>,
    src: Grown,
    dst: Grown,
    readback: Readback,
}

impl Default for DownscaleKernel {
    fn default() -> Self {
        DownscaleKernel {
            pipeline: None,
            src: Grown::default(),
            dst: Grown::default(),
            readback: Readback::new("osprey downscale staging"),
        }
    }
}

/// Output plane sizes (samples) of an I420 frame of `width` x `height`.
fn output_sizes(width: u32, height: u32) -> [(u32, u32); 3] {
    let chroma = chroma_size(width, height);
    [(width, height), chroma, chroma]
}

/// The uniform for `frame` packed at `packed`, scaled to `width` x `height`,
/// and the output's size in words.
fn plan(
    frame: &FrameView<'_>,
    packed: &PackedFrame,
    width: u32,
    height: u32,
) -> (DownscaleParams, u32) {
    let mut params = DownscaleParams::default();
    let mut dst_offset = 0;
    let sources = source_planes(frame);
    for (p, (out, (dw, dh))) in params
        .planes
        .iter_mut()
        .zip(output_sizes(width, height))
        .enumerate()
    {
        // NV12's U and V both live in the interleaved plane 1.
        let packed = match frame.format() {
            PixelFormat::I420 => packed.planes[p],
            PixelFormat::Nv12 => packed.planes[p.min(1)],
        }
        .expect("a 4:2:0 frame has every plane it reads");
        let src = &sources[p];
        let dst_stride = dw.div_ceil(4);
        *out = PlaneParams {
            src_offset: packed.offset_words(),
            src_stride: packed.stride_words(),
            src_width: src.width,
            src_height: src.height,
            step: src.step as u32,
            phase: src.phase as u32,
            dst_offset,
            dst_stride,
            dst_width: dw,
            dst_height: dh,
            _pad0: 0,
            _pad1: 0,
        };
        dst_offset += dst_stride * dh;
    }
    (params, dst_offset)
}

impl DownscaleKernel {
    /// Builds the pipeline the first time.
    fn pipeline(&mut self, device: &wgpu::Device) -> &Pipeline {
        self.pipeline.get_or_insert_with(|| {
            let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some("osprey downscale bind group layout"),
                entries: &DOWNSCALE_KERNEL.layout_entries(),
            });
            let module = pipeline::module(device, "osprey downscale shader", SOURCE);
            let compute = pipeline::compute(device, "osprey downscale", &layout, &module, ENTRY);
            let params = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("osprey downscale params"),
                size: size_of::<DownscaleParams>() as u64,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            Pipeline {
                layout,
                pipeline: compute,
                params,
            }
        })
    }

    /// Downscales `frame` into `out` (see [`Backend::downscale`](crate::Backend::downscale)).
    ///
    /// # Errors
    /// [`KernelError::InvalidFrame`] for a bad target size; [`KernelError::Gpu`]
    /// when the frame is too large to bind or the device fails.
    pub(crate) fn run(
        &mut self,
        ctx: &GpuContext,
        frame: &FrameView<'_>,
        width: u32,
        height: u32,
        out: &mut OwnedFrame,
    ) -> Result<()> {
        check_target(frame, width, height)?;
        let (device, queue) = (ctx.device(), ctx.queue());
        let limits = ctx.limits();
        let packed = upload::layout_frame(frame, 0);
        let bind_limit = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
        if packed.end > bind_limit {
            return Err(KernelError::Gpu(format!(
                "a {}x{} frame needs {} bytes, more than the adapter binds at once ({bind_limit} bytes)",
                frame.width(),
                frame.height(),
                packed.end
            )));
        }
        let (params, dst_words) = plan(frame, &packed, width, height);
        let dst_bytes = u64::from(dst_words) * 4;

        self.pipeline(device);
        let src = self.src.get(
            device,
            "osprey downscale source",
            packed.end,
            wgpu::BufferUsages::COPY_DST,
        );
        let dst = self.dst.get(
            device,
            "osprey downscale output",
            dst_bytes,
            wgpu::BufferUsages::COPY_SRC,
        );
        let pipe = self
            .pipeline
            .as_ref()
            .expect("the pipeline was built just above");
        queue.write_buffer(&pipe.params, 0, bytemuck::bytes_of(&params));
        let size = wgpu::BufferSize::new(packed.end)
            .ok_or_else(|| KernelError::Internal("a frame with no pixels".into()))?;
        let mut staging = queue
            .write_buffer_with(src, 0, size)
            .ok_or_else(|| KernelError::Gpu("cannot stage the downscale upload".into()))?;
        upload::pack_frame(frame, &packed, |at, bytes| {
            staging.slice(at..at + bytes.len()).copy_from_slice(bytes);
        });
        drop(staging);

        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("osprey downscale bind group"),
            layout: &pipe.layout,
            entries: &[
                pipeline::whole_binding(const { DOWNSCALE_KERNEL.number("params") }, &pipe.params),
                pipeline::whole_binding(const { DOWNSCALE_KERNEL.number("src") }, src),
                pipeline::whole_binding(const { DOWNSCALE_KERNEL.number("dst") }, dst),
            ],
        });
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("osprey downscale"),
        });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("osprey downscale"),
                timestamp_writes: None,
            });
            pass.set_pipeline(&pipe.pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(width.div_ceil(4).div_ceil(WORKGROUP_SIZE), height, 3);
        }
        let target = self.readback.target(device, dst_bytes);
        encoder.copy_buffer_to_buffer(dst, 0, target, 0, dst_bytes);
        wait_for(device, queue.submit([encoder.finish()]))?;

        prepare_output(out, width, height);
        self.readback.read(device, dst_bytes, |bytes| {
            for (p, plane) in params.planes.iter().enumerate() {
                let stride = out.strides[p];
                let row_bytes = plane.dst_width as usize;
                for y in 0..plane.dst_height as usize {
                    let at = (plane.dst_offset + y as u32 * plane.dst_stride) as usize * 4;
                    out.planes[p][y * stride..y * stride + row_bytes]
                        .copy_from_slice(&bytes[at..at + row_bytes]);
                }
            }
        })
    }
}
