//! The recording end of a pipeline: `h264parse`/`h265parse` with caps
//! `stream-format=avc|hvc1, alignment=au` into an `appsink`, so each buffer
//! is one access unit of length-prefixed NAL units and the caps'
//! `codec_data` holds the parameter sets; an `x264enc` in front for raw
//! video (test patterns, raw cameras), which has nothing encoded to keep;
//! and the reading of the appsink's samples as [`Track`]s and [`Frame`]s.

use bytes::Bytes;
use gst::prelude::*;
use gstreamer as gst;
use gstreamer_app as gst_app;
use osprey_ingest::video::{Codec, Frame, Track};

use crate::error::VideoError;
use crate::init::make;

/// The codec of encoded video caps, when recording keeps it.
pub(crate) fn codec_of(caps: &gst::StructureRef) -> Option<Codec> {
    match caps.name().as_str() {
        "video/x-h264" => Some(Codec::H264),
        "video/x-h265" => Some(Codec::H265),
        _ => None,
    }
}

/// Adds `parser ! capsfilter ! appsink` for `codec` to `pipeline`, started
/// with it; returns the parser (to link into) and the appsink. The appsink
/// holds at most `max_buffers` access units and then blocks upstream.
pub(crate) fn add_parser(
    pipeline: &gst::Pipeline,
    codec: Codec,
    max_buffers: u32,
) -> Result<(gst::Element, gst_app::AppSink), VideoError> {
    let (parser, media, format) = match codec {
        Codec::H264 => ("h264parse", "video/x-h264", "avc"),
        Codec::H265 => ("h265parse", "video/x-h265", "hvc1"),
    };
    let parser = make(parser, |b| b)?;
    let caps = gst::Caps::builder(media)
        .field("stream-format", format)
        .field("alignment", "au")
        .build();
    let filter = make("capsfilter", |b| b.property("caps", &caps))?;
    let appsink = gst_app::AppSink::builder()
        .sync(false)
        .max_buffers(max_buffers.max(1))
        .drop(false)
        .enable_last_sample(false)
        .build();
    let elements = [&parser, &filter, appsink.upcast_ref()];
    add_started(pipeline, &elements)?;
    Ok((parser, appsink))
}

/// Adds `videoconvert ! x264enc ! <parser branch>` to `pipeline`: raw
/// video encoded at a key frame every `key_int` frames, tuned for low
/// latency. Returns the first element and the appsink.
pub(crate) fn add_encoder(
    pipeline: &gst::Pipeline,
    key_int: u32,
    max_buffers: u32,
) -> Result<(gst::Element, gst_app::AppSink), VideoError> {
    let convert = make("videoconvert", |b| b)?;
    let encoder = make("x264enc", |b| {
        b.property("key-int-max", key_int.max(1))
            .property_from_str("tune", "zerolatency")
            .property_from_str("speed-preset", "veryfast")
    })?;
    add_started(pipeline, &[&convert, &encoder])?;
    let (parser, appsink) = add_parser(pipeline, Codec::H264, max_buffers)?;
    encoder
        .link(&parser)
        .map_err(|e| VideoError::Gstreamer(format!("cannot link x264enc: {e}")))?;
    Ok((convert, appsink))
}

/// Adds `elements` to `pipeline`, links them in a row and brings them to
/// the pipeline's state.
fn add_started(pipeline: &gst::Pipeline, elements: &[&gst::Element]) -> Result<(), VideoError> {
    let assemble = |e: gst::glib::BoolError| {
        VideoError::Gstreamer(format!("cannot build the recording branch: {e}"))
    };
    pipeline
        .add_many(elements.iter().copied())
        .map_err(assemble)?;
    gst::Element::link_many(elements.iter().copied()).map_err(assemble)?;
    for element in elements {
        element.sync_state_with_parent().map_err(|e| {
            VideoError::Gstreamer(format!("cannot start the recording branch: {e}"))
        })?;
    }
    Ok(())
}

/// The [`Track`] that caps of the recording branch describe.
///
/// # Errors
/// Why not, for caps that are not parsed H.264/H.265 with `codec_data`.
pub(crate) fn track_of(caps: &gst::CapsRef) -> Result<Track, String> {
    let s = caps
        .structure(0)
        .ok_or_else(|| format!("empty caps {caps}"))?;
    let codec = codec_of(s).ok_or_else(|| format!("not H.264 or H.265: {caps}"))?;
    let codec_data = s
        .get::<gst::Buffer>("codec_data")
        .map_err(|_| format!("no codec_data in {caps}"))?;
    let codec_data = codec_data
        .map_readable()
        .map_err(|_| "unreadable codec_data".to_owned())?
        .to_vec();
    let size = |field: &str| {
        s.get::<i32>(field)
            .ok()
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| format!("no {field} in {caps}"))
    };
    Ok(Track {
        codec,
        codec_data,
        width: size("width")?,
        height: size("height")?,
    })
}

/// The [`Frame`] of `buffer` (one access unit), stamped `pts_ns`/`dts_ns`.
///
/// # Errors
/// When the buffer cannot be read.
pub(crate) fn frame_of(buffer: &gst::BufferRef, pts_ns: u64, dts_ns: u64) -> Result<Frame, String> {
    let map = buffer
        .map_readable()
        .map_err(|_| "an unreadable buffer".to_owned())?;
    Ok(Frame {
        pts_ns,
        dts_ns,
        duration_ns: buffer.duration().map_or(0, gst::ClockTime::nseconds),
        key: !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT),
        data: Bytes::copy_from_slice(map.as_slice()),
    })
}

/// `buffer`'s pts and dts in stream time (ns, signed: a file with B-frames
/// may decode before 0); dts is the pts when the buffer has none.
pub(crate) fn stream_times(
    buffer: &gst::BufferRef,
    segment: Option<&gst::Segment>,
) -> Option<(i128, i128)> {
    let segment = segment.and_then(|s| s.downcast_ref::<gst::ClockTime>());
    let stream = |t: gst::ClockTime| -> Option<i128> {
        let Some(segment) = segment else {
            return Some(i128::from(t.nseconds()));
        };
        match segment.to_stream_time_full(t)? {
            gst::format::Signed::Positive(t) => Some(i128::from(t.nseconds())),
            gst::format::Signed::Negative(t) => Some(-i128::from(t.nseconds())),
        }
    };
    let pts = stream(buffer.pts()?)?;
    let dts = buffer.dts().and_then(stream).unwrap_or(pts);
    Some((pts, dts))
}

/// `base + offset` as Unix ns, clamped to what a `u64` holds.
pub(crate) fn add_ns(base: i128, offset: i128) -> u64 {
    u64::try_from((base + offset).max(0)).unwrap_or(u64::MAX)
}
