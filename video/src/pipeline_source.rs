//! Where a source's frames come from: a URI for `uridecodebin` (files,
//! `rtsp://`, `v4l2:///dev/videoN`, anything GStreamer opens), or a live
//! `videotestsrc` for `test:PATTERN[?width=W&height=H&fps=F]`; and the
//! `rtspsrc` settings a [`SourceSpec`] asks for.

use gst::glib;
use gst::prelude::*;
use gstreamer as gst;

use crate::error::VideoError;
use crate::init::make;
use crate::input::to_uri;
use crate::source::{SourceSpec, Transport};

/// How long `rtspsrc` waits for a TCP connection or an answer, and for UDP
/// packets, before it gives up (its own defaults are 20 s and 5 s).
const RTSP_TIMEOUT_US: u64 = 5_000_000;

/// What the pipeline is built from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Origin {
    /// A URI for `uridecodebin`.
    Uri(String),
    /// A live test pattern.
    Test(TestPattern),
}

impl Origin {
    /// The origin of `spec`.
    ///
    /// # Errors
    /// [`VideoError::Open`] for a missing file or a malformed `test:` source.
    pub(crate) fn of(spec: &SourceSpec) -> Result<Origin, VideoError> {
        match spec.uri.strip_prefix("test:") {
            Some(rest) => TestPattern::parse(rest)
                .map(Origin::Test)
                .map_err(|reason| VideoError::Open {
                    input: spec.redacted(),
                    reason,
                }),
            None => to_uri(&spec.uri).map(Origin::Uri).map_err(|e| match e {
                VideoError::Open { reason, .. } => VideoError::Open {
                    input: spec.redacted(),
                    reason,
                },
                other => other,
            }),
        }
    }

    /// Whether the source is live by its kind (a camera, a network stream,
    /// a test pattern), before any element says so.
    pub(crate) fn is_live_kind(&self) -> bool {
        match self {
            Origin::Test(_) => true,
            Origin::Uri(uri) => {
                let scheme = uri.split_once("://").map_or("", |(s, _)| s);
                [
                    "rtsp", "rtsps", "rtspt", "rtspu", "v4l2", "udp", "rtp", "srt", "srtp",
                ]
                .iter()
                .any(|s| scheme.eq_ignore_ascii_case(s))
            }
        }
    }
}

/// A `test:` source: a live `videotestsrc` pattern.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TestPattern {
    pattern: String,
    width: u32,
    height: u32,
    fps: u32,
}

impl TestPattern {
    /// Parses `PATTERN[?width=W&height=H&fps=F]` (defaults 1280x720 at 25).
    fn parse(text: &str) -> Result<TestPattern, String> {
        let (pattern, query) = text.split_once('?').unwrap_or((text, ""));
        let pattern = pattern.trim_start_matches("//");
        if pattern.is_empty() {
            return Err("a test source needs a pattern, e.g. test:ball".to_owned());
        }
        let mut parsed = TestPattern {
            pattern: pattern.to_owned(),
            width: 1280,
            height: 720,
            fps: 25,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let number = value
                .parse::<u32>()
                .ok()
                .filter(|v| (1..=16384).contains(v))
                .ok_or_else(|| format!("{key}={value:?} is not a whole number from 1 to 16384"))?;
            match key {
                "width" => parsed.width = number,
                "height" => parsed.height = number,
                "fps" => parsed.fps = number,
                _ => {
                    return Err(format!(
                        "unknown test source option {key:?} (width, height, fps)"
                    ));
                }
            }
        }
        Ok(parsed)
    }

    /// Frames per second.
    pub(crate) fn fps(&self) -> u32 {
        self.fps
    }

    /// A bin holding `videotestsrc is-live=true ! capsfilter`, with a ghost
    /// `src` pad of raw video.
    ///
    /// # Errors
    /// [`VideoError::Open`] for a pattern `videotestsrc` does not know.
    pub(crate) fn build(&self, input: &str) -> Result<gst::Element, VideoError> {
        let src = make("videotestsrc", |b| b.property("is-live", true))?;
        let known = src
            .find_property("pattern")
            .and_then(|p| glib::EnumClass::with_type(p.value_type()))
            .and_then(|class| class.to_value_by_nick(&self.pattern));
        let Some(pattern) = known else {
            return Err(VideoError::Open {
                input: input.to_owned(),
                reason: format!("videotestsrc has no pattern {:?}", self.pattern),
            });
        };
        src.set_property("pattern", pattern);
        let caps = gst::Caps::builder("video/x-raw")
            .field("width", i32::try_from(self.width).unwrap_or(i32::MAX))
            .field("height", i32::try_from(self.height).unwrap_or(i32::MAX))
            .field(
                "framerate",
                gst::Fraction::new(i32::try_from(self.fps).unwrap_or(i32::MAX), 1),
            )
            .build();
        let filter = make("capsfilter", |b| b.property("caps", &caps))?;
        let bin = gst::Bin::with_name("osprey-test-source");
        let assemble = |e: glib::BoolError| {
            VideoError::Gstreamer(format!("cannot build the test source: {e}"))
        };
        bin.add_many([&src, &filter]).map_err(assemble)?;
        src.link(&filter).map_err(assemble)?;
        let pad = filter
            .static_pad("src")
            .ok_or_else(|| VideoError::Gstreamer("capsfilter has no src pad".into()))?;
        let ghost = gst::GhostPad::builder_with_target(&pad)
            .map_err(assemble)?
            .name("src")
            .build();
        bin.add_pad(&ghost).map_err(assemble)?;
        Ok(bin.upcast())
    }
}

/// Applies `spec`'s RTSP settings to `source` when it is an `rtspsrc` (the
/// body of uridecodebin's `source-setup` handler): transport, jitter-buffer
/// latency (and never more than it held: `drop-on-latency`), credentials
/// (which win over the URI's), short timeouts, the
/// sender's NTP time on every buffer, and the video track only.
pub(crate) fn configure_rtsp(source: &gst::Element, spec: &SourceSpec) {
    if source.factory().is_none_or(|f| f.name() != "rtspsrc") {
        return;
    }
    let set = |name: &str, value: glib::Value| {
        if source.has_property(name) {
            source.set_property_from_value(name, &value);
        }
    };
    let protocols = match spec.rtsp.transport {
        Transport::Auto => None,
        Transport::Tcp => Some("tcp"),
        Transport::Udp => Some("udp"),
    };
    if let Some(nick) = protocols
        && let Some(value) = source
            .find_property("protocols")
            .and_then(|p| glib::FlagsClass::with_type(p.value_type()))
            .and_then(|class| class.to_value_by_nick(nick))
    {
        set("protocols", value);
    }
    let latency_ms = u32::try_from(spec.rtsp.latency.as_millis()).unwrap_or(u32::MAX);
    set("latency", latency_ms.to_value());
    // Memory stays bounded when the decoder falls behind (an overloaded
    // host): the jitter buffer never holds more than its latency, dropping
    // the oldest packets (which the decoder then reports as damage) instead
    // of queueing without end.
    set("drop-on-latency", true.to_value());
    set("add-reference-timestamp-meta", true.to_value());
    // Frame times from the sender's RTP timestamps alone: the receiver's
    // clock-slaving adds arrival jitter (tens of ms on a loaded host) that
    // reads as lost frames.
    if let Some(value) = source
        .find_property("buffer-mode")
        .and_then(|p| glib::EnumClass::with_type(p.value_type()))
        .and_then(|class| class.to_value_by_nick("none"))
    {
        set("buffer-mode", value);
    }
    set("tcp-timeout", RTSP_TIMEOUT_US.to_value());
    set("timeout", RTSP_TIMEOUT_US.to_value());
    // Only the video track is set up: an audio track would cost bandwidth
    // for nothing, and rtpbin's lip-sync would shift video timestamps by
    // tens of milliseconds when the first sender reports arrive, which
    // reads as lost frames.
    if glib::subclass::signal::SignalId::lookup("select-stream", source.type_()).is_some() {
        source.connect("select-stream", false, |values| {
            let caps = values.get(2).and_then(|v| v.get::<gst::Caps>().ok());
            let video = caps
                .as_ref()
                .and_then(|c| c.structure(0))
                .and_then(|s| s.get::<&str>("media").ok())
                .is_none_or(|media| media == "video");
            Some(video.to_value())
        });
    }
    if let Some(credentials) = &spec.credentials {
        set("user-id", credentials.user.to_value());
        set("user-pw", credentials.password.to_value());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_sources_parse_with_defaults_and_options() {
        assert_eq!(
            TestPattern::parse("ball"),
            Ok(TestPattern {
                pattern: "ball".into(),
                width: 1280,
                height: 720,
                fps: 25
            })
        );
        let p = TestPattern::parse("smpte?width=320&height=240&fps=10").unwrap();
        assert_eq!(
            (p.pattern.as_str(), p.width, p.height, p.fps),
            ("smpte", 320, 240, 10)
        );
        for bad in ["", "?width=3", "ball?width=0", "ball?fps=x", "ball?depth=8"] {
            assert!(TestPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn live_kinds_are_told_by_scheme() {
        assert!(Origin::Uri("rtsp://cam/1".into()).is_live_kind());
        assert!(Origin::Uri("v4l2:///dev/video0".into()).is_live_kind());
        assert!(!Origin::Uri("file:///tmp/a.mp4".into()).is_live_kind());
        assert!(
            Origin::of(&SourceSpec::new("test:ball"))
                .unwrap()
                .is_live_kind()
        );
    }

    #[test]
    fn unknown_patterns_are_open_errors() {
        crate::init().unwrap();
        let Ok(Origin::Test(p)) = Origin::of(&SourceSpec::new("test:nope")) else {
            panic!("test: parses");
        };
        let err = p
            .build("test:nope")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("videotestsrc has no pattern \"nope\""),
            "{err}"
        );
    }
}
