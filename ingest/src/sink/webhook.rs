//! An HTTP webhook sink: batches of NDJSON records POSTed to an endpoint,
//! with retry and backoff, for results leaving osprey (`osprey deliver
//! <stream> --to http://...`, `osprey analyze --output http://...`).
//!
//! One batch is one `POST` whose body is the records, one JSON value a line
//! (`Content-Type: application/x-ndjson`), optionally gzip- or
//! zstd-compressed (`Content-Encoding`), with the configured extra headers.
//! [`Webhook::post`] returns only once the endpoint answered 2xx, which is
//! what lets a caller move a consumer's checkpoint past the batch.
//!
//! - Connection errors, timeouts, 408, 429 and 5xx are retried with
//!   exponential backoff and jitter ([`backoff`]), honouring `Retry-After`
//!   ([`retry_after`]), for up to [`WebhookConfig::retry_for`]; then
//!   [`WebhookError::GaveUp`]. A `Retry-After` beyond the time left gives up
//!   at once rather than post before the endpoint asked.
//! - Other statuses (3xx, other 4xx) are not retried: [`WebhookError::Refused`]
//!   carries the status and the start of the answer's body. Redirects are not
//!   followed: a POST body should not wander.
//! - The HTTP client is `ureq` over plain TCP: no TLS stack is built in, so
//!   `https://` is refused with a clear error, and proxies from the
//!   environment are not used. Connections are kept alive between batches.
//!
//! [`WebhookLines`] is a [`std::io::Write`] over the sink that posts the
//! complete lines gathered at each flush, as [`StreamLines`](super::StreamLines)
//! puts them into a stream.

pub mod backoff;
pub mod config;
pub mod error;
pub mod lines;
pub mod retry_after;

use std::io::Read as _;
use std::time::{Duration, Instant, SystemTime};

use ureq::http::{Response, StatusCode};

use crate::error::io_reason;

pub use backoff::Backoff;
pub use config::{WebhookConfig, is_webhook_url, parse_header};
pub use error::WebhookError;
pub use lines::WebhookLines;
pub use retry_after::parse_retry_after;

/// The content type of every body.
pub const NDJSON_CONTENT_TYPE: &str = "application/x-ndjson";

/// How much of an answer's body is read (the rest is dropped, and the
/// connection with it).
const READ_ANSWER_BYTES: u64 = 64 * 1024;

/// How much of an answer's body an error message quotes, in characters.
const EXCERPT_CHARS: usize = 300;

/// Posts batches to one endpoint.
#[derive(Debug)]
pub struct Webhook {
    config: WebhookConfig,
    agent: ureq::Agent,
    has_content_type: bool,
}

/// What one acknowledged batch took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// The 2xx status that acknowledged it.
    pub status: u16,
    /// Attempts made, 1 when the first one passed.
    pub attempts: u32,
    /// Bytes of the body as sent (after compression).
    pub body_bytes: usize,
}

/// How one attempt ended.
#[derive(Debug)]
enum Attempt {
    /// 2xx.
    Accepted(u16),
    /// Worth another try, after the wait the endpoint asked for if any.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// An answer retrying cannot change.
    Refused { status: u16, body: String },
    /// No answer, and retrying cannot change that.
    Failed(String),
}

impl Webhook {
    /// A sink for `config`, checked.
    ///
    /// # Errors
    /// [`WebhookError::InvalidUrl`] (https among them), [`WebhookError::InvalidHeader`],
    /// [`WebhookError::InvalidConfig`]. Nothing is sent yet.
    pub fn new(config: WebhookConfig) -> Result<Self, WebhookError> {
        config.check()?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .max_redirects(0)
            .timeout_global(Some(config.timeout))
            .user_agent(format!("osprey/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let has_content_type = config
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"));
        Ok(Webhook {
            config,
            agent,
            has_content_type,
        })
    }

    /// The settings it posts with.
    pub fn config(&self) -> &WebhookConfig {
        &self.config
    }

    /// Posts `ndjson` (complete lines) as one body and returns once the
    /// endpoint acknowledged it with 2xx, retrying as the module says.
    ///
    /// # Errors
    /// [`WebhookError::Refused`] for an answer that retrying cannot change,
    /// [`WebhookError::GaveUp`] when the retry time ran out,
    /// [`WebhookError::Failed`] and [`WebhookError::Encode`] otherwise. In
    /// every case the endpoint may or may not hold the batch, as with any
    /// HTTP delivery: a caller that sends it again may deliver it twice, and
    /// never loses it.
    pub fn post(&self, ndjson: &[u8]) -> Result<Receipt, WebhookError> {
        let body = self
            .config
            .encoding
            .encode(ndjson)
            .map_err(WebhookError::Encode)?;
        let started = Instant::now();
        let mut backoff = Backoff::new(self.config.first_backoff, self.config.max_backoff);
        let mut attempts = 0u32;
        loop {
            attempts = attempts.saturating_add(1);
            let (reason, after) = match self.attempt(&body) {
                Attempt::Accepted(status) => {
                    return Ok(Receipt {
                        status,
                        attempts,
                        body_bytes: body.len(),
                    });
                }
                Attempt::Refused { status, body } => {
                    return Err(WebhookError::Refused {
                        url: self.config.url.clone(),
                        status,
                        body,
                    });
                }
                Attempt::Failed(reason) => {
                    return Err(WebhookError::Failed {
                        url: self.config.url.clone(),
                        reason,
                    });
                }
                Attempt::Retry { reason, after } => (reason, after),
            };
            let left = self.config.retry_for.saturating_sub(started.elapsed());
            let gave_up = |last: String| WebhookError::GaveUp {
                url: self.config.url.clone(),
                attempts,
                seconds: started.elapsed().as_secs_f64(),
                last,
            };
            let wait = match after {
                Some(asked) if asked > left => {
                    return Err(gave_up(format!(
                        "{reason} (it asked to retry after {} s, past the retry time)",
                        asked.as_secs()
                    )));
                }
                Some(asked) => asked,
                None => backoff.next_wait().min(left),
            };
            if left.is_zero() {
                return Err(gave_up(reason));
            }
            tracing::warn!(
                url = %self.config.url,
                attempt = attempts,
                wait_ms = wait.as_millis() as u64,
                %reason,
                "Webhook attempt failed; retrying."
            );
            std::thread::sleep(wait);
        }
    }

    /// One POST of `body`, sorted into what happens next.
    fn attempt(&self, body: &[u8]) -> Attempt {
        let mut request = self.agent.post(&self.config.url);
        if !self.has_content_type {
            request = request.header("content-type", NDJSON_CONTENT_TYPE);
        }
        if let Some(token) = self.config.encoding.http_token() {
            request = request.header("content-encoding", token);
        }
        for (name, value) in &self.config.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        match request.send(body) {
            Ok(response) => self.sort_answer(response),
            Err(e) => self.sort_error(e),
        }
    }

    fn sort_answer(&self, mut response: Response<ureq::Body>) -> Attempt {
        let status = response.status();
        if status.is_success() {
            // Read the (short) answer so the connection can be reused.
            let mut sink = std::io::sink();
            let _ = std::io::copy(
                &mut response.body_mut().as_reader().take(READ_ANSWER_BYTES),
                &mut sink,
            );
            return Attempt::Accepted(status.as_u16());
        }
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let after = header("retry-after").and_then(|v| parse_retry_after(&v, SystemTime::now()));
        let location = header("location");
        let mut text = Vec::new();
        let _ = response
            .body_mut()
            .as_reader()
            .take(READ_ANSWER_BYTES)
            .read_to_end(&mut text);
        let excerpt = excerpt(&text);
        let code = status.as_u16();
        if status.is_redirection() {
            let to = location.unwrap_or_else(|| "no Location".into());
            return Attempt::Refused {
                status: code,
                body: format!("a redirect to {to}, not followed"),
            };
        }
        if status.is_server_error()
            || status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::REQUEST_TIMEOUT
        {
            let name = status.canonical_reason().unwrap_or("");
            return Attempt::Retry {
                reason: format!("HTTP {code} {name}: {excerpt}")
                    .trim_end()
                    .to_owned(),
                after,
            };
        }
        Attempt::Refused {
            status: code,
            body: excerpt,
        }
    }

    fn sort_error(&self, err: ureq::Error) -> Attempt {
        let retry = |reason: String| Attempt::Retry {
            reason,
            after: None,
        };
        match err {
            ureq::Error::Io(e) => retry(format!("cannot connect or send: {}", io_reason(&e))),
            ureq::Error::Timeout(_) => retry(format!(
                "no answer within {:.1} s",
                self.config.timeout.as_secs_f64()
            )),
            ureq::Error::HostNotFound => retry("host not found".into()),
            ureq::Error::ConnectionFailed => retry("connection failed".into()),
            ureq::Error::Protocol(e) => retry(format!("bad HTTP answer: {e}")),
            other => Attempt::Failed(other.to_string()),
        }
    }
}

/// The start of an answer's body as one line of text, for an error message.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut chars = one_line.chars();
    let mut out: String = chars.by_ref().take(EXCERPT_CHARS).collect();
    if chars.next().is_some() {
        out.push_str("...");
    }
    if out.is_empty() {
        out.push_str("(empty body)");
    }
    out
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead as _, BufReader, Write as _};
    use std::net::TcpListener;

    use super::*;

    /// A one-connection server that answers each request with the next of
    /// `answers` (whole raw responses) and returns the request heads it saw.
    fn serve(answers: Vec<&'static str>) -> (String, std::thread::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/in", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let mut heads = Vec::new();
            for answer in answers {
                let (stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut head = String::new();
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                    head.push_str(&line);
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                heads.push(head);
                (&stream).write_all(answer.as_bytes()).unwrap();
            }
            heads
        });
        (url, handle)
    }

    fn quick(url: &str) -> WebhookConfig {
        let mut c = WebhookConfig::new(url);
        c.first_backoff = Duration::from_millis(1);
        c.max_backoff = Duration::from_millis(5);
        c.retry_for = Duration::from_secs(5);
        c
    }

    #[test]
    fn retries_a_503_then_posts_with_the_headers() {
        let (url, server) = serve(vec![
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy",
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n",
        ]);
        let mut config = quick(&url);
        config
            .headers
            .push(parse_header("Authorization: Bearer x").unwrap());
        let receipt = Webhook::new(config).unwrap().post(b"{\"a\":1}\n").unwrap();
        assert_eq!((receipt.status, receipt.attempts), (204, 3));
        let heads = server.join().unwrap();
        let last = heads[2].to_ascii_lowercase();
        assert!(last.starts_with("post /in http/1.1"), "{last}");
        assert!(
            last.contains("content-type: application/x-ndjson"),
            "{last}"
        );
        assert!(last.contains("authorization: bearer x"), "{last}");
        assert!(last.contains("content-length: 8"), "{last}");
    }

    #[test]
    fn a_400_is_refused_at_once_with_its_body() {
        let (url, server) = serve(vec![
            "HTTP/1.1 400 Bad Request\r\nContent-Length: 16\r\nConnection: close\r\n\r\nbad\nrecord  at 3",
        ]);
        let err = Webhook::new(quick(&url)).unwrap().post(b"x\n").unwrap_err();
        assert!(err.refused_content(), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("HTTP 400: bad record at 3"), "{text}");
        assert_eq!(server.join().unwrap().len(), 1);
    }

    #[test]
    fn a_redirect_is_not_followed() {
        let (url, _server) = serve(vec![
            "HTTP/1.1 301 Moved\r\nLocation: http://elsewhere.invalid/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        ]);
        let err = Webhook::new(quick(&url)).unwrap().post(b"x\n").unwrap_err();
        assert!(!err.refused_content());
        assert!(
            err.to_string()
                .contains("redirect to http://elsewhere.invalid/"),
            "{err}"
        );
    }

    #[test]
    fn gives_up_after_the_retry_time() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        drop(listener);
        let mut config = quick(&url);
        config.retry_for = Duration::from_millis(300);
        let started = Instant::now();
        let err = Webhook::new(config).unwrap().post(b"x\n").unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(300));
        let WebhookError::GaveUp { attempts, last, .. } = &err else {
            panic!("{err:?}");
        };
        assert!(*attempts > 2, "{err}");
        assert!(last.contains("connection refused"), "{err}");
    }

    #[test]
    fn a_retry_after_past_the_retry_time_gives_up_at_once() {
        let (url, _server) = serve(vec![
            "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 3600\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        ]);
        let started = Instant::now();
        let err = Webhook::new(quick(&url)).unwrap().post(b"x\n").unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(
            err.to_string().contains("asked to retry after 3600 s"),
            "{err}"
        );
    }

    #[test]
    fn excerpts_are_one_short_line() {
        assert_eq!(excerpt(b""), "(empty body)");
        assert_eq!(excerpt(b" a\n\tb "), "a b");
        let long = excerpt("é".repeat(1000).as_bytes());
        assert_eq!(long.chars().count(), EXCERPT_CHARS + 3);
    }
}
