"""boto3 against two cluster workers' Kinesis APIs, nats-py against the
JetStream server under them: records put through worker 1 (PutRecords,
PutRecord, an explicit hash key) and through `osprey put --cluster`
(their keys `c0`.. with `"src": "cli"`) are answered with the shard their
MD5 hash key falls in (the store's even split, computed here), are read
back through worker 2 (ListShards, DescribeStreamSummary,
GetShardIterator, GetRecords) each once, in its shard, at its answered
sequence number, in order; and JetStream holds them all (so each
acknowledgement was JetStream's). Prints "ok".

usage: cluster_kinesis.py HTTP1 HTTP2 NATS STREAM SHARDS CLI_RECORDS"""

import asyncio
import hashlib
import json
import sys

import boto3
import botocore
import nats

http1, http2, nats_url, stream = sys.argv[1:5]
shards, cli_records = int(sys.argv[5]), int(sys.argv[6])
step = ((1 << 128) - 1) // shards


def shard_of_hash(h):
    return "shardId-%012d" % min(h // step, shards - 1)


def shard_of(key):
    return shard_of_hash(int.from_bytes(hashlib.md5(key.encode()).digest(), "big"))


def client(url):
    return boto3.client(
        "kinesis", endpoint_url=url, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
        config=botocore.config.Config(retries={"max_attempts": 1}))


a, b = client(http1), client(http2)
summary = b.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
assert summary["OpenShardCount"] == shards, summary
listed = [s["ShardId"] for s in b.list_shards(StreamName=stream)["Shards"]]
assert listed == ["shardId-%012d" % i for i in range(shards)], listed
described = a.describe_stream(StreamName=stream)["StreamDescription"]["Shards"]
assert [s["ShardId"] for s in described] == listed, described

put = {}  # key -> (shard, seq, data)
entries = [{"PartitionKey": "k%d" % i, "Data": json.dumps({"i": i}).encode()} for i in range(60)]
answer = a.put_records(StreamName=stream, Records=entries)
assert answer["FailedRecordCount"] == 0, answer
for e, r in zip(entries, answer["Records"]):
    assert r["ShardId"] == shard_of(e["PartitionKey"]), (e, r)
    put[e["PartitionKey"]] = (r["ShardId"], r["SequenceNumber"], e["Data"])
one = a.put_record(StreamName=stream, PartitionKey="solo", Data=b"solo")
assert one["ShardId"] == shard_of("solo"), one
put["solo"] = (one["ShardId"], one["SequenceNumber"], b"solo")
# An explicit hash key picks the shard, not the partition key's MD5.
last = (1 << 128) - 1
one = a.put_record(StreamName=stream, PartitionKey="k0", ExplicitHashKey=str(last), Data=b"x")
assert one["ShardId"] == shard_of_hash(last), one
put["explicit"] = (one["ShardId"], one["SequenceNumber"], b"x")

seen = {}
cli = 0
for shard in listed:
    it = b.get_shard_iterator(StreamName=stream, ShardId=shard,
                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    seqs = []
    while True:
        got = b.get_records(ShardIterator=it, Limit=25)
        for r in got["Records"]:
            seqs.append(int(r["SequenceNumber"]))
            key = r["PartitionKey"]
            if r["Data"] == b"x":
                key = "explicit"
            if key.startswith("c"):
                assert json.loads(r["Data"])["src"] == "cli", r
                assert shard == shard_of(key), (shard, r)
                cli += 1
                continue
            assert key not in seen, "read twice: %r" % r
            seen[key] = (shard, r["SequenceNumber"], r["Data"])
        if not got["Records"]:
            break
        it = got["NextShardIterator"]
    assert seqs == sorted(seqs), (shard, seqs)
assert seen == put, (seen, put)
assert cli == cli_records, cli


async def held():
    nc = await nats.connect(nats_url)
    info = await nc.jetstream().stream_info("OSPREY_" + stream)
    await nc.close()
    return info.state.messages


assert asyncio.run(held()) == len(put) + cli_records
print("ok")
