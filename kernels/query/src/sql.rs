//! Streaming SQL in the style of Kinesis Data Analytics, parsed with the
//! `sqlparser` crate into a [`Plan`]:
//!
//! ```sql
//! SELECT sensor, COUNT(*) AS n, AVG(temp), APPROX_PERCENTILE(temp, 0.99) AS p99
//! FROM input
//! WHERE temp IS NOT NULL AND site = 'north'
//! GROUP BY sensor, TUMBLE(ts, INTERVAL '1' MINUTE)
//! HAVING COUNT(*) > 10
//! ```
//!
//! The window is one of `TUMBLE(ts, size)`, `HOP(ts, slide, size)` and
//! `SESSION(ts, gap)` in GROUP BY, its first argument the event-time field;
//! `window_start` and `window_end` (or `TUMBLE_START(..)`/`TUMBLE_END(..)`
//! and the HOP/SESSION ones) select its bounds; `JOIN ref ON ...` joins a
//! reference table bound by name ([`parse_with`], [`crate::join`]).
//! `RANDOM_CUT_FOREST(v, ...) [OVER (PARTITION BY k)]` in the select list
//! makes an anomaly query instead, one row a record, without GROUP BY
//! ([`crate::rcf::plan`]). Anything else (stream joins,
//! ORDER BY, LIMIT, DISTINCT, subqueries, window functions, expressions over
//! aggregates in SELECT) is refused with an error that names it.

use osprey_kernels::window::{AggFunc, WindowSpec};
use sqlparser::ast::{
    self, BinaryOperator, DateTimeField, Expr as SqlExpr, FunctionArg, FunctionArgExpr,
    FunctionArguments, GroupByExpr, SelectItem, SetExpr, Statement, UnaryOperator, Value,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

use crate::error::{QueryError, Result};
use crate::plan::{AggItem, BinOp, Expr, OutputColumn, Plan};

pub(crate) fn unsupported(what: impl std::fmt::Display) -> QueryError {
    QueryError::Usage(format!("unsupported in osprey's SQL: {what}"))
}

pub(crate) fn bad(what: impl std::fmt::Display) -> QueryError {
    QueryError::Usage(format!("invalid query: {what}"))
}

pub(crate) fn function_name(f: &ast::Function) -> String {
    f.name.to_string().to_ascii_lowercase()
}

/// The plain arguments of a call.
pub(crate) fn args(f: &ast::Function) -> Result<Vec<&FunctionArgExpr>> {
    match &f.args {
        FunctionArguments::None => Ok(Vec::new()),
        FunctionArguments::Subquery(_) => Err(unsupported("a subquery as a function argument")),
        FunctionArguments::List(list) => {
            if list.duplicate_treatment.is_some() {
                return Err(unsupported(format!(
                    "DISTINCT in {} (use approx_count_distinct)",
                    f.name
                )));
            }
            if !list.clauses.is_empty() {
                return Err(unsupported(format!("clauses inside {}(...)", f.name)));
            }
            list.args
                .iter()
                .map(|a| match a {
                    FunctionArg::Unnamed(e) => Ok(e),
                    _ => Err(unsupported(format!("named arguments in {}", f.name))),
                })
                .collect()
        }
    }
}

pub(crate) fn column_name(e: &SqlExpr) -> Option<String> {
    match e {
        SqlExpr::Identifier(i) => Some(i.value.clone()),
        SqlExpr::CompoundIdentifier(parts) => Some(
            parts
                .iter()
                .map(|p| p.value.as_str())
                .collect::<Vec<_>>()
                .join("."),
        ),
        _ => None,
    }
}

pub(crate) fn number(e: &SqlExpr) -> Option<f64> {
    match e {
        SqlExpr::Value(v) => match &v.value {
            Value::Number(n, _) => n.parse().ok(),
            Value::SingleQuotedString(s) => s.trim().parse().ok(),
            _ => None,
        },
        SqlExpr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => number(expr).map(|v| -v),
        _ => None,
    }
}

/// `INTERVAL '1' MINUTE`, `INTERVAL '30 seconds'`, or a string like `'1m'`.
fn interval(e: &SqlExpr) -> Result<i64> {
    let us = |v: f64, unit: &str| -> Result<i64> {
        let per = match unit.trim().to_ascii_lowercase().as_str() {
            "us" | "microsecond" | "microseconds" => 1.0,
            "ms" | "millisecond" | "milliseconds" => 1e3,
            "" | "s" | "sec" | "second" | "seconds" => 1e6,
            "m" | "min" | "minute" | "minutes" => 60e6,
            "h" | "hour" | "hours" => 3600e6,
            "d" | "day" | "days" => 86_400e6,
            other => return Err(unsupported(format!("the interval unit {other:?}"))),
        };
        let total = (v * per).round();
        if (1.0..1e17).contains(&total) {
            Ok(total as i64)
        } else {
            Err(bad(format!("an interval of {v} {unit} is out of range")))
        }
    };
    match e {
        SqlExpr::Interval(i) => {
            let text = match i.value.as_ref() {
                SqlExpr::Value(v) => match &v.value {
                    Value::SingleQuotedString(s) | Value::Number(s, _) => s.clone(),
                    other => return Err(bad(format!("interval value {other}"))),
                },
                other => return Err(bad(format!("interval value {other}"))),
            };
            match &i.leading_field {
                Some(field) => {
                    let v: f64 = text
                        .trim()
                        .parse()
                        .map_err(|_| bad(format!("interval {text:?}")))?;
                    let unit = match field {
                        DateTimeField::Microsecond | DateTimeField::Microseconds => "microsecond",
                        DateTimeField::Millisecond | DateTimeField::Milliseconds => "millisecond",
                        DateTimeField::Second | DateTimeField::Seconds => "second",
                        DateTimeField::Minute | DateTimeField::Minutes => "minute",
                        DateTimeField::Hour | DateTimeField::Hours => "hour",
                        DateTimeField::Day | DateTimeField::Days => "day",
                        other => return Err(unsupported(format!("the interval unit {other}"))),
                    };
                    us(v, unit)
                }
                None => {
                    let t = text.trim();
                    let split = t
                        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                        .unwrap_or(t.len());
                    let v: f64 = t[..split]
                        .parse()
                        .map_err(|_| bad(format!("interval {text:?}")))?;
                    us(v, &t[split..])
                }
            }
        }
        SqlExpr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => {
                osprey_kernels::window::parse_duration(s).map_err(|e| bad(e.to_string()))
            }
            Value::Number(n, _) => {
                let v: f64 = n.parse().map_err(|_| bad(format!("interval {n}")))?;
                us(v, "second")
            }
            other => Err(bad(format!("{other} is not an interval"))),
        },
        other => Err(bad(format!("{other} is not an interval"))),
    }
}

/// The window of a GROUP BY item, with its time field, if it is one.
fn window_of(e: &SqlExpr) -> Result<Option<(String, WindowSpec)>> {
    let SqlExpr::Function(f) = e else {
        return Ok(None);
    };
    let name = function_name(f);
    if !matches!(name.as_str(), "tumble" | "hop" | "session") {
        return Ok(None);
    }
    let a = args(f)?;
    let expr = |i: usize| -> Result<&SqlExpr> {
        match a.get(i) {
            Some(FunctionArgExpr::Expr(e)) => Ok(e),
            _ => Err(bad(format!(
                "{}: argument {} is missing",
                name.to_uppercase(),
                i + 1
            ))),
        }
    };
    let time = column_name(expr(0)?).ok_or_else(|| {
        bad(format!(
            "{}: the first argument must be the time field",
            name.to_uppercase()
        ))
    })?;
    let spec = match (name.as_str(), a.len()) {
        ("tumble", 2) => WindowSpec::Tumbling {
            size: interval(expr(1)?)?,
        },
        ("hop", 3) => WindowSpec::Hop {
            slide: interval(expr(1)?)?,
            size: interval(expr(2)?)?,
        },
        ("session", 2) => WindowSpec::Session {
            gap: interval(expr(1)?)?,
        },
        (_, n) => {
            return Err(bad(format!(
                "{} takes {} arguments, not {n}",
                name.to_uppercase(),
                if name == "hop" { 3 } else { 2 }
            )));
        }
    };
    spec.validate().map_err(|e| bad(e.to_string()))?;
    Ok(Some((time, spec)))
}

/// An aggregate call, if `f` is one.
fn aggregate_of(f: &ast::Function) -> Result<Option<AggItem>> {
    let name = function_name(f);
    let a = args(f)?;
    let first = a.first();
    let star = matches!(first, Some(FunctionArgExpr::Wildcard));
    let param = match a.get(1) {
        Some(FunctionArgExpr::Expr(e)) => {
            Some(number(e).ok_or_else(|| bad(format!("{name}: {e} is not a number")))?)
        }
        Some(_) => return Err(bad(format!("{name}: bad second argument"))),
        None => None,
    };
    let func = match AggFunc::parse(&name, param) {
        Ok(f) => f,
        // A known aggregate with a bad argument (a fraction out of [0, 1]):
        // say so, as the flags do, rather than call it an unknown function.
        Err(e) if AggFunc::parse(&name, Some(0.5)).is_ok() => return Err(bad(e)),
        Err(_) => return Ok(None),
    };
    if a.len() > 2 || (a.len() == 2 && !matches!(func, AggFunc::Percentile(_))) {
        return Err(bad(format!(
            "{name} takes {} argument(s)",
            if matches!(func, AggFunc::Percentile(_)) {
                2
            } else {
                1
            }
        )));
    }
    if star {
        return match func {
            AggFunc::Count => Ok(Some(AggItem {
                func: AggFunc::CountStar,
                column: None,
            })),
            _ => Err(bad(format!("{name}(*) needs a column"))),
        };
    }
    let column = match first {
        Some(FunctionArgExpr::Expr(e)) => column_name(e).ok_or_else(|| {
            unsupported(format!(
                "an expression as the argument of {name} ({e}); aggregate a column"
            ))
        })?,
        _ => return Err(bad(format!("{name} needs a column"))),
    };
    Ok(Some(AggItem {
        func,
        column: Some(column),
    }))
}

fn bin_op(op: &BinaryOperator) -> Result<BinOp> {
    Ok(match op {
        BinaryOperator::Eq => BinOp::Eq,
        BinaryOperator::NotEq => BinOp::Ne,
        BinaryOperator::Lt => BinOp::Lt,
        BinaryOperator::LtEq => BinOp::Le,
        BinaryOperator::Gt => BinOp::Gt,
        BinaryOperator::GtEq => BinOp::Ge,
        BinaryOperator::And => BinOp::And,
        BinaryOperator::Or => BinOp::Or,
        BinaryOperator::Plus => BinOp::Add,
        BinaryOperator::Minus => BinOp::Sub,
        BinaryOperator::Multiply => BinOp::Mul,
        BinaryOperator::Divide => BinOp::Div,
        other => return Err(unsupported(format!("the operator {other}"))),
    })
}

/// A WHERE or HAVING expression; `aggs` is set for HAVING, where aggregate
/// calls become [`Expr::Agg`].
fn expr(e: &SqlExpr, plan: &mut Plan, having: bool) -> Result<Expr> {
    Ok(match e {
        SqlExpr::Identifier(_) | SqlExpr::CompoundIdentifier(_) => {
            Expr::Column(column_name(e).unwrap_or_default())
        }
        SqlExpr::Value(v) => match &v.value {
            Value::Number(n, _) => Expr::Number(n.parse().map_err(|_| bad(format!("number {n}")))?),
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => Expr::Text(s.clone()),
            Value::Boolean(b) => Expr::Bool(*b),
            Value::Null => Expr::Null,
            other => return Err(unsupported(format!("the literal {other}"))),
        },
        SqlExpr::Nested(inner) => expr(inner, plan, having)?,
        SqlExpr::BinaryOp { left, op, right } => Expr::Binary(
            Box::new(expr(left, plan, having)?),
            bin_op(op)?,
            Box::new(expr(right, plan, having)?),
        ),
        SqlExpr::UnaryOp {
            op: UnaryOperator::Not,
            expr: inner,
        } => Expr::Not(Box::new(expr(inner, plan, having)?)),
        SqlExpr::UnaryOp {
            op: UnaryOperator::Minus,
            expr: inner,
        } => Expr::Neg(Box::new(expr(inner, plan, having)?)),
        SqlExpr::IsNull(inner) => Expr::IsNull(Box::new(expr(inner, plan, having)?), false),
        SqlExpr::IsNotNull(inner) => Expr::IsNull(Box::new(expr(inner, plan, having)?), true),
        SqlExpr::Between {
            expr: x,
            negated,
            low,
            high,
        } => {
            let x = expr(x, plan, having)?;
            let both = Expr::Binary(
                Box::new(Expr::Binary(
                    Box::new(x.clone()),
                    BinOp::Ge,
                    Box::new(expr(low, plan, having)?),
                )),
                BinOp::And,
                Box::new(Expr::Binary(
                    Box::new(x),
                    BinOp::Le,
                    Box::new(expr(high, plan, having)?),
                )),
            );
            if *negated {
                Expr::Not(Box::new(both))
            } else {
                both
            }
        }
        SqlExpr::In {
            expr: x,
            target,
            negated,
            ..
        } => {
            let ast::InTarget::List(list) = target else {
                return Err(unsupported("IN with a subquery or a table"));
            };
            let x = expr(x, plan, having)?;
            let mut any: Option<Expr> = None;
            for item in list {
                let eq = Expr::Binary(
                    Box::new(x.clone()),
                    BinOp::Eq,
                    Box::new(expr(item, plan, having)?),
                );
                any = Some(match any {
                    None => eq,
                    Some(prev) => Expr::Binary(Box::new(prev), BinOp::Or, Box::new(eq)),
                });
            }
            let any = any.unwrap_or(Expr::Bool(false));
            if *negated {
                Expr::Not(Box::new(any))
            } else {
                any
            }
        }
        SqlExpr::Function(f) if having => match aggregate_of(f)? {
            Some(item) => Expr::Agg(plan.add_agg(item)),
            None => return Err(unsupported(format!("the function {} in HAVING", f.name))),
        },
        SqlExpr::Function(f) => {
            return Err(unsupported(format!(
                "the function {} in WHERE (aggregates belong in HAVING)",
                f.name
            )));
        }
        other => return Err(unsupported(format!("the expression {other}"))),
    })
}

/// Parses a query into a plan.
///
/// # Errors
/// [`QueryError::Usage`]: a syntax error, or the construct osprey does not support.
pub fn parse(query: &str) -> Result<Plan> {
    parse_with(query, &[])
}

/// Parses a query that may join one of `references`, names bound to
/// reference tables ([`crate::join`]).
///
/// # Errors
/// As [`parse`]; a join with any other name is refused.
pub fn parse_with(query: &str, references: &[String]) -> Result<Plan> {
    let statements =
        Parser::parse_sql(&GenericDialect {}, query).map_err(|e| bad(e.to_string()))?;
    let [Statement::Query(q)] = statements.as_slice() else {
        return Err(unsupported(if statements.len() == 1 {
            "statements other than SELECT".to_owned()
        } else {
            format!("{} statements (give one SELECT)", statements.len())
        }));
    };
    if q.with.is_some() {
        return Err(unsupported("WITH"));
    }
    if q.order_by.is_some() {
        return Err(unsupported("ORDER BY (results come in window order)"));
    }
    if q.limit_clause.is_some() || q.fetch.is_some() {
        return Err(unsupported("LIMIT / FETCH"));
    }
    let select = match q.body.as_ref() {
        SetExpr::Select(s) => s,
        SetExpr::SetOperation { op, .. } => return Err(unsupported(format!("{op}"))),
        other => return Err(unsupported(format!("a query body like {other}"))),
    };
    if select.distinct.is_some() {
        return Err(unsupported("SELECT DISTINCT"));
    }
    if select.top.is_some() {
        return Err(unsupported("TOP"));
    }
    let join = match select.from.as_slice() {
        [one] => crate::join::from_clause(one, references)?,
        [] => return Err(bad("FROM is missing (FROM input)")),
        _ => return Err(unsupported("several streams in FROM")),
    };
    if select.qualify.is_some() || !select.named_window.is_empty() {
        return Err(unsupported("QUALIFY / WINDOW clauses"));
    }
    if select.prewhere.is_some() || !select.lateral_views.is_empty() || !select.sort_by.is_empty() {
        return Err(unsupported("PREWHERE, LATERAL VIEW or SORT BY"));
    }

    if crate::rcf::plan::selects_forest(&select.projection) {
        let mut plan = crate::rcf::plan::sql_plan(select, crate::rcf::plan::DEFAULT_TIME_FIELD)?;
        if let Some(w) = &select.selection {
            plan.filter = Some(expr(w, &mut plan, false)?);
        }
        if let Some(join) = join {
            crate::join::resolve(&mut plan, &join);
            plan.join = Some(join);
        }
        plan.check_names()?;
        return Ok(plan);
    }

    // GROUP BY: keys and exactly one window.
    let group_exprs = match &select.group_by {
        GroupByExpr::Expressions(exprs, modifiers) if modifiers.is_empty() => exprs,
        GroupByExpr::Expressions(..) => {
            return Err(unsupported("GROUP BY modifiers (ROLLUP, CUBE, ...)"));
        }
        GroupByExpr::All(_) => return Err(unsupported("GROUP BY ALL")),
    };
    let mut window = None;
    let mut keys = Vec::new();
    for g in group_exprs {
        if let Some(w) = window_of(g)? {
            if window.is_some() {
                return Err(bad("GROUP BY has more than one window"));
            }
            window = Some(w);
        } else if let Some(k) = column_name(g) {
            keys.push(k);
        } else {
            return Err(unsupported(format!(
                "GROUP BY {g} (group by columns and one TUMBLE, HOP or SESSION)"
            )));
        }
    }
    let (time_field, window) = window.ok_or_else(|| {
        bad("GROUP BY needs a window: TUMBLE(ts, INTERVAL '1' MINUTE), HOP(ts, slide, size) or SESSION(ts, gap)")
    })?;
    let mut plan = Plan {
        time_field,
        window,
        keys: keys.clone(),
        aggs: Vec::new(),
        outputs: Vec::new(),
        filter: None,
        having: None,
        join: None,
        anomaly: None,
    };

    for item in &select.projection {
        let (e, alias) = match item {
            SelectItem::UnnamedExpr(e) => (e, None),
            SelectItem::ExprWithAlias { expr, alias } => (expr, Some(alias.value.clone())),
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => {
                return Err(unsupported("SELECT * (name the keys and aggregates)"));
            }
            other => return Err(unsupported(format!("the select item {other}"))),
        };
        let out = match e {
            SqlExpr::Function(f) => {
                let name = function_name(f);
                if let Some(bound) = name
                    .strip_suffix("_start")
                    .or_else(|| name.strip_suffix("_end"))
                    && matches!(bound, "tumble" | "hop" | "session")
                {
                    let label = alias.unwrap_or_else(|| {
                        if name.ends_with("_start") {
                            "window_start".into()
                        } else {
                            "window_end".into()
                        }
                    });
                    if name.ends_with("_start") {
                        OutputColumn::WindowStart(label)
                    } else {
                        OutputColumn::WindowEnd(label)
                    }
                } else if let Some(item) = aggregate_of(f)? {
                    let default = item.default_name();
                    let i = plan.add_agg(item);
                    OutputColumn::Agg(i, alias.unwrap_or(default))
                } else {
                    return Err(unsupported(format!("the function {} in SELECT", f.name)));
                }
            }
            _ => match column_name(e) {
                Some(c) if c.eq_ignore_ascii_case("window_start") => {
                    OutputColumn::WindowStart(alias.unwrap_or_else(|| "window_start".into()))
                }
                Some(c) if c.eq_ignore_ascii_case("window_end") => {
                    OutputColumn::WindowEnd(alias.unwrap_or_else(|| "window_end".into()))
                }
                Some(c) => {
                    let i = keys.iter().position(|k| *k == c).ok_or_else(|| {
                        bad(format!(
                            "{c} is selected but neither grouped by nor aggregated"
                        ))
                    })?;
                    OutputColumn::Key(i, alias.unwrap_or(c))
                }
                None => {
                    return Err(unsupported(format!(
                        "the expression {e} in SELECT (select keys and aggregates)"
                    )));
                }
            },
        };
        plan.outputs.push(out);
    }
    // Every result row says which window it is.
    if !plan
        .outputs
        .iter()
        .any(|o| matches!(o, OutputColumn::WindowEnd(_)))
    {
        plan.outputs
            .insert(0, OutputColumn::WindowEnd("window_end".into()));
    }
    if !plan
        .outputs
        .iter()
        .any(|o| matches!(o, OutputColumn::WindowStart(_)))
    {
        plan.outputs
            .insert(0, OutputColumn::WindowStart("window_start".into()));
    }
    if let Some(w) = &select.selection {
        plan.filter = Some(expr(w, &mut plan, false)?);
    }
    if let Some(h) = &select.having {
        plan.having = Some(expr(h, &mut plan, true)?);
    }
    if let Some(join) = join {
        crate::join::resolve(&mut plan, &join);
        plan.join = Some(join);
    }
    plan.check_names()?;
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use osprey_kernels::window::spec::SECOND;

    use super::*;

    fn err(q: &str) -> String {
        parse(q).err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn a_fraction_out_of_range_is_named() {
        let e = err(
            "SELECT approx_percentile(temp, 1.5) FROM t GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)",
        );
        assert!(e.contains("between 0 and 1"), "{e}");
    }

    #[test]
    fn kinesis_style_queries() {
        let plan = parse(
            "SELECT sensor, COUNT(*) AS n, AVG(temp), APPROX_PERCENTILE(temp, 0.99) AS p99 \
             FROM input WHERE temp IS NOT NULL AND site IN ('a', 'b') \
             GROUP BY sensor, TUMBLE(ts, INTERVAL '1' MINUTE) HAVING COUNT(*) > 1",
        )
        .expect("valid");
        assert_eq!(plan.time_field, "ts");
        assert_eq!(plan.window, WindowSpec::Tumbling { size: 60 * SECOND });
        assert_eq!(plan.keys, ["sensor"]);
        let names: Vec<&str> = plan.outputs.iter().map(OutputColumn::name).collect();
        assert_eq!(
            names,
            [
                "window_start",
                "window_end",
                "sensor",
                "n",
                "avg_temp",
                "p99"
            ]
        );
        assert!(plan.filter.is_some() && plan.having.is_some());
        let plan = parse(
            "SELECT COUNT(*) FROM s GROUP BY HOP(t, INTERVAL '10' SECOND, INTERVAL '1' MINUTE)",
        )
        .expect("hop");
        assert_eq!(
            plan.window,
            WindowSpec::Hop {
                slide: 10 * SECOND,
                size: 60 * SECOND
            }
        );
        let plan = parse("SELECT k, SUM(v) FROM s GROUP BY k, SESSION(t, INTERVAL '30' SECOND)")
            .expect("session");
        assert_eq!(plan.window, WindowSpec::Session { gap: 30 * SECOND });
    }

    #[test]
    fn unsupported_constructs_are_named() {
        assert!(err("SELECT COUNT(*) FROM a JOIN b ON a.x = b.x GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)").contains("JOIN"));
        assert!(
            err("SELECT COUNT(*) FROM a GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE) ORDER BY 1")
                .contains("ORDER BY")
        );
        assert!(
            err("SELECT COUNT(*) FROM a GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE) LIMIT 3")
                .contains("LIMIT")
        );
        assert!(
            err("SELECT COUNT(DISTINCT x) FROM a GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)")
                .contains("DISTINCT")
        );
        assert!(
            err("SELECT * FROM a GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)").contains("SELECT *")
        );
        assert!(err("SELECT COUNT(*) FROM a GROUP BY k").contains("needs a window"));
        assert!(
            err("SELECT MEDIAN(x) FROM a GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)")
                .contains("MEDIAN")
        );
        assert!(
            err("SELECT x FROM a GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)")
                .contains("neither grouped")
        );
        assert!(
            err("SELECT AVG(x + 1) FROM a GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)")
                .contains("expression")
        );
        assert!(err("DELETE FROM a").contains("other than SELECT"));
        assert!(err("SELEC").starts_with("invalid query"));
    }
}
