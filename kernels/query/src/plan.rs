//! What one query computes, however it was asked for (flags or SQL): the windows, the keys, the aggregates and the result columns, and
//! the WHERE and HAVING filters as small expressions.

use osprey_kernels::window::{AggFunc, WindowSpec};

use crate::error::QueryError;

/// One aggregate the engine computes.
#[derive(Debug, Clone, PartialEq)]
pub struct AggItem {
    /// The function.
    pub func: AggFunc,
    /// Its column (`None` for `count(*)`).
    pub column: Option<String>,
}

impl AggItem {
    /// Its result column's name when it is not renamed: `count` for
    /// `count(*)`, else the function and the column (dots as `_`), `avg_temp`.
    pub fn default_name(&self) -> String {
        match &self.column {
            None => self.func.name(),
            Some(c) => format!("{}_{}", self.func.name(), c.replace('.', "_")),
        }
    }
}

/// One result column.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputColumn {
    /// The window's start.
    WindowStart(String),
    /// The window's end.
    WindowEnd(String),
    /// Key `index` of the GROUP BY.
    Key(usize, String),
    /// Aggregate `index` of [`Plan::aggs`].
    Agg(usize, String),
}

impl OutputColumn {
    /// The column's name in result rows.
    pub fn name(&self) -> &str {
        match self {
            OutputColumn::WindowStart(n)
            | OutputColumn::WindowEnd(n)
            | OutputColumn::Key(_, n)
            | OutputColumn::Agg(_, n) => n,
        }
    }
}

/// A literal or a column of the input (WHERE) or the result (HAVING).
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A column by name.
    Column(String),
    /// An aggregate, by its index in [`Plan::aggs`] (HAVING only).
    Agg(usize),
    /// A number.
    Number(f64),
    /// A string.
    Text(String),
    /// true / false.
    Bool(bool),
    /// NULL.
    Null,
    /// `a op b`.
    Binary(Box<Expr>, BinOp, Box<Expr>),
    /// `NOT a`.
    Not(Box<Expr>),
    /// `-a`.
    Neg(Box<Expr>),
    /// `a IS [NOT] NULL` (`true`: IS NOT NULL).
    IsNull(Box<Expr>, bool),
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `=`.
    Eq,
    /// `<>`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `AND`.
    And,
    /// `OR`.
    Or,
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/`.
    Div,
}

/// A value while an expression is evaluated.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// NULL.
    Null,
    /// A number (integers too).
    Number(f64),
    /// Text.
    Text(String),
    /// A boolean.
    Bool(bool),
}

impl Expr {
    /// Evaluates with `lookup` giving columns (and aggregates) their values;
    /// SQL's three-valued logic, NULL where a comparison cannot be made.
    pub fn eval(&self, lookup: &dyn Fn(&Expr) -> Scalar) -> Scalar {
        use Scalar as S;
        match self {
            Expr::Column(_) | Expr::Agg(_) => lookup(self),
            Expr::Number(v) => S::Number(*v),
            Expr::Text(t) => S::Text(t.clone()),
            Expr::Bool(b) => S::Bool(*b),
            Expr::Null => S::Null,
            Expr::Not(a) => match a.eval(lookup) {
                S::Bool(b) => S::Bool(!b),
                _ => S::Null,
            },
            Expr::Neg(a) => match a.eval(lookup) {
                S::Number(v) => S::Number(-v),
                _ => S::Null,
            },
            Expr::IsNull(a, negated) => {
                let null = a.eval(lookup) == S::Null;
                S::Bool(null != *negated)
            }
            Expr::Binary(a, op, b) => {
                let (x, y) = (a.eval(lookup), b.eval(lookup));
                match op {
                    BinOp::And => match (x, y) {
                        (S::Bool(false), _) | (_, S::Bool(false)) => S::Bool(false),
                        (S::Bool(true), S::Bool(true)) => S::Bool(true),
                        _ => S::Null,
                    },
                    BinOp::Or => match (x, y) {
                        (S::Bool(true), _) | (_, S::Bool(true)) => S::Bool(true),
                        (S::Bool(false), S::Bool(false)) => S::Bool(false),
                        _ => S::Null,
                    },
                    BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div => match (x, y) {
                        (S::Number(p), S::Number(q)) => S::Number(match op {
                            BinOp::Add => p + q,
                            BinOp::Sub => p - q,
                            BinOp::Mul => p * q,
                            _ => p / q,
                        }),
                        _ => S::Null,
                    },
                    _ => {
                        let ord = match (&x, &y) {
                            (S::Number(p), S::Number(q)) => p.partial_cmp(q),
                            (S::Text(p), S::Text(q)) => Some(p.cmp(q)),
                            (S::Bool(p), S::Bool(q)) => Some(p.cmp(q)),
                            _ => None,
                        };
                        let Some(ord) = ord else { return S::Null };
                        use std::cmp::Ordering::*;
                        S::Bool(match op {
                            BinOp::Eq => ord == Equal,
                            BinOp::Ne => ord != Equal,
                            BinOp::Lt => ord == Less,
                            BinOp::Le => ord != Greater,
                            BinOp::Gt => ord == Greater,
                            _ => ord != Less,
                        })
                    }
                }
            }
        }
    }

    /// The input columns the expression reads.
    pub fn columns(&self, out: &mut Vec<String>) {
        match self {
            Expr::Column(c) if !out.contains(c) => out.push(c.clone()),
            Expr::Binary(a, _, b) => {
                a.columns(out);
                b.columns(out);
            }
            Expr::Not(a) | Expr::Neg(a) | Expr::IsNull(a, _) => a.columns(out),
            _ => {}
        }
    }
}

/// A checked run.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The event-time field.
    pub time_field: String,
    /// The windows.
    pub window: WindowSpec,
    /// GROUP BY keys, in order.
    pub keys: Vec<String>,
    /// The aggregates, without repeats.
    pub aggs: Vec<AggItem>,
    /// The result columns, in order.
    pub outputs: Vec<OutputColumn>,
    /// WHERE, on input rows.
    pub filter: Option<Expr>,
    /// HAVING, on result rows (columns by output name, aggregates by index).
    pub having: Option<Expr>,
    /// A reference table joined onto the input ([`crate::join`]).
    pub join: Option<crate::join::JoinSpec>,
    /// An anomaly query ([`crate::rcf`]): one output row a record, its
    /// columns those of the anomaly plan; `window`, `aggs`, `outputs` and
    /// `having` go unused, and `keys` partition the records into forests.
    pub anomaly: Option<crate::rcf::AnomalyPlan>,
}

impl Plan {
    /// The result columns that key a result row put into a stream: the
    /// GROUP BY keys, or the window start when there are none (or none is
    /// selected), so rows spread over the shards as their groups do.
    pub fn partition_fields(&self) -> Vec<String> {
        if let Some(a) = &self.anomaly {
            // The partition keys as they are written, else the time field.
            let fields = |want: &dyn Fn(&str) -> bool| -> Vec<String> {
                a.outputs
                    .iter()
                    .filter_map(|o| match o {
                        crate::rcf::AnomalyOutput::Field { column, name } if want(column) => {
                            Some(name.clone())
                        }
                        _ => None,
                    })
                    .collect()
            };
            let keys = fields(&|c| self.keys.iter().any(|k| k == c));
            return if keys.is_empty() {
                fields(&|c| c == self.time_field)
            } else {
                keys
            };
        }
        let keys: Vec<String> = self
            .outputs
            .iter()
            .filter(|o| matches!(o, OutputColumn::Key(..)))
            .map(|o| o.name().to_owned())
            .collect();
        if !keys.is_empty() {
            return keys;
        }
        self.outputs
            .iter()
            .filter(|o| matches!(o, OutputColumn::WindowStart(_)))
            .map(|o| o.name().to_owned())
            .collect()
    }

    /// The result columns' names, in order.
    pub fn names(&self) -> Vec<String> {
        if let Some(a) = &self.anomaly {
            return a.names();
        }
        self.outputs.iter().map(|o| o.name().to_owned()).collect()
    }

    /// Adds an aggregate (or finds the same one) and returns its index.
    pub fn add_agg(&mut self, item: AggItem) -> usize {
        if let Some(i) = self.aggs.iter().position(|a| *a == item) {
            return i;
        }
        self.aggs.push(item);
        self.aggs.len() - 1
    }

    /// The plan of `--window`, `--group-by` and `--agg`.
    ///
    /// # Errors
    /// [`QueryError::Usage`] naming what cannot be used.
    pub fn from_flags(
        time_field: &str,
        window: &str,
        group_by: Option<&str>,
        aggs: &str,
    ) -> Result<Self, QueryError> {
        let window = WindowSpec::parse(window).map_err(QueryError::usage)?;
        let keys: Vec<String> = group_by
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
            .collect();
        let mut plan = Plan {
            time_field: time_field.to_owned(),
            window,
            keys: keys.clone(),
            aggs: Vec::new(),
            outputs: vec![
                OutputColumn::WindowStart("window_start".into()),
                OutputColumn::WindowEnd("window_end".into()),
            ],
            filter: None,
            having: None,
            join: None,
            anomaly: None,
        };
        for (i, k) in keys.iter().enumerate() {
            plan.outputs.push(OutputColumn::Key(i, k.clone()));
        }
        let items = split_top_level(aggs);
        if items.is_empty() {
            return Err(QueryError::Usage("--agg lists no aggregate".into()));
        }
        for item in items {
            let (call, alias) = match item.to_ascii_lowercase().rfind(" as ") {
                Some(at) => (item[..at].trim(), Some(item[at + 4..].trim().to_owned())),
                None => (item.trim(), None),
            };
            let (name, args) = call
                .split_once('(')
                .and_then(|(n, rest)| rest.strip_suffix(')').map(|a| (n.trim(), a)))
                .ok_or_else(|| {
                    QueryError::Usage(format!("aggregate {call:?} is not name(column)"))
                })?;
            let args: Vec<&str> = args.split(',').map(str::trim).collect();
            let param =
                match args.get(1) {
                    Some(p) => Some(p.parse::<f64>().map_err(|_| {
                        QueryError::Usage(format!("{call:?}: {p:?} is not a number"))
                    })?),
                    None => None,
                };
            let column = args.first().copied().unwrap_or("");
            let mut func = AggFunc::parse(name, param).map_err(QueryError::usage)?;
            let column = match (column, func) {
                ("*", AggFunc::Count) => {
                    func = AggFunc::CountStar;
                    None
                }
                ("*", _) | ("", _) => {
                    return Err(QueryError::Usage(format!("{call:?} needs a column")));
                }
                (c, _) => Some(c.to_owned()),
            };
            let item = AggItem { func, column };
            let default_name = item.default_name();
            let index = plan.add_agg(item);
            plan.outputs
                .push(OutputColumn::Agg(index, alias.unwrap_or(default_name)));
        }
        plan.check_names()?;
        Ok(plan)
    }

    /// Result column names must be unique.
    pub fn check_names(&self) -> Result<(), QueryError> {
        let names = self.names();
        for (i, o) in names.iter().enumerate() {
            if names[..i].contains(o) {
                return Err(QueryError::Usage(format!(
                    "two result columns are named {o:?}; rename one with AS"
                )));
            }
        }
        Ok(())
    }
}

/// Splits `a(b, c), d` at the commas outside parentheses.
pub fn split_top_level(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, ch) in s.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(s[start..].trim());
    out.retain(|p| !p.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_become_a_plan() {
        let plan = Plan::from_flags(
            "ts",
            "tumbling:1m",
            Some("sensor, site"),
            "count(*), avg(temp), approx_percentile(temp, 0.9) as p, p99(temp), avg(temp) as again",
        )
        .expect("valid");
        assert_eq!(plan.keys, ["sensor", "site"]);
        assert_eq!(plan.aggs.len(), 4, "avg(temp) twice is one aggregate");
        let names: Vec<&str> = plan.outputs.iter().map(OutputColumn::name).collect();
        assert_eq!(
            names,
            [
                "window_start",
                "window_end",
                "sensor",
                "site",
                "count",
                "avg_temp",
                "p",
                "p99_temp",
                "again"
            ]
        );
    }

    #[test]
    fn bad_flags_say_what_is_wrong() {
        let err = |w: &str, a: &str| {
            Plan::from_flags("ts", w, None, a)
                .err()
                .map(|e| e.to_string())
        };
        assert!(err("tumbling:1m", "median(x)").is_some_and(|e| e.contains("unknown aggregate")));
        assert!(err("tumbling:1m", "avg").is_some_and(|e| e.contains("name(column)")));
        assert!(err("tumbling:1m", "sum(*)").is_some_and(|e| e.contains("needs a column")));
        assert!(err("daily", "count(*)").is_some_and(|e| e.contains("window")));
        assert!(
            err("tumbling:1m", "avg(x), max(x) as avg_x")
                .is_some_and(|e| e.contains("two result columns"))
        );
    }

    #[test]
    fn expressions_use_three_valued_logic() {
        let e = Expr::Binary(
            Box::new(Expr::Binary(
                Box::new(Expr::Column("t".into())),
                BinOp::Gt,
                Box::new(Expr::Number(1.0)),
            )),
            BinOp::Or,
            Box::new(Expr::IsNull(Box::new(Expr::Column("t".into())), false)),
        );
        let with = |v: Scalar| move |_: &Expr| v.clone();
        assert_eq!(e.eval(&with(Scalar::Number(2.0))), Scalar::Bool(true));
        assert_eq!(e.eval(&with(Scalar::Number(0.0))), Scalar::Bool(false));
        assert_eq!(e.eval(&with(Scalar::Null)), Scalar::Bool(true));
        let and = Expr::Binary(Box::new(Expr::Null), BinOp::And, Box::new(Expr::Bool(true)));
        assert_eq!(and.eval(&with(Scalar::Null)), Scalar::Null);
    }
}
