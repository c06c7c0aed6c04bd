//! Chunks of decoded frames, borrowed by the kernels in place.
//!
//! Each frame keeps GStreamer's mapping of its buffer (a
//! `gst_video::VideoFrame<Readable>`), so [`FrameChunk::views`] hands out
//! [`FrameView`]s over GStreamer's own memory, with the plane offsets and row
//! strides the decoder chose: nothing is copied or repacked. The mapping ends,
//! and the buffer goes back to the decoder's pool, when the chunk is dropped.

use gst_video::prelude::*;
use gstreamer as gst;
use gstreamer_video as gst_video;
use osprey_kernels::{FrameView, PixelFormat, Plane};

use crate::issue::DecodeIssue;

/// A decoded frame's place in the stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameMeta {
    /// 0-based index, counting frames in the order the decoder outputs them
    /// (presentation order).
    pub index: u64,
    /// Presentation timestamp in seconds of stream time (the buffer PTS taken
    /// through its segment, as ffprobe's `pts_time`), when the stream has one.
    pub pts: Option<f64>,
    /// Wall-clock capture time in Unix seconds: from the sender's RTCP/NTP
    /// clock when a live source provides it, else the arrival time on this
    /// host; for files only when a start time is known. `None` otherwise.
    pub ts: Option<f64>,
}

/// One mapped frame: the mapping owns a reference to the buffer.
struct Mapped {
    frame: gst_video::VideoFrame<gst_video::video_frame::Readable>,
    format: PixelFormat,
}

impl Mapped {
    /// The kernels' view of this frame.
    fn view(&self) -> Result<FrameView<'_>, String> {
        let frame = &self.frame;
        let strides = frame.plane_stride();
        let plane = |p: u32| -> Result<Plane<'_>, String> {
            if p >= frame.n_planes() {
                return Ok(Plane {
                    data: &[],
                    stride: 0,
                });
            }
            let data = frame
                .plane_data(p)
                .map_err(|e| format!("cannot read plane {p}: {e}"))?;
            let stride = strides
                .get(p as usize)
                .and_then(|&s| usize::try_from(s).ok())
                .ok_or_else(|| format!("plane {p} has a negative or missing stride"))?;
            Ok(Plane { data, stride })
        };
        FrameView::new(
            self.format,
            frame.width(),
            frame.height(),
            [plane(0)?, plane(1)?, plane(2)?],
        )
        .map_err(|e| e.to_string())
    }
}

/// A chunk of decoded frames, each in its native I420/NV12 layout.
///
/// Frames are mapped for reading until the chunk is dropped; holding many
/// chunks holds that many decoder buffers.
pub struct FrameChunk {
    frames: Vec<Mapped>,
    metas: Vec<FrameMeta>,
    issues: Vec<DecodeIssue>,
}

impl std::fmt::Debug for FrameChunk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameChunk")
            .field("len", &self.frames.len())
            .field("metas", &self.metas)
            .field("issues", &self.issues)
            .finish()
    }
}

impl FrameChunk {
    /// An empty chunk with room for `capacity` frames.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        FrameChunk {
            frames: Vec::with_capacity(capacity),
            metas: Vec::with_capacity(capacity),
            issues: Vec::new(),
        }
    }

    /// Adds issues the decoder met before (or, at the end, after) these frames.
    pub(crate) fn add_issues(&mut self, issues: impl IntoIterator<Item = DecodeIssue>) {
        self.issues.extend(issues);
    }

    /// Maps `buffer` as a frame described by `info` and appends it.
    ///
    /// # Errors
    /// A reason when the format is not I420/NV12, the buffer cannot be
    /// mapped, or its planes are too short for the frame.
    pub(crate) fn push(
        &mut self,
        buffer: gst::Buffer,
        info: &gst_video::VideoInfo,
        meta: FrameMeta,
    ) -> Result<(), String> {
        let format = match info.format() {
            gst_video::VideoFormat::I420 => PixelFormat::I420,
            gst_video::VideoFormat::Nv12 => PixelFormat::Nv12,
            other => return Err(format!("unexpected pixel format {other:?}")),
        };
        let frame = gst_video::VideoFrame::from_buffer_readable(buffer, info)
            .map_err(|_| format!("cannot map frame {} for reading", meta.index))?;
        let mapped = Mapped { frame, format };
        // Check once here, so `views` cannot fail later.
        mapped.view()?;
        self.frames.push(mapped);
        self.metas.push(meta);
        Ok(())
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// True when the chunk has no frames.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Borrowed views of the frames, for the kernels, in stream order.
    pub fn views(&self) -> Vec<FrameView<'_>> {
        self.frames
            .iter()
            .map(|m| {
                m.view()
                    .expect("every frame's view was checked when it was mapped")
            })
            .collect()
    }

    /// Damage the decoder went past on its way to these frames, each naming the
    /// first frame after it (see [`DecodeIssue`]); usually empty. A chunk with
    /// no frames carries the issues met after the stream's last frame.
    pub fn issues(&self) -> &[DecodeIssue] {
        &self.issues
    }

    /// Index and pts of every frame, parallel to [`FrameChunk::views`].
    pub fn metas(&self) -> &[FrameMeta] {
        &self.metas
    }
}

/// The presentation time of `buffer` in seconds of stream time.
///
/// The PTS is taken through the sample's segment, so a file whose first
/// frame has PTS 0 in the container gives 0.0 even when the demuxer shifted
/// buffer timestamps (edit lists, B-frame delay). Stream time before the
/// segment start is negative, as ffprobe prints it.
///
/// Known demuxer quirk: when an MKV's audio starts before its video (AAC
/// priming shifted by ffmpeg), GStreamer 1.22's matroskademux first sends a
/// segment starting at the first video timestamp and corrects it a frame or
/// two later, so the first frame can read 0.0 where ffprobe says 0.023.
pub(crate) fn pts_seconds(buffer: &gst::BufferRef, segment: Option<&gst::Segment>) -> Option<f64> {
    let pts = buffer.pts()?;
    let Some(segment) = segment.and_then(|s| s.downcast_ref::<gst::ClockTime>()) else {
        return Some(pts.seconds_f64());
    };
    match segment.to_stream_time_full(pts) {
        Some(gst::format::Signed::Positive(t)) => Some(t.seconds_f64()),
        Some(gst::format::Signed::Negative(t)) => Some(-t.seconds_f64()),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pts_follows_the_segment() -> Result<(), Box<dyn std::error::Error>> {
        crate::init::init()?;
        let mut buffer = gst::Buffer::new();
        buffer
            .get_mut()
            .ok_or("new buffer is writable")?
            .set_pts(gst::ClockTime::from_mseconds(1_080));
        let mut segment = gst::FormattedSegment::<gst::ClockTime>::new();
        segment.set_start(gst::ClockTime::from_mseconds(1_000));
        segment.set_time(gst::ClockTime::ZERO);
        let pts = pts_seconds(&buffer, Some(segment.upcast_ref()));
        assert!(pts.is_some_and(|p| (p - 0.08).abs() < 1e-9), "{pts:?}");
        assert_eq!(pts_seconds(&buffer, None), Some(1.08));
        Ok(())
    }

    #[test]
    fn padded_i420_frame_is_viewed_with_its_stride() -> Result<(), Box<dyn std::error::Error>> {
        crate::init::init()?;
        // GStreamer's default I420 layout for 5x3 pads rows to 4 bytes: Y
        // stride 8, chroma stride 4 (3 samples a row).
        let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, 5, 3).build()?;
        assert_eq!(info.stride()[..3], [8, 4, 4]);
        let mut bytes = vec![0u8; info.size()];
        bytes[8 * 2 + 4] = 200; // Y at (4, 2)
        let mut chunk = FrameChunk::with_capacity(1);
        chunk.push(
            gst::Buffer::from_mut_slice(bytes),
            &info,
            FrameMeta {
                index: 0,
                pts: None,
                ts: None,
            },
        )?;
        let views = chunk.views();
        assert_eq!(views.len(), 1);
        assert_eq!(views[0].plane(0).stride, 8);
        assert_eq!(views[0].plane(0).row(2, 5), [0, 0, 0, 0, 200]);
        assert_eq!(views[0].plane(1).stride, 4);
        Ok(())
    }

    #[test]
    fn nv12_frame_follows_its_video_meta_not_the_default_layout()
    -> Result<(), Box<dyn std::error::Error>> {
        crate::init::init()?;
        // A 99x61 NV12 frame laid out tightly as ffmpeg packs it: Y stride 99
        // and UV stride 100, both unlike GStreamer's default (100, 100), with
        // the UV plane right after the Y plane plus 3 spare bytes.
        let (w, h, cw, ch) = (99usize, 61usize, 50usize, 31usize);
        let uv_offset = w * h + 3;
        let mut bytes = vec![0u8; uv_offset + 2 * cw * ch];
        for y in 0..h {
            for x in 0..w {
                bytes[y * w + x] = ((x + 2 * y) % 251) as u8;
            }
        }
        for y in 0..ch {
            for x in 0..2 * cw {
                bytes[uv_offset + y * 2 * cw + x] = ((3 * x + y) % 241) as u8;
            }
        }
        let mut buffer = gst::Buffer::from_mut_slice(bytes);
        gst_video::VideoMeta::add_full(
            buffer.get_mut().ok_or("new buffer is writable")?,
            gst_video::VideoFrameFlags::empty(),
            gst_video::VideoFormat::Nv12,
            99,
            61,
            &[0, uv_offset],
            &[99, 100],
        )?;
        let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::Nv12, 99, 61).build()?;
        assert_eq!(info.stride()[..2], [100, 100]);
        let mut chunk = FrameChunk::with_capacity(1);
        chunk.push(
            buffer,
            &info,
            FrameMeta {
                index: 0,
                pts: None,
                ts: None,
            },
        )?;
        let views = chunk.views();
        let view = views.first().ok_or("one view")?;
        assert_eq!(view.format(), PixelFormat::Nv12);
        assert_eq!((view.plane(0).stride, view.plane(1).stride), (99, 100));
        for y in 0..h {
            let expect: Vec<u8> = (0..w).map(|x| ((x + 2 * y) % 251) as u8).collect();
            assert_eq!(view.plane(0).row(y, w), expect, "Y row {y}");
        }
        for y in 0..ch {
            let expect: Vec<u8> = (0..2 * cw).map(|x| ((3 * x + y) % 241) as u8).collect();
            assert_eq!(view.plane(1).row(y, 2 * cw), expect, "UV row {y}");
        }
        assert!(view.plane(2).data.is_empty());
        Ok(())
    }

    #[test]
    fn other_formats_and_short_buffers_are_refused() -> Result<(), Box<dyn std::error::Error>> {
        crate::init::init()?;
        let meta = FrameMeta {
            index: 3,
            pts: None,
            ts: None,
        };
        let rgba = gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgba, 2, 2).build()?;
        let mut chunk = FrameChunk::with_capacity(1);
        let err = chunk.push(gst::Buffer::from_mut_slice(vec![0u8; 16]), &rgba, meta);
        assert!(err.is_err_and(|e| e.contains("Rgba")));
        let nv12 = gst_video::VideoInfo::builder(gst_video::VideoFormat::Nv12, 4, 4).build()?;
        let err = chunk.push(gst::Buffer::from_mut_slice(vec![0u8; 5]), &nv12, meta);
        assert!(err.is_err_and(|e| e.contains("frame 3")));
        assert!(chunk.is_empty());
        Ok(())
    }
}
