//! `osprey serve`: the headless server.
//!
//! - `osprey serve --http HOST:PORT` serves the Kinesis API of the store
//!   alone ([`http_only`]).
//! - `osprey serve --config osprey.toml` runs everything a [`config`]
//!   file declares in one process ([`run::run_config`]): cameras into
//!   streams, queries, deliveries ([`engine`]), the Kinesis API, the
//!   control API under `/api`, `/metrics` and the dashboard;
//!   `--check-config FILE` checks a file without starting anything. The
//!   HTTP side sees the running server through [`control::Control`].

#[expect(
    dead_code,
    reason = "load and camera_from_json: the engine calls them once the config work fills them"
)]
pub mod config;
pub mod control;
pub mod engine;
pub mod http_only;
pub mod router;
pub mod run;

mod api;
mod dashboard;

use crate::args::stream::ServeArgs;

/// Runs `osprey serve`: with `--config`, the whole server; else the
/// Kinesis API alone.
///
/// # Errors
/// As [`run::run_config`] or [`http_only::run`].
pub fn run(args: &ServeArgs) -> anyhow::Result<()> {
    match &args.config {
        Some(path) => run::run_config(path),
        None => http_only::run(args),
    }
}
