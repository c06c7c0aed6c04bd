//! A Kinesis load generator and read-back checker for `osprey serve`: puts
//! `--rate` telemetry records a second for `--duration` seconds with
//! PutRecords (`--batch` records a call, from `--producers` threads on a
//! shared schedule), reads them back with GetRecords on every shard, and
//! reports the put-to-read latency and whether every acknowledged record
//! was read back exactly once (each record carries its id and send time).
//!
//! ```text
//! cargo run --release -p osprey-benches --bin kinesis_load -- \
//!     --url http://127.0.0.1:4567 --rate 50000 --duration 60
//! ```
//!
//! The summary goes to stdout as `key value` lines (benches/soak.sh reads
//! them), progress to stderr. Exits 1 when an acknowledged record was lost
//! or one was read twice, 2 when the run could not start.

mod histogram;
mod ledger;
mod produce;
mod read;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;

use histogram::Histogram;
use ledger::Ledger;
use osprey_benches::kinesis::Client;
use produce::{Schedule, Shape};

/// The load generator's arguments.
#[derive(Parser)]
#[command(about = "Kinesis PutRecords load and GetRecords read-back against osprey serve")]
struct Args {
    /// The server's Kinesis endpoint
    #[arg(long, default_value = "http://127.0.0.1:4567")]
    url: String,
    /// The stream put to (created if missing)
    #[arg(long, default_value = "telemetry")]
    stream: String,
    /// Shards of the stream when it is created
    #[arg(long, default_value_t = 4)]
    shards: u32,
    /// Records a second offered
    #[arg(long, default_value_t = 50_000)]
    rate: u64,
    /// Records a PutRecords call (at most 500)
    #[arg(long, default_value_t = 500)]
    batch: u64,
    /// Seconds of load
    #[arg(long, default_value_t = 600.0)]
    duration: f64,
    /// Producer threads (connections)
    #[arg(long, default_value_t = 4)]
    producers: usize,
    /// Distinct partition keys
    #[arg(long, default_value_t = 1000)]
    devices: u64,
    /// Bytes of padding in each record (about 80 bytes besides)
    #[arg(long, default_value_t = 20)]
    pad: usize,
    /// Milliseconds a reader waits after an empty GetRecords answer
    #[arg(long, default_value_t = 1.0)]
    poll_ms: f64,
    /// Seconds the readers may take after the last put to read everything
    #[arg(long, default_value_t = 30.0)]
    drain: f64,
    /// Seconds between progress lines (stderr)
    #[arg(long, default_value_t = 10.0)]
    progress: f64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !(1..=500).contains(&args.batch) || args.rate == 0 || args.producers == 0 {
        eprintln!("kinesis_load: --batch must be 1 to 500, --rate and --producers above 0");
        return ExitCode::from(2);
    }
    let setup = Client::new(&args.url);
    let shards = match setup
        .ensure_stream(&args.stream, args.shards)
        .and_then(|()| setup.shards(&args.stream))
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kinesis_load: {e}");
            return ExitCode::from(2);
        }
    };
    let mut iterators = Vec::new();
    for shard in &shards {
        match setup.latest(&args.stream, shard) {
            Ok(it) => iterators.push(it),
            Err(e) => {
                eprintln!("kinesis_load: {e}");
                return ExitCode::from(2);
            }
        }
    }
    // Room for every id the schedule can hand out, and a batch to spare.
    let calls = (args.rate as f64 * args.duration / args.batch as f64).ceil() as u64 + 1;
    let ledger = Ledger::new(((calls + 1) * args.batch) as usize);
    let epoch = Instant::now();
    let interval = Duration::from_secs_f64(args.batch as f64 / args.rate as f64);
    let start = epoch + Duration::from_millis(100);
    let schedule = Schedule::new(
        epoch,
        start,
        interval,
        start + Duration::from_secs_f64(args.duration),
    );
    let shape = Shape {
        stream: &args.stream,
        batch: args.batch,
        devices: args.devices.max(1),
        pad: args.pad,
    };
    let stop = AtomicBool::new(false);
    let poll = Duration::from_secs_f64(args.poll_ms / 1000.0);
    let (produced, read_back, put_secs) = std::thread::scope(|s| {
        let readers: Vec<_> = iterators
            .into_iter()
            .map(|it| {
                let (ledger, stop, url) = (&ledger, &stop, &args.url);
                s.spawn(move || read::read(&Client::new(url), it, epoch, poll, ledger, stop))
            })
            .collect();
        let producers: Vec<_> = (0..args.producers)
            .map(|_| {
                let (ledger, schedule, shape, url) = (&ledger, &schedule, &shape, &args.url);
                s.spawn(move || produce::produce(&Client::new(url), schedule, ledger, shape))
            })
            .collect();
        let progress = Duration::from_secs_f64(args.progress.max(0.1));
        let (mut last, mut last_acked, mut last_read) = (Instant::now(), 0, 0);
        while producers.iter().any(|p| !p.is_finished()) {
            std::thread::sleep(Duration::from_millis(100));
            if last.elapsed() >= progress {
                let secs = last.elapsed().as_secs_f64();
                let (acked, reads) = (ledger.acked(), ledger.reads());
                eprintln!(
                    "kinesis_load: {:6.0} s  acked {:8.0}/s  read {:8.0}/s",
                    epoch.elapsed().as_secs_f64(),
                    (acked - last_acked) as f64 / secs,
                    (reads - last_read) as f64 / secs,
                );
                (last, last_acked, last_read) = (Instant::now(), acked, reads);
            }
        }
        let put_secs = start.elapsed().as_secs_f64();
        let produced: Vec<_> = producers
            .into_iter()
            .filter_map(|p| p.join().ok())
            .collect();
        // Drain: until every acknowledged record was read, or time is up.
        let deadline = Instant::now() + Duration::from_secs_f64(args.drain);
        while Instant::now() < deadline && !ledger.all_acked_read() {
            std::thread::sleep(Duration::from_millis(200));
        }
        // A moment more, so that a duplicate right behind is seen too.
        std::thread::sleep(Duration::from_millis(200));
        stop.store(true, Ordering::Relaxed);
        let read_back: Vec<_> = readers.into_iter().filter_map(|r| r.join().ok()).collect();
        (produced, read_back, put_secs)
    });
    let verdict = ledger.verdict();
    let mut calls = Histogram::new();
    let mut latency = Histogram::new();
    for p in &produced {
        calls.merge(&p.calls);
    }
    for r in &read_back {
        latency.merge(&r.latency);
    }
    let max_behind = produced
        .iter()
        .map(|p| p.max_behind)
        .max()
        .unwrap_or_default();
    let sum = |f: &dyn Fn(&produce::Produced) -> u64| produced.iter().map(f).sum::<u64>();
    let failed_puts = sum(&|p| p.failed_calls);
    let failed_gets: u64 = read_back.iter().map(|r| r.failed_calls).sum();
    let foreign: u64 = read_back.iter().map(|r| r.foreign).sum();
    println!("shards {}", shards.len());
    println!("producers {}", args.producers);
    println!("offered_per_s {}", args.rate);
    println!("put_seconds {put_secs:.1}");
    println!("sent {}", verdict.sent);
    println!("acked {}", verdict.acked);
    println!("acked_per_s {:.0}", verdict.acked as f64 / put_secs);
    println!("refused {}", verdict.refused);
    println!("failed_put_calls {failed_puts}");
    println!("failed_get_calls {failed_gets}");
    println!(
        "max_behind_schedule_ms {:.1}",
        max_behind.as_secs_f64() * 1000.0
    );
    println!("put_call_p50_ms {:.2}", calls.quantile_ms(0.5));
    println!("put_call_p99_ms {:.2}", calls.quantile_ms(0.99));
    println!("read {}", latency.len());
    println!("lost {}", verdict.lost);
    println!("duplicated {}", verdict.duplicated);
    println!("read_unacked {}", verdict.read_unacked);
    println!("foreign {foreign}");
    println!("put_to_read_p50_ms {:.2}", latency.quantile_ms(0.5));
    println!("put_to_read_p99_ms {:.2}", latency.quantile_ms(0.99));
    println!("put_to_read_max_ms {:.2}", latency.max_ms());
    for e in produced
        .iter()
        .filter_map(|p| p.first_error.as_ref())
        .chain(read_back.iter().filter_map(|r| r.first_error.as_ref()))
        .take(3)
    {
        eprintln!("kinesis_load: error: {e}");
    }
    if verdict.lost > 0 || verdict.duplicated > 0 || verdict.read_unacked > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
