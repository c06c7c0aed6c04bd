//! HLS: media playlists over a stream's fragments (one segment per
//! fragment), live (a sliding window that grows) or on demand (a range,
//! `#EXT-X-ENDLIST`), and the segments themselves.
//!
//! Segments are fragmented MP4 (as KVS' default `FRAGMENTED_MP4`, which
//! browsers' Media Source Extensions play): an initialisation segment per
//! track ([`init_segment`], `#EXT-X-MAP`) and one `moof`/`mdat` per
//! fragment ([`segment`]) whose decode times are the producer's clock at
//! 90 kHz, so consecutive segments are continuous without rewriting.

use std::fmt::Write as _;

use osprey_ingest::video::{Fragment, FragmentMeta, Track};

use super::PlaybackError;
use super::bmff;

/// Fragments further apart than this (ns) are not contiguous: the playlist
/// marks a discontinuity between them.
const CONTIGUOUS_SLACK_NS: i128 = 100_000_000;

/// A media playlist over `fragments` (oldest first); `segment_uri` names
/// the segment of a fragment number; `live` leaves the list open. The
/// initialisation segments are named `init-N.mp4` (relative to the
/// playlist), N the number of the first fragment of the track it starts;
/// [`media_playlist_with_init`] names them otherwise.
#[must_use]
pub fn media_playlist(
    fragments: &[FragmentMeta],
    live: bool,
    segment_uri: &dyn Fn(u64) -> String,
) -> String {
    media_playlist_with_init(fragments, live, segment_uri, &|n| format!("init-{n}.mp4"))
}

/// [`media_playlist`] with `init_uri` naming the initialisation segment
/// ([`init_segment`] of the fragment's track) by the number of the first
/// fragment it serves.
#[must_use]
pub fn media_playlist_with_init(
    fragments: &[FragmentMeta],
    live: bool,
    segment_uri: &dyn Fn(u64) -> String,
    init_uri: &dyn Fn(u64) -> String,
) -> String {
    let target = fragments
        .iter()
        .map(|f| f.duration_ns.div_ceil(1_000_000_000))
        .max()
        .unwrap_or(1)
        .max(1);
    let mut out = String::with_capacity(128 + 160 * fragments.len());
    let _ = write!(
        out,
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{target}\n\
         #EXT-X-MEDIA-SEQUENCE:{}\n#EXT-X-INDEPENDENT-SEGMENTS\n",
        fragments.first().map_or(0, |f| f.number)
    );
    if !live {
        out.push_str("#EXT-X-PLAYLIST-TYPE:VOD\n");
    }
    let mut previous: Option<&FragmentMeta> = None;
    for f in fragments {
        let new_track =
            previous.is_none_or(|p| (p.codec, p.width, p.height) != (f.codec, f.width, f.height));
        if let Some(p) = previous {
            let gap =
                i128::from(f.producer_ns) - i128::from(p.producer_ns) - i128::from(p.duration_ns);
            if new_track || gap.abs() > CONTIGUOUS_SLACK_NS {
                out.push_str("#EXT-X-DISCONTINUITY\n");
            }
        }
        if new_track {
            let _ = writeln!(out, "#EXT-X-MAP:URI=\"{}\"", init_uri(f.number));
        }
        let _ = writeln!(
            out,
            "#EXT-X-PROGRAM-DATE-TIME:{}",
            program_date_time(f.producer_ns)
        );
        #[expect(
            clippy::cast_precision_loss,
            reason = "a duration in seconds, shown to the microsecond"
        )]
        let secs = f.duration_ns as f64 / 1e9;
        let _ = writeln!(out, "#EXTINF:{secs:.6},\n{}", segment_uri(f.number));
        previous = Some(f);
    }
    if !live {
        out.push_str("#EXT-X-ENDLIST\n");
    }
    out
}

/// `2026-12-06T10:00:00.000Z` of Unix ns.
fn program_date_time(ns: u64) -> String {
    let t = chrono::DateTime::from_timestamp_nanos(i64::try_from(ns).unwrap_or(i64::MAX));
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The MIME type of the segments [`segment`] and [`init_segment`] make.
pub const SEGMENT_CONTENT_TYPE: &str = "video/mp4";

/// The initialisation segment (`ftyp` + `moov`) of the fragments of `track`.
#[must_use]
pub fn init_segment(track: &Track) -> Vec<u8> {
    bmff::init_segment(track, None)
}

/// One fragment as an HLS segment (`moof` + `mdat`, decode times the
/// producer's clock).
///
/// # Errors
/// [`PlaybackError::Invalid`] for a fragment without frames.
pub fn segment(fragment: &Fragment) -> Result<Vec<u8>, PlaybackError> {
    if fragment.frames.is_empty() {
        return Err(PlaybackError::Invalid(format!(
            "fragment {} has no frames",
            fragment.meta.number
        )));
    }
    // mfhd's sequence number is 32 bits: the fragment number's low bits.
    #[expect(clippy::cast_possible_truncation, reason = "wraps by design")]
    let sequence = fragment.meta.number as u32;
    Ok(bmff::media_fragment(sequence.max(1), &fragment.frames, 0).0)
}
