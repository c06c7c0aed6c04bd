//! Arguments of `osprey bench`: the flags of `osprey_benches::BenchArgs`
//! (shared with the `osprey-bench` binary), and `compare`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use osprey_benches::BenchArgs;

/// `osprey bench --help`'s epilogue.
pub const HELP: &str = "\
Examples:
  osprey bench --quick                     every workload on tiny inputs, one run each
  osprey bench frames --backend cpu,gpu    frame analysis on both backends, 3 runs each
  osprey bench aggregate --against duckdb --out agg
  osprey bench compare old/report.json new/report.json

Inputs are made in OUT/inputs and kept for the next run. A peer that is missing is
skipped with a note in the report; the run fails only when osprey does.

Exit codes: 0 done, 1 a run failed, 2 invalid arguments, 3 a report that cannot be read";

/// `osprey bench`: a bench run, or `compare`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchCommand {
    /// Compare two reports instead.
    #[command(subcommand)]
    pub compare: Option<BenchCompare>,

    /// The run's flags.
    #[command(flatten)]
    pub args: BenchArgs,
}

/// `osprey bench compare`.
#[derive(Debug, Subcommand)]
pub enum BenchCompare {
    /// Print the differences of two reports: each case and subject's items a second in both, and B's over A's
    Compare {
        /// The first report (A)
        #[arg(value_name = "A/report.json")]
        a: PathBuf,
        /// The second report (B)
        #[arg(value_name = "B/report.json")]
        b: PathBuf,
    },
}
