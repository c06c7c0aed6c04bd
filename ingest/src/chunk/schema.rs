//! The schema records are chunked under: declared (`ts:timestamp,sensor:string,temp:f64`)
//! or inferred from the first records, and its Arrow twin.
//!
//! Nested JSON objects are flattened with dotted names (`motion.ratio`), so
//! the per-frame records of `osprey analyze` chunk like flat telemetry.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::error::{IngestError, Result};

/// The column types the chunker builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Microseconds since the epoch, UTC (Arrow `Timestamp(Microsecond, "UTC")`).
    Timestamp,
    /// UTF-8 text.
    String,
    /// 64-bit float.
    F64,
    /// 64-bit signed integer.
    I64,
    /// true / false.
    Bool,
}

impl FieldType {
    /// The Arrow type of the column.
    pub fn arrow(self) -> DataType {
        match self {
            FieldType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            FieldType::String => DataType::Utf8,
            FieldType::F64 => DataType::Float64,
            FieldType::I64 => DataType::Int64,
            FieldType::Bool => DataType::Boolean,
        }
    }

    /// The name used in `--schema`.
    pub fn name(self) -> &'static str {
        match self {
            FieldType::Timestamp => "timestamp",
            FieldType::String => "string",
            FieldType::F64 => "f64",
            FieldType::I64 => "i64",
            FieldType::Bool => "bool",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "timestamp" | "time" | "ts" => FieldType::Timestamp,
            "string" | "str" | "utf8" | "text" => FieldType::String,
            "f64" | "float" | "double" | "float64" => FieldType::F64,
            "i64" | "int" | "integer" | "int64" | "bigint" => FieldType::I64,
            "bool" | "boolean" => FieldType::Bool,
            _ => return None,
        })
    }
}

/// One named, typed column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordField {
    /// The field's name; nested JSON fields are dotted (`motion.ratio`).
    pub name: String,
    /// Its type.
    pub ty: FieldType,
}

/// The columns of the batches a chunker builds, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSchema {
    /// The fields.
    pub fields: Vec<RecordField>,
}

impl RecordSchema {
    /// Parses `name:type,name:type` (types: timestamp, string, f64, i64, bool).
    ///
    /// # Errors
    /// [`IngestError::InvalidSchema`] naming the bad entry.
    pub fn parse(spec: &str) -> Result<Self> {
        let mut fields: Vec<RecordField> = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, ty) = part
                .rsplit_once(':')
                .ok_or_else(|| IngestError::InvalidSchema(format!("{part:?} is not name:type")))?;
            let name = name.trim();
            if name.is_empty() {
                return Err(IngestError::InvalidSchema(format!("{part:?} has no name")));
            }
            let ty = FieldType::parse(ty).ok_or_else(|| {
                IngestError::InvalidSchema(format!(
                    "unknown type {:?} for {name:?} (known: timestamp, string, f64, i64, bool)",
                    ty.trim()
                ))
            })?;
            if fields.iter().any(|f| f.name == name) {
                return Err(IngestError::InvalidSchema(format!(
                    "{name:?} is declared twice"
                )));
            }
            fields.push(RecordField {
                name: name.to_owned(),
                ty,
            });
        }
        if fields.is_empty() {
            return Err(IngestError::InvalidSchema("no fields declared".into()));
        }
        Ok(RecordSchema { fields })
    }

    /// The Arrow schema; every column is nullable.
    pub fn arrow(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.fields
                .iter()
                .map(|f| Field::new(&f.name, f.ty.arrow(), true))
                .collect::<Vec<_>>(),
        ))
    }

    /// The position of `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    /// `name:type,...`, as `--schema` takes it.
    pub fn to_spec(&self) -> String {
        self.fields
            .iter()
            .map(|f| format!("{}:{}", f.name, f.ty.name()))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// What inference has seen of one field so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seen {
    /// Only nulls.
    Null,
    /// Booleans.
    Bool,
    /// Integers.
    Int,
    /// Numbers, some not integral.
    Float,
    /// Strings that read as times.
    Time,
    /// Anything else.
    Text,
}

impl Seen {
    /// The narrowest kind that holds both.
    pub(crate) fn join(self, other: Seen) -> Seen {
        use Seen::*;
        match (self, other) {
            (a, b) if a == b => a,
            (Null, x) | (x, Null) => x,
            (Int, Float) | (Float, Int) => Float,
            _ => Text,
        }
    }

    /// The column type for this kind; `is_time_field` makes numbers times.
    pub(crate) fn field_type(self, is_time_field: bool) -> FieldType {
        match self {
            _ if is_time_field => FieldType::Timestamp,
            Seen::Bool => FieldType::Bool,
            Seen::Int => FieldType::I64,
            Seen::Float => FieldType::F64,
            Seen::Time => FieldType::Timestamp,
            Seen::Null | Seen::Text => FieldType::String,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_declared_schema() {
        let s = RecordSchema::parse("ts:timestamp, sensor:string,temp:f64,n:i64,ok:bool")
            .expect("valid");
        assert_eq!(s.fields.len(), 5);
        assert_eq!(s.fields[2].ty, FieldType::F64);
        assert_eq!(s.index_of("n"), Some(3));
        assert_eq!(
            s.to_spec(),
            "ts:timestamp,sensor:string,temp:f64,n:i64,ok:bool"
        );
        assert_eq!(
            s.arrow().field(0).data_type(),
            &FieldType::Timestamp.arrow()
        );
    }

    #[test]
    fn rejects_bad_declarations() {
        for bad in ["", "ts", "ts:date", ":f64", "a:f64,a:i64"] {
            let err = RecordSchema::parse(bad).expect_err(bad).to_string();
            assert!(err.starts_with("invalid schema: "), "{err}");
        }
    }

    #[test]
    fn inference_joins_kinds() {
        assert_eq!(Seen::Int.join(Seen::Float), Seen::Float);
        assert_eq!(Seen::Null.join(Seen::Bool), Seen::Bool);
        assert_eq!(Seen::Int.join(Seen::Text), Seen::Text);
        assert_eq!(Seen::Time.join(Seen::Int), Seen::Text);
        assert_eq!(Seen::Int.field_type(true), FieldType::Timestamp);
        assert_eq!(Seen::Null.field_type(false), FieldType::String);
    }
}
