//! osprey's query engine: streaming window aggregation, planned from SQL or
//! flags and run over Arrow batches on the window engine of
//! `osprey-kernels` (GPU or CPU), into typed result rows.
//!
//! ```text
//! SQL (sql) or flags (Plan::from_flags) ─► Plan ─► Query::new(plan, options, aggregator)
//! RecordBatch (+ the rows' text) ─► Query::push ─► closed windows ─► ResultSink (rows)
//!                                            └─► late and refused rows ─► ErrorSink
//! Query::finish ─► the windows still open
//! ```
//!
//! - [`plan`]: what a query computes ([`Plan`]), and its WHERE/HAVING expressions.
//! - [`explain`]: a plan as text (`Display`).
//! - [`sql`]: Kinesis Data Analytics-style streaming SQL into a [`Plan`].
//! - [`join`]: reference tables joined onto the input (`JOIN ref ON ...`).
//! - [`columns`]: Arrow batches into the engine's columns, WHERE applied.
//! - [`query`]: [`Query`], the plan run on the engine (on every core for
//!   tumbling windows on the CPU: `partitioned`).
//! - [`cells`]: one result row's typed cells and their JSON forms.
//! - [`rows`]: where result rows go ([`ResultSink`]: NDJSON, Parquet, Arrow, memory).
//! - [`rcf`]: anomaly scores over random cut forests (`RANDOM_CUT_FOREST`),
//!   one output row a record.
//! - [`rejects`]: the error output ([`ErrorSink`]) for late and refused rows.
//! - [`source`]: where records come from ([`Source`]: NDJSON or CSV text,
//!   Parquet, TCP lines, a stream of the store) and the loop that feeds one
//!   into a query.
//! - [`checkpoint`]: which stream positions a consumer may checkpoint ([`Progress`]).
//!
//! Errors are [`QueryError`]s: usage errors (the query or the input's
//! columns make no sense) apart from the engine's and the outputs'.
//! Nothing here prints: the binary turns its arguments into a [`Source`]
//! and a [`Query`], prints progress and maps errors to exit codes.

#![warn(unreachable_pub)]

pub mod cells;
pub mod checkpoint;
pub mod columns;
pub mod error;
pub mod explain;
pub mod join;
mod partitioned;
pub mod plan;
pub mod query;
pub mod rcf;
pub mod rejects;
pub mod rows;
pub mod source;
pub mod sql;

pub use cells::{Cell, CellRef};
pub use checkpoint::{Progress, RowTime};
pub use error::{QueryError, Result};
pub use plan::{AggItem, OutputColumn, Plan};
pub use query::{Outputs, Prepared, Query, QueryOptions, Slot};
pub use rejects::{ErrorSink, Shown};
pub use rows::{ResultSink, TableFormat};
pub use source::{Source, StreamSource};
