//! Playback timings on one minute of 1080p25 H.264 (x264 ultrafast at
//! 4 Mbit/s of noise, 2 s GOPs, one fragment per GOP) appended to a video
//! store in a temporary folder: an MP4 clip of the whole minute, and 60
//! JPEG images at 1 s spacing (full size, then 320 px wide).
//!
//! `cargo bench --release -p osprey-video --bench playback`

#![expect(
    clippy::unwrap_used,
    reason = "a benchmark stops at the first surprise"
)]

use std::time::{Duration, Instant};

use osprey_ingest::video::{VideoStore, VideoStreamConfig};
use osprey_video::playback::clip;
use osprey_video::playback::images::{ImageFormat, ImageRequest, sample};
use osprey_video::playback::synthetic::{Synthetic, fragments};

/// 2026-12-06T10:00:00Z in ns.
const T0: u64 = 1_796_551_200_000_000_000;
const SEC: u64 = 1_000_000_000;

/// The median of `runs` timings of `f`.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = VideoStore::open(dir.path()).unwrap();
    store.create("cam", VideoStreamConfig::default()).unwrap();
    let t = Instant::now();
    let spec = Synthetic {
        width: 1920,
        height: 1080,
        fps: 25,
        frames: 1500,
        gop: 50,
        start_ns: T0,
        pattern: "snow",
        bitrate_kbps: 4000,
    };
    let mut bytes = 0;
    for f in fragments(&spec).unwrap() {
        bytes += store.append("cam", f).unwrap().size;
    }
    println!(
        "setup: 60 s of 1080p25 encoded and stored in {:.1} s ({} MiB)",
        t.elapsed().as_secs_f64(),
        bytes >> 20
    );
    let mut size = 0;
    let took = median(11, || {
        let c = clip::mp4(&store, "cam", T0, T0 + 60 * SEC).unwrap();
        assert_eq!(c.frames, 1500);
        size = c.data.len();
    });
    println!(
        "clip of 60 s (1500 frames, {} MiB): {:.1} ms (median of 11)",
        size >> 20,
        took.as_secs_f64() * 1e3
    );
    for width in [None, Some(320)] {
        let request = ImageRequest {
            start_ns: T0,
            end_ns: T0 + 60 * SEC,
            every: Duration::from_secs(1),
            format: ImageFormat::Jpeg,
            width,
            height: None,
            max_images: 60,
        };
        let took = median(3, || {
            let images = sample(&store, "cam", &request).unwrap();
            assert_eq!(images.iter().filter(|i| i.data.is_some()).count(), 60);
        });
        println!(
            "60 JPEG images at 1 s spacing, {}: {:.2} s (median of 3)",
            width.map_or("1920x1080".to_owned(), |w| format!("{w} px wide")),
            took.as_secs_f64()
        );
    }
}
