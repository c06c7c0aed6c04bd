//! `osprey-server`: osprey's engine as a library; the `osprey` binary only
//! turns its command line into calls of this crate, prints, and maps errors
//! to exit codes.
//!
//! What it holds:
//! - The headless server of `osprey serve --config osprey.toml`
//!   ([`run::run_config`]): everything a [`config`] file declares in one
//!   process. The [`engine`] runs cameras into streams, queries and
//!   deliveries, and changes them at runtime; the HTTP side ([`router`])
//!   serves the Kinesis API, the control API under `/api`, [`metrics`]
//!   and the dashboard, and sees the running server through
//!   [`control::Control`]. [`cluster`] runs the queries and deliveries of a
//!   server that is one worker of a NATS JetStream cluster.
//!   [`config::check_file`] checks a file without starting anything.
//! - The engines of the commands the server runs, which the binary runs
//!   for its own subcommands too: [`analyze`] (sources analysed into
//!   records), [`aggregate`] (a query over files, a broker or a stream),
//!   [`deliver`] (a stream delivered to files, a webhook or a broker),
//!   with the [`broker`] glue they share, and the flags they take
//!   ([`args`]: a server's config writes its cameras, queries and
//!   deliveries in them).
//! - The errors a user causes ([`error`]), opening the store ([`store`])
//!   and reading times ([`time_arg`]).

#![allow(
    rustdoc::broken_intra_doc_links,
    reason = "clap's help text lives in doc comments, where [/PATH] or [[zones]] is text, not a link"
)]

pub mod aggregate;
pub mod analyze;
pub mod args;
pub mod broker;
pub mod cluster;
pub mod config;
pub mod control;
pub mod deliver;
pub mod engine;
pub mod error;
pub mod metrics;
pub mod router;
pub mod run;
pub mod store;
pub mod time_arg;

mod api;
mod dashboard;
