//! Streams of the store, through the `osprey` binary.
//!
//! - `put/file`: `osprey put` of an NDJSON file of 100-byte records (a
//!   partition key of 997 devices) into a fresh stream of 4 shards, with
//!   the default durability (fsync at each group commit).
//! - `read/all`: `osprey read` of that stream from its start, every record
//!   counted on its stdout.
//! - `latency/put-to-read`: records offered at a steady rate over TCP to
//!   `osprey put --listen` while `osprey read --follow --poll-ms 1` runs in
//!   a second process; each record's time from its send to its line on
//!   the follower's stdout. CPU time and peak RSS are the two processes'
//!   (summed, and the larger).

use std::fs::File;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::Ctx;
use crate::args::Workload;
use crate::error::{BenchError, Result};
use crate::inputs;
use crate::report::{Bucket, Latency};
use crate::runner::{Case, Contender, Sample, child, describe, setup, tail};
use crate::rusage;
use crate::workloads::measure;

/// Bytes of each record.
const RECORD_BYTES: usize = 100;

/// How long the latency run waits for the follower to read every record.
const DRAIN: Duration = Duration::from_secs(30);

/// Runs the streams workload.
///
/// # Errors
/// An osprey run that fails, records that are not read back.
pub fn run(ctx: &mut Ctx<'_>) -> Result<()> {
    let w = Workload::Streams;
    let Some(osprey) = ctx.osprey(w, "the streams workload") else {
        return Ok(());
    };
    let quick = ctx.options.quick;
    let (records, latency_records, rate) = if quick {
        (5_000, 200, 1_000)
    } else {
        (500_000, 20_000, 10_000)
    };
    let file = inputs::records_file(&ctx.inputs, records, RECORD_BYTES)?;
    let data = ctx.scratch.join("streams-data");
    let log = ctx.scratch.join("streams.log");

    let case = Case {
        workload: w.name(),
        name: "put/file".to_owned(),
        input: format!(
            "{records} NDJSON records of {RECORD_BYTES} B, 997 partition keys, 4 shards, fsync"
        ),
        unit: "records",
        items: records,
    };
    let mut put = [Contender::new("osprey", || {
        create(&osprey, &data, &log)?;
        child(
            Command::new(&osprey)
                .args(["-q", "put", "s", "--partition-key-field", "k", "--data-dir"])
                .arg(&data)
                .arg(&file),
            None,
            &log,
        )
    })];
    measure(&mut ctx.results, ctx.options, ctx.progress, &case, &mut put)?;

    let case = Case {
        name: "read/all".to_owned(),
        input: format!("the stream put/file wrote: {records} records in 4 shards"),
        ..case
    };
    let out = ctx.scratch.join("read.ndjson");
    let mut read = [Contender::new("osprey", || {
        let stdout = File::create(&out).map_err(|e| BenchError::io("create", &out, e))?;
        let sample = child(
            Command::new(&osprey)
                .args(["-q", "read", "s", "--data-dir"])
                .arg(&data),
            Some(stdout),
            &log,
        )?;
        let lines = count_lines(&out)?;
        if lines != records {
            return Err(BenchError::Process {
                command: "osprey read".to_owned(),
                reason: format!("read {lines} of {records} records"),
            });
        }
        Ok(sample)
    })];
    measure(
        &mut ctx.results,
        ctx.options,
        ctx.progress,
        &case,
        &mut read,
    )?;

    let case = Case {
        workload: w.name(),
        name: "latency/put-to-read".to_owned(),
        input: format!(
            "{latency_records} records of {RECORD_BYTES} B offered at {rate}/s over one TCP connection; a follower polling every 1 ms"
        ),
        unit: "records",
        items: latency_records,
    };
    let mut latency = [Contender::new("osprey", || {
        latency_run(&osprey, &data, latency_records, rate, &log)
    })];
    measure(
        &mut ctx.results,
        ctx.options,
        ctx.progress,
        &case,
        &mut latency,
    )?;
    Ok(())
}

/// A fresh data folder with stream `s` of 4 shards.
fn create(osprey: &Path, data: &Path, log: &Path) -> Result<()> {
    let _ = std::fs::remove_dir_all(data);
    setup(
        Command::new(osprey)
            .args(["-q", "stream", "create", "s", "--shards", "4", "--data-dir"])
            .arg(data),
        log,
    )
}

fn count_lines(path: &Path) -> Result<u64> {
    let mut file = File::open(path).map_err(|e| BenchError::io("open", path, e))?;
    let (mut n, mut buf) = (0u64, vec![0u8; 1 << 16]);
    loop {
        let got = file
            .read(&mut buf)
            .map_err(|e| BenchError::io("read", path, e))?;
        if got == 0 {
            return Ok(n);
        }
        n += buf[..got].iter().filter(|&&b| b == b'\n').count() as u64;
    }
}

/// A child killed and reaped when dropped, so that a failed run leaves no
/// process behind; its peak RSS watched.
struct Reaped(Option<(Child, rusage::Watch)>);

impl Reaped {
    /// The child.
    fn child(&mut self) -> Option<&mut Child> {
        self.0.as_mut().map(|(c, _)| c)
    }

    /// Kills the child and returns what it used, its own peak RSS.
    fn finish(&mut self) -> Option<rusage::ChildUsage> {
        let (mut child, watch) = self.0.take()?;
        let _ = child.kill();
        let usage = rusage::wait(&mut child).ok();
        let peak = watch.finish();
        usage.map(|u| rusage::ChildUsage {
            peak_rss_bytes: peak,
            ..u
        })
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

fn spawn(cmd: &mut Command) -> Result<Reaped> {
    cmd.spawn()
        .map(|c| {
            let watch = rusage::Watch::start(&c);
            Reaped(Some((c, watch)))
        })
        .map_err(|e| BenchError::Process {
            command: describe(cmd),
            reason: format!("cannot start: {e}"),
        })
}

/// The record number `n` of a line `{"k":..,"n":N,..}`.
fn number(line: &str) -> Option<usize> {
    line.split("\"n\":")
        .nth(1)?
        .split([',', '}'])
        .next()?
        .trim()
        .parse()
        .ok()
}

fn latency_run(osprey: &Path, data: &Path, total: u64, rate: u64, log: &Path) -> Result<Sample> {
    create(osprey, data, log)?;
    let total = usize::try_from(total).unwrap_or(usize::MAX);
    let mut server_cmd = Command::new(osprey);
    server_cmd
        .args([
            "-q",
            "put",
            "s",
            "--listen",
            "tcp://127.0.0.1:0",
            "--partition-key-field",
            "k",
            "--data-dir",
        ])
        .arg(data)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut server = spawn(&mut server_cmd)?;
    let port = listening_port(&mut server)?;
    let err_log = File::create(log).map_err(|e| BenchError::io("create", log, e))?;
    let mut follower_cmd = Command::new(osprey);
    follower_cmd
        .args([
            "-q",
            "read",
            "s",
            "--from",
            "latest",
            "--follow",
            "--poll-ms",
            "1",
            "--data-dir",
        ])
        .arg(data)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(err_log);
    let mut follower = spawn(&mut follower_cmd)?;
    let stdout = follower
        .child()
        .and_then(|c| c.stdout.take())
        .ok_or_else(|| BenchError::Process {
            command: "osprey read".into(),
            reason: "no stdout".into(),
        })?;
    // Let the follower open the stream before the first record.
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    let sent: Arc<Vec<AtomicU64>> = Arc::new((0..total).map(|_| AtomicU64::new(0)).collect());
    let reader = {
        let sent = Arc::clone(&sent);
        std::thread::spawn(move || {
            let mut lat = Vec::with_capacity(total);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let at = t0.elapsed().as_nanos() as u64;
                if let Some(n) = number(&line).filter(|&n| n < total) {
                    lat.push(at.saturating_sub(sent[n].load(Ordering::Acquire)) as f64 / 1e6);
                }
                if lat.len() >= total {
                    break;
                }
            }
            (lat, t0.elapsed())
        })
    };
    let mut conn = TcpStream::connect(("127.0.0.1", port)).map_err(|e| BenchError::Process {
        command: "osprey put --listen".into(),
        reason: format!("cannot connect to port {port}: {e}"),
    })?;
    let _ = conn.set_nodelay(true);
    // Acknowledgements are read and dropped, so that the server never waits.
    let acks = conn.try_clone().map(|mut r| {
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut r, &mut std::io::sink());
        })
    });
    let per_ms = usize::try_from((rate / 1000).max(1)).unwrap_or(1);
    let (mut buf, mut n) = (Vec::new(), 0usize);
    while n < total {
        let due = Duration::from_secs_f64(n as f64 / rate as f64);
        if let Some(wait) = due.checked_sub(t0.elapsed()) {
            std::thread::sleep(wait);
        }
        buf.clear();
        let stamp = t0.elapsed().as_nanos() as u64;
        for _ in 0..per_ms.min(total - n) {
            inputs::record(&mut buf, n as u64, RECORD_BYTES);
            sent[n].store(stamp, Ordering::Release);
            n += 1;
        }
        conn.write_all(&buf).map_err(|e| BenchError::Process {
            command: "osprey put --listen".into(),
            reason: format!("the connection failed: {e}"),
        })?;
    }
    let deadline = Instant::now() + DRAIN;
    while !reader.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let follower_usage = follower.finish();
    let server_usage = server.finish();
    let _ = conn.shutdown(std::net::Shutdown::Both);
    let (mut lat, wall) = reader.join().map_err(|_| BenchError::Process {
        command: "osprey read --follow".into(),
        reason: "the reading thread panicked".into(),
    })?;
    if let Ok(acks) = acks {
        let _ = acks.join();
    }
    if lat.len() < total {
        return Err(BenchError::Process {
            command: "osprey read --follow".into(),
            reason: format!(
                "read {} of {total} records within {} s ({})",
                lat.len(),
                DRAIN.as_secs(),
                tail(log)
            ),
        });
    }
    let usages = [follower_usage, server_usage];
    let cpu = usages.iter().flatten().map(|u| u.cpu).sum();
    let peak = usages
        .iter()
        .flatten()
        .map(|u| u.peak_rss_bytes)
        .max()
        .unwrap_or(0);
    let mut sample = Sample::of(wall, cpu, peak);
    sample.latency = Some(latency("put to read", &mut lat));
    Ok(sample)
}

/// The port of `osprey: listening on tcp://127.0.0.1:PORT` on the server's stderr.
fn listening_port(server: &mut Reaped) -> Result<u16> {
    let err = server
        .child()
        .and_then(|c| c.stderr.take())
        .ok_or_else(|| BenchError::Process {
            command: "osprey put --listen".into(),
            reason: "no stderr".into(),
        })?;
    let mut err = BufReader::new(err);
    let mut line = String::new();
    loop {
        line.clear();
        let got = err.read_line(&mut line).map_err(|e| BenchError::Process {
            command: "osprey put --listen".into(),
            reason: e.to_string(),
        })?;
        if got == 0 {
            return Err(BenchError::Process {
                command: "osprey put --listen".into(),
                reason: "it ended before listening".into(),
            });
        }
        if let Some(port) = line
            .trim()
            .strip_prefix("osprey: listening on tcp://127.0.0.1:")
            .and_then(|rest| rest.split(' ').next())
            .and_then(|p| p.parse().ok())
        {
            std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
            return Ok(port);
        }
    }
}

/// Upper bounds of the latency histogram's buckets, milliseconds.
const BOUNDS_MS: [f64; 14] = [
    0.25,
    0.5,
    1.0,
    2.0,
    4.0,
    8.0,
    16.0,
    32.0,
    64.0,
    128.0,
    256.0,
    512.0,
    1024.0,
    f64::INFINITY,
];

/// Percentiles and a histogram of latencies in milliseconds.
pub fn latency(what: &str, ms: &mut [f64]) -> Latency {
    ms.sort_by(f64::total_cmp);
    let pct = |q: f64| {
        ms.get(((ms.len() as f64 * q) as usize).min(ms.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    let mut histogram: Vec<Bucket> = BOUNDS_MS
        .iter()
        .map(|&upto_ms| Bucket { upto_ms, count: 0 })
        .collect();
    for &v in ms.iter() {
        if let Some(b) = histogram.iter_mut().find(|b| v < b.upto_ms) {
            b.count += 1;
        }
    }
    // JSON has no infinity: the last bucket ends at the largest value.
    if let Some(last) = histogram.last_mut() {
        last.upto_ms = ms.last().copied().unwrap_or(0.0).max(1024.0) + 1.0;
    }
    while histogram.last().is_some_and(|b| b.count == 0) && histogram.len() > 1 {
        histogram.pop();
    }
    Latency {
        what: what.to_owned(),
        samples: ms.len() as u64,
        p50_ms: pct(0.5),
        p90_ms: pct(0.9),
        p99_ms: pct(0.99),
        max_ms: ms.last().copied().unwrap_or(0.0),
        histogram,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_numbers_are_found_in_lines() {
        assert_eq!(number(r#"{"k":"device-3","n":42,"pad":"x"}"#), Some(42));
        assert_eq!(number(r#"{"n":7}"#), Some(7));
        assert_eq!(number("{}"), None);
    }

    #[test]
    fn latencies_become_percentiles_and_buckets() {
        let mut ms: Vec<f64> = (1..=100).map(f64::from).collect();
        let l = latency("t", &mut ms);
        assert_eq!(l.samples, 100);
        assert_eq!((l.p50_ms, l.p99_ms, l.max_ms), (51.0, 100.0, 100.0));
        assert_eq!(l.histogram.iter().map(|b| b.count).sum::<u64>(), 100);
        assert_eq!(l.histogram.last().map(|b| b.upto_ms), Some(128.0));
    }
}
