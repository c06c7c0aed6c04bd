//! Stream store benchmark against the real binary: put throughput over TCP
//! with durability on, and put-to-read latency with a follower in its own
//! process.
//!
//! ```sh
//! cargo bench -p osprey --bench stream                 # defaults below
//! cargo bench -p osprey --bench stream -- --records 2000000 --conns 4 --shards 4 \
//!     --rate 50000 --seconds 5 --durability fsync
//! ```
//!
//! Throughput: each of `--conns` connections sends its share of `--records`
//! NDJSON lines of 100 B, then of a quarter as many of 1000 B (whole lines,
//! key field included)
//! as fast as the server (`osprey put --listen`, fsync per group commit)
//! acknowledges them; records/s and MB/s count acknowledged lines over the
//! time from the first byte sent to the last ack.
//!
//! HTTP: the same connections send PutRecords calls of 500 records (a
//! quarter as many records of 100 B of data, a sixteenth of 1000 B) to
//! `osprey serve --http`, one call at a time each; then GetRecords reads
//! them all back (`Limit` 10000, one connection a shard).
//!
//! `--osprey PATH` runs another build of the binary instead of the one cargo
//! built, so that two builds can be measured turn about in one session;
//! `--only http` or `--only tcp` runs one of the two throughput parts.
//!
//! Latency: one connection offers `--rate` records/s (a batch each
//! millisecond) for `--seconds`; `osprey read --follow --poll-ms 1` runs in a
//! second process. Per record: send to ack (put-to-ack, durable) and send to
//! its line on the follower's stdout (put-to-read).

#![expect(
    clippy::unwrap_used,
    reason = "a benchmark fails loudly at the first surprise"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

struct Opts {
    records: usize,
    conns: usize,
    shards: u32,
    rate: usize,
    seconds: usize,
    durability: String,
    /// The binary to run; `None` for the one cargo built.
    osprey: Option<String>,
    /// `http` or `tcp` to run one throughput part; empty for both.
    only: String,
}

fn opts() -> Opts {
    let mut o = Opts {
        records: 2_000_000,
        conns: 4,
        shards: 4,
        rate: 50_000,
        seconds: 5,
        durability: "fsync".into(),
        osprey: None,
        only: String::new(),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().cloned().unwrap_or_default();
        match a.as_str() {
            "--records" => o.records = val().parse().unwrap(),
            "--conns" => o.conns = val().parse().unwrap(),
            "--shards" => o.shards = val().parse().unwrap(),
            "--rate" => o.rate = val().parse().unwrap(),
            "--seconds" => o.seconds = val().parse().unwrap(),
            "--durability" => o.durability = val(),
            "--osprey" => o.osprey = Some(val()),
            "--only" => o.only = val(),
            _ => {} // cargo bench passes --bench
        }
    }
    o
}

fn osprey(o: &Opts) -> Command {
    let mut c = Command::new(o.osprey.as_deref().unwrap_or(env!("CARGO_BIN_EXE_osprey")));
    c.env_remove("RUST_LOG");
    c
}

fn server(data: &Path, o: &Opts) -> (Child, u16) {
    let ok = osprey(o)
        .args([
            "-q",
            "stream",
            "create",
            "s",
            "--shards",
            &o.shards.to_string(),
            "--data-dir",
        ])
        .arg(data)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());
    let mut child = osprey(o)
        .args([
            "-q",
            "put",
            "s",
            "--listen",
            "tcp://127.0.0.1:0",
            "--partition-key-field",
            "k",
        ])
        .args(["--durability", &o.durability, "--data-dir"])
        .arg(data)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let port = loop {
        let mut line = String::new();
        assert!(err.read_line(&mut line).unwrap() > 0, "server ended");
        if let Some(rest) = line
            .trim()
            .strip_prefix("osprey: listening on tcp://127.0.0.1:")
        {
            break rest.split(' ').next().unwrap().parse::<u16>().unwrap();
        }
    };
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    (child, port)
}

fn line(out: &mut Vec<u8>, conn: usize, n: usize, size: usize) {
    let head = format!("{{\"k\":\"k{conn}-{}\",\"n\":{n},\"pad\":\"", n % 64);
    out.extend_from_slice(head.as_bytes());
    out.resize(out.len() + size.saturating_sub(head.len() + 3), b'x');
    out.extend_from_slice(b"\"}\n");
}

fn throughput(o: &Opts, size: usize, records: usize) {
    let dir = tempfile::tempdir().unwrap();
    let (mut srv, port) = server(&dir.path().join("data"), o);
    let per = records / o.conns;
    let blobs: Vec<Vec<u8>> = (0..o.conns)
        .map(|c| {
            let mut b = Vec::with_capacity(per * size);
            (0..per).for_each(|n| line(&mut b, c, n, size));
            b
        })
        .collect();
    let bytes: usize = blobs.iter().map(Vec::len).sum();
    let errors = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = blobs
        .into_iter()
        .map(|blob| {
            let errors = Arc::clone(&errors);
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
                s.set_nodelay(true).unwrap();
                let mut r = s.try_clone().unwrap();
                let sender = std::thread::spawn(move || s.write_all(&blob).unwrap());
                let (mut got, mut buf) = (0, vec![0; 1 << 20]);
                while got < per {
                    let n = r.read(&mut buf).unwrap();
                    assert!(n > 0, "server closed");
                    got += buf[..n].iter().filter(|&&b| b == b'\n').count();
                    errors.fetch_add(
                        buf[..n].windows(8).filter(|w| w == b"\"error\":").count() as u64,
                        Ordering::Relaxed,
                    );
                }
                sender.join().unwrap();
            })
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
    let secs = start.elapsed().as_secs_f64();
    srv.kill().unwrap();
    srv.wait().unwrap();
    let n = per * o.conns;
    println!(
        "put over TCP, {size} B records, {} connections, {} shards, durability {}: {:.0} records/s, {:.1} MB/s ({} error answers)",
        o.conns,
        o.shards,
        o.durability,
        n as f64 / secs,
        bytes as f64 / secs / 1e6,
        errors.load(Ordering::Relaxed)
    );
}

fn pct(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(((v.len() as f64 * q) as usize).min(v.len().saturating_sub(1)))
        .copied()
        .unwrap_or(f64::NAN)
}

fn latency(o: &Opts) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut srv, port) = server(&data, o);
    let mut follower = osprey(o)
        .args([
            "read",
            "s",
            "--from",
            "latest",
            "--follow",
            "--poll-ms",
            "1",
            "--data-dir",
        ])
        .arg(&data)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let total = o.rate * o.seconds;
    let t0 = Instant::now();
    // Send times in ns since t0, per record number.
    let sent: Arc<Vec<AtomicU64>> = Arc::new((0..total).map(|_| AtomicU64::new(0)).collect());
    let out = BufReader::new(follower.stdout.take().unwrap());
    let reader = {
        let sent = Arc::clone(&sent);
        std::thread::spawn(move || {
            let mut lat = Vec::with_capacity(total);
            for l in out.lines() {
                let l = l.unwrap();
                let at = t0.elapsed().as_nanos() as u64;
                let n: usize = l
                    .split("\"n\":")
                    .nth(1)
                    .and_then(|r| r.split(',').next())
                    .unwrap()
                    .parse()
                    .unwrap();
                lat.push((at - sent[n].load(Ordering::Acquire)) as f64 / 1e6);
                if lat.len() >= total {
                    break;
                }
            }
            lat
        })
    };
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_nodelay(true).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let acks = {
        let sent = Arc::clone(&sent);
        std::thread::spawn(move || {
            let mut lat = Vec::with_capacity(total);
            let mut l = String::new();
            while lat.len() < total {
                l.clear();
                if r.read_line(&mut l).unwrap() == 0 {
                    break;
                }
                let at = t0.elapsed().as_nanos() as u64;
                lat.push((at - sent[lat.len()].load(Ordering::Acquire)) as f64 / 1e6);
            }
            lat
        })
    };
    let per_ms = (o.rate / 1000).max(1);
    let mut buf = Vec::new();
    let mut n = 0;
    while n < total {
        let due = Duration::from_secs_f64(n as f64 / o.rate as f64);
        if let Some(wait) = due.checked_sub(t0.elapsed()) {
            std::thread::sleep(wait);
        }
        buf.clear();
        let stamp = t0.elapsed().as_nanos() as u64;
        for _ in 0..per_ms.min(total - n) {
            line(&mut buf, 0, n, 100);
            sent[n].store(stamp, Ordering::Release);
            n += 1;
        }
        s.write_all(&buf).unwrap();
    }
    let offered = total as f64 / t0.elapsed().as_secs_f64();
    let mut ack = acks.join().unwrap();
    let mut read = reader.join().unwrap();
    follower.kill().unwrap();
    srv.kill().unwrap();
    let _ = (follower.wait(), srv.wait());
    println!(
        "latency, 100 B records at {offered:.0} records/s for {} s, durability {}: put-to-read p50 {:.2} ms, p99 {:.2} ms ({} records); put-to-ack p50 {:.2} ms, p99 {:.2} ms ({} records)",
        o.seconds,
        o.durability,
        pct(&mut read, 0.5),
        pct(&mut read, 0.99),
        read.len(),
        pct(&mut ack, 0.5),
        pct(&mut ack, 0.99),
        ack.len()
    );
}

/// Sends one JSON 1.1 request on `s` and reads the answer; returns its body.
fn http_call(s: &mut BufReader<TcpStream>, op: &str, body: &[u8]) -> String {
    let head = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Kinesis_20131202.{op}\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let w = s.get_mut();
    w.write_all(head.as_bytes()).unwrap();
    w.write_all(body).unwrap();
    let mut len = 0;
    loop {
        let mut line = String::new();
        s.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap();
        }
    }
    let mut out = vec![0; len];
    s.read_exact(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// PutRecords of 500 records a call over HTTP (`osprey serve --http`).
fn http_throughput(o: &Opts, size: usize, records: usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = osprey(o)
        .args([
            "-q",
            "serve",
            "--http",
            "127.0.0.1:0",
            "--durability",
            &o.durability,
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(srv.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    let addr = line.trim().rsplit("http://").next().unwrap().to_owned();
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    let mut admin = BufReader::new(TcpStream::connect(&addr).unwrap());
    let create = format!("{{\"StreamName\":\"s\",\"ShardCount\":{}}}", o.shards);
    http_call(&mut admin, "CreateStream", create.as_bytes());
    let calls = records / 500 / o.conns;
    let start = Instant::now();
    let handles: Vec<_> = (0..o.conns)
        .map(|c| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                // Data of `size` bytes in base64, 500 records a call.
                let data = "eHh4".repeat(size / 3); // base64 of "xxx"
                let entries: Vec<String> = (0..500)
                    .map(|i| format!("{{\"Data\":\"{data}\",\"PartitionKey\":\"k{c}-{i}\"}}"))
                    .collect();
                let body = format!(
                    "{{\"StreamName\":\"s\",\"Records\":[{}]}}",
                    entries.join(",")
                );
                let mut s = BufReader::new(TcpStream::connect(&addr).unwrap());
                s.get_ref().set_nodelay(true).unwrap();
                for _ in 0..calls {
                    let answer = http_call(&mut s, "PutRecords", body.as_bytes());
                    assert!(
                        answer.contains("\"FailedRecordCount\":0"),
                        "{}",
                        &answer[..200.min(answer.len())]
                    );
                }
            })
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
    let secs = start.elapsed().as_secs_f64();
    let n = calls * 500 * o.conns;
    println!(
        "PutRecords over HTTP, {size} B of data a record, 500 a call, {} connections, {} shards, durability {}: {:.0} records/s, {:.1} MB/s of data",
        o.conns,
        o.shards,
        o.durability,
        n as f64 / secs,
        (n * (size / 3) * 3) as f64 / secs / 1e6
    );
    http_read_back(o, &addr, size, n);
    srv.kill().unwrap();
    srv.wait().unwrap();
}

/// GetRecords of everything just put: one keep-alive connection a shard,
/// from TRIM_HORIZON, `Limit` 10000, until a call returns no record.
fn http_read_back(o: &Opts, addr: &str, size: usize, expected: usize) {
    let start = Instant::now();
    let handles: Vec<_> = (0..o.shards)
        .map(|shard| {
            let addr = addr.to_owned();
            std::thread::spawn(move || {
                let mut s = BufReader::new(TcpStream::connect(&addr).unwrap());
                s.get_ref().set_nodelay(true).unwrap();
                let it = format!(
                    "{{\"StreamName\":\"s\",\"ShardId\":\"shardId-{shard:012}\",\"ShardIteratorType\":\"TRIM_HORIZON\"}}"
                );
                let mut answer = http_call(&mut s, "GetShardIterator", it.as_bytes());
                let (mut got, mut key) = (0, "\"ShardIterator\":\"");
                loop {
                    let at = answer.find(key).unwrap() + key.len();
                    let token = &answer[at..at + answer[at..].find('"').unwrap()];
                    let req = format!("{{\"ShardIterator\":\"{token}\",\"Limit\":10000}}");
                    answer = http_call(&mut s, "GetRecords", req.as_bytes());
                    let n = answer.matches("\"SequenceNumber\"").count();
                    if n == 0 {
                        return got;
                    }
                    got += n;
                    key = "\"NextShardIterator\":\"";
                }
            })
        })
        .collect();
    let n: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(n, expected, "records read back");
    println!(
        "GetRecords over HTTP, {size} B of data a record, Limit 10000, {} connections (one a shard): {:.0} records/s, {:.1} MB/s of data",
        o.shards,
        n as f64 / secs,
        (n * (size / 3) * 3) as f64 / secs / 1e6
    );
}

fn main() {
    let o = opts();
    if o.records > 0 && o.only != "tcp" {
        http_throughput(&o, 100, o.records / 4);
        http_throughput(&o, 1000, o.records / 16);
    }
    if o.records > 0 && o.only != "http" {
        throughput(&o, 100, o.records);
        // A quarter as many 1 KB records: the same order of memory.
        throughput(&o, 1000, o.records / 4);
    }
    if o.rate > 0 {
        latency(&o);
    }
}
