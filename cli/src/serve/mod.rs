//! `osprey serve`: the headless server.
//!
//! - `osprey serve --http HOST:PORT` serves the Kinesis API of the store
//!   alone ([`http_only`]).
//! - `osprey serve --config osprey.toml` runs everything a [`config`]
//!   file declares in one process: cameras into streams, queries,
//!   deliveries, the Kinesis API, the control API under `/api`,
//!   `/metrics` and the dashboard; `--check-config FILE` checks a file
//!   without starting anything. The HTTP side sees the running server
//!   through [`control::Control`].

#[expect(dead_code, reason = "issue 15's interface, used once the engine lands")]
pub mod config;
#[expect(dead_code, reason = "issue 15's interface, used once the engine lands")]
pub mod control;
pub mod http_only;
#[expect(dead_code, reason = "issue 15's interface, used once the router lands")]
pub mod metrics;

pub use http_only::run;
