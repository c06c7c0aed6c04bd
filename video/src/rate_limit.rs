//! `max_fps`: decoded frames beyond the rate are dropped by a pad probe on
//! `videoconvert`'s sink pad, before any conversion, mapping or queueing,
//! so a dropped frame costs only its decode.

use std::sync::Mutex;

use gstreamer as gst;

/// Slack for timestamps rounded to a container's timescale.
const TOLERANCE_NS: u64 = 1_000_000;

/// Keeps at most one frame per interval, by presentation time.
#[derive(Debug)]
pub(crate) struct RateLimit {
    interval: u64,
    /// The earliest pts (ns) the next frame kept may have.
    next: Option<u64>,
}

impl RateLimit {
    /// A limit of `max_fps` frames a second; `None` when it is not a
    /// positive finite rate.
    pub(crate) fn new(max_fps: f64) -> Option<Self> {
        (max_fps.is_finite() && max_fps > 0.0).then(|| RateLimit {
            interval: (1e9 / max_fps).round().max(1.0) as u64,
            next: None,
        })
    }

    /// Whether the frame with pts `pts` (ns) is kept. Frames without a pts
    /// are kept; a pts that jumps back by more than two intervals (a new
    /// segment, a reconnect) starts over.
    pub(crate) fn keep(&mut self, pts: Option<u64>) -> bool {
        let Some(pts) = pts else {
            return true;
        };
        let due = match self.next {
            None => true,
            Some(next) => {
                pts + TOLERANCE_NS >= next || pts.saturating_add(2 * self.interval) < next
            }
        };
        if due {
            // Stay on the grid unless the stream jumped past it.
            self.next = Some(match self.next {
                Some(next) if pts + TOLERANCE_NS >= next && pts < next + self.interval => {
                    next + self.interval
                }
                _ => pts + self.interval,
            });
        }
        due
    }
}

/// Drops buffers on `pad` beyond `max_fps` frames a second.
pub(crate) fn install(pad: &gst::Pad, max_fps: f64) {
    use gst::prelude::*;
    let Some(limit) = RateLimit::new(max_fps) else {
        return;
    };
    let limit = Mutex::new(limit);
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        let pts = info
            .buffer()
            .and_then(|b| b.pts())
            .map(gst::ClockTime::nseconds);
        let keep = limit.lock().map_or(true, |mut l| l.keep(pts));
        if keep {
            return gst::PadProbeReturn::Ok;
        }
        // Taken and handled rather than returned as Drop: GStreamer 1.22
        // would unref the buffer the bindings already released.
        drop(info.take_buffer());
        gst::PadProbeReturn::Handled
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(max_fps: f64, fps: f64, frames: u64) -> Vec<u64> {
        let mut limit = RateLimit::new(max_fps).unwrap();
        (0..frames)
            .filter(|&i| limit.keep(Some((i as f64 * 1e9 / fps).round() as u64)))
            .collect()
    }

    #[test]
    fn keeps_one_frame_per_interval() {
        assert_eq!(kept(5.0, 25.0, 26), [0, 5, 10, 15, 20, 25]);
        assert_eq!(kept(10.0, 30.0, 10), [0, 3, 6, 9]);
        assert_eq!(kept(10.0, 30_000.0 / 1001.0, 10), [0, 3, 6, 9]);
        // 10 of 25: two or three frames apart, 10 a second on average.
        assert_eq!(kept(10.0, 25.0, 25).len(), 10);
        // A limit above the rate keeps everything.
        assert_eq!(kept(50.0, 25.0, 10).len(), 10);
    }

    #[test]
    fn restarts_after_a_jump_back_and_keeps_untimed_frames() {
        let mut limit = RateLimit::new(1.0).unwrap();
        assert!(limit.keep(Some(5_000_000_000)));
        assert!(!limit.keep(Some(5_500_000_000)));
        assert!(limit.keep(Some(0)), "a new segment starts over");
        assert!(!limit.keep(Some(100_000_000)));
        assert!(limit.keep(None));
        assert!(RateLimit::new(0.0).is_none());
        assert!(RateLimit::new(f64::NAN).is_none());
    }
}
