//! Reference data (Kinesis Data Analytics' in-application reference tables):
//! `FROM input [LEFT] JOIN ref ON input.sensor = ref.sensor`, where `ref` is a
//! table read from a CSV, NDJSON or Parquet file and bound by name
//! ([`Reference`]), enriches each record before WHERE and the aggregation.
//!
//! - The join is parsed here from SQL's FROM ([`from_clause`]): one equi-join
//!   of the input with a name bound as a reference; a join with any other
//!   name is a join between two streams and is refused.
//! - Each batch of the input gets the reference's columns ([`Reference::enrich`]),
//!   named `ref.col`, and `col` too where the input has no column of that
//!   name; an input row without a match gets NULLs. An inner join keeps only
//!   the rows with a match: its plan's WHERE gains `ref.KEY IS NOT NULL`.
//! - Keys match as text (`5` and `"5"` are one key); a key that repeats in
//!   the reference is an error naming it, as is a row without a key.
//! - The file is read again when its modification time changes, checked
//!   before each batch; a reload that fails keeps the table it had and says
//!   why (a warning, once for each change).
//! - A reference may also be a stream of the store, compacted by key
//!   ([`Reference::stream`]): its NDJSON records from the oldest kept, the
//!   last record of each key winning, read again when the stream has new
//!   records (checked at most once a second).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use arrow::array::{Array, ArrayRef, AsArray, UInt32Array};
use arrow::compute::{cast, concat_batches, take};
use arrow::datatypes::{DataType, Field, Int32Type, Schema};
use arrow::record_batch::RecordBatch;
use osprey_ingest::chunk::{ChunkConfig, Chunker, RawRecord, RecordFormat, read_parquet};
use sqlparser::ast::{self, JoinConstraint, JoinOperator, TableFactor};

use crate::error::{QueryError, Result};
use crate::plan::{BinOp, Expr, OutputColumn, Plan};
use crate::source::stored::default_threads;
use crate::source::{TextItem, spawn_text};

/// How often a stream reference looks for new records at most.
const STREAM_CHECK: Duration = Duration::from_secs(1);

/// Where a reference table is read from.
#[derive(Debug, Clone)]
enum RefSource {
    /// A CSV, NDJSON or Parquet file.
    File(PathBuf),
    /// A stream of the store in `data_dir`, compacted by key.
    Stream { data_dir: PathBuf, stream: String },
}

/// What a stream held when read: each shard's last sequence number.
type StreamVersion = Vec<(String, u64)>;

/// Rows a reference table holds at most.
pub const MAX_REFERENCE_ROWS: usize = 5_000_000;

/// Records a reference's schema is inferred from.
const INFER_ROWS: usize = 20_480;

/// An inner join keeps only matched rows; a left join keeps every row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    /// `JOIN` / `INNER JOIN`.
    Inner,
    /// `LEFT [OUTER] JOIN`.
    Left,
}

/// One join of the input with a reference table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinSpec {
    /// The reference's name in the query (its alias, else its name): the
    /// name it is bound by and the prefix of its columns.
    pub table: String,
    /// The input's name in the query (its alias, else its name).
    pub input: String,
    /// Inner or left.
    pub kind: JoinKind,
    /// The input's key column.
    pub input_key: String,
    /// The reference's key column.
    pub ref_key: String,
}

fn unsupported(what: impl std::fmt::Display) -> QueryError {
    QueryError::Usage(format!("unsupported in osprey's SQL: {what}"))
}

/// The name a FROM item goes by: its alias, else its name.
fn table_name(t: &TableFactor) -> Option<String> {
    match t {
        TableFactor::Table { name, alias, .. } => Some(
            alias
                .as_ref()
                .map_or_else(|| name.to_string(), |a| a.name.value.clone()),
        ),
        _ => None,
    }
}

/// The join of SQL's FROM, `None` when it names the input alone.
///
/// # Errors
/// [`QueryError::Usage`] for more than one join, a join with a name not in
/// `references` (two streams), a kind other than inner or left, and an ON
/// other than one equality of a column of each side.
pub fn from_clause(from: &ast::TableWithJoins, references: &[String]) -> Result<Option<JoinSpec>> {
    let input = table_name(&from.relation)
        .ok_or_else(|| unsupported("a FROM that is not one stream name"))?;
    let join = match from.joins.as_slice() {
        [] => return Ok(None),
        [one] => one,
        _ => return Err(unsupported("more than one JOIN (join one reference table)")),
    };
    let table = table_name(&join.relation)
        .ok_or_else(|| unsupported("a JOIN with something other than a table name"))?;
    if !references.contains(&table) {
        return Err(unsupported(format!(
            "JOIN {table}: joins between two streams are not supported; a reference table \
             is joined when it is bound, e.g. --reference {table}=FILE"
        )));
    }
    let (kind, constraint) = match &join.join_operator {
        JoinOperator::Join(c) | JoinOperator::Inner(c) => (JoinKind::Inner, c),
        JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => (JoinKind::Left, c),
        other => {
            return Err(unsupported(format!(
                "the join {other:?} (use JOIN or LEFT JOIN)"
            )));
        }
    };
    let on_error = || {
        unsupported(format!(
            "JOIN {table} ON other than {input}.KEY = {table}.KEY"
        ))
    };
    let JoinConstraint::On(ast::Expr::BinaryOp {
        left,
        op: ast::BinaryOperator::Eq,
        right,
    }) = constraint
    else {
        return Err(on_error());
    };
    let side = |e: &ast::Expr| -> Option<(String, String)> {
        match e {
            ast::Expr::CompoundIdentifier(parts) if parts.len() >= 2 => Some((
                parts[0].value.clone(),
                parts[1..]
                    .iter()
                    .map(|p| p.value.as_str())
                    .collect::<Vec<_>>()
                    .join("."),
            )),
            _ => None,
        }
    };
    let (a, b) = (
        side(left).ok_or_else(on_error)?,
        side(right).ok_or_else(on_error)?,
    );
    let (input_key, ref_key) = if a.0 == input && b.0 == table {
        (a.1, b.1)
    } else if a.0 == table && b.0 == input {
        (b.1, a.1)
    } else {
        return Err(on_error());
    };
    Ok(Some(JoinSpec {
        table,
        input,
        kind,
        input_key,
        ref_key,
    }))
}

/// Fits `plan` to its join: the input's columns lose their `input.`
/// prefix, a key selected as `ref.col` is named `col` in the result (as
/// DuckDB names it), and an inner join's WHERE keeps matched rows only.
pub fn resolve(plan: &mut Plan, join: &JoinSpec) {
    let prefix = format!("{}.", join.input);
    let strip = |name: &mut String| {
        if let Some(rest) = name.strip_prefix(&prefix) {
            *name = rest.to_owned();
        }
    };
    for k in &mut plan.keys {
        strip(k);
    }
    for a in &mut plan.aggs {
        if let Some(c) = &mut a.column {
            strip(c);
        }
    }
    if let Some(a) = &mut plan.anomaly {
        for c in &mut a.columns {
            strip(c);
        }
        for o in &mut a.outputs {
            if let crate::rcf::AnomalyOutput::Field { column, name } = o {
                strip(column);
                strip(name);
                if let Some(rest) = name.strip_prefix(&format!("{}.", join.table)) {
                    *name = rest.to_owned();
                }
            }
        }
    }
    fn each_column(e: &mut Expr, f: &dyn Fn(&mut String)) {
        match e {
            Expr::Column(c) => f(c),
            Expr::Binary(a, _, b) => {
                each_column(a, f);
                each_column(b, f);
            }
            Expr::Not(a) | Expr::Neg(a) | Expr::IsNull(a, _) => each_column(a, f),
            _ => {}
        }
    }
    if let Some(filter) = &mut plan.filter {
        each_column(filter, &strip);
    }
    let ref_prefix = format!("{}.", join.table);
    for out in &mut plan.outputs {
        if let OutputColumn::Key(_, name) = out {
            strip(name);
            if let Some(rest) = name.strip_prefix(&ref_prefix) {
                *name = rest.to_owned();
            }
        }
    }
    if join.kind == JoinKind::Inner {
        let matched = Expr::IsNull(
            Box::new(Expr::Column(format!("{}{}", ref_prefix, join.ref_key))),
            true,
        );
        plan.filter = Some(match plan.filter.take() {
            Some(f) => Expr::Binary(Box::new(matched), BinOp::And, Box::new(f)),
            None => matched,
        });
    }
}

/// A loaded table: its rows and each key's row.
#[derive(Debug)]
struct Table {
    batch: RecordBatch,
    rows: HashMap<String, u32>,
}

/// A reference table bound to a name, read from a file and read again when
/// the file changes.
#[derive(Debug)]
pub struct Reference {
    name: String,
    source: RefSource,
    /// The stream's state the table was read at, and when it was last
    /// looked at (a stream reference).
    version: Option<StreamVersion>,
    failed_version: Option<StreamVersion>,
    checked: Option<Instant>,
    /// The key column, once a join names it.
    key: Option<String>,
    modified: Option<SystemTime>,
    /// The modification time of a reload that failed, so it warns once.
    failed: Option<SystemTime>,
    table: Option<Table>,
    reloads: u64,
}

impl Reference {
    /// The table `name` in queries, read from `path` (CSV, NDJSON or Parquet
    /// by its extension) once a join names its key.
    pub fn new(name: &str, path: &Path) -> Reference {
        Reference {
            name: name.to_owned(),
            source: RefSource::File(path.to_owned()),
            version: None,
            failed_version: None,
            checked: None,
            key: None,
            modified: None,
            failed: None,
            table: None,
            reloads: 0,
        }
    }

    /// The table `name` in queries, read from the stream `stream` of the
    /// store in `data_dir`: its NDJSON records, the last of each key.
    pub fn stream(name: &str, data_dir: &Path, stream: &str) -> Reference {
        Reference {
            source: RefSource::Stream {
                data_dir: data_dir.to_owned(),
                stream: stream.to_owned(),
            },
            ..Reference::new(name, Path::new(""))
        }
    }

    /// Its name in queries.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Times the table was read again after a change.
    pub fn reloads(&self) -> u64 {
        self.reloads
    }

    /// Reads the table, keyed by `key`.
    ///
    /// # Errors
    /// [`QueryError::Input`] when the file cannot be read, lacks the key
    /// column, or has a key twice or a row without one.
    pub fn load(&mut self, key: &str) -> Result<()> {
        self.key = Some(key.to_owned());
        match self.source.clone() {
            RefSource::File(path) => {
                let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
                self.table = Some(self.read(&path, key)?);
                self.modified = modified;
            }
            RefSource::Stream { data_dir, stream } => {
                let (version, lines) = self.read_stream(&data_dir, &stream, key)?;
                self.table = Some(self.table(key, self.chunk_all(lines.into_iter())?)?);
                self.version = Some(version);
                self.checked = Some(Instant::now());
            }
        }
        Ok(())
    }

    fn fail(&self, reason: impl std::fmt::Display) -> QueryError {
        QueryError::Input {
            input: match &self.source {
                RefSource::File(path) => path.display().to_string(),
                RefSource::Stream { stream, .. } => format!("stream:{stream}"),
            },
            reason: format!("reference {}: {reason}", self.name),
        }
    }

    /// The stream's records, compacted: the last NDJSON record of each
    /// value of `key`, in the order the keys first came; and the stream's
    /// state they were read at.
    fn read_stream(
        &self,
        data_dir: &Path,
        stream: &str,
        key: &str,
    ) -> Result<(StreamVersion, Vec<std::io::Result<TextItem>>)> {
        use osprey_ingest::log::Log as _;
        let store =
            osprey_ingest::store::Store::open_read_only(data_dir).map_err(|e| self.fail(e))?;
        let mut reader = store
            .reader(
                stream,
                osprey_ingest::store::StartingPosition::TrimHorizon,
                None,
            )
            .map_err(|e| self.fail(e))?;
        let mut version: StreamVersion = Vec::new();
        let mut lines: Vec<String> = Vec::new();
        let mut at: HashMap<String, usize> = HashMap::new();
        loop {
            let records = reader.poll(10_000, 16 << 20).map_err(|e| self.fail(e))?;
            if records.is_empty() {
                break;
            }
            for (shard, record) in records {
                let fail =
                    |why: &str| self.fail(format!("record {} of shard {shard}: {why}", record.seq));
                let line = String::from_utf8(record.data).map_err(|_| fail("not UTF-8"))?;
                let value: serde_json::Value =
                    serde_json::from_str(&line).map_err(|_| fail("not a JSON object"))?;
                let k = match value.get(key) {
                    None | Some(serde_json::Value::Null) => return Err(fail(&format!("no {key}"))),
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                };
                match at.get(&k) {
                    Some(&i) => lines[i] = line,
                    None => {
                        at.insert(k, lines.len());
                        lines.push(line);
                    }
                }
                match version.iter_mut().find(|(s, _)| *s == shard) {
                    Some(v) => v.1 = record.seq,
                    None => version.push((shard, record.seq)),
                }
            }
            if lines.len() > MAX_REFERENCE_ROWS {
                return Err(self.fail(format!("more than {MAX_REFERENCE_ROWS} keys")));
            }
        }
        version.sort();
        let items = lines
            .into_iter()
            .map(|l| Ok(TextItem::Record(RawRecord::Json(l))))
            .collect();
        Ok((version, items))
    }

    fn read(&self, path: &Path, key: &str) -> Result<Table> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let batches: Vec<RecordBatch> = if matches!(ext, "parquet" | "pq") {
            read_parquet(path, 65_536)
                .map_err(|e| self.fail(e))?
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| self.fail(e))?
        } else {
            let file = std::fs::File::open(path).map_err(|e| self.fail(e))?;
            let format = if ext == "csv" {
                RecordFormat::Csv
            } else {
                RecordFormat::Ndjson
            };
            self.chunk_all(
                spawn_text(Box::new(file), format, 1024, default_threads())
                    .into_iter()
                    .flatten(),
            )?
        };
        self.table(key, batches)
    }

    /// The table of `batches`, keyed by `key`.
    fn table(&self, key: &str, batches: Vec<RecordBatch>) -> Result<Table> {
        let schema = match batches.first() {
            Some(b) => b.schema(),
            None => Arc::new(Schema::empty()),
        };
        let batch = concat_batches(&schema, &batches).map_err(|e| self.fail(e))?;
        if batch.num_rows() > MAX_REFERENCE_ROWS {
            return Err(self.fail(format!("more than {MAX_REFERENCE_ROWS} rows")));
        }
        // Text columns as plain text: one value a row, as an input's.
        let mut fields = Vec::new();
        let mut columns = Vec::new();
        for (f, c) in schema.fields().iter().zip(batch.columns()) {
            let c = match c.data_type() {
                DataType::Dictionary(_, v) => cast(c, v).map_err(|e| self.fail(e))?,
                _ => Arc::clone(c),
            };
            fields.push(Field::new(f.name(), c.data_type().clone(), true));
            columns.push(c);
        }
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
            .map_err(|e| self.fail(e))?;
        let keys = batch
            .column_by_name(key)
            .ok_or_else(|| self.fail(format!("no key column {key:?}")))?;
        let keys = cast(keys, &DataType::Utf8).map_err(|e| self.fail(e))?;
        let keys = keys.as_string::<i32>();
        let mut rows = HashMap::with_capacity(keys.len());
        for i in 0..keys.len() {
            if keys.is_null(i) {
                return Err(self.fail(format!("row {} has no {key}", i + 1)));
            }
            if let Some(first) = rows.insert(keys.value(i).to_owned(), i as u32) {
                return Err(self.fail(format!(
                    "key {:?} is in rows {} and {} (a reference's keys are unique)",
                    keys.value(i),
                    first + 1,
                    i + 1
                )));
            }
        }
        Ok(Table { batch, rows })
    }

    /// Text records into batches.
    fn chunk_all(
        &self,
        items: impl Iterator<Item = std::io::Result<TextItem>>,
    ) -> Result<Vec<RecordBatch>> {
        let mut chunker = Chunker::new(ChunkConfig {
            infer_rows: INFER_ROWS,
            ..ChunkConfig::default()
        })
        .map_err(|e| self.fail(e))?;
        let mut batches = Vec::new();
        for item in items {
            let batch = match item.map_err(|e| self.fail(e))? {
                TextItem::Record(RawRecord::Json(line)) => {
                    chunker.push_json(&line).map_err(|e| self.fail(e))?
                }
                TextItem::Record(RawRecord::Parsed(parsed)) => chunker
                    .push_parsed_from(parsed, None)
                    .map_err(|e| self.fail(e))?
                    .map(|c| c.batch),
                TextItem::Record(RawRecord::Header(names)) => {
                    chunker.set_header(names);
                    None
                }
                TextItem::Record(RawRecord::Cells(cells)) => {
                    let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
                    chunker.push_cells(&cells).map_err(|e| self.fail(e))?
                }
                TextItem::Refused { line, rejected } => {
                    return Err(self.fail(format!("line {line}: {}", rejected.reason)));
                }
            };
            if let Some(bad) = chunker.take_bad().first() {
                return Err(self.fail(format!("line {}: {}", bad.line, bad.reason)));
            }
            batches.extend(batch);
        }
        while let Some(batch) = chunker.flush().map_err(|e| self.fail(e))? {
            batches.push(batch);
        }
        if let Some(bad) = chunker.take_bad().first() {
            return Err(self.fail(format!("line {}: {}", bad.line, bad.reason)));
        }
        Ok(batches)
    }

    /// Reads the file again if it changed since it was read (a stream, if
    /// it has new records); a reload that fails keeps the table and warns.
    fn refresh(&mut self) {
        let Some(key) = self.key.clone() else {
            return;
        };
        let path = match self.source.clone() {
            RefSource::File(path) => path,
            RefSource::Stream { data_dir, stream } => {
                return self.refresh_stream(&data_dir, &stream, &key);
            }
        };
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        if modified.is_none() || modified == self.modified || modified == self.failed {
            return;
        }
        match self.read(&path, &key) {
            Ok(table) => {
                self.table = Some(table);
                self.modified = modified;
                self.failed = None;
                self.reloads += 1;
                tracing::info!(reference = %self.name, "reference table read again");
            }
            Err(e) => {
                self.failed = modified;
                tracing::warn!("{e}; the reference keeps the table it had");
            }
        }
    }

    /// A stream reference's refresh: at most once a [`STREAM_CHECK`].
    fn refresh_stream(&mut self, data_dir: &Path, stream: &str, key: &str) {
        if self.checked.is_some_and(|t| t.elapsed() < STREAM_CHECK) {
            return;
        }
        self.checked = Some(Instant::now());
        let read = self
            .read_stream(data_dir, stream, key)
            .map(|(version, lines)| {
                if Some(&version) == self.version.as_ref()
                    || Some(&version) == self.failed_version.as_ref()
                {
                    return None;
                }
                let table = self
                    .chunk_all(lines.into_iter())
                    .and_then(|b| self.table(key, b));
                Some((version, table))
            });
        match read {
            Ok(None) => {}
            Ok(Some((version, Ok(table)))) => {
                self.table = Some(table);
                self.version = Some(version);
                self.failed_version = None;
                self.reloads += 1;
                tracing::info!(reference = %self.name, "reference table read again");
            }
            Ok(Some((version, Err(e)))) => {
                self.failed_version = Some(version);
                tracing::warn!("{e}; the reference keeps the table it had");
            }
            Err(e) => tracing::warn!("{e}; the reference keeps the table it had"),
        }
    }

    /// `batch` with the reference's columns: `table.col`, and `col` where
    /// the batch has none of that name; NULL in a row without a match.
    ///
    /// # Errors
    /// [`QueryError::Usage`] when the batch lacks the join's key column.
    pub fn enrich(&mut self, join: &JoinSpec, batch: RecordBatch) -> Result<RecordBatch> {
        self.refresh();
        let Some(table) = &self.table else {
            return Ok(batch);
        };
        let keys = batch.column_by_name(&join.input_key).ok_or_else(|| {
            QueryError::Usage(format!(
                "JOIN {} ON {}.{}: the input has no field {:?}",
                join.table, join.input, join.input_key, join.input_key
            ))
        })?;
        let indices = match keys.data_type() {
            DataType::Dictionary(k, _) if **k == DataType::Int32 => {
                // One lookup per distinct value of the batch.
                let d = keys.as_dictionary::<Int32Type>();
                let values = cast(d.values(), &DataType::Utf8)?;
                let values = values.as_string::<i32>();
                let rows: Vec<Option<u32>> = (0..values.len())
                    .map(|i| {
                        (!values.is_null(i))
                            .then(|| table.rows.get(values.value(i)).copied())
                            .flatten()
                    })
                    .collect();
                d.keys()
                    .iter()
                    .map(|k| k.and_then(|k| rows.get(k as usize).copied().flatten()))
                    .collect::<UInt32Array>()
            }
            _ => {
                let text = cast(keys, &DataType::Utf8)?;
                let text = text.as_string::<i32>();
                (0..text.len())
                    .map(|i| {
                        (!text.is_null(i))
                            .then(|| table.rows.get(text.value(i)).copied())
                            .flatten()
                    })
                    .collect::<UInt32Array>()
            }
        };
        let schema = batch.schema();
        let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        for (f, c) in table
            .batch
            .schema()
            .fields()
            .iter()
            .zip(table.batch.columns())
        {
            let taken = take(c.as_ref(), &indices, None)?;
            let qualified = format!("{}.{}", join.table, f.name());
            for name in [qualified, f.name().clone()] {
                if fields.iter().any(|g| *g.name() == name) {
                    continue;
                }
                fields.push(Field::new(name, taken.data_type().clone(), true));
                columns.push(Arc::clone(&taken));
            }
        }
        Ok(RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            columns,
        )?)
    }
}

/// A query's join and its bound table.
#[derive(Debug)]
pub struct Joined {
    spec: JoinSpec,
    reference: Reference,
}

impl Joined {
    /// The join of `plan`, its table read from the file `references` binds
    /// to its name (or, for `stream:NAME`, the stream of the store in
    /// `data_dir`); `None` without a join.
    ///
    /// # Errors
    /// [`QueryError::Usage`] when no reference of the join's name is bound,
    /// or a stream is bound without a store; [`Reference::load`]'s errors.
    pub fn bind(
        plan: &Plan,
        references: &[(String, PathBuf)],
        data_dir: Option<&Path>,
    ) -> Result<Option<Joined>> {
        let Some(spec) = &plan.join else {
            return Ok(None);
        };
        let (_, path) = references
            .iter()
            .find(|(name, _)| *name == spec.table)
            .ok_or_else(|| {
                QueryError::Usage(format!(
                    "the query joins {0}: bind it to a file with --reference {0}=FILE",
                    spec.table
                ))
            })?;
        let stream = path.to_str().and_then(|p| p.strip_prefix("stream:"));
        let mut reference = match (stream, data_dir) {
            (Some(stream), Some(dir)) => Reference::stream(&spec.table, dir, stream),
            (Some(_), None) => {
                return Err(QueryError::Usage(format!(
                    "reference {}: a stream reference needs the store (no data directory)",
                    spec.table
                )));
            }
            (None, _) => Reference::new(&spec.table, path),
        };
        reference.load(&spec.ref_key)?;
        Ok(Some(Joined {
            spec: spec.clone(),
            reference,
        }))
    }

    /// `batch` enriched ([`Reference::enrich`]).
    ///
    /// # Errors
    /// As [`Reference::enrich`].
    pub fn apply(&mut self, batch: RecordBatch) -> Result<RecordBatch> {
        self.reference.enrich(&self.spec, batch)
    }

    /// The bound table.
    pub fn reference(&self) -> &Reference {
        &self.reference
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::parse_with;

    fn refs() -> Vec<String> {
        vec!["sites".into()]
    }

    #[test]
    fn a_join_with_a_bound_reference_plans_and_a_stream_join_is_refused() {
        let plan = parse_with(
            "SELECT sites.site, count(*) AS n FROM input i JOIN sites ON i.sensor = sites.sensor \
             WHERE i.temp > 1 GROUP BY sites.site, TUMBLE(ts, INTERVAL '1' MINUTE)",
            &refs(),
        )
        .unwrap();
        let join = plan.join.clone().unwrap();
        assert_eq!(
            (
                join.kind,
                join.input.as_str(),
                join.input_key.as_str(),
                join.ref_key.as_str()
            ),
            (JoinKind::Inner, "i", "sensor", "sensor")
        );
        assert_eq!(plan.keys, ["sites.site"]);
        assert_eq!(plan.names()[2], "site");
        let filter = format!("{:?}", plan.filter);
        assert!(
            filter.contains("sites.sensor") && filter.contains("\"temp\""),
            "{filter}"
        );
        let left = parse_with(
            "SELECT count(*) FROM input LEFT JOIN sites s ON s.sensor = input.sensor \
             GROUP BY s.site, TUMBLE(ts, INTERVAL '1' MINUTE)",
            &["s".into()],
        )
        .unwrap();
        assert_eq!(left.join.unwrap().kind, JoinKind::Left);
        assert!(left.filter.is_none());
        let err = parse_with(
            "SELECT count(*) FROM a JOIN b ON a.x = b.x GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)",
            &refs(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("JOIN b: joins between two streams"), "{err}");
        let err = parse_with(
            "SELECT count(*) FROM a JOIN sites ON a.x > sites.x GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)",
            &refs(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("ON other than"), "{err}");
    }

    #[test]
    fn a_repeated_key_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sites.csv");
        std::fs::write(&path, "sensor,site\na,north\nb,south\na,east\n").unwrap();
        let err = Reference::new("sites", &path)
            .load("sensor")
            .unwrap_err()
            .to_string();
        assert!(err.contains("key \"a\" is in rows 1 and 3"), "{err}");
    }
}
