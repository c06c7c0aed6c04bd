//! The control plane (boto3's `kinesisvideo` client): CreateStream,
//! DescribeStream, ListStreams, DeleteStream, UpdateDataRetention,
//! GetDataEndpoint and the tags. Retention is in whole hours as KVS keeps
//! it; 0 hours keeps everything (KVS would keep nothing).

use std::collections::BTreeMap;
use std::time::Duration;

use osprey_ingest::video::{Retention, VideoStreamConfig, VideoStreamInfo};
use serde_json::{Value, json};

use super::Shared;
use super::error::KvsError;
use super::request::{Call, arn, integer, seconds, stream_in, text};

/// Most tags a stream may carry (as KVS).
const MAX_TAGS: usize = 50;

/// Most streams ListStreams answers at once (as KVS).
const MAX_LIST: usize = 10_000;

/// An hour.
const HOUR: u64 = 3600;

/// The hours a retention keeps (0: everything).
fn hours(retention: &Retention) -> u64 {
    retention.max_age.map_or(0, |age| age.as_secs() / HOUR)
}

/// A retention of `hours` (0: everything), the size bound kept.
fn retention_of(hours: u64, size: Option<u64>) -> Retention {
    Retention {
        max_age: (hours > 0).then(|| Duration::from_secs(hours.saturating_mul(HOUR))),
        max_bytes: size,
    }
}

/// KVS' StreamInfo of a stream.
fn stream_info(call: &Call, info: &VideoStreamInfo) -> Value {
    let mut out = json!({
        "StreamName": info.name,
        "StreamARN": arn(&call.region, info),
        "Version": info.version,
        "Status": "ACTIVE",
        "CreationTime": seconds(info.created_ms.saturating_mul(1_000_000)),
        "DataRetentionInHours": hours(&info.retention),
    });
    if let Some(media_type) = &info.media_type {
        out["MediaType"] = Value::from(media_type.as_str());
    }
    out
}

/// The `Tags` map of a body.
fn tags(body: &Value) -> Result<BTreeMap<String, String>, KvsError> {
    match body.get("Tags") {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(v) => Ok((k.clone(), v.clone())),
                _ => Err(KvsError::invalid("tag values must be strings")),
            })
            .collect(),
        Some(_) => Err(KvsError::invalid("Tags must be a map")),
    }
}

fn too_many_tags() -> KvsError {
    KvsError::named(
        "TagsPerResourceExceededLimitException",
        format!("a stream carries at most {MAX_TAGS} tags"),
    )
}

/// `CreateStream`.
pub(crate) fn create_stream(shared: &Shared, call: &Call, body: &Value) -> Result<Value, KvsError> {
    let name =
        text(body, "StreamName")?.ok_or_else(|| KvsError::invalid("StreamName is needed"))?;
    let tags = tags(body)?;
    if tags.len() > MAX_TAGS {
        return Err(too_many_tags());
    }
    let config = VideoStreamConfig {
        retention: retention_of(integer(body, "DataRetentionInHours")?.unwrap_or(0), None),
        media_type: text(body, "MediaType")?.map(str::to_owned),
        tags,
    };
    let info = shared.store.create(name, config)?;
    Ok(json!({ "StreamARN": arn(&call.region, &info) }))
}

/// `DescribeStream`.
pub(crate) fn describe_stream(
    shared: &Shared,
    call: &Call,
    body: &Value,
) -> Result<Value, KvsError> {
    let info = stream_in(&shared.store, body)?;
    Ok(json!({ "StreamInfo": stream_info(call, &info) }))
}

/// `ListStreams`: by name, `MaxResults` at a time, `NextToken` the last
/// name given; `StreamNameCondition` `BEGINS_WITH`.
pub(crate) fn list_streams(shared: &Shared, call: &Call, body: &Value) -> Result<Value, KvsError> {
    let max = integer(body, "MaxResults")?.map_or(MAX_LIST, |n| {
        usize::try_from(n).unwrap_or(MAX_LIST).clamp(1, MAX_LIST)
    });
    let after = text(body, "NextToken")?;
    let prefix = match body.get("StreamNameCondition") {
        None | Some(Value::Null) => None,
        Some(condition) => {
            match text(condition, "ComparisonOperator")? {
                None | Some("BEGINS_WITH") => {}
                Some(other) => {
                    return Err(KvsError::invalid(format!(
                        "ComparisonOperator {other:?}: only BEGINS_WITH is known"
                    )));
                }
            }
            text(condition, "ComparisonValue")?
        }
    };
    let streams: Vec<VideoStreamInfo> = shared
        .store
        .list()?
        .into_iter()
        .filter(|s| prefix.is_none_or(|p| s.name.starts_with(p)))
        .filter(|s| after.is_none_or(|a| s.name.as_str() > a))
        .collect();
    let page: Vec<Value> = streams
        .iter()
        .take(max)
        .map(|s| stream_info(call, s))
        .collect();
    let mut out = json!({ "StreamInfoList": page });
    if streams.len() > max {
        out["NextToken"] = Value::from(streams[max - 1].name.as_str());
    }
    Ok(out)
}

/// Refuses a call whose `CurrentVersion` is not the stream's.
fn check_version(info: &VideoStreamInfo, body: &Value) -> Result<(), KvsError> {
    match text(body, "CurrentVersion")? {
        Some(version) if version != info.version => Err(KvsError::named(
            "VersionMismatchException",
            format!(
                "the stream's version is {:?}, not {version:?}",
                info.version
            ),
        )),
        _ => Ok(()),
    }
}

/// `DeleteStream`.
pub(crate) fn delete_stream(shared: &Shared, _: &Call, body: &Value) -> Result<Value, KvsError> {
    let info = stream_in(&shared.store, body)?;
    check_version(&info, body)?;
    shared.store.delete(&info.name)?;
    Ok(json!({}))
}

/// `UpdateDataRetention`: hours added or taken away.
pub(crate) fn update_data_retention(
    shared: &Shared,
    _: &Call,
    body: &Value,
) -> Result<Value, KvsError> {
    let info = stream_in(&shared.store, body)?;
    check_version(&info, body)?;
    let change = integer(body, "DataRetentionChangeInHours")?
        .filter(|&h| h > 0)
        .ok_or_else(|| KvsError::invalid("DataRetentionChangeInHours must be at least 1"))?;
    let now = hours(&info.retention);
    let new = match text(body, "Operation")? {
        Some("INCREASE_DATA_RETENTION") => now.saturating_add(change),
        Some("DECREASE_DATA_RETENTION") => now.checked_sub(change).ok_or_else(|| {
            KvsError::invalid(format!(
                "the stream keeps {now} hours: cannot take away {change}"
            ))
        })?,
        _ => {
            return Err(KvsError::invalid(
                "Operation must be INCREASE_DATA_RETENTION or DECREASE_DATA_RETENTION",
            ));
        }
    };
    shared
        .store
        .set_retention(&info.name, retention_of(new, info.retention.max_bytes))?;
    Ok(json!({}))
}

/// `GetDataEndpoint`: this server, as the client reached it, for every API.
pub(crate) fn get_data_endpoint(
    shared: &Shared,
    call: &Call,
    body: &Value,
) -> Result<Value, KvsError> {
    stream_in(&shared.store, body)?;
    const APIS: [&str; 8] = [
        "PUT_MEDIA",
        "GET_MEDIA",
        "LIST_FRAGMENTS",
        "GET_MEDIA_FOR_FRAGMENT_LIST",
        "GET_HLS_STREAMING_SESSION_URL",
        "GET_DASH_STREAMING_SESSION_URL",
        "GET_CLIP",
        "GET_IMAGES",
    ];
    match text(body, "APIName")? {
        Some(api) if APIS.contains(&api) => Ok(json!({ "DataEndpoint": call.base_url })),
        _ => Err(KvsError::invalid(format!(
            "APIName must be one of {APIS:?}"
        ))),
    }
}

/// `TagStream`.
pub(crate) fn tag_stream(shared: &Shared, _: &Call, body: &Value) -> Result<Value, KvsError> {
    let info = stream_in(&shared.store, body)?;
    let add = tags(body)?;
    let after = info
        .tags
        .keys()
        .chain(add.keys())
        .collect::<std::collections::BTreeSet<_>>();
    if after.len() > MAX_TAGS {
        return Err(too_many_tags());
    }
    shared.store.set_tags(&info.name, &add, &[])?;
    Ok(json!({}))
}

/// `UntagStream`.
pub(crate) fn untag_stream(shared: &Shared, _: &Call, body: &Value) -> Result<Value, KvsError> {
    let info = stream_in(&shared.store, body)?;
    let keys: Vec<String> = match body.get("TagKeyList") {
        Some(Value::Array(keys)) => keys
            .iter()
            .map(|k| k.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| KvsError::invalid("TagKeyList must hold strings"))?,
        _ => return Err(KvsError::invalid("TagKeyList is needed")),
    };
    shared.store.set_tags(&info.name, &BTreeMap::new(), &keys)?;
    Ok(json!({}))
}

/// `ListTagsForStream` (every tag at once).
pub(crate) fn list_tags_for_stream(
    shared: &Shared,
    _: &Call,
    body: &Value,
) -> Result<Value, KvsError> {
    let info = stream_in(&shared.store, body)?;
    Ok(json!({ "Tags": info.tags }))
}
