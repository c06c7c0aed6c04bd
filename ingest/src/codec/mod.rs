//! Codecs between bytes and records: base64 (the Kinesis API's data, binary
//! data in NDJSON lines), input lines and CSV rows into records to put
//! ([`lines`]), what a CSV header and cell mean, for `osprey put` and the
//! chunker alike ([`csv_cell`]), and a stored record as one NDJSON line
//! ([`record_line`]).
//!
//! `osprey put` (files, stdin and TCP), `osprey read`, the Kinesis API and
//! delivery all go through these, so a line means the same wherever it comes
//! from and a record reads the same wherever it goes.

pub mod base64;
pub mod csv_cell;
pub mod lines;
pub mod record_line;
