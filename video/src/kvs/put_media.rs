//! PutMedia (`POST /putMedia`): a producer's Matroska, streamed in a
//! chunked body for as long as it films, read as it comes ([`MkvReader`]),
//! cut into fragments where a cluster starts on a key frame (as KVS makes
//! each of a producer's clusters a fragment; at any key frame past
//! [`MAX_FRAGMENT`] too), each appended to the stream; the answer streams
//! back one JSON acknowledgement a line per fragment: `BUFFERING` when it
//! starts, `RECEIVED` when it is whole, `PERSISTED` (with its number) once
//! it is durable, or `ERROR` with KVS' error id, after which the
//! connection ends.
//!
//! Headers: `x-amzn-stream-name` or `x-amzn-stream-arn`;
//! `x-amzn-fragment-timecode-type` `RELATIVE` (the default: timecodes count
//! from `x-amzn-producer-start-timestamp`, seconds since the epoch, default
//! now) or `ABSOLUTE` (timecodes are Unix time). The first video track is
//! kept (H.264 or H.265 with 4-byte NAL lengths); other tracks are skipped.
//! Frames are taken in the order they come, decode time equal to
//! presentation time; a frame's duration is the gap to the next one (the
//! track's DefaultDuration, or the one before, for the last).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse as _, Response};
use bytes::Bytes;
use http_body_util::BodyExt as _;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use osprey_ingest::video::{Codec, FragmentIn, Frame, Track, VideoError};
use serde_json::json;
use tokio::sync::mpsc;

use super::error::KvsError;
use super::mkv::reader::{Block, Event, MkvReader, TrackEntry};
use super::mkv::{CODEC_AVC, CODEC_HEVC};
use super::request::{Payload, decimal_seconds_ns, header, stream_of};
use super::{PUT_MEDIA_IDLE, Shared, blocking, channel_body};

/// The longest fragment: past it, the next key frame starts another.
pub(crate) const MAX_FRAGMENT: Duration = Duration::from_secs(10);

/// The most media a fragment may hold (KVS: 50 MB; here less, as each
/// producer's fragment in progress is held in memory).
pub(crate) const MAX_FRAGMENT_BYTES: usize = 32 << 20;

/// Acknowledgements waiting for the producer to read them: past these, the
/// upload waits.
const ACKS: usize = 16;

/// The duration of a frame when nothing tells it.
const FALLBACK_FRAME: u64 = 33_333_333;

/// KVS' PutMedia error ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PutError {
    /// 4000: the producer's stream could not be read (went silent).
    StreamRead,
    /// 4001: a fragment past [`MAX_FRAGMENT_BYTES`].
    FragmentSize,
    /// 4004: a cluster timecode before the one before.
    TimecodeBackwards,
    /// 4006: malformed or unsupported Matroska.
    InvalidMkv,
    /// 4008: the stream went away.
    StreamNotActive,
    /// 5000: the store failed.
    Internal,
}

impl PutError {
    fn id(self) -> (u32, &'static str) {
        match self {
            PutError::StreamRead => (4000, "STREAM_READ_ERROR"),
            PutError::FragmentSize => (4001, "MAX_FRAGMENT_SIZE_REACHED"),
            PutError::TimecodeBackwards => (4004, "FRAGMENT_TIMECODE_LESSER_THAN_PREVIOUS"),
            PutError::InvalidMkv => (4006, "INVALID_MKV_DATA"),
            PutError::StreamNotActive => (4008, "STREAM_NOT_ACTIVE"),
            PutError::Internal => (5000, "INTERNAL_ERROR"),
        }
    }
}

/// What the cutter made of an event.
#[derive(Debug, PartialEq)]
pub(crate) enum Cut {
    /// A fragment starts at this producer timecode (ms, as sent).
    Started(u64),
    /// A fragment is whole.
    Closed(FragmentIn, u64),
}

/// The video track kept.
#[derive(Debug, Clone)]
struct Kept {
    number: u64,
    track: Track,
    default_duration: Option<u64>,
}

/// Cuts a producer's frames into fragments at clusters that start on a key
/// frame.
#[derive(Debug)]
pub(crate) struct Cutter {
    /// Added to every timecode (the producer's start, for RELATIVE).
    offset_ns: u64,
    kept: Option<Kept>,
    frames: Vec<Frame>,
    bytes: usize,
    /// The last frame, its duration not known yet.
    pending: Option<Frame>,
    last_duration: u64,
    cluster_first: bool,
    cluster_ns: Option<u64>,
    fragment_timecode: u64,
}

impl Cutter {
    /// A cutter adding `offset_ns` to the stream's timecodes.
    pub(crate) fn new(offset_ns: u64) -> Cutter {
        Cutter {
            offset_ns,
            kept: None,
            frames: Vec::new(),
            bytes: 0,
            pending: None,
            last_duration: FALLBACK_FRAME,
            cluster_first: false,
            cluster_ns: None,
            fragment_timecode: 0,
        }
    }

    /// Takes one event of the reader.
    pub(crate) fn event(&mut self, event: Event, out: &mut Vec<Cut>) -> Result<(), PutError> {
        match event {
            Event::Tracks(entries) => {
                let kept = keep(&entries)?;
                if self.kept.as_ref().is_some_and(|k| k.track != kept.track) {
                    out.extend(self.finish());
                }
                self.kept = Some(kept);
            }
            Event::Cluster(ns) => {
                if self.cluster_ns.is_some_and(|before| ns < before) {
                    return Err(PutError::TimecodeBackwards);
                }
                self.cluster_ns = Some(ns);
                self.cluster_first = true;
            }
            Event::Block(block) => self.block(block, out)?,
        }
        Ok(())
    }

    fn block(&mut self, block: Block, out: &mut Vec<Cut>) -> Result<(), PutError> {
        let Some(kept) = &self.kept else {
            return Err(PutError::InvalidMkv);
        };
        if block.track != kept.number {
            return Ok(());
        }
        let default = kept.default_duration;
        let time = block.time_ns.saturating_add(self.offset_ns);
        self.settle(Some(time), default);
        let first = std::mem::take(&mut self.cluster_first);
        let long = self.frames.first().is_some_and(|f| {
            time.saturating_sub(f.pts_ns)
                >= u64::try_from(MAX_FRAGMENT.as_nanos()).unwrap_or(u64::MAX)
        });
        if block.key && !self.frames.is_empty() && (first || long) {
            out.extend(self.close());
        }
        if self.frames.is_empty() {
            if !block.key {
                return Ok(());
            }
            self.fragment_timecode = self.cluster_ns.unwrap_or(0) / 1_000_000;
            out.push(Cut::Started(self.fragment_timecode));
        }
        self.bytes += block.data.len();
        if self.bytes > MAX_FRAGMENT_BYTES {
            return Err(PutError::FragmentSize);
        }
        self.pending = Some(Frame {
            pts_ns: time,
            dts_ns: time,
            duration_ns: 0,
            key: block.key,
            data: block.data,
        });
        Ok(())
    }

    /// Gives the pending frame its duration (up to `next`, else the
    /// track's default or the last one) and adds it to the fragment.
    fn settle(&mut self, next: Option<u64>, default: Option<u64>) {
        let Some(mut frame) = self.pending.take() else {
            return;
        };
        let gap = next.map_or(0, |next| next.saturating_sub(frame.pts_ns));
        frame.duration_ns = if gap > 0 {
            gap
        } else {
            default.unwrap_or(self.last_duration)
        };
        self.last_duration = frame.duration_ns;
        self.frames.push(frame);
    }

    /// The fragment so far, if any.
    fn close(&mut self) -> Option<Cut> {
        self.bytes = 0;
        let frames = std::mem::take(&mut self.frames);
        let kept = self.kept.as_ref()?;
        (!frames.is_empty()).then(|| {
            Cut::Closed(
                FragmentIn {
                    track: kept.track.clone(),
                    frames,
                },
                self.fragment_timecode,
            )
        })
    }

    /// Ends the stream: the fragment in progress, if any.
    pub(crate) fn finish(&mut self) -> Option<Cut> {
        let default = self.kept.as_ref().and_then(|k| k.default_duration);
        self.settle(None, default);
        self.close()
    }
}

/// The video track to keep of `entries`.
fn keep(entries: &[TrackEntry]) -> Result<Kept, PutError> {
    let entry = entries
        .iter()
        .find(|e| e.kind == 1)
        .ok_or(PutError::InvalidMkv)?;
    let (codec, length_byte) = match entry.codec_id.as_str() {
        CODEC_AVC => (Codec::H264, 4),
        CODEC_HEVC => (Codec::H265, 21),
        _ => return Err(PutError::InvalidMkv),
    };
    // NAL lengths of 4 bytes only: as the store keeps frames.
    match entry.codec_private.get(length_byte) {
        Some(b) if b & 3 == 3 => {}
        _ => return Err(PutError::InvalidMkv),
    }
    Ok(Kept {
        number: entry.number,
        track: Track {
            codec,
            codec_data: entry.codec_private.clone(),
            width: entry.width,
            height: entry.height,
        },
        default_duration: entry.default_duration_ns.filter(|&d| d > 0),
    })
}

/// Now, Unix ns.
pub(crate) fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Serves PutMedia: checks the call, then streams the acknowledgements
/// while a task reads the body.
pub(crate) async fn put_media(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let started = async {
        shared.call(&parts, &Payload::Streamed)?;
        let name = header(&parts, "x-amzn-stream-name").map(str::to_owned);
        let arn = header(&parts, "x-amzn-stream-arn").map(str::to_owned);
        let store = Arc::clone(&shared.store);
        let info = blocking(move || stream_of(&store, name.as_deref(), arn.as_deref())).await?;
        let offset_ns = match header(&parts, "x-amzn-fragment-timecode-type") {
            None | Some("RELATIVE") => match header(&parts, "x-amzn-producer-start-timestamp") {
                None => now_ns(),
                Some(text) => decimal_seconds_ns(text).ok_or_else(|| {
                    KvsError::invalid("x-amzn-producer-start-timestamp must be seconds")
                })?,
            },
            Some("ABSOLUTE") => 0,
            Some(other) => {
                return Err(KvsError::invalid(format!(
                    "x-amzn-fragment-timecode-type {other:?}: RELATIVE or ABSOLUTE"
                )));
            }
        };
        Ok::<_, KvsError>((info.name, offset_ns))
    };
    let (name, offset_ns) = match started.await {
        Ok(started) => started,
        Err(e) => return e.into_response(),
    };
    let (acks, answer) = mpsc::channel(ACKS);
    tokio::spawn(ingest(shared, name, body, offset_ns, acks));
    let mut response = Response::new(channel_body(answer));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// One acknowledgement line.
fn ack(kind: &str, timecode: u64, number: Option<u64>, error: Option<PutError>) -> Bytes {
    let mut event = json!({ "EventType": kind, "FragmentTimecode": timecode });
    if let Some(number) = number {
        event["FragmentNumber"] = number.to_string().into();
    }
    if let Some(error) = error {
        let (id, code) = error.id();
        event["ErrorId"] = id.into();
        event["ErrorCode"] = code.into();
    }
    let mut line = event.to_string().into_bytes();
    line.push(b'\n');
    Bytes::from(line)
}

/// Reads the producer's body until it ends, breaks, goes silent or is
/// refused, appending each fragment and acknowledging it.
async fn ingest(
    shared: Arc<Shared>,
    name: String,
    mut body: Body,
    offset_ns: u64,
    acks: mpsc::Sender<Bytes>,
) {
    let mut reader = MkvReader::default();
    let mut cutter = Cutter::new(offset_ns);
    let mut cuts = Vec::new();
    let mut timecode = 0;
    let outcome: Result<(), PutError> = async {
        loop {
            let frame = match tokio::time::timeout(PUT_MEDIA_IDLE, body.frame()).await {
                Err(_) => return Err(PutError::StreamRead),
                Ok(None) => break,
                // The connection broke: nobody to answer; the fragment in
                // progress was never whole.
                Ok(Some(Err(_))) => return Ok(()),
                Ok(Some(Ok(frame))) => frame,
            };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            reader.feed(&data);
            loop {
                match reader.next() {
                    Ok(Some(event)) => cutter.event(event, &mut cuts)?,
                    Ok(None) => break,
                    Err(e) => {
                        tracing::debug!(error = %e, stream = %name, "PutMedia refused.");
                        return Err(PutError::InvalidMkv);
                    }
                }
                for cut in cuts.drain(..) {
                    timecode = store(&shared, &name, cut, &acks).await?;
                }
            }
        }
        if let Some(cut) = cutter.finish() {
            store(&shared, &name, cut, &acks).await?;
        }
        Ok(())
    }
    .await;
    if let Err(error) = outcome {
        let _ = acks.send(ack("ERROR", timecode, None, Some(error))).await;
    }
}

/// Acknowledges a cut, appending a whole fragment; the fragment's timecode.
async fn store(
    shared: &Shared,
    name: &str,
    cut: Cut,
    acks: &mpsc::Sender<Bytes>,
) -> Result<u64, PutError> {
    match cut {
        Cut::Started(timecode) => {
            let _ = acks.send(ack("BUFFERING", timecode, None, None)).await;
            Ok(timecode)
        }
        Cut::Closed(fragment, timecode) => {
            let _ = acks.send(ack("RECEIVED", timecode, None, None)).await;
            let store = Arc::clone(&shared.store);
            let name = name.to_owned();
            let appended = tokio::task::spawn_blocking(move || store.append(&name, fragment)).await;
            match appended {
                Ok(Ok(meta)) => {
                    let _ = acks
                        .send(ack("PERSISTED", timecode, Some(meta.number), None))
                        .await;
                    Ok(timecode)
                }
                Ok(Err(VideoError::NotFound(_))) => Err(PutError::StreamNotActive),
                Ok(Err(VideoError::Invalid(why))) => {
                    tracing::debug!(why = %why, "PutMedia fragment refused.");
                    Err(PutError::InvalidMkv)
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "PutMedia append failed.");
                    Err(PutError::Internal)
                }
                Err(e) => {
                    tracing::error!(error = %e, "PutMedia append failed.");
                    Err(PutError::Internal)
                }
            }
        }
    }
}
