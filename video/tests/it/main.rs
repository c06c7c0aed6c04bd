//! Integration tests of osprey-video: real GStreamer decodes held to ffmpeg
//! and ffprobe run on the same files.

mod common;
mod corrupt;
mod decode;
mod errors;
mod generate;
mod oracle;
