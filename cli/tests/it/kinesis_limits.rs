//! `osprey serve --http` at its limits: shard iterators that are forged,
//! altered or too old, starting positions past a shard's end and GetRecords
//! `Limit`s out of range, all through boto3 (botocore with its own parameter
//! checks off where it would refuse first); then, through raw sockets,
//! silent connections that hold every slot and the 503s of a full server.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::{PATIENCE, Proc, wait_until};
use crate::kinesis::{call, client, connect, head, serve, until_closed};

/// The head of every script: `k`, a boto3 client that does not retry, and
/// `code(f, **kw)`, the error code of a call (`"ok"` when it succeeds).
const PRELUDE: &str = r#"
import sys, time, base64, boto3, botocore
from botocore.config import Config
def client(**config):
    return boto3.client("kinesis", endpoint_url=sys.argv[1], region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test",
                        config=Config(retries={"max_attempts": 1}, **config))
k = client()
def code(f, **kw):
    try:
        f(**kw)
        return "ok"
    except botocore.exceptions.ClientError as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400, e.response
        assert e.response["Error"]["Message"], e.response
        return e.response["Error"]["Code"]
k.create_stream(StreamName="s", ShardCount=1)
for i in range(3):
    k.put_record(StreamName="s", Data=b"%d" % i, PartitionKey="k")
SHARD = "shardId-000000000000"
def iterator(kind, **kw):
    return k.get_shard_iterator(StreamName="s", ShardId=SHARD, ShardIteratorType=kind, **kw)["ShardIterator"]
"#;

/// Iterators with a lifetime of 3 s (`--iterator-lifetime 3`).
const ITERATORS: &str = r#"
LIFETIME = 3.0
it = iterator("TRIM_HORIZON")
# One made up in the old plain format, and the real one with a bit flipped.
forged = base64.b64encode(b"s/shardId-000000000000/1").decode()
assert code(k.get_records, ShardIterator=forged) == "InvalidArgumentException"
raw = bytearray(base64.b64decode(it))
for at in [len(raw) // 2, len(raw) - 1, 20]:
    bad = bytearray(raw); bad[at] ^= 1
    bad = base64.b64encode(bytes(bad)).decode()
    assert code(k.get_records, ShardIterator=bad) == "InvalidArgumentException", at
# Opaque: the sequence number is not there to edit as text.
assert b"s/" + SHARD.encode() + b"/0" not in raw
# A consumer that follows NextShardIterator outlives the first one's
# lifetime: each next iterator is fresh. Each is used a third of the
# lifetime after it came (2 s to spare on a slow machine), four times over.
data = []
first = iterator("TRIM_HORIZON")
# The server made it before it answered: it is at least this old.
made = time.monotonic()
nxt = first
for _ in range(4):
    r = k.get_records(ShardIterator=nxt, Limit=1)
    data += [x["Data"] for x in r["Records"]]
    nxt = r["NextShardIterator"]
    time.sleep(LIFETIME / 3)
assert data == [b"0", b"1", b"2"], data
assert code(k.get_records, ShardIterator=nxt) == "ok"
# The first, older than its lifetime by now, has expired; boto3 knows the
# exception.
assert time.monotonic() - made > LIFETIME, "the loop outlived the first iterator"
try:
    k.get_records(ShardIterator=first); raise SystemExit("an expired iterator passed")
except k.exceptions.ExpiredIteratorException as e:
    assert "expired" in str(e), e
print("ok")
"#;

/// Starting positions at and past the end of a shard holding 0, 1, 2.
const PAST_THE_END: &str = r#"
for kind, seq in [("AT_SEQUENCE_NUMBER", "4"), ("AT_SEQUENCE_NUMBER", "1000"),
                  ("AFTER_SEQUENCE_NUMBER", "3"), ("AFTER_SEQUENCE_NUMBER", "18446744073709551614"),
                  ("AT_SEQUENCE_NUMBER", "99999999999999999999999")]:
    got = code(k.get_shard_iterator, StreamName="s", ShardId=SHARD, ShardIteratorType=kind,
               StartingSequenceNumber=seq)
    assert got == "InvalidArgumentException", (kind, seq, got)
at = iterator("AT_SEQUENCE_NUMBER", StartingSequenceNumber="2")
assert [x["Data"] for x in k.get_records(ShardIterator=at)["Records"]] == [b"2"]
after = iterator("AFTER_SEQUENCE_NUMBER", StartingSequenceNumber="2")
assert k.get_records(ShardIterator=after)["Records"] == []
# After the last record: the next one put is read, none is skipped.
k.put_record(StreamName="s", Data=b"3", PartitionKey="k")
assert [x["Data"] for x in k.get_records(ShardIterator=after)["Records"]] == [b"3"]
print("ok")
"#;

/// GetRecords' `Limit` at and outside 1 to 10,000. boto3 refuses 0 itself
/// (botocore's model has `min: 1`), so that call goes without its checks.
const LIMITS: &str = r#"
unchecked = client(parameter_validation=False)
it = iterator("TRIM_HORIZON")
try:
    k.get_records(ShardIterator=it, Limit=0); raise SystemExit("botocore sent Limit 0")
except botocore.exceptions.ParamValidationError:
    pass
for limit in [0, 10001, 2**40]:
    got = code(unchecked.get_records, ShardIterator=it, Limit=limit)
    assert got == "InvalidArgumentException", (limit, got)
assert len(unchecked.get_records(ShardIterator=it, Limit=1)["Records"]) == 1
assert len(unchecked.get_records(ShardIterator=it, Limit=10000)["Records"]) == 3
print("ok")
"#;

#[test]
fn shard_iterators_are_tamper_evident_and_expire() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, url) = serve(dir.path(), &["--iterator-lifetime", "3"]);
    client(&(PRELUDE.to_owned() + ITERATORS), &url);
}

#[test]
fn sequence_numbers_past_the_end_of_a_shard_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, url) = serve(dir.path(), &[]);
    client(&(PRELUDE.to_owned() + PAST_THE_END), &url);
}

#[test]
fn get_records_limit_is_1_to_10000() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, url) = serve(dir.path(), &[]);
    client(&(PRELUDE.to_owned() + LIMITS), &url);
}

/// A server with `extra` flags and a long idle timeout; its `HOST:PORT`.
fn server(dir: &std::path::Path, extra: &[&str]) -> (Proc, String) {
    let mut args = vec!["--idle-timeout", "30", "--request-timeout", "5"];
    args.extend_from_slice(extra);
    let (server, url) = serve(dir, &args);
    (server, url.trim_start_matches("http://").to_owned())
}

/// What became of one request on a fresh connection.
enum Outcome {
    /// An answer was read: its status and body.
    Answer(u16, String),
    /// The connection broke before a whole answer was read.
    Broken(std::io::Error),
}

impl Outcome {
    /// The outcome in words, for a failing assertion.
    fn describe(&self) -> String {
        match self {
            Outcome::Answer(status, body) => format!("{status} {body}"),
            Outcome::Broken(e) => format!("broken: {e} ({:?})", e.kind()),
        }
    }
}

/// Sends `request` on a fresh connection, its head and its body in two
/// writes 10 ms apart as urllib3 (under boto3) does, and reads one answer,
/// without panicking on a reset.
fn attempt(addr: &str, request: &[u8]) -> Outcome {
    let mut s = connect(addr);
    let split = request
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(request.len(), |at| at + 4);
    let (head, body) = request.split_at(split);
    let sent = s.write_all(head).and_then(|()| {
        std::thread::sleep(Duration::from_millis(10));
        s.write_all(body)
    });
    if let Err(e) = sent {
        return Outcome::Broken(e);
    }
    let mut r = BufReader::new(s);
    let mut read = || -> std::io::Result<(u16, String)> {
        let mut line = String::new();
        r.read_line(&mut line)?;
        let status = line.split(' ').nth(1).and_then(|c| c.parse().ok());
        let mut len = 0;
        loop {
            line.clear();
            if r.read_line(&mut line)? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; len];
        r.read_exact(&mut body)?;
        let status = status.ok_or(std::io::ErrorKind::InvalidData)?;
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    };
    match read() {
        Ok((status, body)) => Outcome::Answer(status, body),
        Err(e) => Outcome::Broken(e),
    }
}

#[test]
fn silent_connections_lock_no_one_out_beyond_the_first_byte_timeout() {
    let dir = tempfile::tempdir().unwrap();
    // Long enough for a loaded machine to accept 64 connections and answer
    // a refusal before the first silent one is closed; far below the idle
    // timeout (30 s).
    let first_byte = 2.0;
    let (mut server, addr) = server(dir.path(), &["--first-byte-timeout", "2"]);
    // A keep-alive client that has called keeps its connection for the idle
    // timeout (30 s), well past the first-byte one.
    let mut kept = BufReader::new(connect(&addr));
    assert_eq!(call(&mut kept, "ListStreams", "{}").0, 200);
    // 63 connections that send nothing fill every other slot; the server
    // accepts in order, so every attempt below comes after them.
    let mut silent: Vec<TcpStream> = (1..64).map(|_| connect(&addr)).collect();
    let start = Instant::now();
    let request = head("ListStreams", 2) + "{}";
    let (mut refused, mut served) = (0, None);
    while start.elapsed() < PATIENCE {
        match attempt(&addr, request.as_bytes()) {
            Outcome::Answer(200, _) => {
                served = Some(start.elapsed());
                break;
            }
            Outcome::Answer(503, _) => refused += 1,
            other => panic!("{}", other.describe()),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let served = served.expect("a client was locked out for good");
    assert!(refused > 0, "the slots were not all taken");
    assert!(
        served.as_secs_f64() < first_byte + 5.0,
        "locked out for {served:?}"
    );
    // The silent ones were closed without an answer.
    for s in &mut silent {
        let (got, _) = until_closed(s);
        assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    }
    // The kept one outlives the first-byte timeout.
    std::thread::sleep(Duration::from_secs_f64(first_byte));
    assert_eq!(call(&mut kept, "ListStreams", "{}").0, 200);
    assert!(server.alive());
}

#[test]
fn every_refusal_of_a_full_server_is_a_readable_503() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, addr) = server(dir.path(), &["--max-connections", "16"]);
    // 16 keep-alive clients hold every slot.
    let mut holders: Vec<BufReader<TcpStream>> = (0..16)
        .map(|_| {
            let mut c = BufReader::new(connect(&addr));
            assert_eq!(call(&mut c, "ListStreams", "{}").0, 200);
            c
        })
        .collect();
    // 200 more, from 8 threads at once, each sending a PutRecords of 64 KiB
    // and reading the answer: every one is a whole 503 with its error.
    let body = format!(
        r#"{{"StreamName":"s","Records":[{{"Data":"{}","PartitionKey":"k"}}]}}"#,
        "QUFB".repeat(16 << 10)
    );
    let request = head("PutRecords", body.len()) + &body;
    let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    (0..25)
                        .map(|_| attempt(&addr, request.as_bytes()))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_default())
            .collect::<Vec<Outcome>>()
    });
    assert_eq!(outcomes.len(), 200);
    let bad: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| {
            !matches!(o, Outcome::Answer(503, body)
                if body.contains("ProvisionedThroughputExceededException"))
        })
        .collect();
    assert!(
        bad.is_empty(),
        "{} of 200 refusals unreadable, the first: {:?}",
        bad.len(),
        bad[0].describe()
    );
    // The holders were not disturbed, and a slot given back is taken.
    for h in &mut holders {
        assert_eq!(call(h, "ListStreams", "{}").0, 200);
    }
    drop(holders.pop());
    let ok = head("ListStreams", 2) + "{}";
    wait_until(|| match attempt(&addr, ok.as_bytes()) {
        Outcome::Answer(200, _) => Ok(()),
        other => Err(format!("no slot came free: {}", other.describe())),
    });
    assert!(server.alive());
}
