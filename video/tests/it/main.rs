//! Integration tests of osprey-video: real GStreamer decodes held to ffmpeg
//! and ffprobe run on the same files, and analyses driven through the
//! library alone.

mod analysis;
mod common;
mod corrupt;
mod decode;
mod errors;
mod generate;
mod live;
mod live_input;
mod live_rtsp;
mod oracle;
