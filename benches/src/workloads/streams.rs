//! Streams of the store, through the `osprey` binary.
//!
//! - `put/file`: `osprey put` of an NDJSON file of 100-byte records (a
//!   partition key of 997 devices) into a fresh stream of 4 shards, with
//!   the default durability (fsync at each group commit).
//! - `read/all`: `osprey read` of that stream from its start, every record
//!   counted on its stdout.
//! - `put/tcp`: the same records over 4 connections to `osprey put
//!   --listen`, as fast as it acknowledges them (each once durable); the
//!   server's CPU time (from `/proc`, 10 ms steps) and peak RSS.
//! - `latency/put-to-read`: records offered at a steady rate over TCP to
//!   `osprey put --listen` while `osprey read --follow --poll-ms 1` runs in
//!   a second process; each record's time from its send to its line on
//!   the follower's stdout. CPU time and peak RSS are the two processes'
//!   (summed, and the larger).
//! - `kinesis/put-records` and `kinesis/get-records`: the Kinesis API of
//!   `osprey serve --http` on a fresh store: PutRecords of 500 records a
//!   call from 4 connections, then GetRecords (`Limit` 10000, one
//!   connection a shard) of them all from the start. The server's CPU time
//!   (from `/proc`, 10 ms steps) and peak RSS over the timed part.

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

    let tcp_records = records - records % CONNS;
    let case = Case {
        name: "put/tcp".to_owned(),
        input: format!(
            "{tcp_records} records of {RECORD_BYTES} B over {CONNS} connections to osprey put --listen, each acknowledged once durable (fsync), 4 shards"
        ),
        items: tcp_records,
        ..case
    };
    let mut tcp = [Contender::new("osprey", || {
        tcp_put_run(&osprey, &data, tcp_records, &log)
    })];
    measure(&mut ctx.results, ctx.options, ctx.progress, &case, &mut tcp)?;

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

    let kinesis_records = if quick { 20_000 } else { 400_000 };
    let case = Case {
        workload: w.name(),
        name: "kinesis/put-records".to_owned(),
        input: format!(
            "{kinesis_records} records of {RECORD_BYTES} B, PutRecords of {PUT_BATCH} from {CONNS} connections, 4 shards, fsync"
        ),
        unit: "records",
        items: kinesis_records,
    };
    let mut put = [Contender::new("osprey", || {
        let mut server = Server::start(&osprey, &data, &log)?;
        let url = server.url.clone();
        server.timed(|| kinesis_put(&url, kinesis_records))
    })];
    measure(&mut ctx.results, ctx.options, ctx.progress, &case, &mut put)?;
    let case = Case {
        name: "kinesis/get-records".to_owned(),
        input: format!(
            "the {kinesis_records} records put as above, GetRecords (Limit 10000) from the start, one connection a shard"
        ),
        ..case
    };
    let mut get = [Contender::new("osprey", || {
        let mut server = Server::start(&osprey, &data, &log)?;
        let url = server.url.clone();
        kinesis_put(&url, kinesis_records)?;
        server.timed(|| kinesis_get(&url, kinesis_records))
    })];
    measure(&mut ctx.results, ctx.options, ctx.progress, &case, &mut get)?;
    Ok(())
}

/// Records a PutRecords call carries.
const PUT_BATCH: u64 = 500;

/// Connections that put at once.
const CONNS: u64 = 4;

/// The Kinesis stream the cases use.
const KINESIS_STREAM: &str = "k";

/// `osprey serve --http` on a fresh store, with stream `k` of 4 shards.
struct Server {
    proc: Reaped,
    pid: u32,
    url: String,
}

impl Server {
    fn start(osprey: &Path, data: &Path, log: &Path) -> Result<Server> {
        let _ = std::fs::remove_dir_all(data);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| BenchError::Process {
                command: "osprey serve".into(),
                reason: format!("no free port: {e}"),
            })?
            .port();
        let err = File::create(log).map_err(|e| BenchError::io("create", log, e))?;
        let mut cmd = Command::new(osprey);
        cmd.args([
            "-q",
            "serve",
            "--http",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err);
        let mut proc = spawn(&mut cmd)?;
        let pid = proc.child().map_or(0, |c| c.id());
        let url = format!("http://127.0.0.1:{port}");
        let client = crate::kinesis::Client::new(&url);
        let t0 = Instant::now();
        loop {
            match client.ensure_stream(KINESIS_STREAM, 4) {
                Ok(()) => break,
                Err(e) if t0.elapsed() > Duration::from_secs(20) => {
                    let _ = proc.finish();
                    return Err(BenchError::Process {
                        command: "osprey serve".into(),
                        reason: format!("the Kinesis API did not answer: {e} ({})", tail(log)),
                    });
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        Ok(Server { proc, pid, url })
    }

    /// Times `work` against the server: wall time, the server's CPU time
    /// and its peak RSS; then stops the server.
    fn timed(&mut self, work: impl FnOnce() -> Result<()>) -> Result<Sample> {
        let cpu0 = rusage::proc_cpu(self.pid).unwrap_or_default();
        let t0 = Instant::now();
        work()?;
        let wall = t0.elapsed();
        let cpu = rusage::proc_cpu(self.pid)
            .unwrap_or_default()
            .saturating_sub(cpu0);
        let peak = rusage::proc_peak_rss(self.pid).unwrap_or(0);
        let _ = self.proc.finish();
        Ok(Sample::of(wall, cpu, peak))
    }
}

fn kinesis_err(e: crate::kinesis::CallError) -> BenchError {
    BenchError::Process {
        command: "the Kinesis API".into(),
        reason: e.0,
    }
}

fn thread_panicked(what: &str) -> BenchError {
    BenchError::Process {
        command: what.to_owned(),
        reason: "a thread panicked".into(),
    }
}

/// Puts records 0 to `total` through PutRecords, `CONNS` connections at once.
fn kinesis_put(url: &str, total: u64) -> Result<()> {
    let per = total.div_ceil(CONNS);
    std::thread::scope(|s| {
        let threads: Vec<_> = (0..CONNS)
            .map(|c| s.spawn(move || put_share(url, c * per, ((c + 1) * per).min(total))))
            .collect();
        // The scope joins the others when one failed.
        threads.into_iter().try_for_each(|t| {
            t.join()
                .unwrap_or_else(|_| Err(thread_panicked("PutRecords")))
        })
    })
}

/// Puts records `from` to `to` on one connection.
fn put_share(url: &str, from: u64, to: u64) -> Result<()> {
    let client = crate::kinesis::Client::new(url);
    let mut record = Vec::new();
    let mut n = from;
    while n < to {
        let end = (n + PUT_BATCH).min(to);
        let records: Vec<serde_json::Value> = (n..end)
            .map(|i| {
                record.clear();
                inputs::record(&mut record, i, RECORD_BYTES);
                serde_json::json!({
                    "Data": osprey_ingest::codec::base64::encode(&record),
                    "PartitionKey": format!("device-{}", i % 997),
                })
            })
            .collect();
        let body = serde_json::json!({ "StreamName": KINESIS_STREAM, "Records": records });
        let acked = client
            .put_records(body.to_string().as_bytes())
            .map_err(kinesis_err)?;
        if acked.iter().any(|a| !a) {
            return Err(BenchError::Process {
                command: "PutRecords".into(),
                reason: "records were refused".into(),
            });
        }
        n = end;
    }
    Ok(())
}

/// Reads every shard of the stream from its start; fails unless `total`
/// records came back.
fn kinesis_get(url: &str, total: u64) -> Result<()> {
    let shards = crate::kinesis::Client::new(url)
        .shards(KINESIS_STREAM)
        .map_err(kinesis_err)?;
    let got: u64 = std::thread::scope(|s| {
        let threads: Vec<_> = shards
            .iter()
            .map(|shard| s.spawn(move || read_shard(url, shard)))
            .collect();
        threads
            .into_iter()
            .map(|t| {
                t.join()
                    .unwrap_or_else(|_| Err(thread_panicked("GetRecords")))
            })
            .sum::<Result<u64>>()
    })?;
    if got != total {
        return Err(BenchError::Process {
            command: "GetRecords".into(),
            reason: format!("read {got} of {total} records"),
        });
    }
    Ok(())
}

/// Reads one shard from its start to its end; returns its records.
fn read_shard(url: &str, shard: &str) -> Result<u64> {
    let client = crate::kinesis::Client::new(url);
    let mut it = client
        .trim_horizon(KINESIS_STREAM, shard)
        .map_err(kinesis_err)?;
    let mut n = 0u64;
    loop {
        let answer = client.get_records(&it, 10_000).map_err(kinesis_err)?;
        if answer.records.is_empty() {
            return Ok(n);
        }
        n += answer.records.len() as u64;
        match answer.next_shard_iterator {
            Some(next) => it = next,
            None => return Ok(n),
        }
    }
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

/// `osprey put s --listen` on a fresh store: the server and its port.
fn listener(osprey: &Path, data: &Path, log: &Path) -> Result<(Reaped, u16)> {
    create(osprey, data, log)?;
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
    Ok((server, port))
}

fn tcp_err(e: std::io::Error) -> BenchError {
    BenchError::Process {
        command: "osprey put --listen".into(),
        reason: format!("the connection failed: {e}"),
    }
}

/// Sends `blob` (whole lines) on a connection of its own and reads the
/// answers until one a line has come; returns the error answers.
fn send_and_ack(port: u16, blob: &[u8]) -> Result<u64> {
    let lines = blob.iter().filter(|&&b| b == b'\n').count();
    let mut conn = TcpStream::connect(("127.0.0.1", port)).map_err(tcp_err)?;
    let _ = conn.set_nodelay(true);
    let mut answers = conn.try_clone().map_err(tcp_err)?;
    std::thread::scope(|s| {
        let sender = s.spawn(move || conn.write_all(blob));
        let (mut got, mut errors, mut buf) = (0, 0u64, vec![0u8; 1 << 16]);
        while got < lines {
            let n = answers.read(&mut buf).map_err(tcp_err)?;
            if n == 0 {
                return Err(tcp_err(std::io::ErrorKind::UnexpectedEof.into()));
            }
            got += buf[..n].iter().filter(|&&b| b == b'\n').count();
            errors += buf[..n].windows(8).filter(|w| w == b"\"error\":").count() as u64;
        }
        sender
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the sending thread panicked")))
            .map_err(tcp_err)?;
        Ok(errors)
    })
}

/// Puts `total` records over `CONNS` connections to `osprey put --listen`
/// as fast as it acknowledges them; the server's CPU time and peak RSS.
fn tcp_put_run(osprey: &Path, data: &Path, total: u64, log: &Path) -> Result<Sample> {
    let (mut server, port) = listener(osprey, data, log)?;
    let pid = server.child().map_or(0, |c| c.id());
    let per = total / CONNS;
    let blobs: Vec<Vec<u8>> = (0..CONNS)
        .map(|c| {
            let mut b = Vec::with_capacity(usize::try_from(per).unwrap_or(0) * RECORD_BYTES);
            (c * per..(c + 1) * per).for_each(|n| inputs::record(&mut b, n, RECORD_BYTES));
            b
        })
        .collect();
    let cpu0 = rusage::proc_cpu(pid).unwrap_or_default();
    let t0 = Instant::now();
    let errors: u64 = std::thread::scope(|s| {
        let threads: Vec<_> = blobs
            .iter()
            .map(|blob| s.spawn(move || send_and_ack(port, blob)))
            .collect();
        threads
            .into_iter()
            .map(|t| {
                t.join()
                    .unwrap_or_else(|_| Err(thread_panicked("put over TCP")))
            })
            .sum::<Result<u64>>()
    })?;
    let wall = t0.elapsed();
    let cpu = rusage::proc_cpu(pid)
        .unwrap_or_default()
        .saturating_sub(cpu0);
    let peak = rusage::proc_peak_rss(pid).unwrap_or(0);
    let _ = server.finish();
    if errors > 0 {
        return Err(BenchError::Process {
            command: "osprey put --listen".into(),
            reason: format!("{errors} records were refused"),
        });
    }
    Ok(Sample::of(wall, cpu, peak))
}

fn latency_run(osprey: &Path, data: &Path, total: u64, rate: u64, log: &Path) -> Result<Sample> {
    let total = usize::try_from(total).unwrap_or(usize::MAX);
    let (mut server, port) = listener(osprey, data, log)?;
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
