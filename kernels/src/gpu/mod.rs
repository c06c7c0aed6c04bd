//! The wgpu backend: runs the WGSL twins of the CPU kernels on any adapter
//! wgpu reaches (Vulkan, Metal, DX12; Mesa's lavapipe counts).
//!
//! One [`analyze`](Backend::analyze) call is one chunk: the host packs every
//! frame's planes into one upload buffer (`upload.rs`); then every kernel
//! that runs ([`stats`], [`scene`], [`motion`], [`freeze`], [`blur`]) is a
//! stage (`stage.rs`) driven through the same steps over one per-chunk
//! context: prepare, dispatch for all frames in one compute pass, copy out
//! into its range of one staging buffer; the host submits once, waits once
//! and maps once (`readback.rs`) to read every stage's integers. A chunk
//! too large for one storage binding is split into several submissions. A
//! frame too large for the device's limits on its own (`fit.rs`: an
//! 8192x8192 frame's blur images on lavapipe) is analysed by the CPU twin
//! instead, with one warning, and gives the same integers.
//! Buffers, bind groups and pipelines are made once and re-created only when a
//! chunk needs more room. The previous frame's luma plane, which `scene`
//! compares the next chunk's first frame with, stays on the GPU.
//!
//! Modules: [`GpuContext`] (adapter, device, queue, error scopes),
//! [`list_adapters`]/[`preferred_adapter`], [`types`] (every struct shared
//! with WGSL), [`shaders`] (the composed WGSL sources and the table of entry
//! points, workgroup sizes and bindings).

pub(crate) mod adapters;
pub mod aggregate;
pub mod blur;
mod buffers;
mod context;
pub mod downscale;
mod fit;
pub mod freeze;
pub mod motion;
mod pipeline;
mod readback;
pub mod scene;
pub mod shaders;
mod stage;
pub mod stats;
mod timings;
pub mod types;
mod upload;

use std::sync::Arc;
use std::time::Instant;

pub use adapters::{AdapterSummary, auto_adapter, list_adapters, preferred_adapter};
pub use context::GpuContext;
pub use timings::StageTimings;
/// The wgpu this backend is built on, for callers that open their own device
/// or match on [`AdapterSummary`]'s fields.
pub use wgpu;

use self::buffers::{ChunkBuffers, KeptFrame, PrevFrame, param_stride};
use self::fit::{FitLimits, misfit, worst_frame_bytes};
use self::readback::{Readback, wait_for};
use self::scene::SceneKernel;
use self::stage::{Chunk, Stage, readback_ranges};
use self::stats::StatsKernel;
use self::types::{FrameParams, PREV_CHUNK, PREV_KEPT};
use self::upload::PackedFrame;
use crate::backend::Backend;
use crate::cpu::CpuBackend;
use crate::error::{KernelError, Result};
use crate::frame::FrameView;
use crate::kernel::{AnalysisConfig, FrameRaw, KernelSet};

/// Most frames one submission carries; longer chunks are split.
pub const MAX_FRAMES_PER_SUBMISSION: usize = 64;

/// The GPU backend.
#[derive(Debug)]
pub struct GpuBackend {
    ctx: Arc<GpuContext>,
    config: AnalysisConfig,
    kernels: KernelSet,
    stats: Option<StatsKernel>,
    /// The luma difference, for `scene` and for `stats` (YDIF).
    scene: Option<SceneKernel>,
    /// freezedetect, with its kept reference.
    freeze: Option<freeze::FreezeKernel>,
    /// The thumbnail downscaler, built on first use.
    downscale: Option<downscale::DownscaleKernel>,
    /// The motion detector's small luma image, with `motion`.
    motion: Option<motion::MotionKernel>,
    /// blurdetect and the Laplacian sums, with `blur`.
    blur: Option<blur::BlurKernel>,
    buffers: Option<ChunkBuffers>,
    prev: KeptFrame,
    readback: Readback,
    /// Largest upload one submission may carry (one storage binding).
    upload_limit: u64,
    /// Largest workgroup count in one dispatch dimension.
    max_dim: u32,
    /// The limits frames are held to, and the last size checked with its
    /// answer (`None` when it fits).
    fit: FitLimits,
    fit_memo: Option<((u32, u32), Option<String>)>,
    /// The CPU twin that analyses frames too large for the device, made on
    /// first need.
    fallback: Option<CpuBackend>,
    /// Which side analysed the last frame: `true` for the GPU.
    last_on_gpu: Option<bool>,
    /// Frames the CPU twin analysed in place of the GPU.
    fallback_frames: u64,
    /// Whether the fallback has been announced (once a backend).
    warned: bool,
    fallback_raws: Vec<FrameRaw>,
    param_stride: u64,
    timings: Option<StageTimings>,
    // Scratch reused between chunks.
    packing: Vec<PackedFrame>,
    params: Vec<FrameParams>,
    param_bytes: Vec<u8>,
    /// Each stage's range of the staging buffer, for the chunk being run.
    ranges: Vec<std::ops::Range<u64>>,
}

impl GpuBackend {
    /// Opens the preferred adapter and builds the pipelines for `kernels`.
    ///
    /// # Errors
    /// [`KernelError::NoAdapter`] when wgpu finds no adapter;
    /// [`KernelError::DeviceRequest`] when it cannot be opened;
    /// [`KernelError::Gpu`] when a pipeline fails to build.
    pub fn open(config: impl Into<AnalysisConfig>) -> Result<Self> {
        Self::new(Arc::new(GpuContext::new()?), config)
    }

    /// Builds the pipelines for `kernels` on a context the caller opened (and
    /// may share with other backends).
    ///
    /// # Errors
    /// [`KernelError::Gpu`] when a pipeline fails to build or the device is lost.
    pub fn new(ctx: Arc<GpuContext>, config: impl Into<AnalysisConfig>) -> Result<Self> {
        let config = config.into();
        let kernels = config.kernels;
        let limits = ctx.limits();
        let device = ctx.device();
        let (stats, scene, prev) = ctx.scoped(|| {
            Ok((
                kernels
                    .needs_luma_histogram()
                    .then(|| StatsKernel::new(device)),
                kernels
                    .needs_luma_sad()
                    .then(|| SceneKernel::new(device, kernels.needs_luma_histogram())),
                KeptFrame::new(device),
            ))
        })?;
        let motion = ctx.scoped(|| {
            Ok(kernels
                .motion
                .then(|| motion::MotionKernel::new(device, config.motion_frame_height)))
        })?;
        let blur = ctx.scoped(|| {
            Ok(kernels
                .blur
                .then(|| blur::BlurKernel::new(device, &config.blur)))
        })?;
        let fit = FitLimits::new(&limits);
        let upload_limit = fit.binding;
        let param_stride = param_stride(&limits);
        let freeze = ctx.scoped(|| {
            Ok(kernels
                .freeze
                .then(|| freeze::FreezeKernel::new(device, config.freeze_noise)))
        })?;
        Ok(GpuBackend {
            kernels,
            stats,
            scene,
            freeze,
            config,
            downscale: None,
            motion,
            blur,
            buffers: None,
            prev,
            readback: Readback::new("osprey results staging"),
            upload_limit,
            max_dim: limits.max_compute_workgroups_per_dimension,
            fit,
            fit_memo: None,
            fallback: None,
            last_on_gpu: None,
            fallback_frames: 0,
            warned: false,
            fallback_raws: Vec::new(),
            param_stride,
            timings: None,
            packing: Vec::new(),
            params: Vec::new(),
            param_bytes: Vec::new(),
            ranges: Vec::new(),
            ctx,
        })
    }

    /// The context this backend runs on.
    pub fn context(&self) -> &Arc<GpuContext> {
        &self.ctx
    }

    /// The adapter this backend runs on.
    pub fn adapter(&self) -> &AdapterSummary {
        self.ctx.summary()
    }

    /// The analysis this backend runs.
    pub fn config(&self) -> &AnalysisConfig {
        &self.config
    }

    /// The kernels this backend runs.
    pub fn kernels(&self) -> KernelSet {
        self.kernels
    }

    /// Where the time of the last successful [`analyze`](Backend::analyze)
    /// went; `None` before the first and after a failed one.
    pub fn last_timings(&self) -> Option<StageTimings> {
        self.timings
    }

    /// Frames of this backend's stream that the CPU twin analysed because
    /// they do not fit the device's limits.
    pub fn fallback_frames(&self) -> u64 {
        self.fallback_frames
    }

    /// Why a `width` x `height` frame cannot run on this device, or `None`
    /// when it can.
    fn misfit(&mut self, width: u32, height: u32) -> Option<String> {
        match &self.fit_memo {
            Some((size, why)) if *size == (width, height) => why.clone(),
            _ => {
                let why = misfit(width, height, &self.config, self.fit);
                self.fit_memo = Some(((width, height), why.clone()));
                why
            }
        }
    }

    /// Says once a backend that frames go to the CPU twin, and why.
    fn warn_fallback(&mut self, width: u32, height: u32, why: &str) {
        if !self.warned {
            self.warned = true;
            tracing::warn!(
                adapter = %self.ctx.summary().name,
                width,
                height,
                reason = %why,
                "Frames too large for this GPU's limits are analysed by the CPU twin \
                 (same results, slower)."
            );
        }
    }

    /// The CPU twin, made on first need.
    fn fallback(&mut self) -> &mut CpuBackend {
        let config = &self.config;
        self.fallback
            .get_or_insert_with(|| CpuBackend::new(config.clone()))
    }

    /// Analyses `frames` (all of one side) on the GPU or, when they do not
    /// fit, on the CPU twin. On a change of side the side taken forgets what
    /// it carried from its last frames: the frame before these had another
    /// size (fitting depends on the size alone), so neither twin would have
    /// compared them anyway.
    fn analyze_run(
        &mut self,
        frames: &[FrameView<'_>],
        out: &mut [FrameRaw],
        on_gpu: bool,
        timings: &mut StageTimings,
    ) -> Result<()> {
        if self.last_on_gpu.is_some_and(|last| last != on_gpu) {
            if on_gpu {
                self.reset_gpu();
            } else {
                self.fallback().reset();
            }
        }
        self.last_on_gpu = Some(on_gpu);
        if !on_gpu {
            let mut raws = std::mem::take(&mut self.fallback_raws);
            let result = self.fallback().analyze(frames, &mut raws);
            if result.is_ok() {
                out.clone_from_slice(&raws);
                self.fallback_frames += frames.len() as u64;
            }
            self.fallback_raws = raws;
            return result;
        }
        let mut start = 0;
        while start < frames.len() {
            let end = self.submission_end(frames, start)?;
            let ctx = Arc::clone(&self.ctx);
            ctx.scoped(|| self.run(&frames[start..end], &mut out[start..end], timings))?;
            start = end;
        }
        Ok(())
    }

    /// Forgets what the GPU side carries between chunks.
    fn reset_gpu(&mut self) {
        self.prev.frame = None;
        if let Some(freeze) = &mut self.freeze {
            freeze.reset();
        }
    }

    /// Bytes of the motion image a `width` x `height` frame adds to a
    /// submission's output (0 without `motion`).
    fn motion_bytes(&self, width: u32, height: u32) -> u64 {
        if !self.kernels.motion {
            return 0;
        }
        let (sw, sh) = crate::metrics::motion::resample::motion_size(
            width,
            height,
            self.config.motion_frame_height,
        );
        (u64::from(sw) * u64::from(sh)).div_ceil(4) * 4
    }

    /// Where the chunk starting at `start` ends: as many frames as fit in one
    /// storage binding (their planes, and their motion images), at most
    /// [`MAX_FRAMES_PER_SUBMISSION`].
    fn submission_end(&self, frames: &[FrameView<'_>], start: usize) -> Result<usize> {
        let (mut bytes, mut motion) = (0, 0);
        let mut end = start;
        while end < frames.len() && end - start < MAX_FRAMES_PER_SUBMISSION {
            let f = &frames[end];
            let need = upload::frame_bytes(f);
            let need_motion = self.motion_bytes(f.width(), f.height());
            if bytes + need > self.upload_limit || motion + need_motion > self.upload_limit {
                break;
            }
            bytes += need;
            motion += need_motion;
            end += 1;
        }
        if end == start {
            let f = &frames[start];
            return Err(KernelError::Gpu(format!(
                "a {}x{} frame needs {} bytes, more than the adapter binds at once ({} bytes)",
                f.width(),
                f.height(),
                upload::frame_bytes(f),
                self.upload_limit
            )));
        }
        Ok(end)
    }

    /// Lays the chunk out and fills `self.params`, pointing each frame at its
    /// predecessor when `scene` or `stats` runs and the sizes match.
    fn plan(&mut self, frames: &[FrameView<'_>]) -> u64 {
        self.packing.clear();
        self.params.clear();
        let mut end = 0;
        for (i, frame) in frames.iter().enumerate() {
            let packed = upload::layout_frame(frame, end);
            end = packed.end;
            let index = u32::try_from(i).expect("submissions hold few frames");
            let mut params = upload::frame_params(index, frame, &packed);
            let size = (frame.width(), frame.height());
            if self.kernels.needs_luma_sad() {
                if i == 0 {
                    if let Some(prev) = self.prev.frame.filter(|p| (p.width, p.height) == size) {
                        let same = prev.format == frame.format();
                        prev.packed.set_prev(&mut params, PREV_KEPT, same);
                    }
                } else if (frames[i - 1].width(), frames[i - 1].height()) == size {
                    let same = frames[i - 1].format() == frame.format();
                    self.packing[i - 1].set_prev(&mut params, PREV_CHUNK, same);
                }
            }
            self.packing.push(packed);
            self.params.push(params);
        }
        end
    }

    /// Runs one submission: upload the chunk, then every stage over one
    /// [`Chunk`] (prepare, dispatch in one pass, copy out), one submission,
    /// one wait and one readback.
    fn run(
        &mut self,
        frames: &[FrameView<'_>],
        out: &mut [FrameRaw],
        timings: &mut StageTimings,
    ) -> Result<()> {
        let ctx = Arc::clone(&self.ctx);
        let (device, queue) = (ctx.device(), ctx.queue());
        let n = frames.len();
        let upload_bytes = self.plan(frames);
        let last_packed = self.packing[n - 1];

        // Buffers: re-created only when this chunk needs more room.
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("osprey chunk"),
        });
        let mut rebind = false;
        if !self
            .buffers
            .as_ref()
            .is_some_and(|b| b.fits(n, upload_bytes))
        {
            let (frame_capacity, upload_capacity) = match &self.buffers {
                Some(b) => (
                    b.frame_capacity.max(n.next_power_of_two()),
                    b.upload_capacity.max(upload_bytes),
                ),
                None => (n.next_power_of_two(), upload_bytes),
            };
            self.buffers = Some(ChunkBuffers::new(
                device,
                frame_capacity,
                upload_capacity,
                self.upload_limit,
                self.param_stride,
            ));
            rebind = true;
        }
        if self.scene.is_some() {
            rebind |= self.prev.reserve(device, &mut encoder, last_packed.size());
        }
        let buffers = self
            .buffers
            .as_ref()
            .expect("the buffers were created just above");

        // Upload: parameters, then every frame's planes straight into wgpu's
        // staging memory.
        let started = Instant::now();
        let stride = self.param_stride as usize;
        self.param_bytes.clear();
        self.param_bytes.resize(n * stride, 0);
        for (chunk, params) in self.param_bytes.chunks_exact_mut(stride).zip(&self.params) {
            chunk[..size_of::<FrameParams>()].copy_from_slice(bytemuck::bytes_of(params));
        }
        queue.write_buffer(&buffers.params, 0, &self.param_bytes);
        let size = wgpu::BufferSize::new(upload_bytes)
            .ok_or_else(|| KernelError::Internal("a chunk with no pixels".into()))?;
        let mut staging = queue
            .write_buffer_with(&buffers.frames, 0, size)
            .ok_or_else(|| KernelError::Gpu("cannot stage the chunk upload".into()))?;
        for (frame, packed) in frames.iter().zip(&self.packing) {
            upload::pack_frame(frame, packed, |at, bytes| {
                staging.slice(at..at + bytes.len()).copy_from_slice(bytes);
            });
        }
        drop(staging);
        timings.upload += started.elapsed();
        timings.bytes_uploaded += upload_bytes;

        // Dispatch: every stage over every frame in one pass, one submission.
        let started = Instant::now();
        let chunk = Chunk {
            device,
            queue,
            frames,
            packing: &self.packing,
            params: &self.params,
            buffers,
            prev: &self.prev,
            rebind,
            param_stride: self.param_stride,
            max_dim: self.max_dim,
        };
        let mut stages: Vec<&mut dyn Stage> = Vec::with_capacity(5);
        let kernels: [Option<&mut dyn Stage>; 5] = [
            self.stats.as_mut().map(|s| s as &mut dyn Stage),
            self.scene.as_mut().map(|s| s as &mut dyn Stage),
            self.motion.as_mut().map(|s| s as &mut dyn Stage),
            self.freeze.as_mut().map(|s| s as &mut dyn Stage),
            self.blur.as_mut().map(|s| s as &mut dyn Stage),
        ];
        stages.extend(kernels.into_iter().flatten());
        for stage in &mut stages {
            stage.prepare(&chunk, &mut encoder)?;
        }
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("osprey kernels"),
                timestamp_writes: None,
            });
            for stage in &stages {
                stage.dispatch(&mut pass);
            }
        }
        let total = readback_ranges(&stages, &mut self.ranges);
        let target = self.readback.target(device, total);
        for (stage, range) in stages.iter().zip(&self.ranges) {
            stage.copy_out(&chunk, &mut encoder, target, range.start);
        }
        let submission = queue.submit([encoder.finish()]);
        wait_for(device, submission)?;
        timings.dispatch += started.elapsed();

        // Readback: one map for every stage.
        let started = Instant::now();
        let ranges = &self.ranges;
        self.readback.read(device, total, |bytes| {
            for (stage, range) in stages.iter_mut().zip(ranges) {
                let range = range.start as usize..range.end as usize;
                stage.read(&chunk, &bytes[range], out)?;
            }
            Ok::<(), KernelError>(())
        })??;
        timings.readback += started.elapsed();
        timings.submissions += 1;

        if self.scene.is_some() {
            let last = &frames[n - 1];
            self.prev.frame = Some(PrevFrame {
                width: last.width(),
                height: last.height(),
                format: last.format(),
                packed: last_packed.rebased(),
                bytes: last_packed.size(),
            });
        }
        Ok(())
    }
}

impl Backend for GpuBackend {
    fn label(&self) -> String {
        let summary = self.ctx.summary();
        format!("gpu: {} ({})", summary.name, summary.backend_name())
    }

    fn is_gpu(&self) -> bool {
        true
    }

    fn analyze(&mut self, frames: &[FrameView<'_>], out: &mut Vec<FrameRaw>) -> Result<()> {
        out.resize_with(frames.len(), || FrameRaw::new(0, 0));
        for (raw, f) in out.iter_mut().zip(frames) {
            raw.reset(f.width(), f.height());
        }
        let mut timings = StageTimings {
            frames: frames.len(),
            ..StageTimings::default()
        };
        // Runs of frames that fit the device, and runs that do not.
        let mut start = 0;
        let mut result = Ok(());
        while start < frames.len() && !self.kernels.is_empty() && result.is_ok() {
            let size = |f: &FrameView<'_>| (f.width(), f.height());
            let (w, h) = size(&frames[start]);
            let why = self.misfit(w, h);
            if let Some(why) = &why {
                self.warn_fallback(w, h, why);
            }
            let mut end = start + 1;
            while end < frames.len() {
                let (w, h) = size(&frames[end]);
                if self.misfit(w, h).is_some() != why.is_some() {
                    break;
                }
                end += 1;
            }
            result = self.analyze_run(
                &frames[start..end],
                &mut out[start..end],
                why.is_none(),
                &mut timings,
            );
            start = end;
        }
        if result.is_err() {
            // What either side carries is unknown now: start afresh.
            self.reset();
            self.timings = None;
            return result;
        }
        self.timings = Some(timings);
        Ok(())
    }

    fn reset(&mut self) {
        self.reset_gpu();
        if let Some(cpu) = &mut self.fallback {
            cpu.reset();
        }
        self.last_on_gpu = None;
    }

    fn downscale(
        &mut self,
        frame: &FrameView<'_>,
        width: u32,
        height: u32,
        out: &mut crate::frame::OwnedFrame,
    ) -> Result<()> {
        // A frame too large for one binding is downscaled by the CPU twin,
        // which gives the same bytes (and keeps no state).
        let (w, h) = (frame.width(), frame.height());
        if worst_frame_bytes(w, h) > self.fit.binding {
            let why = format!(
                "the frame's planes: {} bytes in one storage binding, more than the device's \
                 limit of {} bytes",
                worst_frame_bytes(w, h),
                self.fit.binding
            );
            self.warn_fallback(w, h, &why);
            return self.fallback().downscale(frame, width, height, out);
        }
        let ctx = Arc::clone(&self.ctx);
        let kernel = self
            .downscale
            .get_or_insert_with(downscale::DownscaleKernel::default);
        ctx.scoped(|| kernel.run(&ctx, frame, width, height, out))
    }
}
