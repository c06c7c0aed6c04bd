//! The Kinesis Data Streams wire API over the store: the operations in
//! Kinesis' JSON shapes and error names ([`api`]; the listings with their
//! pages, tags, monitoring and UpdateShardCount in `manage`, enhanced
//! fan-out consumers in `consumers` and their SubscribeToShard in
//! `subscribe`, framed as [`eventstream`]s, what they keep of a stream in
//! [`attrs`], the pages' tokens in `pages`), the CBOR protocol ([`cbor`]),
//! shard iterator tokens ([`iterator`]), SigV4 request signatures
//! ([`sigv4`]), and the axum router that carries them ([`KinesisApi`],
//! served by [`crate::http::HttpServer`]), the threads the operations
//! run on (`workers`), and which log a stream's data calls go to
//! ([`logs`]: the store, or JetStream for a cluster worker's streams).

pub mod api;
pub mod attrs;
pub mod cbor;
mod consumers;
pub mod eventstream;
pub mod iterator;
pub mod logs;
mod manage;
mod pages;
mod router;
pub mod sigv4;
mod subscribe;
mod workers;

pub use crate::http::{MAX_BODY, MAX_REFUSERS, ServeError, Timeouts};
pub use router::KinesisApi;
pub use sigv4::Credentials;
