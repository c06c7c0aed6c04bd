//! Images: frames sampled at an interval over a time range, as JPEG or PNG,
//! optionally scaled, decoding only from the key frame before each sample.
//!
//! Each sample at `t` is the frame shown then: the frame with the greatest
//! pts at or before `t` in the fragment that covers `t`. Samples are decoded
//! in runs: a run pushes one fragment's frames from a key frame forward to
//! the last sample it serves, then drains the decoder (end of stream), so
//! samples in the same GOP share one decoder and its decoding,
//! and only the frames sampled go on to conversion, scaling and encoding.
//!
//! ```text
//! appsrc (avc/hvc1, codec_data) ─► avdec_h264|avdec_h265 ─(probe: sampled
//!   frames only)─► videoconvert ─► videoscale ─► RGB caps ─► appsink
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gst::prelude::*;
use gstreamer as gst;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;

use osprey_ingest::video::{Codec, Fragment, FragmentMeta, TimeBase, TimeRange, Track, VideoStore};

use super::PlaybackError;
use super::gst_util::Stopper;

/// The JPEG quality of sampled images.
pub const JPEG_QUALITY: u8 = 85;

/// The largest width or height an image may be scaled to.
pub const MAX_IMAGE_SIDE: u32 = 8192;

/// How long a run may take to decode before it is abandoned.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// The image format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// JPEG.
    Jpeg,
    /// PNG.
    Png,
}

impl ImageFormat {
    /// The file extension (`jpg`, `png`).
    #[must_use]
    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "jpg",
            ImageFormat::Png => "png",
        }
    }
}

/// What to sample.
#[derive(Debug, Clone)]
pub struct ImageRequest {
    /// Range start, producer time, Unix ns.
    pub start_ns: u64,
    /// Range end (exclusive), producer time, Unix ns.
    pub end_ns: u64,
    /// One image every this long from `start_ns`.
    pub every: Duration,
    /// Format.
    pub format: ImageFormat,
    /// Width to scale to (the height follows the aspect unless given).
    pub width: Option<u32>,
    /// Height to scale to (the width follows the aspect unless given).
    pub height: Option<u32>,
    /// At most this many images: the samples past it are left out.
    pub max_images: usize,
}

impl ImageRequest {
    /// The sample times: from `start_ns` every `every` before `end_ns`, at
    /// most `max_images`.
    ///
    /// # Errors
    /// [`PlaybackError::Invalid`] for an empty range, a zero interval or
    /// `max_images` 0.
    pub fn times(&self) -> Result<Vec<u64>, PlaybackError> {
        let every = u64::try_from(self.every.as_nanos()).unwrap_or(u64::MAX);
        if every == 0 {
            return Err(PlaybackError::Invalid(
                "the interval between images is zero".into(),
            ));
        }
        if self.end_ns <= self.start_ns {
            return Err(PlaybackError::Invalid(format!(
                "the range ends ({} ns) before it starts ({} ns)",
                self.end_ns, self.start_ns
            )));
        }
        if self.max_images == 0 {
            return Err(PlaybackError::Invalid("max_images is zero".into()));
        }
        let mut times = Vec::new();
        let mut t = self.start_ns;
        while t < self.end_ns && times.len() < self.max_images {
            times.push(t);
            let Some(next) = t.checked_add(every) else {
                break;
            };
            t = next;
        }
        Ok(times)
    }
}

/// One sample: the frame shown at `ts_ns`, or none where no media is kept.
#[derive(Debug, Clone)]
pub struct SampledImage {
    /// The sample time asked for, Unix ns.
    pub ts_ns: u64,
    /// The encoded image, `None` where there is no media at that time.
    pub data: Option<Vec<u8>>,
}

/// Samples `request` from video stream `stream`.
///
/// # Errors
/// [`PlaybackError::Store`] when the store fails, [`PlaybackError::Invalid`]
/// for a bad request, [`PlaybackError::Media`] when decoding fails.
pub fn sample(
    store: &VideoStore,
    stream: &str,
    request: &ImageRequest,
) -> Result<Vec<SampledImage>, PlaybackError> {
    request.times()?;
    let metas = store.fragments(
        stream,
        Some(TimeRange {
            base: TimeBase::Producer,
            start_ns: request.start_ns,
            end_ns: request.end_ns,
        }),
    )?;
    sample_fragments(request, &metas, &mut |n| {
        store.read(stream, n).map_err(PlaybackError::from)
    })
}

/// [`sample`] over the fragments `metas` (oldest first), read through
/// `read` by number when a sample needs them (one held at a time).
///
/// # Errors
/// As [`sample`], and whatever `read` returns.
pub fn sample_fragments(
    request: &ImageRequest,
    metas: &[FragmentMeta],
    read: &mut dyn FnMut(u64) -> Result<Fragment, PlaybackError>,
) -> Result<Vec<SampledImage>, PlaybackError> {
    let times = request.times()?;
    let mut out: Vec<SampledImage> = times
        .iter()
        .map(|&ts_ns| SampledImage { ts_ns, data: None })
        .collect();
    let mut fragment: Option<Fragment> = None;
    // The run being gathered: its fragment, key frame, last frame, and the
    // samples (index into `out`, frame index) it serves.
    let mut run: Option<Run> = None;
    for (i, &t) in times.iter().enumerate() {
        let Some(meta) = metas
            .iter()
            .rev()
            .find(|m| m.producer_ns <= t && t < m.producer_ns.saturating_add(m.duration_ns))
        else {
            continue;
        };
        if fragment
            .as_ref()
            .is_none_or(|f| f.meta.number != meta.number)
        {
            if let (Some(r), Some(f)) = (run.take(), fragment.as_ref()) {
                r.decode(f, request, &mut out)?;
            }
            fragment = Some(read(meta.number)?);
        }
        let Some(f) = fragment.as_ref() else { continue };
        let Some((key, target)) = key_and_target(f, t) else {
            continue;
        };
        match run.as_mut() {
            Some(r) if key <= r.last => {
                r.last = r.last.max(target);
                r.samples.push((i, target));
            }
            _ => {
                if let Some(r) = run.take() {
                    r.decode(f, request, &mut out)?;
                }
                run = Some(Run {
                    key,
                    last: target,
                    samples: vec![(i, target)],
                });
            }
        }
    }
    if let (Some(r), Some(f)) = (run.take(), fragment.as_ref()) {
        r.decode(f, request, &mut out)?;
    }
    Ok(out)
}

/// The frame shown at `t` in `fragment` (greatest pts at or before `t`) and
/// the key frame at or before it in decode order: (key, target) indexes.
fn key_and_target(fragment: &Fragment, t: u64) -> Option<(usize, usize)> {
    let target = fragment
        .frames
        .iter()
        .enumerate()
        .filter(|(_, f)| f.pts_ns <= t)
        .max_by_key(|(_, f)| f.pts_ns)
        .map(|(i, _)| i)?;
    let key = fragment.frames[..=target].iter().rposition(|f| f.key)?;
    Some((key, target))
}

/// Samples decoded in one forward pass over one fragment.
struct Run {
    /// The key frame it starts at.
    key: usize,
    /// The last frame it needs.
    last: usize,
    /// (index of the sample, index of its frame).
    samples: Vec<(usize, usize)>,
}

impl Run {
    /// Decodes the run and fills its samples' images.
    fn decode(
        self,
        fragment: &Fragment,
        request: &ImageRequest,
        out: &mut [SampledImage],
    ) -> Result<(), PlaybackError> {
        let (width, height) = output_size(&fragment.track, request.width, request.height)?;
        let mut d = RunDecoder::new(fragment.track.codec)?;
        let frames = fragment
            .frames
            .get(self.key..=self.last)
            .unwrap_or_default();
        let wanted: Vec<usize> = self.samples.iter().map(|&(_, f)| f - self.key).collect();
        let images = d.decode(
            &fragment.track,
            frames,
            &wanted,
            width,
            height,
            request.format,
        )?;
        for (sample, frame) in self.samples {
            out[sample].data = images.get(&(frame - self.key)).cloned();
        }
        Ok(())
    }
}

/// The size images of `track` are scaled to: as asked, the missing side
/// following the aspect, or the track's own.
fn output_size(
    track: &Track,
    width: Option<u32>,
    height: Option<u32>,
) -> Result<(u32, u32), PlaybackError> {
    let (tw, th) = (
        u64::from(track.width.max(1)),
        u64::from(track.height.max(1)),
    );
    let follow = |given: u32, num: u64, den: u64| -> u32 {
        u32::try_from((u64::from(given) * num + den / 2) / den)
            .unwrap_or(u32::MAX)
            .max(1)
    };
    let size = match (width, height) {
        (Some(w), Some(h)) => (w, h),
        (Some(w), None) => (w, follow(w, th, tw)),
        (None, Some(h)) => (follow(h, tw, th), h),
        (None, None) => (track.width, track.height),
    };
    if size.0 == 0 || size.1 == 0 || size.0 > MAX_IMAGE_SIDE || size.1 > MAX_IMAGE_SIDE {
        return Err(PlaybackError::Invalid(format!(
            "image size {}x{} must be between 1 and {MAX_IMAGE_SIDE} on each side",
            size.0, size.1
        )));
    }
    Ok(size)
}

/// The decoding pipeline of one run (appsrc sends its caps once: a
/// pipeline per run is simpler than resetting one).
struct RunDecoder {
    stop: Stopper,
    src: gst_app::AppSrc,
    sink: gst_app::AppSink,
    filter: gst::Element,
    /// The pts (run-relative ns) of the frames to let through the decoder.
    wanted: Arc<Mutex<Vec<u64>>>,
}

impl RunDecoder {
    fn new(codec: Codec) -> Result<RunDecoder, PlaybackError> {
        crate::init().map_err(|e| PlaybackError::Media(e.to_string()))?;
        let decoder = match codec {
            Codec::H264 => "avdec_h264",
            Codec::H265 => "avdec_h265",
        };
        let media = |e: &dyn std::fmt::Display| PlaybackError::Media(format!("image decoder: {e}"));
        let pipeline = gst::parse::launch(&format!(
            "appsrc name=src format=time block=true ! {decoder} name=dec ! videoconvert ! \
             videoscale ! capsfilter name=filter ! appsink name=sink sync=false"
        ))
        .map_err(|e| media(&e))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| media(&"not a pipeline"))?;
        let stop = Stopper(pipeline.clone());
        let by_name = |n: &str| pipeline.by_name(n).ok_or_else(|| media(&format!("no {n}")));
        let src = by_name("src")?
            .downcast::<gst_app::AppSrc>()
            .map_err(|_| media(&"src is no appsrc"))?;
        let sink = by_name("sink")?
            .downcast::<gst_app::AppSink>()
            .map_err(|_| media(&"sink is no appsink"))?;
        let filter = by_name("filter")?;
        let wanted: Arc<Mutex<Vec<u64>>> = Arc::default();
        let pad = by_name("dec")?
            .static_pad("src")
            .ok_or_else(|| media(&"decoder without src pad"))?;
        let keep = Arc::clone(&wanted);
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            let pts = info.buffer().and_then(|b| b.pts());
            let wanted = keep
                .lock()
                .map(|w| pts.is_some_and(|p| w.contains(&p.nseconds())));
            if wanted.unwrap_or(true) {
                gst::PadProbeReturn::Ok
            } else {
                gst::PadProbeReturn::Drop
            }
        });
        Ok(RunDecoder {
            stop,
            src,
            sink,
            filter,
            wanted,
        })
    }

    /// Decodes `frames` (a key frame first) and returns the images of the
    /// frames at the indexes `wanted`, by index.
    fn decode(
        &mut self,
        track: &Track,
        frames: &[osprey_ingest::video::Frame],
        wanted: &[usize],
        width: u32,
        height: u32,
        format: ImageFormat,
    ) -> Result<BTreeMap<usize, Vec<u8>>, PlaybackError> {
        let media = |e: &dyn std::fmt::Display| PlaybackError::Media(format!("image decoder: {e}"));
        let Some(first) = frames.first() else {
            return Ok(BTreeMap::new());
        };
        let base = first.dts_ns.min(first.pts_ns);
        let rel = |ns: u64| ns.saturating_sub(base);
        let by_pts: BTreeMap<u64, usize> =
            wanted.iter().map(|&i| (rel(frames[i].pts_ns), i)).collect();
        if let Ok(mut w) = self.wanted.lock() {
            *w = by_pts.keys().copied().collect();
        }
        let (media_type, format_name) = match track.codec {
            Codec::H264 => ("video/x-h264", "avc"),
            Codec::H265 => ("video/x-h265", "hvc1"),
        };
        let caps = gst::Caps::builder(media_type)
            .field("stream-format", format_name)
            .field("alignment", "au")
            .field(
                "codec_data",
                gst::Buffer::from_slice(track.codec_data.clone()),
            )
            .field("width", i32::try_from(track.width).unwrap_or(i32::MAX))
            .field("height", i32::try_from(track.height).unwrap_or(i32::MAX))
            .build();
        self.src.set_caps(Some(&caps));
        let out_caps = gst::Caps::builder("video/x-raw")
            .field("format", "RGB")
            .field("width", i32::try_from(width).unwrap_or(i32::MAX))
            .field("height", i32::try_from(height).unwrap_or(i32::MAX))
            .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
            .build();
        self.filter.set_property("caps", &out_caps);
        self.stop
            .0
            .set_state(gst::State::Playing)
            .map_err(|e| media(&e))?;
        self.run(frames, &by_pts, format, rel)
    }

    fn run(
        &self,
        frames: &[osprey_ingest::video::Frame],
        by_pts: &BTreeMap<u64, usize>,
        format: ImageFormat,
        rel: impl Fn(u64) -> u64,
    ) -> Result<BTreeMap<usize, Vec<u8>>, PlaybackError> {
        let media = |e: &dyn std::fmt::Display| PlaybackError::Media(format!("image decoder: {e}"));
        for f in frames {
            let mut buffer = gst::Buffer::from_slice(f.data.clone());
            if let Some(b) = buffer.get_mut() {
                b.set_pts(gst::ClockTime::from_nseconds(rel(f.pts_ns)));
                b.set_dts(gst::ClockTime::from_nseconds(rel(f.dts_ns)));
                b.set_duration(gst::ClockTime::from_nseconds(f.duration_ns));
                if !f.key {
                    b.set_flags(gst::BufferFlags::DELTA_UNIT);
                }
            }
            if self.src.push_buffer(buffer).is_err() {
                break; // the pipeline failed: its error is on the bus
            }
        }
        let _ = self.src.end_of_stream();
        let mut images = BTreeMap::new();
        let bus = self.stop.0.bus().ok_or_else(|| media(&"no bus"))?;
        let started = Instant::now();
        loop {
            if let Some(sample) = self.sink.try_pull_sample(gst::ClockTime::from_mseconds(50)) {
                let pts = sample
                    .buffer()
                    .and_then(|b| b.pts())
                    .map(gst::ClockTime::nseconds);
                if let Some(&index) = pts.and_then(|p| by_pts.get(&p)) {
                    images.insert(index, encode(&sample, format)?);
                }
                continue;
            }
            if self.sink.is_eos() {
                break;
            }
            if let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error])
                && let gst::MessageView::Error(e) = msg.view()
            {
                return Err(media(&e.error()));
            }
            if started.elapsed() > RUN_TIMEOUT {
                return Err(media(&"decoding took too long"));
            }
        }
        Ok(images)
    }
}

/// Encodes an RGB sample as `format`.
fn encode(sample: &gst::Sample, format: ImageFormat) -> Result<Vec<u8>, PlaybackError> {
    let media = |e: &dyn std::fmt::Display| PlaybackError::Media(format!("image encoder: {e}"));
    let caps = sample.caps().ok_or_else(|| media(&"sample without caps"))?;
    let info = gst_video::VideoInfo::from_caps(caps).map_err(|e| media(&e))?;
    let buffer = sample
        .buffer()
        .ok_or_else(|| media(&"sample without buffer"))?;
    let frame =
        gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info).map_err(|e| media(&e))?;
    let (w, h) = (info.width(), info.height());
    let stride = usize::try_from(info.stride()[0]).map_err(|e| media(&e))?;
    let plane = frame.plane_data(0).map_err(|e| media(&e))?;
    let row = w as usize * 3;
    let mut rgb = Vec::with_capacity(row * h as usize);
    for y in 0..h as usize {
        let line = plane
            .get(y * stride..y * stride + row)
            .ok_or_else(|| media(&"short frame"))?;
        rgb.extend_from_slice(line);
    }
    let mut out = Vec::new();
    let result = match format {
        ImageFormat::Jpeg => image::codecs::jpeg::JpegEncoder::new_with_quality(
            &mut out,
            JPEG_QUALITY,
        )
        .encode(&rgb, w, h, image::ExtendedColorType::Rgb8),
        ImageFormat::Png => image::ImageEncoder::write_image(
            image::codecs::png::PngEncoder::new(&mut out),
            &rgb,
            w,
            h,
            image::ExtendedColorType::Rgb8,
        ),
    };
    result.map_err(|e| media(&e))?;
    Ok(out)
}
