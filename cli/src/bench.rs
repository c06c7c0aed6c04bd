//! `osprey bench`: the arguments into one call of the harness
//! (`osprey_benches::run`), a progress bar, the summary tables on stdout;
//! `osprey bench compare` prints two reports side by side.
//!
//! Work that needs the whole program (end-to-end analysis, streams, live,
//! video) runs this very binary as a child process.

use std::io::{IsTerminal as _, Write as _};

use anyhow::{Result, anyhow};
use indicatif::{ProgressBar, ProgressStyle};
use osprey_benches::{BenchError, Options, Progress};

use crate::args::bench::{BenchCommand, BenchCompare};
use crate::exit::{InputError, UsageError};

/// A spinner with the run in progress, on a terminal only.
struct Bar(Option<ProgressBar>);

impl Bar {
    fn new() -> Bar {
        if !std::io::stderr().is_terminal() {
            return Bar(None);
        }
        let bar = ProgressBar::new_spinner();
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} {elapsed:>4} run {pos}: {wide_msg}")
        {
            bar.set_style(style);
        }
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        Bar(Some(bar))
    }
}

impl Progress for Bar {
    fn step(&self, what: &str) {
        if let Some(bar) = &self.0 {
            bar.inc(1);
            bar.set_message(what.to_owned());
        }
    }
}

/// The harness's error as osprey reports it: options as usage errors (2),
/// a report that cannot be read as an input error (3), the kernels' and the
/// query engine's errors as themselves (a GPU that fails: 4).
fn from_bench(e: BenchError) -> anyhow::Error {
    match e {
        BenchError::Usage(m) => anyhow!(UsageError(m)),
        BenchError::Kernel(e) => anyhow!(e),
        BenchError::Query(e) => anyhow!(e),
        BenchError::Report { path, reason } => anyhow!(InputError {
            input: path.display().to_string(),
            reason,
        }),
        BenchError::Io {
            what: "read",
            path,
            source,
        } => anyhow!(InputError {
            input: path.display().to_string(),
            reason: source.to_string(),
        }),
        e => anyhow!(e),
    }
}

/// Runs `osprey bench`.
///
/// # Errors
/// Invalid options, a report that cannot be read, a run that fails.
pub fn run(cmd: &BenchCommand) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    if let Some(BenchCompare::Compare { a, b }) = &cmd.compare {
        let a = osprey_benches::read_report(a).map_err(from_bench)?;
        let b = osprey_benches::read_report(b).map_err(from_bench)?;
        stdout.write_all(osprey_benches::compare::compare(&a, &b).as_bytes())?;
        return Ok(());
    }
    let exe = std::env::current_exe()?;
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let options = Options::from_args(&cmd.args, Some(exe), command);
    let bar = Bar::new();
    let outcome = osprey_benches::run(&options, &bar).map_err(from_bench);
    if let Some(b) = &bar.0 {
        b.finish_and_clear();
    }
    let outcome = outcome?;
    let names: Vec<String> = Vec::new();
    stdout.write_all(osprey_benches::markdown::render(&outcome.report, &names).as_bytes())?;
    let mut err = std::io::stderr();
    for f in &outcome.files {
        let _ = writeln!(err, "osprey: bench: wrote {}", f.display());
    }
    Ok(())
}
