//! Times on the command line of `osprey video`: RFC 3339
//! (`2026-12-06T10:00:00Z`) or Unix seconds (`1796551200.5`), as Unix
//! nanoseconds.

use anyhow::{Context as _, Result, bail};

/// Parses `text` (RFC 3339 or Unix seconds) into Unix nanoseconds.
pub fn parse_ns(text: &str) -> Result<u64> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<f64>() {
        if !(secs.is_finite() && (0.0..1.0e10).contains(&secs)) {
            bail!("time {text:?} is out of range (Unix seconds from 0 to 1e10)");
        }
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "checked to be in 0..1e19 ns above"
        )]
        return Ok((secs * 1e9).round() as u64);
    }
    let t = chrono::DateTime::parse_from_rfc3339(text).with_context(|| {
        format!("time {text:?} is neither RFC 3339 (2026-12-06T10:00:00Z) nor Unix seconds")
    })?;
    t.timestamp_nanos_opt()
        .and_then(|ns| u64::try_from(ns).ok())
        .with_context(|| format!("time {text:?} is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_and_unix_seconds_are_the_same_instant() {
        assert_eq!(
            parse_ns("2026-12-06T10:00:00Z").ok(),
            parse_ns("1796551200").ok()
        );
        assert_eq!(parse_ns("1.5").ok(), Some(1_500_000_000));
        assert!(parse_ns("yesterday").is_err());
        assert!(parse_ns("-3").is_err());
    }
}
