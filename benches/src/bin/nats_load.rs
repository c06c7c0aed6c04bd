//! Records/s out to NATS through osprey's NATS output
//! (`osprey_ingest::broker::nats::NatsLines`): `--records` record lines of
//! `--bytes` bytes each, sent in batches of 1000, timed until the output
//! has drained (core NATS: flushed; JetStream: every publish acked).
//!
//! ```text
//! cargo run --release -p osprey-benches --bin nats_load -- \
//!     --url jetstream://127.0.0.1:4222/bench --records 100000
//! ```
//!
//! Prints `records N seconds S records_per_s R` on stdout; exits 1 when
//! not every record was published within a minute of the last send.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use osprey_ingest::broker::nats::NatsLines;
use osprey_ingest::broker::{Broker, OutputOptions};
use osprey_ingest::sink::LineBatches as _;

/// Arguments.
#[derive(Parser)]
struct Args {
    /// `nats://HOST:PORT/SUBJECT` or `jetstream://HOST:PORT/SUBJECT`.
    #[arg(long)]
    url: String,
    /// Records to send.
    #[arg(long, default_value_t = 100_000)]
    records: usize,
    /// Bytes a record line (newline not counted), 30 at least.
    #[arg(long, default_value_t = 100)]
    bytes: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let jetstream = match Broker::parse(&args.url) {
        Some(Broker::Nats(_)) => false,
        Some(Broker::JetStream(_)) => true,
        _ => {
            eprintln!("not a NATS URL: {}", args.url);
            return ExitCode::from(2);
        }
    };
    let mut out = match NatsLines::connect(&args.url, jetstream, &OutputOptions::default()) {
        Ok(out) => out,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    // {"n":000000000001,"pad":"xx…"}: `bytes` long.
    let pad = "x".repeat(args.bytes.saturating_sub(28));
    let start = Instant::now();
    let mut batch = Vec::with_capacity(1000 * (args.bytes + 1));
    let mut n = 0;
    while n < args.records {
        batch.clear();
        for i in n..(n + 1000).min(args.records) {
            batch.extend_from_slice(format!("{{\"n\":{i:012},\"pad\":\"{pad}\"}}\n").as_bytes());
        }
        match out.send(&batch) {
            Ok(sent) => n += usize::try_from(sent).unwrap_or(usize::MAX),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(1);
            }
        }
    }
    let drained = out.drain(Duration::from_secs(60));
    let seconds = start.elapsed().as_secs_f64();
    let stats = out.stats();
    println!(
        "records {} seconds {seconds:.3} records_per_s {:.0}",
        stats.published,
        stats.published as f64 / seconds
    );
    if !drained || stats.published != n as u64 {
        eprintln!("not every record was published: {stats:?}");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
