//! The pipeline [`super::put`] records from: a source's encoded video
//! taken as it came, no decoder.
//!
//! ```text
//! uridecodebin (stops at video/x-h264|h265) ─► h264parse|h265parse ─► appsink (avc|hvc1, au)
//!              (raw video of a camera)      ─► videoconvert ─► x264enc ─► h264parse ─► appsink
//!              (anything else)              ─► fakesink
//! videotestsrc (test:) ─► videoconvert ─► x264enc ─► h264parse ─► appsink
//! ```
//!
//! Video in another codec is decoded by uridecodebin to find out what it
//! is, and refused ("keeps H.264 and H.265 only").

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gst::prelude::*;
use gstreamer as gst;
use gstreamer_app as gst_app;
use osprey_ingest::video::{Frame, Track};

use super::branch::{self, add_ns};
use crate::capture_time::Stamper;
use crate::decoder::{add_uri_source, drain, skip_decoding};
use crate::decoder_choice::{self, Picked};
use crate::error::{VideoError, gst_reason};
use crate::init::init;
use crate::pipeline_source::Origin;
use crate::source::{SourceSpec, redact};

/// Access units the appsink holds before it blocks the source.
const QUEUE: u32 = 64;

/// How long one pull waits before the bus and the stop flag are read again.
const POLL: Duration = Duration::from_millis(50);

/// The name of the message posted when the source has no video to record.
const NO_RECORDING: &str = "osprey-no-recording";

/// What the pad handler found wrong, for the pulling thread to report.
type Refusal = Arc<Mutex<Option<VideoError>>>;

/// A running pipeline handing out a source's access units.
pub(crate) struct EncodedSource {
    input: String,
    pipeline: gst::Pipeline,
    bus: gst::Bus,
    /// The appsink, once the video pad has been linked.
    sink: Arc<Mutex<Option<gst_app::AppSink>>>,
    refusal: Refusal,
    live: bool,
    /// A file's producer time of stream time 0, Unix ns.
    file_start_ns: u64,
    stamper: Stamper,
    /// The caps of the last sample and their track.
    track: Option<(gst::Caps, Track)>,
    last_dts: u64,
    /// When the last access unit (or the opening) came: a stall is timed
    /// from it.
    last_unit: std::time::Instant,
}

impl EncodedSource {
    /// Builds and starts the pipeline of `spec`. `key_int` is the key frame
    /// interval (frames) for raw video that has to be encoded.
    pub(crate) fn open(
        spec: &SourceSpec,
        file_start_ns: u64,
        key_int: u32,
    ) -> Result<EncodedSource, VideoError> {
        let origin = Origin::of(spec)?;
        init()?;
        let input = spec.redacted();
        let pipeline = gst::Pipeline::with_name("osprey-record");
        let sink: Arc<Mutex<Option<gst_app::AppSink>>> = Arc::default();
        let refusal = Refusal::default();
        let live = origin.is_live_kind();
        let stamper = Stamper::new(live, None, false);
        match &origin {
            Origin::Test(pattern) => {
                let source = pattern.build(&input)?;
                pipeline
                    .add(&source)
                    .map_err(|e| VideoError::Gstreamer(format!("cannot assemble pipeline: {e}")))?;
                let (first, appsink) = branch::add_encoder(&pipeline, key_int, QUEUE)?;
                source.link(&first).map_err(|e| {
                    VideoError::Gstreamer(format!("cannot link the test source: {e}"))
                })?;
                *lock(&sink) = Some(appsink);
            }
            Origin::Uri(uri) => {
                let source = add_uri_source(&pipeline, uri, spec, &stamper)?;
                let picked = decoder_choice::watch_decoder(&pipeline);
                connect_pads(
                    &source, &pipeline, &sink, &refusal, &picked, &input, key_int,
                );
            }
        }
        let bus = pipeline
            .bus()
            .ok_or_else(|| VideoError::Gstreamer("pipeline has no bus".into()))?;
        let mut opened = EncodedSource {
            input,
            pipeline,
            bus,
            sink,
            refusal,
            live,
            file_start_ns,
            stamper,
            track: None,
            last_dts: 0,
            last_unit: std::time::Instant::now(),
        };
        match opened.pipeline.set_state(gst::State::Playing) {
            Ok(gst::StateChangeSuccess::NoPreroll) => opened.set_live(),
            Ok(_) => {}
            Err(_) => {
                opened.poll_bus()?;
                return Err(opened.error("the pipeline refused to start".into()));
            }
        }
        Ok(opened)
    }

    fn set_live(&mut self) {
        self.live = true;
        self.stamper.set_live(true);
    }

    /// Whether the source is live (its producer times are its own clock's).
    pub(crate) fn is_live(&self) -> bool {
        self.live
    }

    /// The next access unit and its track; `None` at the end of the stream
    /// or once `stop` is set.
    ///
    /// # Errors
    /// The pipeline's; [`VideoError::Decode`] saying "stalled" when no
    /// access unit came for `stall` (when given).
    pub(crate) fn next(
        &mut self,
        stop: &AtomicBool,
        stall: Option<Duration>,
    ) -> Result<Option<(Track, Frame)>, VideoError> {
        loop {
            self.poll_bus()?;
            if stop.load(Ordering::Relaxed) {
                return Ok(None);
            }
            if let Some(stall) = stall
                && self.last_unit.elapsed() >= stall
            {
                return Err(self.error(format!(
                    "stalled: no frame for {:.1} s",
                    stall.as_secs_f64()
                )));
            }
            let Some(appsink) = lock(&self.sink).clone() else {
                std::thread::sleep(POLL);
                continue;
            };
            let wait =
                gst::ClockTime::from_nseconds(u64::try_from(POLL.as_nanos()).unwrap_or(u64::MAX));
            if let Some(sample) = appsink.try_pull_sample(wait) {
                self.last_unit = std::time::Instant::now();
                return self.unit(&sample).map(Some);
            }
            if appsink.is_eos() {
                return Ok(None);
            }
        }
    }

    /// One sample as a track and a frame on the producer's clock.
    fn unit(&mut self, sample: &gst::Sample) -> Result<(Track, Frame), VideoError> {
        let caps = sample
            .caps()
            .ok_or_else(|| self.error("a frame arrived without caps".into()))?;
        if self.track.as_ref().is_none_or(|(c, _)| c.as_ref() != caps) {
            let track = branch::track_of(caps).map_err(|reason| self.error(reason))?;
            self.track = Some((caps.to_owned(), track));
        }
        let buffer = sample
            .buffer()
            .ok_or_else(|| self.error("a sample arrived without a buffer".into()))?;
        let (pts, dts) = branch::stream_times(buffer, sample.segment())
            .ok_or_else(|| self.error("a frame arrived without a timestamp".into()))?;
        let (pts_ns, dts_ns) = if self.live {
            let wall = self
                .stamper
                .live_time(buffer, sample.segment(), &self.pipeline)
                .map_or_else(crate::wall_clock::now, |(ts, _)| ts);
            let wall_ns = (wall * 1e9) as i128;
            (add_ns(wall_ns, 0), add_ns(wall_ns, dts - pts))
        } else {
            let start = i128::from(self.file_start_ns);
            (add_ns(start, pts), add_ns(start, dts))
        };
        // Decode times never go backwards (a new sender report may move the
        // clock a little).
        let dts_ns = dts_ns.max(self.last_dts);
        self.last_dts = dts_ns;
        let frame = branch::frame_of(buffer, pts_ns, dts_ns).map_err(|r| self.error(r))?;
        let track = self
            .track
            .as_ref()
            .map(|(_, t)| t.clone())
            .ok_or_else(|| VideoError::Internal("no track for a frame".into()))?;
        Ok((track, frame))
    }

    fn poll_bus(&mut self) -> Result<(), VideoError> {
        if let Some(refused) = lock(&self.refusal).take() {
            return Err(refused);
        }
        while let Some(message) = self.bus.pop() {
            let source = message.src().map(|s| s.name().to_string());
            match message.view() {
                gst::MessageView::Error(e) => {
                    if let Some(refused) = lock(&self.refusal).take() {
                        return Err(refused);
                    }
                    let debug = e.debug();
                    return Err(self.error(gst_reason(
                        source.as_deref(),
                        &e.error(),
                        debug.as_deref(),
                    )));
                }
                gst::MessageView::Application(a)
                    if a.structure().is_some_and(|s| s.name() == NO_RECORDING) =>
                {
                    return Err(lock(&self.refusal).take().unwrap_or_else(|| {
                        VideoError::NoVideo {
                            input: self.input.clone(),
                        }
                    }));
                }
                gst::MessageView::Warning(w) => {
                    let debug = w.debug();
                    let reason =
                        redact(&gst_reason(source.as_deref(), &w.error(), debug.as_deref()));
                    tracing::warn!(input = %self.input, %reason, "GStreamer warning while recording.");
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn error(&self, reason: String) -> VideoError {
        VideoError::Decode {
            input: self.input.clone(),
            reason: redact(&reason),
        }
    }
}

impl Drop for EncodedSource {
    fn drop(&mut self) {
        if let Err(e) = self.pipeline.set_state(gst::State::Null) {
            tracing::warn!(input = %self.input, error = %e, "Cannot stop the recording pipeline.");
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Wires uridecodebin: decoding stops at H.264/H.265, whose pad goes to its
/// parser; raw video from the source itself (no decoder: a raw camera) is
/// encoded; decoded video of another codec is refused; the rest drains.
fn connect_pads(
    source: &gst::Element,
    pipeline: &gst::Pipeline,
    sink: &Arc<Mutex<Option<gst_app::AppSink>>>,
    refusal: &Refusal,
    picked: &Picked,
    input: &str,
    key_int: u32,
) {
    let seen: Arc<Mutex<Option<String>>> = Arc::default();
    let noted = Arc::clone(&seen);
    source.connect("autoplug-continue", false, move |values| {
        let caps = values.get(2).and_then(|v| v.get::<gst::Caps>().ok());
        let pad = values.get(1).and_then(|v| v.get::<gst::Pad>().ok());
        let keep_going = match (pad, caps) {
            (Some(pad), Some(caps)) => {
                if let Some(s) = caps.structure(0)
                    && is_elementary_video(s.name())
                {
                    *lock(&noted) = Some(decoder_choice::codec_name(s));
                }
                caps.structure(0).and_then(branch::codec_of).is_none()
                    && !skip_decoding(&pad, &caps)
            }
            _ => true,
        };
        Some(keep_going.to_value())
    });
    let pipeline_weak = pipeline.downgrade();
    let (sink_slot, refused, picked) = (Arc::clone(sink), Arc::clone(refusal), Arc::clone(picked));
    let input = input.to_owned();
    source.connect_pad_added(move |source, pad| {
        let Some(pipeline) = pipeline_weak.upgrade() else {
            return;
        };
        let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
        let Some(s) = caps.structure(0) else {
            return;
        };
        let taken = lock(&sink_slot).is_some();
        let built = if taken || !s.name().starts_with("video/") {
            None
        } else if let Some(codec) = branch::codec_of(s) {
            Some(branch::add_parser(&pipeline, codec, QUEUE))
        } else if s.name() == "video/x-raw" {
            match lock(&seen).clone().or_else(|| decoded_from(&picked)) {
                Some(codec) if codec != "raw" => {
                    *lock(&refused) = Some(VideoError::Unsupported {
                        input: input.clone(),
                        codec,
                    });
                    let msg =
                        gst::message::Application::builder(gst::Structure::new_empty(NO_RECORDING))
                            .src(source)
                            .build();
                    let _posted = source.post_message(msg);
                    None
                }
                _ => Some(branch::add_encoder(&pipeline, key_int, QUEUE)),
            }
        } else {
            None
        };
        let Some(built) = built else {
            if let Err(e) = drain(&pipeline, pad) {
                tracing::warn!(error = %e, "Cannot drain an ignored stream.");
            }
            return;
        };
        let linked = built.and_then(|(first, appsink)| {
            let target = first
                .static_pad("sink")
                .ok_or_else(|| VideoError::Gstreamer("no sink pad".into()))?;
            pad.link(&target)
                .map_err(|e| VideoError::Gstreamer(format!("cannot link {caps}: {e:?}")))?;
            *lock(&sink_slot) = Some(appsink);
            Ok(())
        });
        if let Err(e) = linked {
            let msg = gst::message::Error::builder(gst::CoreError::Negotiation, &e.to_string())
                .src(source)
                .build();
            let _posted = source.post_message(msg);
        }
    });
    let sink_slot = Arc::clone(sink);
    source.connect_no_more_pads(move |source| {
        if lock(&sink_slot).is_none() {
            let msg = gst::message::Application::builder(gst::Structure::new_empty(NO_RECORDING))
                .src(source)
                .build();
            let _posted = source.post_message(msg);
        }
    });
}

/// Whether caps named `name` are an elementary video stream (not raw, not
/// a container): what a decoder takes.
fn is_elementary_video(name: &str) -> bool {
    const CONTAINERS: [&str; 9] = [
        "video/quicktime",
        "video/x-msvideo",
        "video/x-matroska",
        "video/webm",
        "video/mpegts",
        "video/x-flv",
        "video/x-ms-asf",
        "video/ogg",
        "video/x-raw",
    ];
    (name.starts_with("video/") || name.starts_with("image/")) && !CONTAINERS.contains(&name)
}

/// The codec uridecodebin decoded, by the caps entering its decoder.
fn decoded_from(picked: &Picked) -> Option<String> {
    let decoder = lock(picked).clone()?;
    let caps = decoder.static_pad("sink")?.current_caps()?;
    caps.structure(0).map(decoder_choice::codec_name)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use osprey_ingest::video::Codec;

    use super::*;
    use crate::generate::{ClipSpec, generate_clip};

    const START_NS: u64 = 1_800_000_000_000_000_000;

    /// Every access unit of `spec`, until the end or `limit` of them.
    fn units(spec: &SourceSpec, limit: usize) -> Result<Vec<(Track, Frame)>, VideoError> {
        let stop = AtomicBool::new(false);
        let mut source = EncodedSource::open(spec, START_NS, 10)?;
        let mut out = Vec::new();
        while out.len() < limit
            && let Some(unit) = source.next(&stop, None)?
        {
            out.push(unit);
        }
        Ok(out)
    }

    /// Each NAL unit's 4-byte length prefix adds up to the access unit.
    fn length_prefixed(data: &[u8]) -> bool {
        let mut rest = data;
        while rest.len() >= 4 {
            let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            let Some(next) = rest.get(4 + len..) else {
                return false;
            };
            rest = next;
        }
        rest.is_empty() && !data.is_empty()
    }

    #[test]
    fn a_file_gives_its_access_units_stamped_from_the_start_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.mp4");
        let spec = ClipSpec {
            width: 320,
            height: 240,
            fps: 10,
            frames: 25,
            cut_every: 0,
        };
        generate_clip(&path, &spec).unwrap();
        let units = units(&SourceSpec::new(path.to_str().unwrap()), usize::MAX).unwrap();
        assert_eq!(units.len(), 25);
        let (track, first) = &units[0];
        assert_eq!(
            (track.codec, track.width, track.height),
            (Codec::H264, 320, 240)
        );
        assert_eq!(track.codec_data.first(), Some(&1), "an avcC record");
        assert!(first.key);
        // Key frames every 2 s (generate_clip's GOP): frames 0 and 20.
        let keys: Vec<usize> = (0..units.len()).filter(|&i| units[i].1.key).collect();
        assert_eq!(keys, vec![0, 20]);
        let mut pts: Vec<u64> = units.iter().map(|(_, f)| f.pts_ns).collect();
        pts.sort_unstable();
        for (i, p) in pts.iter().enumerate() {
            assert_eq!(*p, START_NS + i as u64 * 100_000_000, "frame {i}");
        }
        assert!(units.iter().all(|(_, f)| length_prefixed(&f.data)));
        assert!(units.iter().all(|(_, f)| f.duration_ns == 100_000_000));
    }

    #[test]
    fn a_test_pattern_is_encoded_live() {
        let before = crate::wall_clock::now();
        let spec = SourceSpec::new("test:ball?width=160&height=120&fps=10");
        let units = units(&spec, 12).unwrap();
        assert_eq!(units.len(), 12);
        assert!(units[0].1.key && units[10].1.key, "key-int 10");
        assert!(!units[1].1.key);
        assert_eq!(units[0].0.width, 160);
        // Stamped with the host's clock, not the file start time.
        let first = units[0].1.pts_ns as f64 / 1e9;
        assert!(
            (before - 1.0..crate::wall_clock::now() + 1.0).contains(&first),
            "{first}"
        );
    }

    #[test]
    fn other_codecs_are_refused_by_name() {
        crate::init().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.avi");
        write(&path, "jpegenc ! avimux");
        let err = units(&SourceSpec::new(path.to_str().unwrap()), usize::MAX)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.starts_with("video stream recording keeps H.264 and H.265 only: ")
                && err.ends_with(" is mjpeg"),
            "{err}"
        );
        let missing = units(&SourceSpec::new("/nonexistent/x.mp4"), 1)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(missing.contains("no such file"), "{missing}");
    }

    /// Writes 5 frames of a test pattern through `encode_mux` to `path`.
    fn write(path: &Path, encode_mux: &str) {
        let line = format!(
            "videotestsrc num-buffers=5 ! video/x-raw,width=160,height=120 ! {encode_mux} ! filesink location={}",
            path.display()
        );
        let pipeline = gst::parse::launch(&line).unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        let bus = pipeline.bus().unwrap();
        let done = bus.timed_pop_filtered(
            gst::ClockTime::from_seconds(10),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        );
        pipeline.set_state(gst::State::Null).unwrap();
        assert!(matches!(
            done.map(|m| m.type_()),
            Some(gst::MessageType::Eos)
        ));
    }
}
