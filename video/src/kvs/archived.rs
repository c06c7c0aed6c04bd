//! Archived media (boto3's `kinesis-video-archived-media`): ListFragments,
//! GetClip (an MP4 of a range, [`crate::playback::clip::mp4`]) and GetImages
//! (frames sampled as JPEG or PNG, [`crate::playback::images::sample`]).
//! Ranges on the server's clock are mapped to the producer's through the
//! fragments that arrived in them.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse as _, Response};
use base64::Engine as _;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use osprey_ingest::video::{FragmentMeta, TimeBase, TimeRange};
use serde_json::{Value, json};

use super::error::KvsError;
use super::request::{Call, integer, seconds, stream_in, text, timestamp};
use super::{Shared, blocking};
use crate::playback::{clip, images};

/// Most fragments ListFragments answers at once (as KVS).
const MAX_FRAGMENTS: usize = 1000;

/// Most fragments a clip may span (as KVS).
const MAX_CLIP_FRAGMENTS: usize = 200;

/// Images a GetImages page holds at most (as KVS).
const IMAGES_PAGE: u64 = 25;

/// The shortest sampling interval (as KVS), and the default.
const MIN_SAMPLING_MS: u64 = 200;
const DEFAULT_SAMPLING_MS: u64 = 1000;

/// The longest GetImages range (as KVS).
const MAX_IMAGES_RANGE_NS: u64 = 300_000_000_000;

/// A selector's clock and range (`{...SelectorType, TimestampRange}`), the
/// end inclusive as KVS has it.
fn selector(body: &Value, field: &str, type_field: &str) -> Result<Option<TimeRange>, KvsError> {
    let Some(selector) = body.get(field).filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let base = match text(selector, type_field)? {
        Some("PRODUCER_TIMESTAMP") => TimeBase::Producer,
        Some("SERVER_TIMESTAMP") => TimeBase::Server,
        _ => {
            return Err(KvsError::invalid(format!(
                "{field}.{type_field} must be PRODUCER_TIMESTAMP or SERVER_TIMESTAMP"
            )));
        }
    };
    let range = selector
        .get("TimestampRange")
        .ok_or_else(|| KvsError::invalid(format!("{field}.TimestampRange is needed")))?;
    range_of(range, base).map(Some)
}

/// A `{StartTimestamp, EndTimestamp}` on `base`, the end inclusive.
fn range_of(range: &Value, base: TimeBase) -> Result<TimeRange, KvsError> {
    let start = timestamp(range, "StartTimestamp")?
        .ok_or_else(|| KvsError::invalid("StartTimestamp is needed"))?;
    let end = timestamp(range, "EndTimestamp")?
        .ok_or_else(|| KvsError::invalid("EndTimestamp is needed"))?;
    if end < start {
        return Err(KvsError::invalid("EndTimestamp is before StartTimestamp"));
    }
    Ok(TimeRange {
        base,
        start_ns: start,
        end_ns: end.saturating_add(1),
    })
}

/// KVS' Fragment of a fragment.
fn fragment_json(meta: &FragmentMeta) -> Value {
    json!({
        "FragmentNumber": meta.number.to_string(),
        "FragmentSizeInBytes": meta.size,
        "ProducerTimestamp": seconds(meta.producer_ns),
        "ServerTimestamp": seconds(meta.server_ns),
        "FragmentLengthInMilliseconds": meta.duration_ns / 1_000_000,
    })
}

/// `ListFragments`: oldest first, `MaxResults` at a time, `NextToken` the
/// last fragment number given.
pub(crate) fn list_fragments(shared: &Shared, _: &Call, body: &Value) -> Result<Value, KvsError> {
    let info = stream_in(&shared.store, body)?;
    let range = selector(body, "FragmentSelector", "FragmentSelectorType")?;
    let max = integer(body, "MaxResults")?.map_or(MAX_FRAGMENTS, |n| {
        usize::try_from(n)
            .unwrap_or(MAX_FRAGMENTS)
            .clamp(1, MAX_FRAGMENTS)
    });
    let after = match text(body, "NextToken")? {
        None => None,
        Some(token) => Some(
            token
                .parse::<u64>()
                .map_err(|_| KvsError::invalid("NextToken is not one this server gave"))?,
        ),
    };
    let fragments: Vec<FragmentMeta> = shared
        .store
        .fragments(&info.name, range)?
        .into_iter()
        .filter(|m| after.is_none_or(|a| m.number > a))
        .collect();
    let page: Vec<Value> = fragments.iter().take(max).map(fragment_json).collect();
    let mut out = json!({ "Fragments": page });
    if fragments.len() > max {
        out["NextToken"] = Value::from(fragments[max - 1].number.to_string());
    }
    Ok(out)
}

/// A range on either clock as the producer's `[start, end)`: a server range
/// becomes the span of the fragments that arrived in it.
fn producer_span(shared: &Shared, name: &str, range: TimeRange) -> Result<(u64, u64), KvsError> {
    match range.base {
        TimeBase::Producer => Ok((range.start_ns, range.end_ns)),
        TimeBase::Server => {
            let kept = shared.store.fragments(name, Some(range))?;
            let start = kept.iter().map(|m| m.producer_ns).min();
            let end = kept
                .iter()
                .map(|m| m.producer_ns.saturating_add(m.duration_ns))
                .max();
            match (start, end) {
                (Some(start), Some(end)) => Ok((start, end)),
                _ => Err(KvsError::not_found("no fragments in the range asked for")),
            }
        }
    }
}

/// Serves GetClip: the MP4 of `ClipFragmentSelector`'s range.
pub(crate) async fn get_clip(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match shared.json_call(&parts, body).await {
        Ok((_, body)) => body,
        Err(response) => return response,
    };
    let made = blocking(move || {
        let info = stream_in(&shared.store, &body)?;
        let range = selector(&body, "ClipFragmentSelector", "FragmentSelectorType")?
            .ok_or_else(|| KvsError::invalid("ClipFragmentSelector is needed"))?;
        let (start, end) = producer_span(&shared, &info.name, range)?;
        let spanned = shared.store.fragments(
            &info.name,
            Some(TimeRange {
                base: TimeBase::Producer,
                start_ns: start,
                end_ns: end,
            }),
        )?;
        if spanned.len() > MAX_CLIP_FRAGMENTS {
            return Err(KvsError::invalid(format!(
                "the range spans {} fragments: at most {MAX_CLIP_FRAGMENTS} make a clip",
                spanned.len()
            )));
        }
        Ok(clip::mp4(&shared.store, &info.name, start, end)?)
    })
    .await;
    match made {
        Ok(clip) => {
            let mut response = Response::new(Body::from(clip.data));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("video/mp4"));
            response
        }
        Err(e) => e.into_response(),
    }
}

/// `GetImages`: one image every `SamplingInterval` ms of the range, a page
/// of at most 25, `NextToken` the next sample's time (ms).
pub(crate) fn get_images(shared: &Shared, _: &Call, body: &Value) -> Result<Value, KvsError> {
    let info = stream_in(&shared.store, body)?;
    let base = match text(body, "ImageSelectorType")? {
        Some("PRODUCER_TIMESTAMP") => TimeBase::Producer,
        Some("SERVER_TIMESTAMP") => TimeBase::Server,
        _ => {
            return Err(KvsError::invalid(
                "ImageSelectorType must be PRODUCER_TIMESTAMP or SERVER_TIMESTAMP",
            ));
        }
    };
    let range = range_of(body, base)?;
    if range.end_ns - range.start_ns > MAX_IMAGES_RANGE_NS + 1 {
        return Err(KvsError::invalid("the range is longer than 300 seconds"));
    }
    let every_ms = integer(body, "SamplingInterval")?.unwrap_or(DEFAULT_SAMPLING_MS);
    if every_ms < MIN_SAMPLING_MS {
        return Err(KvsError::invalid(format!(
            "SamplingInterval must be at least {MIN_SAMPLING_MS} ms"
        )));
    }
    let format = match text(body, "Format")? {
        Some("JPEG") => images::ImageFormat::Jpeg,
        Some("PNG") => images::ImageFormat::Png,
        _ => return Err(KvsError::invalid("Format must be JPEG or PNG")),
    };
    let pixels = |field: &str, max: u64| -> Result<Option<u32>, KvsError> {
        match integer(body, field)? {
            None => Ok(None),
            Some(n) if (1..=max).contains(&n) => Ok(u32::try_from(n).ok()),
            Some(_) => Err(KvsError::invalid(format!("{field} must be 1 to {max}"))),
        }
    };
    let (width, height) = (pixels("WidthPixels", 3840)?, pixels("HeightPixels", 2160)?);
    let page = integer(body, "MaxResults")?
        .unwrap_or(IMAGES_PAGE)
        .clamp(1, IMAGES_PAGE);
    let every_ns = every_ms * 1_000_000;
    let first_ns = match text(body, "NextToken")? {
        None => range.start_ns,
        Some(token) => token
            .parse::<u64>()
            .ok()
            .map(|ms| ms.saturating_mul(1_000_000))
            .filter(|&ns| ns >= range.start_ns)
            .ok_or_else(|| KvsError::invalid("NextToken is not one this server gave"))?,
    };
    // On the server's clock: sample the producer's at the same offsets from
    // the first fragment that arrived in the range.
    let shift = match base {
        TimeBase::Producer => 0i128,
        TimeBase::Server => {
            let kept = shared.store.fragments(&info.name, Some(range))?;
            kept.first()
                .map_or(0, |m| i128::from(m.producer_ns) - i128::from(m.server_ns))
        }
    };
    let to_producer = |ns: u64| u64::try_from(i128::from(ns) + shift).unwrap_or(0);
    let remaining = (range.end_ns.saturating_sub(first_ns))
        .div_ceil(every_ns)
        .max(1);
    let count = remaining.min(page);
    let request = images::ImageRequest {
        start_ns: to_producer(first_ns),
        end_ns: to_producer(first_ns.saturating_add(count * every_ns).min(range.end_ns))
            .max(to_producer(first_ns) + 1),
        every: Duration::from_nanos(every_ns),
        format,
        width,
        height,
        max_images: usize::try_from(count).unwrap_or(usize::MAX),
    };
    let sampled = match images::sample(&shared.store, &info.name, &request) {
        Ok(sampled) => sampled,
        Err(crate::playback::PlaybackError::NoMedia) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let engine = base64::engine::general_purpose::STANDARD;
    let mut by_time: std::collections::HashMap<u64, Vec<u8>> = sampled
        .into_iter()
        .filter_map(|s| Some((s.ts_ns, s.data?)))
        .collect();
    let list: Vec<Value> = (0..count)
        .map(|i| {
            let ts = first_ns + i * every_ns;
            let image = by_time.remove(&to_producer(ts));
            match image {
                Some(data) => {
                    json!({ "TimeStamp": seconds(ts), "ImageContent": engine.encode(data) })
                }
                None => json!({ "TimeStamp": seconds(ts), "Error": "NO_MEDIA" }),
            }
        })
        .collect();
    let mut out = json!({ "Images": list });
    let next = first_ns + count * every_ns;
    if next < range.end_ns {
        out["NextToken"] = Value::from((next / 1_000_000).to_string());
    }
    Ok(out)
}
