//! The Kinesis API's management calls driven by boto3: its paginators
//! over ListStreams, ListShards (with a `ShardFilter`), DescribeStream and
//! ListStreamConsumers; consumers registered, described and deregistered,
//! kept across a restart; tags; enhanced monitoring shown in
//! DescribeStream; UpdateShardCount up and down, its shards' hash-key
//! ranges even and every record still read; SubscribeToShard through
//! boto3's event-stream reader.

use crate::kinesis::{client, serve};

/// Before a restart: everything made and checked once.
const BEFORE: &str = r#"
import sys, boto3, botocore
k = boto3.client("kinesis", endpoint_url=sys.argv[1], region_name="us-east-1",
                 aws_access_key_id="test", aws_secret_access_key="test",
                 config=botocore.config.Config(retries={"max_attempts": 1}))
def pages(op, size, **kw):
    got = [p for p in k.get_paginator(op).paginate(PaginationConfig={"PageSize": size}, **kw)]
    assert len(got) > 1, (op, got)
    return got
for i in range(5):
    k.create_stream(StreamName="s%d" % i, ShardCount=3, **({"Tags": {"team": "a"}} if i == 0 else {}))
names = [n for p in pages("list_streams", 2) for n in p["StreamNames"]]
assert names == ["s%d" % i for i in range(5)], names
one = k.list_streams(Limit=2, ExclusiveStartStreamName="s2")
assert one["StreamNames"] == ["s3", "s4"] and not one["HasMoreStreams"], one
ids = [s["ShardId"] for p in pages("list_shards", 2, StreamName="s0") for s in p["Shards"]]
assert ids == ["shardId-%012d" % i for i in range(3)], ids
ids = [s["ShardId"] for p in pages("describe_stream", 1, StreamName="s0") for s in p["StreamDescription"]["Shards"]]
assert len(ids) == 3, ids

# Tags: on CreateStream, added, listed in pages, removed.
k.add_tags_to_stream(StreamName="s0", Tags={"env": "test", "b": "2"})
t = k.list_tags_for_stream(StreamName="s0", Limit=2)
assert t["Tags"] == [{"Key": "b", "Value": "2"}, {"Key": "env", "Value": "test"}] and t["HasMoreTags"], t
t = k.list_tags_for_stream(StreamName="s0", ExclusiveStartTagKey="env")
assert t["Tags"] == [{"Key": "team", "Value": "a"}] and not t["HasMoreTags"], t
k.remove_tags_from_stream(StreamName="s0", TagKeys=["b", "nope"])
assert [x["Key"] for x in k.list_tags_for_stream(StreamName="s0")["Tags"]] == ["env", "team"]

# Enhanced monitoring: stored, echoed.
m = k.enable_enhanced_monitoring(StreamName="s0", ShardLevelMetrics=["IncomingBytes", "OutgoingRecords"])
assert m["CurrentShardLevelMetrics"] == [] and m["DesiredShardLevelMetrics"] == ["IncomingBytes", "OutgoingRecords"], m
m = k.disable_enhanced_monitoring(StreamName="s0", ShardLevelMetrics=["OutgoingRecords"])
assert m["DesiredShardLevelMetrics"] == ["IncomingBytes"], m
d = k.describe_stream(StreamName="s0")["StreamDescription"]
assert d["EnhancedMonitoring"] == [{"ShardLevelMetrics": ["IncomingBytes"]}], d

# Consumers.
arn = d["StreamARN"]
c = k.register_stream_consumer(StreamARN=arn, ConsumerName="app")["Consumer"]
assert c["ConsumerStatus"] == "CREATING" and c["ConsumerARN"].startswith(arn + "/consumer/app:"), c
try:
    k.register_stream_consumer(StreamARN=arn, ConsumerName="app"); raise SystemExit("a second app")
except k.exceptions.ResourceInUseException:
    pass
for n in ["b1", "b2", "b3", "gone"]:
    k.register_stream_consumer(StreamARN=arn, ConsumerName=n)
k.deregister_stream_consumer(ConsumerARN=k.describe_stream_consumer(StreamARN=arn, ConsumerName="gone")["ConsumerDescription"]["ConsumerARN"])
try:
    k.describe_stream_consumer(StreamARN=arn, ConsumerName="gone"); raise SystemExit("gone is there")
except k.exceptions.ResourceNotFoundException:
    pass
d = k.describe_stream_consumer(ConsumerARN=c["ConsumerARN"])["ConsumerDescription"]
assert d["ConsumerStatus"] == "ACTIVE" and d["StreamARN"] == arn and d["ConsumerName"] == "app", d
listed = [x["ConsumerName"] for p in pages("list_stream_consumers", 3, StreamARN=arn) for x in p["Consumers"]]
assert listed == ["app", "b1", "b2", "b3"], listed
assert k.describe_stream_summary(StreamName="s0")["StreamDescriptionSummary"]["ConsumerCount"] == 4

# UpdateShardCount: 3 -> 5 -> 3, records put between still read in order.
def put(n, tag):
    k.put_records(StreamName="s1", Records=[{"Data": b"%s%d" % (tag, i), "PartitionKey": "p%d" % i} for i in range(n)])
def read_all():
    got = []
    for s in k.list_shards(StreamName="s1")["Shards"]:
        it = k.get_shard_iterator(StreamName="s1", ShardId=s["ShardId"], ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it:
            r = k.get_records(ShardIterator=it)
            got += [x["Data"] for x in r["Records"]]
            if not r["Records"]:
                break
            it = r.get("NextShardIterator")
    return sorted(got)
def open_ranges():
    shards = k.list_shards(StreamName="s1", ShardFilter={"Type": "AT_LATEST"})["Shards"]
    return sorted((int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"])) for s in shards)
put(30, b"a")
for target in [5, 3]:
    u = k.update_shard_count(StreamName="s1", TargetShardCount=target, ScalingType="UNIFORM_SCALING")
    assert u["TargetShardCount"] == target, u
    ranges = open_ranges()
    assert len(ranges) == target and ranges[0][0] == 0 and ranges[-1][1] == 2**128 - 1, ranges
    widths = [e - s for s, e in ranges]
    assert max(widths) - min(widths) <= target, ranges
    assert all(a[1] + 1 == b[0] for a, b in zip(ranges, ranges[1:])), ranges
    put(30, b"t%d-" % target)
assert len(read_all()) == 90
after = k.list_shards(StreamName="s1", ShardFilter={"Type": "AFTER_SHARD_ID", "ShardId": "shardId-000000000005"})["Shards"]
assert [s["ShardId"] for s in after][0] == "shardId-000000000006", after
for bad in [1, 11]:
    try:
        k.update_shard_count(StreamName="s1", TargetShardCount=bad, ScalingType="UNIFORM_SCALING"); raise SystemExit("%d passed" % bad)
    except k.exceptions.InvalidArgumentException:
        pass
print("ok")
"#;

/// After the restart: consumers and tags are still there.
const AFTER: &str = r#"
import sys, boto3, botocore
k = boto3.client("kinesis", endpoint_url=sys.argv[1], region_name="us-east-1",
                 aws_access_key_id="test", aws_secret_access_key="test")
arn = k.describe_stream_summary(StreamName="s0")["StreamDescriptionSummary"]["StreamARN"]
assert [c["ConsumerName"] for c in k.list_stream_consumers(StreamARN=arn)["Consumers"]] == ["app", "b1", "b2", "b3"]
assert [x["Key"] for x in k.list_tags_for_stream(StreamName="s0")["Tags"]] == ["env", "team"]
k.delete_stream(StreamName="s0")
k.create_stream(StreamName="s0", ShardCount=1)
assert k.list_stream_consumers(StreamARN=arn)["Consumers"] == []
assert k.list_tags_for_stream(StreamName="s0")["Tags"] == []
print("ok")
"#;

#[test]
fn boto3_pages_tags_consumers_and_rescales() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, url) = serve(dir.path(), &[]);
    client(BEFORE, &url);
    assert!(server.alive());
    drop(server);
    let (mut server, url) = serve(dir.path(), &[]);
    client(AFTER, &url);
    assert!(server.alive());
}

/// SubscribeToShard through boto3's event-stream reader: records put
/// before and during the subscription pushed in order, a heartbeat event
/// when nothing is new, a split parent's last event naming its children,
/// an unknown consumer refused.
const SUBSCRIBE: &str = r#"
import sys, threading, time, boto3, botocore
def client():
    return boto3.client("kinesis", endpoint_url=sys.argv[1], region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test",
                        config=botocore.config.Config(retries={"max_attempts": 1}))
k = client()
k.create_stream(StreamName="sub", ShardCount=1)
arn = k.describe_stream_summary(StreamName="sub")["StreamDescriptionSummary"]["StreamARN"]
consumer = k.register_stream_consumer(StreamARN=arn, ConsumerName="fan")["Consumer"]["ConsumerARN"]
SHARD = "shardId-000000000000"
for i in range(3):
    k.put_record(StreamName="sub", Data=b"old%d" % i, PartitionKey="k")
events = k.subscribe_to_shard(ConsumerARN=consumer, ShardId=SHARD,
                              StartingPosition={"Type": "TRIM_HORIZON"})["EventStream"]
def later(producer=client()):
    time.sleep(0.3)
    for i in range(3):
        producer.put_record(StreamName="sub", Data=b"new%d" % i, PartitionKey="k")
threading.Thread(target=later).start()
got, start = [], time.time()
for event in events:
    e = event["SubscribeToShardEvent"]
    got += [(r["Data"], r["SequenceNumber"]) for r in e["Records"]]
    assert time.time() - start < 10, got
    if len(got) == 6:
        break
assert [d for d, _ in got] == [b"old0", b"old1", b"old2", b"new0", b"new1", b"new2"], got
assert e["ContinuationSequenceNumber"] == got[-1][1], e
events.close()
# After the last: nothing new, so a heartbeat within about a second.
events = k.subscribe_to_shard(ConsumerARN=consumer, ShardId=SHARD, StartingPosition={
    "Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": got[-1][1]})["EventStream"]
start = time.time()
e = next(iter(events))["SubscribeToShardEvent"]
assert e["Records"] == [] and e["ContinuationSequenceNumber"] == got[-1][1], e
assert time.time() - start < 3
events.close()
# A split parent: its last event names its children, then the stream ends.
k.split_shard(StreamName="sub", ShardToSplit=SHARD, NewStartingHashKey=str(2**127))
events = k.subscribe_to_shard(ConsumerARN=consumer, ShardId=SHARD,
                              StartingPosition={"Type": "LATEST"})["EventStream"]
last = [e["SubscribeToShardEvent"] for e in events][-1]
assert [c["ShardId"] for c in last["ChildShards"]] == ["shardId-000000000001", "shardId-000000000002"], last
assert last["ChildShards"][0]["ParentShards"] == [SHARD], last
try:
    k.subscribe_to_shard(ConsumerARN=arn + "/consumer/nope:1", ShardId=SHARD,
                         StartingPosition={"Type": "LATEST"})
    raise SystemExit("an unknown consumer subscribed")
except k.exceptions.ResourceNotFoundException:
    pass
print("ok")
"#;

#[test]
fn boto3_subscribes_to_a_shard() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, url) = serve(dir.path(), &[]);
    client(SUBSCRIBE, &url);
    assert!(server.alive());
}
