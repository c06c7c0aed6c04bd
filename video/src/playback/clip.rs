//! Clips: the frames of a time range as one MP4 (H.264/H.265 as stored, no
//! re-encoding), from the key frame at or before the start, timestamps
//! continuous from zero.
//!
//! The MP4 is fragmented (our own writer, [`super::bmff`]): an
//! initialisation segment with the clip's duration, then one `moof`/`mdat`
//! per stored fragment. Gaps between fragments are closed: each fragment
//! starts where the one before it ends, so the clip plays without stalls
//! and its duration is the sum of its frames'. A track change inside the
//! range (new size or parameter sets) ends the clip before it
//! ([`Clip::track_changed`]).

use std::time::Duration;

use osprey_ingest::video::{Fragment, Frame, TimeBase, TimeRange, VideoStore};

use super::PlaybackError;
use super::bmff;

/// The longest range a clip may cover.
pub const MAX_CLIP_DURATION: Duration = Duration::from_secs(10 * 60);

/// The most media a clip may hold, bytes.
pub const MAX_CLIP_BYTES: u64 = 512 << 20;

/// An MP4 clip made by [`mp4`].
#[derive(Debug, Clone)]
pub struct Clip {
    /// The MP4 file's bytes.
    pub data: Vec<u8>,
    /// Frames in it.
    pub frames: u32,
    /// Producer time of its first frame, Unix ns.
    pub start_ns: u64,
    /// Producer time of the end of its last frame, Unix ns.
    pub end_ns: u64,
    /// The track changed (size or parameter sets) inside the range: the
    /// clip ends before the change.
    pub track_changed: bool,
}

/// Checks a range: not empty, not longer than `max`.
pub(crate) fn check_range(start_ns: u64, end_ns: u64, max: Duration) -> Result<(), PlaybackError> {
    if end_ns <= start_ns {
        return Err(PlaybackError::Invalid(format!(
            "the range ends ({end_ns} ns) before it starts ({start_ns} ns)"
        )));
    }
    if u128::from(end_ns - start_ns) > max.as_nanos() {
        return Err(PlaybackError::Invalid(format!(
            "the range is {:.1} s long; at most {} s at a time",
            Duration::from_nanos(end_ns - start_ns).as_secs_f64(),
            max.as_secs()
        )));
    }
    Ok(())
}

/// The clip of `[start_ns, end_ns)` (producer time) of video stream
/// `stream`: from the key frame at or before `start_ns` to the last frame
/// that starts before `end_ns`.
///
/// # Errors
/// [`PlaybackError::Store`] when the store fails, [`PlaybackError::NoMedia`]
/// when no fragment overlaps the range, [`PlaybackError::Invalid`] for an
/// empty range or one longer than [`MAX_CLIP_DURATION`] or holding more
/// than [`MAX_CLIP_BYTES`].
pub fn mp4(
    store: &VideoStore,
    stream: &str,
    start_ns: u64,
    end_ns: u64,
) -> Result<Clip, PlaybackError> {
    check_range(start_ns, end_ns, MAX_CLIP_DURATION)?;
    let metas = store.fragments(
        stream,
        Some(TimeRange {
            base: TimeBase::Producer,
            start_ns,
            end_ns,
        }),
    )?;
    let bytes: u64 = metas.iter().map(|m| m.size).sum();
    if bytes > MAX_CLIP_BYTES {
        return Err(too_big(bytes));
    }
    let mut fragments = metas
        .iter()
        .map(|m| store.read(stream, m.number).map_err(PlaybackError::from));
    mp4_from_fragments(&mut fragments, start_ns, end_ns)
}

fn too_big(bytes: u64) -> PlaybackError {
    PlaybackError::Invalid(format!(
        "the range holds {} MiB of media; a clip holds at most {} MiB",
        bytes >> 20,
        MAX_CLIP_BYTES >> 20
    ))
}

/// The frames of `fragment` (decode order) a clip of `[start_ns, end_ns)`
/// keeps: from the last key frame at or before `start_ns` (the first frame
/// when none is) to the last frame that starts before `end_ns`.
pub(crate) fn frames_in(fragment: &Fragment, start_ns: u64, end_ns: u64) -> &[Frame] {
    let frames = &fragment.frames;
    let from = frames
        .iter()
        .rposition(|f| f.key && f.pts_ns <= start_ns)
        .unwrap_or(0);
    let to = frames
        .iter()
        .rposition(|f| f.pts_ns < end_ns)
        .map_or(0, |i| i + 1);
    frames.get(from..to).unwrap_or_default()
}

/// [`mp4`] over fragments already read (oldest first, those overlapping
/// the range), for callers that hold them.
///
/// # Errors
/// As [`mp4`], and whatever the iterator yields.
pub fn mp4_from_fragments(
    fragments: &mut dyn Iterator<Item = Result<Fragment, PlaybackError>>,
    start_ns: u64,
    end_ns: u64,
) -> Result<Clip, PlaybackError> {
    check_range(start_ns, end_ns, MAX_CLIP_DURATION)?;
    let mut data = Vec::new();
    let mut init_len = 0;
    let mut track = None;
    let mut clip = Clip {
        data: Vec::new(),
        frames: 0,
        start_ns: u64::MAX,
        end_ns: 0,
        track_changed: false,
    };
    // Where the next fragment starts on the clip's timeline, ns.
    let mut cursor: i128 = 0;
    let mut end_tick = 0;
    let mut sequence = 0_u32;
    for fragment in fragments {
        let fragment = fragment?;
        let ends = fragment
            .frames
            .iter()
            .map(|f| f.pts_ns.saturating_add(f.duration_ns));
        if ends.max().is_none_or(|end| end <= start_ns) {
            continue;
        }
        let frames = frames_in(&fragment, start_ns, end_ns);
        let Some(first) = frames.first() else {
            continue;
        };
        match &track {
            None => {
                // The duration is patched in at the end: same length.
                data = bmff::init_segment(&fragment.track, Some(0));
                init_len = data.len();
                track = Some(fragment.track.clone());
            }
            Some(t) if *t != fragment.track => {
                clip.track_changed = true;
                break;
            }
            Some(_) => {}
        }
        sequence += 1;
        let shift = cursor - i128::from(first.dts_ns);
        let (piece, end) = bmff::media_fragment(sequence, frames, shift);
        data.extend_from_slice(&piece);
        end_tick = end;
        if data.len() as u64 > MAX_CLIP_BYTES {
            return Err(too_big(data.len() as u64));
        }
        for f in frames {
            clip.start_ns = clip.start_ns.min(f.pts_ns);
            clip.end_ns = clip.end_ns.max(f.pts_ns.saturating_add(f.duration_ns));
        }
        clip.frames += u32::try_from(frames.len()).unwrap_or(u32::MAX);
        let last = frames.last().unwrap_or(first);
        cursor += i128::from(last.dts_ns) + i128::from(last.duration_ns) - i128::from(first.dts_ns);
    }
    let Some(track) = track else {
        return Err(PlaybackError::NoMedia);
    };
    data.splice(..init_len, bmff::init_segment(&track, Some(end_tick)));
    clip.data = data;
    Ok(clip)
}
