//! The Kinesis Data Streams operations over the store (and, on a cluster
//! worker, the data calls of the cluster's streams over JetStream,
//! [`Logs`]): requests and answers
//! as Kinesis' JSON 1.1 shapes, errors with Kinesis' names
//! (`{"__type":"ResourceNotFoundException","message":"..."}`, HTTP 400).
//!
//! Sequence numbers are the store's per-shard numbers, as decimal strings.
//! Shard iterators are opaque, tamper-evident and expire ([`Iterators`]);
//! a starting sequence number past the shard's end is refused, and so is a
//! GetRecords `Limit` outside 1 to 10,000.
//!
//! A store error that may pass (out of space, overloaded) is answered as
//! one that clients retry: `ProvisionedThroughputExceededException` (HTTP
//! 400) when the store is overloaded, `InternalFailure` (HTTP 500, which
//! the SDKs retry; per record in PutRecords, which Kinesis documents as
//! retryable) for the rest, with the whole error chain as its message
//! (`cannot write ...: no space left on device (os error 28); retry later`).
//!
//! PutRecords and PutRecord, the calls producers make all the time, take a
//! path of their own: the body is read into typed structs that borrow their
//! strings from it, each record's data is decoded from base64 straight into a
//! buffer the connection keeps from call to call ([`Scratch`]), and the
//! answer is written straight into the output bytes. Only a body of an
//! unexpected shape (a field of the wrong type, a key given twice) goes
//! through a `serde_json::Value`, so that its answer is the same as before.
//! GetRecords, the call consumers make all the time, reads its small request
//! as a `Value` but writes its answer straight into the output bytes, each
//! record's data base64 encoded in place. The other calls are rare and go
//! through a `Value` both ways.

use std::borrow::Cow;

use crate::IngestError;
use crate::store::{
    PutAck, PutRecord, ShardDescription, ShardIterator, StartingPosition, Store, StreamDescription,
    StreamOptions,
};
use serde::{Deserialize, Serialize, de};
use serde_json::{Value, json};

use super::iterator::{Iterators, Refused};
pub use super::logs::Logs;
use crate::codec::base64;

/// Most records in one PutRecords call.
pub const MAX_PUT_RECORDS: usize = 500;

/// Most bytes of data (and keys) in one PutRecords call.
pub const MAX_PUT_BYTES: usize = 5 << 20;

/// The largest GetRecords `Limit` (and the one taken when none is given).
pub const MAX_GET_RECORDS: u64 = 10_000;

/// An error answer: Kinesis' error name and a message.
#[derive(Debug)]
pub(crate) struct ApiError(pub(crate) &'static str, pub(crate) String);

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        let name = match &e {
            IngestError::NoSuchStream { .. } | IngestError::NoSuchShard { .. } => {
                "ResourceNotFoundException"
            }
            IngestError::StreamExists { .. } => "ResourceInUseException",
            IngestError::InvalidArgument(_) | IngestError::InvalidRecord(_) => {
                "InvalidArgumentException"
            }
            IngestError::Overloaded(_) => "ProvisionedThroughputExceededException",
            _ => "InternalFailure",
        };
        let mut msg = chain(&e);
        if name == "InternalFailure" && e.is_retryable() && !msg.contains("retry later") {
            msg.push_str("; retry later");
        }
        ApiError(name, msg)
    }
}

use crate::error::chain;

pub(crate) fn invalid(msg: impl Into<String>) -> ApiError {
    ApiError("InvalidArgumentException", msg.into())
}

/// The JSON body of an error named `name`.
pub fn error_body(name: &str, message: &str) -> Vec<u8> {
    let mut out = Vec::new();
    write_error(&mut out, name, message);
    out
}

/// Appends the JSON of an error named `name` to `out`.
fn write_error(out: &mut Vec<u8>, name: &str, message: &str) {
    push_json(out, &json!({ "__type": name, "message": message }));
}

/// Appends `value` as JSON to `out`.
fn push_json(out: &mut Vec<u8>, value: &(impl Serialize + ?Sized)) {
    serde_json::to_writer(out, value).expect("a Value, a str or a number writes into a Vec");
}

/// What a connection keeps from one PutRecords call to the next, so that a
/// warm connection allocates nothing per record: the records' buffers and
/// the per-entry outcomes of parsing.
#[derive(Debug, Default)]
pub struct Scratch {
    /// Records whose partition keys and data buffers are reused; the first
    /// ones hold the call's valid records.
    records: Vec<PutRecord>,
    /// Per entry of the call: `None` when it parsed (into the next record),
    /// or why it did not.
    parsed: Vec<Option<ApiError>>,
}

/// The buffers a connection keeps at most between calls; a call that needed
/// more (a few MiB of records) gives them back when it ends.
const KEEP_BYTES: usize = 1 << 20;

impl Scratch {
    /// Fills the records from `entries`, the valid ones first, and notes per
    /// entry whether it parsed; returns how many did.
    fn parse(&mut self, entries: &[Entry<'_>]) -> usize {
        self.parsed.clear();
        let mut valid = 0;
        for entry in entries {
            if valid == self.records.len() {
                self.records.push(PutRecord::new(String::new(), Vec::new()));
            }
            let outcome = entry.fill(&mut self.records[valid]).err();
            valid += usize::from(outcome.is_none());
            self.parsed.push(outcome);
        }
        valid
    }

    /// Frees the records' buffers when they hold more than [`KEEP_BYTES`].
    fn trim(&mut self) {
        let held: usize = self
            .records
            .iter()
            .map(|r| r.data.capacity() + r.partition_key.capacity())
            .sum();
        if held > KEEP_BYTES {
            self.records = Vec::new();
        }
    }
}

/// Answers one request: writes its JSON answer into `out` (emptied first)
/// and returns the HTTP status. `iterators` issues and checks the shard
/// iterators of GetShardIterator and GetRecords; `logs` says which log a
/// stream's records are put to and read from.
pub fn handle(
    logs: &Logs<'_>,
    iterators: &Iterators,
    target: Option<&str>,
    body: &[u8],
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
) -> u16 {
    out.clear();
    let body = if body.is_empty() { b"{}" } else { body };
    let result = match target.and_then(|t| t.strip_prefix("Kinesis_20131202.")) {
        None => Err(ApiError(
            "UnknownOperationException",
            "missing or unknown X-Amz-Target".into(),
        )),
        Some("PutRecords") => put_records(logs, body, scratch, out),
        Some("PutRecord") => put_one(logs, body, out),
        Some("GetRecords") => {
            parse_value(body).and_then(|req| get_records(logs, iterators, &req, out))
        }
        Some(op) => parse_value(body)
            .and_then(|req| operation(logs, iterators, op, &req))
            .map(|answer| push_json(out, &answer)),
    };
    match result {
        Ok(()) => 200,
        Err(ApiError(name, msg)) => {
            out.clear();
            write_error(out, name, &msg);
            if name == "InternalFailure" { 500 } else { 400 }
        }
    }
}

fn parse_value(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError("SerializationException", format!("malformed JSON: {e}")))
}

/// Reads `body` as a `T`; a body of another shape (a field of the wrong
/// type, a key given twice) is read as a `Value` into `holder` and taken
/// from there with `from_value`, which treats what is not a string as
/// missing, as the other calls do.
fn typed_or_value<'a, T: Deserialize<'a>>(
    body: &'a [u8],
    holder: &'a mut Option<Value>,
    from_value: fn(&'a Value) -> T,
) -> Result<T, ApiError> {
    match serde_json::from_slice(body) {
        Ok(t) => Ok(t),
        Err(_) => Ok(from_value(holder.insert(parse_value(body)?))),
    }
}

/// A string field of `v`, when it is one.
fn lenient_str<'a>(v: &'a Value, name: &str) -> Option<Cow<'a, str>> {
    v.get(name).and_then(Value::as_str).map(Cow::Borrowed)
}

/// A JSON string, borrowed from the body unless it holds escapes.
struct Str<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Str<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> de::Visitor<'de> for Visitor {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(Visitor)
    }
}

/// One record of a PutRecords call, or the record of a PutRecord call.
#[derive(Debug, Default)]
struct Entry<'a> {
    data: Option<Cow<'a, str>>,
    partition_key: Option<Cow<'a, str>>,
    explicit_hash_key: Option<Cow<'a, str>>,
}

/// A PutRecords or PutRecord request: the stream, and the records of the one
/// or the record of the other.
#[derive(Debug, Default)]
struct PutRequest<'a> {
    stream_name: Option<Cow<'a, str>>,
    records: Option<Vec<Entry<'a>>>,
    record: Entry<'a>,
}

/// Reads a [`PutRequest`] (`top`) or one of its entries from a JSON object,
/// the fields osprey knows of and nothing else. Another shape (an array, a
/// field of another type, a field given twice) is an error, so that such a
/// body is read as a `Value` instead, and answered as the other calls are.
struct Fields {
    top: bool,
}

impl<'de> de::Visitor<'de> for Fields {
    type Value = PutRequest<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<PutRequest<'de>, A::Error> {
        let mut req = PutRequest::default();
        let mut seen = 0u8;
        while let Some(key) = map.next_key::<Str<'de>>()? {
            let bit = match &*key.0 {
                "StreamName" if self.top => 0,
                "Records" if self.top => 1,
                "Data" => 2,
                "PartitionKey" => 3,
                "ExplicitHashKey" => 4,
                _ => {
                    map.next_value::<de::IgnoredAny>()?;
                    continue;
                }
            };
            if seen & (1 << bit) != 0 {
                return Err(de::Error::custom("a field given twice"));
            }
            seen |= 1 << bit;
            let slot = match bit {
                0 => &mut req.stream_name,
                1 => {
                    req.records = map.next_value()?;
                    continue;
                }
                2 => &mut req.record.data,
                3 => &mut req.record.partition_key,
                _ => &mut req.record.explicit_hash_key,
            };
            *slot = map.next_value::<Option<Str<'de>>>()?.map(|s| s.0);
        }
        Ok(req)
    }
}

impl<'de> Deserialize<'de> for PutRequest<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(Fields { top: true })
    }
}

impl<'de> Deserialize<'de> for Entry<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(d.deserialize_map(Fields { top: false })?.record)
    }
}

impl<'a> Entry<'a> {
    fn from_value(v: &'a Value) -> Entry<'a> {
        Entry {
            data: lenient_str(v, "Data"),
            partition_key: lenient_str(v, "PartitionKey"),
            explicit_hash_key: lenient_str(v, "ExplicitHashKey"),
        }
    }

    /// Fills `record` (its buffers reused) from this entry.
    fn fill(&self, record: &mut PutRecord) -> Result<(), ApiError> {
        let data = self.data.as_deref().ok_or_else(|| required("Data"))?;
        record.data.clear();
        if !base64::decode_into(&mut record.data, data.as_bytes()) {
            return Err(invalid("Data is not base64"));
        }
        record.explicit_hash_key = match self.explicit_hash_key.as_deref() {
            Some(k) => Some(
                k.parse::<u128>()
                    .map_err(|_| invalid("ExplicitHashKey must be a decimal hash key"))?,
            ),
            None => None,
        };
        let key = self
            .partition_key
            .as_deref()
            .ok_or_else(|| required("PartitionKey"))?;
        record.partition_key.clear();
        record.partition_key.push_str(key);
        record.id = None;
        Ok(())
    }
}

impl<'a> PutRequest<'a> {
    /// The request read from a `Value` of an unexpected shape: what is not a
    /// string (or for `Records`, an array) counts as missing.
    fn from_value(v: &'a Value) -> PutRequest<'a> {
        PutRequest {
            stream_name: lenient_str(v, "StreamName"),
            records: v
                .get("Records")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(Entry::from_value).collect()),
            record: Entry::from_value(v),
        }
    }
}

fn required(name: &str) -> ApiError {
    invalid(format!("{name} is required"))
}

pub(crate) fn str_field<'a>(req: &'a Value, name: &str) -> Result<&'a str, ApiError> {
    req.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| required(name))
}

pub(crate) fn u64_field(req: &Value, name: &str) -> Result<Option<u64>, ApiError> {
    match req.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| invalid(format!("{name} must be a whole number"))),
    }
}

/// The stream a call names, by `StreamName` or `StreamARN` (as the newer
/// SDKs send it).
pub(crate) fn stream_name(req: &Value) -> Result<String, ApiError> {
    if let Some(name) = req.get("StreamName").and_then(Value::as_str) {
        return Ok(name.to_owned());
    }
    let Some(stream_arn) = req.get("StreamARN").and_then(Value::as_str) else {
        return Err(required("StreamName"));
    };
    stream_arn
        .strip_prefix("arn:aws:kinesis:")
        .and_then(|rest| rest.splitn(3, ':').nth(2))
        .and_then(|resource| resource.strip_prefix("stream/"))
        .filter(|name| !name.is_empty() && !name.contains('/'))
        .map(str::to_owned)
        .ok_or_else(|| invalid(format!("{stream_arn:?} is not a stream ARN")))
}

fn operation(
    logs: &Logs<'_>,
    iterators: &Iterators,
    op: &str,
    req: &Value,
) -> Result<Value, ApiError> {
    let store = logs.store;
    match op {
        "CreateStream" => {
            let shards = u64_field(req, "ShardCount")?.unwrap_or(1);
            let options = StreamOptions {
                shards: u32::try_from(shards).map_err(|_| invalid("ShardCount is too large"))?,
                ..StreamOptions::default()
            };
            let stream = stream_name(req)?;
            store.create_stream(&stream, options)?;
            super::manage::tag(store, &stream, req)?;
            Ok(json!({}))
        }
        "DeleteStream" => {
            store.delete_stream(str_field(req, "StreamName")?)?;
            Ok(json!({}))
        }
        "DescribeStream" => {
            let stream = stream_name(req)?;
            let d = logs.of(&stream)?.describe(&stream)?;
            let mut page = super::pages::Page::of(req, "Limit", 100, 10_000)?;
            page.after = req
                .get("ExclusiveStartShardId")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let (shown, more) = super::pages::cut(&d.shards, &page, "", None, |s| &s.id);
            let mut v = summary(store, &d)?;
            v["Shards"] = shown.iter().map(shard_json).collect();
            v["HasMoreShards"] = json!(more.is_some());
            Ok(json!({ "StreamDescription": v }))
        }
        "DescribeStreamSummary" => {
            let stream = stream_name(req)?;
            let d = logs.of(&stream)?.describe(&stream)?;
            let mut v = summary(store, &d)?;
            v["OpenShardCount"] = json!(d.open_shards);
            v["ConsumerCount"] = json!(super::attrs::load(store, &d.name)?.consumers.len());
            Ok(json!({ "StreamDescriptionSummary": v }))
        }
        "GetShardIterator" => {
            let (stream, shard) = (&stream_name(req)?, str_field(req, "ShardId")?);
            let fields = ["ShardIteratorType", "StartingSequenceNumber", "Timestamp"];
            let position = starting_position(req, fields)?;
            // A sequence number past the shard's end is the store's
            // InvalidArgument, answered as InvalidArgumentException.
            let it = logs.of(stream)?.shard_iterator(stream, shard, position)?;
            Ok(json!({ "ShardIterator": iterators.issue(&it) }))
        }
        "SplitShard" => {
            let key: u128 = str_field(req, "NewStartingHashKey")?
                .parse()
                .map_err(|_| invalid("NewStartingHashKey must be a decimal hash key"))?;
            store.split_shard(&stream_name(req)?, str_field(req, "ShardToSplit")?, key)?;
            Ok(json!({}))
        }
        "MergeShards" => {
            let stream = &stream_name(req)?;
            store.merge_shards(
                stream,
                str_field(req, "ShardToMerge")?,
                str_field(req, "AdjacentShardToMerge")?,
            )?;
            Ok(json!({}))
        }
        "IncreaseStreamRetentionPeriod" | "DecreaseStreamRetentionPeriod" => {
            let stream = &stream_name(req)?;
            let hours = u64_field(req, "RetentionPeriodHours")?
                .ok_or_else(|| invalid("RetentionPeriodHours is required"))?;
            let hours =
                u32::try_from(hours).map_err(|_| invalid("RetentionPeriodHours is too large"))?;
            let now = store.describe_stream(stream)?.retention_hours;
            let wrong_way = if op.starts_with("Increase") {
                hours < now
            } else {
                hours > now
            };
            if wrong_way {
                return Err(invalid(format!(
                    "{op}: {hours} hours is the wrong way from {now}"
                )));
            }
            store.set_retention(stream, hours)?;
            Ok(json!({}))
        }
        "ListShards" => super::manage::list_shards(logs, req),
        other => super::manage::operation(store, other, req)
            .or_else(|| super::consumers::operation(store, other, req))
            .unwrap_or_else(|| {
                Err(ApiError(
                    "UnknownOperationException",
                    format!("operation {other:?} is not served"),
                ))
            }),
    }
}

/// A starting position from its `[type, sequence number, timestamp]`
/// fields in `req` (GetShardIterator's, or SubscribeToShard's
/// `StartingPosition`).
pub(crate) fn starting_position(
    req: &Value,
    [kind, seq_field, time_field]: [&str; 3],
) -> Result<StartingPosition, ApiError> {
    let seq = || -> Result<u64, ApiError> {
        str_field(req, seq_field)?
            .parse()
            .map_err(|_| invalid(format!("{seq_field} must be a sequence number")))
    };
    Ok(match str_field(req, kind)? {
        "TRIM_HORIZON" => StartingPosition::TrimHorizon,
        "LATEST" => StartingPosition::Latest,
        "AT_SEQUENCE_NUMBER" => StartingPosition::AtSequence(seq()?),
        "AFTER_SEQUENCE_NUMBER" => StartingPosition::AfterSequence(seq()?),
        "AT_TIMESTAMP" => {
            let t = req
                .get(time_field)
                .and_then(Value::as_f64)
                .ok_or_else(|| invalid(format!("{time_field} is required")))?;
            StartingPosition::AtTimestamp((t * 1000.0) as i64)
        }
        other => return Err(invalid(format!("unknown {kind} {other:?}"))),
    })
}

/// The ARN of stream `stream`.
pub(crate) fn arn(stream: &str) -> String {
    format!("arn:aws:kinesis:local:000000000000:stream/{stream}")
}

fn summary(store: &Store, d: &StreamDescription) -> Result<Value, ApiError> {
    let metrics = super::manage::metrics(store, &d.name)?;
    let created = crate::store::time::parse(&d.created).unwrap_or(0) as f64 / 1000.0;
    Ok(json!({
        "StreamName": d.name,
        "StreamARN": arn(&d.name),
        "StreamStatus": "ACTIVE",
        "StreamModeDetails": {"StreamMode": "PROVISIONED"},
        "RetentionPeriodHours": d.retention_hours,
        "StreamCreationTimestamp": created,
        "EnhancedMonitoring": [{"ShardLevelMetrics": metrics}],
        "EncryptionType": "NONE",
    }))
}

/// A shard as DescribeStream and ListShards show it.
/// A stored record as GetRecords and SubscribeToShard events show it.
pub(crate) fn record_value(r: &crate::store::Record) -> Value {
    #[expect(
        clippy::cast_precision_loss,
        reason = "milliseconds since the epoch fit an f64's 52 bits"
    )]
    let seconds = r.timestamp_ms as f64 / 1000.0;
    json!({
        "SequenceNumber": r.seq.to_string(),
        "ApproximateArrivalTimestamp": seconds,
        "Data": base64::encode(&r.data),
        "PartitionKey": r.partition_key,
    })
}

pub(crate) fn shard_json(s: &ShardDescription) -> Value {
    let mut range = json!({ "StartingSequenceNumber": s.starting_seq.to_string() });
    if let Some(end) = s.ending_seq {
        // Kinesis' ending number is the last one (inclusive).
        range["EndingSequenceNumber"] =
            json!(end.saturating_sub(1).max(s.starting_seq).to_string());
    }
    let mut v = json!({
        "ShardId": s.id,
        "HashKeyRange": {"StartingHashKey": s.hash_start, "EndingHashKey": s.hash_end},
        "SequenceNumberRange": range,
    });
    if let Some(p) = &s.parent {
        v["ParentShardId"] = json!(p);
    }
    if let Some(p) = &s.adjacent_parent {
        v["AdjacentParentShardId"] = json!(p);
    }
    v
}

/// PutRecord: one record, its answer written into `out`.
fn put_one(logs: &Logs<'_>, body: &[u8], out: &mut Vec<u8>) -> Result<(), ApiError> {
    let mut holder = None;
    let req = typed_or_value(body, &mut holder, PutRequest::from_value)?;
    let mut record = PutRecord::new(String::new(), Vec::new());
    req.record.fill(&mut record)?;
    let stream = req
        .stream_name
        .as_deref()
        .ok_or_else(|| required("StreamName"))?;
    let ack = logs
        .of(stream)?
        .put_records(stream, std::slice::from_ref(&record))?
        .pop()
        .ok_or_else(|| ApiError("InternalFailure", "no answer".into()))??;
    out.extend_from_slice(br#"{"EncryptionType":"NONE","#);
    write_ack(out, &ack);
    out.push(b'}');
    Ok(())
}

/// Appends `"SequenceNumber":"N","ShardId":"ID"` to `out`.
fn write_ack(out: &mut Vec<u8>, ack: &PutAck) {
    out.extend_from_slice(br#""SequenceNumber":""#);
    push_json(out, &ack.seq);
    out.extend_from_slice(br#"","ShardId":"#);
    push_json(out, &*ack.shard);
}

/// PutRecords: up to [`MAX_PUT_RECORDS`] records, answered per record into
/// `out` (keys in the order a `Value` writes them, as before).
fn put_records(
    logs: &Logs<'_>,
    body: &[u8],
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
) -> Result<(), ApiError> {
    let mut holder = None;
    let req = typed_or_value(body, &mut holder, PutRequest::from_value)?;
    let stream = req
        .stream_name
        .as_deref()
        .ok_or_else(|| required("StreamName"))?;
    let entries = req.records.as_deref().ok_or_else(|| required("Records"))?;
    if entries.is_empty() || entries.len() > MAX_PUT_RECORDS {
        return Err(invalid(format!(
            "Records must hold 1 to {MAX_PUT_RECORDS} records, not {}",
            entries.len()
        )));
    }
    // A record that does not parse fails alone, as a record too large does.
    let valid = scratch.parse(entries);
    let total: usize = scratch.records[..valid]
        .iter()
        .map(|r| r.data.len() + r.partition_key.len())
        .sum();
    let outcomes = if total > MAX_PUT_BYTES {
        Err(invalid(format!(
            "{total} bytes in one PutRecords call, more than 5 MiB"
        )))
    } else {
        logs.of(stream).and_then(|log| {
            log.put_records(stream, &scratch.records[..valid])
                .map_err(ApiError::from)
        })
    };
    scratch.trim();
    let outcomes = outcomes?;
    let parsed = &scratch.parsed;
    let failed = parsed.iter().filter(|p| p.is_some()).count()
        + outcomes.iter().filter(|o| o.is_err()).count()
        + valid.saturating_sub(outcomes.len());
    out.extend_from_slice(br#"{"EncryptionType":"NONE","FailedRecordCount":"#);
    push_json(out, &failed);
    out.extend_from_slice(br#","Records":["#);
    let mut outcomes = outcomes.into_iter();
    for (i, p) in parsed.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'{');
        let error = match p {
            Some(e) => Some((e.0, Cow::Borrowed(e.1.as_str()))),
            None => match outcomes.next() {
                Some(Ok(ack)) => {
                    write_ack(out, &ack);
                    None
                }
                Some(Err(e)) => {
                    let ApiError(name, msg) = e.into();
                    Some((name, Cow::Owned(msg)))
                }
                None => Some(("InternalFailure", Cow::Borrowed("no answer"))),
            },
        };
        if let Some((name, msg)) = error {
            out.extend_from_slice(br#""ErrorCode":"#);
            push_json(out, name);
            out.extend_from_slice(br#","ErrorMessage":"#);
            push_json(out, &*msg);
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    Ok(())
}

/// The most bytes a GetRecords answer spends on one record besides its
/// data's base64 and its partition key: the keys, quotes and punctuation
/// (81), a sequence number (20 digits) and a timestamp (at most 24); a
/// reservation, not a bound: a key with escapes takes more.
const RECORD_OVERHEAD: usize = 81 + 20 + 24;

/// GetRecords: up to `Limit` records (10 000 at most, and 10 MiB of data)
/// from a shard iterator, the answer written into `out`.
///
/// The bytes are those a `Value` wrote, keys in its (sorted) order:
/// `MillisBehindLatest`, `NextShardIterator` (`null` for a drained shard),
/// then `Records`, each with `ApproximateArrivalTimestamp` (seconds, as a
/// float), `Data`, `PartitionKey` and `SequenceNumber`. The answer's size is
/// reserved up front, each record's data is base64 encoded in place, and a
/// timestamp that repeats the one before it is copied rather than written
/// again.
fn get_records(
    logs: &Logs<'_>,
    iterators: &Iterators,
    req: &Value,
    out: &mut Vec<u8>,
) -> Result<(), ApiError> {
    let (it, limit) = get_request(iterators, req)?;
    let got = logs.of(&it.stream)?.get_records(&it, limit, 10 << 20)?;
    let size: usize = got
        .records
        .iter()
        .map(|r| r.data.len().div_ceil(3) * 4 + r.partition_key.len() + RECORD_OVERHEAD)
        .sum();
    out.reserve(size + 128);
    out.extend_from_slice(br#"{"MillisBehindLatest":"#);
    push_json(out, &got.millis_behind_latest);
    out.extend_from_slice(br#","NextShardIterator":"#);
    match &got.next {
        Some(next) => push_json(out, &iterators.issue(next)),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(br#","Records":["#);
    // The last timestamp written: its milliseconds and where its text lies.
    let mut stamp: Option<(i64, std::ops::Range<usize>)> = None;
    for (i, r) in got.records.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(br#"{"ApproximateArrivalTimestamp":"#);
        match &stamp {
            Some((ms, text)) if *ms == r.timestamp_ms => out.extend_from_within(text.clone()),
            _ => {
                let from = out.len();
                push_json(out, &(r.timestamp_ms as f64 / 1000.0));
                stamp = Some((r.timestamp_ms, from..out.len()));
            }
        }
        out.extend_from_slice(br#","Data":""#);
        base64::encode_into(out, &r.data);
        out.extend_from_slice(br#"","PartitionKey":"#);
        push_json(out, r.partition_key.as_str());
        out.extend_from_slice(br#","SequenceNumber":""#);
        push_json(out, &r.seq);
        out.extend_from_slice(br#""}"#);
    }
    out.extend_from_slice(b"]}");
    Ok(())
}

/// A GetRecords request's iterator, checked, and its `Limit`.
fn get_request(iterators: &Iterators, req: &Value) -> Result<(ShardIterator, usize), ApiError> {
    let it = iterators
        .open(str_field(req, "ShardIterator")?)
        .map_err(|refused| match refused {
            Refused::Invalid => invalid("invalid ShardIterator"),
            Refused::Expired(msg) => ApiError("ExpiredIteratorException", msg),
        })?;
    let limit = match u64_field(req, "Limit")? {
        None => MAX_GET_RECORDS,
        Some(n @ 1..=MAX_GET_RECORDS) => n,
        Some(n) => {
            return Err(invalid(format!(
                "Limit must be 1 to {MAX_GET_RECORDS}, not {n}"
            )));
        }
    };
    let limit = usize::try_from(limit).expect("at most 10 000");
    Ok((it, limit))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering};

    use crate::store::StoreConfig;

    use super::*;

    /// The test store's clock, moved on between puts.
    static NOW_MS: AtomicI64 = AtomicI64::new(1_764_626_575_120);

    fn clock() -> i64 {
        NOW_MS.load(Ordering::Relaxed)
    }

    /// GetRecords as it was answered through a `Value`, before its answer
    /// was written straight into bytes: the oracle for [`get_records`].
    fn get_records_value(
        store: &Store,
        iterators: &Iterators,
        req: &Value,
    ) -> Result<Value, ApiError> {
        let (it, limit) = get_request(iterators, req)?;
        let got = store.get_records(&it, limit, 10 << 20)?;
        let records: Vec<Value> = got.records.iter().map(record_value).collect();
        Ok(json!({
            "Records": records,
            "NextShardIterator": got.next.as_ref().map(|n| iterators.issue(n)),
            "MillisBehindLatest": got.millis_behind_latest,
        }))
    }

    #[test]
    fn get_records_answers_are_byte_for_byte_those_of_the_value_path() {
        let dir = tempfile::tempdir().unwrap();
        let config = StoreConfig {
            clock,
            ..StoreConfig::default()
        };
        let store = Store::open(dir.path(), config).unwrap();
        // Iterators issued at a fixed time, so that the two paths' tokens match.
        let iterators = Iterators::with_clock(|| 7);
        let (mut scratch, mut out) = (Scratch::default(), Vec::new());
        let mut call = |op: &str, body: &Value| {
            let target = format!("Kinesis_20131202.{op}");
            let body = serde_json::to_vec(body).unwrap();
            let status = handle(
                &Logs::new(&store, None),
                &iterators,
                Some(&target),
                &body,
                &mut scratch,
                &mut out,
            );
            (status, out.clone())
        };
        assert_eq!(
            call("CreateStream", &json!({"StreamName": "s", "ShardCount": 2})).0,
            200
        );
        let keys = ["a", "q\"b\\\t\u{1}", "\u{e9}t\u{e9}\u{1f600}", "</x>"];
        for round in 0..12_usize {
            NOW_MS.fetch_add([1, 7, 1000, 0][round % 4], Ordering::Relaxed);
            let records: Vec<Value> = (0..25_usize)
                .map(|i| {
                    let n = [1, 2, 3, 4, 5, 6, 7, 8, 100, 3000][(i + round) % 10];
                    let data: Vec<u8> = (0..n).map(|j| (j * 31 + i + round) as u8).collect();
                    json!({"Data": base64::encode(&data), "PartitionKey": format!("{}{i}", keys[i % 4])})
                })
                .collect();
            let (status, answer) = call(
                "PutRecords",
                &json!({"StreamName": "s", "Records": records}),
            );
            assert_eq!(status, 200);
            assert!(answer.starts_with(br#"{"EncryptionType":"NONE","FailedRecordCount":0,"#));
        }
        // A split drains the parent: its last answer has no next iterator.
        let split = json!({"StreamName": "s", "ShardToSplit": "shardId-000000000000",
                           "NewStartingHashKey": (1_u128 << 126).to_string()});
        assert_eq!(call("SplitShard", &split).0, 200);
        NOW_MS.fetch_add(2500, Ordering::Relaxed);

        let expected = |req: &Value| match get_records_value(&store, &iterators, req) {
            Ok(v) => serde_json::to_vec(&v).unwrap(),
            Err(ApiError(name, msg)) => error_body(name, &msg),
        };
        let (mut pages, mut behind, mut drained) = (0, 0, 0);
        for shard in ["shardId-000000000000", "shardId-000000000001"] {
            for (kind, seq) in [
                ("TRIM_HORIZON", None),
                ("AT_SEQUENCE_NUMBER", Some("3")),
                ("LATEST", None),
            ] {
                let mut req =
                    json!({"StreamName": "s", "ShardId": shard, "ShardIteratorType": kind});
                if let Some(seq) = seq {
                    req["StartingSequenceNumber"] = json!(seq);
                }
                let (_, answer) = call("GetShardIterator", &req);
                let start: Value = serde_json::from_slice(&answer).unwrap();
                for limit in [json!(1), json!(7), json!(10_000), Value::Null] {
                    let mut it = start["ShardIterator"].clone();
                    for _ in 0..40 {
                        let req = json!({"ShardIterator": it, "Limit": limit});
                        let (status, answer) = call("GetRecords", &req);
                        assert_eq!(status, 200);
                        assert_eq!(
                            String::from_utf8_lossy(&answer),
                            String::from_utf8_lossy(&expected(&req))
                        );
                        let v: Value = serde_json::from_slice(&answer).unwrap();
                        pages += 1;
                        behind += usize::from(v["MillisBehindLatest"] != 0);
                        it = v["NextShardIterator"].clone();
                        drained += usize::from(it.is_null());
                        if it.is_null() || v["Records"].as_array().unwrap().is_empty() {
                            break;
                        }
                    }
                }
            }
        }
        assert!(
            pages > 100 && behind > 0 && drained > 0,
            "{pages} {behind} {drained}"
        );
        let token = |t: &str| {
            let (stream, rest) = t.split_once('/').unwrap();
            let (shard, seq) = rest.split_once('/').unwrap();
            iterators.issue(&ShardIterator {
                stream: stream.into(),
                shard: shard.into(),
                next_seq: seq.parse().unwrap(),
            })
        };
        for req in [
            json!({}),
            json!({"ShardIterator": 5}),
            json!({"ShardIterator": "***"}),
            json!({"ShardIterator": token("s/shardId-000000000009/0")}),
            json!({"ShardIterator": token("t/shardId-000000000001/0")}),
            json!({"ShardIterator": token("s/shardId-000000000001/99999")}),
            json!({"ShardIterator": token("s/shardId-000000000001/0"), "Limit": 0}),
            json!({"ShardIterator": token("s/shardId-000000000001/0"), "Limit": -1}),
            json!({"ShardIterator": token("s/shardId-000000000001/0"), "Limit": "x"}),
            json!({"ShardIterator": token("s/shardId-000000000001/0"), "Limit": 10_001}),
            json!({"ShardIterator": base64::encode(b"s/shardId-000000000001/0")}),
        ] {
            let (_, answer) = call("GetRecords", &req);
            assert_eq!(
                String::from_utf8_lossy(&answer),
                String::from_utf8_lossy(&expected(&req)),
                "{req}"
            );
        }
    }

    #[test]
    fn put_requests_borrow_from_the_body_and_refuse_other_shapes() {
        let body =
            br#"{"StreamName":"s","Records":[{"Data":"eA==","PartitionKey":"a\"b","X":[1]}]}"#;
        let req: PutRequest<'_> = serde_json::from_slice(body).unwrap();
        assert!(matches!(req.stream_name, Some(Cow::Borrowed("s"))));
        let entry = &req.records.unwrap()[0];
        assert!(matches!(entry.data, Some(Cow::Borrowed("eA=="))));
        assert!(matches!(&entry.partition_key, Some(Cow::Owned(k)) if k == "a\"b"));
        // These are read as a Value instead, and answered as before.
        for other in [
            r#"["s",[]]"#,
            r#"{"StreamName":"s","StreamName":"t"}"#,
            r#"{"Records":[["eA==","k"]]}"#,
            r#"{"StreamName":1}"#,
        ] {
            assert!(
                serde_json::from_slice::<PutRequest<'_>>(other.as_bytes()).is_err(),
                "{other}"
            );
        }
    }

    #[test]
    fn store_errors_keep_their_cause_and_out_of_space_is_retryable() {
        let full = IngestError::Storage {
            action: "cannot write",
            path: "data/s/shardId-000000000000/00000000000000000000.seg".into(),
            source: std::io::Error::from_raw_os_error(28),
        };
        let ApiError(name, msg) = full.into();
        assert_eq!(name, "InternalFailure");
        assert!(
            msg.starts_with("cannot write \"data/s/")
                && msg.contains(": no space left on device (os error 28)")
                && msg.ends_with("; retry later"),
            "{msg}"
        );
        let over = IngestError::Overloaded("too many puts waiting".into());
        let ApiError(name, msg) = over.into();
        assert_eq!(name, "ProvisionedThroughputExceededException");
        assert_eq!(msg, "store overloaded: too many puts waiting; retry later");
        // Neither a message nor a cause of its own: the chain is still not empty.
        let bare = IngestError::Io(std::io::Error::other(""));
        let ApiError(name, msg) = bare.into();
        assert_eq!(
            (name, msg.as_str()),
            ("InternalFailure", "cannot write output")
        );
        let broken = IngestError::Storage {
            action: "cannot read",
            path: "x".into(),
            source: std::io::Error::other("bad sector"),
        };
        let ApiError(_, msg) = broken.into();
        assert_eq!(msg, "cannot read \"x\": bad sector");
    }
}
