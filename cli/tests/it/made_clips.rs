//! Clips made by ffmpeg for the event, thumbnail and input-format tests,
//! each once a test run, in cargo's scratch folder.
//!
//! Most are lossless FFV1 in Matroska, so every frame decodes to exactly what
//! the filter graph drew and the ground truth of a test is the graph itself.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::common::{arg, ffmpeg};

/// FFV1, lossless, for the `output` arguments of [`made`].
pub const FFV1: [&str; 2] = ["-c:v", "ffv1"];

/// Makes `name` once a run: ffmpeg with the filter graph `graph` (sources
/// included, one unlabelled output), `frames` frames, then `output` (codec,
/// pixel format) and the path.
pub fn made(
    cell: &'static OnceLock<PathBuf>,
    name: &str,
    graph: &str,
    frames: u32,
    output: &[&str],
) -> &'static Path {
    cell.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("osprey-it-made");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        let frames = frames.to_string();
        let mut args = vec!["-filter_complex", graph, "-frames:v", &frames];
        args.extend_from_slice(output);
        args.push(arg(&path));
        ffmpeg(&args);
        path
    })
}
