//! osprey's video layer: GStreamer decode into chunks of frames.
//!
//! [`Decoder::open`] takes a file path or any URI GStreamer can read and
//! decodes its first video stream; [`Decoder::next_chunk`] hands out
//! [`FrameChunk`]s of up to [`DecodeOptions::chunk_frames`] frames, each a
//! read-only mapping of GStreamer's own buffer in I420 or NV12 with the
//! decoder's row strides, which the kernels borrow as
//! [`osprey_kernels::FrameView`]s without a copy. [`generate_clip`] writes
//! H.264 test clips with hard cuts, for demos and tests. [`DecodeThread`]
//! runs a decoder a few chunks ahead on its own thread.
//!
//! Video streams (the store keeps them, `osprey_ingest::video`): [`record`]
//! cuts a source's encoded stream into fragments and appends them,
//! [`playback`] makes MP4 clips, images and HLS from them, and [`kvs`]
//! serves the Kinesis Video Streams API over them.
//!
//! [`analysis`] is the analysis pipeline on top: a source in, the kernels
//! run on each chunk, per-frame figures, events and thumbnails, records out.
//!
//! # Example
//! ```no_run
//! use osprey_video::{DecodeOptions, Decoder};
//!
//! let mut decoder = Decoder::open("clip.mp4", DecodeOptions::default())?;
//! while let Some(chunk) = decoder.next_chunk()? {
//!     for (view, meta) in chunk.views().iter().zip(chunk.metas()) {
//!         let _ = (view.width(), meta.pts);
//!     }
//! }
//! # Ok::<(), osprey_video::VideoError>(())
//! ```

#![warn(unreachable_pub)]

pub mod analysis;
mod capture_time;
mod chunk;
mod decode_thread;
mod decoder;
mod decoder_choice;
mod error;
mod generate;
mod init;
mod input;
mod issue;
pub mod kvs;
pub mod live;
pub mod metrics;
mod pipeline_source;
pub mod playback;
mod rate_limit;
pub mod record;
pub mod source;
pub mod wall_clock;
mod watch;

pub use capture_time::TimeSource;
pub use chunk::{FrameChunk, FrameMeta};
pub use decode_thread::{DecodeThread, OpenedStream};
pub use decoder::{DecodeOptions, Decoder, StreamInfo};
pub use error::{FailureKind, VideoError};
pub use generate::{ClipSpec, generate_clip};
pub use init::init;
pub use issue::DecodeIssue;
