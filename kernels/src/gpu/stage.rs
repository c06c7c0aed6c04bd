//! One submission of the frame backend as a list of stages over one context.
//!
//! [`GpuBackend`](super::GpuBackend) lays a chunk out and uploads its frames
//! once; then every kernel that runs is a [`Stage`] of the submission, and the
//! backend drives them all through the same four steps over one [`Chunk`]:
//! [`prepare`](Stage::prepare) (plan, upload the stage's own inputs, grow,
//! bind, clear), [`dispatch`](Stage::dispatch) into the one compute pass,
//! [`copy_out`](Stage::copy_out) of its results into its range of the one
//! staging buffer, and, after the one wait and the one map,
//! [`read`](Stage::read) of that range into the frames' [`FrameRaw`]s. A
//! chunk is one submission and one readback, whatever the kernels.

use super::buffers::{ChunkBuffers, KeptFrame};
use super::types::FrameParams;
use super::upload::PackedFrame;
use crate::error::{KernelError, Result};
use crate::frame::FrameView;
use crate::kernel::FrameRaw;

/// What every stage of one submission shares.
#[derive(Debug)]
pub(crate) struct Chunk<'a> {
    /// The device, for creating and binding buffers.
    pub device: &'a wgpu::Device,
    /// The queue, for the stages' own uploads.
    pub queue: &'a wgpu::Queue,
    /// The frames of the submission, in stream order.
    pub frames: &'a [FrameView<'a>],
    /// Where each frame's planes lie in `buffers.frames`.
    pub packing: &'a [PackedFrame],
    /// Each frame's [`FrameParams`], as uploaded into `buffers.params`.
    pub params: &'a [FrameParams],
    /// The backend's per-chunk buffers.
    pub buffers: &'a ChunkBuffers,
    /// The previous chunk's last frame, on the device.
    pub prev: &'a KeptFrame,
    /// Whether `buffers` or `prev` were re-created for this chunk, so that
    /// bind groups holding them must be made again.
    pub rebind: bool,
    /// Bytes between two frames' entries in `buffers.params`.
    pub param_stride: u64,
    /// Largest workgroup count in one dispatch dimension.
    pub max_dim: u32,
}

impl Chunk<'_> {
    /// Frame `i`'s dynamic offset into `buffers.params`.
    ///
    /// # Errors
    /// [`KernelError::Internal`] past `u32` (submissions hold few frames).
    pub(crate) fn dynamic_offset(&self, i: usize) -> Result<u32> {
        u32::try_from(i as u64 * self.param_stride)
            .map_err(|_| KernelError::Internal("a dynamic offset past u32".into()))
    }
}

/// One kernel's part of a submission; see the module docs.
pub(crate) trait Stage {
    /// Plans `chunk`, uploads what the stage alone reads, grows and (re)binds
    /// its buffers, and records what must precede the pass (clears).
    ///
    /// # Errors
    /// When a frame needs more workgroups than the adapter dispatches, or
    /// more room than a binding offers.
    fn prepare(&mut self, chunk: &Chunk<'_>, encoder: &mut wgpu::CommandEncoder) -> Result<()>;

    /// Records the stage's dispatches into the submission's compute pass.
    fn dispatch(&self, pass: &mut wgpu::ComputePass<'_>);

    /// Bytes of results the stage reads back (0 for none).
    fn readback_bytes(&self) -> u64;

    /// Records what follows the pass: the copy of its results into
    /// `staging` at `offset` (a multiple of 4, [`readback_bytes`] long), and
    /// anything it keeps on the device for the next chunk.
    ///
    /// [`readback_bytes`]: Stage::readback_bytes
    fn copy_out(
        &self,
        chunk: &Chunk<'_>,
        encoder: &mut wgpu::CommandEncoder,
        staging: &wgpu::Buffer,
        offset: u64,
    );

    /// Reads its results (`bytes`, the range [`copy_out`](Stage::copy_out)
    /// filled) into `out`, one entry a frame, once the submission finished.
    ///
    /// # Errors
    /// [`KernelError::Internal`] when the device's results do not add up.
    fn read(&mut self, chunk: &Chunk<'_>, bytes: &[u8], out: &mut [FrameRaw]) -> Result<()>;
}

/// Where each stage's results lie in the staging buffer: 4-byte aligned
/// ranges one after another; the total is the last range's end.
pub(crate) fn readback_ranges(
    stages: &[&mut dyn Stage],
    ranges: &mut Vec<std::ops::Range<u64>>,
) -> u64 {
    ranges.clear();
    let mut at = 0;
    for stage in stages {
        let bytes = stage.readback_bytes();
        ranges.push(at..at + bytes);
        at += bytes.next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT);
    }
    at
}
