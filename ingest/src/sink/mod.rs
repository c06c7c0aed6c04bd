//! Sinks: where records leave osprey.
//!
//! Each sink is one module with its own type and inline tests: [`ndjson`]
//! writes one JSON value a line to any writer, and [`stream`] is a writer that
//! puts those lines into a stream of the embedded store.

pub mod ndjson;
pub mod stream;

pub use ndjson::NdjsonSink;
pub use stream::StreamLines;
