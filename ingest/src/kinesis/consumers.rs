//! Enhanced fan-out consumers: `RegisterStreamConsumer`,
//! `DescribeStreamConsumer`, `ListStreamConsumers` and
//! `DeregisterStreamConsumer`, kept with the stream ([`attrs`]).
//!
//! A consumer's ARN is its stream's, `/consumer/NAME:SECONDS` after it
//! (the second it was registered), as AWS writes it; a consumer is
//! `CREATING` in its registration's answer and `ACTIVE` from then on, and
//! is removed at once on deregistration. At most [`MAX_CONSUMERS`] per
//! stream, as AWS allows.

use serde_json::{Value, json};

use super::api::{ApiError, arn, invalid, str_field, stream_name};
use super::attrs::{self, Consumer};
use super::pages::{self, Page};
use crate::store::{Store, time};

/// Most consumers a stream has, as AWS allows.
pub(crate) const MAX_CONSUMERS: usize = 20;

/// A consumer's ARN on stream `stream`.
pub(crate) fn consumer_arn(stream: &str, consumer: &Consumer) -> String {
    format!(
        "{}/consumer/{}:{}",
        arn(stream),
        consumer.name,
        consumer.created_ms.div_euclid(1000)
    )
}

/// A consumer as ListStreamConsumers (and, with its stream's ARN,
/// DescribeStreamConsumer) shows it.
fn consumer_json(stream: &str, consumer: &Consumer, status: &str) -> Value {
    #[expect(
        clippy::cast_precision_loss,
        reason = "milliseconds since the epoch fit an f64's 52 bits"
    )]
    let created = consumer.created_ms as f64 / 1000.0;
    json!({
        "ConsumerName": consumer.name,
        "ConsumerARN": consumer_arn(stream, consumer),
        "ConsumerStatus": status,
        "ConsumerCreationTimestamp": created,
    })
}

/// The stream and consumer name a call names: by `ConsumerARN`, or by
/// `StreamARN` (or `StreamName`) and `ConsumerName`.
fn named(req: &Value) -> Result<(String, String, Option<i64>), ApiError> {
    if let Some(consumer_arn) = req.get("ConsumerARN").and_then(Value::as_str) {
        let bad = || invalid(format!("{consumer_arn:?} is not a consumer ARN"));
        let (stream_arn, rest) = consumer_arn.split_once("/consumer/").ok_or_else(bad)?;
        let (name, seconds) = rest.rsplit_once(':').ok_or_else(bad)?;
        let seconds: i64 = seconds.parse().map_err(|_| bad())?;
        let stream = stream_name(&json!({ "StreamARN": stream_arn }))?;
        return Ok((stream, name.to_owned(), Some(seconds)));
    }
    let stream = stream_name(req)?;
    Ok((stream, str_field(req, "ConsumerName")?.to_owned(), None))
}

/// The consumer a call names, when registered.
pub(crate) fn find(store: &Store, req: &Value) -> Result<(String, Consumer), ApiError> {
    let (stream, name, seconds) = named(req)?;
    let found = attrs::load(store, &stream)?
        .consumers
        .into_iter()
        .find(|c| c.name == name && seconds.is_none_or(|s| s == c.created_ms.div_euclid(1000)));
    let consumer = found.ok_or_else(|| {
        ApiError(
            "ResourceNotFoundException",
            format!("no consumer {name:?} on stream {stream:?}"),
        )
    })?;
    Ok((stream, consumer))
}

/// Answers a consumer operation, `None` when `op` is none of them.
pub(crate) fn operation(store: &Store, op: &str, req: &Value) -> Option<Result<Value, ApiError>> {
    Some(match op {
        "RegisterStreamConsumer" => register(store, req),
        "DescribeStreamConsumer" => find(store, req).map(|(stream, consumer)| {
            let mut v = consumer_json(&stream, &consumer, "ACTIVE");
            v["StreamARN"] = json!(arn(&stream));
            json!({ "ConsumerDescription": v })
        }),
        "ListStreamConsumers" => list(store, req),
        "DeregisterStreamConsumer" => find(store, req).and_then(|(stream, consumer)| {
            attrs::change(store, &stream, |a| {
                a.consumers.retain(|c| *c != consumer);
                Ok::<_, ApiError>(json!({}))
            })
        }),
        _ => return None,
    })
}

fn register(store: &Store, req: &Value) -> Result<Value, ApiError> {
    let stream = stream_name(req)?;
    let name = str_field(req, "ConsumerName")?;
    let valid = |c: char| c.is_ascii_alphanumeric() || "_.-".contains(c);
    if name.is_empty() || name.len() > 128 || !name.chars().all(valid) {
        return Err(invalid(format!(
            "ConsumerName {name:?} must be 1 to 128 of a-z, A-Z, 0-9, _ . -"
        )));
    }
    let consumer = attrs::change(store, &stream, |a| {
        if a.consumers.iter().any(|c| c.name == name) {
            return Err(ApiError(
                "ResourceInUseException",
                format!("consumer {name:?} is already registered on stream {stream:?}"),
            ));
        }
        if a.consumers.len() >= MAX_CONSUMERS {
            return Err(ApiError(
                "LimitExceededException",
                format!("stream {stream:?} has {MAX_CONSUMERS} consumers already"),
            ));
        }
        let consumer = Consumer {
            name: name.to_owned(),
            created_ms: time::now_ms(),
        };
        a.consumers.push(consumer.clone());
        Ok(consumer)
    })?;
    Ok(json!({ "Consumer": consumer_json(&stream, &consumer, "CREATING") }))
}

fn list(store: &Store, req: &Value) -> Result<Value, ApiError> {
    let page = Page::of(req, "MaxResults", 100, 10_000)?;
    let stream = match &page.token {
        Some(token) => token.stream.clone(),
        None => stream_name(req)?,
    };
    let mut consumers = attrs::load(store, &stream)?.consumers;
    consumers.sort_by(|a, b| a.name.cmp(&b.name));
    let (shown, next) = pages::cut(&consumers, &page, &stream, None, |c| c.name.as_str());
    let mut answer = json!({
        "Consumers": shown.iter().map(|c| consumer_json(&stream, c, "ACTIVE")).collect::<Vec<_>>(),
    });
    if let Some(next) = next {
        answer["NextToken"] = json!(next);
    }
    Ok(answer)
}
