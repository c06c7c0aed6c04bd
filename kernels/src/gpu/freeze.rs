//! Host side of `shaders/freeze.wgsl`: freezedetect on the GPU.
//!
//! Each frame's reference is the last frame that was not frozen, so it is
//! decided on the device, in order: per frame a SAD dispatch against the
//! reference (which `freeze_state` locates) and a one-workgroup decide
//! dispatch that compares the total with the frame's bound and, when the frame
//! is not frozen, points the reference at it. A last dispatch copies the
//! reference into a kept-frame buffer when it is a frame of the chunk, so the
//! next chunk compares with it without uploading it again. What the host knows
//! while planning it decides there, as the CPU twin does: whether a frame can
//! be compared at all (a reference exists with its size and format) and the
//! bound ([`frozen_sad_bound`]) for its sample count.

use super::buffers::{KeptFrame, PrevFrame};
use super::pipeline::{self, grid};
use super::shaders::FREEZE_KERNEL;
use super::stage::{Chunk, Stage};
use super::types::FreezeFrame;
use super::types::{PREV_CHUNK, PREV_KEPT, PREV_NONE, SAD_PER_FRAME, SadTotal};
use super::upload::PackedFrame;
use crate::error::{KernelError, Result};
use crate::frame::{FrameView, PixelFormat};
use crate::kernel::{FrameRaw, FreezeRaw};
use crate::metrics::freeze_bound::{frozen_sad_bound, samples};

/// Entry point of the SAD against the reference.
pub const ENTRY_SAD: &str = "freeze_sad";
/// Entry point of the decision.
pub const ENTRY_DECIDE: &str = "freeze_decide";
/// Entry point of the copy into the kept reference.
pub const ENTRY_KEEP: &str = "freeze_keep";
/// Every entry point, in the shader's order.
pub const ENTRIES: [&str; 3] = [ENTRY_SAD, ENTRY_DECIDE, ENTRY_KEEP];

/// `shaders/freeze.wgsl` with its shared modules prepended.
pub const SOURCE: &str = concat!(
    include_str!("../../../shaders/shared/frame.wgsl"),
    "\n",
    include_str!("../../../shaders/shared/sad.wgsl"),
    "\n",
    include_str!("../../../shaders/freeze.wgsl"),
);

/// Words of `freeze_state` before the decisions (WGSL `STATE_FROZEN`): the
/// reference's source and its entry in `freeze_frames`.
pub const STATE_FROZEN: u32 = 2;

impl FreezeFrame {
    /// The entry of a frame laid out at `packed`.
    fn new(packed: &PackedFrame, bound: u64, comparable: bool) -> Self {
        let luma = packed.luma();
        let plane = |p: usize| {
            packed.planes[p]
                .map(|s| (s.offset_words(), s.stride_words()))
                .unwrap_or_default()
        };
        let ((u_offset, u_stride), (v_offset, v_stride)) = (plane(1), plane(2));
        FreezeFrame {
            y_offset: luma.offset_words(),
            y_stride: luma.stride_words(),
            u_offset,
            u_stride,
            v_offset,
            v_stride,
            start: luma.offset_words(),
            words: words(packed.size()),
            // The pair is split, not truncated.
            bound_lo: bound as u32,
            bound_hi: (bound >> 32) as u32,
            comparable: u32::from(comparable),
            _pad0: 0,
        }
    }
}

fn words(bytes: u64) -> u32 {
    u32::try_from(bytes / 4).expect("chunks are capped below 2^32 words")
}

fn storage(
    device: &wgpu::Device,
    label: &str,
    bytes: u64,
    usage: wgpu::BufferUsages,
) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes.max(16).next_power_of_two(),
        usage: wgpu::BufferUsages::STORAGE | usage,
        mapped_at_creation: false,
    })
}

/// The compiled freeze kernel, its buffers and the kept reference.
#[derive(Debug)]
pub(crate) struct FreezeKernel {
    noise: f64,
    layout: wgpu::BindGroupLayout,
    sad_pipeline: wgpu::ComputePipeline,
    decide: wgpu::ComputePipeline,
    keep: wgpu::ComputePipeline,
    bind_group: Option<wgpu::BindGroup>,
    frames: wgpu::Buffer,
    state: wgpu::Buffer,
    sad: wgpu::Buffer,
    /// The reference from an earlier chunk; `frame` is `None` at the start of
    /// a stream.
    kept: KeptFrame,
    // Per chunk, reused.
    entries: Vec<FreezeFrame>,
    /// Each frame's params offset and its SAD grid, `None` when not compared.
    dispatches: Vec<(u32, Option<(u32, u32)>)>,
    keep_grid: (u32, u32),
    sad_bytes: u64,
    state_bytes: u64,
}

impl FreezeKernel {
    /// Compiles the shader; frames are frozen within `noise` (linear).
    pub(crate) fn new(device: &wgpu::Device, noise: f64) -> Self {
        use wgpu::BufferUsages as U;
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("osprey freeze bind group layout"),
            entries: &FREEZE_KERNEL.layout_entries(),
        });
        let module = pipeline::module(device, "osprey freeze shader", SOURCE);
        let build = |entry| pipeline::compute(device, entry, &layout, &module, entry);
        let (sad_pipeline, decide, keep) =
            (build(ENTRY_SAD), build(ENTRY_DECIDE), build(ENTRY_KEEP));
        FreezeKernel {
            noise,
            sad_pipeline,
            decide,
            keep,
            bind_group: None,
            frames: storage(device, "osprey freeze frames", 16, U::COPY_DST),
            state: storage(device, "osprey freeze state", 16, U::COPY_DST | U::COPY_SRC),
            sad: storage(device, "osprey freeze sums", 16, U::COPY_DST | U::COPY_SRC),
            kept: KeptFrame::new(device),
            layout,
            entries: Vec::new(),
            dispatches: Vec::new(),
            keep_grid: (1, 1),
            sad_bytes: 0,
            state_bytes: 0,
        }
    }

    /// Forgets the reference, as at the start of a stream.
    pub(crate) fn reset(&mut self) {
        self.kept.frame = None;
    }
}

impl Stage for FreezeKernel {
    /// Plans the chunk, uploads its entries and the reference's location,
    /// clears the sums and binds.
    fn prepare(&mut self, chunk: &Chunk<'_>, encoder: &mut wgpu::CommandEncoder) -> Result<()> {
        let (device, queue, frames, packing) =
            (chunk.device, chunk.queue, chunk.frames, chunk.packing);
        let (params, packed, max_dim) =
            (&chunk.buffers.params, &chunk.buffers.frames, chunk.max_dim);
        let mut rebind = chunk.rebind;
        use wgpu::BufferUsages as U;
        self.entries.clear();
        self.dispatches.clear();
        // The reference always has the previous frame's size and format: a
        // frozen frame matched it, any other frame became it.
        let mut shape = self.kept.frame.map(|r| (r.width, r.height, r.format));
        let mut largest = 0;
        for (i, (frame, place)) in frames.iter().zip(packing).enumerate() {
            let this = (frame.width(), frame.height(), frame.format());
            let comparable = shape == Some(this);
            shape = Some(this);
            let bound = frozen_sad_bound(self.noise, samples(frame.width(), frame.height()));
            self.entries
                .push(FreezeFrame::new(place, bound, comparable));
            let sad_grid = if comparable {
                Some(grid(sad_words(frame), max_dim)?)
            } else {
                None
            };
            self.dispatches.push((chunk.dynamic_offset(i)?, sad_grid));
            largest = largest.max(place.size());
        }
        let n = frames.len();
        let carried = self.kept.frame;
        let state = match carried {
            Some(r) => {
                self.entries.push(FreezeFrame::new(&r.packed, 0, false));
                [
                    PREV_KEPT,
                    u32::try_from(n)
                        .map_err(|_| KernelError::Internal("freeze: too many frames".into()))?,
                ]
            }
            None => [PREV_NONE, 0],
        };
        self.keep_grid = grid(largest / 4, max_dim)?;
        rebind |= self.kept.reserve(device, encoder, largest);

        let entry_bytes = (self.entries.len() * size_of::<FreezeFrame>()) as u64;
        if self.frames.size() < entry_bytes {
            self.frames = storage(device, "osprey freeze frames", entry_bytes, U::COPY_DST);
            rebind = true;
        }
        queue.write_buffer(&self.frames, 0, bytemuck::cast_slice(&self.entries));
        self.state_bytes = (u64::from(STATE_FROZEN) + n as u64) * 4;
        if self.state.size() < self.state_bytes {
            self.state = storage(
                device,
                "osprey freeze state",
                self.state_bytes,
                U::COPY_DST | U::COPY_SRC,
            );
            rebind = true;
        }
        queue.write_buffer(&self.state, 0, bytemuck::cast_slice(&state));
        self.sad_bytes = n as u64 * u64::from(SAD_PER_FRAME) * size_of::<SadTotal>() as u64;
        if self.sad.size() < self.sad_bytes {
            self.sad = storage(
                device,
                "osprey freeze sums",
                self.sad_bytes,
                U::COPY_DST | U::COPY_SRC,
            );
            rebind = true;
        }
        encoder.clear_buffer(&self.sad, 0, Some(self.sad_bytes));
        if rebind || self.bind_group.is_none() {
            self.bind_group = Some(device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("osprey freeze bind group"),
                layout: &self.layout,
                entries: &[
                    pipeline::params_binding(const { FREEZE_KERNEL.number("params") }, params),
                    pipeline::whole_binding(const { FREEZE_KERNEL.number("frames") }, packed),
                    pipeline::whole_binding(const { FREEZE_KERNEL.number("sad") }, &self.sad),
                    pipeline::whole_binding(
                        const { FREEZE_KERNEL.number("freeze_frames") },
                        &self.frames,
                    ),
                    pipeline::whole_binding(
                        const { FREEZE_KERNEL.number("freeze_state") },
                        &self.state,
                    ),
                    pipeline::whole_binding(
                        const { FREEZE_KERNEL.number("freeze_kept") },
                        &self.kept.buffer,
                    ),
                ],
            }));
        }
        Ok(())
    }

    /// Per frame in order, its SAD (when compared) and its decision, then the
    /// copy of the reference into the kept frame.
    fn dispatch(&self, pass: &mut wgpu::ComputePass<'_>) {
        let Some(bind_group) = &self.bind_group else {
            return;
        };
        for &(offset, sad_grid) in &self.dispatches {
            pass.set_bind_group(0, bind_group, &[offset]);
            if let Some((x, y)) = sad_grid {
                pass.set_pipeline(&self.sad_pipeline);
                pass.dispatch_workgroups(x, y, 1);
            }
            pass.set_pipeline(&self.decide);
            pass.dispatch_workgroups(1, 1, 1);
        }
        pass.set_bind_group(0, bind_group, &[0]);
        pass.set_pipeline(&self.keep);
        pass.dispatch_workgroups(self.keep_grid.0, self.keep_grid.1, 1);
    }

    fn readback_bytes(&self) -> u64 {
        self.sad_bytes + self.state_bytes
    }

    /// The sums, then the decisions.
    fn copy_out(
        &self,
        _: &Chunk<'_>,
        encoder: &mut wgpu::CommandEncoder,
        staging: &wgpu::Buffer,
        offset: u64,
    ) {
        encoder.copy_buffer_to_buffer(&self.sad, 0, staging, offset, self.sad_bytes);
        let after = offset + self.sad_bytes;
        encoder.copy_buffer_to_buffer(&self.state, 0, staging, after, self.state_bytes);
    }

    /// Fills `out[i].freeze`, and records which frame the kept frame now is.
    fn read(&mut self, chunk: &Chunk<'_>, bytes: &[u8], out: &mut [FrameRaw]) -> Result<()> {
        let (frames, packing) = (chunk.frames, chunk.packing);
        let (sad_bytes, entries) = (self.sad_bytes as usize, &self.entries);
        let reference = {
            let word = |at: usize| bytemuck::pod_read_unaligned::<u32>(&bytes[at..at + 4]);
            let mut reference = None;
            for (i, raw) in out.iter_mut().enumerate() {
                let at = i * SAD_PER_FRAME as usize * size_of::<SadTotal>();
                let sad: SadTotal =
                    bytemuck::pod_read_unaligned(&bytes[at..at + size_of::<SadTotal>()]);
                let frozen = word(sad_bytes + (STATE_FROZEN as usize + i) * 4) != 0;
                raw.freeze = (entries[i].comparable != 0).then_some(FreezeRaw {
                    sad: sad.value(),
                    frozen,
                });
                if !frozen {
                    reference = Some(i);
                }
            }
            let source = word(sad_bytes);
            (reference, source)
        };
        match reference {
            (Some(k), PREV_CHUNK) => {
                let frame = &frames[k];
                self.kept.frame = Some(PrevFrame {
                    width: frame.width(),
                    height: frame.height(),
                    format: frame.format(),
                    packed: packing[k].rebased(),
                    bytes: packing[k].size(),
                });
                Ok(())
            }
            (None, PREV_KEPT) => Ok(()),
            _ => Err(KernelError::Internal(
                "freeze: the device moved the reference elsewhere".into(),
            )),
        }
    }
}

/// Words `freeze_sad` walks for `frame`: luma, then the `height >> 1` rows
/// of each chroma plane.
fn sad_words(frame: &FrameView<'_>) -> u64 {
    let (w, h) = (u64::from(frame.width()), u64::from(frame.height()));
    let (chroma_row, _) = frame.plane_extent(1);
    let chroma_planes = match frame.format() {
        PixelFormat::I420 => 2,
        PixelFormat::Nv12 => 1,
    };
    w.div_ceil(4) * h + chroma_planes * (chroma_row as u64).div_ceil(4) * (h >> 1)
}
