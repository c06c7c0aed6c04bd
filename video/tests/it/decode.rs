//! Decoding generated clips: counts, chunking, timestamps, stream info,
//! URIs, early drop and chunks that outlive their decoder.

use osprey_kernels::PixelFormat;
use osprey_video::{ClipSpec, DecodeOptions, Decoder, FrameChunk};

use crate::common::{TestResult, clip, decode_all, s, within};

const SPEC: ClipSpec = ClipSpec {
    width: 160,
    height: 96,
    fps: 25,
    frames: 30,
    cut_every: 10,
};

#[test]
fn generated_clip_decodes_frame_for_frame() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = clip(dir.path(), "clip.mp4", &SPEC)?;
    let mut sizes = Vec::new();
    let decoded = decode_all(s(&path), 8, |view, _| {
        sizes.push((view.width(), view.height(), view.format()));
        Ok(())
    })?;
    assert_eq!(decoded.metas.len(), 30);
    assert_eq!(decoded.chunk_sizes, [8, 8, 8, 6]);
    assert!(
        sizes.iter().all(|&s| s == (160, 96, PixelFormat::I420)),
        "{sizes:?}"
    );
    let info = decoded.info.ok_or("info known after open")?;
    assert_eq!(
        (info.width, info.height, info.format),
        (160, 96, PixelFormat::I420)
    );
    assert_eq!(decoded.frame_rate, Some(25.0));
    let duration = decoded.duration.ok_or("mp4 has a duration")?;
    assert!((duration - 1.2).abs() < 1e-6, "{duration}");
    for (i, meta) in decoded.metas.iter().enumerate() {
        assert_eq!(meta.index, i as u64);
        let pts = meta.pts.ok_or("every frame has a pts")?;
        assert!((pts - i as f64 / 25.0).abs() < 1e-6, "frame {i}: {pts}");
    }
    assert!(decoded.metas.windows(2).all(|w| w[0].pts < w[1].pts));
    Ok(())
}

#[test]
fn chunk_of_one_and_chunk_larger_than_the_clip() -> TestResult {
    let dir = tempfile::tempdir()?;
    let spec = ClipSpec { frames: 5, ..SPEC };
    let path = clip(dir.path(), "short.mp4", &spec)?;
    assert_eq!(decode_all(s(&path), 1, |_, _| Ok(()))?.chunk_sizes, [1; 5]);
    assert_eq!(decode_all(s(&path), 64, |_, _| Ok(()))?.chunk_sizes, [5]);
    Ok(())
}

#[test]
fn file_uri_decodes_like_the_path() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = clip(dir.path(), "uri clip#1.mp4", &SPEC)?;
    let uri = gstreamer::glib::filename_to_uri(&path, None)?;
    assert!(uri.contains("%20"), "{uri}");
    let by_uri = decode_all(&uri, 8, |_, _| Ok(()))?;
    let by_path = decode_all(s(&path), 8, |_, _| Ok(()))?;
    assert_eq!(by_uri.metas, by_path.metas);
    assert_eq!(by_uri.metas.len(), 30);
    Ok(())
}

#[test]
fn relative_path_is_resolved() -> TestResult {
    // Relative to the crate directory, where cargo runs tests.
    let dir = tempfile::tempdir_in(".")?;
    let path = clip(dir.path(), "rel.mp4", &ClipSpec { frames: 3, ..SPEC })?;
    let name = path.file_name().ok_or("file name")?;
    let rel = std::path::Path::new(dir.path().file_name().ok_or("dir name")?).join(name);
    assert!(rel.is_relative());
    assert_eq!(decode_all(s(&rel), 8, |_, _| Ok(()))?.metas.len(), 3);
    Ok(())
}

#[test]
fn dropping_a_decoder_mid_stream_does_not_hang() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = clip(dir.path(), "long.mp4", &ClipSpec { frames: 60, ..SPEC })?;
    let input = s(&path).to_owned();
    // chunk 2: the appsink queue (4 buffers) fills and blocks the decoder
    // while we hold the first chunk; dropping must unblock and stop it.
    let held: FrameChunk = within(move || -> Result<FrameChunk, String> {
        let mut decoder = Decoder::open(
            &input,
            DecodeOptions {
                chunk_frames: 2,
                ..DecodeOptions::default()
            },
        )
        .map_err(|e| e.to_string())?;
        std::thread::sleep(std::time::Duration::from_millis(200));
        let chunk = decoder.next_chunk().map_err(|e| e.to_string())?;
        drop(decoder);
        chunk.ok_or_else(|| "no first chunk".to_owned())
    })?;
    // The chunk outlives its pipeline: its buffers stay mapped.
    let views = held.views();
    assert_eq!(views.len(), 2);
    assert_eq!(views[1].width(), 160);
    assert_eq!(held.metas()[1].index, 1);
    let y_sum: u64 = (0..96)
        .map(|y| {
            views[0]
                .plane(0)
                .row(y, 160)
                .iter()
                .map(|&v| u64::from(v))
                .sum::<u64>()
        })
        .sum();
    assert!(y_sum > 0, "first frame (smpte bars) is not black");
    Ok(())
}

#[test]
fn calls_after_end_of_stream_keep_returning_none() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = clip(dir.path(), "eos.mp4", &ClipSpec { frames: 3, ..SPEC })?;
    let mut decoder = Decoder::open(s(&path), DecodeOptions::default())?;
    assert_eq!(decoder.next_chunk()?.map(|c| c.len()), Some(3));
    assert!(decoder.next_chunk()?.is_none());
    assert!(decoder.next_chunk()?.is_none());
    // Info stays known after the pipeline is stopped.
    assert_eq!(decoder.info().map(|i| i.width), Some(160));
    assert_eq!(decoder.frame_rate(), Some(25.0));
    assert!(decoder.duration().is_some());
    Ok(())
}

#[test]
fn decoders_and_chunks_move_between_threads() {
    fn is_send<T: Send>() {}
    is_send::<Decoder>();
    is_send::<FrameChunk>();
}
