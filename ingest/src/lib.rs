//! osprey's stream layer: records, sinks and codecs.
//!
//! Today this crate holds the first sink, [`NdjsonSink`], through which the
//! `osprey` binary writes every result record: one JSON value a line, buffered,
//! with a closed pipe reported as its own error ([`IngestError::BrokenPipe`]) so
//! that `osprey analyze clip.mp4 | head` ends quietly and successfully.
//!
//! [`store`] is the embedded stream store: streams of shards in a data
//! directory, with Kinesis Data Streams semantics ([`Store`]).
//!
//! The rest of the stream layer (streams and shards, the embedded store,
//! sources, the chunker into Arrow batches) grows here; see `DESIGN.md`.

#![warn(unreachable_pub)]

pub mod chunk;
pub mod codec;
pub mod consume;
pub mod deliver;
pub mod error;
pub mod kinesis;
pub mod listen;
pub mod sink;
pub mod store;
pub mod tcp;

pub use error::{IngestError, Result};
pub use sink::{NdjsonSink, StreamLines, Webhook, WebhookConfig, WebhookError, WebhookLines};
pub use store::Store;
