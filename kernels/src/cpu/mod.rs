//! The CPU twins of the WGSL kernels.
//!
//! Each file mirrors one shader (`shaders/<name>.wgsl` ⇄ `cpu/<name>.rs`) and
//! produces the same integers. [`CpuBackend`] runs them over a chunk, one frame
//! a task on the kernels' own rayon pool ([`pool`], below the decoder's
//! priority), and fuses the kernels that read the same plane: the luma rows
//! are read once for the histogram and the difference.

pub mod aggregate;
pub mod blur;
pub mod downscale;
pub mod freeze;
pub mod motion;
pub mod pool;
pub mod scene;
pub mod stats;

use rayon::prelude::*;

use crate::backend::Backend;
use crate::error::Result;
use crate::frame::{FrameView, OwnedFrame, PixelFormat};
use crate::kernel::{AnalysisConfig, FrameRaw, KernelSet, channel};

/// The CPU backend: exact twins of the GPU kernels.
#[derive(Debug)]
pub struct CpuBackend {
    config: AnalysisConfig,
    kernels: KernelSet,
    /// The last frame of the previous chunk, for `scene` and `stats`.
    prev: Option<OwnedFrame>,
    /// freezedetect's reference frame, with `freeze`.
    freeze: Option<freeze::FreezeState>,
    /// blurdetect's resolved parameters, with `blur`.
    blur: Option<blur::BlurSetup>,
    /// The motion detector's downscale tables, with `motion`.
    motion: Option<motion::MotionResampler>,
}

impl CpuBackend {
    /// A backend running the kernels of `config` (a [`KernelSet`] converts,
    /// with default parameters).
    pub fn new(config: impl Into<AnalysisConfig>) -> Self {
        let config = config.into();
        CpuBackend {
            kernels: config.kernels,
            freeze: config
                .kernels
                .freeze
                .then(|| freeze::FreezeState::new(config.freeze_noise)),
            blur: config
                .kernels
                .blur
                .then(|| blur::BlurSetup::new(&config.blur)),
            motion: config
                .kernels
                .motion
                .then(|| motion::MotionResampler::new(config.motion_frame_height)),
            config,
            prev: None,
        }
    }

    /// The analysis this backend runs.
    pub fn config(&self) -> &AnalysisConfig {
        &self.config
    }

    /// [`Backend::analyze`]'s work, on the pool the caller runs it on.
    fn analyze_chunk(&mut self, frames: &[FrameView<'_>], out: &mut Vec<FrameRaw>) {
        out.resize_with(frames.len(), || FrameRaw::new(0, 0));
        let kernels = self.kernels;
        let carried = self.prev.as_ref().map(OwnedFrame::view);
        let blur = self.blur.as_ref();
        if let Some(m) = &mut self.motion {
            m.prepare(frames);
        }
        let motion = self.motion.as_ref();
        out.par_iter_mut().enumerate().for_each(|(i, raw)| {
            let prev = if i == 0 {
                carried.as_ref()
            } else {
                frames.get(i - 1)
            };
            analyze_frame(kernels, &frames[i], prev, raw);
            if let Some(setup) = blur {
                let f = &frames[i];
                blur::analyze(f.plane(0), f.width(), f.height(), setup, &mut raw.blur);
            }
            if let Some(m) = motion {
                m.run(&frames[i], &mut raw.motion);
            }
        });
        if let Some(freeze) = &mut self.freeze {
            freeze.run(frames, out);
        }
        if kernels.needs_luma_sad()
            && let Some(last) = frames.last()
        {
            match &mut self.prev {
                Some(p) => p.copy_from(last),
                None => self.prev = Some(OwnedFrame::from_view(last)),
            }
        }
    }
}

/// Runs the selected kernels on one frame; `prev` is the frame before it.
pub fn analyze_frame(
    kernels: KernelSet,
    frame: &FrameView<'_>,
    prev: Option<&FrameView<'_>>,
    raw: &mut FrameRaw,
) {
    raw.reset(frame.width(), frame.height());
    let prev = prev.filter(|p| {
        kernels.needs_luma_sad() && p.width() == frame.width() && p.height() == frame.height()
    });

    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let y_plane = frame.plane(0);
    let mut luma = stats::LumaHistogram::new();
    let mut sad = 0u64;
    for y in 0..h {
        let row = y_plane.row(y, w);
        if kernels.needs_luma_histogram() {
            luma.add_row(row);
        }
        if let Some(p) = prev {
            sad += scene::row_sad(row, p.plane(0).row(y, w));
        }
    }
    if prev.is_some() {
        raw.luma_sad = Some(sad);
    }
    if !kernels.needs_luma_histogram() {
        return;
    }
    luma.merge_into(&mut raw.hist[channel::Y]);

    // Chroma: histograms, hue, and the U/V differences (UDIF, VDIF) against
    // a predecessor of the same format.
    let (cw, ch) = frame.chroma_size();
    let (cw, ch) = (cw as usize, ch as usize);
    let prev = prev.filter(|p| p.format() == frame.format());
    let mut chroma_sad = [0u64; 2];
    CHROMA.with_borrow_mut(|chroma| {
        for y in 0..ch {
            match frame.format() {
                PixelFormat::I420 => {
                    let (u, v) = (frame.plane(1).row(y, cw), frame.plane(2).row(y, cw));
                    chroma.add_planar_row(u, v);
                    if let Some(p) = prev {
                        chroma_sad[0] += scene::row_sad(u, p.plane(1).row(y, cw));
                        chroma_sad[1] += scene::row_sad(v, p.plane(2).row(y, cw));
                    }
                }
                PixelFormat::Nv12 => {
                    let uv = frame.plane(1).row(y, 2 * cw);
                    chroma.add_interleaved_row(uv);
                    if let Some(p) = prev {
                        let [du, dv] = scene::interleaved_row_sad(uv, p.plane(1).row(y, 2 * cw));
                        chroma_sad[0] += du;
                        chroma_sad[1] += dv;
                    }
                }
            }
        }
        chroma.merge_into(&mut raw.hist, &mut raw.hue_hist);
    });
    if prev.is_some() {
        raw.chroma_sad = Some(chroma_sad);
    }
}

thread_local! {
    /// One set of chroma counters a worker thread, reused frame after frame.
    static CHROMA: std::cell::RefCell<stats::ChromaHistograms> =
        std::cell::RefCell::new(stats::ChromaHistograms::new());
}

impl Backend for CpuBackend {
    fn label(&self) -> String {
        format!("cpu ({} threads)", pool::kernel_threads())
    }

    fn is_gpu(&self) -> bool {
        false
    }

    fn analyze(&mut self, frames: &[FrameView<'_>], out: &mut Vec<FrameRaw>) -> Result<()> {
        pool::run_on_kernel_pool(|| self.analyze_chunk(frames, out));
        Ok(())
    }

    fn reset(&mut self) {
        self.prev = None;
        if let Some(freeze) = &mut self.freeze {
            freeze.reset();
        }
    }

    fn downscale(
        &mut self,
        frame: &FrameView<'_>,
        width: u32,
        height: u32,
        out: &mut OwnedFrame,
    ) -> Result<()> {
        downscale::downscale(frame, width, height, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::saturation;
    use crate::synth;

    /// The plainest reading of signalstats' and scdet's loops, pixel by pixel.
    fn naive(frame: &FrameView<'_>, prev: Option<&FrameView<'_>>) -> FrameRaw {
        let mut raw = FrameRaw::new(frame.width(), frame.height());
        let (w, h) = (frame.width() as usize, frame.height() as usize);
        let (cw, ch) = frame.chroma_size();
        let mut sad = 0u64;
        for y in 0..h {
            for x in 0..w {
                let p = frame.plane(0).data[y * frame.plane(0).stride + x];
                raw.hist[channel::Y][p as usize] += 1;
                if let Some(q) = prev {
                    sad += u64::from(p.abs_diff(q.plane(0).data[y * q.plane(0).stride + x]));
                }
            }
        }
        raw.luma_sad = prev.map(|_| sad);
        let mut chroma_sad = [0u64; 2];
        for y in 0..ch as usize {
            for x in 0..cw as usize {
                let (u, v) = match frame.format() {
                    PixelFormat::I420 => (
                        frame.plane(1).data[y * frame.plane(1).stride + x],
                        frame.plane(2).data[y * frame.plane(2).stride + x],
                    ),
                    PixelFormat::Nv12 => (
                        frame.plane(1).data[y * frame.plane(1).stride + 2 * x],
                        frame.plane(1).data[y * frame.plane(1).stride + 2 * x + 1],
                    ),
                };
                raw.hist[channel::U][u as usize] += 1;
                raw.hist[channel::V][v as usize] += 1;
                raw.hist[channel::SAT][saturation(u, v) as usize] += 1;
                raw.hue_hist[usize::from(stats::hue(u, v))] += 1;
                if let Some(q) = prev {
                    let (pu, pv) = match q.format() {
                        PixelFormat::I420 => (
                            q.plane(1).data[y * q.plane(1).stride + x],
                            q.plane(2).data[y * q.plane(2).stride + x],
                        ),
                        PixelFormat::Nv12 => (
                            q.plane(1).data[y * q.plane(1).stride + 2 * x],
                            q.plane(1).data[y * q.plane(1).stride + 2 * x + 1],
                        ),
                    };
                    chroma_sad[0] += u64::from(u.abs_diff(pu));
                    chroma_sad[1] += u64::from(v.abs_diff(pv));
                }
            }
        }
        raw.chroma_sad = prev.map(|_| chroma_sad);
        raw
    }

    /// The kernels `analyze_frame` runs on its own (freeze walks the chunk).
    const PER_FRAME: KernelSet = KernelSet {
        stats: true,
        scene: true,
        ..KernelSet::NONE
    };

    #[test]
    fn twin_matches_the_pixel_loop() {
        let mut seed = 1;
        for format in [PixelFormat::I420, PixelFormat::Nv12] {
            for (w, h) in [(1, 1), (2, 2), (3, 5), (17, 9), (33, 31), (64, 48)] {
                for pad in [0, 1, 3, 64] {
                    seed += 1;
                    let a = synth::random_frame(seed, format, w, h, pad);
                    let b = synth::random_frame(seed + 1000, format, w, h, pad);
                    let mut raw = FrameRaw::new(0, 0);
                    analyze_frame(PER_FRAME, &b.view(), Some(&a.view()), &mut raw);
                    assert_eq!(
                        raw,
                        naive(&b.view(), Some(&a.view())),
                        "{format:?} {w}x{h} pad {pad}"
                    );
                }
            }
        }
    }

    #[test]
    fn chunks_carry_the_previous_frame() {
        let clip = synth::clip(5, PixelFormat::I420, 40, 30, 10, 4);
        let views: Vec<_> = clip.iter().map(OwnedFrame::view).collect();
        let mut whole = Vec::new();
        CpuBackend::new(PER_FRAME)
            .analyze(&views, &mut whole)
            .unwrap();
        let mut backend = CpuBackend::new(PER_FRAME);
        let mut pieces = Vec::new();
        for chunk in views.chunks(3) {
            let mut out = Vec::new();
            backend.analyze(chunk, &mut out).unwrap();
            pieces.extend(out);
        }
        assert_eq!(whole, pieces);
        assert_eq!(whole[0].luma_sad, None);
        for (i, raw) in whole.iter().enumerate().skip(1) {
            assert_eq!(raw, &naive(&views[i], Some(&views[i - 1])));
        }
    }

    #[test]
    fn size_change_and_kernel_selection() {
        let a = synth::random_frame(1, PixelFormat::I420, 8, 8, 0);
        let b = synth::random_frame(2, PixelFormat::I420, 10, 8, 0);
        let mut out = Vec::new();
        CpuBackend::new(KernelSet::ALL)
            .analyze(&[a.view(), b.view()], &mut out)
            .unwrap();
        assert_eq!(out[1].luma_sad, None);
        assert_eq!(out[1].chroma_sad, None);
        assert_eq!(out[1].freeze, None);
        let scene_only = KernelSet::of(&[crate::Kernel::Scene]);
        CpuBackend::new(scene_only)
            .analyze(&[a.view(), a.view()], &mut out)
            .unwrap();
        assert_eq!(out[1].luma_sad, Some(0));
        assert_eq!(out[1].hist, [[0; 256]; 4]);
        let stats_only = KernelSet::of(&[crate::Kernel::Stats]);
        CpuBackend::new(stats_only)
            .analyze(&[a.view(), a.view()], &mut out)
            .unwrap();
        // YDIF needs the luma difference even without `scene`.
        assert_eq!(out[1].luma_sad, Some(0));
        assert_eq!(out[1].chroma_sad, Some([0, 0]));
        assert_eq!(out[1].freeze, None);
        assert_eq!(out[1].hist[channel::Y].iter().sum::<u32>(), 64);
        let freeze_only = KernelSet::of(&[crate::Kernel::Freeze]);
        CpuBackend::new(freeze_only)
            .analyze(&[a.view(), a.view()], &mut out)
            .unwrap();
        assert_eq!(out[1].luma_sad, None);
        assert_eq!(
            out[1].freeze,
            Some(crate::kernel::FreezeRaw {
                sad: 0,
                frozen: true
            })
        );
    }
}
