//! Playback over synthetic fragments (320x240, 25 fps, 1 s GOPs), checked
//! by ffprobe/ffmpeg as the oracle.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use osprey_ingest::video::{Fragment, FragmentIn, FragmentMeta};

use super::images::{ImageFormat, ImageRequest, sample_fragments};
use super::synthetic::{Synthetic, fragments};
use super::{PlaybackError, clip, hls};

/// 2026-12-06T10:00:00Z.
const T0: u64 = 1_796_551_200_000_000_000;
const SEC: u64 = 1_000_000_000;

/// Four seconds as four stored fragments numbered from 10.
fn stored() -> Vec<Fragment> {
    let spec = Synthetic {
        width: 320,
        height: 240,
        fps: 25,
        frames: 100,
        gop: 25,
        start_ns: T0,
    };
    fragments(&spec)
        .unwrap()
        .into_iter()
        .zip(10..)
        .map(|(f, n)| as_stored(f, n))
        .collect()
}

/// A fragment as the store gives it back.
pub(crate) fn as_stored(f: FragmentIn, number: u64) -> Fragment {
    let start = f.frames.iter().map(|f| f.pts_ns).min().unwrap();
    let end = f
        .frames
        .iter()
        .map(|f| f.pts_ns + f.duration_ns)
        .max()
        .unwrap();
    Fragment {
        meta: FragmentMeta {
            number,
            producer_ns: start,
            server_ns: start,
            duration_ns: end - start,
            size: f.frames.iter().map(|f| f.data.len() as u64).sum(),
            frames: u32::try_from(f.frames.len()).unwrap(),
            codec: f.track.codec,
            width: f.track.width,
            height: f.track.height,
        },
        track: f.track,
        frames: f.frames,
    }
}

/// ffprobe's `-count_frames` of the first video stream: (frames, duration s).
fn probe(path: &Path) -> (u64, f64) {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
        ])
        .args([
            "stream=nb_read_frames:format=duration",
            "-of",
            "default=nw=1",
        ])
        .arg(path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "ffprobe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k))
            .unwrap_or_else(|| panic!("{k} in {text}"))
            .to_owned()
    };
    (
        field("nb_read_frames=").parse().unwrap(),
        field("duration=").parse().unwrap(),
    )
}

/// The packets' pts (s) ffprobe reads from `path`.
fn packet_pts(path: &Path) -> Vec<f64> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=pts_time",
        ])
        .args(["-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffprobe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect()
}

#[test]
fn clip_starts_at_the_key_frame_before_the_start_and_plays_in_ffprobe() {
    let frags = stored();
    let mut it = frags.iter().cloned().map(Ok);
    // 1.5 s to 3.2 s: from the key frame at 1.0 s to the frame at 3.16 s.
    let clip = clip::mp4_from_fragments(&mut it, T0 + 3 * SEC / 2, T0 + 16 * SEC / 5).unwrap();
    assert_eq!(
        (clip.frames, clip.start_ns, clip.end_ns),
        (55, T0 + SEC, T0 + 16 * SEC / 5)
    );
    assert!(!clip.track_changed);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.mp4");
    std::fs::write(&path, &clip.data).unwrap();
    let (frames, duration) = probe(&path);
    assert_eq!(frames, 55);
    assert!((duration - 2.2).abs() < 0.01, "duration {duration}");
    let pts = packet_pts(&path);
    assert_eq!(pts.len(), 55);
    for (i, p) in pts.iter().enumerate() {
        assert!((p - i as f64 * 0.04).abs() < 1e-3, "packet {i} at {p}");
    }

    // A gap between fragments is closed; a new size ends the clip.
    let mut later = frags[3].clone();
    for f in &mut later.frames {
        f.pts_ns += 5 * SEC;
        f.dts_ns += 5 * SEC;
    }
    let mut resized = frags[2].clone();
    resized.track.width = 640;
    let mut it = [frags[0].clone(), later, resized].into_iter().map(Ok);
    let clip = clip::mp4_from_fragments(&mut it, T0, T0 + 10 * SEC).unwrap();
    assert_eq!(clip.frames, 50);
    assert!(clip.track_changed);
    std::fs::write(&path, &clip.data).unwrap();
    assert_eq!(probe(&path).0, 50);
    let pts = packet_pts(&path);
    assert!((pts[49] - 49.0 * 0.04).abs() < 1e-3, "{pts:?}");

    let mut none = std::iter::empty();
    assert!(matches!(
        clip::mp4_from_fragments(&mut none, T0, T0 + SEC),
        Err(PlaybackError::NoMedia)
    ));
    let mut none = std::iter::empty();
    assert!(matches!(
        clip::mp4_from_fragments(&mut none, T0, T0 + 11 * 60 * SEC),
        Err(PlaybackError::Invalid(_))
    ));
}

#[test]
fn hls_playlist_and_fmp4_segments_play_in_ffmpeg() {
    let frags = stored();
    let dir = tempfile::tempdir().unwrap();
    let metas: Vec<FragmentMeta> = frags.iter().map(|f| f.meta.clone()).collect();
    let playlist = hls::media_playlist(&metas, false, &|n| format!("seg-{n}.m4s"));
    assert!(playlist.contains("#EXT-X-TARGETDURATION:1\n"), "{playlist}");
    assert!(
        playlist.contains("#EXT-X-MEDIA-SEQUENCE:10\n"),
        "{playlist}"
    );
    assert!(
        playlist.contains("#EXT-X-MAP:URI=\"init-10.mp4\"\n"),
        "{playlist}"
    );
    assert!(
        playlist.contains("#EXT-X-PROGRAM-DATE-TIME:2026-12-06T10:00:01.000Z\n"),
        "{playlist}"
    );
    assert!(playlist.ends_with("#EXT-X-ENDLIST\n"));
    assert!(!playlist.contains("DISCONTINUITY"));
    assert_eq!(playlist.matches("#EXTINF:1.000000,").count(), 4);
    std::fs::write(
        dir.path().join("init-10.mp4"),
        hls::init_segment(&frags[0].track),
    )
    .unwrap();
    for f in &frags {
        let name = format!("seg-{}.m4s", f.meta.number);
        std::fs::write(dir.path().join(name), hls::segment(f).unwrap()).unwrap();
    }
    let path = dir.path().join("index.m3u8");
    std::fs::write(&path, &playlist).unwrap();
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-allowed_extensions", "ALL", "-i"])
        .arg(&path)
        .args(["-f", "framemd5", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let frames: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    assert_eq!(frames.len(), 100, "{frames:?}");
    // framemd5's pts column (1/25 s time base after decoding): 0..99.
    let pts: Vec<i64> = frames
        .iter()
        .map(|l| l.split(',').nth(2).unwrap().trim().parse().unwrap())
        .collect();
    let first = pts[0];
    assert!(
        pts.iter()
            .enumerate()
            .all(|(i, &p)| p - first == i64::try_from(i).unwrap()),
        "{pts:?}"
    );

    // Not contiguous: a discontinuity, and a new map for a new size.
    let mut gap = metas.clone();
    gap[2].producer_ns += 3 * SEC;
    gap[3].width = 640;
    let playlist = hls::media_playlist(&gap, true, &|n| format!("seg-{n}.m4s"));
    assert_eq!(
        playlist.matches("#EXT-X-DISCONTINUITY\n").count(),
        2,
        "{playlist}"
    );
    assert_eq!(playlist.matches("#EXT-X-MAP").count(), 2, "{playlist}");
    assert!(!playlist.contains("ENDLIST"));
}

#[test]
fn images_are_the_frames_shown_at_each_time_and_none_without_media() {
    let frags = stored();
    let metas: Vec<FragmentMeta> = frags.iter().map(|f| f.meta.clone()).collect();
    let mut reads = 0;
    let mut read = |n: u64| {
        reads += 1;
        Ok(frags.iter().find(|f| f.meta.number == n).unwrap().clone())
    };
    let request = ImageRequest {
        start_ns: T0 + 3 * SEC / 10,
        end_ns: T0 + 5 * SEC,
        every: Duration::from_millis(500),
        format: ImageFormat::Jpeg,
        width: Some(160),
        height: None,
        max_images: 100,
    };
    let images = sample_fragments(&request, &metas, &mut read).unwrap();
    assert_eq!(images.len(), 10);
    assert_eq!(images.iter().filter(|i| i.data.is_some()).count(), 8);
    assert!(images[8].data.is_none() && images[9].data.is_none());
    assert_eq!(reads, 4);
    for i in images.iter().filter_map(|i| i.data.as_ref()) {
        let img = image::load_from_memory_with_format(i, image::ImageFormat::Jpeg).unwrap();
        assert_eq!((img.width(), img.height()), (160, 120));
    }

    // The frame at 1.28 s, shown at 1.3 s: alone, and in a run from the key
    // frame that decodes every frame; unlike the frame before it.
    let one = |start_ns: u64, every: u64, n: usize| {
        let request = ImageRequest {
            start_ns,
            end_ns: start_ns + every * n as u64,
            every: Duration::from_nanos(every),
            format: ImageFormat::Png,
            width: None,
            height: None,
            max_images: n,
        };
        sample_fragments(&request, &metas, &mut |n| {
            Ok(frags.iter().find(|f| f.meta.number == n).unwrap().clone())
        })
        .unwrap()
    };
    let alone = one(T0 + 13 * SEC / 10, SEC, 1);
    let run = one(T0 + SEC, SEC / 50, 16);
    assert_eq!(run[15].ts_ns, T0 + 13 * SEC / 10);
    let png = |i: &super::images::SampledImage| {
        image::load_from_memory(i.data.as_ref().unwrap())
            .unwrap()
            .to_rgb8()
    };
    assert_eq!(png(&alone[0]).dimensions(), (320, 240));
    assert_eq!(png(&alone[0]), png(&run[15]));
    assert_eq!(
        png(&run[14]),
        png(&run[15]),
        "1.28 s and 1.3 s show the same frame"
    );
    assert_ne!(
        png(&run[13]),
        png(&run[15]),
        "1.26 s shows the frame at 1.24 s"
    );
}
