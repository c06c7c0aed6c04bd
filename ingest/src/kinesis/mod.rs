//! The Kinesis Data Streams wire API over the store: the operations in
//! Kinesis' JSON shapes and error names ([`api`]), shard iterator tokens
//! ([`iterator`]), SigV4 request signatures ([`sigv4`]), and the axum
//! router that carries them ([`KinesisApi`], served by
//! [`crate::http::HttpServer`]), and the threads the operations run on
//! (`workers`).

pub mod api;
pub mod iterator;
mod router;
pub mod sigv4;
mod workers;

pub use crate::http::{MAX_BODY, MAX_REFUSERS, ServeError, Timeouts};
pub use router::KinesisApi;
pub use sigv4::Credentials;
