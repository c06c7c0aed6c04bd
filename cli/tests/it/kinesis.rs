//! `osprey serve --http`: the Kinesis Data Streams API driven by boto3, the
//! AWS SDK for Python, with an endpoint URL; SigV4 signatures checked when
//! the server has credentials. Then the HTTP server itself through raw
//! `TcpStream`s: idle and slow peers are closed after `--idle-timeout` and
//! `--request-timeout` and give their slot back, `Expect: 100-continue` is
//! met, and malformed or broken requests end their own connection only.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{Shutdown, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Proc, osprey, output};

/// The client side, run by python3: every call the API serves, the error
/// shapes, a partial PutRecords failure, and split/merge.
const CLIENT: &str = r#"
import sys, boto3, botocore
k = boto3.client("kinesis", endpoint_url=sys.argv[1], region_name="us-east-1",
                 aws_access_key_id="test", aws_secret_access_key="test",
                 config=botocore.config.Config(retries={"max_attempts": 1}))
k.create_stream(StreamName="s", ShardCount=2)
assert k.list_streams()["StreamNames"] == ["s"]
try:
    k.create_stream(StreamName="s", ShardCount=1); raise SystemExit("duplicate create passed")
except k.exceptions.ResourceInUseException:
    pass
try:
    k.describe_stream(StreamName="nope"); raise SystemExit("describe of nothing passed")
except k.exceptions.ResourceNotFoundException as e:
    assert "no such stream" in str(e), e
d = k.describe_stream(StreamName="s")["StreamDescription"]
assert d["StreamStatus"] == "ACTIVE" and len(d["Shards"]) == 2, d
assert d["Shards"][1]["HashKeyRange"]["EndingHashKey"] == str(2**128 - 1)
one = k.put_record(StreamName="s", Data=b"first", PartitionKey="a")
assert one["ShardId"].startswith("shardId-") and one["SequenceNumber"] == "0", one
out = k.put_records(StreamName="s", Records=[
    {"Data": b'{"n":%d}' % i, "PartitionKey": "k%d" % i} for i in range(20)
] + [{"Data": b"x" * (1024 * 1024 + 1), "PartitionKey": "big"}])
assert out["FailedRecordCount"] == 1, out["FailedRecordCount"]
assert out["Records"][20]["ErrorCode"] == "InvalidArgumentException", out["Records"][20]
assert "1 MiB" in out["Records"][20]["ErrorMessage"]
assert all("SequenceNumber" in r for r in out["Records"][:20])
try:
    k.put_records(StreamName="s", Records=[{"Data": b"x", "PartitionKey": "k"}] * 501)
    raise SystemExit("501 records passed")
except k.exceptions.InvalidArgumentException:
    pass
got = []
for shard in k.list_shards(StreamName="s")["Shards"]:
    it = k.get_shard_iterator(StreamName="s", ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    r = k.get_records(ShardIterator=it, Limit=5)
    got += r["Records"]
    r = k.get_records(ShardIterator=r["NextShardIterator"])
    got += r["Records"]
    assert r["MillisBehindLatest"] == 0
assert sorted(x["Data"] for x in got) == sorted([b"first"] + [b'{"n":%d}' % i for i in range(20)])
assert all(x["ApproximateArrivalTimestamp"].year >= 2024 for x in got)
shard = one["ShardId"]
it = k.get_shard_iterator(StreamName="s", ShardId=shard, ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                          StartingSequenceNumber="0")["ShardIterator"]
assert all(x["Data"] != b"first" for x in k.get_records(ShardIterator=it)["Records"])
it = k.get_shard_iterator(StreamName="s", ShardId=shard, ShardIteratorType="LATEST")["ShardIterator"]
assert k.get_records(ShardIterator=it)["Records"] == []
k.split_shard(StreamName="s", ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**126))
shards = k.list_shards(StreamName="s")["Shards"]
assert len(shards) == 4 and shards[2]["ParentShardId"] == "shardId-000000000000", shards
assert "EndingSequenceNumber" in shards[0]["SequenceNumberRange"]
k.merge_shards(StreamName="s", ShardToMerge="shardId-000000000002", AdjacentShardToMerge="shardId-000000000003")
assert k.describe_stream_summary(StreamName="s")["StreamDescriptionSummary"]["OpenShardCount"] == 2
try:
    k.merge_shards(StreamName="s", ShardToMerge="shardId-000000000004", AdjacentShardToMerge="shardId-000000000000")
    raise SystemExit("merge of a closed shard passed")
except k.exceptions.InvalidArgumentException:
    pass
k.increase_stream_retention_period(StreamName="s", RetentionPeriodHours=48)
assert k.describe_stream_summary(StreamName="s")["StreamDescriptionSummary"]["RetentionPeriodHours"] == 48
k.delete_stream(StreamName="s")
assert k.list_streams()["StreamNames"] == []
print("ok")
"#;

/// AT_SEQUENCE_NUMBER and AT_TIMESTAMP through boto3 (which sends the
/// timestamp in whole seconds, so the two batches are put either side of a
/// second's start), and PutRecords' 5 MiB cap (data and partition keys
/// together) at its edge: a call of exactly 5 MiB is stored, one byte more
/// is refused whole.
const POSITIONS: &str = r#"
import sys, math, time, datetime, boto3, botocore
k = boto3.client("kinesis", endpoint_url=sys.argv[1], region_name="us-east-1",
                 aws_access_key_id="test", aws_secret_access_key="test",
                 config=botocore.config.Config(retries={"max_attempts": 1}))
k.create_stream(StreamName="p", ShardCount=1)
SHARD = "shardId-000000000000"
for i in range(5):
    k.put_record(StreamName="p", Data=b"a%d" % i, PartitionKey="k")
time.sleep(math.ceil(time.time()) - time.time() + 0.05)
mid = datetime.datetime.fromtimestamp(math.floor(time.time()), datetime.timezone.utc)
for i in range(5):
    k.put_record(StreamName="p", Data=b"b%d" % i, PartitionKey="k")
def read(kind, **kw):
    it = k.get_shard_iterator(StreamName="p", ShardId=SHARD, ShardIteratorType=kind, **kw)["ShardIterator"]
    return k.get_records(ShardIterator=it)["Records"]
def data(kind, **kw):
    return [x["Data"] for x in read(kind, **kw)]
a = [b"a%d" % i for i in range(5)]
b = [b"b%d" % i for i in range(5)]
assert data("AT_SEQUENCE_NUMBER", StartingSequenceNumber="0") == a + b
assert data("AT_SEQUENCE_NUMBER", StartingSequenceNumber="3") == a[3:] + b
assert data("AT_SEQUENCE_NUMBER", StartingSequenceNumber="9") == b[4:]
assert data("AT_TIMESTAMP", Timestamp=mid) == b, data("AT_TIMESTAMP", Timestamp=mid)
assert data("AT_TIMESTAMP", Timestamp=datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)) == a + b
future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
assert data("AT_TIMESTAMP", Timestamp=future) == []
# The cap: five records of 1 MiB less a byte under a one-byte key are
# 5 MiB exactly; one byte more and the whole call is refused.
MIB = 1024 * 1024
k.create_stream(StreamName="cap", ShardCount=1)
full = [{"Data": b"x" * (MIB - 1), "PartitionKey": "k"} for _ in range(5)]
out = k.put_records(StreamName="cap", Records=full)
assert out["FailedRecordCount"] == 0, out["FailedRecordCount"]
over = full[:4] + [{"Data": b"x" * MIB, "PartitionKey": "k"}]
try:
    k.put_records(StreamName="cap", Records=over); raise SystemExit("5 MiB + 1 passed")
except k.exceptions.InvalidArgumentException as e:
    assert "more than 5 MiB" in str(e), e
it = k.get_shard_iterator(StreamName="cap", ShardId=SHARD, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
got = 0
while True:
    r = k.get_records(ShardIterator=it)
    got += len(r["Records"])
    if not r["Records"]:
        break
    it = r["NextShardIterator"]
assert got == 5, got
print("ok")
"#;

/// Signed with the right secret, with a wrong one, with an unknown key, and
/// with a clock off by more and by less than 5 minutes.
const SIGNED: &str = r#"
import sys, boto3, botocore
def client(key, secret):
    return boto3.client("kinesis", endpoint_url=sys.argv[1], region_name="eu-west-1",
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        config=botocore.config.Config(retries={"max_attempts": 1}))
good = client("AKOSPREY", "s3cret/key+1")
good.create_stream(StreamName="signed", ShardCount=1)
assert good.put_record(StreamName="signed", Data=b"x", PartitionKey="k")["SequenceNumber"] == "0"
for key, secret, code in [("AKOSPREY", "wrong", "InvalidSignatureException"),
                          ("AKOTHER", "s3cret/key+1", "UnrecognizedClientException")]:
    try:
        client(key, secret).list_streams(); raise SystemExit("a bad signature passed")
    except botocore.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == code, e.response
# A request signed 6 minutes off the server's clock either way is refused
# (AWS's 5 minutes); 4 minutes off is taken.
import datetime, botocore.auth
real_now = botocore.auth.get_current_datetime
def shifted(minutes):
    botocore.auth.get_current_datetime = lambda: real_now() + datetime.timedelta(minutes=minutes)
for minutes, words in [(-6, "Signature expired: "), (6, "Signature not yet current: ")]:
    shifted(minutes)
    try:
        good.list_streams(); raise SystemExit("a shifted clock passed")
    except botocore.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == "InvalidSignatureException", e.response
        assert e.response["Error"]["Message"].startswith(words), e.response
shifted(-4)
good.list_streams()
botocore.auth.get_current_datetime = real_now
print("ok")
"#;

/// Starts `osprey serve` with `extra` arguments; returns it (killed when
/// dropped) and its URL.
pub(crate) fn serve(dir: &std::path::Path, extra: &[&str]) -> (Proc, String) {
    let mut server = Proc::spawn(
        osprey()
            .args(["serve", "--http", "127.0.0.1:0", "--data-dir"])
            .arg(dir.join("data"))
            .args(extra)
            .stderr(Stdio::piped()),
    );
    let url = server
        .stderr_lines()
        .announced("osprey: serving the Kinesis API on ", "the server");
    (server, url)
}

/// Runs a boto3 script against `url`; panics unless it prints `ok`.
pub(crate) fn client(script: &str, url: &str) {
    let out = output(Command::new("python3").args(["-c", script, url]), b"");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok",
        "boto3 client failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn boto3_drives_the_kinesis_api() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, url) = serve(dir.path(), &[]);
    client(CLIENT, &url);
    assert!(server.alive());
}

#[test]
fn boto3_reads_at_a_sequence_number_and_a_timestamp_and_meets_the_5_mib_cap() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, url) = serve(dir.path(), &[]);
    client(POSITIONS, &url);
    assert!(server.alive());
}

#[test]
fn sigv4_signatures_are_checked_with_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "s3cret/key+1\n").unwrap();
    let secret = secret.to_str().unwrap();
    let (mut server, url) = serve(
        dir.path(),
        &[
            "--access-key-id",
            "AKOSPREY",
            "--secret-access-key-file",
            secret,
        ],
    );
    client(SIGNED, &url);
    assert!(server.alive());
}

#[test]
fn sigv4_signatures_are_checked_under_serve_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("osprey.toml"),
        "data_dir = \"data\"\nbackend = \"cpu\"\n[http]\nlisten = \"127.0.0.1:0\"\n\
         access_key_id = \"AKOSPREY\"\nsecret_access_key_env = \"OSPREY_TEST_SECRET\"\n",
    )
    .unwrap();
    let start = |secret: Option<&str>| {
        let mut cmd = osprey();
        cmd.current_dir(dir.path())
            .args(["serve", "--config", "osprey.toml"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        match secret {
            Some(secret) => cmd.env("OSPREY_TEST_SECRET", secret),
            None => cmd.env_remove("OSPREY_TEST_SECRET"),
        };
        cmd
    };
    // The secret's variable unset: a usage error naming the line and key.
    let run = output(&mut start(None), b"");
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(
        err.contains("osprey.toml:6: http: secret_access_key_env: the environment variable \"OSPREY_TEST_SECRET\" is not set"),
        "{err}"
    );
    let mut server = Proc::spawn(&mut start(Some("s3cret/key+1")));
    let url = server
        .stderr_lines()
        .announced("osprey: serving on ", "serve --config");
    client(SIGNED, &url);
    assert!(server.alive());
}

/// The server's idle timeout in these tests, in seconds: long enough that
/// a loaded machine accepts 64 connections and a client calls again well
/// within it, short enough that waiting it out keeps the test quick.
const IDLE: f64 = 2.0;
/// The server's request timeout in these tests, in seconds.
const REQUEST: f64 = 2.0;
/// How much later than its limit a cut may come on a loaded machine.
const SLACK: f64 = 3.0;

/// A server with short timeouts; returns it and its `HOST:PORT`.
fn quick_server(dir: &std::path::Path) -> (Proc, String) {
    let (idle, request) = (IDLE.to_string(), REQUEST.to_string());
    let (server, url) = serve(
        dir,
        &["--idle-timeout", &idle, "--request-timeout", &request],
    );
    (server, url.trim_start_matches("http://").to_owned())
}

/// A connection to `addr` whose reads give up after 30 s (every wait on the
/// server in these tests is far shorter).
pub(crate) fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

/// The head of a request for `op` with a body of `len` bytes.
pub(crate) fn head(op: &str, len: usize) -> String {
    format!(
        "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Kinesis_20131202.{op}\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {len}\r\n\r\n"
    )
}

/// Reads one answer on `r`: its status and body.
///
/// # Panics
/// When the connection ends before a whole answer, saying so.
#[track_caller]
pub(crate) fn answer(r: &mut BufReader<TcpStream>) -> (u16, String) {
    let mut status = String::new();
    r.read_line(&mut status).unwrap();
    let code = status
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no answer, the connection gave {status:?}"));
    let mut len = 0;
    loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).unwrap();
    (code, String::from_utf8(body).unwrap())
}

/// Sends one request for `op` on `r` and reads its answer.
pub(crate) fn call(r: &mut BufReader<TcpStream>, op: &str, body: &str) -> (u16, String) {
    let request = head(op, body.len()) + body;
    r.get_mut().write_all(request.as_bytes()).unwrap();
    answer(r)
}

/// Reads what the server sends until it closes the connection (a reset
/// counts); how long that took. Panics when it is still open after the
/// 30 s read timeout.
pub(crate) fn until_closed(s: &mut TcpStream) -> (Vec<u8>, Duration) {
    let start = Instant::now();
    let mut got = Vec::new();
    match s.read_to_end(&mut got) {
        Ok(_) => {}
        // A reset (the server closed with bytes of ours unread) ends it too.
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("the server did not close the connection: {e}"),
    }
    (got, start.elapsed())
}

#[test]
fn idle_and_slow_peers_are_closed_and_give_their_slot_back() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, addr) = quick_server(dir.path());
    let mut client = BufReader::new(connect(&addr));
    assert_eq!(
        call(&mut client, "CreateStream", r#"{"StreamName":"s"}"#).0,
        200
    );
    // A keep-alive client that pauses within the idle limit keeps its connection.
    for _ in 0..3 {
        std::thread::sleep(Duration::from_secs_f64(IDLE / 10.0));
        assert_eq!(call(&mut client, "ListStreams", "{}").0, 200);
    }
    // Every slot taken (the client's and 63 that send nothing): the next
    // connection is refused. The server accepts in the order the
    // connections were made, so the extra one comes after the 63 however
    // slowly it accepts (within the idle limit, whose clock starts at the
    // first accept).
    let mut idle: Vec<TcpStream> = (1..64).map(|_| connect(&addr)).collect();
    let mut extra = BufReader::new(connect(&addr));
    let (code, body) = answer(&mut extra);
    assert_eq!(code, 503, "{body}");
    assert!(
        body.contains("ProvisionedThroughputExceededException"),
        "{body}"
    );
    // The idle ones are closed, without an answer, once the idle limit passes.
    for s in &mut idle {
        let (got, _) = until_closed(s);
        assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    }
    // A request that trickles in (a slowloris) is cut off at the request
    // limit, however often a byte comes.
    let mut slow = connect(&addr);
    let start = Instant::now();
    let request = head("ListStreams", 2) + "{}";
    let mut cut = false;
    for b in request.as_bytes() {
        if slow.write_all(std::slice::from_ref(b)).is_err() {
            cut = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let (got, _) = until_closed(&mut slow);
    assert!(cut || got.is_empty(), "{}", String::from_utf8_lossy(&got));
    let took = start.elapsed().as_secs_f64();
    assert!(
        took < REQUEST + SLACK,
        "the slow request held on for {took:.1} s"
    );
    // So is a body that stops half way, and the slots are free again.
    let mut half = connect(&addr);
    half.write_all((head("ListStreams", 10) + "{}").as_bytes())
        .unwrap();
    let (got, waited) = until_closed(&mut half);
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    let waited = waited.as_secs_f64();
    assert!(
        (REQUEST - 0.1..REQUEST + SLACK).contains(&waited),
        "the half body was cut after {waited:.1} s"
    );
    let mut fresh = BufReader::new(connect(&addr));
    assert_eq!(call(&mut fresh, "ListStreams", "{}").0, 200);
    assert!(server.alive());
}

#[test]
fn expect_100_continue_is_answered_before_the_body() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, addr) = quick_server(dir.path());
    let body = r#"{"StreamName":"c"}"#;
    let mut r = BufReader::new(connect(&addr));
    let request =
        head("CreateStream", body.len()).replace("\r\n\r\n", "\r\nExpect: 100-continue\r\n\r\n");
    r.get_mut().write_all(request.as_bytes()).unwrap();
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert_eq!(line, "HTTP/1.1 100 Continue\r\n");
    r.read_line(&mut line).unwrap();
    assert_eq!(line, "HTTP/1.1 100 Continue\r\n\r\n");
    r.get_mut().write_all(body.as_bytes()).unwrap();
    assert_eq!(answer(&mut r).0, 200);
    // Too large a body is refused before it is sent.
    let request =
        head("CreateStream", 9 << 20).replace("\r\n\r\n", "\r\nExpect: 100-continue\r\n\r\n");
    r.get_mut().write_all(request.as_bytes()).unwrap();
    assert_eq!(answer(&mut r).0, 413);
    let (got, _) = until_closed(r.get_mut());
    assert!(got.is_empty());
    assert!(server.alive());
}

#[test]
fn a_bad_request_ends_its_own_connection_with_at_most_one_answer() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, addr) = quick_server(dir.path());
    // A client that keeps calling through it all, on its own connection.
    let mut good = BufReader::new(connect(&addr));
    assert_eq!(
        call(&mut good, "CreateStream", r#"{"StreamName":"s"}"#).0,
        200
    );
    let put = r#"{"StreamName":"s","Records":[{"Data":"eA==","PartitionKey":"k"}]}"#;
    let with = |header: &str| {
        head("PutRecords", put.len())
            .replace("Content-Length", &format!("{header}\r\nX-Old-Length"))
            + put
    };
    let cases: Vec<(&str, Vec<u8>, Option<u16>)> = vec![
        (
            "garbage",
            b"\x16\x03\x01\x02\x00 hello there\r\n\r\n".to_vec(),
            Some(400),
        ),
        ("no version", b"POST /\r\n\r\n".to_vec(), Some(400)),
        (
            "GET",
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            Some(400),
        ),
        (
            "header line without a colon",
            b"POST / HTTP/1.1\r\nHost x\r\n\r\n".to_vec(),
            Some(400),
        ),
        (
            "negative length",
            with("Content-Length: -1").into_bytes(),
            Some(400),
        ),
        (
            "signed length",
            with("Content-Length: +66").into_bytes(),
            Some(400),
        ),
        (
            "huge length",
            with("Content-Length: 99999999999999999999999").into_bytes(),
            Some(400),
        ),
        (
            "length past the limit",
            with("Content-Length: 1000000000").into_bytes(),
            Some(413),
        ),
        (
            "two lengths",
            with("Content-Length: 66\r\nContent-Length: 3").into_bytes(),
            Some(400),
        ),
        (
            "chunked",
            with("Transfer-Encoding: chunked").into_bytes(),
            Some(400),
        ),
        (
            "unknown expectation",
            with("Expect: magic").into_bytes(),
            Some(400),
        ),
        (
            "non-UTF-8 request line",
            b"POST /\xff HTTP/1.1\r\n\r\n".to_vec(),
            Some(400),
        ),
        (
            "non-UTF-8 header",
            b"POST / HTTP/1.1\r\nX-A: \xc3\x28\r\n\r\n".to_vec(),
            Some(400),
        ),
        (
            "head too large",
            [
                &b"POST / HTTP/1.1\r\nX-A: "[..],
                &[b'a'; 70_000],
                b"\r\n\r\n",
            ]
            .concat(),
            Some(431),
        ),
        (
            "body shorter than announced",
            (head("PutRecords", 1000) + put).into_bytes(),
            None,
        ),
        ("head cut off", b"POST / HTTP/1.1\r\nHost: x".to_vec(), None),
    ];
    // Heads hyper cannot read are answered by hyper itself, with the right
    // status and an empty body; the rest get a Kinesis error body.
    let by_hyper = [
        "garbage",
        "no version",
        "header line without a colon",
        "negative length",
        "signed length",
        "huge length",
        "two lengths",
        "non-UTF-8 request line",
        "head too large",
    ];
    for (what, bytes, expected) in cases {
        let mut s = connect(&addr);
        s.write_all(&bytes).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let (got, _) = until_closed(&mut s);
        let got = String::from_utf8_lossy(&got);
        let answers = got.split("\r\n").filter(|l| l.starts_with("HTTP/")).count();
        match expected {
            Some(code) => assert!(
                answers == 1
                    && got.starts_with(&format!("HTTP/1.1 {code} "))
                    && (by_hyper.contains(&what) || got.contains("\"__type\"")),
                "{what}: {got}"
            ),
            None => assert_eq!(answers, 0, "{what}: {got}"),
        }
        assert_eq!(call(&mut good, "PutRecords", put).0, 200, "after {what}");
    }
    // Two equal lengths are one length.
    let mut s = BufReader::new(connect(&addr));
    let twice = format!(
        "Content-Length: {}\r\nContent-Length: {}",
        put.len(),
        put.len()
    );
    s.get_mut().write_all(with(&twice).as_bytes()).unwrap();
    assert_eq!(answer(&mut s).0, 200);
    // A connection reset mid-body: the client closes with the server's
    // `100 Continue` unread, so its kernel answers with a reset.
    for _ in 0..8 {
        let mut s = connect(&addr);
        let request =
            head("PutRecords", 100_000).replace("\r\n\r\n", "\r\nExpect: 100-continue\r\n\r\n");
        s.write_all(request.as_bytes()).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        s.write_all(&[b' '; 5000]).unwrap();
        drop(s);
    }
    assert_eq!(
        call(&mut good, "PutRecords", put).0,
        200,
        "after the resets"
    );
    assert!(server.alive());
}
