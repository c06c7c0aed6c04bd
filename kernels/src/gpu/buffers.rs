//! The GPU buffers a backend keeps between chunks, created once and re-created
//! only when a chunk needs more room than they have.

use super::types::{FrameHist, FrameParams, SAD_PER_FRAME, SadTotal};
use super::upload::PackedFrame;

/// Growth step of the upload buffer, so that slowly growing chunks do not
/// re-create it every time.
const UPLOAD_STEP: u64 = 1 << 20;

fn buffer(
    device: &wgpu::Device,
    label: &str,
    size: u64,
    usage: wgpu::BufferUsages,
) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: size.max(4).next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT),
        usage,
        mapped_at_creation: false,
    })
}

/// The per-chunk buffers: parameters, packed frames and per-frame outputs.
#[derive(Debug)]
pub(crate) struct ChunkBuffers {
    /// One [`FrameParams`] a frame, `param_stride` bytes apart (uniform, dynamic offsets).
    pub params: wgpu::Buffer,
    /// The packed planes of the chunk's frames.
    pub frames: wgpu::Buffer,
    /// One [`FrameHist`] a frame.
    pub hist: wgpu::Buffer,
    /// [`SAD_PER_FRAME`] [`SadTotal`]s a frame.
    pub sad: wgpu::Buffer,
    /// Frames the per-frame buffers hold.
    pub frame_capacity: usize,
    /// Bytes of `frames`.
    pub upload_capacity: u64,
}

impl ChunkBuffers {
    /// Buffers for `frames` frames and `upload` bytes of planes, with frame
    /// parameters `param_stride` bytes apart; the upload buffer grows in steps
    /// but never past `upload_limit`.
    pub(crate) fn new(
        device: &wgpu::Device,
        frames: usize,
        upload: u64,
        upload_limit: u64,
        param_stride: u64,
    ) -> Self {
        use wgpu::BufferUsages as U;
        let upload_capacity = upload
            .next_multiple_of(UPLOAD_STEP)
            .min(upload_limit)
            .max(upload);
        let n = frames as u64;
        ChunkBuffers {
            params: buffer(
                device,
                "osprey frame params",
                n * param_stride,
                U::UNIFORM | U::COPY_DST,
            ),
            frames: buffer(
                device,
                "osprey chunk frames",
                upload_capacity,
                U::STORAGE | U::COPY_DST | U::COPY_SRC,
            ),
            hist: buffer(
                device,
                "osprey stats histograms",
                n * size_of::<FrameHist>() as u64,
                U::STORAGE | U::COPY_SRC | U::COPY_DST,
            ),
            sad: buffer(
                device,
                "osprey scene sums",
                n * u64::from(SAD_PER_FRAME) * size_of::<SadTotal>() as u64,
                U::STORAGE | U::COPY_SRC | U::COPY_DST,
            ),
            frame_capacity: frames,
            upload_capacity,
        }
    }

    /// True when `frames` frames of `upload` bytes fit.
    pub(crate) fn fits(&self, frames: usize, upload: u64) -> bool {
        frames <= self.frame_capacity && upload <= self.upload_capacity
    }
}

/// Bytes between two frames' parameters: [`FrameParams`] rounded up to the
/// adapter's uniform offset alignment.
pub(crate) fn param_stride(limits: &wgpu::Limits) -> u64 {
    (size_of::<FrameParams>() as u64)
        .next_multiple_of(u64::from(limits.min_uniform_buffer_offset_alignment.max(1)))
}

/// The frame `scene` and `stats` compare the next chunk's first frame with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PrevFrame {
    /// Luma width.
    pub width: u32,
    /// Luma height.
    pub height: u32,
    /// Its format.
    pub format: crate::frame::PixelFormat,
    /// Its planes in the kept frame, luma at 0.
    pub packed: PackedFrame,
    /// Bytes of the frame in the kept frame.
    pub bytes: u64,
}

/// The kept previous frame: the planes of the last frame of the previous
/// chunk, kept on the GPU so they are never uploaded twice.
#[derive(Debug)]
pub(crate) struct KeptFrame {
    /// The kept frame's buffer (bound as `prev_luma`).
    pub buffer: wgpu::Buffer,
    /// What it holds, or `None` at the start of a stream.
    pub frame: Option<PrevFrame>,
}

impl KeptFrame {
    fn create(device: &wgpu::Device, size: u64) -> wgpu::Buffer {
        use wgpu::BufferUsages as U;
        buffer(
            device,
            "osprey previous frame",
            size,
            U::STORAGE | U::COPY_DST | U::COPY_SRC,
        )
    }

    /// An empty kept frame.
    pub(crate) fn new(device: &wgpu::Device) -> Self {
        KeptFrame {
            buffer: Self::create(device, 4),
            frame: None,
        }
    }

    /// Makes the kept frame's buffer hold at least `size` bytes. A new buffer gets the old
    /// plane copied over first (recorded in `encoder`), since this chunk's
    /// first frame may still need it. Returns true when the buffer changed.
    pub(crate) fn reserve(
        &mut self,
        device: &wgpu::Device,
        encoder: &mut wgpu::CommandEncoder,
        size: u64,
    ) -> bool {
        if self.buffer.size() >= size {
            return false;
        }
        let grown = Self::create(device, size);
        if let Some(prev) = self.frame {
            encoder.copy_buffer_to_buffer(&self.buffer, 0, &grown, 0, prev.bytes);
        }
        self.buffer = grown;
        true
    }
}
