//! The operations that manage streams rather than move records: the
//! listings with their pages (`ListStreams`, `ListShards` with its
//! `ShardFilter`), tags (`AddTagsToStream`, `RemoveTagsFromStream`,
//! `ListTagsForStream`, `Tags` on `CreateStream`), enhanced monitoring
//! (`EnableEnhancedMonitoring`, `DisableEnhancedMonitoring`: stored and
//! shown in DescribeStream; osprey has no CloudWatch to send them to) and
//! `UpdateShardCount`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::api::{ApiError, arn, invalid, shard_json, str_field, stream_name, u64_field};
use super::attrs;
use super::pages::{self, Page};
use crate::store::meta::even_ranges;
use crate::store::{ShardDescription, Store};

/// Most tags on a stream, as AWS allows.
pub(crate) const MAX_TAGS: usize = 50;

/// The shard-level metrics `ALL` stands for.
const METRICS: [&str; 7] = [
    "IncomingBytes",
    "IncomingRecords",
    "OutgoingBytes",
    "OutgoingRecords",
    "WriteProvisionedThroughputExceeded",
    "ReadProvisionedThroughputExceeded",
    "IteratorAgeMilliseconds",
];

/// Most open shards UpdateShardCount makes.
const MAX_SHARDS: u64 = 10_000;

/// Answers a management operation, `None` when `op` is none of them.
pub(crate) fn operation(store: &Store, op: &str, req: &Value) -> Option<Result<Value, ApiError>> {
    Some(match op {
        "ListStreams" => list_streams(store, req),
        "AddTagsToStream" => add_tags(store, req),
        "RemoveTagsFromStream" => remove_tags(store, req),
        "ListTagsForStream" => list_tags(store, req),
        "EnableEnhancedMonitoring" | "DisableEnhancedMonitoring" => {
            monitoring(store, req, op.starts_with("Enable"))
        }
        "UpdateShardCount" => update_shard_count(store, req),
        _ => return None,
    })
}

fn list_streams(store: &Store, req: &Value) -> Result<Value, ApiError> {
    let mut page = Page::of(req, "Limit", 100, 10_000)?;
    if page.after.is_none() {
        page.after = req
            .get("ExclusiveStartStreamName")
            .and_then(Value::as_str)
            .map(str::to_owned);
    }
    let names = store.list_streams()?;
    let (shown, next) = pages::cut(&names, &page, "", None, String::as_str);
    let summaries: Vec<Value> = shown
        .iter()
        .map(|n| json!({"StreamName": n, "StreamARN": arn(n), "StreamStatus": "ACTIVE"}))
        .collect();
    let mut answer = json!({
        "StreamNames": shown,
        "HasMoreStreams": next.is_some(),
        "StreamSummaries": summaries,
    });
    if let Some(next) = next {
        answer["NextToken"] = json!(next);
    }
    Ok(answer)
}

/// Whether shard `s` passes a ListShards `ShardFilter`. Osprey keeps no
/// times of shards' splits and merges, so the time filters pass every
/// shard, as the trim-horizon ones do (a superset: what a reader of the
/// shards' lineage, such as the KCL, copes with).
fn passes(filter: Option<&Value>, s: &ShardDescription) -> Result<bool, ApiError> {
    let Some(filter) = filter else {
        return Ok(true);
    };
    Ok(match str_field(filter, "Type")? {
        "AFTER_SHARD_ID" => s.id.as_str() > str_field(filter, "ShardId")?,
        "AT_LATEST" => s.ending_seq.is_none(),
        "AT_TRIM_HORIZON" | "FROM_TRIM_HORIZON" | "AT_TIMESTAMP" | "FROM_TIMESTAMP" => true,
        other => return Err(invalid(format!("unknown ShardFilter Type {other:?}"))),
    })
}

/// ListShards, of the log that holds the stream (`logs`).
pub(crate) fn list_shards(logs: &super::logs::Logs<'_>, req: &Value) -> Result<Value, ApiError> {
    let mut page = Page::of(req, "MaxResults", 1000, 10_000)?;
    // A token carries the first call's stream and filter (boto3's
    // paginator sends the stream again, which AWS refuses; osprey lets it).
    let (stream, filter) = match page.token.take() {
        Some(token) => (token.stream, token.filter),
        None => {
            page.after = req
                .get("ExclusiveStartShardId")
                .and_then(Value::as_str)
                .map(str::to_owned);
            (stream_name(req)?, req.get("ShardFilter").cloned())
        }
    };
    let d = logs.of(&stream)?.describe(&stream)?;
    let mut shards = Vec::with_capacity(d.shards.len());
    for s in &d.shards {
        if passes(filter.as_ref(), s)? {
            shards.push(s);
        }
    }
    shards.sort_by(|a, b| a.id.cmp(&b.id));
    let (shown, next) = pages::cut(&shards, &page, &stream, filter.as_ref(), |s| s.id.as_str());
    let mut answer = json!({ "Shards": shown.iter().map(|s| shard_json(s)).collect::<Vec<_>>() });
    if let Some(next) = next {
        answer["NextToken"] = json!(next);
    }
    Ok(answer)
}

/// Reads a `Tags` map (of CreateStream and AddTagsToStream).
fn tags_of(req: &Value) -> Result<BTreeMap<String, String>, ApiError> {
    let Some(tags) = req.get("Tags") else {
        return Ok(BTreeMap::new());
    };
    let tags = tags
        .as_object()
        .ok_or_else(|| invalid("Tags must be a map of keys to values"))?;
    tags.iter()
        .map(|(k, v)| {
            let v = v
                .as_str()
                .ok_or_else(|| invalid(format!("the value of tag {k:?} must be text")))?;
            if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
                return Err(invalid(format!(
                    "tag {k:?}: keys are 1 to 128 characters, values at most 256"
                )));
            }
            Ok((k.clone(), v.to_owned()))
        })
        .collect()
}

/// Adds the tags of a CreateStream or AddTagsToStream call to `stream`.
pub(crate) fn tag(store: &Store, stream: &str, req: &Value) -> Result<(), ApiError> {
    let tags = tags_of(req)?;
    if tags.is_empty() {
        return Ok(());
    }
    attrs::change(store, stream, |a| {
        let mut all = a.tags.clone();
        all.extend(tags);
        if all.len() > MAX_TAGS {
            return Err(ApiError(
                "LimitExceededException",
                format!("a stream has at most {MAX_TAGS} tags"),
            ));
        }
        a.tags = all;
        Ok(())
    })
}

fn add_tags(store: &Store, req: &Value) -> Result<Value, ApiError> {
    if req.get("Tags").is_none() {
        return Err(invalid("Tags is required"));
    }
    tag(store, &stream_name(req)?, req)?;
    Ok(json!({}))
}

fn remove_tags(store: &Store, req: &Value) -> Result<Value, ApiError> {
    let keys = req
        .get("TagKeys")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("TagKeys is required"))?;
    attrs::change(store, &stream_name(req)?, |a| {
        for key in keys.iter().filter_map(Value::as_str) {
            a.tags.remove(key);
        }
        Ok::<_, ApiError>(())
    })?;
    Ok(json!({}))
}

fn list_tags(store: &Store, req: &Value) -> Result<Value, ApiError> {
    let limit = match u64_field(req, "Limit")? {
        None => 50,
        Some(n @ 1..=50) => usize::try_from(n).unwrap_or(50),
        Some(n) => return Err(invalid(format!("Limit must be 1 to 50, not {n}"))),
    };
    let tags = attrs::load(store, &stream_name(req)?)?.tags;
    let after = req.get("ExclusiveStartTagKey").and_then(Value::as_str);
    let mut rest = tags
        .iter()
        .filter(|(k, _)| after.is_none_or(|after| k.as_str() > after));
    let shown: Vec<Value> = rest
        .by_ref()
        .take(limit)
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect();
    Ok(json!({ "Tags": shown, "HasMoreTags": rest.next().is_some() }))
}

/// The shard-level metrics of a stream, as DescribeStream shows them.
pub(crate) fn metrics(store: &Store, stream: &str) -> Result<Vec<String>, ApiError> {
    Ok(attrs::load(store, stream)?
        .shard_level_metrics
        .into_iter()
        .collect())
}

fn monitoring(store: &Store, req: &Value, enable: bool) -> Result<Value, ApiError> {
    let stream = stream_name(req)?;
    let asked = req
        .get("ShardLevelMetrics")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("ShardLevelMetrics is required"))?;
    let mut named = Vec::new();
    for m in asked {
        match m.as_str() {
            Some("ALL") => named.extend(METRICS),
            Some(m) if METRICS.contains(&m) => named.push(m),
            _ => return Err(invalid(format!("unknown shard-level metric {m}"))),
        }
    }
    let (current, desired) = attrs::change(store, &stream, |a| {
        let current: Vec<String> = a.shard_level_metrics.iter().cloned().collect();
        for m in &named {
            if enable {
                a.shard_level_metrics.insert((*m).to_owned());
            } else {
                a.shard_level_metrics.remove(*m);
            }
        }
        let desired: Vec<String> = a.shard_level_metrics.iter().cloned().collect();
        Ok::<_, ApiError>((current, desired))
    })?;
    Ok(json!({
        "StreamName": stream,
        "StreamARN": arn(&stream),
        "CurrentShardLevelMetrics": current,
        "DesiredShardLevelMetrics": desired,
    }))
}

/// UpdateShardCount with `UNIFORM_SCALING`: the open shards become
/// `TargetShardCount` shards of even hash-key ranges, by splits at the new
/// ranges' starts and then merges of what lies within each, so every
/// record's shard lineage stays whole. Within half to double the open
/// shards, as AWS allows per call.
fn update_shard_count(store: &Store, req: &Value) -> Result<Value, ApiError> {
    let stream = stream_name(req)?;
    match str_field(req, "ScalingType")? {
        "UNIFORM_SCALING" => {}
        other => {
            return Err(invalid(format!(
                "ScalingType {other:?} is not UNIFORM_SCALING"
            )));
        }
    }
    let target = u64_field(req, "TargetShardCount")?
        .ok_or_else(|| invalid("TargetShardCount is required"))?;
    let open = |store: &Store| -> Result<Vec<(String, u128, u128)>, ApiError> {
        let mut open: Vec<_> = store
            .stream_meta(&stream)?
            .shards
            .into_iter()
            .filter(|s| s.is_open())
            .map(|s| (s.id, s.hash_start, s.hash_end))
            .collect();
        open.sort_by_key(|s| s.1);
        Ok(open)
    };
    let current = open(store)?.len() as u64;
    if target == 0 || target > MAX_SHARDS || target * 2 < current || target > current * 2 {
        return Err(invalid(format!(
            "TargetShardCount {target}: from {current} open shards, 1 to {MAX_SHARDS} and \
             within half to double of them"
        )));
    }
    let target_u32 = u32::try_from(target).map_err(|_| invalid("TargetShardCount is too large"))?;
    let ranges = even_ranges(target_u32);
    // Splits: every new range starts where an open shard starts.
    for &(start, _) in ranges.iter().skip(1) {
        let shards = open(store)?;
        if let Some((id, _, _)) = shards.iter().find(|s| s.1 < start && start <= s.2) {
            store.split_shard(&stream, id, start)?;
        }
    }
    // Merges: what lies within each new range becomes one shard.
    for &(start, end) in &ranges {
        loop {
            let shards = open(store)?;
            let within: Vec<_> = shards
                .iter()
                .filter(|s| start <= s.1 && s.2 <= end)
                .collect();
            let [a, b, ..] = within[..] else { break };
            store.merge_shards(&stream, &a.0, &b.0)?;
        }
    }
    Ok(json!({
        "StreamName": stream,
        "StreamARN": arn(&stream),
        "CurrentShardCount": current,
        "TargetShardCount": target,
    }))
}
