//! Which stored data a query can leave unread: the time range its WHERE
//! holds the event time to (`ts >= '...' AND ts < '...'`, ANDed at the top),
//! checked against the hour a Hive-style path names (`year=/month=/day=/hour=`)
//! and against the minimum and maximum of the time column in each Parquet
//! row group's statistics.
//!
//! A bound is only ever taken from a comparison of the time field with a
//! time written as text, so a range this finds holds for every row WHERE
//! keeps: skipping what lies outside it changes no result.

use arrow::datatypes::{DataType, TimeUnit};
use chrono::NaiveDate;
use osprey_ingest::chunk::TimeFormat;
use osprey_ingest::chunk::time::RawTime;
use parquet::file::metadata::RowGroupMetaData;
use parquet::file::statistics::Statistics;

use crate::plan::{BinOp, Expr};

/// µs in an hour.
const HOUR_US: i64 = 3_600_000_000;

/// The event times a query keeps, `[lo, hi)` in µs since the epoch; `None`
/// is unbounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    /// The first time kept.
    pub lo: Option<i64>,
    /// The first time past the range.
    pub hi: Option<i64>,
}

impl TimeRange {
    /// The range `filter` holds the field `time` to: each comparison of
    /// `time` with a text time ANDed at the top narrows it.
    pub fn of(filter: Option<&Expr>, time: &str) -> TimeRange {
        let mut range = TimeRange::default();
        if let Some(filter) = filter {
            range.narrow(filter, time);
        }
        range
    }

    fn narrow(&mut self, expr: &Expr, time: &str) {
        let Expr::Binary(a, op, b) = expr else {
            return;
        };
        if *op == BinOp::And {
            self.narrow(a, time);
            self.narrow(b, time);
            return;
        }
        // `ts OP '...'`, or `'...' OP ts` read the other way round.
        let (op, text) = match (a.as_ref(), b.as_ref()) {
            (Expr::Column(c), Expr::Text(t)) if c == time => (*op, t),
            (Expr::Text(t), Expr::Column(c)) if c == time => match op {
                BinOp::Lt => (BinOp::Gt, t),
                BinOp::Le => (BinOp::Ge, t),
                BinOp::Gt => (BinOp::Lt, t),
                BinOp::Ge => (BinOp::Le, t),
                other => (*other, t),
            },
            _ => return,
        };
        let Ok(us) = TimeFormat::Auto.parse(RawTime::Text(text)) else {
            return;
        };
        let (lo, hi) = match op {
            BinOp::Ge => (Some(us), None),
            BinOp::Gt => (us.checked_add(1), None),
            BinOp::Lt => (None, Some(us)),
            BinOp::Le => (None, us.checked_add(1)),
            BinOp::Eq => (Some(us), us.checked_add(1)),
            _ => return,
        };
        if let Some(lo) = lo {
            self.lo = Some(self.lo.map_or(lo, |l| l.max(lo)));
        }
        if let Some(hi) = hi {
            self.hi = Some(self.hi.map_or(hi, |h| h.min(hi)));
        }
    }

    /// True when the range is the whole time line.
    pub fn is_all(&self) -> bool {
        self.lo.is_none() && self.hi.is_none()
    }

    /// True when `[start, end)` has a time in the range.
    pub fn overlaps(&self, start: i64, end: i64) -> bool {
        self.lo.is_none_or(|lo| end > lo) && self.hi.is_none_or(|hi| start < hi)
    }
}

/// The hour, day, month or year a Hive-style path names by its `year`,
/// `month`, `day` and `hour` partition values (as `osprey deliver` and
/// pyarrow write them), `[start, end)` in µs; `None` without a year, or with
/// a value that is not a number of its range.
pub fn path_span(partitions: &[(String, String)]) -> Option<(i64, i64)> {
    let value = |key: &str| -> Option<Option<i64>> {
        match partitions.iter().find(|(k, _)| k == key) {
            None => Some(None),
            Some((_, v)) => v.parse::<i64>().ok().map(Some),
        }
    };
    let year = value("year")??;
    let (month, day, hour) = (value("month")?, value("day")?, value("hour")?);
    if !(1..=9999).contains(&year)
        || month.is_some_and(|m| !(1..=12).contains(&m))
        || day.is_some_and(|d| !(1..=31).contains(&d))
        || hour.is_some_and(|h| !(0..=23).contains(&h))
    {
        return None;
    }
    let start_of = |y: i64, m: i64, d: i64| -> Option<i64> {
        let date = NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m as u32, d as u32)?;
        Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp() * 1_000_000)
    };
    Some(match (month, day, hour) {
        (None, _, _) => (start_of(year, 1, 1)?, start_of(year + 1, 1, 1)?),
        (Some(m), None, _) => {
            let (ny, nm) = if m == 12 {
                (year + 1, 1)
            } else {
                (year, m + 1)
            };
            (start_of(year, m, 1)?, start_of(ny, nm, 1)?)
        }
        (Some(m), Some(d), None) => {
            let s = start_of(year, m, d)?;
            (s, s + 24 * HOUR_US)
        }
        (Some(m), Some(d), Some(h)) => {
            let s = start_of(year, m, d)? + h * HOUR_US;
            (s, s + HOUR_US)
        }
    })
}

/// Where the time field is in a Parquet file: its leaf column and its unit,
/// when it is a timestamp column at the top level (a text time has no
/// statistics this can use).
#[derive(Debug, Clone, Copy)]
pub struct TimeColumn {
    leaf: usize,
    unit: TimeUnit,
}

impl TimeColumn {
    /// The time column `name` of a file of `schema` whose leaf columns are
    /// named `leaves`.
    pub fn find(data_type: Option<&DataType>, leaves: &[String], name: &str) -> Option<TimeColumn> {
        let Some(DataType::Timestamp(unit, _)) = data_type else {
            return None;
        };
        let leaf = leaves.iter().position(|l| l == name)?;
        Some(TimeColumn { leaf, unit: *unit })
    }

    /// The row group's times, `[min, max + 1)` in µs, from its statistics;
    /// `None` without them.
    pub fn span(&self, group: &RowGroupMetaData) -> Option<(i64, i64)> {
        let Some(Statistics::Int64(stats)) = group.column(self.leaf).statistics() else {
            return None;
        };
        let (min, max) = (*stats.min_opt()?, *stats.max_opt()?);
        // The range in µs that holds every time of the group, rounded outwards.
        let to_us = |v: i64, up: bool| -> i64 {
            match self.unit {
                TimeUnit::Second => v.saturating_mul(1_000_000),
                TimeUnit::Millisecond => v.saturating_mul(1000),
                TimeUnit::Microsecond => v,
                TimeUnit::Nanosecond if up => v.div_euclid(1000).saturating_add(1),
                TimeUnit::Nanosecond => v.div_euclid(1000),
            }
        };
        Some((to_us(min, false), to_us(max, true).saturating_add(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::parse;

    fn range(sql_where: &str) -> TimeRange {
        let sql = format!(
            "SELECT count(*) FROM input WHERE {sql_where} GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)"
        );
        let plan = parse(&sql).unwrap();
        TimeRange::of(plan.filter.as_ref(), &plan.time_field)
    }

    #[test]
    fn the_where_clause_bounds_the_time_only_through_and() {
        let t = |s: &str| TimeFormat::Auto.parse(RawTime::Text(s)).unwrap();
        let r = range("ts >= '2026-12-01T17:00:00Z' AND ts < '2026-12-01T18:00:00Z' AND x > 1");
        assert_eq!(r.lo, Some(t("2026-12-01T17:00:00Z")));
        assert_eq!(r.hi, Some(t("2026-12-01T18:00:00Z")));
        let r = range("'2026-12-01T17:00:00Z' >= ts");
        assert_eq!((r.lo, r.hi), (None, Some(t("2026-12-01T17:00:00Z") + 1)));
        assert!(range("ts >= '2026-12-01T17:00:00Z' OR x > 1").is_all());
        assert!(range("x > 1").is_all());
    }

    #[test]
    fn hive_paths_name_their_hour_day_month_or_year() {
        let p = |kv: &[(&str, &str)]| {
            let v: Vec<(String, String)> =
                kv.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
            path_span(&v)
        };
        let t = |s: &str| TimeFormat::Auto.parse(RawTime::Text(s)).unwrap();
        let hour = p(&[
            ("year", "2026"),
            ("month", "12"),
            ("day", "01"),
            ("hour", "17"),
        ]);
        assert_eq!(
            hour,
            Some((t("2026-12-01T17:00:00Z"), t("2026-12-01T18:00:00Z")))
        );
        let month = p(&[("year", "2026"), ("month", "12")]);
        assert_eq!(
            month,
            Some((t("2026-12-01T00:00:00Z"), t("2027-01-01T00:00:00Z")))
        );
        assert_eq!(p(&[("month", "12")]), None);
        assert_eq!(p(&[("year", "2026"), ("month", "13")]), None);
        assert_eq!(p(&[("year", "x")]), None);
        let r = TimeRange {
            lo: Some(t("2026-12-01T17:30:00Z")),
            hi: None,
        };
        let (s, e) = hour.unwrap();
        assert!(r.overlaps(s, e) && !r.overlaps(s - HOUR_US, e - HOUR_US));
    }
}
