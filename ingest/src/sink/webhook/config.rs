//! What a webhook sink is told: where to post, extra headers, compression,
//! timeouts and how long to retry, each with a default and checked once by
//! [`Webhook::new`](super::Webhook::new).

use std::time::Duration;

use ureq::http::{HeaderName, HeaderValue, Uri};

use super::WebhookError;
use crate::sink::ContentEncoding;

/// How long one attempt (connect, send, answer) may take by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a batch is retried by default before the sink gives up on it
/// (Firehose's default retry duration for HTTP endpoints).
pub const DEFAULT_RETRY_FOR: Duration = Duration::from_secs(300);

/// Headers the sink sets itself from the body; a user's would contradict it.
const RESERVED: [&str; 4] = [
    "content-length",
    "content-encoding",
    "transfer-encoding",
    "host",
];

/// Settings of one webhook.
///
/// # Example
/// ```
/// use osprey_ingest::sink::webhook::{WebhookConfig, parse_header};
///
/// let mut config = WebhookConfig::new("http://127.0.0.1:8080/ingest");
/// config.headers.push(parse_header("Authorization: Bearer x")?);
/// assert_eq!(config.headers[0], ("Authorization".into(), "Bearer x".into()));
/// # Ok::<(), osprey_ingest::sink::webhook::WebhookError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// `http://host[:port][/path]`; https is refused (no TLS stack is built in).
    pub url: String,
    /// Extra request headers, `(name, value)`, sent with every POST; a
    /// `Content-Type` here replaces `application/x-ndjson`.
    pub headers: Vec<(String, String)>,
    /// Compression of the body, announced as `Content-Encoding`.
    pub encoding: ContentEncoding,
    /// The longest one attempt may take, from connecting to the answer's end.
    pub timeout: Duration,
    /// How long a batch is retried (connection errors, timeouts, 408, 429,
    /// 5xx) before the sink gives up on it.
    pub retry_for: Duration,
    /// The first wait between attempts (before jitter); it doubles each time.
    pub first_backoff: Duration,
    /// The longest wait between attempts that the backoff reaches.
    pub max_backoff: Duration,
}

impl WebhookConfig {
    /// Posting to `url` with the defaults: no extra headers, no compression,
    /// [`DEFAULT_TIMEOUT`], [`DEFAULT_RETRY_FOR`], waits from 200 ms to 30 s.
    pub fn new(url: impl Into<String>) -> Self {
        WebhookConfig {
            url: url.into(),
            headers: Vec::new(),
            encoding: ContentEncoding::Identity,
            timeout: DEFAULT_TIMEOUT,
            retry_for: DEFAULT_RETRY_FOR,
            first_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
        }
    }

    /// Checks the URL, headers and timeout, as [`Webhook::new`](super::Webhook::new)
    /// does, for callers that check their settings before any work.
    ///
    /// # Errors
    /// [`WebhookError::InvalidUrl`] (https among them),
    /// [`WebhookError::InvalidHeader`], [`WebhookError::InvalidConfig`].
    pub fn check(&self) -> Result<(), WebhookError> {
        check_url(&self.url)?;
        for (name, value) in &self.headers {
            check_header(name, value)?;
        }
        if self.timeout.is_zero() {
            return Err(WebhookError::InvalidConfig(
                "the timeout must be above 0".into(),
            ));
        }
        Ok(())
    }
}

/// True when `to` names a webhook (`http://` or `https://`) rather than a path.
pub fn is_webhook_url(to: &str) -> bool {
    let lower = to.get(..8).unwrap_or(to).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// Splits `Name: value` (as `curl -H` takes it) into a header's name and
/// value, both trimmed, and checks them.
///
/// # Errors
/// [`WebhookError::InvalidHeader`] without a colon, with an empty or invalid
/// name, a value with control characters (CR, LF), or a header the sink sets
/// itself (`Content-Length`, `Content-Encoding`, `Transfer-Encoding`, `Host`).
pub fn parse_header(text: &str) -> Result<(String, String), WebhookError> {
    let Some((name, value)) = text.split_once(':') else {
        return Err(invalid_header(text, "expected NAME: VALUE"));
    };
    let (name, value) = (name.trim(), value.trim());
    check_header(name, value)?;
    Ok((name.to_owned(), value.to_owned()))
}

fn check_header(name: &str, value: &str) -> Result<(), WebhookError> {
    let shown = format!("{name}: {value}");
    if name.is_empty() {
        return Err(invalid_header(&shown, "the name is empty"));
    }
    if HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(invalid_header(
            &shown,
            "the name holds characters a header name cannot",
        ));
    }
    if HeaderValue::from_str(value).is_err() {
        return Err(invalid_header(&shown, "the value holds control characters"));
    }
    if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        return Err(invalid_header(&shown, "osprey sets this header itself"));
    }
    Ok(())
}

fn invalid_header(header: &str, reason: &str) -> WebhookError {
    WebhookError::InvalidHeader {
        header: header.to_owned(),
        reason: reason.to_owned(),
    }
}

fn check_url(url: &str) -> Result<(), WebhookError> {
    let invalid = |reason: &str| WebhookError::InvalidUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let uri: Uri = url
        .parse()
        .map_err(|e: ureq::http::uri::InvalidUri| invalid(&e.to_string()))?;
    match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
        Some("http") => {}
        Some("https") => {
            return Err(invalid(
                "https is not supported: this osprey is built without TLS; \
                 post to http:// (a TLS-terminating proxy in front of the endpoint, for instance)",
            ));
        }
        _ => return Err(invalid("expected http://HOST[:PORT][/PATH]")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(invalid("no host"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_split_at_the_first_colon_and_trim() {
        assert_eq!(
            parse_header("Authorization: Bearer a:b ").unwrap(),
            ("Authorization".into(), "Bearer a:b".into())
        );
        assert_eq!(
            parse_header("X-Empty:").unwrap(),
            ("X-Empty".into(), String::new())
        );
    }

    #[test]
    fn bad_headers_say_why() {
        for (text, why) in [
            ("no colon", "expected NAME: VALUE"),
            (": v", "name is empty"),
            ("Bad Name: v", "cannot"),
            ("X-A: a\r\nX-B: b", "control characters"),
            ("content-length: 3", "sets this header itself"),
            ("Content-Encoding: br", "sets this header itself"),
        ] {
            let err = parse_header(text).unwrap_err().to_string();
            assert!(err.contains(why), "{text:?}: {err}");
        }
    }

    #[test]
    fn urls() {
        assert!(check_url("http://127.0.0.1:8080/in?x=1").is_ok());
        assert!(check_url("HTTP://example.invalid").is_ok());
        let https = check_url("https://example.invalid/")
            .unwrap_err()
            .to_string();
        assert!(https.contains("https is not supported"), "{https}");
        for bad in ["ftp://x/", "http://", "127.0.0.1:80", "http://a b/"] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        assert!(is_webhook_url("http://x") && is_webhook_url("HTTPS://x"));
        assert!(!is_webhook_url("out/http") && !is_webhook_url("") && !is_webhook_url("httpx"));
    }
}
