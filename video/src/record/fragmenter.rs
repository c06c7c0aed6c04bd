//! [`Fragmenter`]: access units in decode order in, fragments out, cut at
//! key frames.

use std::time::Duration;

use osprey_ingest::video::{FragmentIn, Frame, Track};

/// The most media one fragment holds: a stream whose key frames stop
/// coming has its fragment closed here, and the frames up to the next key
/// frame are dropped (counted), so memory stays bounded.
pub const MAX_FRAGMENT_BYTES: usize = 64 << 20;

/// Cuts a stream of access units into fragments: a fragment ends at the
/// first key frame at least the target length after its start, or when the
/// track changes (new parameter sets or size).
#[derive(Debug)]
pub struct Fragmenter {
    target: Duration,
    max_bytes: usize,
    /// The fragment being filled, its first pts and its size so far.
    open: Option<Open>,
    /// Frames dropped: before the first key frame, after a track change or
    /// an oversized fragment, until the next key frame.
    dropped: u64,
}

#[derive(Debug)]
struct Open {
    fragment: FragmentIn,
    start_ns: u64,
    bytes: usize,
}

impl Fragmenter {
    /// A cutter aiming at `target` per fragment.
    #[must_use]
    pub fn new(target: Duration) -> Fragmenter {
        Fragmenter::with_max_bytes(target, MAX_FRAGMENT_BYTES)
    }

    /// A cutter aiming at `target`, closing a fragment early (and dropping
    /// frames up to the next key frame) once it holds `max_bytes`.
    #[must_use]
    pub fn with_max_bytes(target: Duration, max_bytes: usize) -> Fragmenter {
        Fragmenter {
            target,
            max_bytes: max_bytes.max(1),
            open: None,
            dropped: 0,
        }
    }

    /// Takes the next frame (decode order) of `track`; returns the fragment
    /// it closed, if any. Frames before the first key frame are dropped.
    pub fn push(&mut self, track: &Track, frame: Frame) -> Option<FragmentIn> {
        let target_ns = u64::try_from(self.target.as_nanos()).unwrap_or(u64::MAX);
        let cut = self.open.as_ref().is_some_and(|open| {
            open.fragment.track != *track
                || open.bytes >= self.max_bytes
                || (frame.key && frame.pts_ns.saturating_sub(open.start_ns) >= target_ns)
        });
        let closed = if cut { self.finish() } else { None };
        match &mut self.open {
            Some(open) => {
                open.bytes = open.bytes.saturating_add(frame.data.len());
                open.fragment.frames.push(frame);
            }
            None if frame.key => {
                self.open = Some(Open {
                    start_ns: frame.pts_ns,
                    bytes: frame.data.len(),
                    fragment: FragmentIn {
                        track: track.clone(),
                        frames: vec![frame],
                    },
                });
            }
            None => self.dropped += 1,
        }
        closed
    }

    /// Ends the stream: the fragment in progress, if any.
    pub fn finish(&mut self) -> Option<FragmentIn> {
        self.open.take().map(|open| open.fragment)
    }

    /// Frames dropped so far for want of a key frame to start on.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use osprey_ingest::video::Codec;

    use super::*;

    const MS: u64 = 1_000_000;

    fn track(codec_data: &[u8]) -> Track {
        Track {
            codec: Codec::H264,
            codec_data: codec_data.to_vec(),
            width: 320,
            height: 240,
        }
    }

    /// Frame `i` of a 10 fps stream starting at 1 s, a key frame when `key`.
    fn frame(i: u64, key: bool) -> Frame {
        Frame {
            pts_ns: 1_000 * MS + i * 100 * MS,
            dts_ns: 1_000 * MS + i * 100 * MS,
            duration_ns: 100 * MS,
            key,
            data: Bytes::from(vec![0_u8; 10]),
        }
    }

    /// Pushes frames `0..n` (key every `gop`) and returns each closed
    /// fragment's frame indices.
    fn cut(f: &mut Fragmenter, t: &Track, range: std::ops::Range<u64>, gop: u64) -> Vec<Vec<u64>> {
        range
            .filter_map(|i| f.push(t, frame(i, i % gop == 0)))
            .map(indices)
            .collect()
    }

    fn indices(fragment: FragmentIn) -> Vec<u64> {
        fragment
            .frames
            .iter()
            .map(|f| (f.pts_ns - 1_000 * MS) / (100 * MS))
            .collect()
    }

    #[test]
    fn cuts_at_the_first_key_frame_past_the_target() {
        let t = track(b"a");
        let mut f = Fragmenter::new(Duration::from_millis(1_000));
        // Key frames every 4 frames (0.4 s): the cut comes at 1.2 s.
        let closed = cut(&mut f, &t, 0..26, 4);
        assert_eq!(
            closed,
            vec![(0..12).collect::<Vec<_>>(), (12..24).collect::<Vec<_>>()]
        );
        assert_eq!(indices(f.finish().unwrap()), vec![24, 25]);
        assert_eq!(f.finish(), None);
        assert_eq!(f.dropped(), 0);
    }

    #[test]
    fn frames_before_the_first_key_frame_are_dropped() {
        let t = track(b"a");
        let mut f = Fragmenter::new(Duration::from_millis(500));
        assert_eq!(cut(&mut f, &t, 1..5, 5), Vec::<Vec<u64>>::new());
        assert_eq!(f.dropped(), 4);
        assert_eq!(cut(&mut f, &t, 5..11, 5), vec![(5..10).collect::<Vec<_>>()]);
        assert_eq!(indices(f.finish().unwrap()), vec![10]);
    }

    #[test]
    fn a_new_track_closes_the_fragment() {
        let (a, b) = (track(b"a"), track(b"b"));
        let mut f = Fragmenter::new(Duration::from_secs(10));
        assert_eq!(cut(&mut f, &a, 0..3, 100), Vec::<Vec<u64>>::new());
        // The new track starts on a key frame: cut there.
        let closed = f.push(&b, frame(3, true)).map(indices);
        assert_eq!(closed, Some(vec![0, 1, 2]));
        // A new track without a key frame: cut, then drop until one comes.
        let closed = f.push(&a, frame(4, false)).map(indices);
        assert_eq!(closed, Some(vec![3]));
        assert_eq!(f.push(&a, frame(5, true)), None);
        assert_eq!(f.dropped(), 1);
        let fragment = f.finish().unwrap();
        assert_eq!(fragment.track, a);
        assert_eq!(indices(fragment), vec![5]);
    }

    #[test]
    fn an_oversized_fragment_is_closed_and_waits_for_a_key_frame() {
        let t = track(b"a");
        let mut f = Fragmenter::with_max_bytes(Duration::from_secs(10), 30);
        // 10 bytes a frame: the fourth frame finds 30 bytes held.
        let closed = cut(&mut f, &t, 0..6, 5);
        assert_eq!(closed, vec![vec![0, 1, 2]]);
        assert_eq!(f.dropped(), 2, "frames 3 and 4 wait for key frame 5");
        assert_eq!(indices(f.finish().unwrap()), vec![5]);
    }
}
