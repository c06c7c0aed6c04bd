//! Wall-clock times as records write them: Unix seconds inside, RFC 3339
//! UTC with milliseconds outside (`2026-12-06T17:51:26.123Z`).

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in Unix seconds.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// `unix_seconds` as RFC 3339 UTC with milliseconds; `None` when it lies
/// outside what a date can say (not finite, before year 0 or past 9999).
pub fn rfc3339_millis(unix_seconds: f64) -> Option<String> {
    if !unix_seconds.is_finite() {
        return None;
    }
    let millis = (unix_seconds * 1000.0).round();
    if !(-62_167_219_200_000.0..=253_402_300_799_999.0).contains(&millis) {
        return None;
    }
    let at = chrono::DateTime::from_timestamp_millis(millis as i64)?;
    Some(at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
}

/// Serde: writes a time as [`rfc3339_millis`], `null` when absent or
/// unsayable.
pub(crate) fn serialize<S: serde::Serializer>(ts: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match ts.and_then(rfc3339_millis) {
        Some(text) => s.serialize_str(&text),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_rfc3339_utc_millis() {
        assert_eq!(
            rfc3339_millis(0.0).as_deref(),
            Some("1970-01-01T00:00:00.000Z")
        );
        assert_eq!(
            rfc3339_millis(1_796_579_486.123_4).as_deref(),
            Some("2026-12-06T17:51:26.123Z")
        );
        // Rounded to the nearest millisecond, carrying into the second.
        assert_eq!(
            rfc3339_millis(1_796_579_486.999_6).as_deref(),
            Some("2026-12-06T17:51:27.000Z")
        );
        assert_eq!(rfc3339_millis(f64::NAN), None);
        assert_eq!(rfc3339_millis(1e300), None);
    }
}
