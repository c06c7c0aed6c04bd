//! The Matroska GetMedia streams: an EBML header, a Segment of unknown size
//! with Info and Tracks ([`header`]), then per fragment its clusters and
//! the tags Kinesis Video Streams puts beside them ([`fragment`]).
//! Timecodes are in milliseconds, the clusters' on the producer's clock.

use osprey_ingest::video::{Codec, Fragment, Track};

use super::ebml::{UNKNOWN_SIZE, element, master, uint_element, write_id, write_size};
use super::{CODEC_AVC, CODEC_HEVC, id};

/// Nanoseconds per timecode tick.
const SCALE_NS: u64 = 1_000_000;

/// The EBML header, the Segment's start, Info and Tracks for `track`.
pub(crate) fn header(track: &Track) -> Vec<u8> {
    let mut out = Vec::new();
    master(&mut out, id::EBML, |m| {
        element(m, id::DOC_TYPE, b"matroska");
        uint_element(m, id::DOC_TYPE_VERSION, 4);
        uint_element(m, id::DOC_TYPE_READ_VERSION, 2);
    });
    write_id(&mut out, id::SEGMENT);
    write_size(&mut out, UNKNOWN_SIZE);
    master(&mut out, id::INFO, |m| {
        uint_element(m, id::TIMECODE_SCALE, SCALE_NS);
        element(m, id::MUXING_APP, b"osprey");
        element(m, id::WRITING_APP, b"osprey");
    });
    master(&mut out, id::TRACKS, |m| {
        master(m, id::TRACK_ENTRY, |t| {
            uint_element(t, id::TRACK_NUMBER, 1);
            uint_element(t, id::TRACK_UID, 1);
            uint_element(t, id::TRACK_TYPE, 1);
            let codec = match track.codec {
                Codec::H264 => CODEC_AVC,
                Codec::H265 => CODEC_HEVC,
            };
            element(t, id::CODEC_ID, codec.as_bytes());
            element(t, id::CODEC_PRIVATE, &track.codec_data);
            master(t, id::VIDEO, |v| {
                uint_element(v, id::PIXEL_WIDTH, u64::from(track.width));
                uint_element(v, id::PIXEL_HEIGHT, u64::from(track.height));
            });
        });
    });
    out
}

/// A Tags element of `(name, value)` simple tags.
fn tags(out: &mut Vec<u8>, pairs: &[(&str, String)]) {
    master(out, id::TAGS, |t| {
        master(t, id::TAG, |tag| {
            master(tag, id::TARGETS, |_| {});
            for (name, value) in pairs {
                master(tag, id::SIMPLE_TAG, |s| {
                    element(s, id::TAG_NAME, name.as_bytes());
                    element(s, id::TAG_STRING, value.as_bytes());
                });
            }
        });
    });
}

/// Seconds with milliseconds, as KVS writes its timestamp tags.
pub(crate) fn seconds(ns: u64) -> String {
    format!("{}.{:03}", ns / 1_000_000_000, ns / 1_000_000 % 1000)
}

/// One fragment: its number and timestamps as tags, its frames in
/// clusters (a new one where a frame's offset would not fit a block's
/// 16-bit timecode), then how far behind `now_ns` it is and the token to
/// continue after it.
pub(crate) fn fragment(fragment: &Fragment, now_ns: u64) -> Vec<u8> {
    let meta = &fragment.meta;
    let mut out = Vec::with_capacity(usize::try_from(meta.size).unwrap_or(0) + 1024);
    tags(
        &mut out,
        &[
            ("AWS_KINESISVIDEO_FRAGMENT_NUMBER", meta.number.to_string()),
            ("AWS_KINESISVIDEO_SERVER_TIMESTAMP", seconds(meta.server_ns)),
            (
                "AWS_KINESISVIDEO_PRODUCER_TIMESTAMP",
                seconds(meta.producer_ns),
            ),
        ],
    );
    let mut frames = fragment.frames.iter().peekable();
    while let Some(first) = frames.peek() {
        let cluster_ms = first.pts_ns / SCALE_NS;
        let mut body = Vec::new();
        uint_element(&mut body, id::TIMECODE, cluster_ms);
        while let Some(frame) = frames.peek() {
            let offset = i64::try_from(frame.pts_ns / SCALE_NS)
                .unwrap_or(i64::MAX)
                .saturating_sub(i64::try_from(cluster_ms).unwrap_or(i64::MAX));
            let Ok(offset) = i16::try_from(offset) else {
                break;
            };
            write_id(&mut body, id::SIMPLE_BLOCK);
            write_size(&mut body, frame.data.len() as u64 + 4);
            body.push(0x81);
            body.extend_from_slice(&offset.to_be_bytes());
            body.push(if frame.key { 0x80 } else { 0 });
            body.extend_from_slice(&frame.data);
            frames.next();
        }
        if body.len() <= 11 {
            // A frame before its cluster's start by more than 32 s: skipped
            // rather than looping.
            frames.next();
            continue;
        }
        element(&mut out, id::CLUSTER, &body);
    }
    let behind = now_ns.saturating_sub(meta.server_ns) / SCALE_NS;
    tags(
        &mut out,
        &[
            ("AWS_KINESISVIDEO_MILLIS_BEHIND_NOW", behind.to_string()),
            (
                "AWS_KINESISVIDEO_CONTINUATION_TOKEN",
                meta.number.to_string(),
            ),
        ],
    );
    out
}
