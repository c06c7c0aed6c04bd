//! Event times: how a record's time field becomes microseconds since the Unix
//! epoch (UTC), the unit of every Arrow timestamp column the chunker builds.
//!
//! [`TimeFormat::Auto`] takes RFC 3339 strings (`2026-12-01T17:00:00Z`,
//! `2026-12-01 17:00:00.250+01:00`) and numbers, which it reads as epoch
//! seconds below 10^11 and as epoch milliseconds from there on (10^11 seconds
//! is the year 5138; 10^11 milliseconds is March 1973). The explicit formats
//! say which one a number is, or give a strftime pattern.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime};

use crate::error::{IngestError, Result};

/// Epoch numbers at or above this are milliseconds under [`TimeFormat::Auto`].
pub const AUTO_MILLIS_FROM: f64 = 1e11;

/// How time fields are written in the input.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TimeFormat {
    /// RFC 3339 strings, or epoch seconds / milliseconds told apart by size.
    #[default]
    Auto,
    /// RFC 3339 strings only.
    Rfc3339,
    /// Epoch seconds (integer or fractional), as numbers or numeric strings.
    EpochSeconds,
    /// Epoch milliseconds, as numbers or numeric strings.
    EpochMillis,
    /// Epoch microseconds, as numbers or numeric strings.
    EpochMicros,
    /// A strftime pattern (`%Y/%m/%d %H:%M`); times without an offset are UTC.
    Strftime(String),
}

impl std::str::FromStr for TimeFormat {
    type Err = IngestError;

    /// `auto`, `rfc3339`, `epoch_s`, `epoch_ms`, `epoch_us`, or a pattern
    /// with at least one `%`.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "auto" => Ok(TimeFormat::Auto),
            "rfc3339" => Ok(TimeFormat::Rfc3339),
            "epoch_s" | "epoch" | "s" => Ok(TimeFormat::EpochSeconds),
            "epoch_ms" | "ms" => Ok(TimeFormat::EpochMillis),
            "epoch_us" | "us" => Ok(TimeFormat::EpochMicros),
            p if p.contains('%') => {
                // chrono reports a bad pattern only when parsing; try one now
                // so the user hears about it before any record is read.
                let probe = chrono::format::StrftimeItems::new(p);
                if probe
                    .into_iter()
                    .any(|i| matches!(i, chrono::format::Item::Error))
                {
                    return Err(IngestError::InvalidTimeFormat(format!(
                        "{p:?} is not a valid strftime pattern"
                    )));
                }
                Ok(TimeFormat::Strftime(p.to_owned()))
            }
            other => Err(IngestError::InvalidTimeFormat(format!(
                "{other:?} (known: auto, rfc3339, epoch_s, epoch_ms, epoch_us, or a strftime pattern with %)"
            ))),
        }
    }
}

/// A time value as it came in: a number or a string.
#[derive(Debug, Clone, Copy)]
pub enum RawTime<'a> {
    /// A JSON number (or a CSV cell that parses as one).
    Number(f64),
    /// A string.
    Text(&'a str),
}

fn from_epoch(value: f64, per_second: f64) -> std::result::Result<i64, String> {
    let us = value * (1_000_000.0 / per_second);
    if !us.is_finite() || us.abs() >= 9.2e18 {
        return Err(format!("epoch time {value} is out of range"));
    }
    Ok(us.round() as i64)
}

fn parse_rfc3339(text: &str) -> std::result::Result<i64, String> {
    let t = text.trim();
    fast_rfc3339(t.as_bytes())
        .or_else(|| chrono_rfc3339(t))
        .ok_or_else(|| format!("{t:?} is not an RFC 3339 time"))
}

/// `t` read by chrono: RFC 3339, or with a space for `T` and any offset
/// chrono reads, or no offset (UTC).
fn chrono_rfc3339(t: &str) -> Option<i64> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some(dt.timestamp_micros());
    }
    for pattern in ["%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%#z"] {
        if let Ok(dt) = DateTime::parse_from_str(t, pattern) {
            return Some(dt.timestamp_micros());
        }
    }
    for pattern in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(t, pattern) {
            return Some(dt.and_utc().timestamp_micros());
        }
    }
    None
}

/// The common shapes of [`parse_rfc3339`] read by hand, the same value
/// chrono gives: `YYYY-MM-DD`, `T` or a space, `HH:MM:SS`, 1 to 9 digits of
/// fraction, then `Z`, `±HH:MM`, nothing (UTC), or after a space `±HH`
/// or `±HHMM`. `None`
/// for anything else (a leap second, an odd width), which chrono then
/// reads or refuses. chrono's format matching cost 15% of aggregating
/// NDJSON whose times read `2025-12-01 17:00:00.25+00`.
fn fast_rfc3339(t: &[u8]) -> Option<i64> {
    fn digits(b: &[u8]) -> Option<i64> {
        b.iter().try_fold(0i64, |v, &c| {
            c.is_ascii_digit().then(|| v * 10 + i64::from(c - b'0'))
        })
    }
    if t.len() < 19 || t[4] != b'-' || t[7] != b'-' || !matches!(t[10], b'T' | b' ') {
        return None;
    }
    if t[13] != b':' || t[16] != b':' {
        return None;
    }
    let (year, month, day) = (digits(&t[..4])?, digits(&t[5..7])?, digits(&t[8..10])?);
    let (hour, minute, second) = (
        digits(&t[11..13])?,
        digits(&t[14..16])?,
        digits(&t[17..19])?,
    );
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(year).ok()?,
        u32::try_from(month).ok()?,
        u32::try_from(day).ok()?,
    )?;
    let mut rest = &t[19..];
    let mut nanos = 0i64;
    if let Some(frac) = rest.strip_prefix(b".") {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if !(1..=9).contains(&n) {
            return None;
        }
        nanos = digits(&frac[..n])? * 10i64.pow(9 - n as u32);
        rest = &frac[n..];
    }
    let offset = match rest {
        [] | [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), zone @ ..] => {
            // chrono reads `±HH` and `±HHMM` after a space only.
            let spaced = t[10] == b' ';
            let (h, m) = match zone {
                [h1, h2] if spaced => (digits(&[*h1, *h2])?, 0),
                [h1, h2, m1, m2] if spaced => (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?),
                [h1, h2, b':', m1, m2] => (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?),
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let sign = if *sign == b'-' { -1 } else { 1 };
            sign * (h * 3600 + m * 60)
        }
        _ => return None,
    };
    let days = i64::from(date.num_days_from_ce()) - 719_163;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Some(secs * 1_000_000 + nanos / 1000)
}

impl TimeFormat {
    /// Microseconds since the epoch, or why the value is not a time.
    ///
    /// # Errors
    /// A message naming the value, for the bad-record output.
    pub fn parse(&self, raw: RawTime<'_>) -> std::result::Result<i64, String> {
        let number = |raw: RawTime<'_>| match raw {
            RawTime::Number(v) => Ok(v),
            RawTime::Text(t) => t
                .trim()
                .parse::<f64>()
                .map_err(|_| format!("{t:?} is not an epoch number")),
        };
        match self {
            TimeFormat::Auto => match raw {
                RawTime::Number(v) => {
                    let per_second = if v.abs() >= AUTO_MILLIS_FROM {
                        1e3
                    } else {
                        1.0
                    };
                    from_epoch(v, per_second)
                }
                RawTime::Text(t) => match t.trim().parse::<f64>() {
                    Ok(v) => TimeFormat::Auto.parse(RawTime::Number(v)),
                    Err(_) => parse_rfc3339(t),
                },
            },
            TimeFormat::Rfc3339 => match raw {
                RawTime::Text(t) => parse_rfc3339(t),
                RawTime::Number(v) => Err(format!("{v} is a number, not an RFC 3339 time")),
            },
            TimeFormat::EpochSeconds => from_epoch(number(raw)?, 1.0),
            TimeFormat::EpochMillis => from_epoch(number(raw)?, 1e3),
            TimeFormat::EpochMicros => from_epoch(number(raw)?, 1e6),
            TimeFormat::Strftime(pattern) => {
                let text = match raw {
                    RawTime::Text(t) => t.trim().to_owned(),
                    RawTime::Number(v) => v.to_string(),
                };
                if let Ok(dt) = DateTime::parse_from_str(&text, pattern) {
                    return Ok(dt.timestamp_micros());
                }
                if let Ok(dt) = NaiveDateTime::parse_from_str(&text, pattern) {
                    return Ok(dt.and_utc().timestamp_micros());
                }
                if let Ok(d) = NaiveDate::parse_from_str(&text, pattern) {
                    return Ok(d
                        .and_hms_opt(0, 0, 0)
                        .map_or(0, |dt| dt.and_utc().timestamp_micros()));
                }
                Err(format!(
                    "{text:?} does not match the time format {pattern:?}"
                ))
            }
        }
    }

    /// True when a string looks like a time under this format (used when
    /// inferring which string fields are timestamps).
    pub fn looks_like_time(&self, text: &str) -> bool {
        match self {
            TimeFormat::Auto | TimeFormat::Rfc3339 => {
                text.len() >= 19 && parse_rfc3339(text).is_ok()
            }
            TimeFormat::Strftime(_) => self.parse(RawTime::Text(text)).is_ok(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hand_written_path_reads_what_chrono_reads() {
        let dates = [
            "2025-12-01",
            "1969-12-31",
            "2024-02-29",
            "0001-01-01",
            "9999-12-31",
            "1900-03-01",
        ];
        let times = ["00:00:00", "17:05:09", "23:59:59"];
        let fracs = ["", ".5", ".000360", ".123456789", ".999999999", ".1234567"];
        let zones = [
            "", "Z", "z", "+00", "-00", "+01:00", "-05:30", "+0930", "-23:59", "+14",
        ];
        let mut read = 0;
        for d in dates {
            for sep in ["T", " ", "t"] {
                for time in times {
                    for f in fracs {
                        for z in zones {
                            let t = format!("{d}{sep}{time}{f}{z}");
                            let fast = fast_rfc3339(t.as_bytes());
                            if let Some(v) = fast {
                                read += 1;
                                assert_eq!(Some(v), chrono_rfc3339(&t), "{t}");
                            }
                            assert_eq!(parse_rfc3339(&t).ok(), chrono_rfc3339(&t).or(fast), "{t}");
                        }
                    }
                }
            }
        }
        assert!(read > 1500, "{read}");
        // Shapes left to chrono, or refused by both.
        for t in [
            "2025-02-29 00:00:00",
            "2025-12-01 24:00:00",
            "2025-12-01T17:00:60Z",
            "2025-12-01T17:00:00.Z",
            "2025-12-01T17:00:00.1234567890Z",
            "2025-12-01T17:00:00+1",
            "2025-12-01T17:00:00+24:00",
            "2025-12-01T17:00:00 Z",
            "2025-1-01T17:00:00Z",
            "+2025-12-01T17:00:00Z",
        ] {
            assert_eq!(fast_rfc3339(t.as_bytes()), None, "{t}");
            assert_eq!(parse_rfc3339(t).ok(), chrono_rfc3339(t), "{t}");
        }
    }

    const T0: i64 = 1_764_608_400_000_000; // 2025-12-01T17:00:00Z

    #[test]
    fn rfc3339_and_variants() {
        let f = TimeFormat::Auto;
        let ok = |s: &str| f.parse(RawTime::Text(s)).expect(s);
        assert_eq!(ok("2025-12-01T17:00:00Z"), T0);
        assert_eq!(ok("2025-12-01T18:00:00+01:00"), T0);
        assert_eq!(ok("2025-12-01 17:00:00.25Z"), T0 + 250_000);
        assert_eq!(ok("2025-12-01T17:00:00"), T0);
        assert!(f.parse(RawTime::Text("yesterday")).is_err());
    }

    #[test]
    fn epoch_numbers() {
        let f = TimeFormat::Auto;
        assert_eq!(f.parse(RawTime::Number(1_764_608_400.0)), Ok(T0));
        assert_eq!(f.parse(RawTime::Number(1_764_608_400_000.0)), Ok(T0));
        assert_eq!(f.parse(RawTime::Text("1764608400.5")), Ok(T0 + 500_000));
        assert_eq!(
            TimeFormat::EpochMillis.parse(RawTime::Number(1.0)),
            Ok(1000)
        );
        assert!(
            TimeFormat::EpochSeconds
                .parse(RawTime::Number(f64::NAN))
                .is_err()
        );
        assert!(
            TimeFormat::EpochSeconds
                .parse(RawTime::Number(1e300))
                .is_err()
        );
    }

    #[test]
    fn strftime_patterns() {
        let f: TimeFormat = "%Y/%m/%d %H:%M".parse().expect("a pattern");
        assert_eq!(f.parse(RawTime::Text("2025/12/01 17:00")), Ok(T0));
        assert!(f.parse(RawTime::Text("2025-12-01 17:00")).is_err());
        assert!("%Q nonsense".parse::<TimeFormat>().is_err());
        assert!("sometimes".parse::<TimeFormat>().is_err());
        assert_eq!(
            "epoch_ms".parse::<TimeFormat>().ok(),
            Some(TimeFormat::EpochMillis)
        );
    }
}
