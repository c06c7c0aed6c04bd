//! Sinks: where records leave osprey.
//!
//! Each sink is one module with its own type and inline tests: [`ndjson`]
//! writes one JSON value a line to any writer, [`stream`] is a writer that
//! puts those lines into a stream of the embedded store (or takes typed
//! records with their partition keys, [`StreamRecords`]), and [`webhook`]
//! POSTs batches of lines to an HTTP endpoint with retry and backoff; the
//! last two share [`lines`], the writer that hands complete lines on a
//! batch a flush.
//! [`encoding`] compresses NDJSON the same way for files and webhook bodies.

pub mod encoding;
pub mod lines;
pub mod ndjson;
pub mod stream;
pub mod webhook;

pub use encoding::ContentEncoding;
pub use lines::{LineBatches, Lines};
pub use ndjson::NdjsonSink;
pub use stream::{StreamLines, StreamRecords};
pub use webhook::{Webhook, WebhookConfig, WebhookError, WebhookLines};
