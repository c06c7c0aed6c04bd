//! What an anomaly query computes ([`AnomalyPlan`]), from SQL
//! (`RANDOM_CUT_FOREST(v [, w ...] [, trees, sample, decay, shingle,
//! seed]) [OVER (PARTITION BY k)]` in the select list) or from flags
//! ([`flags_plan`]): the columns a point is made of, the forest's
//! parameters ([`Params`], Kinesis Data Analytics' defaults and ranges),
//! and the output columns, the selected input fields and `ANOMALY_SCORE`.
//!
//! An anomaly plan is a [`Plan`] whose `anomaly` is set: its `keys` are
//! the partition keys (one forest a group), its `filter` the WHERE, and its
//! `window` and `aggs` go unused, since it writes one row a record.

use osprey_kernels::window::WindowSpec;
use sqlparser::ast::{self, Expr as SqlExpr, FunctionArgExpr, SelectItem, WindowType};

use super::forest::Params;
use crate::error::{QueryError, Result};
use crate::plan::Plan;
use crate::sql::{args, bad, column_name, function_name, number, unsupported};

/// The score column's name unless the query renames it (Kinesis Data
/// Analytics' name); a Float64, null for a record with no point (a null
/// or non-finite value, or a shingle not yet full).
pub const SCORE_COLUMN: &str = "ANOMALY_SCORE";

/// The event-time field of an anomaly query from SQL, which names none
/// (a caller with a `--time-field` sets [`Plan::time_field`]).
pub const DEFAULT_TIME_FIELD: &str = "ts";

/// The SQL function's name (lowercase).
const FUNCTION: &str = "random_cut_forest";

/// One output column of an anomaly query.
#[derive(Debug, Clone, PartialEq)]
pub enum AnomalyOutput {
    /// An input field, as it came.
    Field {
        /// The input's column.
        column: String,
        /// Its name in the output.
        name: String,
    },
    /// The anomaly score.
    Score(String),
}

impl AnomalyOutput {
    /// The column's name in the output.
    pub fn name(&self) -> &str {
        match self {
            AnomalyOutput::Field { name, .. } | AnomalyOutput::Score(name) => name,
        }
    }
}

/// What an anomaly query computes.
#[derive(Debug, Clone, PartialEq)]
pub struct AnomalyPlan {
    /// The numeric columns a record's point is made of, in order.
    pub columns: Vec<String>,
    /// The forest's parameters.
    pub params: Params,
    /// The output columns, in order.
    pub outputs: Vec<AnomalyOutput>,
}

impl AnomalyPlan {
    /// The output columns' names, in order.
    pub fn names(&self) -> Vec<String> {
        self.outputs.iter().map(|o| o.name().to_owned()).collect()
    }
}

impl Params {
    /// `numberOfTrees, subSampleSize, timeDecay, shingleSize` and the seed,
    /// the leading ones given, the others at their defaults, each checked
    /// against Kinesis Data Analytics' range.
    ///
    /// # Errors
    /// [`QueryError::Usage`] naming the parameter out of range.
    pub fn from_numbers(numbers: &[f64]) -> Result<Params> {
        const NAMES: [&str; 5] = [
            "numberOfTrees",
            "subSampleSize",
            "timeDecay",
            "shingleSize",
            "seed",
        ];
        if numbers.len() > NAMES.len() {
            return Err(bad(format!(
                "RANDOM_CUT_FOREST takes at most {} numbers after its columns ({})",
                NAMES.len(),
                NAMES.join(", ")
            )));
        }
        let mut p = Params::default();
        for (i, &v) in numbers.iter().enumerate() {
            let whole = |lo: f64, hi: f64| -> Result<u64> {
                if v.fract() == 0.0 && (lo..=hi).contains(&v) {
                    Ok(v as u64)
                } else {
                    Err(QueryError::Usage(format!(
                        "RANDOM_CUT_FOREST: {} must be a whole number from {lo} to {hi}, not {v}",
                        NAMES[i]
                    )))
                }
            };
            match i {
                0 => p.trees = whole(1.0, 1000.0)? as usize,
                1 => p.sample = whole(10.0, 1000.0)? as usize,
                2 => p.decay = whole(1.0, 1e12)? as f64,
                3 => p.shingle = whole(1.0, 30.0)? as usize,
                _ => p.seed = whole(0.0, 9.007_199_254_740_992e15)?,
            }
        }
        Ok(p)
    }
}

/// A plan whose `anomaly` is `anomaly`, partitioned by `keys`.
fn anomaly_plan(time_field: &str, keys: Vec<String>, anomaly: AnomalyPlan) -> Result<Plan> {
    let plan = Plan {
        time_field: time_field.to_owned(),
        // Unused: an anomaly query writes one row a record.
        window: WindowSpec::Tumbling { size: 1 },
        keys,
        aggs: Vec::new(),
        outputs: Vec::new(),
        filter: None,
        having: None,
        join: None,
        anomaly: Some(anomaly),
    };
    plan.check_names()?;
    Ok(plan)
}

/// The plan of `--anomaly COLUMNS [--group-by KEYS]`: the output is the time
/// field, the keys, the columns and `ANOMALY_SCORE`.
///
/// # Errors
/// [`QueryError::Usage`] for no column.
pub fn flags_plan(
    time_field: &str,
    columns: &str,
    group_by: Option<&str>,
    params: Params,
) -> Result<Plan> {
    let list = |s: &str| -> Vec<String> {
        s.split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let columns = list(columns);
    if columns.is_empty() {
        return Err(QueryError::Usage("--anomaly names no column".into()));
    }
    let keys = list(group_by.unwrap_or(""));
    let mut outputs = Vec::new();
    for c in std::iter::once(time_field.to_owned())
        .chain(keys.iter().cloned())
        .chain(columns.iter().cloned())
    {
        if !outputs
            .iter()
            .any(|o: &AnomalyOutput| o.name() == c.as_str())
        {
            outputs.push(AnomalyOutput::Field {
                column: c.clone(),
                name: c,
            });
        }
    }
    outputs.push(AnomalyOutput::Score(SCORE_COLUMN.into()));
    anomaly_plan(
        time_field,
        keys,
        AnomalyPlan {
            columns,
            params,
            outputs,
        },
    )
}

/// Whether a select list calls `RANDOM_CUT_FOREST`.
pub(crate) fn selects_forest(projection: &[SelectItem]) -> bool {
    projection.iter().any(|item| {
        let e = match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e,
            _ => return false,
        };
        matches!(e, SqlExpr::Function(f) if function_name(f) == FUNCTION)
    })
}

/// The plan of a SELECT that calls `RANDOM_CUT_FOREST` (the caller has
/// checked FROM, joins and the clauses no query takes): its other items
/// are input fields, it has no GROUP BY or HAVING; WHERE is the caller's
/// to add.
pub(crate) fn sql_plan(select: &ast::Select, time_field: &str) -> Result<Plan> {
    let grouped = match &select.group_by {
        ast::GroupByExpr::Expressions(e, m) => !e.is_empty() || !m.is_empty(),
        ast::GroupByExpr::All(_) => true,
    };
    if grouped {
        return Err(unsupported(
            "GROUP BY with RANDOM_CUT_FOREST, which scores each record \
             (one forest a group: RANDOM_CUT_FOREST(v) OVER (PARTITION BY k))",
        ));
    }
    if select.having.is_some() {
        return Err(unsupported("HAVING with RANDOM_CUT_FOREST"));
    }
    let mut outputs = Vec::new();
    let mut forest: Option<(Vec<String>, Params, Vec<String>)> = None;
    for item in &select.projection {
        let (e, alias) = match item {
            SelectItem::UnnamedExpr(e) => (e, None),
            SelectItem::ExprWithAlias { expr, alias } => (expr, Some(alias.value.clone())),
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => {
                return Err(unsupported(
                    "SELECT * with RANDOM_CUT_FOREST (name the fields to write)",
                ));
            }
            other => return Err(unsupported(format!("the select item {other}"))),
        };
        match e {
            SqlExpr::Function(f) if function_name(f) == FUNCTION => {
                if forest.is_some() {
                    return Err(unsupported("more than one RANDOM_CUT_FOREST"));
                }
                forest = Some(forest_call(f)?);
                outputs.push(AnomalyOutput::Score(
                    alias.unwrap_or_else(|| SCORE_COLUMN.into()),
                ));
            }
            _ => {
                let column = column_name(e).ok_or_else(|| {
                    unsupported(format!(
                        "the expression {e} beside RANDOM_CUT_FOREST (select fields)"
                    ))
                })?;
                let name = alias.unwrap_or_else(|| column.clone());
                outputs.push(AnomalyOutput::Field { column, name });
            }
        }
    }
    let (columns, params, keys) = forest.ok_or_else(|| bad("no RANDOM_CUT_FOREST call"))?;
    anomaly_plan(
        time_field,
        keys,
        AnomalyPlan {
            columns,
            params,
            outputs,
        },
    )
}

/// `RANDOM_CUT_FOREST(v [, w ...] [, numbers]) [OVER (PARTITION BY k)]`:
/// (columns, parameters, partition keys).
fn forest_call(f: &ast::Function) -> Result<(Vec<String>, Params, Vec<String>)> {
    let mut columns = Vec::new();
    let mut numbers = Vec::new();
    for a in args(f)? {
        let FunctionArgExpr::Expr(e) = a else {
            return Err(unsupported(
                "RANDOM_CUT_FOREST(*) (name the numeric fields of the point)",
            ));
        };
        if let Some(n) = number(e) {
            numbers.push(n);
        } else if let Some(c) = column_name(e) {
            if !numbers.is_empty() {
                return Err(bad(format!(
                    "RANDOM_CUT_FOREST: the field {c} comes after the numbers \
                     (fields first, then numberOfTrees, subSampleSize, timeDecay, shingleSize, seed)"
                )));
            }
            columns.push(c);
        } else {
            return Err(unsupported(format!(
                "the expression {e} in RANDOM_CUT_FOREST (give fields, then numbers)"
            )));
        }
    }
    if columns.is_empty() {
        return Err(bad("RANDOM_CUT_FOREST needs at least one numeric field"));
    }
    let params = Params::from_numbers(&numbers)?;
    let keys = match &f.over {
        None => Vec::new(),
        Some(WindowType::WindowSpec(spec)) => {
            if spec.window_name.is_some()
                || !spec.order_by.is_empty()
                || spec.window_frame.is_some()
            {
                return Err(unsupported(
                    "OVER (...) other than PARTITION BY with RANDOM_CUT_FOREST \
                     (records are scored in the order they come)",
                ));
            }
            spec.partition_by
                .iter()
                .map(|e| {
                    column_name(e).ok_or_else(|| {
                        unsupported(format!("PARTITION BY {e} (partition by fields)"))
                    })
                })
                .collect::<Result<_>>()?
        }
        Some(WindowType::NamedWindow(n)) => {
            return Err(unsupported(format!("the named window {n}")));
        }
    };
    Ok((columns, params, keys))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql;

    #[test]
    fn sql_calls_become_anomaly_plans() {
        let plan = sql::parse(
            "SELECT ts, sensor, v AS value, \
             RANDOM_CUT_FOREST(v, w, 50, 128, 1000, 4, 7) OVER (PARTITION BY sensor) AS s \
             FROM input WHERE v IS NOT NULL",
        )
        .expect("valid");
        let a = plan.anomaly.as_ref().expect("an anomaly plan");
        assert_eq!(a.columns, ["v", "w"]);
        assert_eq!(
            a.params,
            Params {
                trees: 50,
                sample: 128,
                decay: 1000.0,
                shingle: 4,
                seed: 7
            }
        );
        assert_eq!(plan.keys, ["sensor"]);
        assert_eq!(plan.names(), ["ts", "sensor", "value", "s"]);
        assert!(plan.filter.is_some());
        let plan = sql::parse("SELECT v, RANDOM_CUT_FOREST(v) FROM input").expect("defaults");
        let a = plan.anomaly.as_ref().expect("an anomaly plan");
        assert_eq!(a.params, Params::default());
        assert!(plan.keys.is_empty());
        assert_eq!(plan.names(), ["v", SCORE_COLUMN]);
    }

    #[test]
    fn bad_calls_say_what_is_wrong() {
        let err = |q: &str| {
            sql::parse(q)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(err("SELECT RANDOM_CUT_FOREST(v, 0) FROM i").contains("numberOfTrees"));
        assert!(err("SELECT RANDOM_CUT_FOREST(v, 10, 5) FROM i").contains("subSampleSize"));
        assert!(err("SELECT RANDOM_CUT_FOREST(v, 10, 10, 1, 31) FROM i").contains("shingleSize"));
        assert!(err("SELECT RANDOM_CUT_FOREST(v, 1, 2, 3, 4, 5, 6) FROM i").contains("at most"));
        assert!(err("SELECT RANDOM_CUT_FOREST(100) FROM i").contains("at least one"));
        assert!(err("SELECT RANDOM_CUT_FOREST(v, 10, w) FROM i").contains("after the numbers"));
        assert!(err("SELECT *, RANDOM_CUT_FOREST(v) FROM i").contains("SELECT *"));
        assert!(err("SELECT k, RANDOM_CUT_FOREST(v) FROM i GROUP BY k").contains("PARTITION BY"));
        assert!(
            err("SELECT RANDOM_CUT_FOREST(v), RANDOM_CUT_FOREST(w) FROM i")
                .contains("more than one")
        );
        assert!(
            err("SELECT RANDOM_CUT_FOREST(v) OVER (ORDER BY ts) FROM i").contains("in the order")
        );
        assert!(err("SELECT v + 1, RANDOM_CUT_FOREST(v) FROM i").contains("expression"));
    }

    #[test]
    fn flags_become_anomaly_plans() {
        let plan = flags_plan("ts", "v, w", Some("sensor"), Params::default()).expect("valid");
        assert_eq!(plan.names(), ["ts", "sensor", "v", "w", SCORE_COLUMN]);
        assert_eq!(plan.keys, ["sensor"]);
        let plan = flags_plan("ts", "ts2", None, Params::default()).expect("valid");
        assert_eq!(plan.names(), ["ts", "ts2", SCORE_COLUMN]);
        assert!(flags_plan("ts", " , ", None, Params::default()).is_err());
    }
}
