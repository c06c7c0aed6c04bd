//! What every call starts with: its signature checked (when the API has
//! credentials), its JSON body read and parsed, where it came to (for
//! GetDataEndpoint and the HLS URLs) and the region it was signed for (for
//! ARNs); and the readers of the fields every operation shares: the
//! stream (by name or ARN) and timestamps.

use axum::body::Body;
use axum::response::{IntoResponse as _, Response};
use hyper::header::HOST;
use hyper::http::request::Parts;
use osprey_ingest::http::read_body;
use osprey_ingest::kinesis::sigv4;
use osprey_ingest::video::{VideoStore, VideoStreamInfo};
use serde_json::Value;

use super::Shared;
use super::error::KvsError;

/// The region an unsigned request (or one whose scope names none) gets.
const DEFAULT_REGION: &str = "us-east-1";

/// The made-up account every ARN names.
const ACCOUNT: &str = "000000000000";

/// Where a call came to and for which region.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    /// `scheme://host[:port]`, as the client reached the server.
    pub(crate) base_url: String,
    /// The region of the signature's scope, else [`DEFAULT_REGION`].
    pub(crate) region: String,
}

/// What a signature covers of the body.
pub(crate) enum Payload<'a> {
    /// The body, read whole.
    Body(&'a [u8]),
    /// A streamed body: the hash the client declares in
    /// `x-amz-content-sha256` (`UNSIGNED-PAYLOAD` when it declares none).
    Streamed,
}

/// A header's value as text, if any.
pub(crate) fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

impl Shared {
    /// Checks the signature of a call and tells where it came to.
    ///
    /// # Errors
    /// A signature missing or wrong, when the API has credentials.
    pub(crate) fn call(&self, parts: &Parts, payload: &Payload<'_>) -> Result<Call, KvsError> {
        if let Some(credentials) = &self.credentials {
            let headers = sigv4::header_pairs(&parts.headers);
            let (method, path) = (parts.method.as_str(), parts.uri.path());
            let query = parts.uri.query().unwrap_or("");
            let checked = match payload {
                Payload::Body(body) => {
                    sigv4::verify(credentials, method, path, query, &headers, body)
                }
                Payload::Streamed => {
                    let hash = header(parts, "x-amz-content-sha256").unwrap_or("UNSIGNED-PAYLOAD");
                    sigv4::verify_payload_hash(credentials, method, path, query, &headers, hash)
                }
            };
            checked.map_err(|(name, message)| KvsError {
                status: hyper::StatusCode::FORBIDDEN,
                name,
                message,
            })?;
        }
        let region = header(parts, "authorization")
            .and_then(|auth| auth.split("Credential=").nth(1))
            .and_then(|credential| credential.split('/').nth(2))
            .filter(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
            .unwrap_or(DEFAULT_REGION)
            .to_owned();
        let host = header(parts, HOST.as_str()).unwrap_or("localhost");
        Ok(Call {
            base_url: format!("{}://{host}", self.scheme),
            region,
        })
    }

    /// Reads, checks and parses a JSON call.
    ///
    /// # Errors
    /// The answer to give instead.
    pub(crate) async fn json_call(
        &self,
        parts: &Parts,
        body: Body,
    ) -> Result<(Call, Value), Response> {
        let mut bytes = Vec::new();
        read_body(body, &mut bytes).await?;
        let call = self
            .call(parts, &Payload::Body(&bytes))
            .map_err(|e| e.into_response())?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok((call, Value::Object(serde_json::Map::new())));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(value @ Value::Object(_)) => Ok((call, value)),
            _ => Err(
                KvsError::named("SerializationException", "the body is not a JSON object")
                    .into_response(),
            ),
        }
    }
}

/// The ARN of stream `info` in `region`: stable while the stream lives (its
/// creation time is in it, so a stream made again gets another).
pub(crate) fn arn(region: &str, info: &VideoStreamInfo) -> String {
    format!(
        "arn:aws:kinesisvideo:{region}:{ACCOUNT}:stream/{}/{}",
        info.name, info.created_ms
    )
}

/// The stream a call names by `name` or `arn` (one of them needed), as it
/// is now.
///
/// # Errors
/// Neither given, an ARN not of a stream, or no such stream (or not the
/// one the ARN was made for).
pub(crate) fn stream_of(
    store: &VideoStore,
    name: Option<&str>,
    arn: Option<&str>,
) -> Result<VideoStreamInfo, KvsError> {
    match (name, arn) {
        (Some(name), _) => {
            let info = store.describe(name)?;
            if let Some(arn) = arn {
                check_arn(arn, &info)?;
            }
            Ok(info)
        }
        (None, Some(arn)) => {
            let (name, _) = arn_parts(arn)?;
            let info = store.describe(name)?;
            check_arn(arn, &info)?;
            Ok(info)
        }
        (None, None) => Err(KvsError::invalid("StreamName or StreamARN is needed")),
    }
}

/// [`stream_of`] with the names of a JSON body.
pub(crate) fn stream_in(store: &VideoStore, body: &Value) -> Result<VideoStreamInfo, KvsError> {
    stream_of(store, text(body, "StreamName")?, text(body, "StreamARN")?)
}

/// The name and creation time an ARN of ours holds.
fn arn_parts(arn: &str) -> Result<(&str, &str), KvsError> {
    let fields: Vec<&str> = arn.splitn(6, ':').collect();
    match fields[..] {
        ["arn", _, "kinesisvideo", _, _, resource] => resource
            .strip_prefix("stream/")
            .and_then(|rest| rest.rsplit_once('/'))
            .filter(|(name, _)| !name.is_empty())
            .ok_or_else(|| KvsError::invalid(format!("{arn:?} is not a stream ARN"))),
        _ => Err(KvsError::invalid(format!("{arn:?} is not a stream ARN"))),
    }
}

fn check_arn(arn: &str, info: &VideoStreamInfo) -> Result<(), KvsError> {
    let (name, created) = arn_parts(arn)?;
    if name == info.name && created == info.created_ms.to_string() {
        Ok(())
    } else {
        Err(KvsError::not_found(format!(
            "no stream has the ARN {arn:?}"
        )))
    }
}

/// An optional string field.
///
/// # Errors
/// A field that is there but not a string.
pub(crate) fn text<'a>(body: &'a Value, field: &str) -> Result<Option<&'a str>, KvsError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(KvsError::invalid(format!("{field} must be a string"))),
    }
}

/// An optional integer field.
///
/// # Errors
/// A field that is there but not a whole number of the right sign.
pub(crate) fn integer(body: &Value, field: &str) -> Result<Option<u64>, KvsError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| KvsError::invalid(format!("{field} must be a whole number"))),
    }
}

/// Seconds since the epoch written in decimal (`1700000000`,
/// `1700000000.25`) as Unix ns, exactly (to the nanosecond); `None` for
/// anything else or a time past the year 5138.
pub(crate) fn decimal_seconds_ns(text: &str) -> Option<u64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) {
        return None;
    }
    let seconds: u64 = whole.parse().ok().filter(|&s| s < 100_000_000_000)?;
    let nanos = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(9)
        .fold(0u64, |n, b| n * 10 + u64::from(b - b'0'));
    Some(seconds * 1_000_000_000 + nanos)
}

/// An optional timestamp field (seconds since the epoch, as REST-JSON
/// writes them, or RFC 3339), in Unix ns.
///
/// # Errors
/// A field that is there but not a time.
pub(crate) fn timestamp(body: &Value, field: &str) -> Result<Option<u64>, KvsError> {
    let bad = || KvsError::invalid(format!("{field} must be a timestamp"));
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(ns) = decimal_seconds_ns(&n.to_string()) {
                return Ok(Some(ns));
            }
            // An exponent form: to the microsecond.
            let seconds = n
                .as_f64()
                .filter(|s| (0.0..1e11).contains(s))
                .ok_or_else(bad)?;
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "checked to be in 0..1e11 s: the µs fit a u64"
            )]
            let micros = (seconds * 1e6).round() as u64;
            Ok(Some(micros * 1000))
        }
        Some(Value::String(s)) => match decimal_seconds_ns(s) {
            Some(ns) => Ok(Some(ns)),
            None => {
                let time = chrono::DateTime::parse_from_rfc3339(s).map_err(|_| bad())?;
                let ns = time.timestamp_nanos_opt().ok_or_else(bad)?;
                u64::try_from(ns).map(Some).map_err(|_| bad())
            }
        },
        Some(_) => Err(bad()),
    }
}

/// Unix ns as REST-JSON's timestamps: seconds, with milliseconds.
pub(crate) fn seconds(ns: u64) -> Value {
    let ms = ns / 1_000_000;
    #[expect(
        clippy::cast_precision_loss,
        reason = "milliseconds since the epoch fit an f64's 52 bits"
    )]
    Value::from(ms as f64 / 1000.0)
}

/// A JSON answer.
pub(crate) fn json_response(value: &Value) -> Response {
    let mut response = Response::new(Body::from(value.to_string()));
    let headers = response.headers_mut();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    headers.insert(
        "x-amzn-RequestId",
        hyper::header::HeaderValue::from_static("osprey"),
    );
    response
}
