//! Host wall-clock time of each stage of the last `analyze` call, for
//! benchmarks that report upload, dispatch and readback apart.

use std::time::Duration;

/// Where the time of one `analyze` call went, summed over its submissions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StageTimings {
    /// Packing planes into wgpu's staging memory (`write_buffer`).
    pub upload: Duration,
    /// Encoding, `submit`, and waiting until the GPU has finished (this
    /// includes the copy from staging memory to the GPU buffer).
    pub dispatch: Duration,
    /// Mapping the results and copying them out.
    pub readback: Duration,
    /// Frames analysed.
    pub frames: usize,
    /// Queue submissions (a chunk too large for one is split).
    pub submissions: usize,
    /// Bytes of planes uploaded, padding included.
    pub bytes_uploaded: u64,
}

impl StageTimings {
    /// Upload, dispatch and readback together.
    pub fn total(&self) -> Duration {
        self.upload + self.dispatch + self.readback
    }
}
