//! Arrow batches into the engine's columns: event times in microseconds, key
//! tuples as dense group ids, value columns as f64 with validity bitmaps, and
//! 64-bit hashes for `approx_count_distinct`.
//!
//! Rows without a usable event time are split off with their reason; WHERE
//! runs here, on the input rows, before anything else. Its comparisons are
//! checked against the batch's column types first, as DuckDB binds them: a
//! number compared with text that is not a number is an error, not a
//! comparison that is never true.
//!
//! Event times are read from timestamp, date, numeric and text columns
//! (plain or dictionary-encoded, as Parquet files hold them).

use std::hash::Hasher as _;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Float64Array, RecordBatch};
use arrow::compute::{cast, filter_record_batch};
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimeUnit};
use osprey_ingest::chunk::TimeFormat;
use osprey_ingest::chunk::time::RawTime;
use osprey_kernels::window::keys::KeyValue;
use osprey_kernels::window::{GroupIndex, KeyDictionary};

use crate::cells::rfc3339;
use crate::error::{QueryError, Result};
use crate::plan::{BinOp, Expr, Scalar};

/// Which columns of the input the engine reads.
#[derive(Debug, Clone)]
pub struct ColumnPlan {
    /// The event-time field.
    pub time: String,
    /// GROUP BY keys.
    pub keys: Vec<String>,
    /// Value columns (percentile columns first).
    pub values: Vec<String>,
    /// Hashed columns.
    pub hashed: Vec<String>,
    /// WHERE.
    pub filter: Option<Expr>,
    /// How string or numeric times are read.
    pub time_format: TimeFormat,
}

/// One batch, converted.
#[derive(Debug, Default)]
pub struct Converted {
    /// For each row that went in (after WHERE and without the refused
    /// ones), its row in the batch given to convert.
    pub rows: Vec<usize>,
    /// Event times.
    pub ts: Vec<i64>,
    /// Group ids.
    pub groups: Vec<u32>,
    /// Value columns as Float64 arrays.
    pub values: Vec<Float64Array>,
    /// Their validity bitmaps.
    pub valid: Vec<Option<Vec<u32>>>,
    /// Hashed columns.
    pub hashes: Vec<Vec<u64>>,
    /// Their validity bitmaps.
    pub hash_valid: Vec<Option<Vec<u32>>>,
    /// Refused rows: (row in the batch given to convert, reason).
    pub refused: Vec<(usize, String)>,
}

/// The converter, holding the key dictionaries across batches.
#[derive(Debug)]
pub struct Converter {
    plan: ColumnPlan,
    /// One dictionary a key.
    pub dicts: Vec<KeyDictionary>,
    /// Key tuples to groups (two or more keys).
    pub groups: GroupIndex,
    /// Per key column, the values of the last dictionary-encoded batch and
    /// their ids: a Parquet reader hands on one dictionary for every batch
    /// of a column chunk, so its values are looked up once, not once a
    /// batch. The array is held, so its address is not another's.
    tables: Vec<Option<(ArrayRef, Vec<u32>)>>,
}

/// The column `name` of `batch`.
fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef> {
    batch.column_by_name(name).ok_or_else(|| {
        let known: Vec<String> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        QueryError::Usage(format!(
            "the input has no field {name:?} (fields: {})",
            known.join(", ")
        ))
    })
}

/// A bitmap of Arrow's validity, in `u32` words; `None` when all are valid.
fn bitmap(array: &dyn Array) -> Option<Vec<u32>> {
    let nulls = array.logical_nulls()?;
    if nulls.null_count() == 0 {
        return None;
    }
    let mut words = vec![0u32; array.len().div_ceil(32)];
    for (i, valid) in nulls.iter().enumerate() {
        if valid {
            words[i / 32] |= 1 << (i % 32);
        }
    }
    Some(words)
}

/// SplitMix64's finaliser: spreads a hash's bits for HyperLogLog.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// SipHash-1-3 with std's fixed keys: the same in every run, and well spread
/// (the multiplicative key hasher is not, for HyperLogLog's top bits).
fn hash_bytes(b: &[u8]) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    h.write(b);
    mix(h.finish())
}

/// Renders row `row` of `batch` as a JSON object: times as RFC 3339,
/// numbers and booleans as themselves, the rest as text. For records that
/// have no text of their own (Parquet rows).
pub fn row_json(batch: &RecordBatch, row: usize) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for (field, col) in batch.schema().fields().iter().zip(batch.columns()) {
        let v = if col.is_null(row) {
            serde_json::Value::Null
        } else if let DataType::Timestamp(unit, _) = col.data_type() {
            // Named time zones need chrono-tz in Arrow's formatter; times are UTC here.
            let per = match unit {
                TimeUnit::Second => 1_000_000,
                TimeUnit::Millisecond => 1000,
                TimeUnit::Microsecond => 1,
                TimeUnit::Nanosecond => 0,
            };
            match cast(col, &DataType::Int64) {
                Ok(a) => {
                    let v = a.as_primitive::<Int64Type>().value(row);
                    let us = if per == 0 {
                        v / 1000
                    } else {
                        v.saturating_mul(per)
                    };
                    serde_json::Value::String(rfc3339(us))
                }
                Err(_) => serde_json::Value::Null,
            }
        } else {
            match scalar(col, row) {
                Scalar::Bool(b) => serde_json::Value::Bool(b),
                Scalar::Number(n) if col.data_type().is_integer() => {
                    serde_json::Value::from(n as i64)
                }
                Scalar::Number(n) => serde_json::Number::from_f64(n)
                    .map_or_else(|| serde_json::Value::String(n.to_string()), Into::into),
                Scalar::Text(t) => serde_json::Value::String(t),
                Scalar::Null => serde_json::Value::Null,
            }
        };
        map.insert(field.name().clone(), v);
    }
    serde_json::Value::Object(map)
}

/// What a column holds, for checking WHERE's comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Number,
    Text,
    Time(TimeUnit),
    Other,
}

fn kind_of(t: &DataType) -> Kind {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Kind::Text,
        DataType::Dictionary(_, v) if kind_of(v) == Kind::Text => Kind::Text,
        DataType::Timestamp(unit, _) => Kind::Time(*unit),
        t if t.is_numeric() => Kind::Number,
        _ => Kind::Other,
    }
}

fn op_sql(op: BinOp) -> &'static str {
    match op {
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
    }
}

/// WHERE with its comparisons of a column with a literal checked against
/// the column's type in `batch`, as DuckDB binds them: text that reads as a
/// number (or, for a time column, as a time) becomes one; text that does
/// not, or a number compared with a text column, is an error.
///
/// # Errors
/// [`QueryError::Usage`] naming the comparison.
fn bind(expr: &Expr, batch: &RecordBatch) -> Result<Expr> {
    Ok(match expr {
        Expr::Binary(a, op, b)
            if !matches!(
                op,
                BinOp::And | BinOp::Or | BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div
            ) =>
        {
            let (a, b) = (bind(a, batch)?, bind(b, batch)?);
            let (column, literal, column_first) = match (&a, &b) {
                (Expr::Column(c), l) => (c, l, true),
                (l, Expr::Column(c)) => (c, l, false),
                _ => return Ok(Expr::Binary(Box::new(a), *op, Box::new(b))),
            };
            let Some(array) = batch.column_by_name(column) else {
                return Ok(Expr::Binary(Box::new(a), *op, Box::new(b)));
            };
            let fail = |what: &str, lit: &str| {
                QueryError::Usage(format!(
                    "WHERE {column} {} {lit}: cannot compare {column}, {what}, with {lit}",
                    op_sql(*op)
                ))
            };
            let bound = match (kind_of(array.data_type()), literal) {
                (Kind::Number, Expr::Text(t)) => match t.trim().parse::<f64>() {
                    Ok(v) => Expr::Number(v),
                    Err(_) => return Err(fail("a number", &format!("'{t}'"))),
                },
                (Kind::Time(unit), Expr::Text(t)) => {
                    match TimeFormat::Auto.parse(RawTime::Text(t)) {
                        Ok(us) => Expr::Number(match unit {
                            TimeUnit::Second => us.div_euclid(1_000_000) as f64,
                            TimeUnit::Millisecond => us.div_euclid(1000) as f64,
                            TimeUnit::Microsecond => us as f64,
                            TimeUnit::Nanosecond => us as f64 * 1000.0,
                        }),
                        Err(_) => return Err(fail("a time", &format!("'{t}'"))),
                    }
                }
                (Kind::Text, Expr::Number(v)) => {
                    return Err(fail("text", &format!("the number {v}")));
                }
                (_, l) => l.clone(),
            };
            let col = Box::new(Expr::Column(column.clone()));
            if column_first {
                Expr::Binary(col, *op, Box::new(bound))
            } else {
                Expr::Binary(Box::new(bound), *op, col)
            }
        }
        Expr::Binary(a, op, b) => {
            Expr::Binary(Box::new(bind(a, batch)?), *op, Box::new(bind(b, batch)?))
        }
        Expr::Not(a) => Expr::Not(Box::new(bind(a, batch)?)),
        Expr::Neg(a) => Expr::Neg(Box::new(bind(a, batch)?)),
        Expr::IsNull(a, n) => Expr::IsNull(Box::new(bind(a, batch)?), *n),
        other => other.clone(),
    })
}

/// The value of row `row` of `array` for WHERE.
fn scalar(array: &ArrayRef, row: usize) -> Scalar {
    if array.is_null(row) {
        return Scalar::Null;
    }
    match array.data_type() {
        DataType::Boolean => Scalar::Bool(array.as_boolean().value(row)),
        DataType::Utf8 => Scalar::Text(array.as_string::<i32>().value(row).to_owned()),
        DataType::LargeUtf8 => Scalar::Text(array.as_string::<i64>().value(row).to_owned()),
        DataType::Dictionary(..) => match cast(&array.slice(row, 1), &DataType::Utf8) {
            Ok(a) => Scalar::Text(a.as_string::<i32>().value(0).to_owned()),
            Err(_) => Scalar::Null,
        },
        DataType::Timestamp(..) => match cast(array, &DataType::Int64) {
            Ok(a) => Scalar::Number(a.as_primitive::<Int64Type>().value(row) as f64),
            Err(_) => Scalar::Null,
        },
        t if t.is_numeric() => match cast(&array.slice(row, 1), &DataType::Float64) {
            Ok(a) => Scalar::Number(a.as_primitive::<Float64Type>().value(0)),
            Err(_) => Scalar::Null,
        },
        _ => match arrow::util::display::array_value_to_string(array, row) {
            Ok(s) => Scalar::Text(s),
            Err(_) => Scalar::Null,
        },
    }
}

/// A batch's event times, as [`Converter`] reads them.
struct Times {
    /// Every row's time in microseconds; 0 for a row in `failed`.
    ts: Vec<i64>,
    /// The rows without a time, in row order, and why.
    failed: Vec<(usize, String)>,
}

impl Times {
    /// `time(i)` for each of `n` rows.
    fn collect(n: usize, time: impl Fn(usize) -> std::result::Result<i64, String>) -> Times {
        let mut ts = Vec::with_capacity(n);
        let mut failed = Vec::new();
        for i in 0..n {
            match time(i) {
                Ok(t) => ts.push(t),
                Err(reason) => {
                    ts.push(0);
                    failed.push((i, reason));
                }
            }
        }
        Times { ts, failed }
    }

    /// `n` rows, none with a time, for `reason`.
    fn none(n: usize, reason: &str) -> Times {
        Times {
            ts: vec![0; n],
            failed: (0..n).map(|i| (i, reason.to_owned())).collect(),
        }
    }
}

impl Converter {
    /// A converter for `plan`.
    pub fn new(plan: ColumnPlan) -> Self {
        Converter {
            dicts: vec![KeyDictionary::new(); plan.keys.len()],
            groups: GroupIndex::new(),
            tables: vec![None; plan.keys.len()],
            plan,
        }
    }

    /// Applies WHERE; with it, the rows kept, by their row in `batch`.
    fn filter(&self, batch: RecordBatch) -> Result<(RecordBatch, Option<Vec<usize>>)> {
        let Some(expr) = &self.plan.filter else {
            return Ok((batch, None));
        };
        let expr = &bind(expr, &batch)?;
        let mut names = Vec::new();
        expr.columns(&mut names);
        let cols: Vec<(String, ArrayRef)> = names
            .iter()
            .map(|n| column(&batch, n).map(|c| (n.clone(), c.clone())))
            .collect::<Result<_>>()?;
        let mask: BooleanArray = (0..batch.num_rows())
            .map(|row| {
                let lookup = |e: &Expr| match e {
                    Expr::Column(n) => cols
                        .iter()
                        .find(|(c, _)| c == n)
                        .map_or(Scalar::Null, |(_, a)| scalar(a, row)),
                    _ => Scalar::Null,
                };
                Some(expr.eval(&lookup) == Scalar::Bool(true))
            })
            .collect();
        let kept = (0..mask.len()).filter(|&i| mask.value(i)).collect();
        let batch = filter_record_batch(&batch, &mask).map_err(|source| QueryError::ArrowStep {
            what: "cannot apply WHERE",
            source,
        })?;
        Ok((batch, Some(kept)))
    }

    /// Event times of every row (0 for a row without one), and the rows
    /// without one with why: built in one pass, with no per-row allocation
    /// when every row has a time.
    fn times(&self, array: &ArrayRef) -> Times {
        let n = array.len();
        let per_us = |unit: &TimeUnit| match unit {
            TimeUnit::Second => (1_000_000, 1),
            TimeUnit::Millisecond => (1000, 1),
            TimeUnit::Microsecond => (1, 1),
            TimeUnit::Nanosecond => (1, 1000),
        };
        let missing = || Err("no value for the time field".to_owned());
        match array.data_type() {
            DataType::Dictionary(..) => match cast(array, &DataType::Utf8) {
                Ok(a) => self.times(&a),
                Err(e) => Times::none(n, &e.to_string()),
            },
            DataType::Date32 | DataType::Date64 => {
                match cast(array, &DataType::Timestamp(TimeUnit::Microsecond, None)) {
                    Ok(a) => self.times(&a),
                    Err(e) => Times::none(n, &e.to_string()),
                }
            }
            DataType::Timestamp(unit, _) => {
                let (mul, div) = per_us(unit);
                match cast(array, &DataType::Int64) {
                    Ok(a) => {
                        let a = a.as_primitive::<Int64Type>();
                        if (mul, div) == (1, 1) && a.null_count() == 0 {
                            return Times {
                                ts: a.values().to_vec(),
                                failed: Vec::new(),
                            };
                        }
                        Times::collect(n, |i| {
                            if a.is_null(i) {
                                missing()
                            } else {
                                a.value(i)
                                    .checked_mul(mul)
                                    .map(|v| v.div_euclid(div))
                                    .ok_or_else(|| "time out of range".to_owned())
                            }
                        })
                    }
                    Err(e) => Times::none(n, &e.to_string()),
                }
            }
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                let a = cast(array, &DataType::Utf8).ok();
                let a = a.as_ref().map(|a| a.as_string::<i32>());
                Times::collect(n, |i| match a {
                    Some(s) if !s.is_null(i) => {
                        self.plan.time_format.parse(RawTime::Text(s.value(i)))
                    }
                    _ => missing(),
                })
            }
            t if t.is_numeric() => match cast(array, &DataType::Float64) {
                Ok(a) => {
                    let a = a.as_primitive::<Float64Type>();
                    Times::collect(n, |i| {
                        if a.is_null(i) {
                            missing()
                        } else {
                            self.plan.time_format.parse(RawTime::Number(a.value(i)))
                        }
                    })
                }
                Err(e) => Times::none(n, &e.to_string()),
            },
            other => Times::none(n, &format!("a time field of type {other} cannot be read")),
        }
    }

    /// Key ids of one key column.
    fn key_ids(&mut self, k: usize, array: &ArrayRef) -> Result<Vec<u32>> {
        let dict = &mut self.dicts[k];
        let n = array.len();
        let mut ids = Vec::with_capacity(n);
        match array.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                let a = cast(array, &DataType::Utf8)?;
                let s = a.as_string::<i32>();
                let mut last: Option<(usize, u32)> = None;
                for i in 0..n {
                    if s.is_null(i) {
                        ids.push(dict.other_id(KeyValue::Null));
                        continue;
                    }
                    let v = s.value(i);
                    // Runs of one key are common (sorted or per-device files).
                    let id = match last {
                        Some((j, id)) if s.value(j) == v => id,
                        _ => dict.str_id(v),
                    };
                    last = Some((i, id));
                    ids.push(id);
                }
            }
            DataType::Dictionary(key, value)
                if matches!(**value, DataType::Utf8) && matches!(**key, DataType::Int32) =>
            {
                // One lookup per distinct value of the batch, then an index a row.
                let d = array.as_dictionary::<arrow::datatypes::Int32Type>();
                let null = dict.other_id(KeyValue::Null);
                let cached = &mut self.tables[k];
                if !cached
                    .as_ref()
                    .is_some_and(|(v, _)| Arc::ptr_eq(v, d.values()))
                {
                    let values = d.values().as_string::<i32>();
                    let table = (0..values.len())
                        .map(|i| {
                            if values.is_null(i) {
                                null
                            } else {
                                dict.str_id(values.value(i))
                            }
                        })
                        .collect();
                    *cached = Some((d.values().clone(), table));
                }
                let table: &[u32] = cached.as_ref().map_or(&[], |(_, t)| t);
                for key in d.keys().iter() {
                    ids.push(match key {
                        Some(j) => table.get(j as usize).copied().unwrap_or(null),
                        None => null,
                    });
                }
            }
            DataType::Dictionary(..) => {
                let a = cast(array, &DataType::Utf8)?;
                return self.key_ids(k, &a);
            }
            DataType::Boolean => {
                let b = array.as_boolean();
                for i in 0..n {
                    let v = if b.is_null(i) {
                        KeyValue::Null
                    } else {
                        KeyValue::Bool(b.value(i))
                    };
                    ids.push(dict.other_id(v));
                }
            }
            DataType::Float16 | DataType::Float32 | DataType::Float64 => {
                let a = cast(array, &DataType::Float64)?;
                let f = a.as_primitive::<Float64Type>();
                for i in 0..n {
                    ids.push(if f.is_null(i) {
                        dict.other_id(KeyValue::Null)
                    } else {
                        dict.float_id(f.value(i))
                    });
                }
            }
            t if t.is_integer() || matches!(t, DataType::Timestamp(..)) => {
                let a = cast(array, &DataType::Int64)?;
                let v = a.as_primitive::<Int64Type>();
                for i in 0..n {
                    ids.push(if v.is_null(i) {
                        dict.other_id(KeyValue::Null)
                    } else {
                        dict.int_id(v.value(i))
                    });
                }
            }
            other => {
                return Err(QueryError::Usage(format!(
                    "cannot group by a field of type {other}"
                )));
            }
        }
        Ok(ids)
    }

    /// Hashes of a column for `approx_count_distinct`.
    fn hashes(array: &ArrayRef) -> Result<Vec<u64>> {
        let n = array.len();
        Ok(match array.data_type() {
            DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Dictionary(..) => {
                let a = cast(array, &DataType::Utf8)?;
                let s = a.as_string::<i32>();
                (0..n)
                    .map(|i| {
                        if s.is_null(i) {
                            0
                        } else {
                            hash_bytes(s.value(i).as_bytes())
                        }
                    })
                    .collect()
            }
            t if t.is_integer() || matches!(t, DataType::Timestamp(..) | DataType::Boolean) => {
                let a = cast(array, &DataType::Int64)?;
                a.as_primitive::<Int64Type>()
                    .values()
                    .iter()
                    .map(|&v| mix(v as u64 ^ 0x9e37_79b9_7f4a_7c15))
                    .collect()
            }
            _ => {
                let a = cast(array, &DataType::Float64)?;
                a.as_primitive::<Float64Type>()
                    .values()
                    .iter()
                    .map(|&v| {
                        // -0 and 0 are one value, and so are all NaNs.
                        let canon = if v == 0.0 {
                            0.0
                        } else if v.is_nan() {
                            f64::NAN
                        } else {
                            v
                        };
                        mix(canon.to_bits())
                    })
                    .collect()
            }
        })
    }

    /// Converts one batch.
    ///
    /// # Errors
    /// A [`QueryError::Usage`] when a named field is missing or has a type that
    /// cannot be used.
    pub fn convert(&mut self, batch: RecordBatch) -> Result<Converted> {
        let given = batch.num_rows();
        let (mut batch, kept) = self.filter(batch)?;
        let mut rows = kept.unwrap_or_else(|| (0..given).collect());
        let Times { mut ts, failed } = self.times(column(&batch, &self.plan.time)?);
        let mut refused = Vec::with_capacity(failed.len());
        if !failed.is_empty() {
            let mut ok = vec![true; ts.len()];
            for (row, reason) in failed {
                ok[row] = false;
                refused.push((rows[row], reason));
            }
            let mask: BooleanArray = ok.iter().map(|&k| Some(k)).collect();
            let mut keep = ok.iter();
            rows.retain(|_| keep.next().copied().unwrap_or(false));
            let mut keep = ok.iter();
            ts.retain(|_| keep.next().copied().unwrap_or(false));
            batch = filter_record_batch(&batch, &mask)?;
        }
        let n = batch.num_rows();
        let groups = match self.plan.keys.len() {
            0 => vec![0; n],
            1 => {
                let key = self.plan.keys[0].clone();
                let col = column(&batch, &key)?.clone();
                self.key_ids(0, &col)?
            }
            k => {
                let mut per_key = Vec::with_capacity(k);
                for i in 0..k {
                    let key = self.plan.keys[i].clone();
                    let col = column(&batch, &key)?.clone();
                    per_key.push(self.key_ids(i, &col)?);
                }
                let mut tuple = vec![0; k];
                (0..n)
                    .map(|row| {
                        for (t, ids) in tuple.iter_mut().zip(&per_key) {
                            *t = ids[row];
                        }
                        self.groups.group(&tuple)
                    })
                    .collect()
            }
        };
        let mut values = Vec::new();
        let mut valid = Vec::new();
        for name in &self.plan.values {
            let col = column(&batch, name)?;
            let not_numeric = || {
                QueryError::Usage(format!(
                    "cannot aggregate {name:?}: a field of type {} is not numeric",
                    col.data_type()
                ))
            };
            let f = cast(col, &DataType::Float64).map_err(|_| not_numeric())?;
            if !(col.data_type().is_numeric() || matches!(col.data_type(), DataType::Boolean)) {
                return Err(not_numeric());
            }
            valid.push(bitmap(f.as_ref()));
            values.push(f.as_primitive::<Float64Type>().clone());
        }
        let mut hashes = Vec::new();
        let mut hash_valid = Vec::new();
        for name in &self.plan.hashed {
            let col = column(&batch, name)?;
            hash_valid.push(bitmap(col.as_ref()));
            hashes.push(Self::hashes(col)?);
        }
        Ok(Converted {
            rows,
            ts,
            groups,
            values,
            valid,
            hashes,
            hash_valid,
            refused,
        })
    }

    /// The key values of a group, one a key.
    pub fn key_values(&self, group: u32) -> Vec<KeyValue> {
        match self.dicts.len() {
            0 => Vec::new(),
            1 => vec![
                self.dicts[0]
                    .value(group)
                    .cloned()
                    .unwrap_or(KeyValue::Null),
            ],
            _ => self
                .groups
                .ids(group)
                .unwrap_or(&[])
                .iter()
                .zip(&self.dicts)
                .map(|(&id, d)| d.value(id).cloned().unwrap_or(KeyValue::Null))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{DictionaryArray, Int32Array, StringArray, TimestampMicrosecondArray};
    use arrow::datatypes::{Field, Int32Type, Schema};

    #[test]
    fn a_dictionary_handed_on_again_gives_the_ids_it_gave_and_a_new_one_its_own() {
        let mut conv = Converter::new(ColumnPlan {
            time: "ts".into(),
            keys: vec!["k".into()],
            values: Vec::new(),
            hashed: Vec::new(),
            filter: None,
            time_format: TimeFormat::Auto,
        });
        let schema = Arc::new(Schema::new(vec![
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, None),
                false,
            ),
            Field::new_dictionary("k", DataType::Int32, DataType::Utf8, true),
        ]));
        let batch = |values: &ArrayRef, keys: Vec<Option<i32>>| {
            let n = keys.len();
            let k = DictionaryArray::<Int32Type>::try_new(Int32Array::from(keys), values.clone())
                .unwrap();
            let ts = TimestampMicrosecondArray::from((0..n as i64).collect::<Vec<_>>());
            RecordBatch::try_new(schema.clone(), vec![Arc::new(ts), Arc::new(k)]).unwrap()
        };
        let first: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), Some("b"), None]));
        let got = conv
            .convert(batch(&first, vec![Some(1), Some(0), Some(2), None]))
            .unwrap();
        let (a, b, null) = (got.groups[1], got.groups[0], got.groups[2]);
        assert_eq!(got.groups[3], null);
        // The same values array again: the ids it gave.
        let again = conv
            .convert(batch(&first, vec![Some(0), Some(1), Some(2)]))
            .unwrap();
        assert_eq!(again.groups, [a, b, null]);
        // Another array, other order and a new key: looked up afresh.
        let other: ArrayRef = Arc::new(StringArray::from(vec!["c", "b", "a"]));
        let fresh = conv
            .convert(batch(&other, vec![Some(2), Some(1), Some(0)]))
            .unwrap();
        assert_eq!(fresh.groups[..2], [a, b]);
        assert!(![a, b, null].contains(&fresh.groups[2]));
        assert_eq!(
            conv.key_values(fresh.groups[2]),
            [KeyValue::Str("c".into())]
        );
    }

    #[test]
    fn string_hashes_spread_over_the_registers() {
        let mut registers: Vec<u64> = (0..900)
            .map(|i| hash_bytes(format!("t{i}").as_bytes()) >> 54)
            .collect();
        registers.sort_unstable();
        registers.dedup();
        // 900 keys into 1024 registers leave about 1024 * (1 - e^(-900/1024)) = 601 in use.
        assert!(registers.len() > 560, "{}", registers.len());
        let tags = [
            "t111", "t121", "t131", "t217", "t22", "t225", "t242", "t307", "t329", "t500", "t515",
            "t532", "t63", "t631", "t751", "t791", "t833",
        ];
        let mut small: Vec<u64> = tags
            .iter()
            .map(|t| hash_bytes(t.as_bytes()) >> 54)
            .collect();
        small.sort_unstable();
        small.dedup();
        assert!(small.len() >= 16, "{small:?}");
    }
}
