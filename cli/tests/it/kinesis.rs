//! `osprey serve --http`: the Kinesis Data Streams API driven by boto3, the
//! AWS SDK for Python, with an endpoint URL; SigV4 signatures checked when
//! the server has credentials.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use crate::common::osprey;

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

/// Signed with the right secret, with a wrong one, and with an unknown key.
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
print("ok")
"#;

/// Starts `osprey serve` with `extra` arguments; returns it and its URL.
fn serve(dir: &std::path::Path, extra: &[&str]) -> (std::process::Child, String) {
    let mut server = osprey()
        .args(["serve", "--http", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join("data"))
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(server.stderr.take().unwrap());
    let url = loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "the server ended before listening"
        );
        if let Some(url) = line
            .trim()
            .strip_prefix("osprey: serving the Kinesis API on ")
        {
            break url.to_owned();
        }
    };
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    (server, url)
}

/// Runs a boto3 script against `url`; panics unless it prints `ok`.
fn client(script: &str, url: &str) {
    let out = Command::new("python3")
        .args(["-c", script, url])
        .output()
        .expect("python3 runs (scripts/setup.sh installs boto3)");
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
    server.kill().unwrap();
    server.wait().unwrap();
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
    server.kill().unwrap();
    server.wait().unwrap();
}
