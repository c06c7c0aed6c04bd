//! The GPU context: one adapter, device and queue, shared by every kernel.
//!
//! GPU code takes a [`GpuContext`] (or its `&Device`/`&Queue`) from its caller
//! instead of creating one, so a process opens the device once and several
//! backends (one per camera, say) can share it through an `Arc`.
//!
//! This is also the trust boundary for GPU errors: [`GpuContext::scoped`] runs
//! work inside wgpu error scopes and turns whatever they catch into
//! [`KernelError::Gpu`], and the device-lost and uncaptured-error callbacks
//! record what happened instead of panicking (wgpu's default handler panics).

use std::sync::{Arc, Mutex, PoisonError};

use super::adapters::{AdapterSummary, instance, request_adapter};
use crate::error::{KernelError, Result};

/// Faults reported by wgpu callbacks, which run outside any call of ours.
#[derive(Debug, Default)]
struct Faults {
    /// Why the device was lost, once it has been.
    lost: Mutex<Option<String>>,
    /// The first error no error scope caught since the last check (from work
    /// outside [`GpuContext::scoped`], on this or another thread).
    uncaptured: Mutex<Option<String>>,
}

impl Faults {
    fn set_once(cell: &Mutex<Option<String>>, message: String) {
        let mut cell = cell.lock().unwrap_or_else(PoisonError::into_inner);
        if cell.is_none() {
            *cell = Some(message);
        }
    }

    fn get(cell: &Mutex<Option<String>>) -> Option<String> {
        cell.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn take(cell: &Mutex<Option<String>>) -> Option<String> {
        cell.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// An open GPU: the adapter, its device and queue.
#[derive(Debug)]
pub struct GpuContext {
    adapter: wgpu::Adapter,
    device: wgpu::Device,
    queue: wgpu::Queue,
    summary: AdapterSummary,
    faults: Arc<Faults>,
}

impl GpuContext {
    /// Opens the adapter [`preferred_adapter`](super::preferred_adapter) names
    /// (high-performance first, lavapipe only when nothing else exists).
    ///
    /// # Errors
    /// [`KernelError::NoAdapter`] when wgpu finds no adapter;
    /// [`KernelError::DeviceRequest`] when the adapter cannot open a device.
    pub fn new() -> Result<Self> {
        let instance = instance();
        let adapter = request_adapter(&instance)?;
        Self::from_adapter(adapter)
    }

    /// Opens a device on `adapter`, with the adapter's own limits so that large
    /// chunks fit in one storage binding.
    ///
    /// # Errors
    /// [`KernelError::DeviceRequest`] when the adapter cannot open a device.
    pub fn from_adapter(adapter: wgpu::Adapter) -> Result<Self> {
        let limits = adapter.limits();
        Self::from_adapter_with_limits(adapter, limits)
    }

    /// Opens a device on `adapter` held to `limits`, which may be lower than
    /// the adapter's own: a device that binds less, to see how work that
    /// does not fit is handled (as tests do), or to share a GPU politely.
    ///
    /// # Errors
    /// [`KernelError::DeviceRequest`] when the adapter cannot open a device,
    /// or `limits` asks for more than it offers.
    pub fn from_adapter_with_limits(adapter: wgpu::Adapter, limits: wgpu::Limits) -> Result<Self> {
        let summary = AdapterSummary::from_info(&adapter.get_info());
        let desc = wgpu::DeviceDescriptor {
            label: Some("osprey device"),
            required_features: wgpu::Features::empty(),
            required_limits: limits,
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        };
        let (device, queue) = pollster::block_on(adapter.request_device(&desc)).map_err(|e| {
            KernelError::DeviceRequest {
                adapter: summary.name.clone(),
                reason: one_line(&e.to_string()),
            }
        })?;

        let faults = Arc::new(Faults::default());
        let lost = Arc::clone(&faults);
        device.set_device_lost_callback(move |reason, message| {
            // Dropping the device reports `Destroyed`: that is not a fault.
            if reason != wgpu::DeviceLostReason::Destroyed {
                tracing::error!(?reason, %message, "GPU device lost.");
                Faults::set_once(&lost.lost, one_line(&message));
            }
        });
        let uncaptured = Arc::clone(&faults);
        device.on_uncaptured_error(Arc::new(move |error: wgpu::Error| {
            let message = describe(&error);
            tracing::error!(%message, "GPU error outside an error scope.");
            Faults::set_once(&uncaptured.uncaptured, message);
        }));

        tracing::debug!(adapter = %summary, "GPU device opened.");
        Ok(GpuContext {
            adapter,
            device,
            queue,
            summary,
            faults,
        })
    }

    /// The adapter the device was opened on.
    pub fn adapter(&self) -> &wgpu::Adapter {
        &self.adapter
    }

    /// What `osprey devices` and backend labels say about the adapter.
    pub fn summary(&self) -> &AdapterSummary {
        &self.summary
    }

    /// The device, for creating resources.
    pub fn device(&self) -> &wgpu::Device {
        &self.device
    }

    /// The queue, for uploads and submissions.
    pub fn queue(&self) -> &wgpu::Queue {
        &self.queue
    }

    /// The device's limits (the adapter's own unless others were asked for).
    pub fn limits(&self) -> wgpu::Limits {
        self.device.limits()
    }

    /// Fails when the device has been lost (from then on, every time) or when
    /// an error escaped every scope since the last check (reported once).
    ///
    /// # Errors
    /// [`KernelError::Gpu`] with what wgpu reported.
    pub fn check(&self) -> Result<()> {
        if let Some(reason) = Faults::get(&self.faults.lost) {
            return Err(KernelError::Gpu(format!("device lost: {reason}")));
        }
        if let Some(message) = Faults::take(&self.faults.uncaptured) {
            return Err(KernelError::Gpu(message));
        }
        Ok(())
    }

    /// Runs `work` inside out-of-memory, validation and internal error scopes
    /// and reports the first error they catch, ahead of `work`'s own result
    /// (a failed map is usually the echo of an earlier validation error).
    ///
    /// Error scopes are per thread: run `work` on the calling thread.
    ///
    /// # Errors
    /// [`KernelError::Gpu`] for anything wgpu reports; otherwise `work`'s error.
    pub fn scoped<R>(&self, work: impl FnOnce() -> Result<R>) -> Result<R> {
        self.check()?;
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let internal = self.device.push_error_scope(wgpu::ErrorFilter::Internal);
        let result = work();
        // Scopes pop innermost first.
        let caught = [internal.pop(), validation.pop(), oom.pop()]
            .into_iter()
            .find_map(pollster::block_on);
        if let Some(error) = caught {
            return Err(KernelError::Gpu(describe(&error)));
        }
        self.check()?;
        result
    }
}

/// A wgpu error as one lowercase line, for [`KernelError::Gpu`].
fn describe(error: &wgpu::Error) -> String {
    match error {
        wgpu::Error::OutOfMemory { .. } => "out of GPU memory".to_owned(),
        wgpu::Error::Validation { description, .. } => {
            format!("validation failed: {}", one_line(description))
        }
        wgpu::Error::Internal { description, .. } => {
            format!("internal error: {}", one_line(description))
        }
    }
}

/// Joins wgpu's multi-line messages into one line without a final period.
fn one_line(message: &str) -> String {
    let joined = message.split_whitespace().collect::<Vec<_>>().join(" ");
    joined.trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_become_one_line() {
        assert_eq!(
            one_line("Validation Error\n\nCaused by:\n    In a set_bind_group.\n"),
            "Validation Error Caused by: In a set_bind_group"
        );
    }
}
