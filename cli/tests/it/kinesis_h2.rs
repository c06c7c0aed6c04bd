//! The Kinesis API over HTTP/2 with prior knowledge (h2c), as the AWS SDK
//! for Java speaks it to an `http://` endpoint, driven by PyPI's `h2`
//! library on a socket: PutRecords and GetRecords as JSON on streams of one
//! connection, some at once, then SubscribeToShard's events read by
//! botocore's own event-stream parser (`EventStreamBuffer`).

use crate::kinesis::{client, serve};

/// The client: one HTTP/2 connection for every call.
const H2C: &str = r#"
import base64, json, socket, sys, urllib.parse, h2.config, h2.connection, h2.events, h2.exceptions
from botocore.eventstream import EventStreamBuffer
url = urllib.parse.urlparse(sys.argv[1])
sock = socket.create_connection((url.hostname, url.port), timeout=10)
conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
conn.initiate_connection()
sock.sendall(conn.data_to_send())
status, body, ended = {}, {}, set()

def start(op, payload):
    sid = conn.get_next_available_stream_id()
    data = json.dumps(payload).encode()
    conn.send_headers(sid, [(":method", "POST"), (":scheme", "http"), (":authority", url.netloc),
                            (":path", "/"), ("x-amz-target", "Kinesis_20131202." + op),
                            ("content-type", "application/x-amz-json-1.1"),
                            ("content-length", str(len(data)))])
    conn.send_data(sid, data, end_stream=True)
    sock.sendall(conn.data_to_send())
    body[sid] = b""
    return sid

def pump():
    data = sock.recv(65536)
    assert data, "the server closed the connection"
    for e in conn.receive_data(data):
        if isinstance(e, h2.events.ResponseReceived):
            status[e.stream_id] = dict(e.headers)[":status"]
        elif isinstance(e, h2.events.DataReceived):
            body[e.stream_id] = body.get(e.stream_id, b"") + e.data
            try:
                conn.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
            except h2.exceptions.StreamClosedError:
                pass
        elif isinstance(e, h2.events.StreamEnded):
            ended.add(e.stream_id)
        elif isinstance(e, h2.events.StreamReset):
            raise SystemExit("stream %d reset: %d" % (e.stream_id, e.error_code))
    sock.sendall(conn.data_to_send())

def answer(sid):
    while sid not in ended:
        pump()
    assert status[sid] == "200", (status[sid], body[sid])
    return json.loads(body[sid])

def call(op, payload):
    return answer(start(op, payload))

call("CreateStream", {"StreamName": "h2", "ShardCount": 1})
# Three PutRecords at once on one connection, then read back in order.
puts = [start("PutRecords", {"StreamName": "h2", "Records": [
    {"Data": base64.b64encode(b"r%d-%d" % (p, i)).decode(), "PartitionKey": "k"} for i in range(10)]})
    for p in range(3)]
for sid in puts:
    assert answer(sid)["FailedRecordCount"] == 0
it = call("GetShardIterator", {"StreamName": "h2", "ShardId": "shardId-000000000000",
                               "ShardIteratorType": "TRIM_HORIZON"})["ShardIterator"]
got = [base64.b64decode(r["Data"]) for r in call("GetRecords", {"ShardIterator": it})["Records"]]
assert sorted(got) == sorted(b"r%d-%d" % (p, i) for p in range(3) for i in range(10)), got
assert [g for g in got if g.startswith(b"r0-")] == [b"r0-%d" % i for i in range(10)], got

# SubscribeToShard: the records as event-stream frames on one stream.
arn = call("DescribeStreamSummary", {"StreamName": "h2"})["StreamDescriptionSummary"]["StreamARN"]
consumer = call("RegisterStreamConsumer", {"StreamARN": arn, "ConsumerName": "java"})["Consumer"]["ConsumerARN"]
sid = start("SubscribeToShard", {"ConsumerARN": consumer, "ShardId": "shardId-000000000000",
                                 "StartingPosition": {"Type": "TRIM_HORIZON"}})
events, parser, records = [], EventStreamBuffer(), []
while len(records) < 30:
    pump()
    parser.add_data(body[sid])
    body[sid] = b""
    for message in parser:
        kind = message.headers[":event-type"]
        events.append(kind)
        if kind == "SubscribeToShardEvent":
            records += [base64.b64decode(r["Data"]) for r in json.loads(message.payload)["Records"]]
assert status[sid] == "200" and events[0] == "initial-response", events
assert sorted(records) == sorted(got), records
conn.reset_stream(sid)
sock.sendall(conn.data_to_send())
# The connection still serves another call after the subscription's end.
assert call("ListStreams", {})["StreamNames"] == ["h2"]
print("ok")
"#;

#[test]
fn kinesis_over_http2_with_prior_knowledge() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, url) = serve(dir.path(), &[]);
    client(H2C, &url);
    assert!(server.alive());
}
