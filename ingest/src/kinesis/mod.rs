//! The Kinesis Data Streams wire API over the store: the operations in
//! Kinesis' JSON shapes and error names ([`api`]), shard iterator tokens
//! ([`iterator`]), SigV4 request signatures ([`sigv4`]), and the HTTP/1.1
//! server that carries them ([`Server`]).

pub mod api;
pub mod iterator;
pub mod server;
pub mod sigv4;

pub use server::{MAX_BODY, MAX_REFUSERS, ServeError, Server, ServerConfig, Timeouts};
pub use sigv4::Credentials;
