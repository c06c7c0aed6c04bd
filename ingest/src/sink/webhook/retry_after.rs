//! `Retry-After` (RFC 9110, section 10.2.3): how long a 429 or 503 answer
//! asks the sender to wait, as delta-seconds (`120`) or as an HTTP-date
//! (`Wed, 21 Oct 2015 07:28:00 GMT`).

use std::time::{Duration, SystemTime};

/// The wait a `Retry-After` value asks for, measured from `now`; `None` when
/// the value is neither form (the caller then falls back to its backoff).
/// A date in the past asks for no wait.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Digits only: seconds, saturating rather than failing on huge ones.
        let secs = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(secs));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let at = SystemTime::UNIX_EPOCH
        + Duration::from_secs(u64::try_from(date.timestamp()).ok()?)
        + Duration::from_nanos(u64::from(date.timestamp_subsec_nanos()));
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Wed, 21 Oct 2015 07:28:00 GMT.
    fn at_2015() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480)
    }

    #[test]
    fn delta_seconds() {
        let now = SystemTime::now();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn http_dates_from_now() {
        let now = at_2015();
        let date = "Wed, 21 Oct 2015 07:28:00 GMT";
        assert_eq!(parse_retry_after(date, now), Some(Duration::ZERO));
        let later = "Wed, 21 Oct 2015 07:29:30 GMT";
        assert_eq!(parse_retry_after(later, now), Some(Duration::from_secs(90)));
        let past = "Tue, 20 Oct 2015 07:28:00 GMT";
        assert_eq!(parse_retry_after(past, now), Some(Duration::ZERO));
    }

    #[test]
    fn anything_else_is_none() {
        let now = SystemTime::now();
        for bad in [
            "",
            "soon",
            "-5",
            "1.5",
            "+3",
            "Wed, 32 Oct 2015 07:28:00 GMT",
        ] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }
}
