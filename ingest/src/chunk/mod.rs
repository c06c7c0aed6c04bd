//! The chunker: telemetry records (NDJSON, CSV) into Arrow record batches,
//! by row count or by latency, under a declared or inferred schema, with
//! refused records kept with their reason; and Parquet files read as batches.
//!
//! - [`schema`]: `--schema "ts:timestamp,sensor:string,temp:f64"` and inference.
//! - [`time`]: event times from RFC 3339, epoch seconds/millis or strftime.
//! - [`chunker`]: [`Chunker`], rows into batches, [`BadRecord`]s out.
//! - [`origin`]: where each record came from ([`Origin`]).
//! - [`source`]: the forms of text records, and Parquet files as batches.

pub mod chunker;
pub mod origin;
pub mod schema;
pub mod source;
pub mod time;

pub use chunker::{BadRecord, Chunk, ChunkConfig, Chunker, ParsedJson};
pub use origin::Origin;
pub use schema::{FieldType, RecordField, RecordSchema};
pub use source::{RawRecord, RecordFormat, parquet_error, parquet_reader, read_parquet};
pub use time::TimeFormat;
