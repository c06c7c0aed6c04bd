//! Thumbnails: a small JPEG of the frame at each event, in one folder
//! (`osprey analyze --thumbnails DIR`).
//!
//! The frame is downscaled by the backend ([`Backend::downscale`], an exact
//! area filter on both backends) to the requested width, keeping the aspect
//! ratio with an even height, converted from I420 to RGB with integer BT.601
//! limited-range coefficients, and encoded by the `image` crate. Buffers are
//! kept between thumbnails. [`frame_jpeg`] does the same for a live
//! source's latest frame on request, with the CPU downscaler.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use image::ExtendedColorType;
use image::codecs::jpeg::JpegEncoder;
use osprey_kernels::{Backend, FrameView, OwnedFrame, PixelFormat};

use crate::VideoError;

/// JPEG quality of thumbnails (0-100).
const QUALITY: u8 = 85;

/// Longest a name part (source, event) may be in a file name.
const MAX_NAME_PART: usize = 80;

/// Writes thumbnails into one folder.
#[derive(Debug)]
pub struct Thumbnails {
    dir: PathBuf,
    width: u32,
    scaled: OwnedFrame,
    rgb: Vec<u8>,
}

impl Thumbnails {
    /// Thumbnails `width` pixels wide (or the frame's width, if smaller) in
    /// `dir`, which is created when missing and checked for writing (a file
    /// is created there and removed), so that a folder osprey cannot use
    /// fails before any frame is decoded rather than at the first event.
    ///
    /// # Errors
    /// [`VideoError::Config`] when `width` is 0;
    /// [`VideoError::ThumbnailFolder`] when `dir` is not a folder, cannot be
    /// created, or cannot be written to.
    pub fn new(dir: PathBuf, width: u32) -> Result<Self, VideoError> {
        if width == 0 {
            return Err(VideoError::Config(
                "the thumbnail width must be at least 1 pixel".into(),
            ));
        }
        check_folder(&dir)?;
        Ok(Thumbnails {
            dir,
            width,
            scaled: OwnedFrame::zeroed(PixelFormat::I420, 1, 1, 0),
            rgb: Vec::new(),
        })
    }

    /// Writes the thumbnail of `frame` for `event` at `frame_index` of
    /// `source` and returns its file name (in the folder given to [`Thumbnails::new`]):
    /// `<source>-<frame>-<event>.jpg`, with anything but ASCII letters,
    /// digits, `.`, `_` and `-` replaced by `_`.
    ///
    /// # Errors
    /// [`VideoError::Downscale`] with the backend's error;
    /// [`VideoError::ThumbnailCreate`] or [`VideoError::ThumbnailEncode`]
    /// when the file cannot be written.
    pub fn write(
        &mut self,
        backend: &mut dyn Backend,
        frame: &FrameView<'_>,
        source: &str,
        frame_index: u64,
        event: &str,
    ) -> Result<String, VideoError> {
        let (width, height) = thumbnail_size(frame.width(), frame.height(), self.width);
        backend
            .downscale(frame, width, height, &mut self.scaled)
            .map_err(VideoError::Downscale)?;
        let name = format!(
            "{}-{frame_index}-{}.jpg",
            sanitise(source, "source"),
            sanitise(event, "event")
        );
        let path = self.dir.join(&name);
        let file = match File::create(&path) {
            Ok(file) => file,
            Err(source) => return Err(VideoError::ThumbnailCreate { path, source }),
        };
        match encode_jpeg(&self.scaled, &mut self.rgb, QUALITY, BufWriter::new(file)) {
            Ok(()) => Ok(name),
            Err(e) => Err(VideoError::ThumbnailEncode {
                path,
                source: Box::new(e),
            }),
        }
    }
}

/// Makes sure thumbnails can be written into `dir`: creates it when missing,
/// then creates and removes a probe file in it.
fn check_folder(dir: &Path) -> Result<(), VideoError> {
    let fail =
        |problem: &'static str, source: Option<std::io::Error>| VideoError::ThumbnailFolder {
            dir: dir.to_owned(),
            problem,
            source,
        };
    match std::fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => return Err(fail("not a folder", None)),
        Ok(_) => {}
        Err(_) => {
            std::fs::create_dir_all(dir).map_err(|e| fail("cannot create the folder", Some(e)))?
        }
    }
    let probe = dir.join(format!(".osprey-write-check-{}", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe);
    match written {
        Ok(file) => {
            drop(file);
            // A probe left behind is harmless; the check itself passed.
            if let Err(e) = std::fs::remove_file(&probe) {
                tracing::debug!(path = ?probe, error = %e, "Cannot remove the write probe.");
            }
            Ok(())
        }
        Err(e) => Err(fail("cannot write there", Some(e))),
    }
}

/// The thumbnail size of a `frame_width` x `frame_height` frame at `width`:
/// never wider or taller than the frame, height from the aspect ratio rounded
/// to an even number (at least 2 when the frame allows).
pub(crate) fn thumbnail_size(frame_width: u32, frame_height: u32, width: u32) -> (u32, u32) {
    let w = width.clamp(1, frame_width.max(1));
    let (fw, fh) = (
        u64::from(frame_width.max(1)),
        u64::from(frame_height.max(1)),
    );
    // round(fh * w / fw / 2) * 2
    let even = (fh * u64::from(w) + fw) / (2 * fw) * 2;
    let h = even.clamp(2.min(fh), fh);
    (w, u32::try_from(h).unwrap_or(u32::MAX))
}

/// `text` as a safe file-name part; `fallback` when nothing is left.
fn sanitise(text: &str, fallback: &str) -> String {
    let out: String = text
        .chars()
        .take(MAX_NAME_PART)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    // No hidden files, no `..`.
    let out = out.trim_start_matches('.');
    if out.is_empty() {
        fallback.to_owned()
    } else {
        out.to_owned()
    }
}

/// One pixel from BT.601 limited-range Y, U, V (integer coefficients scaled
/// by 256, as libswscale's and most players' fixed-point converters).
pub(crate) fn yuv_to_rgb(y: u8, u: u8, v: u8) -> [u8; 3] {
    let c = 298 * (i32::from(y) - 16);
    let d = i32::from(u) - 128;
    let e = i32::from(v) - 128;
    let clip = |x: i32| ((x + 128) >> 8).clamp(0, 255) as u8;
    [
        clip(c + 409 * e),
        clip(c - 100 * d - 208 * e),
        clip(c + 516 * d),
    ]
}

/// `frame` (I420 or NV12, any strides) area-downscaled on the CPU to at
/// most `max_width` pixels wide (aspect kept, as [`thumbnail_size`]) and
/// encoded as a JPEG of `quality`: the latest frame a watcher asks for
/// ([`crate::live::SourceStatus::latest_jpeg`]).
///
/// # Errors
/// The downscaler's or the encoder's error, as a sentence.
pub(crate) fn frame_jpeg(
    frame: &FrameView<'_>,
    max_width: u32,
    quality: u8,
) -> Result<Vec<u8>, String> {
    let (width, height) = thumbnail_size(frame.width(), frame.height(), max_width);
    let mut scaled = OwnedFrame::zeroed(PixelFormat::I420, 1, 1, 0);
    osprey_kernels::cpu::downscale::downscale(frame, width, height, &mut scaled)
        .map_err(|e| e.to_string())?;
    let mut jpeg = Vec::new();
    encode_jpeg(&scaled, &mut Vec::new(), quality, &mut jpeg).map_err(|e| e.to_string())?;
    Ok(jpeg)
}

/// Converts an I420 `frame` to RGB (in `rgb`, kept between calls) and
/// writes it to `out` as a JPEG of `quality`.
fn encode_jpeg(
    frame: &OwnedFrame,
    rgb: &mut Vec<u8>,
    quality: u8,
    out: impl std::io::Write,
) -> image::ImageResult<()> {
    i420_to_rgb(frame, rgb);
    JpegEncoder::new_with_quality(out, quality).encode(
        rgb,
        frame.width,
        frame.height,
        ExtendedColorType::Rgb8,
    )
}

/// Packed RGB of an I420 frame into `rgb` (resized to fit).
fn i420_to_rgb(frame: &OwnedFrame, rgb: &mut Vec<u8>) {
    let (w, h) = (frame.width as usize, frame.height as usize);
    rgb.clear();
    rgb.reserve(w * h * 3);
    let view = frame.view();
    let (cw, _) = view.chroma_size();
    let cw = cw as usize;
    for y in 0..h {
        let luma = view.plane(0).row(y, w);
        let u = view.plane(1).row(y / 2, cw);
        let v = view.plane(2).row(y / 2, cw);
        for (x, &l) in luma.iter().enumerate() {
            rgb.extend_from_slice(&yuv_to_rgb(l, u[x / 2], v[x / 2]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use osprey_kernels::KernelSet;
    use osprey_kernels::cpu::CpuBackend;

    #[test]
    fn sizes_keep_the_aspect_ratio_with_even_heights() {
        assert_eq!(thumbnail_size(1920, 1080, 320), (320, 180));
        assert_eq!(thumbnail_size(1280, 720, 300), (300, 168));
        assert_eq!(thumbnail_size(640, 480, 1000), (640, 480));
        assert_eq!(thumbnail_size(5, 3, 5), (5, 3));
        assert_eq!(thumbnail_size(100, 1, 10), (10, 1));
        assert_eq!(thumbnail_size(1000, 10, 10), (10, 2));
    }

    #[test]
    fn conversion_follows_the_bt601_matrix() {
        // The float matrix of BT.601 limited range, independent of the
        // fixed-point form.
        for (y, u, v) in [
            (16, 128, 128),
            (235, 128, 128),
            (81, 90, 240),
            (145, 54, 34),
            (41, 240, 110),
            (120, 10, 200),
        ] {
            let (yf, uf, vf) = (
                f64::from(y) - 16.0,
                f64::from(u) - 128.0,
                f64::from(v) - 128.0,
            );
            let want = [
                1.164 * yf + 1.596 * vf,
                1.164 * yf - 0.392 * uf - 0.813 * vf,
                1.164 * yf + 2.017 * uf,
            ];
            let got = yuv_to_rgb(y, u, v);
            for c in 0..3 {
                let want = want[c].round().clamp(0.0, 255.0);
                assert!(
                    (f64::from(got[c]) - want).abs() <= 1.0,
                    "{y},{u},{v}: {got:?} vs {want}"
                );
            }
        }
    }

    #[test]
    fn names_are_safe() {
        assert_eq!(sanitise("cam 1/front", "source"), "cam_1_front");
        assert_eq!(sanitise("../..", "source"), "_..");
        assert_eq!(sanitise("", "event"), "event");
        assert_eq!(sanitise("...", "event"), "event");
    }

    #[test]
    fn a_red_frame_becomes_a_red_jpeg() {
        let dir = tempfile::tempdir().unwrap();
        let mut thumbs = Thumbnails::new(dir.path().join("thumbs"), 32).unwrap();
        let mut frame = OwnedFrame::zeroed(PixelFormat::Nv12, 64, 48, 4);
        frame.planes[0].fill(81);
        for pair in frame.planes[1].chunks_exact_mut(2) {
            pair.copy_from_slice(&[90, 240]);
        }
        let mut backend = CpuBackend::new(KernelSet::NONE);
        let name = thumbs
            .write(&mut backend, &frame.view(), "cam 1", 12, "motion_start")
            .unwrap();
        assert_eq!(name, "cam_1-12-motion_start.jpg");
        let img = image::open(dir.path().join("thumbs").join(&name))
            .unwrap()
            .to_rgb8();
        assert_eq!(img.dimensions(), (32, 24));
        let n = f64::from(32 * 24);
        let mean: Vec<f64> = (0..3)
            .map(|c| img.pixels().map(|p| f64::from(p.0[c])).sum::<f64>() / n)
            .collect();
        assert!(
            mean[0] > 245.0 && mean[1] < 10.0 && mean[2] < 10.0,
            "{mean:?}"
        );
    }

    #[test]
    fn an_unwritable_folder_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, "x").unwrap();
        let problem = |err: VideoError| match err {
            VideoError::ThumbnailFolder {
                problem, source, ..
            } => (problem, source.is_some()),
            other => panic!("not a folder error: {other}"),
        };
        let err = Thumbnails::new(file.join("sub"), 32).unwrap_err();
        assert_eq!(problem(err), ("cannot create the folder", true));
        let err = Thumbnails::new(file.clone(), 32).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("thumbnail folder {file:?}: not a folder")
        );
        assert_eq!(problem(err), ("not a folder", false));
        // /sys refuses new files even to root.
        let err = Thumbnails::new("/sys".into(), 32).unwrap_err();
        assert_eq!(problem(err), ("cannot write there", true));
        assert!(Thumbnails::new(dir.path().into(), 0).is_err());
        // A usable folder keeps no probe behind.
        Thumbnails::new(dir.path().join("new"), 32).unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path().join("new")).unwrap().count(),
            0
        );
    }
}
