//! A [`Plan`] as text, one line a part: what a query computes, for a reader
//! (and for the planner's fixture tests, which compare it with the plan
//! each `.sql` file expects).
//!
//! ```text
//! time: ts
//! window: tumble 1m
//! keys: sensor
//! aggs: #0 count(*), #1 avg(temp)
//! columns: window_start = start, window_end = end, sensor = key sensor, n = #0, avg_temp = #1
//! where: (temp IS NOT NULL)
//! having: (#0 > 1)
//! ```
//!
//! Durations are written in the largest unit that divides them (`d`, `h`,
//! `m`, `s`, `ms`, `us`); expressions are fully parenthesised, aggregates
//! named by their index.

use std::fmt;

use osprey_kernels::window::{AggFunc, WindowSpec};

use crate::plan::{AggItem, BinOp, Expr, OutputColumn, Plan};

/// A duration in microseconds in the largest unit that divides it.
fn duration(us: i64) -> String {
    for (per, unit) in [
        (86_400_000_000, "d"),
        (3_600_000_000, "h"),
        (60_000_000, "m"),
        (1_000_000, "s"),
        (1000, "ms"),
    ] {
        if us != 0 && us % per == 0 {
            return format!("{}{unit}", us / per);
        }
    }
    format!("{us}us")
}

/// Items joined with commas, or `(none)`.
fn list(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".to_owned()
    } else {
        items.join(", ")
    }
}

impl fmt::Display for AggItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let column = self.column.as_deref().unwrap_or("*");
        match self.func {
            AggFunc::Percentile(q) => write!(f, "approx_percentile({column}, {q})"),
            func => write!(f, "{}({column})", func.name()),
        }
    }
}

impl fmt::Display for BinOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BinOp::Eq => "=",
            BinOp::Ne => "<>",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::And => "AND",
            BinOp::Or => "OR",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
        })
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Column(c) => f.write_str(c),
            Expr::Agg(i) => write!(f, "#{i}"),
            Expr::Number(v) => write!(f, "{v}"),
            Expr::Text(t) => write!(f, "'{}'", t.replace('\'', "''")),
            Expr::Bool(b) => write!(f, "{b}"),
            Expr::Null => f.write_str("NULL"),
            Expr::Binary(a, op, b) => write!(f, "({a} {op} {b})"),
            Expr::Not(a) => write!(f, "(NOT {a})"),
            Expr::Neg(a) => write!(f, "(-{a})"),
            Expr::IsNull(a, false) => write!(f, "({a} IS NULL)"),
            Expr::IsNull(a, true) => write!(f, "({a} IS NOT NULL)"),
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "time: {}", self.time_field)?;
        if let Some(a) = &self.anomaly {
            let p = &a.params;
            writeln!(
                f,
                "anomaly: random cut forest of {} over {} ({} trees, sample {}, decay {}, shingle {}, seed {})",
                a.outputs
                    .iter()
                    .find(|o| matches!(o, crate::rcf::AnomalyOutput::Score(_)))
                    .map_or(crate::rcf::SCORE_COLUMN, |o| o.name()),
                list(&a.columns),
                p.trees,
                p.sample,
                p.decay,
                p.shingle,
                p.seed
            )?;
            writeln!(f, "partition by: {}", list(&self.keys))?;
            writeln!(f, "columns: {}", a.names().join(", "))?;
            if let Some(w) = &self.filter {
                writeln!(f, "where: {w}")?;
            }
            return Ok(());
        }
        match self.window {
            WindowSpec::Tumbling { size } => writeln!(f, "window: tumble {}", duration(size))?,
            WindowSpec::Hop { slide, size } => {
                writeln!(
                    f,
                    "window: hop {} every {}",
                    duration(size),
                    duration(slide)
                )?;
            }
            WindowSpec::Session { gap } => writeln!(f, "window: session gap {}", duration(gap))?,
        }
        writeln!(f, "keys: {}", list(&self.keys))?;
        let aggs: Vec<String> = self
            .aggs
            .iter()
            .enumerate()
            .map(|(i, a)| format!("#{i} {a}"))
            .collect();
        writeln!(f, "aggs: {}", list(&aggs))?;
        let columns: Vec<String> = self
            .outputs
            .iter()
            .map(|o| {
                let what = match o {
                    OutputColumn::WindowStart(_) => "start".to_owned(),
                    OutputColumn::WindowEnd(_) => "end".to_owned(),
                    OutputColumn::Key(i, _) => {
                        format!("key {}", self.keys.get(*i).map_or("?", String::as_str))
                    }
                    OutputColumn::Agg(i, _) => format!("#{i}"),
                };
                format!("{} = {what}", o.name())
            })
            .collect();
        writeln!(f, "columns: {}", columns.join(", "))?;
        if let Some(w) = &self.filter {
            writeln!(f, "where: {w}")?;
        }
        if let Some(h) = &self.having {
            writeln!(f, "having: {h}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_the_largest_unit_that_divides_them() {
        assert_eq!(duration(60_000_000), "1m");
        assert_eq!(duration(90_000_000), "90s");
        assert_eq!(duration(1500), "1500us");
        assert_eq!(duration(2000), "2ms");
        assert_eq!(duration(86_400_000_000 * 2), "2d");
        assert_eq!(duration(0), "0us");
    }
}
