//! `osprey-bench`: `osprey bench` without GStreamer, for machines that
//! have the kernels but not GStreamer (a lent GPU machine).
//!
//! The frame (kernel-only) and aggregation workloads run in this process;
//! whatever needs the whole program (end-to-end analysis, streams, live,
//! video) runs the `osprey` binary given with `--osprey PATH` (or the one
//! beside this binary), and is skipped with a note without it.
//!
//! ```text
//! osprey-bench frames --backend cpu,gpu --out gpu-run
//! osprey-bench compare a/report.json b/report.json
//! ```
//!
//! Exit codes: 0 done, 1 a run failed, 2 invalid arguments.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use osprey_benches::{BenchArgs, BenchError, Options, Progress};

/// `osprey bench` without GStreamer: kernel-only frames and aggregation in
/// process, the rest through an osprey binary when one is given
#[derive(Parser)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    compare: Option<Compare>,
    #[command(flatten)]
    args: BenchArgs,
    /// The osprey binary for the work that needs it [default: `osprey`
    /// beside this binary, when there is one]
    #[arg(long, value_name = "PATH")]
    osprey: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Compare {
    /// Print two reports side by side
    Compare {
        /// The first report.json
        a: PathBuf,
        /// The second report.json
        b: PathBuf,
    },
}

/// A line a run on stderr.
struct Lines;

impl Progress for Lines {
    fn step(&self, what: &str) {
        if std::io::stderr().is_terminal() {
            let _ = writeln!(std::io::stderr(), "osprey-bench: {what}");
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.compare {
        Some(Compare::Compare { a, b }) => osprey_benches::read_report(a).and_then(|ra| {
            let rb = osprey_benches::read_report(b)?;
            print!("{}", osprey_benches::compare::compare(&ra, &rb));
            Ok(())
        }),
        None => {
            let osprey = cli.osprey.clone().or_else(|| {
                let beside = std::env::current_exe().ok()?.with_file_name("osprey");
                beside.is_file().then_some(beside)
            });
            let command = std::env::args().collect::<Vec<_>>().join(" ");
            let options = Options::from_args(&cli.args, osprey, command);
            osprey_benches::run(&options, &Lines).map(|outcome| {
                print!("{}", osprey_benches::markdown::render(&outcome.report, &[]));
                for f in &outcome.files {
                    eprintln!("osprey-bench: wrote {}", f.display());
                }
            })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("osprey-bench: {e}");
            ExitCode::from(if matches!(e, BenchError::Usage(_)) {
                2
            } else {
                1
            })
        }
    }
}
