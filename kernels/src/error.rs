//! The one error type of `osprey-kernels`.
//!
//! Input errors (a frame whose planes do not match its size), device errors
//! (no adapter, a lost device) and internal bugs are kept apart so callers can
//! map them to exit codes and messages.

/// Everything that can go wrong in the compute engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KernelError {
    /// A frame handed to a kernel is malformed (plane too short, zero size, ...).
    #[error("invalid frame: {0}")]
    InvalidFrame(String),
    /// `--backend gpu` was asked for but wgpu found no adapter.
    #[error(
        "no GPU adapter found (wgpu sees none; install a Vulkan driver such as Mesa's lavapipe, or use --backend cpu)"
    )]
    NoAdapter,
    /// The GPU adapter exists but a device could not be created from it.
    #[error("cannot open GPU device {adapter:?}: {reason}")]
    DeviceRequest {
        /// The adapter's name.
        adapter: String,
        /// What wgpu said.
        reason: String,
    },
    /// The GPU reported an error while running a kernel (validation, out of memory, lost device).
    #[error("GPU error: {0}")]
    Gpu(String),
    /// A backend name that osprey does not know.
    #[error("unknown backend {0:?} (known: auto, gpu, cpu)")]
    UnknownBackend(String),
    /// A kernel name that osprey does not know.
    #[error("unknown kernel {0:?} (known: stats, scene, motion, black, freeze, blur)")]
    UnknownKernel(String),
    /// A window, aggregate or duration that cannot be used (window engine).
    #[error("{0}")]
    InvalidConfig(String),
    /// The window engine's state grew past its memory limit
    /// ([`crate::window::Engine::set_memory_limit`]).
    #[error(
        "the aggregation state needs {} ({slots} open (window, group) slots), over the memory limit of {}; use fewer or coarser group keys, shorter windows (or a larger hop slide), fewer percentile and approx_count_distinct columns, or a larger --memory-limit",
        crate::window::memory::human(*.state),
        crate::window::memory::human(*.limit)
    )]
    MemoryLimit {
        /// Bytes of state the engine held when it stopped.
        state: u64,
        /// Open (window, group) slots.
        slots: u64,
        /// The limit, in bytes.
        limit: u64,
    },
    /// A bug in osprey: an invariant did not hold.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Shorthand for results of this crate.
pub type Result<T, E = KernelError> = std::result::Result<T, E>;
