//! Sinks: where records leave osprey.
//!
//! Each sink is one module with its own type and inline tests. Today there is
//! one, [`ndjson`]; Parquet, Arrow IPC and the network sinks join it here.

pub mod ndjson;

pub use ndjson::NdjsonSink;
