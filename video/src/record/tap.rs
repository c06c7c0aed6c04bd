//! Recording a source that is being analysed, from the same connection:
//! the decode pipeline's encoded access units are taken where they enter
//! the decoder (a pad probe on its sink pad, so the parser's output is
//! split, never decoded twice) and handed to a [`Recorder`] thread, which
//! puts them through its own `appsrc ! h264parse|h265parse ! appsink`
//! (to `avc`/`hvc1`, whatever the decoder took), cuts them into fragments
//! and appends them to a video stream.
//!
//! The analysis never waits for the recording: the hand-over is a bounded
//! channel, and when it is full (the store is slow) the access unit is
//! dropped, counted, and so is every one after it up to the next key frame,
//! so what is recorded always decodes. Each connection of a live source
//! (a reconnection builds a new decoder) starts a new fragment.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use gst::prelude::*;
use gstreamer as gst;
use gstreamer_app as gst_app;
use osprey_ingest::video::{FragmentIn, FragmentMeta, VideoStore};

use super::Fragmenter;
use super::branch::{self, add_ns};
use crate::capture_time::Stamper;
use crate::decoder_choice::is_video_decoder;
use crate::error::VideoError;

/// Access units waiting for the recorder: about 4 s at 30 fps.
const CHANNEL: usize = 128;

/// Connections made so far, in this process: each decoder's taps get the
/// next number.
static CONNECTIONS: AtomicU64 = AtomicU64::new(0);

/// What the probe hands over.
enum Message {
    Unit(Unit),
    /// Flush and end.
    Finish,
}

/// One access unit as it entered the decoder, with its producer times.
struct Unit {
    connection: u64,
    caps: gst::Caps,
    buffer: gst::Buffer,
    pts_ns: u64,
    dts_ns: u64,
}

/// Counts a recorder shares with its taps.
#[derive(Debug, Default)]
struct Counts {
    fragments: AtomicU64,
    frames: AtomicU64,
    bytes: AtomicU64,
    media_ns: AtomicU64,
    /// Access units dropped: the channel was full, or they came after one
    /// that was, before the next key frame.
    dropped: AtomicU64,
    /// Appends the store refused.
    failed: AtomicU64,
}

/// What a [`Recorder`] has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecorderCounts {
    /// Fragments appended.
    pub fragments: u64,
    /// Frames in them.
    pub frames: u64,
    /// Bytes of media in them.
    pub bytes: u64,
    /// Access units dropped because the recorder fell behind (and those
    /// after them up to the next key frame).
    pub dropped: u64,
    /// Fragments the store failed to append.
    pub failed: u64,
}

/// The handle a decoder is given to feed a [`Recorder`]
/// ([`crate::DecodeOptions::record`], [`crate::live::LiveSource::record`]).
#[derive(Clone)]
pub struct RecordTap {
    sender: SyncSender<Message>,
    counts: Arc<Counts>,
    stream: Arc<str>,
}

impl std::fmt::Debug for RecordTap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordTap")
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

/// A thread recording what its [`RecordTap`]s take into one video stream.
#[derive(Debug)]
pub struct Recorder {
    tap: RecordTap,
    thread: Option<JoinHandle<()>>,
}

impl Recorder {
    /// Starts recording into `stream` of `store` (which must exist), cutting
    /// fragments at about `fragment`.
    ///
    /// # Errors
    /// [`VideoError::Store`] when the stream does not exist,
    /// [`VideoError::Config`] for a zero fragment length.
    pub fn start(
        store: Arc<VideoStore>,
        stream: &str,
        fragment: Duration,
    ) -> Result<Recorder, VideoError> {
        if fragment.is_zero() {
            return Err(VideoError::Config(
                "the fragment length must be above zero".into(),
            ));
        }
        store.describe(stream)?;
        crate::init::init()?;
        let (sender, receiver) = sync_channel(CHANNEL);
        let counts = Arc::new(Counts::default());
        let tap = RecordTap {
            sender,
            counts: Arc::clone(&counts),
            stream: Arc::from(stream),
        };
        let mut worker = Worker {
            store,
            stream: stream.to_owned(),
            cutter: Fragmenter::new(fragment),
            counts,
            parser: None,
        };
        let thread = std::thread::Builder::new()
            .name("osprey-record".into())
            .spawn(move || worker.run(&receiver))
            .map_err(VideoError::DecodeThread)?;
        Ok(Recorder {
            tap,
            thread: Some(thread),
        })
    }

    /// The handle to give the source's decoders.
    #[must_use]
    pub fn tap(&self) -> RecordTap {
        self.tap.clone()
    }

    /// What it has done so far.
    #[must_use]
    pub fn counts(&self) -> RecorderCounts {
        self.tap.counts()
    }

    /// Appends the fragment in progress and stops; what it recorded.
    pub fn finish(mut self) -> RecorderCounts {
        self.stop();
        self.tap.counts()
    }

    fn stop(&mut self) {
        if let Some(thread) = self.thread.take() {
            // Blocks while the channel is full: the recorder is draining it.
            let _sent = self.tap.sender.send(Message::Finish);
            if thread.join().is_err() {
                tracing::error!(stream = %self.tap.stream, "The recording thread panicked.");
            }
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop();
    }
}

impl RecordTap {
    /// The video stream it records into.
    #[must_use]
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// What its recorder has done so far.
    #[must_use]
    pub fn counts(&self) -> RecorderCounts {
        let c = &self.counts;
        RecorderCounts {
            fragments: c.fragments.load(Ordering::Relaxed),
            frames: c.frames.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
        }
    }

    /// Taps `pipeline`: the sink pad of each video decoder it gets feeds
    /// the recorder. `stamper` gives live sources their producer times;
    /// files get `file_start_ns` plus their pts.
    pub(crate) fn install(&self, pipeline: &gst::Pipeline, stamper: Stamper, file_start_ns: u64) {
        let connection = CONNECTIONS.fetch_add(1, Ordering::Relaxed);
        let tap = self.clone();
        let weak = pipeline.downgrade();
        let stamper = Arc::new(stamper);
        pipeline.connect_deep_element_added(move |_, _, element| {
            let is_decoder = element
                .factory()
                .is_some_and(|f| is_video_decoder(f.metadata("klass").unwrap_or_default()));
            if !is_decoder {
                return;
            }
            let Some(pad) = element.static_pad("sink") else {
                return;
            };
            let probe = Probe {
                tap: tap.clone(),
                connection,
                pipeline: weak.clone(),
                stamper: Arc::clone(&stamper),
                file_start_ns,
                caps: None,
                segment: None,
                need_key: true,
            };
            let probe = Mutex::new(probe);
            pad.add_probe(
                gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM,
                move |_, info| {
                    if let Ok(mut probe) = probe.lock() {
                        probe.see(info);
                    }
                    gst::PadProbeReturn::Ok
                },
            );
        });
    }
}

/// The state of one decoder's probe.
struct Probe {
    tap: RecordTap,
    connection: u64,
    pipeline: gst::glib::WeakRef<gst::Pipeline>,
    stamper: Arc<Stamper>,
    file_start_ns: u64,
    caps: Option<gst::Caps>,
    segment: Option<gst::Segment>,
    /// Dropping until a key frame.
    need_key: bool,
}

impl Probe {
    fn see(&mut self, info: &gst::PadProbeInfo) {
        match &info.data {
            Some(gst::PadProbeData::Event(event)) => match event.view() {
                gst::EventView::Caps(c) => self.caps = Some(c.caps_owned()),
                gst::EventView::Segment(s) => self.segment = Some(s.segment().clone()),
                _ => {}
            },
            Some(gst::PadProbeData::Buffer(buffer)) => self.buffer(buffer),
            _ => {}
        }
    }

    fn buffer(&mut self, buffer: &gst::Buffer) {
        let Some(caps) = self.caps.clone() else {
            return;
        };
        let key = !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT);
        if self.need_key && !key {
            return;
        }
        let Some((pts, dts)) = branch::stream_times(buffer, self.segment.as_ref()) else {
            return;
        };
        let wall = self.pipeline.upgrade().and_then(|pipeline| {
            self.stamper
                .live_time(buffer, self.segment.as_ref(), &pipeline)
        });
        let (pts_ns, dts_ns) = match wall {
            Some((ts, _)) => {
                let wall_ns = (ts * 1e9) as i128;
                (add_ns(wall_ns, 0), add_ns(wall_ns, dts - pts))
            }
            None => {
                let start = i128::from(self.file_start_ns);
                (add_ns(start, pts), add_ns(start, dts))
            }
        };
        let unit = Unit {
            connection: self.connection,
            caps,
            buffer: buffer.clone(),
            pts_ns,
            dts_ns,
        };
        match self.tap.sender.try_send(Message::Unit(unit)) {
            Ok(()) => self.need_key = false,
            Err(TrySendError::Full(_)) => {
                self.tap.counts.dropped.fetch_add(1, Ordering::Relaxed);
                self.need_key = true;
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

/// The recorder thread.
struct Worker {
    store: Arc<VideoStore>,
    stream: String,
    cutter: Fragmenter,
    counts: Arc<Counts>,
    parser: Option<Parser>,
}

/// The recorder's `appsrc ! parser ! appsink` for one connection and caps.
struct Parser {
    connection: u64,
    caps: gst::Caps,
    pipeline: gst::Pipeline,
    appsrc: gst_app::AppSrc,
    appsink: gst_app::AppSink,
    /// The producer times of the access units pushed, by their buffer pts.
    times: VecDeque<(Option<gst::ClockTime>, u64, u64)>,
    /// The last caps out and their track.
    track: Option<(gst::Caps, osprey_ingest::video::Track)>,
}

/// Producer times remembered for access units inside the parser.
const TIMES: usize = 256;

impl Worker {
    fn run(&mut self, receiver: &Receiver<Message>) {
        loop {
            match receiver.recv_timeout(Duration::from_millis(100)) {
                Ok(Message::Unit(unit)) => self.unit(unit),
                Ok(Message::Finish) | Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {}
            }
            self.drain(Duration::ZERO);
        }
        self.close_parser();
        if let Some(fragment) = self.cutter.finish() {
            self.append(fragment);
        }
    }

    fn unit(&mut self, unit: Unit) {
        let fits = self
            .parser
            .as_ref()
            .is_some_and(|p| p.connection == unit.connection && p.caps == unit.caps);
        if !fits {
            let new_connection = self
                .parser
                .as_ref()
                .is_some_and(|p| p.connection != unit.connection);
            self.close_parser();
            if new_connection && let Some(fragment) = self.cutter.finish() {
                self.append(fragment);
            }
            match Parser::start(unit.connection, &unit.caps) {
                Ok(parser) => self.parser = Some(parser),
                Err(e) => {
                    tracing::warn!(stream = %self.stream, error = %e, caps = %unit.caps, "Cannot record this stream.");
                    self.counts.dropped.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
        }
        let Some(parser) = &mut self.parser else {
            return;
        };
        if parser.times.len() >= TIMES {
            parser.times.pop_front();
        }
        parser
            .times
            .push_back((unit.buffer.pts(), unit.pts_ns, unit.dts_ns));
        if parser.appsrc.push_buffer(unit.buffer).is_err() {
            tracing::warn!(stream = %self.stream, "The recording parser refused an access unit.");
        }
    }

    /// Cuts and appends what the parser has given, waiting up to `wait`
    /// for the first.
    fn drain(&mut self, wait: Duration) {
        let Some(parser) = &mut self.parser else {
            return;
        };
        let mut wait = gst::ClockTime::from_nseconds(u64::try_from(wait.as_nanos()).unwrap_or(0));
        while let Some(sample) = parser.appsink.try_pull_sample(wait) {
            wait = gst::ClockTime::ZERO;
            match parser.unit(&sample) {
                Ok((track, frame)) => {
                    if let Some(fragment) = self.cutter.push(&track, frame) {
                        append(&self.store, &self.stream, &self.counts, fragment);
                    }
                }
                Err(reason) => {
                    tracing::warn!(stream = %self.stream, %reason, "Cannot record an access unit.");
                    self.counts.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Ends the parser: what it holds is drained first.
    fn close_parser(&mut self) {
        let Some(parser) = &self.parser else {
            return;
        };
        let _eos = parser.appsrc.end_of_stream();
        let appsink = parser.appsink.clone();
        for _ in 0..40 {
            self.drain(Duration::from_millis(50));
            if appsink.is_eos() {
                break;
            }
        }
        if let Some(parser) = self.parser.take() {
            let _stopped = parser.pipeline.set_state(gst::State::Null);
        }
    }

    fn append(&self, fragment: FragmentIn) {
        append(&self.store, &self.stream, &self.counts, fragment);
    }
}

/// Appends `fragment`, counting it (or its failure: the recording goes on).
fn append(store: &VideoStore, stream: &str, counts: &Counts, fragment: FragmentIn) {
    match store.append(stream, fragment) {
        Ok(meta) => count(counts, &meta),
        Err(e) => {
            counts.failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%stream, error = %e, "Cannot append a recorded fragment.");
        }
    }
}

fn count(counts: &Counts, meta: &FragmentMeta) {
    counts.fragments.fetch_add(1, Ordering::Relaxed);
    counts
        .frames
        .fetch_add(u64::from(meta.frames), Ordering::Relaxed);
    counts.bytes.fetch_add(meta.size, Ordering::Relaxed);
    counts
        .media_ns
        .fetch_add(meta.duration_ns, Ordering::Relaxed);
}

impl Parser {
    fn start(connection: u64, caps: &gst::Caps) -> Result<Parser, VideoError> {
        let codec = caps
            .structure(0)
            .and_then(branch::codec_of)
            .ok_or_else(|| VideoError::Config(format!("not H.264 or H.265: {caps}")))?;
        let pipeline = gst::Pipeline::with_name("osprey-record-tap");
        let appsrc = gst_app::AppSrc::builder()
            .caps(caps)
            .format(gst::Format::Time)
            .block(true)
            .max_bytes(4 << 20)
            .build();
        pipeline
            .add(&appsrc)
            .map_err(|e| VideoError::Gstreamer(format!("cannot build the recorder: {e}")))?;
        let (parser, appsink) = branch::add_parser(&pipeline, codec, u32::MAX)?;
        appsrc
            .link(&parser)
            .map_err(|e| VideoError::Gstreamer(format!("cannot link the recorder: {e}")))?;
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| VideoError::Gstreamer(format!("cannot start the recorder: {e}")))?;
        Ok(Parser {
            connection,
            caps: caps.clone(),
            pipeline,
            appsrc,
            appsink,
            times: VecDeque::new(),
            track: None,
        })
    }

    /// One parsed sample as a track and a frame with the producer times
    /// noted when it went in.
    fn unit(
        &mut self,
        sample: &gst::Sample,
    ) -> Result<(osprey_ingest::video::Track, osprey_ingest::video::Frame), String> {
        let caps = sample.caps().ok_or("a sample without caps")?;
        if self.track.as_ref().is_none_or(|(c, _)| c.as_ref() != caps) {
            self.track = Some((caps.to_owned(), branch::track_of(caps)?));
        }
        let buffer = sample.buffer().ok_or("a sample without a buffer")?;
        let pts = buffer.pts();
        let (pts_ns, dts_ns) = loop {
            match self.times.pop_front() {
                Some((at, pts_ns, dts_ns)) if at == pts => break (pts_ns, dts_ns),
                Some(_) => {}
                None => return Err("an access unit the parser made up".into()),
            }
        };
        let frame = branch::frame_of(buffer, pts_ns, dts_ns)?;
        let track = self
            .track
            .as_ref()
            .map(|(_, t)| t.clone())
            .ok_or("no track")?;
        Ok((track, frame))
    }
}
