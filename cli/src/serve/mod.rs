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

#[expect(
    dead_code,
    reason = "issue 15's interface: the engine runs cameras, queries and deliveries from it"
)]
pub mod config;
#[expect(dead_code, reason = "issue 15's interface, used once the engine lands")]
pub mod control;
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
        return config::check_file(path);
    }
    if let Some(path) = &args.config {
        // The engine (issue 15) runs the checked config from here.
        let _config = config::load(path).map_err(|e| crate::exit::UsageError(e.to_string()))?;
        return Err(
            crate::exit::UsageError("--config: the server engine is not built yet".into()).into(),
        );
    }
    http_only::run(args)
}
