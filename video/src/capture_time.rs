//! Wall-clock capture time of each frame ([`crate::FrameMeta::ts`], Unix
//! seconds).
//!
//! In order of preference:
//! 1. the sender's clock: a `GstReferenceTimestampMeta` with caps
//!    `timestamp/x-ntp` (NTP epoch 1900; GStreamer 1.22's jitter buffer adds
//!    it only for RFC 7273 senders), else the latest RTCP sender report: the
//!    jitter buffer's `handle-sync` signal gives the report's NTP time and
//!    RTP time, and where that RTP time lies in buffer time, so every
//!    frame's pts maps to the sender's NTP clock;
//! 2. for other live sources, the capture time on this host: the buffer's
//!    running time mapped through the pipeline clock to the system's wall
//!    clock;
//! 3. for files, a given start time plus the pts, else (when asked) the
//!    container's creation time (`GST_TAG_DATE_TIME`) plus the pts, else
//!    none.
//!
//! Times never go backwards within one decoder: a later frame stamped
//! earlier than the one before takes the earlier frame's time.

use std::sync::{Arc, Mutex};

use gst::prelude::*;
use gstreamer as gst;

/// Seconds from the NTP epoch (1900-01-01) to the Unix epoch.
const NTP_UNIX_OFFSET: f64 = 2_208_988_800.0;

/// Where a frame's wall-clock time came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSource {
    /// The sender's NTP clock (RTCP sender reports or reference timestamp
    /// meta).
    Sender,
    /// The arrival on this host (a live source without sender time).
    Host,
    /// A file's start time (given, or the container's creation time).
    File,
}

/// The latest sender report of an RTP stream: the buffer time (ns) its RTP
/// time corresponds to, and its NTP time in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SenderReport {
    pts_ns: f64,
    unix: f64,
}

/// The latest sender report, shared with the jitter buffer's signal handler.
pub(crate) type SenderClock = Arc<Mutex<Option<SenderReport>>>;

/// Follows the RTCP sender reports of every jitter buffer `rtspsrc` makes,
/// into `clock`.
pub(crate) fn follow_sender_reports(rtspsrc: &gst::Element, clock: &SenderClock) {
    if rtspsrc.factory().is_none_or(|f| f.name() != "rtspsrc") {
        return;
    }
    let clock = Arc::clone(clock);
    rtspsrc.connect("new-manager", false, move |values| {
        let manager = values.get(1).and_then(|v| v.get::<gst::Element>().ok())?;
        let clock = Arc::clone(&clock);
        manager.connect("new-jitterbuffer", false, move |values| {
            let jitterbuffer = values.get(1).and_then(|v| v.get::<gst::Element>().ok())?;
            let clock = Arc::clone(&clock);
            jitterbuffer.connect("handle-sync", false, move |values| {
                let sync = values.get(1).and_then(|v| v.get::<gst::Structure>().ok())?;
                if let Some(report) = sender_report(&sync)
                    && let Ok(mut slot) = clock.lock()
                {
                    *slot = Some(report);
                }
                None
            });
            None
        });
        None
    });
}

/// Reads an `application/x-rtp-sync` structure of `handle-sync`.
fn sender_report(sync: &gst::StructureRef) -> Option<SenderReport> {
    let base_rtptime = sync.get::<u64>("base-rtptime").ok()?;
    let base_time = sync.get::<u64>("base-time").ok()?;
    let clock_rate = sync.get::<u32>("clock-rate").ok().filter(|r| *r > 0)?;
    let sr_rtptime = sync.get::<u64>("sr-ext-rtptime").ok()?;
    let buffer = sync.get::<gst::Buffer>("sr-buffer").ok()?;
    let map = buffer.map_readable().ok()?;
    let ntp = sr_ntp(map.as_slice())?;
    let delta = sr_rtptime as f64 - base_rtptime as f64;
    Some(SenderReport {
        pts_ns: base_time as f64 + delta * 1e9 / f64::from(clock_rate),
        unix: ntp,
    })
}

/// The NTP time (Unix seconds) of an RTCP packet that starts with a sender
/// report.
fn sr_ntp(rtcp: &[u8]) -> Option<f64> {
    const SENDER_REPORT: u8 = 200;
    let version = rtcp.first()? >> 6;
    if version != 2 || *rtcp.get(1)? != SENDER_REPORT {
        return None;
    }
    let word = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(rtcp.get(at..at + 4)?.try_into().ok()?))
    };
    let (seconds, fraction) = (word(8)?, word(12)?);
    (seconds != 0)
        .then(|| f64::from(seconds) + f64::from(fraction) / 4_294_967_296.0 - NTP_UNIX_OFFSET)
}

/// Stamps frames of one decoder.
#[derive(Debug, Default)]
pub(crate) struct Stamper {
    /// The source is live.
    live: bool,
    /// For files: the wall-clock time of pts 0 (given, or the container's
    /// creation time).
    file_start: Option<f64>,
    /// The container's creation time may not set `file_start`: a start
    /// time was given, or the container's was not asked for.
    fixed: bool,
    /// The last time handed out.
    last: Option<f64>,
    /// The sender's clock, from RTCP sender reports.
    sender: SenderClock,
    /// Where the last frame's time came from.
    source: Option<TimeSource>,
}

impl Stamper {
    /// A stamper for a live source, or for a file starting at `start_time`
    /// (else at the container's creation time when `container_time`).
    pub(crate) fn new(live: bool, start_time: Option<f64>, container_time: bool) -> Self {
        Stamper {
            live,
            file_start: start_time,
            fixed: start_time.is_some() || !container_time,
            last: None,
            sender: SenderClock::default(),
            source: None,
        }
    }

    /// A stamper of the same source for another reader of its buffers
    /// (the recording tap): the same sender clock, no file start.
    pub(crate) fn follower(&self) -> Stamper {
        Stamper {
            live: self.live,
            file_start: None,
            fixed: true,
            last: None,
            sender: Arc::clone(&self.sender),
            source: None,
        }
    }

    /// Where sender reports are to be noted (see [`follow_sender_reports`]).
    pub(crate) fn sender_clock(&self) -> SenderClock {
        Arc::clone(&self.sender)
    }

    /// Where the last frame's time came from.
    pub(crate) fn source(&self) -> Option<TimeSource> {
        self.source
    }

    /// Marks the source live (known once the pipeline runs).
    pub(crate) fn set_live(&mut self, live: bool) {
        self.live = live;
    }

    /// Notes the container's creation time (Unix seconds), used for a file
    /// when no start time was given and it was asked for.
    pub(crate) fn creation_time(&mut self, unix: f64) {
        if !self.fixed && !self.live && unix.is_finite() {
            self.file_start = Some(unix);
        }
    }

    /// Whether the container's creation time is still wanted.
    pub(crate) fn wants_creation_time(&self) -> bool {
        !self.fixed && !self.live && self.file_start.is_none()
    }

    /// The capture time of `buffer` with stream time `pts` (seconds): see
    /// the module docs. `pipeline` maps running time to the wall clock.
    pub(crate) fn stamp(
        &mut self,
        buffer: &gst::BufferRef,
        segment: Option<&gst::Segment>,
        pts: Option<f64>,
        pipeline: &gst::Pipeline,
    ) -> Option<f64> {
        let (ts, source) = match self.live_time(buffer, segment, pipeline) {
            Some((ts, source)) => (Some(ts), source),
            None => (
                self.file_start.zip(pts).map(|(start, pts)| start + pts),
                TimeSource::File,
            ),
        };
        let ts = self.monotonic(ts);
        self.source = ts.map(|_| source);
        ts
    }

    /// The wall-clock time of `buffer`'s pts from the sender's clock, else
    /// (for a live source) its capture time on this host; `None` for a file
    /// without sender time. Not kept monotonic: recording keeps B-frames'
    /// presentation order.
    pub(crate) fn live_time(
        &self,
        buffer: &gst::BufferRef,
        segment: Option<&gst::Segment>,
        pipeline: &gst::Pipeline,
    ) -> Option<(f64, TimeSource)> {
        let report = self.sender.lock().ok().and_then(|r| *r);
        let from_report = report
            .zip(buffer.pts())
            .map(|(report, pts)| report.unix + (pts.nseconds() as f64 - report.pts_ns) / 1e9);
        match ntp_time(buffer).or(from_report) {
            Some(ts) => Some((ts, TimeSource::Sender)),
            None if self.live => {
                host_capture_time(buffer, segment, pipeline).map(|ts| (ts, TimeSource::Host))
            }
            None => None,
        }
    }

    /// `ts`, or the last time handed out when `ts` is earlier.
    fn monotonic(&mut self, ts: Option<f64>) -> Option<f64> {
        let ts = ts.filter(|t| t.is_finite())?;
        let ts = self.last.map_or(ts, |last| ts.max(last));
        self.last = Some(ts);
        Some(ts)
    }
}

/// The sender's NTP time of `buffer`, in Unix seconds.
pub(crate) fn ntp_time(buffer: &gst::BufferRef) -> Option<f64> {
    buffer
        .iter_meta::<gst::ReferenceTimestampMeta>()
        .find(|meta| {
            meta.reference()
                .structure(0)
                .is_some_and(|s| s.name() == "timestamp/x-ntp")
        })
        .map(|meta| meta.timestamp().seconds_f64() - NTP_UNIX_OFFSET)
}

/// When `buffer` was captured on this host: now on the wall clock, less how
/// long ago (on the pipeline clock) its running time was.
fn host_capture_time(
    buffer: &gst::BufferRef,
    segment: Option<&gst::Segment>,
    pipeline: &gst::Pipeline,
) -> Option<f64> {
    let pts = buffer.pts()?;
    let running = segment?
        .downcast_ref::<gst::ClockTime>()?
        .to_running_time(pts)?;
    let clock = pipeline.clock()?;
    let base = pipeline.base_time()?;
    let clock_now = clock.time();
    let wall_now = crate::wall_clock::now();
    let captured_at = base + running;
    let age = clock_now.nseconds() as f64 - captured_at.nseconds() as f64;
    Some(wall_now - age / 1e9)
}

/// A `GST_TAG_DATE_TIME` value in Unix seconds, when it has a full date and
/// time.
pub(crate) fn date_time_unix(value: &gst::DateTime) -> Option<f64> {
    if !value.has_second() {
        return None;
    }
    let g = value.to_g_date_time().ok()?;
    Some(g.to_unix() as f64 + f64::from(g.microsecond()) / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_never_go_backwards() {
        let mut s = Stamper::new(true, None, false);
        assert_eq!(s.monotonic(Some(10.0)), Some(10.0));
        assert_eq!(s.monotonic(Some(9.5)), Some(10.0));
        assert_eq!(s.monotonic(None), None);
        assert_eq!(s.monotonic(Some(f64::NAN)), None);
        assert_eq!(s.monotonic(Some(10.5)), Some(10.5));
    }

    #[test]
    fn ntp_meta_becomes_unix_seconds() {
        crate::init().unwrap();
        let mut buffer = gst::Buffer::new();
        let unix = 1_796_579_486.25;
        let caps = gst::Caps::new_empty_simple("timestamp/x-ntp");
        gst::ReferenceTimestampMeta::add(
            buffer.get_mut().unwrap(),
            &caps,
            gst::ClockTime::from_nseconds(((unix + NTP_UNIX_OFFSET) * 1e9) as u64),
            gst::ClockTime::NONE,
        );
        let got = ntp_time(&buffer).unwrap();
        assert!((got - unix).abs() < 1e-6, "{got}");
        // Another reference clock is not the sender's NTP time.
        let mut other = gst::Buffer::new();
        gst::ReferenceTimestampMeta::add(
            other.get_mut().unwrap(),
            &gst::Caps::new_empty_simple("timestamp/x-unix"),
            gst::ClockTime::from_seconds(5),
            gst::ClockTime::NONE,
        );
        assert_eq!(ntp_time(&other), None);
    }

    #[test]
    fn sender_reports_give_ntp_time() {
        // V=2, PT=200 (SR), length, SSRC, NTP 2026-12-06T17:51:26.5Z, RTP.
        let seconds = (1_796_579_486.0 + NTP_UNIX_OFFSET) as u32;
        let mut sr = vec![0x80, 200, 0, 6, 1, 2, 3, 4];
        sr.extend(seconds.to_be_bytes());
        sr.extend(0x8000_0000_u32.to_be_bytes());
        sr.extend(90_000_u32.to_be_bytes());
        assert_eq!(sr_ntp(&sr), Some(1_796_579_486.5));
        assert_eq!(sr_ntp(&sr[..12]), None, "cut short");
        let mut rr = sr.clone();
        rr[1] = 201;
        assert_eq!(sr_ntp(&rr), None, "a receiver report");

        crate::init().unwrap();
        let sync = gst::Structure::builder("application/x-rtp-sync")
            .field("base-rtptime", 1_000_u64)
            .field("base-time", 2_000_000_000_u64)
            .field("clock-rate", 90_000_u32)
            .field("sr-ext-rtptime", 91_000_u64)
            .field("sr-buffer", gst::Buffer::from_slice(sr))
            .build();
        let report = sender_report(&sync).unwrap();
        // One second of RTP time after the base: buffer time 3 s.
        assert_eq!(report.pts_ns, 3_000_000_000.0);
        assert_eq!(report.unix, 1_796_579_486.5);
    }

    #[test]
    fn files_use_the_given_start_over_the_container() {
        let mut given = Stamper::new(false, Some(100.0), true);
        given.creation_time(5.0);
        assert_eq!(given.file_start, Some(100.0));
        let mut tagged = Stamper::new(false, None, true);
        tagged.creation_time(5.0);
        assert_eq!(tagged.file_start, Some(5.0));
        let mut unasked = Stamper::new(false, None, false);
        unasked.creation_time(5.0);
        assert_eq!(unasked.file_start, None);
        let mut live = Stamper::new(true, None, true);
        live.creation_time(5.0);
        assert_eq!(live.file_start, None);
    }

    #[test]
    fn date_tags_convert_to_unix_seconds() {
        crate::init().unwrap();
        let at = gst::DateTime::new(0.0, 2026, 12, 6, 17, 51, 26.5).unwrap();
        assert_eq!(date_time_unix(&at), Some(1_796_579_486.5));
        let day = gst::DateTime::from_ymd(2026, 12, 6).unwrap();
        assert_eq!(date_time_unix(&day), None);
    }
}
