//! One result row's cells: window bounds, key values and aggregate values,
//! owned ([`Cell`]) or borrowed from the engine's state ([`CellRef`]), and
//! their JSON forms: bounds as RFC 3339 in UTC, NaN and infinities (which
//! JSON lacks) as the strings `"NaN"`, `"Infinity"` and `"-Infinity"`.

use osprey_kernels::window::acc::AggValue;
use osprey_kernels::window::keys::KeyValue;
use serde_json::Value;

use crate::plan::Scalar;

/// RFC 3339 in UTC, with fractional seconds only when there are some.
pub fn rfc3339(us: i64) -> String {
    match chrono::DateTime::from_timestamp_micros(us) {
        Some(t) if us % 1_000_000 == 0 => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        None => us.to_string(),
    }
}

/// A key as JSON.
pub fn key_json(k: &KeyValue) -> Value {
    match k {
        KeyValue::Null => Value::Null,
        KeyValue::Str(s) => Value::String(s.to_string()),
        KeyValue::Int(i) => Value::from(*i),
        KeyValue::Bool(b) => Value::Bool(*b),
        KeyValue::Float(bits) => float_json(f64::from_bits(*bits)),
    }
}

/// A float as JSON: a number, or `"NaN"`, `"Infinity"`, `"-Infinity"`.
pub fn float_json(v: f64) -> Value {
    if v.is_nan() {
        Value::String("NaN".into())
    } else if v.is_infinite() {
        Value::String(if v > 0.0 { "Infinity" } else { "-Infinity" }.into())
    } else {
        serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
    }
}

/// One result column's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// A window bound (µs).
    Time(i64),
    /// A key.
    Key(KeyValue),
    /// An aggregate.
    Agg(AggValue),
}

/// One cell of a row being written, borrowed.
#[derive(Debug, Clone, Copy)]
pub enum CellRef<'a> {
    /// A window bound (µs).
    Time(i64),
    /// A key.
    Key(&'a KeyValue),
    /// An aggregate.
    Agg(AggValue),
}

impl<'a> From<&'a Cell> for CellRef<'a> {
    fn from(cell: &'a Cell) -> Self {
        match cell {
            Cell::Time(us) => CellRef::Time(*us),
            Cell::Key(k) => CellRef::Key(k),
            Cell::Agg(a) => CellRef::Agg(*a),
        }
    }
}

impl From<CellRef<'_>> for Cell {
    fn from(cell: CellRef<'_>) -> Self {
        match cell {
            CellRef::Time(us) => Cell::Time(us),
            CellRef::Key(k) => Cell::Key(k.clone()),
            CellRef::Agg(a) => Cell::Agg(a),
        }
    }
}

/// A cell as a value of a HAVING expression, as it reads in the NDJSON
/// output: a bound as its microseconds, an integer or a float as a number,
/// a float key that is NaN or infinite as the text JSON gives it.
pub fn cell_scalar(cell: CellRef<'_>) -> Scalar {
    match cell {
        CellRef::Time(t) => Scalar::Number(t as f64),
        CellRef::Key(KeyValue::Null) | CellRef::Agg(AggValue::Null) => Scalar::Null,
        CellRef::Key(KeyValue::Str(s)) => Scalar::Text(s.to_string()),
        CellRef::Key(KeyValue::Int(i)) => Scalar::Number(*i as f64),
        CellRef::Key(KeyValue::Bool(b)) => Scalar::Bool(*b),
        CellRef::Key(KeyValue::Float(bits)) => match float_json(f64::from_bits(*bits)) {
            Value::String(s) => Scalar::Text(s),
            _ => Scalar::Number(f64::from_bits(*bits)),
        },
        CellRef::Agg(AggValue::Int(i)) => Scalar::Number(i as f64),
        CellRef::Agg(AggValue::Float(f)) => Scalar::Number(f),
    }
}
