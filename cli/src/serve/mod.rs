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

pub mod cluster;
pub mod config;
pub mod control;
pub mod engine;
pub mod http_only;
pub mod metrics;
pub mod router;
pub mod run;

mod api;
mod dashboard;

use anyhow::Result;

use crate::args::stream::ServeArgs;

/// Runs `osprey serve`: `--check-config FILE` checks a file, `--config
/// FILE` runs the server it declares, else the Kinesis API alone.
///
/// # Errors
/// A configuration that cannot be used (exit code 2), and the server's.
pub fn run(args: &ServeArgs) -> Result<()> {
    if let Some(path) = &args.check_config {
        return config::check_file(path);
    }
    if let Some(path) = &args.config {
        return run::run_config(path, args.cluster.as_deref(), args.worker_id.as_deref());
    }
    http_only::run(args)
}
