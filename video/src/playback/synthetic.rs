//! Encoded test fragments made in memory: GStreamer's test pattern through
//! x264 (no B-frames, a key frame every `fragment` of frames), cut at each
//! key frame into [`FragmentIn`]s as the store keeps them. For tests and
//! benchmarks of playback without a recorder or a file.

use bytes::Bytes;
use gst::prelude::*;
use gstreamer as gst;
use gstreamer_app as gst_app;

use osprey_ingest::video::{Codec, FragmentIn, Frame, Track};

use super::PlaybackError;
use super::gst_util::Stopper;

/// What [`fragments`] encodes.
#[derive(Debug, Clone, Copy)]
pub struct Synthetic {
    /// Width in pixels (even).
    pub width: u32,
    /// Height in pixels (even).
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
    /// Frames in all.
    pub frames: u32,
    /// Frames per fragment (one GOP each).
    pub gop: u32,
    /// Producer time of the first frame, Unix ns.
    pub start_ns: u64,
}

/// Encodes `spec` and cuts it into one fragment per GOP.
///
/// # Errors
/// [`PlaybackError::Media`] when GStreamer (x264enc, h264parse) fails.
pub fn fragments(spec: &Synthetic) -> Result<Vec<FragmentIn>, PlaybackError> {
    crate::init().map_err(|e| PlaybackError::Media(e.to_string()))?;
    let launch = format!(
        "videotestsrc pattern=ball num-buffers={frames} ! \
         video/x-raw,format=I420,width={w},height={h},framerate={fps}/1 ! \
         x264enc speed-preset=ultrafast bframes=0 key-int-max={gop} \
         option-string=scenecut=0 \
         byte-stream=false ! h264parse ! \
         video/x-h264,stream-format=avc,alignment=au ! appsink name=sink sync=false",
        frames = spec.frames,
        w = spec.width,
        h = spec.height,
        fps = spec.fps,
        gop = spec.gop,
    );
    let media = |e: &dyn std::fmt::Display| PlaybackError::Media(format!("test encoder: {e}"));
    let pipeline = gst::parse::launch(&launch)
        .map_err(|e| media(&e))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| media(&"not a pipeline"))?;
    let _stop = Stopper(pipeline.clone());
    let sink = pipeline
        .by_name("sink")
        .and_then(|s| s.downcast::<gst_app::AppSink>().ok())
        .ok_or_else(|| media(&"no appsink"))?;
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| media(&e))?;
    let mut out: Vec<FragmentIn> = Vec::new();
    let mut track: Option<Track> = None;
    let mut base: Option<u64> = None;
    let frame_ns = 1_000_000_000 / u64::from(spec.fps.max(1));
    while let Ok(sample) = sink.pull_sample() {
        let (Some(buffer), Some(caps)) = (sample.buffer(), sample.caps()) else {
            continue;
        };
        if track.is_none() {
            let s = caps
                .structure(0)
                .ok_or_else(|| media(&"caps without structure"))?;
            let codec_data = s
                .get::<gst::Buffer>("codec_data")
                .map_err(|e| media(&e))?
                .map_readable()
                .map_err(|e| media(&e))?
                .to_vec();
            track = Some(Track {
                codec: Codec::H264,
                codec_data,
                width: spec.width,
                height: spec.height,
            });
        }
        let map = buffer.map_readable().map_err(|e| media(&e))?;
        // Encoders start their timestamps 1000 hours in: count from the
        // first frame's.
        let pts = buffer.pts().map_or(0, gst::ClockTime::nseconds);
        let dts = buffer.dts().map_or(pts, gst::ClockTime::nseconds);
        let base = *base.get_or_insert(dts.min(pts));
        let frame = Frame {
            pts_ns: spec.start_ns + pts.saturating_sub(base),
            dts_ns: spec.start_ns + dts.saturating_sub(base),
            duration_ns: buffer.duration().map_or(frame_ns, gst::ClockTime::nseconds),
            key: !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT),
            data: Bytes::copy_from_slice(&map),
        };
        match (frame.key, out.last_mut(), &track) {
            (false, Some(last), _) => last.frames.push(frame),
            (_, _, Some(t)) => out.push(FragmentIn {
                track: t.clone(),
                frames: vec![frame],
            }),
            _ => {}
        }
    }
    Ok(out)
}
