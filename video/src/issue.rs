//! Damage the decoder got past: lost frames, discontinuities and GStreamer
//! warnings, reported with the chunk of the first frame decoded after them.
//!
//! GStreamer 1.22's decoders conceal most damage on their own: `avdec_h264`
//! outputs corrupt frames (`output-corrupt` is on) and never turns decode
//! errors into a flow error (`max-errors` is -1), posting nothing on the bus.
//! What is visible from outside is what the damage did to the stream: frames
//! that never came out (a jump in presentation time larger than a frame) and
//! a `DISCONT` flag on a buffer after the first, which the decoder base class
//! sets on the next frame after a decode error and demuxers set after they
//! resynchronise. [`Detector`] turns those, and bus warnings, into
//! [`DecodeIssue`]s. Damage that neither drops a frame nor breaks continuity
//! (a concealed slice in a raw H.264 stream whose timestamps the parser
//! interpolates) cannot be seen through GStreamer's API and is not reported.

/// One problem the decoder met and went past.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeIssue {
    /// What happened and where, as a sentence fragment
    /// (e.g. `6 frames missing between pts 4.780 s and 5.060 s`).
    pub message: String,
    /// Index of the first frame decoded after the damage; `None` when the
    /// stream ended first.
    pub frame: Option<u64>,
    /// That frame's presentation time in seconds, when known.
    pub pts: Option<f64>,
    /// Frames the damage cost, when it can be told from the timestamps.
    pub missing_frames: Option<u64>,
}

/// How far past one frame duration a jump in pts must go to count as lost
/// frames (timestamps in containers are rounded, and VFR streams wobble).
const GAP_FACTOR: f64 = 1.5;

/// Least shortfall, in seconds, at the end of a stream that counts as the
/// stream ending early when the frame duration is unknown or tiny (segment
/// ends are rounded to the container's timescale).
const MIN_TAIL_SLACK: f64 = 0.01;

/// Watches the decoded frames go by and notes what looks like damage.
#[derive(Debug, Default)]
pub(crate) struct Detector {
    /// Issues not yet attached to a frame.
    pending: Vec<DecodeIssue>,
    last_pts: Option<f64>,
    /// Frames decoded since `last_pts` that had no pts: they fill part of
    /// a jump in pts, so they are not counted as missing.
    unstamped: u64,
    frames_seen: u64,
}

impl Detector {
    /// Notes a message (a bus warning) to attach to the next frame.
    pub(crate) fn note(&mut self, message: String) {
        self.pending.push(DecodeIssue {
            message,
            frame: None,
            pts: None,
            missing_frames: None,
        });
    }

    /// Looks at the next frame: `discont` is its buffer's `DISCONT` flag and
    /// `frame_duration` the nominal duration in seconds (from the frame rate,
    /// else the buffer's). Returns every issue that ends at this frame.
    pub(crate) fn frame(
        &mut self,
        index: u64,
        pts: Option<f64>,
        discont: bool,
        frame_duration: Option<f64>,
    ) -> Vec<DecodeIssue> {
        let first = self.frames_seen == 0;
        self.frames_seen += 1;
        let gap = match (self.last_pts, pts, frame_duration) {
            (Some(last), Some(now), Some(d))
                if d > 0.0 && now - last > (self.unstamped as f64 + GAP_FACTOR) * d =>
            {
                let between = ((now - last) / d).round() as u64 - 1;
                let missing = between.saturating_sub(self.unstamped);
                Some((last, now, missing.max(1)))
            }
            _ => None,
        };
        if pts.is_some() {
            self.last_pts = pts;
            self.unstamped = 0;
        } else if self.last_pts.is_some() {
            self.unstamped += 1;
        }
        match (gap, discont && !first) {
            (Some((last, now, missing)), discont) => {
                let plural = if missing == 1 { "" } else { "s" };
                let how = if discont {
                    "the decoder skipped damaged data"
                } else {
                    "corrupt or lost data"
                };
                self.pending.push(DecodeIssue {
                    message: format!(
                        "{missing} frame{plural} missing between pts {last:.3} s and {now:.3} s ({how})"
                    ),
                    frame: None,
                    pts: None,
                    missing_frames: Some(missing),
                });
            }
            (None, true) => self.note(
                "discontinuity before this frame: the decoder skipped damaged or missing data"
                    .into(),
            ),
            (None, false) => {}
        }
        let mut out = std::mem::take(&mut self.pending);
        for issue in &mut out {
            issue.frame = Some(index);
            issue.pts = pts;
        }
        out
    }

    /// Notes, at the end of the stream, that the video stopped short of the
    /// end its container announced: `last_end` is where the last decoded
    /// frame ends and `stop` the end of the stream's segment (the video
    /// track's own duration for MP4 and Matroska files), both in stream
    /// seconds. A file cut short (a faststart MP4 whose sample tables name
    /// data past the end of the file, say) ends quietly in GStreamer: this
    /// is the only trace it leaves. Live sources have no `stop`.
    pub(crate) fn stream_ended(
        &mut self,
        last_end: Option<f64>,
        stop: Option<f64>,
        frame_duration: Option<f64>,
    ) {
        let (Some(end), Some(stop)) = (last_end, stop) else {
            return;
        };
        let d = frame_duration.filter(|d| d.is_finite() && *d > 0.0);
        // As for a gap mid-stream: more than one frame and a half short.
        let slack = d.map_or(MIN_TAIL_SLACK, |d| (GAP_FACTOR * d).max(MIN_TAIL_SLACK));
        if !(end.is_finite() && stop.is_finite()) || stop - end <= slack {
            return;
        }
        let missing = d.map(|d| ((stop - end) / d).round().max(1.0) as u64);
        let lost = match missing {
            Some(1) => "about 1 frame".to_owned(),
            Some(n) => format!("about {n} frames"),
            None => format!("{:.3} s", stop - end),
        };
        self.pending.push(DecodeIssue {
            message: format!(
                "the input ends early: the video stops at {end:.3} s of the {stop:.3} s \
                 it announces, {lost} missing (a file cut short?)"
            ),
            frame: None,
            pts: None,
            missing_frames: missing,
        });
    }

    /// Issues noted after the last frame (the stream ended before another).
    pub(crate) fn take_pending(&mut self) -> Vec<DecodeIssue> {
        std::mem::take(&mut self.pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_frames_raise_nothing() {
        let mut d = Detector::default();
        for i in 0..50u32 {
            let issues = d.frame(u64::from(i), Some(f64::from(i) * 0.04), i == 0, Some(0.04));
            assert!(issues.is_empty(), "{issues:?}");
        }
    }

    #[test]
    fn a_gap_counts_the_lost_frames() {
        let mut d = Detector::default();
        assert!(d.frame(0, Some(1.0), true, Some(0.04)).is_empty());
        let issues = d.frame(1, Some(1.28), false, Some(0.04));
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].missing_frames, Some(6));
        assert_eq!((issues[0].frame, issues[0].pts), (Some(1), Some(1.28)));
        assert!(
            issues[0]
                .message
                .contains("6 frames missing between pts 1.000 s and 1.280 s")
        );
    }

    #[test]
    fn frames_without_pts_in_a_gap_are_not_counted_as_lost() {
        let mut d = Detector::default();
        assert!(d.frame(0, Some(1.0), true, Some(0.04)).is_empty());
        // Two frames come out unstamped, then the stream goes on where
        // they belong: nothing is missing.
        assert!(d.frame(1, None, false, Some(0.04)).is_empty());
        assert!(d.frame(2, None, false, Some(0.04)).is_empty());
        assert!(d.frame(3, Some(1.12), false, Some(0.04)).is_empty());
        // One unstamped frame, then a jump of 7 frame times: 6 between,
        // of which that one came out, so 5 are missing.
        assert!(d.frame(4, None, false, Some(0.04)).is_empty());
        let issues = d.frame(5, Some(1.40), false, Some(0.04));
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].missing_frames, Some(5), "{issues:?}");
    }

    #[test]
    fn a_stream_that_stops_short_of_its_end_is_reported() {
        let mut d = Detector::default();
        // Complete: the last frame ends at the segment's stop, or within a
        // frame and a half of it.
        d.stream_ended(Some(8.0), Some(8.0), Some(0.04));
        d.stream_ended(Some(7.95), Some(8.0), Some(0.04));
        // Live, or nothing decoded: nothing to compare.
        d.stream_ended(Some(4.0), None, Some(0.04));
        d.stream_ended(None, Some(8.0), Some(0.04));
        assert!(d.take_pending().is_empty());
        d.stream_ended(Some(4.72), Some(8.0), Some(0.04));
        let issues = d.take_pending();
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].missing_frames, Some(82));
        assert_eq!((issues[0].frame, issues[0].pts), (None, None));
        assert!(
            issues[0]
                .message
                .starts_with("the input ends early: the video stops at 4.720 s of the 8.000 s"),
            "{}",
            issues[0].message
        );
        d.stream_ended(Some(1.0), Some(3.5), None);
        assert!(d.take_pending()[0].message.contains("2.500 s missing"));
    }

    #[test]
    fn warnings_and_discontinuities_attach_to_the_next_frame() {
        let mut d = Detector::default();
        d.note("h264parse: broken bitstream".into());
        let issues = d.frame(0, None, true, None);
        assert_eq!(
            issues.len(),
            1,
            "a first DISCONT is normal, the warning is not"
        );
        assert_eq!(issues[0].frame, Some(0));
        let issues = d.frame(1, None, true, None);
        assert!(issues[0].message.contains("discontinuity"));
        d.note("late".into());
        assert_eq!(d.take_pending().len(), 1);
        assert!(d.take_pending().is_empty());
    }
}
