//! `osprey serve`: the headless server, wired from its arguments.
//!
//! - `osprey serve --http HOST:PORT` serves the Kinesis API of the store
//!   alone ([`http_only`]).
//! - `osprey serve --config osprey.toml` runs everything the file declares
//!   in one process ([`osprey_server::run::run_config`]); `--check-config
//!   FILE` checks a file without starting anything
//!   ([`osprey_server::config::check_file`]).

pub mod http_only;

use anyhow::Result;

use crate::args::stream::ServeArgs;

/// Runs `osprey serve`: `--check-config FILE` checks a file, `--config
/// FILE` runs the server it declares, else the Kinesis API alone.
///
/// # Errors
/// A configuration that cannot be used (exit code 2), and the server's.
pub fn run(args: &ServeArgs) -> Result<()> {
    if let Some(path) = &args.check_config {
        return osprey_server::config::check_file(path);
    }
    if let Some(path) = &args.config {
        return osprey_server::run::run_config(
            path,
            args.cluster.as_deref(),
            args.worker_id.as_deref(),
        );
    }
    http_only::run(args)
}
