//! What users ask for: window kinds with their sizes, and aggregate functions.
//!
//! Times are microseconds since the Unix epoch; windows are aligned to it
//! (a tumbling minute starts on a whole minute of UTC).

use crate::error::{KernelError, Result};

/// Microseconds in a second.
pub const SECOND: i64 = 1_000_000;

/// The windows rows are grouped into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowSpec {
    /// `[k * size, (k + 1) * size)`.
    Tumbling {
        /// Window length.
        size: i64,
    },
    /// `[k * slide, k * slide + size)`: every row is in about `size / slide` windows.
    Hop {
        /// Distance between window starts.
        slide: i64,
        /// Window length.
        size: i64,
    },
    /// Per key, rows closer than `gap` to each other: `[first, last + gap)`.
    Session {
        /// Inactivity that ends a session.
        gap: i64,
    },
}

/// `t.div_euclid(size).saturating_mul(size)`, the start of the aligned
/// interval of `size` that holds `t`, with one division an interval rather
/// than one a row: rows come mostly in time order, so the interval of the
/// row before is kept and a row inside it is answered by two comparisons.
/// (An `i64` division is tens of cycles; the late-row checks and the slot
/// numbering each took one a row.)
#[derive(Debug, Clone, Copy)]
pub struct Floors {
    size: i64,
    /// The interval kept, `[lo, hi)`; empty while `hi <= lo`.
    lo: i64,
    hi: i64,
}

impl Floors {
    /// Floors to multiples of `size` (positive).
    pub fn new(size: i64) -> Self {
        Floors {
            size: size.max(1),
            lo: 0,
            hi: 0,
        }
    }

    /// The multiple of `size` at or below `t`, saturated at `i64::MIN`.
    #[inline]
    pub fn of(&mut self, t: i64) -> i64 {
        if self.lo <= t && t < self.hi {
            return self.lo;
        }
        let k = t.div_euclid(self.size);
        match k.checked_mul(self.size) {
            Some(lo) => {
                // Kept only when the whole interval is representable.
                (self.lo, self.hi) = match lo.checked_add(self.size) {
                    Some(hi) => (lo, hi),
                    None => (0, 0),
                };
                lo
            }
            None => k.saturating_mul(self.size),
        }
    }
}

/// Most windows one row may fall into (hopping windows).
pub const MAX_HOPS: i64 = 1024;

impl WindowSpec {
    /// Parses `tumbling:1m`, `hop:10s,1m` (slide, then size) or `session:30s`.
    ///
    /// # Errors
    /// [`KernelError::InvalidConfig`] naming what is wrong.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |why: String| KernelError::InvalidConfig(format!("window {s:?}: {why}"));
        let (kind, rest) = s
            .split_once(':')
            .ok_or_else(|| bad("expected tumbling:SIZE, hop:SLIDE,SIZE or session:GAP".into()))?;
        let spec = match kind.trim() {
            "tumbling" | "tumble" => WindowSpec::Tumbling {
                size: parse_duration(rest)?,
            },
            "hop" | "hopping" | "sliding" => {
                let (slide, size) = rest
                    .split_once(',')
                    .ok_or_else(|| bad("hop needs SLIDE,SIZE".into()))?;
                WindowSpec::Hop {
                    slide: parse_duration(slide)?,
                    size: parse_duration(size)?,
                }
            }
            "session" => WindowSpec::Session {
                gap: parse_duration(rest)?,
            },
            other => {
                return Err(bad(format!(
                    "unknown window kind {other:?} (known: tumbling, hop, session)"
                )));
            }
        };
        spec.validate()?;
        Ok(spec)
    }

    /// Checks sizes: positive, and a hop's size a whole number of slides at
    /// most [`MAX_HOPS`] of them.
    ///
    /// # Errors
    /// [`KernelError::InvalidConfig`].
    pub fn validate(&self) -> Result<()> {
        let bad = |why: &str| Err(KernelError::InvalidConfig(why.to_owned()));
        match *self {
            WindowSpec::Tumbling { size } if size <= 0 => bad("a window size must be positive"),
            WindowSpec::Session { gap } if gap <= 0 => bad("a session gap must be positive"),
            WindowSpec::Hop { slide, size } if slide <= 0 || size <= 0 => {
                bad("a hop's slide and size must be positive")
            }
            WindowSpec::Hop { slide, size } if size % slide != 0 => {
                bad("a hop's size must be a whole number of slides")
            }
            WindowSpec::Hop { slide, size } if size / slide > MAX_HOPS => {
                bad("a hop's size may be at most 1024 slides")
            }
            _ => Ok(()),
        }
    }
}

/// Parses `1m`, `10s`, `250ms`, `1.5h`, `2d`, `100us` into microseconds.
///
/// # Errors
/// [`KernelError::InvalidConfig`] for anything else or a non-positive length.
pub fn parse_duration(s: &str) -> Result<i64> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let per = match unit.trim() {
        "us" => 1.0,
        "ms" => 1e3,
        "s" | "sec" | "" => 1e6,
        "m" | "min" => 60e6,
        "h" => 3600e6,
        "d" => 86_400e6,
        other => {
            return Err(KernelError::InvalidConfig(format!(
                "duration {s:?}: unknown unit {other:?} (known: us, ms, s, m, h, d)"
            )));
        }
    };
    let v: f64 = number.parse().map_err(|_| {
        KernelError::InvalidConfig(format!("duration {s:?} is not a number and a unit"))
    })?;
    let us = (v * per).round();
    if !(1.0..1e17).contains(&us) {
        return Err(KernelError::InvalidConfig(format!(
            "duration {s:?} must be at least 1us and at most about 3000 years"
        )));
    }
    Ok(us as i64)
}

/// An aggregate function.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AggFunc {
    /// `count(*)`: rows.
    CountStar,
    /// `count(x)`: non-null values.
    Count,
    /// `sum(x)`.
    Sum,
    /// `min(x)`.
    Min,
    /// `max(x)`.
    Max,
    /// `avg(x)`.
    Avg,
    /// `var_samp(x)` (`sample`) or `var_pop(x)`.
    Var {
        /// Divide by n - 1 instead of n.
        sample: bool,
    },
    /// `stddev_samp(x)` or `stddev_pop(x)`.
    Stddev {
        /// Divide by n - 1 instead of n.
        sample: bool,
    },
    /// `approx_count_distinct(x)`: HyperLogLog, 3.25% standard error.
    ApproxDistinct,
    /// `approx_percentile(x, q)`, `p99(x)`: within 1/64 (1.5625%) of the exact
    /// discrete quantile (the value of rank `ceil(q * n)`).
    Percentile(f64),
    /// `first(x)`: the value at the earliest event time.
    First,
    /// `last(x)`: the value at the latest event time.
    Last,
}

impl AggFunc {
    /// Whether it is finished from the sum of squares (`var`, `stddev`):
    /// the kernels sum the squares only when an aggregate needs them.
    pub fn needs_squares(self) -> bool {
        matches!(self, AggFunc::Var { .. } | AggFunc::Stddev { .. })
    }

    /// The function of a name (`count`, `avg`, `p99`, `stddev_pop`, ...);
    /// `param` is a percentile's fraction, where one was given.
    ///
    /// # Errors
    /// [`KernelError::InvalidConfig`] naming the unknown function.
    pub fn parse(name: &str, param: Option<f64>) -> Result<Self> {
        let lower = name.trim().to_ascii_lowercase();
        let f = match lower.as_str() {
            "count" => AggFunc::Count,
            "sum" => AggFunc::Sum,
            "min" => AggFunc::Min,
            "max" => AggFunc::Max,
            "avg" | "mean" => AggFunc::Avg,
            "var" | "variance" | "var_samp" => AggFunc::Var { sample: true },
            "var_pop" => AggFunc::Var { sample: false },
            "stddev" | "stddev_samp" | "std" => AggFunc::Stddev { sample: true },
            "stddev_pop" => AggFunc::Stddev { sample: false },
            "approx_count_distinct" | "approx_distinct" | "count_distinct" => {
                AggFunc::ApproxDistinct
            }
            "first" | "first_value" => AggFunc::First,
            "last" | "last_value" => AggFunc::Last,
            "approx_percentile" | "percentile" | "approx_quantile" | "quantile" => {
                let q = param.ok_or_else(|| {
                    KernelError::InvalidConfig(format!(
                        "{name} needs a fraction, e.g. {name}(x, 0.99)"
                    ))
                })?;
                AggFunc::Percentile(q)
            }
            p if p.starts_with('p')
                && p.len() > 1
                && p[1..].bytes().all(|b| b.is_ascii_digit()) =>
            {
                let digits = &p[1..];
                let v: f64 = digits.parse().unwrap_or(0.0);
                AggFunc::Percentile(v / 10f64.powi(digits.len().max(2) as i32))
            }
            other => {
                return Err(KernelError::InvalidConfig(format!(
                    "unknown aggregate {other:?} (known: count, sum, min, max, avg, var_samp, var_pop, stddev_samp, stddev_pop, approx_count_distinct, approx_percentile, p50/p90/p99, first, last)"
                )));
            }
        };
        if let AggFunc::Percentile(q) = f
            && !(0.0..=1.0).contains(&q)
        {
            return Err(KernelError::InvalidConfig(format!(
                "{name}: a percentile's fraction must be between 0 and 1, not {q}"
            )));
        }
        Ok(f)
    }

    /// The function's name in result column names (`avg`, `p99`, `count`).
    pub fn name(&self) -> String {
        match self {
            AggFunc::CountStar | AggFunc::Count => "count".into(),
            AggFunc::Sum => "sum".into(),
            AggFunc::Min => "min".into(),
            AggFunc::Max => "max".into(),
            AggFunc::Avg => "avg".into(),
            AggFunc::Var { sample: true } => "var_samp".into(),
            AggFunc::Var { sample: false } => "var_pop".into(),
            AggFunc::Stddev { sample: true } => "stddev_samp".into(),
            AggFunc::Stddev { sample: false } => "stddev_pop".into(),
            AggFunc::ApproxDistinct => "approx_count_distinct".into(),
            AggFunc::Percentile(q) => {
                let pct = q * 100.0;
                if pct.fract() == 0.0 {
                    format!("p{pct:02}")
                } else {
                    format!("p{}", format!("{pct}").replace('.', "_"))
                }
            }
            AggFunc::First => "first".into(),
            AggFunc::Last => "last".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floors_are_the_divisions_they_stand_for() {
        for size in [1, 7, 60 * SECOND, i64::MAX / 3, i64::MAX] {
            let mut f = Floors::new(size);
            let mut times: Vec<i64> = vec![
                i64::MIN,
                i64::MIN + 1,
                i64::MIN + size - 1,
                -size - 1,
                -size,
                -1,
                0,
                1,
                size - 1,
                size,
                i64::MAX - size,
                i64::MAX - 1,
                i64::MAX,
            ];
            // In order, backwards and jumping about, so the kept interval
            // is hit, left and replaced.
            times.extend((0..200).map(|i| i * 12_345_678_901 - 1_000_000_000_000));
            times.extend((0..200).rev().map(|i| i * 7 - 700));
            for t in times {
                assert_eq!(
                    f.of(t),
                    t.div_euclid(size).saturating_mul(size),
                    "{t} by {size}"
                );
            }
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1m").ok(), Some(60 * SECOND));
        assert_eq!(parse_duration("10s").ok(), Some(10 * SECOND));
        assert_eq!(parse_duration("250ms").ok(), Some(250_000));
        assert_eq!(parse_duration("1.5h").ok(), Some(5400 * SECOND));
        assert_eq!(parse_duration("7").ok(), Some(7 * SECOND));
        for bad in ["", "m", "0s", "-1s", "1y", "1e400s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn windows() {
        assert_eq!(
            WindowSpec::parse("tumbling:1m").ok(),
            Some(WindowSpec::Tumbling { size: 60 * SECOND })
        );
        assert_eq!(
            WindowSpec::parse("hop:10s,1m").ok(),
            Some(WindowSpec::Hop {
                slide: 10 * SECOND,
                size: 60 * SECOND
            })
        );
        assert!(WindowSpec::parse("hop:7s,1m").is_err());
        assert!(WindowSpec::parse("session:0s").is_err());
        let err = WindowSpec::parse("weekly:1d").err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("unknown window kind")));
    }

    #[test]
    fn functions() {
        assert_eq!(
            AggFunc::parse("p99", None).ok(),
            Some(AggFunc::Percentile(0.99))
        );
        assert_eq!(
            AggFunc::parse("p999", None).ok(),
            Some(AggFunc::Percentile(0.999))
        );
        assert_eq!(
            AggFunc::parse("P50", None).ok(),
            Some(AggFunc::Percentile(0.5))
        );
        assert_eq!(
            AggFunc::parse("approx_percentile", Some(0.9)).ok(),
            Some(AggFunc::Percentile(0.9))
        );
        assert!(AggFunc::parse("approx_percentile", Some(2.0)).is_err());
        assert!(AggFunc::parse("median_of_medians", None).is_err());
        assert_eq!(AggFunc::Percentile(0.99).name(), "p99");
        assert_eq!(AggFunc::Percentile(0.5).name(), "p50");
        assert_eq!(AggFunc::Percentile(0.999).name(), "p99_9");
    }
}
