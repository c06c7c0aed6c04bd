//! osprey's stream layer: the embedded stream store and everything that
//! moves records into, out of and between streams. The `osprey` binary only
//! checks arguments into the configs here, prints, and maps errors to exit
//! codes.
//!
//! - [`store`]: the embedded store ([`Store`]): streams of shards in a data
//!   directory with Kinesis Data Streams semantics (partition keys hashed to
//!   shards, sequence numbers, split and merge, retention, consumers'
//!   checkpoints, verification of damage).
//! - [`consume`]: one way to read a stream ([`consume::Consumer`]): every
//!   shard from a position or a checkpoint, parents before children, and,
//!   when caught up, a wait that wakes as soon as the stream's files change.
//! - [`kinesis`]: the Kinesis Data Streams wire API (its operations, shard
//!   iterator tokens, SigV4, the axum router), served by [`http`], the one
//!   HTTP listener of the server (tokio and hyper: connection limits,
//!   timeouts, bounded bodies, TLS, request metrics, graceful stop).
//! - [`tcp`]: the NDJSON line listener (`osprey put --listen`), and
//!   [`listen`], the binding both servers share.
//! - [`codec`]: base64, input lines and CSV rows into records, and a stored
//!   record as one NDJSON line.
//! - [`deliver`]: Firehose-style delivery of a stream into NDJSON, Parquet or
//!   Arrow files, to a webhook or to a broker, with an errors folder and
//!   checkpoints.
//! - [`duration`]: durations as users write them (`500ms`, `5m`,
//!   `forever`).
//! - [`sink`]: where result records go: NDJSON to a writer ([`NdjsonSink`],
//!   a closed pipe reported as [`IngestError::BrokenPipe`] so that
//!   `osprey analyze clip.mp4 | head` ends quietly), a stream
//!   ([`StreamLines`]), a webhook ([`Webhook`]); [`output_spec`] reads
//!   where a command line sends them (`-`, a path, `stream:NAME`,
//!   `http://...`).
//! - [`chunk`]: the chunker that turns NDJSON and CSV records into Arrow
//!   batches for the query engine.
//! - [`video`]: video streams, encoded video kept in durable, time-indexed
//!   fragments ([`video::VideoStore`]), the Kinesis Video Streams side.
//! - [`broker`]: MQTT and NATS (core and JetStream) as outputs of record
//!   lines and as inputs of messages.
//! - [`metrics`]: the names of the metrics the store records through the
//!   `metrics` facade (no-ops until the binary installs a recorder).
//!
//! Errors are [`IngestError`] for the store and the chunker, and one type
//! per area where an area has its own ([`listen::ListenError`],
//! [`http::ServeError`], [`deliver::DeliverError`],
//! [`output_spec::OutputSpecError`]). See `DESIGN.md` for what grows here
//! next (video streams, MQTT and NATS connectors).

#![warn(unreachable_pub)]

pub mod broker;
pub mod chunk;
pub mod cluster;
pub mod codec;
pub mod consume;
pub mod deliver;
pub mod duration;
pub mod error;
pub mod http;
pub mod kinesis;
pub mod listen;
pub mod log;
pub mod metrics;
pub mod output_spec;
pub mod sink;
pub mod stop;
pub mod store;
pub mod tcp;
pub mod video;

pub use error::{IngestError, Result};
pub use sink::{NdjsonSink, StreamLines, Webhook, WebhookConfig, WebhookError, WebhookLines};
pub use store::Store;
