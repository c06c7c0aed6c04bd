//! The decode pipeline: any file or URI in, [`FrameChunk`]s of I420/NV12 out.
//!
//! ```text
//! uridecodebin ─(raw video pad)─► videoconvert ─► appsink (I420 | NV12, bounded)
//!              └(other pads)────► fakesink
//! ```
//!
//! `videoconvert` passes buffers through untouched when the decoder already
//! outputs I420 or NV12 (the usual case) and converts anything else (10-bit,
//! 4:2:2, RGB) to the nearest of the two. The appsink's sink pad tells
//! upstream it understands `GstVideoMeta`, so decoders hand over their own
//! buffers with their own strides instead of copying into a packed layout.
//!
//! Audio and subtitle streams are not decoded: autoplugging stops at their
//! parsed caps and their pads drain into a `fakesink`, so they neither cost
//! CPU nor stall the demuxer with not-linked errors.
//!
//! The appsink queue holds at most two chunks (`drop=false`), so a slow
//! consumer blocks the decoder instead of growing memory. The caller's thread
//! drives everything: it pulls samples with a short timeout and reads the bus
//! between pulls, so errors, "no video" and a cancel end the wait promptly.
//!
//! Sources are described by a [`SourceSpec`]: `test:PATTERN` builds a live
//! `videotestsrc` in place of uridecodebin; `rtsp://` sources get their
//! `rtspsrc` settings through uridecodebin's `source-setup` signal. Every
//! message names the source with its password redacted. Each frame gets a
//! wall-clock time (see the `capture_time` module), frames beyond
//! [`DecodeOptions::max_fps`] are dropped before `videoconvert`, and a live
//! source's chunk is cut once its first frame has waited
//! [`DecodeOptions::max_latency`].
//!
//! A looping file ([`SourceSpec::looping`]) is run as a camera: the appsink
//! syncs to the pipeline's clock, so frames come at real time and carry the
//! wall-clock time; at each end a flushing seek takes it back to its start,
//! and the next round's pts continue from the end of the last round's last
//! frame (frame indices run on too).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gst::prelude::*;
use gstreamer as gst;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use osprey_kernels::PixelFormat;

use crate::capture_time::{Stamper, TimeSource, date_time_unix, follow_sender_reports};
use crate::chunk::{FrameChunk, FrameMeta, pts_seconds};
use crate::decoder_choice::{self, Picked, Refused};
use crate::error::{VideoError, gst_reason};
use crate::init::{init, make};
use crate::issue::Detector;
use crate::pipeline_source::{Origin, configure_rtsp};
use crate::source::{SourceSpec, redact};

/// Lowers each streaming thread of the pipeline on `bus` by `nice` levels as
/// it enters its task: GStreamer posts the stream-status message from the
/// new thread itself, so the sync handler runs there (the documented way
/// to set a streaming thread's priority). Threads those start (libav's
/// decoder threads) inherit the level.
fn lower_streaming_threads(bus: &gst::Bus, nice: i32) {
    if nice == 0 {
        return;
    }
    bus.set_sync_handler(move |_, message| {
        if let gst::MessageView::StreamStatus(status) = message.view()
            && status.get().0 == gst::StreamStatusType::Enter
        {
            osprey_kernels::priority::run_below_process(nice);
        }
        gst::BusSyncReply::Pass
    });
}

/// How long one appsink pull waits before the bus is read again.
const POLL: gst::ClockTime = gst::ClockTime::from_mseconds(50);

/// Name of the application message posted when decodebin has exposed all its
/// pads and none of them was raw video.
const NO_VIDEO: &str = "osprey-no-video";

/// Options for opening a source.
#[derive(Debug, Clone)]
pub struct DecodeOptions {
    /// Frames per chunk handed to the kernels (default 8, at least 1).
    pub chunk_frames: usize,
    /// Decode at most this many frames a second into chunks: the others are
    /// dropped right after the decoder, before colour conversion (`None`:
    /// every frame).
    pub max_fps: Option<f64>,
    /// For live sources: a chunk is cut short once its first frame has
    /// waited this long, so frames leave within about a frame interval
    /// (`None`: chunks are always full). Never yields an empty chunk.
    pub max_latency: Option<Duration>,
    /// When set (by another thread), waiting for frames stops within about
    /// 50 ms: [`Decoder::next_chunk`] returns what it has, then `Ok(None)`;
    /// [`Decoder::open_spec`] fails with [`VideoError::Cancelled`].
    pub cancel: Option<Arc<AtomicBool>>,
    /// For files without [`SourceSpec::start_time`]: stamp frames with the
    /// container's creation time (`GST_TAG_DATE_TIME`) plus their pts. Off
    /// by default: muxers such as mp4mux write the time of writing, which
    /// would give every file's records a `ts` nobody asked for.
    pub container_time: bool,
    /// Record the encoded stream as it enters the decoder (see
    /// [`crate::record::Recorder`]): one connection serves analysis and
    /// recording. A raw source (no decoder) records nothing.
    pub record: Option<crate::record::RecordTap>,
    /// Run the pipeline's streaming threads (and the decoder threads they
    /// start) this many nice levels below the process (`0`: as they come;
    /// see [`osprey_kernels::priority`]). Each thread lowers itself when it
    /// enters its task, from the bus's stream-status message.
    pub nice: i32,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            chunk_frames: 8,
            max_fps: None,
            max_latency: None,
            cancel: None,
            container_time: false,
            record: None,
            nice: 0,
        }
    }
}

/// What one wait for a frame gave.
enum Pulled {
    Sample(gst::Sample),
    /// End of stream.
    Eos,
    /// The deadline passed first.
    Timeout,
    /// [`DecodeOptions::cancel`] was set.
    Cancelled,
}

/// What the decoded video looks like, known once the first frame is out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreamInfo {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The layout frames arrive in.
    pub format: PixelFormat,
    /// Frames per second from the caps; `None` for variable frame rate.
    pub frame_rate: Option<f64>,
}

impl StreamInfo {
    fn from_video_info(info: &gst_video::VideoInfo) -> Option<Self> {
        let format = match info.format() {
            gst_video::VideoFormat::I420 => PixelFormat::I420,
            gst_video::VideoFormat::Nv12 => PixelFormat::Nv12,
            _ => return None,
        };
        let fps = info.fps();
        let frame_rate = (fps.numer() > 0 && fps.denom() > 0)
            .then(|| f64::from(fps.numer()) / f64::from(fps.denom()));
        Some(StreamInfo {
            width: info.width(),
            height: info.height(),
            format,
            frame_rate,
        })
    }
}

/// A running decode pipeline.
///
/// The pipeline is set to `Null` when the stream ends, fails, or the decoder
/// is dropped. Chunks already handed out stay valid after that.
pub struct Decoder {
    /// The source as messages name it (password redacted).
    input: String,
    pipeline: gst::Pipeline,
    appsink: gst_app::AppSink,
    bus: gst::Bus,
    chunk_frames: usize,
    /// The first sample, pulled by `open` to learn the stream's shape.
    pending: Option<gst::Sample>,
    /// The caps of the last sample and their parsed form.
    caps: Option<(gst::Caps, gst_video::VideoInfo)>,
    info: Option<StreamInfo>,
    duration: Option<f64>,
    next_index: u64,
    /// An error met after some frames of a chunk: reported by the next call.
    deferred: Option<VideoError>,
    /// Recoverable damage seen so far, attached to the next frame.
    detector: Detector,
    /// Where the last frame ends and where its segment stops (stream
    /// seconds), and the nominal frame duration: at the end of the stream
    /// they tell a file cut short.
    tail: Tail,
    finished: bool,
    /// The source is live (a camera, a network stream, a test pattern).
    live: bool,
    /// Wall-clock time of each frame.
    stamper: Stamper,
    max_fps: Option<f64>,
    max_latency: Option<Duration>,
    cancel: Option<Arc<AtomicBool>>,
    /// The video decoder element, once decodebin has picked it.
    picked: Picked,
    /// The stream `--decode hw` found no hardware decoder for.
    refused: Refused,
    /// The source is a raw test pattern (no decoder).
    raw_source: bool,
    /// A file played again from its start at each end
    /// ([`SourceSpec::looping`]).
    rounds: Option<Rounds>,
}

/// Where a looping file is in its rounds.
#[derive(Debug, Clone, Copy, Default)]
struct Rounds {
    /// Added to each frame's pts: where the earlier rounds ended.
    offset: f64,
    /// Frames of this round so far (a round without any ends the loop).
    frames: u64,
    /// The next frame is a round's first: its discontinuity is ours.
    rewound: bool,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("input", &self.input)
            .field("info", &self.info)
            .field("next_index", &self.next_index)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl Decoder {
    /// Opens a file path or URI (anything uridecodebin can open) and decodes
    /// up to its first frame, so [`Decoder::info`] is known on return. For a
    /// live source (camera, RTSP) this waits until the first frame arrives.
    /// The same as [`Decoder::open_spec`] with [`SourceSpec::new`]`(input)`.
    ///
    /// # Errors
    /// [`VideoError::Config`] for `chunk_frames == 0`, [`VideoError::Open`]
    /// for a missing or unreadable file, [`VideoError::NoVideo`] when the
    /// input has no video stream, [`VideoError::Decode`] when GStreamer cannot
    /// read it (not media, missing decoder, network error),
    /// [`VideoError::Gstreamer`] when GStreamer itself is not usable.
    pub fn open(input: &str, options: DecodeOptions) -> Result<Decoder, VideoError> {
        Decoder::open_spec(&SourceSpec::new(input), options)
    }

    /// Opens `spec` (a file, any URI uridecodebin opens, `rtsp://` with its
    /// [`crate::source::RtspOptions`] and credentials, `v4l2:///dev/videoN`,
    /// `test:PATTERN[?width=W&height=H&fps=F]` as a live test pattern) with
    /// the decoders `spec.decode` allows, and decodes up to its first frame.
    /// Messages and errors name the source with its password redacted.
    ///
    /// # Errors
    /// As [`Decoder::open`]; also [`VideoError::Decode`] saying "no hardware
    /// decoder for CAPS" when `spec.decode` is `Hw` and none fits, and
    /// [`VideoError::Cancelled`] when [`DecodeOptions::cancel`] is set before
    /// the first frame.
    pub fn open_spec(spec: &SourceSpec, options: DecodeOptions) -> Result<Decoder, VideoError> {
        if options.chunk_frames == 0 {
            return Err(VideoError::Config("chunk_frames must be at least 1".into()));
        }
        if options.max_fps.is_some_and(|f| !(f.is_finite() && f > 0.0)) {
            return Err(VideoError::Config(
                "max_fps must be a positive number".into(),
            ));
        }
        let origin = Origin::of(spec)?;
        init()?;
        let mut decoder = Decoder::build(spec, &origin, options)?;
        tracing::debug!(input = %decoder.input, "Starting decode pipeline.");
        match decoder.pipeline.set_state(gst::State::Playing) {
            Ok(gst::StateChangeSuccess::NoPreroll) => decoder.set_live(true),
            Ok(_) => {}
            Err(_) => {
                // The element that refused usually posted why.
                let posted = decoder.poll_bus();
                decoder.stop();
                posted?;
                return Err(decoder.decode_error("the pipeline refused to start".into()));
            }
        }
        match decoder.pull() {
            Ok(first) => decoder.pending = first,
            Err(e) => {
                decoder.stop();
                return Err(e);
            }
        }
        if !decoder.live && decoder.query_live() {
            decoder.set_live(true);
        }
        if let Some(caps) = decoder.pending.as_ref().and_then(|s| s.caps_owned()) {
            decoder.update_caps(&caps)?;
        }
        decoder.duration = decoder.query_duration();
        tracing::debug!(
            input = %decoder.input,
            info = ?decoder.info,
            duration = ?decoder.duration,
            live = decoder.live,
            codec = ?decoder.codec(),
            decoder = ?decoder.decoder_name(),
            "Decoder open."
        );
        Ok(decoder)
    }

    /// Builds the pipeline, stopped.
    fn build(
        spec: &SourceSpec,
        origin: &Origin,
        options: DecodeOptions,
    ) -> Result<Decoder, VideoError> {
        let input = spec.redacted();
        let chunk_frames = options.chunk_frames;
        let pipeline = gst::Pipeline::with_name(crate::watch::PIPELINE_PREFIX);
        let picked = decoder_choice::watch_decoder(&pipeline);
        let convert = make("videoconvert", |b| b)?;
        let caps = gst::Caps::builder("video/x-raw")
            .field("format", gst::List::new(["I420", "NV12"]))
            .build();
        let queue_len = u32::try_from(chunk_frames.saturating_mul(2).max(4)).unwrap_or(u32::MAX);
        // A looping file is paced at real time by the pipeline's clock.
        let looping = spec.looping && matches!(origin, Origin::Uri(_)) && !origin.is_live_kind();
        let appsink = gst_app::AppSink::builder()
            .caps(&caps)
            .sync(looping)
            .max_buffers(queue_len)
            .drop(false)
            .enable_last_sample(false)
            .build();
        pipeline
            .add_many([&convert, appsink.upcast_ref()])
            .map_err(|e| VideoError::Gstreamer(format!("cannot assemble pipeline: {e}")))?;
        convert
            .link(&appsink)
            .map_err(|e| VideoError::Gstreamer(format!("cannot link videoconvert: {e}")))?;
        advertise_video_meta(&appsink);
        if let Some(max_fps) = options.max_fps
            && let Some(pad) = convert.static_pad("sink")
        {
            crate::rate_limit::install(&pad, max_fps);
        }
        let mut refused = Refused::default();
        let live = origin.is_live_kind() || looping;
        let stamper = Stamper::new(live, spec.start_time, options.container_time);
        if let Some(tap) = &options.record {
            let start = spec.start_time.unwrap_or_else(crate::wall_clock::now);
            tap.install(&pipeline, stamper.follower(), (start * 1e9) as u64);
        }
        match origin {
            Origin::Test(pattern) => {
                let source = pattern.build(&input)?;
                pipeline
                    .add(&source)
                    .map_err(|e| VideoError::Gstreamer(format!("cannot assemble pipeline: {e}")))?;
                source.link(&convert).map_err(|e| {
                    VideoError::Gstreamer(format!("cannot link the test source: {e}"))
                })?;
            }
            Origin::Uri(uri) => {
                let source = add_uri_source(&pipeline, uri, spec, &stamper)?;
                refused = decoder_choice::connect(&source, spec.decode);
                connect_source(&source, &pipeline, &convert)?;
            }
        }
        let bus = pipeline
            .bus()
            .ok_or_else(|| VideoError::Gstreamer("pipeline has no bus".into()))?;
        lower_streaming_threads(&bus, options.nice);
        Ok(Decoder {
            input,
            pipeline,
            appsink,
            bus,
            chunk_frames,
            pending: None,
            caps: None,
            info: None,
            duration: None,
            next_index: 0,
            deferred: None,
            detector: Detector::default(),
            tail: Tail::default(),
            finished: false,
            live,
            stamper,
            max_fps: options.max_fps,
            max_latency: options.max_latency,
            cancel: options.cancel,
            picked,
            refused,
            raw_source: matches!(origin, Origin::Test(_)),
            rounds: looping.then(Rounds::default),
        })
    }

    fn set_live(&mut self, live: bool) {
        self.live = live;
        self.stamper.set_live(live);
    }

    /// Whether the running pipeline reports itself live (latency query).
    fn query_live(&self) -> bool {
        let mut query = gst::query::Latency::new();
        self.pipeline.query(&mut query) && query.result().0
    }

    /// The next chunk of up to `chunk_frames` frames, `None` at end of stream.
    ///
    /// Only the last chunk may be short, except for a live source with
    /// [`DecodeOptions::max_latency`] (cut once its first frame has waited
    /// that long) and after a cancel (what was decoded, then `None`). When decoding fails after some frames
    /// of a chunk, those frames are returned first and the error comes with
    /// the next call; after an error every call returns `Ok(None)`.
    ///
    /// Damage the decoder gets past (lost frames, discontinuities, GStreamer
    /// warnings) does not stop it: it is reported in
    /// [`FrameChunk::issues`] of the chunk holding the first frame after it.
    /// Issues met after the last frame come in one last chunk with no frames.
    ///
    /// # Errors
    /// [`VideoError::Decode`] when GStreamer reports an error or a frame
    /// cannot be mapped.
    pub fn next_chunk(&mut self) -> Result<Option<FrameChunk>, VideoError> {
        if let Some(err) = self.deferred.take() {
            return Err(err);
        }
        if self.finished {
            return Ok(None);
        }
        let mut chunk = FrameChunk::with_capacity(self.chunk_frames);
        let mut deadline = None;
        while chunk.len() < self.chunk_frames {
            let step = match self.pull_until(deadline) {
                Ok(Pulled::Sample(sample)) => {
                    if deadline.is_none() && self.live {
                        deadline = self.max_latency.map(|wait| Instant::now() + wait);
                    }
                    self.append(&mut chunk, &sample)
                }
                Ok(Pulled::Timeout) => break,
                Ok(Pulled::Cancelled) => {
                    tracing::debug!(input = %self.input, "Decode cancelled.");
                    self.stop();
                    break;
                }
                Ok(Pulled::Eos) => {
                    tracing::debug!(input = %self.input, frames = self.next_index, "End of stream.");
                    self.stop();
                    let Tail {
                        end,
                        stop,
                        frame_duration,
                    } = self.tail;
                    self.detector.stream_ended(end, stop, frame_duration);
                    chunk.add_issues(self.detector.take_pending());
                    break;
                }
                Err(e) => Err(e),
            };
            if let Err(err) = step {
                self.stop();
                if chunk.is_empty() {
                    return Err(err);
                }
                self.deferred = Some(err);
                break;
            }
        }
        Ok((!chunk.is_empty() || !chunk.issues().is_empty()).then_some(chunk))
    }

    /// Width, height, format and frame rate of the video, once a frame has
    /// been decoded (`None` only for a video stream with no frames).
    pub fn info(&self) -> Option<StreamInfo> {
        self.info
    }

    /// Frame rate reported by caps, when known (frames per second).
    pub fn frame_rate(&self) -> Option<f64> {
        self.info.and_then(|i| i.frame_rate)
    }

    /// Duration when known, in seconds (for progress).
    pub fn duration(&self) -> Option<f64> {
        self.duration.or_else(|| self.query_duration())
    }

    /// Whether the source is live: a camera, a network stream, a test
    /// pattern (its pipeline does not preroll, or its kind says so).
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// Where the last frame's [`FrameMeta::ts`] came from (`None` before
    /// a frame, or when it had none).
    pub fn time_source(&self) -> Option<TimeSource> {
        self.stamper.source()
    }

    /// The codec of the video entering the decoder (`h264`, `h265`,
    /// `mjpeg`, `vp9`, ..., `raw` for undecoded video), once known.
    pub fn codec(&self) -> Option<String> {
        if self.raw_source {
            return Some("raw".to_owned());
        }
        let decoder = self.picked.lock().ok()?.clone();
        let Some(decoder) = decoder else {
            // No decoder: raw video straight from the source.
            return self.info.is_some().then(|| "raw".to_owned());
        };
        let caps = decoder.static_pad("sink")?.current_caps()?;
        caps.structure(0).map(decoder_choice::codec_name)
    }

    /// The GStreamer decoder element's factory name (`avdec_h264`,
    /// `vah264dec`, ...), once decodebin has picked one; `None` for raw
    /// video.
    pub fn decoder_name(&self) -> Option<String> {
        let decoder = self.picked.lock().ok()?.clone()?;
        decoder.factory().map(|f| f.name().to_string())
    }

    /// The next sample, `None` at end of stream. Reads the bus between pulls.
    ///
    /// # Errors
    /// As [`Decoder::handle`]; [`VideoError::Cancelled`] on a cancel.
    fn pull(&mut self) -> Result<Option<gst::Sample>, VideoError> {
        match self.pull_until(None)? {
            Pulled::Sample(sample) => Ok(Some(sample)),
            Pulled::Eos | Pulled::Timeout => Ok(None),
            Pulled::Cancelled => Err(VideoError::Cancelled {
                input: self.input.clone(),
            }),
        }
    }

    /// Waits for the next sample until `deadline` (for ever when `None`),
    /// reading the bus and the cancel flag at least every [`POLL`].
    fn pull_until(&mut self, deadline: Option<Instant>) -> Result<Pulled, VideoError> {
        if let Some(sample) = self.pending.take() {
            return Ok(Pulled::Sample(sample));
        }
        loop {
            self.poll_bus()?;
            if self
                .cancel
                .as_ref()
                .is_some_and(|c| c.load(Ordering::Relaxed))
            {
                return Ok(Pulled::Cancelled);
            }
            let poll = Duration::from_nanos(POLL.nseconds());
            let wait = deadline.map_or(poll, |d| {
                d.saturating_duration_since(Instant::now()).min(poll)
            });
            let wait =
                gst::ClockTime::from_nseconds(u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX));
            if let Some(sample) = self.appsink.try_pull_sample(wait) {
                return Ok(Pulled::Sample(sample));
            }
            if self.appsink.is_eos() {
                if self.rewind()? {
                    continue;
                }
                return Ok(Pulled::Eos);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(Pulled::Timeout);
            }
        }
    }

    /// Maps one sample's buffer into `chunk`.
    fn append(&mut self, chunk: &mut FrameChunk, sample: &gst::Sample) -> Result<(), VideoError> {
        let caps = sample
            .caps()
            .ok_or_else(|| self.decode_error("a frame arrived without caps".into()))?;
        self.update_caps(caps)?;
        let buffer = sample
            .buffer_owned()
            .ok_or_else(|| self.decode_error("a sample arrived without a buffer".into()))?;
        let pts = pts_seconds(&buffer, sample.segment());
        let pts = match &mut self.rounds {
            Some(rounds) => {
                rounds.frames += 1;
                pts.map(|p| p + rounds.offset)
            }
            None => pts,
        };
        if self.stamper.wants_creation_time() {
            // The container's tags were posted just before this frame came.
            while let Some(message) = self.bus.pop_filtered(&[gst::MessageType::Tag]) {
                self.handle(&message)?;
            }
        }
        let ts = self
            .stamper
            .stamp(&buffer, sample.segment(), pts, &self.pipeline);
        let meta = FrameMeta {
            index: self.next_index,
            pts,
            ts,
        };
        let (_, info) = self
            .caps
            .as_ref()
            .expect("update_caps stored the caps of this sample");
        let frame_duration = self
            .info
            .and_then(|i| i.frame_rate)
            .map(f64::recip)
            .or_else(|| buffer.duration().map(gst::ClockTime::seconds_f64))
            // Frames dropped for max_fps are not missing.
            .map(|d| self.max_fps.map_or(d, |fps| d.max(fps.recip())));
        self.tail = Tail {
            end: meta.pts.map(|pts| {
                pts + buffer
                    .duration()
                    .map(gst::ClockTime::seconds_f64)
                    .or(frame_duration)
                    .unwrap_or(0.0)
            }),
            stop: segment_stop(sample.segment()),
            frame_duration,
        };
        // A looping file's new round starts with a discontinuity of its own
        // making, not damage.
        let rewound = self
            .rounds
            .as_mut()
            .is_some_and(|r| std::mem::take(&mut r.rewound));
        let discont = buffer.flags().contains(gst::BufferFlags::DISCONT) && !rewound;
        let issues = self
            .detector
            .frame(meta.index, meta.pts, discont, frame_duration);
        for issue in &issues {
            tracing::warn!(input = %self.input, frame = meta.index, message = %issue.message, "Damaged input; decoding goes on.");
        }
        chunk.add_issues(issues);
        chunk
            .push(buffer, info, meta)
            .map_err(|reason| self.decode_error(reason))?;
        self.next_index += 1;
        Ok(())
    }

    /// Parses `caps` when they differ from the last sample's.
    fn update_caps(&mut self, caps: &gst::CapsRef) -> Result<(), VideoError> {
        if self.caps.as_ref().is_some_and(|(c, _)| c.as_ref() == caps) {
            return Ok(());
        }
        let video_info = gst_video::VideoInfo::from_caps(caps)
            .map_err(|e| self.decode_error(format!("unusable caps {caps}: {e}")))?;
        let info = StreamInfo::from_video_info(&video_info).ok_or_else(|| {
            self.decode_error(format!("unexpected pixel format {:?}", video_info.format()))
        })?;
        if self.info.is_some_and(|old| old != info) {
            tracing::info!(input = %self.input, ?info, "Video format changed mid-stream.");
        }
        self.info = Some(info);
        self.caps = Some((caps.to_owned(), video_info));
        Ok(())
    }

    /// Handles every message waiting on the bus.
    fn poll_bus(&mut self) -> Result<(), VideoError> {
        while let Some(message) = self.bus.pop() {
            self.handle(&message)?;
        }
        Ok(())
    }

    fn handle(&mut self, message: &gst::Message) -> Result<(), VideoError> {
        use gst::MessageView;
        let source = message.src().map(|s| s.name().to_string());
        match message.view() {
            MessageView::Error(e) => {
                if let Some(err) = self.no_hardware_decoder() {
                    return Err(err);
                }
                let debug = e.debug();
                Err(self.decode_error(gst_reason(source.as_deref(), &e.error(), debug.as_deref())))
            }
            MessageView::Warning(w) => {
                let debug = w.debug();
                let reason = redact(&gst_reason(source.as_deref(), &w.error(), debug.as_deref()));
                tracing::warn!(input = %self.input, %reason, "GStreamer warning.");
                self.detector.note(reason);
                Ok(())
            }
            MessageView::Application(a) if a.structure().is_some_and(|s| s.name() == NO_VIDEO) => {
                Err(self
                    .no_hardware_decoder()
                    .unwrap_or_else(|| VideoError::NoVideo {
                        input: self.input.clone(),
                    }))
            }
            MessageView::Tag(tag) => {
                if let Some(at) = tag.tags().get::<gst::tags::DateTime>()
                    && let Some(unix) = date_time_unix(&at.get())
                {
                    self.stamper.creation_time(unix);
                }
                Ok(())
            }
            MessageView::DurationChanged(_) => {
                self.duration = self.query_duration();
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn query_duration(&self) -> Option<f64> {
        if self.rounds.is_some() {
            // A looping file has no end.
            return None;
        }
        self.pipeline
            .query_duration::<gst::ClockTime>()
            .map(gst::ClockTime::seconds_f64)
    }

    fn decode_error(&self, reason: String) -> VideoError {
        VideoError::Decode {
            input: self.input.clone(),
            reason: redact(&reason),
        }
    }

    /// The error for `--decode hw` when a video stream had no hardware
    /// decoder.
    fn no_hardware_decoder(&self) -> Option<VideoError> {
        let caps = self.refused.lock().ok()?.clone()?;
        let installed = decoder_choice::installed_hardware_decoders();
        Some(self.decode_error(decoder_choice::no_hardware_message(&caps, &installed)))
    }

    /// A looping file reached its end: seeks back to its start for the next
    /// round, whose pts continue where this round's last frame ended.
    /// False when the file does not loop, or this round had no frame (it
    /// then ends, so an empty file cannot spin).
    ///
    /// # Errors
    /// [`VideoError::Decode`] when the seek is refused.
    fn rewind(&mut self) -> Result<bool, VideoError> {
        let Some(rounds) = &mut self.rounds else {
            return Ok(false);
        };
        if rounds.frames == 0 {
            return Ok(false);
        }
        rounds.offset = self.tail.end.unwrap_or(rounds.offset);
        rounds.frames = 0;
        rounds.rewound = true;
        tracing::debug!(input = %self.input, offset = rounds.offset, "Looping: back to the start.");
        self.pipeline
            .seek_simple(
                gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT,
                gst::ClockTime::ZERO,
            )
            .map_err(|e| self.decode_error(format!("cannot go back to the start to loop: {e}")))?;
        Ok(true)
    }

    /// Stops the pipeline and marks the stream finished.
    fn stop(&mut self) {
        self.finished = true;
        self.pending = None;
        if let Err(e) = self.pipeline.set_state(gst::State::Null) {
            tracing::warn!(input = %self.input, error = %e, "Cannot stop decode pipeline.");
        }
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The end of the last frame against the end of its stream.
#[derive(Debug, Clone, Copy, Default)]
struct Tail {
    /// Where the last frame decoded ends, in stream seconds.
    end: Option<f64>,
    /// Where its segment stops, in stream seconds; `None` when open-ended.
    stop: Option<f64>,
    /// The nominal frame duration in seconds.
    frame_duration: Option<f64>,
}

/// Where a time segment stops, in stream seconds; `None` when it does not
/// say (live sources, raw streams).
fn segment_stop(segment: Option<&gst::Segment>) -> Option<f64> {
    let segment = segment?.downcast_ref::<gst::ClockTime>()?;
    let stop = segment.stop()?;
    segment
        .to_stream_time(stop)
        .map(gst::ClockTime::seconds_f64)
}

/// Lets upstream know the appsink reads `GstVideoMeta` (plane offsets and
/// strides), so decoders push their own buffers instead of copying every
/// frame into GStreamer's default packed layout.
///
/// GStreamer 1.22's appsink has no `propose-allocation` callback (added in
/// 1.24), so a probe adds the meta to the ALLOCATION query on its way in.
fn advertise_video_meta(appsink: &gst_app::AppSink) {
    let Some(pad) = appsink.static_pad("sink") else {
        return;
    };
    pad.add_probe(gst::PadProbeType::QUERY_DOWNSTREAM, |_, info| {
        if let Some(query) = info.query_mut()
            && let gst::QueryViewMut::Allocation(allocation) = query.view_mut()
            && allocation
                .find_allocation_meta::<gst_video::VideoMeta>()
                .is_none()
        {
            allocation.add_allocation_meta::<gst_video::VideoMeta>(None);
        }
        gst::PadProbeReturn::Ok
    });
}

/// Wires uridecodebin's dynamic pads: the first raw video pad to
/// `videoconvert`, everything else to its own `fakesink`; "no video" is
/// posted on the bus once all pads are out and none was video.
fn connect_source(
    source: &gst::Element,
    pipeline: &gst::Pipeline,
    convert: &gst::Element,
) -> Result<(), VideoError> {
    let video_sink = convert
        .static_pad("sink")
        .ok_or_else(|| VideoError::Gstreamer("videoconvert has no sink pad".into()))?;

    source.connect("autoplug-continue", false, |values| {
        let caps = values.get(2).and_then(|v| v.get::<gst::Caps>().ok());
        let pad = values.get(1).and_then(|v| v.get::<gst::Pad>().ok());
        let keep_going = match (pad, caps) {
            (Some(pad), Some(caps)) => !skip_decoding(&pad, &caps),
            _ => true,
        };
        Some(keep_going.to_value())
    });

    let pipeline_weak = pipeline.downgrade();
    let sink = video_sink.clone();
    source.connect_pad_added(move |source, pad| {
        let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
        let is_raw_video = caps.structure(0).is_some_and(|s| s.name() == "video/x-raw");
        if is_raw_video && !sink.is_linked() {
            match pad.link(&sink) {
                Ok(_) => tracing::debug!(%caps, "Video pad linked."),
                Err(e) => {
                    let text = format!("cannot link the video stream ({caps}): {e:?}");
                    let msg = gst::message::Error::builder(gst::CoreError::Negotiation, &text)
                        .src(source)
                        .build();
                    let _posted = source.post_message(msg);
                }
            }
            return;
        }
        tracing::debug!(%caps, "Ignoring stream.");
        if let Some(pipeline) = pipeline_weak.upgrade()
            && let Err(e) = drain(&pipeline, pad)
        {
            tracing::warn!(error = %e, "Cannot drain an ignored stream.");
        }
    });

    source.connect_no_more_pads(move |source| {
        if !video_sink.is_linked() {
            let msg = gst::message::Application::builder(gst::Structure::new_empty(NO_VIDEO))
                .src(source)
                .build();
            let _posted = source.post_message(msg);
        }
    });
    Ok(())
}

/// Links `pad` to a new `fakesink` so its data is dropped quietly.
pub(crate) fn drain(pipeline: &gst::Pipeline, pad: &gst::Pad) -> Result<(), VideoError> {
    let fakesink = make("fakesink", |b| {
        b.property("sync", false).property("async", false)
    })?;
    pipeline
        .add(&fakesink)
        .map_err(|e| VideoError::Gstreamer(format!("cannot add fakesink: {e}")))?;
    fakesink
        .sync_state_with_parent()
        .map_err(|e| VideoError::Gstreamer(format!("cannot start fakesink: {e}")))?;
    let sink = fakesink
        .static_pad("sink")
        .ok_or_else(|| VideoError::Gstreamer("fakesink has no sink pad".into()))?;
    pad.link(&sink)
        .map(drop)
        .map_err(|e| VideoError::Gstreamer(format!("cannot link fakesink: {e:?}")))
}

/// Whether decodebin should stop at `caps` and expose them undecoded: audio,
/// subtitles and other non-video elementary streams, except right after
/// typefinding, where `audio/x-m4a` and friends may still be containers.
pub(crate) fn skip_decoding(pad: &gst::Pad, caps: &gst::Caps) -> bool {
    let Some(name) = caps.structure(0).map(|s| s.name().to_string()) else {
        return false;
    };
    let elementary = [
        "audio/",
        "text/",
        "subpicture/",
        "application/x-ass",
        "application/x-ssa",
    ]
    .iter()
    .any(|p| name.starts_with(p));
    elementary && !from_typefind(pad)
}

/// Whether `pad` (a decodebin ghost pad) carries what the typefinder found.
fn from_typefind(pad: &gst::Pad) -> bool {
    let target = pad
        .downcast_ref::<gst::GhostPad>()
        .and_then(|ghost| ghost.target())
        .unwrap_or_else(|| pad.clone());
    target
        .parent_element()
        .and_then(|e| e.factory())
        .is_some_and(|f| f.name() == "typefind")
}

/// Adds a `uridecodebin` for `uri` to `pipeline`: RTSP options from `spec`
/// on its source, and the sender's reports (RTCP/NTP) followed into
/// `stamper`'s clock. The decoder and the recorder both open URIs so.
pub(crate) fn add_uri_source(
    pipeline: &gst::Pipeline,
    uri: &str,
    spec: &SourceSpec,
    stamper: &Stamper,
) -> Result<gst::Element, VideoError> {
    let source = make("uridecodebin", |b| b.property("uri", uri))?;
    pipeline
        .add(&source)
        .map_err(|e| VideoError::Gstreamer(format!("cannot assemble pipeline: {e}")))?;
    let rtsp = spec.clone();
    let sender = stamper.sender_clock();
    source.connect("source-setup", false, move |values| {
        if let Some(element) = values.get(1).and_then(|v| v.get::<gst::Element>().ok()) {
            configure_rtsp(&element, &rtsp);
            follow_sender_reports(&element, &sender);
        }
        None
    });
    Ok(source)
}
