//! The Kinesis API's CBOR protocol (`application/x-amz-cbor-1.1`, the AWS
//! SDK for Java's default), driven by cbor2 with the shapes the Java SDK
//! sends (blobs as byte strings, timestamps as tag 1 over milliseconds):
//! each call's answer decodes to the same values as the same call's over
//! JSON on the same store, and errors come back in CBOR with `__type`.

use crate::kinesis::{client, serve};

/// The client side: each call over CBOR and over JSON, answers compared.
const CBOR: &str = r#"
import sys, json, base64, http.client, urllib.parse, cbor2
u = urllib.parse.urlparse(sys.argv[1])
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
TIMESTAMPS = {"ApproximateArrivalTimestamp", "StreamCreationTimestamp"}
def call(op, body, cbor):
    if cbor:
        data, ctype = cbor2.dumps(body), "application/x-amz-cbor-1.1"
    else:
        data, ctype = json.dumps(body).encode(), "application/x-amz-json-1.1"
    conn.request("POST", "/", body=data,
                 headers={"Content-Type": ctype, "X-Amz-Target": "Kinesis_20131202." + op})
    r = conn.getresponse()
    raw = r.read()
    assert r.getheader("Content-Type") == ctype, (op, r.getheader("Content-Type"))
    if cbor:
        # Tag 1 over milliseconds, as the Java SDK reads it.
        return r.status, cbor2.loads(raw, semantic_decoders={1: lambda v, *_: ("ms", v)})
    return r.status, json.loads(raw)
def from_json(v, key=None):
    # The JSON answer in the CBOR answer's terms: bytes, not base64;
    # milliseconds, not seconds.
    if isinstance(v, dict):
        return {k: from_json(x, k) for k, x in v.items()}
    if isinstance(v, list):
        return [from_json(x, key) for x in v]
    if key == "Data":
        return base64.b64decode(v)
    if key in TIMESTAMPS:
        return ("ms", round(v * 1000))
    return v
def both(op, body, cbor_body=None, same=True):
    s1, a = call(op, body, False)
    s2, b = call(op, body if cbor_body is None else cbor_body, True)
    assert s1 == s2, (op, s1, s2, a, b)
    if same:
        assert from_json(a) == b, (op, a, b)
    return s2, b

call("CreateStream", {"StreamName": "c", "ShardCount": 2}, True)
# PutRecord and PutRecords with the blobs as byte strings.
s, one = call("PutRecord", {"StreamName": "c", "Data": b"\x00\xffbin", "PartitionKey": "a"}, True)
assert s == 200 and one["SequenceNumber"] == "0" and one["ShardId"].startswith("shardId-"), one
s, many = call("PutRecords", {"StreamName": "c", "Records": [
    {"Data": bytes([i]) * (i + 1), "PartitionKey": "k%d" % i} for i in range(20)]
    + [{"Data": b"x", "PartitionKey": "e", "ExplicitHashKey": "nope"}]}, True)
assert s == 200 and many["FailedRecordCount"] == 1, many
assert many["Records"][-1]["ErrorCode"] == "InvalidArgumentException", many["Records"][-1]
assert all("SequenceNumber" in r for r in many["Records"][:20]), many
both("ListStreams", {})
s, d = both("DescribeStreamSummary", {"StreamName": "c"})
assert d["StreamDescriptionSummary"]["StreamCreationTimestamp"][0] == "ms", d
both("DescribeStream", {"StreamName": "c"})
s, shards = both("ListShards", {"StreamName": "c"})
total = 0
for shard in shards["Shards"]:
    req = {"StreamName": "c", "ShardId": shard["ShardId"], "ShardIteratorType": "TRIM_HORIZON"}
    # Iterators differ call to call: read each protocol's with both.
    its = [call("GetShardIterator", req, cbor)[1]["ShardIterator"] for cbor in (False, True)]
    answers = []
    for it in its:
        _, a = call("GetRecords", {"ShardIterator": it, "Limit": 100}, False)
        _, b = call("GetRecords", {"ShardIterator": it, "Limit": 100}, True)
        a, b = from_json(a), b
        assert a.pop("NextShardIterator") and b.pop("NextShardIterator")
        assert a == b, (a, b)
        answers.append(b)
    assert answers[0] == answers[1]
    total += len(answers[0]["Records"])
    for r in answers[0]["Records"]:
        assert isinstance(r["Data"], bytes) and r["ApproximateArrivalTimestamp"][0] == "ms", r
assert total == 21, total
# AT_TIMESTAMP with the Java SDK's timestamp: a tag 1 over milliseconds.
first = answers[0]["Records"][0]["ApproximateArrivalTimestamp"][1]
for at, want in [(first - 60_000, len(answers[0]["Records"])), (first + 3_600_000, 0)]:
    s, it = call("GetShardIterator", dict(req, ShardIteratorType="AT_TIMESTAMP",
                 Timestamp=cbor2.CBORTag(1, at)), True)
    assert s == 200, it
    s, got = call("GetRecords", {"ShardIterator": it["ShardIterator"]}, True)
    assert len(got["Records"]) == want, (at, got)
# Errors: the same names, in CBOR, with __type.
s, e = both("DescribeStream", {"StreamName": "nope"})
assert s == 400 and e["__type"] == "ResourceNotFoundException" and e["message"], e
s, e = call("CreateStream", [1, 2], True)
assert s == 400 and e["__type"] == "SerializationException", e
conn.request("POST", "/", body=b"\xa1\x61a\x5b\x40\0\0\0\0\0\0\0xx", headers={
    "Content-Type": "application/x-amz-cbor-1.1", "X-Amz-Target": "Kinesis_20131202.ListStreams"})
r = conn.getresponse()
e = cbor2.loads(r.read())
assert r.status == 400 and e["__type"] == "SerializationException", e
print("ok")
"#;

#[test]
fn cbor_calls_answer_as_their_json_twins() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, url) = serve(dir.path(), &[]);
    client(CBOR, &url);
    assert!(server.alive());
}
