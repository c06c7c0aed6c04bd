//! `osprey`: analyse video with compute kernels on any GPU wgpu reaches, or on
//! the CPU.
//!
//! A thin binary over the library crates: parse the arguments ([`args`]), set
//! up logging on stderr, run one subcommand, and turn its error into one line
//! `osprey: ...` and a documented exit code ([`exit`]). stdout carries results
//! only.

#![allow(
    rustdoc::broken_intra_doc_links,
    reason = "clap's help text lives in doc comments, where [/PATH] or [[zones]] is text, not a link"
)]

mod alloc;
mod args;
mod bench;
mod devices;
mod exit;
mod generate;
mod put;
mod read;
mod serve;
mod stream;
mod video;

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;

use anyhow::Result;
use clap::Parser as _;
use tracing_subscriber::EnvFilter;

use osprey_server::{aggregate, analyze, broker, deliver};

use crate::args::{Cli, Command};
use crate::exit::Exit;

/// mimalloc: window aggregation makes and frees millions of small per-group
/// states, which glibc's allocator serves several times slower.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    alloc::tune();
    quiet_headless_vulkan();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.kind() == clap::error::ErrorKind::InvalidUtf8 => {
            let _ = writeln!(
                std::io::stderr(),
                "osprey: {}",
                not_utf8(std::env::args_os())
            );
            return Exit::Usage.into();
        }
        Err(e) => {
            // Help and version go to stdout with 0; usage errors to stderr
            // with 2. A closed pipe while printing help is no failure.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(Exit::Usage as u8));
        }
    };
    init_tracing(cli.verbose, cli.quiet);
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let exit = Exit::for_error(&err);
            if exit != Exit::Success {
                let _ = writeln!(std::io::stderr(), "osprey: {err:#}");
            }
            exit.into()
        }
    }
}

/// The one line for arguments clap refuses as not UTF-8 (clap's own message
/// is several lines and names no argument): the first such argument, its
/// bytes escaped as Rust writes them (`"\xFF.ndjson"`).
fn not_utf8(args: impl IntoIterator<Item = std::ffi::OsString>) -> String {
    match args.into_iter().find(|a| a.to_str().is_none()) {
        Some(arg) => format!("argument {arg:?} is not valid UTF-8"),
        None => "an argument is not valid UTF-8".to_owned(),
    }
}

/// Keeps libwayland's "error: XDG_RUNTIME_DIR is invalid or not set" off
/// stderr on headless machines.
///
/// Mesa's implicit Vulkan layer `VK_LAYER_MESA_device_select` asks Wayland
/// which GPU drives the display whenever wgpu enumerates adapters; without
/// `XDG_RUNTIME_DIR` (servers, CI) libwayland prints that line every time
/// (see KhronosGroup/Vulkan-Tools#721). With no Wayland session there is no
/// display to select for, so the layer is switched off through its documented
/// `NODEVICE_SELECT=1`, unless the user steers it (`MESA_VK_DEVICE_SELECT`,
/// `DRI_PRIME`) or set `NODEVICE_SELECT` already.
#[expect(
    unsafe_code,
    reason = "set_var is unsafe since edition 2024; it runs first in main, before any thread exists"
)]
fn quiet_headless_vulkan() {
    let unset = |key: &str| std::env::var_os(key).is_none();
    if [
        "XDG_RUNTIME_DIR",
        "NODEVICE_SELECT",
        "MESA_VK_DEVICE_SELECT",
        "DRI_PRIME",
    ]
    .into_iter()
    .all(unset)
    {
        // SAFETY: no other thread exists yet, so none reads the environment
        // while it changes.
        unsafe { std::env::set_var("NODEVICE_SELECT", "1") };
    }
}

/// Runs the chosen subcommand.
fn run(cli: &Cli) -> Result<()> {
    match &cli.command {
        Command::Analyze(args) => {
            let config = analyze::AnalyzeConfig::from_args(args)?;
            let stop = analyze::signals::stop_flag()?;
            let outcome = analyze::run(&config, stop)?;
            for summary in &outcome.summaries {
                let _ = writeln!(std::io::stderr(), "osprey: {summary}");
            }
            analyze::first_failure(outcome.failures, config.sources.len())
        }
        Command::Devices(args) => devices::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Aggregate(args) => aggregate::run(args),
        Command::Stream(args) => stream::run(args),
        Command::Put(args) => put::run(args),
        Command::Read(args) => read::run(args),
        Command::Deliver(args) => deliver::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Video(args) => video::run(args),
        Command::Bench(args) => bench::run(args),
    }
}

/// Logs to stderr. `RUST_LOG` wins when set; otherwise osprey's own crates
/// log at info (debug with `-v`, trace with `-vv`), everything else at warn,
/// and `-q` leaves errors only.
fn init_tracing(verbose: u8, quiet: bool) {
    const OURS: [&str; 5] = [
        "osprey",
        "osprey_server",
        "osprey_kernels",
        "osprey_video",
        "osprey_ingest",
    ];
    let (ours, others) = match (quiet, verbose) {
        (true, _) => ("error", "error"),
        (false, 0) => ("info", "warn"),
        (false, 1) => ("debug", "warn"),
        (false, 2) => ("trace", "info"),
        (false, _) => ("trace", "trace"),
    };
    let default: String = std::iter::once(others.to_owned())
        .chain(OURS.iter().map(|c| format!("{c}={ours}")))
        .collect::<Vec<_>>()
        .join(",");
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => {
            EnvFilter::try_new(v).unwrap_or_else(|_| EnvFilter::new(&default))
        }
        _ => EnvFilter::new(&default),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(verbose > 0)
        .without_time()
        .try_init();
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt as _;

    use super::*;

    #[test]
    fn the_argument_that_is_not_utf8_is_named() {
        let args = [
            OsString::from("osprey"),
            OsString::from("analyze"),
            OsString::from_vec(b"\xffcam.mp4".to_vec()),
        ];
        assert_eq!(
            not_utf8(args),
            "argument \"\\xFFcam.mp4\" is not valid UTF-8"
        );
        assert_eq!(not_utf8([]), "an argument is not valid UTF-8");
    }
}
