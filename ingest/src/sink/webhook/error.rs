//! How a webhook sink fails: bad settings (found before any request), a
//! batch the endpoint refused for good, and a batch given up on after the
//! retry time.

/// Everything a webhook sink reports.
///
/// Kept apart from [`IngestError`](crate::IngestError) because a caller acts
/// on the kind: a refused batch may be set aside ([`WebhookError::refused_content`])
/// while a batch given up on must stop the delivery.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// A URL the sink cannot post to.
    #[error("cannot post to {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A `--header` that cannot be sent.
    #[error("invalid header {header:?}: {reason}")]
    InvalidHeader {
        /// The header as given.
        header: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Another setting out of range.
    #[error("invalid webhook setting: {0}")]
    InvalidConfig(String),
    /// The endpoint answered with a status that retrying cannot change
    /// (3xx, or 4xx other than 408 and 429).
    #[error("webhook {url} refused the batch with HTTP {status}: {body}")]
    Refused {
        /// The URL posted to.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the answer's body, on one line (or the redirect's
        /// target), for the operator.
        body: String,
    },
    /// Every attempt failed with a retryable error until the retry time ran
    /// out (or the endpoint asked for a wait beyond it).
    #[error("gave up on webhook {url} after {attempts} attempts in {seconds:.1} s: {last}")]
    GaveUp {
        /// The URL posted to.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// Seconds from the first attempt to giving up.
        seconds: f64,
        /// Why the last attempt failed.
        last: String,
    },
    /// A failure that retrying cannot change, before any answer (a request
    /// the HTTP client refuses to build, for instance).
    #[error("cannot post to webhook {url}: {reason}")]
    Failed {
        /// The URL posted to.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// Compressing the body failed.
    #[error("cannot compress the webhook body")]
    Encode(#[source] std::io::Error),
}

impl WebhookError {
    /// True when the endpoint refused the batch's content (400, 413, 415,
    /// 422): the batch can be set aside and the next one may pass. Other
    /// refusals (401, 403, 404, redirects, ...) say the endpoint or the
    /// credentials are wrong, and would refuse every batch alike.
    pub fn refused_content(&self) -> bool {
        matches!(
            self,
            WebhookError::Refused {
                status: 400 | 413 | 415 | 422,
                ..
            }
        )
    }
}
