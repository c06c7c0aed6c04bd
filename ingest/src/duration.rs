//! Durations as users write them on the command line and in the sources
//! file: `500ms`, `10s`, `1.5s`, `5m`, `1h`, a bare number of seconds, and
//! `forever` where a limit may be lifted (`--retry-for`).

use std::time::Duration;

/// The longest duration accepted (about 31 years), so that adding it to an
/// instant can never overflow.
const MAX_SECONDS: f64 = 1e9;

/// Parses `text` as a duration.
///
/// # Errors
/// A sentence saying what is accepted.
pub fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = t.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (t, 1.0)
    };
    let bad = || format!("{text:?} is not a duration such as 500ms, 10s, 5m or 1h");
    let number = number.trim();
    // Digits and one point only: no signs, exponents, inf or NaN.
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(bad());
    }
    let value: f64 = number.parse().map_err(|_| bad())?;
    let seconds = value * scale;
    if seconds > MAX_SECONDS {
        return Err(format!("{text:?} is too long (at most 1e9 seconds)"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Parses a limit that `forever` lifts: `None` for ever.
///
/// # Errors
/// As [`parse`].
pub fn parse_or_forever(text: &str) -> Result<Option<Duration>, String> {
    match text.trim() {
        "forever" => Ok(None),
        _ => parse(text)
            .map(Some)
            .map_err(|e| format!("{e}, or forever")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_bare_seconds() {
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
        for bad in [
            "",
            "s",
            "-1s",
            "1e3s",
            "inf",
            "NaN",
            "10 minutes",
            "1.2.3s",
            "5d",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(parse("99999999999h").unwrap_err().contains("too long"));
    }

    #[test]
    fn forever_lifts_the_limit() {
        assert_eq!(parse_or_forever("forever"), Ok(None));
        assert_eq!(parse_or_forever("30s"), Ok(Some(Duration::from_secs(30))));
        assert!(
            parse_or_forever("always")
                .unwrap_err()
                .ends_with("or forever")
        );
    }
}
