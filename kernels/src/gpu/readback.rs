//! The one place that waits on the GPU and reads its results back: staging
//! buffers, `map_async`, polling and unmapping.
//!
//! Kernels copy their outputs into a [`Readback`] buffer at the end of their
//! command buffer; after the submission, [`wait_for`] blocks until the GPU is
//! done and [`Readback::read`] maps the staging buffer, hands its bytes to a
//! closure and unmaps it. A wgpu API change to mapping or polling touches only
//! this file.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::error::{KernelError, Result};

/// How long a map may take once the GPU is idle before it counts as failed.
const MAP_TIMEOUT: Duration = Duration::from_secs(60);

/// Blocks until `submission` has finished on the GPU.
///
/// # Errors
/// [`KernelError::Gpu`] when the wait fails (a lost device, a bad index).
pub(crate) fn wait_for(device: &wgpu::Device, submission: wgpu::SubmissionIndex) -> Result<()> {
    device
        .poll(wgpu::PollType::Wait {
            submission_index: Some(submission),
            timeout: None,
        })
        .map(drop)
        .map_err(|e| KernelError::Gpu(format!("waiting for the GPU failed: {e}")))
}

/// A reusable `MAP_READ` staging buffer that grows to the largest read asked of it.
#[derive(Debug)]
pub(crate) struct Readback {
    label: &'static str,
    buffer: Option<wgpu::Buffer>,
}

impl Readback {
    /// An empty readback; the buffer is created on first use.
    pub(crate) fn new(label: &'static str) -> Self {
        Readback {
            label,
            buffer: None,
        }
    }

    /// The staging buffer, at least `size` bytes, to copy results into
    /// (`size` is rounded up to the 4-byte copy alignment).
    pub(crate) fn target(&mut self, device: &wgpu::Device, size: u64) -> &wgpu::Buffer {
        let size = size.max(4).next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT);
        let fits = self.buffer.as_ref().is_some_and(|b| b.size() >= size);
        if !fits {
            self.buffer = Some(device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(self.label),
                size,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }));
        }
        self.buffer
            .as_ref()
            .expect("the staging buffer was created just above")
    }

    /// Maps the first `size` bytes of the staging buffer (after the submission
    /// that filled it has finished), passes them to `read`, and unmaps.
    ///
    /// # Errors
    /// [`KernelError::Gpu`] when mapping fails; [`KernelError::Internal`] when
    /// nothing was copied into this readback yet.
    pub(crate) fn read<R>(
        &self,
        device: &wgpu::Device,
        size: u64,
        read: impl FnOnce(&[u8]) -> R,
    ) -> Result<R> {
        let buffer = self
            .buffer
            .as_ref()
            .ok_or_else(|| KernelError::Internal(format!("{} read before use", self.label)))?;
        let size = size.max(4).next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT);
        let slice = buffer.slice(..size);
        let (tx, rx) = mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |status| {
            // The receiver waits below; if it is gone there is no one to tell.
            let _ = tx.send(status);
        });
        // The submission that filled the buffer is done (see `wait_for`), so a
        // non-blocking poll resolves the map; a blocking one would also wait
        // for other threads' submissions on a shared device. Another thread's
        // poll may be the one that runs our callback, hence the loop.
        let started = Instant::now();
        let status = loop {
            device
                .poll(wgpu::PollType::Poll)
                .map_err(|e| KernelError::Gpu(format!("polling for {} failed: {e}", self.label)))?;
            match rx.recv_timeout(Duration::from_micros(200)) {
                Ok(status) => break status,
                Err(mpsc::RecvTimeoutError::Timeout) if started.elapsed() < MAP_TIMEOUT => {}
                Err(_) => {
                    return Err(KernelError::Gpu(format!(
                        "{} was not mapped within {MAP_TIMEOUT:?}",
                        self.label
                    )));
                }
            }
        };
        status.map_err(|e| KernelError::Gpu(format!("cannot map {}: {e}", self.label)))?;
        let out = match slice.get_mapped_range() {
            Ok(view) => Ok(read(&view)),
            Err(e) => Err(KernelError::Gpu(format!("cannot read {}: {e}", self.label))),
        };
        // The view is dropped above, so unmapping cannot panic.
        buffer.unmap();
        out
    }
}
