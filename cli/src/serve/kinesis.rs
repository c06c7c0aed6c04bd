//! The Kinesis Data Streams operations over the store: requests and answers
//! as Kinesis' JSON 1.1 shapes, errors with Kinesis' names
//! (`{"__type":"ResourceNotFoundException","message":"..."}`, HTTP 400).
//!
//! Sequence numbers are the store's per-shard numbers, as decimal strings.
//! A shard iterator is the base64 of `stream/shard/next sequence number`.

use osprey_ingest::IngestError;
use osprey_ingest::store::{
    PutRecord, ShardDescription, ShardIterator, StartingPosition, Store, StreamDescription,
    StreamOptions,
};
use serde_json::{Value, json};

use crate::stream::base64;

/// Most records in one PutRecords call.
pub const MAX_PUT_RECORDS: usize = 500;

/// Most bytes of data (and keys) in one PutRecords call.
pub const MAX_PUT_BYTES: usize = 5 << 20;

/// An error answer: Kinesis' error name and a message.
struct ApiError(&'static str, String);

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
        ApiError(name, e.to_string())
    }
}

fn invalid(msg: impl Into<String>) -> ApiError {
    ApiError("InvalidArgumentException", msg.into())
}

/// The JSON body of an error named `name`.
pub fn error_body(name: &str, message: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({ "__type": name, "message": message })).unwrap_or_default()
}

/// Answers one request: the HTTP status and the JSON body.
pub fn handle(store: &Store, target: Option<&str>, body: &[u8]) -> (u16, Vec<u8>) {
    let result = match target.and_then(|t| t.strip_prefix("Kinesis_20131202.")) {
        None => Err(ApiError(
            "UnknownOperationException",
            "missing or unknown X-Amz-Target".into(),
        )),
        Some(op) => {
            match serde_json::from_slice::<Value>(if body.is_empty() { b"{}" } else { body }) {
                Err(e) => Err(ApiError(
                    "SerializationException",
                    format!("malformed JSON: {e}"),
                )),
                Ok(req) => operation(store, op, &req),
            }
        }
    };
    match result {
        Ok(v) => (200, serde_json::to_vec(&v).unwrap_or_default()),
        Err(ApiError(name, msg)) => {
            let status = if name == "InternalFailure" { 500 } else { 400 };
            (status, error_body(name, &msg))
        }
    }
}

fn str_field<'a>(req: &'a Value, name: &str) -> Result<&'a str, ApiError> {
    req.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("{name} is required")))
}

fn u64_field(req: &Value, name: &str) -> Result<Option<u64>, ApiError> {
    match req.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| invalid(format!("{name} must be a whole number"))),
    }
}

fn operation(store: &Store, op: &str, req: &Value) -> Result<Value, ApiError> {
    match op {
        "CreateStream" => {
            let shards = u64_field(req, "ShardCount")?.unwrap_or(1);
            let options = StreamOptions {
                shards: u32::try_from(shards).map_err(|_| invalid("ShardCount is too large"))?,
                ..StreamOptions::default()
            };
            store.create_stream(str_field(req, "StreamName")?, options)?;
            Ok(json!({}))
        }
        "DeleteStream" => {
            store.delete_stream(str_field(req, "StreamName")?)?;
            Ok(json!({}))
        }
        "ListStreams" => {
            let names = store.list_streams()?;
            let summaries: Vec<Value> = names
                .iter()
                .map(|n| json!({"StreamName": n, "StreamARN": arn(n), "StreamStatus": "ACTIVE"}))
                .collect();
            Ok(json!({"StreamNames": names, "HasMoreStreams": false, "StreamSummaries": summaries}))
        }
        "DescribeStream" => {
            let d = store.describe_stream(str_field(req, "StreamName")?)?;
            let shards: Vec<Value> = d.shards.iter().map(shard_json).collect();
            let mut v = summary(&d);
            v["Shards"] = Value::Array(shards);
            v["HasMoreShards"] = json!(false);
            Ok(json!({ "StreamDescription": v }))
        }
        "DescribeStreamSummary" => {
            let d = store.describe_stream(str_field(req, "StreamName")?)?;
            let mut v = summary(&d);
            v["OpenShardCount"] = json!(d.open_shards);
            v["ConsumerCount"] = json!(0);
            Ok(json!({ "StreamDescriptionSummary": v }))
        }
        "ListShards" => {
            let d = store.describe_stream(str_field(req, "StreamName")?)?;
            Ok(json!({ "Shards": d.shards.iter().map(shard_json).collect::<Vec<_>>() }))
        }
        "PutRecord" => {
            let record = put_record(req)?;
            let stream = str_field(req, "StreamName")?;
            let mut out = store.put_records(stream, std::slice::from_ref(&record))?;
            let ack = out
                .pop()
                .ok_or_else(|| ApiError("InternalFailure", "no answer".into()))??;
            Ok(
                json!({"ShardId": &*ack.shard, "SequenceNumber": ack.seq.to_string(), "EncryptionType": "NONE"}),
            )
        }
        "PutRecords" => put_records(store, req),
        "GetShardIterator" => {
            let (stream, shard) = (str_field(req, "StreamName")?, str_field(req, "ShardId")?);
            let seq = || -> Result<u64, ApiError> {
                str_field(req, "StartingSequenceNumber")?
                    .parse()
                    .map_err(|_| invalid("StartingSequenceNumber must be a sequence number"))
            };
            let position = match str_field(req, "ShardIteratorType")? {
                "TRIM_HORIZON" => StartingPosition::TrimHorizon,
                "LATEST" => StartingPosition::Latest,
                "AT_SEQUENCE_NUMBER" => StartingPosition::AtSequence(seq()?),
                "AFTER_SEQUENCE_NUMBER" => StartingPosition::AfterSequence(seq()?),
                "AT_TIMESTAMP" => {
                    let t = req
                        .get("Timestamp")
                        .and_then(Value::as_f64)
                        .ok_or_else(|| invalid("Timestamp is required"))?;
                    StartingPosition::AtTimestamp((t * 1000.0) as i64)
                }
                other => return Err(invalid(format!("unknown ShardIteratorType {other:?}"))),
            };
            let it = store.shard_iterator(stream, shard, position)?;
            Ok(json!({ "ShardIterator": iterator_token(&it) }))
        }
        "GetRecords" => {
            let it = parse_iterator(str_field(req, "ShardIterator")?)?;
            let limit = u64_field(req, "Limit")?.unwrap_or(10_000).clamp(1, 10_000) as usize;
            let got = store.get_records(&it, limit, 10 << 20)?;
            let records: Vec<Value> = got
                .records
                .iter()
                .map(|r| {
                    json!({
                        "SequenceNumber": r.seq.to_string(),
                        "ApproximateArrivalTimestamp": r.timestamp_ms as f64 / 1000.0,
                        "Data": base64::encode(&r.data),
                        "PartitionKey": r.partition_key,
                    })
                })
                .collect();
            Ok(json!({
                "Records": records,
                "NextShardIterator": got.next.as_ref().map(iterator_token),
                "MillisBehindLatest": got.millis_behind_latest,
            }))
        }
        "SplitShard" => {
            let key: u128 = str_field(req, "NewStartingHashKey")?
                .parse()
                .map_err(|_| invalid("NewStartingHashKey must be a decimal hash key"))?;
            store.split_shard(
                str_field(req, "StreamName")?,
                str_field(req, "ShardToSplit")?,
                key,
            )?;
            Ok(json!({}))
        }
        "MergeShards" => {
            let stream = str_field(req, "StreamName")?;
            store.merge_shards(
                stream,
                str_field(req, "ShardToMerge")?,
                str_field(req, "AdjacentShardToMerge")?,
            )?;
            Ok(json!({}))
        }
        "IncreaseStreamRetentionPeriod" | "DecreaseStreamRetentionPeriod" => {
            let stream = str_field(req, "StreamName")?;
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
        other => Err(ApiError(
            "UnknownOperationException",
            format!("operation {other:?} is not served"),
        )),
    }
}

fn arn(stream: &str) -> String {
    format!("arn:aws:kinesis:local:000000000000:stream/{stream}")
}

fn summary(d: &StreamDescription) -> Value {
    let created = osprey_ingest::store::time::parse(&d.created).unwrap_or(0) as f64 / 1000.0;
    json!({
        "StreamName": d.name,
        "StreamARN": arn(&d.name),
        "StreamStatus": "ACTIVE",
        "StreamModeDetails": {"StreamMode": "PROVISIONED"},
        "RetentionPeriodHours": d.retention_hours,
        "StreamCreationTimestamp": created,
        "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
        "EncryptionType": "NONE",
    })
}

fn shard_json(s: &ShardDescription) -> Value {
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

fn put_record(r: &Value) -> Result<PutRecord, ApiError> {
    let data =
        base64::decode(str_field(r, "Data")?).ok_or_else(|| invalid("Data is not base64"))?;
    let explicit_hash_key = match r.get("ExplicitHashKey").and_then(Value::as_str) {
        Some(k) => Some(
            k.parse::<u128>()
                .map_err(|_| invalid("ExplicitHashKey must be a decimal hash key"))?,
        ),
        None => None,
    };
    Ok(PutRecord {
        partition_key: str_field(r, "PartitionKey")?.to_owned(),
        data,
        explicit_hash_key,
        id: None,
    })
}

fn put_records(store: &Store, req: &Value) -> Result<Value, ApiError> {
    let stream = str_field(req, "StreamName")?;
    let entries = req
        .get("Records")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("Records is required"))?;
    if entries.is_empty() || entries.len() > MAX_PUT_RECORDS {
        return Err(invalid(format!(
            "Records must hold 1 to {MAX_PUT_RECORDS} records, not {}",
            entries.len()
        )));
    }
    // A record that does not parse fails alone, as a record too large does.
    let parsed: Vec<Result<PutRecord, ApiError>> = entries.iter().map(put_record).collect();
    let total: usize = parsed
        .iter()
        .flatten()
        .map(|r| r.data.len() + r.partition_key.len())
        .sum();
    if total > MAX_PUT_BYTES {
        return Err(invalid(format!(
            "{total} bytes in one PutRecords call, more than 5 MiB"
        )));
    }
    let valid: Vec<PutRecord> = parsed
        .iter()
        .filter_map(|r| r.as_ref().ok().cloned())
        .collect();
    let mut outcomes = store.put_records(stream, &valid)?.into_iter();
    let mut failed = 0;
    let records: Vec<Value> = parsed
        .iter()
        .map(|p| {
            let outcome = match p {
                Ok(_) => outcomes.next().map(|o| o.map_err(ApiError::from)),
                Err(ApiError(name, msg)) => Some(Err(ApiError(name, msg.clone()))),
            };
            match outcome {
                Some(Ok(ack)) => {
                    json!({"ShardId": &*ack.shard, "SequenceNumber": ack.seq.to_string()})
                }
                Some(Err(ApiError(name, msg))) => {
                    failed += 1;
                    json!({"ErrorCode": name, "ErrorMessage": msg})
                }
                None => {
                    failed += 1;
                    json!({"ErrorCode": "InternalFailure", "ErrorMessage": "no answer"})
                }
            }
        })
        .collect();
    Ok(json!({"FailedRecordCount": failed, "Records": records, "EncryptionType": "NONE"}))
}

fn iterator_token(it: &ShardIterator) -> String {
    base64::encode(format!("{}/{}/{}", it.stream, it.shard, it.next_seq).as_bytes())
}

fn parse_iterator(token: &str) -> Result<ShardIterator, ApiError> {
    let bad = || ApiError("InvalidArgumentException", "invalid ShardIterator".into());
    let text = String::from_utf8(base64::decode(token).ok_or_else(bad)?).map_err(|_| bad())?;
    let mut parts = text.rsplitn(3, '/');
    let next_seq = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
    let shard = parts.next().ok_or_else(bad)?.to_owned();
    let stream = parts.next().ok_or_else(bad)?.to_owned();
    Ok(ShardIterator {
        stream,
        shard,
        next_seq,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iterator_tokens_round_trip() {
        let it = ShardIterator {
            stream: "a.b-c".into(),
            shard: "shardId-000000000001".into(),
            next_seq: 42,
        };
        assert_eq!(parse_iterator(&iterator_token(&it)).ok(), Some(it));
        assert!(parse_iterator("bm9wZQ==").is_err());
        assert!(parse_iterator("***").is_err());
    }
}
