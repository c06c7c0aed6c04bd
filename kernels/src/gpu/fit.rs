//! Whether one frame fits the device's limits, decided before any work.
//!
//! Every kernel binds storage buffers whose size grows with the frame (the
//! packed planes, the kept frames of scene and freeze, blurdetect's three
//! 32-bit images, the motion detector's small image) and dispatches workgroup
//! grids that grow with it too. A device caps both
//! (`max_storage_buffer_binding_size`, `max_buffer_size`,
//! `max_compute_workgroups_per_dimension`): lavapipe binds 128 MiB at most,
//! which an 8192x8192 frame's blur images (256 MiB) overflow. A frame that
//! does not fit is analysed by the CPU twin instead (see
//! [`GpuBackend`](super::GpuBackend)), which gives the same integers.
//!
//! The answer depends on the frame's width and height only, never its format
//! or strides (the worst of both formats and the widest stride kept as it is
//! are assumed), so that every frame of one size takes the same side: the
//! state a kernel carries from frame to frame (the previous frame, the
//! freeze reference) only ever links frames of one size.

use super::pipeline::grid;
use super::scene::scene_grid;
use super::stats::StatsGrid;
use super::upload::MAX_KEPT_PADDING;
use crate::kernel::AnalysisConfig;
use crate::metrics::motion::resample::motion_size;

/// The limits a frame is held to, taken once from the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FitLimits {
    /// Largest storage binding, in bytes (also capped by the largest buffer
    /// and by the shaders' u32 word offsets), a multiple of 4.
    pub binding: u64,
    /// Largest workgroup count in one dispatch dimension.
    pub max_dim: u32,
}

impl FitLimits {
    /// The limits of a device with `limits`.
    pub(crate) fn new(limits: &wgpu::Limits) -> Self {
        // Plane offsets are u32 word indices in the shaders.
        let word_limit = u64::from(u32::MAX);
        FitLimits {
            binding: limits
                .max_storage_buffer_binding_size
                .min(limits.max_buffer_size)
                .min(word_limit)
                & !3,
            max_dim: limits.max_compute_workgroups_per_dimension,
        }
    }
}

/// The most bytes a `width` x `height` frame can take in the upload buffer,
/// in either format, with the widest source stride that is kept as it is.
pub(crate) fn worst_frame_bytes(width: u32, height: u32) -> u64 {
    let (cw, ch) = crate::frame::chroma_size(width, height);
    let plane = |row: u32, rows: u32| {
        let stride = u64::from(row).next_multiple_of(4) + MAX_KEPT_PADDING as u64;
        stride * u64::from(rows)
    };
    let luma = plane(width, height);
    let i420 = 2 * plane(cw, ch);
    let nv12 = plane(2 * cw, ch);
    luma + i420.max(nv12)
}

/// Why a `width` x `height` frame cannot run on a device with `limits`, or
/// `None` when it fits. The reason names the first limit it overflows.
pub(crate) fn misfit(
    width: u32,
    height: u32,
    config: &AnalysisConfig,
    limits: FitLimits,
) -> Option<String> {
    let kernels = config.kernels;
    if kernels.is_empty() {
        return None;
    }
    let binding = |what: &str, bytes: u64| {
        (bytes > limits.binding).then(|| {
            format!(
                "{what}: {bytes} bytes in one storage binding, more than the device's limit of {} bytes",
                limits.binding
            )
        })
    };
    let dispatch = |what: &str, fits: bool| {
        (!fits).then(|| {
            format!(
                "{what}: more workgroups than the device dispatches ({} a dimension)",
                limits.max_dim
            )
        })
    };
    let frame = worst_frame_bytes(width, height);
    let pixels = u64::from(width) * u64::from(height);
    let max_dim = limits.max_dim;
    let checks = [
        binding("the frame's planes", frame),
        binding(
            "blurdetect's images",
            if kernels.blur { pixels * 4 } else { 0 },
        ),
        kernels
            .motion
            .then(|| {
                let (sw, sh) = motion_size(width, height, config.motion_frame_height);
                let words = (u64::from(sw) * u64::from(sh)).div_ceil(4);
                binding("the motion image", words * 4)
                    .or_else(|| dispatch("the motion image", grid(words, max_dim).is_ok()))
            })
            .flatten(),
        kernels
            .needs_luma_histogram()
            .then(|| {
                dispatch(
                    "the histograms",
                    StatsGrid::new(width, height, false, max_dim).is_ok()
                        && StatsGrid::new(width, height, true, max_dim).is_ok(),
                )
            })
            .flatten(),
        kernels
            .needs_luma_sad()
            .then(|| {
                dispatch(
                    "the frame difference",
                    scene_grid(width, height, max_dim).is_ok(),
                )
            })
            .flatten(),
        kernels
            .freeze
            .then(|| {
                // The SAD reads at most every word of the frame; the copy into
                // the kept reference exactly that.
                dispatch("freezedetect", grid(frame / 4, max_dim).is_ok())
            })
            .flatten(),
        kernels
            .blur
            .then(|| {
                let tile = super::blur::TILE;
                dispatch(
                    "blurdetect",
                    width.div_ceil(tile) <= max_dim && height.div_ceil(tile) <= max_dim,
                )
            })
            .flatten(),
    ];
    checks.into_iter().flatten().next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KernelSet;

    fn limits(binding: u64) -> FitLimits {
        FitLimits {
            binding,
            max_dim: 65_535,
        }
    }

    #[test]
    fn worst_bytes_cover_both_formats_and_kept_padding() {
        // 6x4: luma rows of 8 (+64) bytes; chroma 3x2, where I420's two
        // planes of rows 4 (+64) outweigh NV12's one of rows 8 (+64).
        assert_eq!(worst_frame_bytes(6, 4), 72 * 4 + 2 * (68 * 2));
        assert_eq!(worst_frame_bytes(1, 1), 68 + 2 * 68);
    }

    #[test]
    fn lavapipe_binds_an_8k_frame_but_not_its_blur_images() {
        let lavapipe = limits(128 << 20);
        let stats = AnalysisConfig::from(KernelSet {
            stats: true,
            scene: true,
            freeze: true,
            ..KernelSet::NONE
        });
        assert_eq!(misfit(8192, 8192, &stats, lavapipe), None);
        let all = AnalysisConfig::from(KernelSet::ALL);
        let why = misfit(8192, 8192, &all, lavapipe).expect("the blur images overflow");
        assert!(
            why.starts_with("blurdetect's images: 268435456 bytes"),
            "{why}"
        );
        assert_eq!(misfit(4096, 4096, &all, lavapipe), None);
        assert_eq!(
            misfit(
                8192,
                8192,
                &AnalysisConfig::from(KernelSet::NONE),
                limits(4)
            ),
            None
        );
    }

    #[test]
    fn dispatch_limits_count_too() {
        let small_grid = FitLimits {
            binding: 1 << 30,
            max_dim: 16,
        };
        let stats = AnalysisConfig::from(KernelSet {
            stats: true,
            ..KernelSet::NONE
        });
        assert_eq!(misfit(64, 64, &stats, small_grid), None);
        let why = misfit(4096, 4096, &stats, small_grid).expect("too many workgroups");
        assert!(why.contains("workgroups"), "{why}");
    }
}
