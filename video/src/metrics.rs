//! The names of the metrics osprey-video records through the [`metrics`]
//! facade, in one place, each with what it measures.
//!
//! The library only records; the binary installs a recorder (the server's
//! Prometheus exporter) and, with [`describe`], their help texts. Without
//! a recorder every call is a no-op. Labels stay low-cardinality: a
//! source's name, an event type, a kernel set and a backend kind.
//! Per-source handles are made once a source (see
//! [`crate::live::SourceStatus`]) and moved once a chunk, never once a
//! frame or a pixel.

/// Counter, `{source}`: frames the decoder handed over, before the
/// drop-oldest queue.
pub const FRAMES_DECODED: &str = "osprey_frames_decoded_total";

/// Counter, `{source}`: frames the kernels analysed.
pub const FRAMES_ANALYZED: &str = "osprey_frames_analyzed_total";

/// Counter, `{source}`: frames dropped before the kernels because the
/// analysis fell behind.
pub const FRAMES_DROPPED: &str = "osprey_frames_dropped_total";

/// Gauge, `{source}`: 1 while the source is connected and delivering, 0
/// while it is down and once it has ended.
pub const SOURCE_UP: &str = "osprey_source_up";

/// Counter, `{source}`: reconnections after failures.
pub const SOURCE_RECONNECTS: &str = "osprey_source_reconnects_total";

/// Gauge, `{source}`: frames waiting in the drop-oldest queue between the
/// decoder and the kernels.
pub const QUEUE_FRAMES: &str = "osprey_queue_frames";

/// Histogram, `{kernel, backend}`: seconds one chunk spends in the
/// backend. Backends run the kernels of a source fused, in one pass a
/// chunk, so `kernel` is the kernel set (`motion+scene`) and the time is
/// the chunk's; `backend` is `cpu` or `gpu`.
pub const KERNEL_SECONDS: &str = "osprey_kernel_seconds";

/// Counter, `{source, type}`: events written (`scene_cut`,
/// `motion_start`, `camera_offline_start`, ...).
pub const EVENTS: &str = "osprey_events_total";

/// Registers the help text of every metric above with the installed
/// recorder (call once, after installing it).
pub fn describe() {
    use ::metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        FRAMES_DECODED,
        Unit::Count,
        "Frames decoded, before the drop-oldest queue."
    );
    describe_counter!(FRAMES_ANALYZED, Unit::Count, "Frames analysed.");
    describe_counter!(
        FRAMES_DROPPED,
        Unit::Count,
        "Frames dropped before the kernels because the analysis fell behind."
    );
    describe_gauge!(
        SOURCE_UP,
        "1 while the source is connected and delivering frames, else 0."
    );
    describe_counter!(
        SOURCE_RECONNECTS,
        Unit::Count,
        "Reconnections after failures."
    );
    describe_gauge!(
        QUEUE_FRAMES,
        Unit::Count,
        "Frames waiting between the decoder and the kernels."
    );
    describe_histogram!(
        KERNEL_SECONDS,
        Unit::Seconds,
        "Seconds a chunk spends in the backend (the kernel set runs fused)."
    );
    describe_counter!(EVENTS, Unit::Count, "Events written, by type.");
}
