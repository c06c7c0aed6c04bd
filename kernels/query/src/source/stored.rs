//! Stored files read into a query in a fixed order: one Parquet file, or
//! many ([`files`](super::files): a directory, a glob, a Hive-style tree),
//! Parquet decoded in parallel, NDJSON and CSV files (plain, gzip or zstd,
//! as `osprey deliver` writes them) read through the chunker in turn, once
//! the Parquet batches before them are in.
//!
//! ```text
//! files (path order) ─► plan each: skip by path, row groups by statistics
//!     ─► units (whole row groups) ─► decoded on up to `threads` threads
//!     ─► taken in order ─► + partition columns ─► Query::push
//! ```
//!
//! Each file's selected row groups are its units: one group a unit, or
//! consecutive small groups together until a unit holds `batch_rows` rows.
//! A unit never begins inside a group: without a page index (DuckDB and
//! most writers write none), reaching a row inside a group decompresses the
//! group's pages before it, and cutting 1M-row groups into 64k-row units did
//! that 16 times a group. Each unit is decoded in batches of `batch_rows`
//! rows on a thread of its own, at most `threads` units at a time, and the
//! query takes them back in order. The units depend on the file only, so
//! the query sees the same batches, and writes the same bytes, whatever the
//! number of threads. A file of one row group is decoded on one thread.
//! Memory stays bounded: a unit's thread waits, a batch decoded, until the
//! query takes it.
//!
//! A text file is read as a file given alone is (each its own chunker, its
//! schema inferred from its first records unless one is given; a line
//! refused goes to the error output with its file and its line number in
//! that file), and
//! is left unread by its path like a Parquet file; it has no statistics.
//!
//! A file's partition values (its `key=value` folders) become columns of
//! every batch from it: a key whose every value reads as an integer is an
//! `Int64` column, any other a text column; a file without the key gives
//! NULL, and a file that has a column of the key's name keeps its own.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};

use arrow::array::{
    ArrayRef, DictionaryArray, Int32Array, Int64Array, StringArray, new_null_array,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema};
use arrow::record_batch::RecordBatch;
use osprey_ingest::chunk::{
    Chunk, ChunkConfig, Chunker, RecordFormat, parquet_error, parquet_reader,
};

use super::feed::{Feeder, text_items};
use super::files::{Compression, FileKind, KINDS, StoredFile, list};
use super::prune::{TimeColumn, TimeRange, path_span};
use crate::error::{QueryError, Result};

/// Rows decoded ahead of the query at most (over all threads), so that
/// large batches on many threads stay within memory.
const AHEAD_ROWS: usize = 8 << 20;

/// How many files and row groups a read opened and left unread.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadCounts {
    /// Files listed.
    pub files: usize,
    /// Files left unread because their path's hour is outside the WHERE
    /// time range.
    pub skipped_by_path: usize,
    /// Files opened whose every row group's statistics are outside it.
    pub skipped_by_stats: usize,
    /// Row groups of the files opened.
    pub row_groups: usize,
    /// Row groups read.
    pub row_groups_read: usize,
}

impl ReadCounts {
    /// Files read (at least one row group of them).
    pub fn files_read(&self) -> usize {
        self.files - self.skipped_by_path - self.skipped_by_stats
    }
}

impl std::fmt::Display for ReadCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "read {} of {} files ({} of {} row groups); skipped by the WHERE time range: {} files by their path, {} by their statistics",
            self.files_read(),
            self.files,
            self.row_groups_read,
            self.row_groups,
            self.skipped_by_path,
            self.skipped_by_stats
        )
    }
}

/// The type a partition key's column gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyType {
    Int,
    Text,
}

/// Parquet files to read into a query, and how.
#[derive(Debug)]
pub struct StoredData {
    files: Vec<StoredFile>,
    /// Every partition key, in order of first appearance, and its type.
    keys: Vec<(String, KeyType)>,
    threads: usize,
    skip_by_path: bool,
    name: String,
    counts: ReadCounts,
}

/// The machine's cores, the default number of decoding threads.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

impl StoredData {
    /// One Parquet file, named `name` in errors.
    pub fn file(path: PathBuf, name: &str) -> StoredData {
        StoredData::of(
            vec![StoredFile {
                path,
                partitions: Vec::new(),
            }],
            name,
        )
    }

    /// The Parquet files of a directory or a glob ([`list`]).
    ///
    /// # Errors
    /// [`QueryError::Input`] as [`list`].
    pub fn list(input: &str) -> Result<StoredData> {
        Ok(StoredData::of(list(input)?, input))
    }

    fn of(files: Vec<StoredFile>, name: &str) -> StoredData {
        let mut keys: Vec<(String, KeyType)> = Vec::new();
        for (k, v) in files.iter().flat_map(|f| &f.partitions) {
            let t = if v.parse::<i64>().is_ok() {
                KeyType::Int
            } else {
                KeyType::Text
            };
            match keys.iter_mut().find(|(key, _)| key == k) {
                Some((_, kt)) if t == KeyType::Text => *kt = KeyType::Text,
                Some(_) => {}
                None => keys.push((k.clone(), t)),
            }
        }
        StoredData {
            counts: ReadCounts {
                files: files.len(),
                ..ReadCounts::default()
            },
            files,
            keys,
            threads: default_threads(),
            skip_by_path: true,
            name: name.to_owned(),
        }
    }

    /// Decodes on up to `threads` threads (at least 1) beside the query's.
    #[must_use]
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Whether a file whose Hive path (`year=/month=/day=/hour=`) is
    /// outside the WHERE time range is left unread (by default it is: the
    /// path is taken as the hour of the event times in the file).
    #[must_use]
    pub fn skip_by_path(mut self, skip: bool) -> Self {
        self.skip_by_path = skip;
        self
    }

    /// The files and row groups read and skipped so far.
    pub fn counts(&self) -> ReadCounts {
        self.counts
    }

    /// Reads every file into the query, in path order: Parquet in batches
    /// of `chunk.max_rows`, text through a chunker set up by `chunk`. The
    /// input is bounded and read as fast as it decodes, so the query writes
    /// each batch's closed windows while it aggregates the next
    /// ([`Query::defer_rows`](crate::Query::defer_rows)); the caller's
    /// [`Query::finish`](crate::Query::finish) writes the last.
    pub(crate) fn feed(&mut self, feed: &mut Feeder<'_>, chunk: &ChunkConfig) -> Result<()> {
        feed.query.defer_rows(true);
        let plan = feed.query.plan();
        let range = TimeRange::of(plan.filter.as_ref(), &plan.time_field);
        let time = plan.time_field.clone();
        let batch_rows = chunk.max_rows.max(1);
        // A unit in flight holds two batches at most: one sent, one decoded.
        let ahead = self
            .threads
            .min((AHEAD_ROWS / (2 * batch_rows)).max(1))
            .max(1);
        // Each unit's file, named on the error lines of its records.
        let mut pending: VecDeque<(PathBuf, Receiver<Result<RecordBatch>>)> = VecDeque::new();
        let mut units: VecDeque<Step> = VecDeque::new();
        let mut next_file = 0;
        loop {
            while pending.len() < ahead {
                if units.is_empty() && next_file < self.files.len() {
                    let file = next_file;
                    next_file += 1;
                    units.extend(self.plan_file(file, &range, &time, batch_rows)?);
                    continue;
                }
                // A text file waits until the batches before it are in.
                if let Some(Step::Decode(_)) = units.front()
                    && let Some(Step::Decode(unit)) = units.pop_front()
                {
                    pending.push_back(unit.spawn(batch_rows));
                    continue;
                }
                break;
            }
            if let Some((path, rx)) = pending.pop_front() {
                feed.out.errors.set_file(Some(&path));
                // Each batch is converted while the one before aggregates
                // (Query::push_prepared); a unit's last goes in alone, so
                // every error line names the file its row is in.
                let mut ready = None;
                for batch in rx {
                    let chunk = Chunk::from(batch?);
                    ready = match ready.take() {
                        None => Some(feed.query.prepare(chunk)?),
                        Some(now) => feed.query.push_prepared(now, Some(chunk), feed.out)?,
                    };
                }
                if let Some(last) = ready {
                    feed.query.push_prepared(last, None, feed.out)?;
                }
                continue;
            }
            match units.pop_front() {
                Some(Step::Text(text)) => text.feed(feed, chunk, &self.name, self.threads)?,
                Some(Step::Decode(unit)) => pending.push_back(unit.spawn(batch_rows)),
                None => break,
            }
        }
        feed.out.errors.set_file(None);
        Ok(())
    }

    /// The units of file `index`: none when its path or its statistics put
    /// it outside `range`.
    fn plan_file(
        &mut self,
        index: usize,
        range: &TimeRange,
        time: &str,
        batch_rows: usize,
    ) -> Result<Vec<Step>> {
        let file = &self.files[index];
        let fail = |e: &dyn std::fmt::Display| QueryError::Input {
            input: self.name.clone(),
            reason: e.to_string(),
        };
        if self.skip_by_path
            && !range.is_all()
            && let Some((start, end)) = path_span(&file.partitions)
            && !range.overlaps(start, end)
        {
            self.counts.skipped_by_path += 1;
            return Ok(Vec::new());
        }
        match file.kind() {
            Some(FileKind::Text {
                format,
                compression,
            }) => {
                return Ok(vec![Step::Text(TextFile {
                    path: file.path.clone(),
                    format,
                    compression,
                    columns: Arc::new(self.partition_columns(file)),
                })]);
            }
            // One file named alone is Parquet whatever its name.
            Some(FileKind::Parquet) => {}
            None if self.files.len() == 1 => {}
            None => {
                return Err(fail(&format!(
                    "{}: not a data file; give {KINDS}",
                    file.path.display()
                )));
            }
        }
        let builder = parquet_reader(&file.path).map_err(|e| fail(&e))?;
        let meta = builder.metadata();
        let leaves: Vec<String> = meta
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .map(|c| c.path().string())
            .collect();
        let time_type = builder
            .schema()
            .field_with_name(time)
            .ok()
            .map(Field::data_type);
        let time_column = TimeColumn::find(time_type, &leaves, time).filter(|_| !range.is_all());
        let groups: Vec<(usize, usize)> = meta
            .row_groups()
            .iter()
            .enumerate()
            .filter(|(_, g)| {
                time_column
                    .and_then(|c| c.span(g))
                    .is_none_or(|(start, end)| range.overlaps(start, end))
            })
            .map(|(i, g)| (i, usize::try_from(g.num_rows()).unwrap_or(0)))
            .collect();
        self.counts.row_groups += meta.num_row_groups();
        self.counts.row_groups_read += groups.len();
        if groups.is_empty() && meta.num_row_groups() > 0 {
            self.counts.skipped_by_stats += 1;
            return Ok(Vec::new());
        }
        let columns = Arc::new(self.partition_columns(file));
        let all = groups.len() == meta.num_row_groups();
        let total: usize = groups.iter().map(|(_, n)| n).sum();
        if total <= batch_rows && all {
            // One unit, the whole file (an empty one included).
            return Ok(vec![Step::Decode(Unit {
                path: file.path.clone(),
                groups: None,
                columns,
                name: self.name.as_str().into(),
            })]);
        }
        // Whole row groups a unit, consecutive small ones together until a
        // unit holds batch_rows rows: a unit that began inside a group would
        // decompress the group's pages before it only to skip them.
        let mut units = Vec::new();
        let mut unit_groups = Vec::new();
        let mut rows = 0;
        for (i, &(g, n)) in groups.iter().enumerate() {
            unit_groups.push(g);
            rows += n;
            if rows >= batch_rows || i + 1 == groups.len() {
                units.push(Step::Decode(Unit {
                    path: file.path.clone(),
                    groups: Some(std::mem::take(&mut unit_groups)),
                    columns: Arc::clone(&columns),
                    name: self.name.as_str().into(),
                }));
                rows = 0;
            }
        }
        Ok(units)
    }

    /// The partition columns of `file`: one a key, its value or NULL.
    fn partition_columns(&self, file: &StoredFile) -> Vec<PartitionColumn> {
        self.keys
            .iter()
            .map(|(key, t)| {
                let value = file
                    .partitions
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.clone());
                PartitionColumn {
                    name: key.clone(),
                    value: match t {
                        KeyType::Int => PartitionValue::Int(value.and_then(|v| v.parse().ok())),
                        KeyType::Text => PartitionValue::Text(value),
                    },
                }
            })
            .collect()
    }
}

/// A partition key's value for every row of a file.
#[derive(Debug)]
pub(crate) struct PartitionColumn {
    name: String,
    value: PartitionValue,
}

#[derive(Debug)]
enum PartitionValue {
    Int(Option<i64>),
    Text(Option<String>),
}

impl PartitionColumn {
    fn array(&self, rows: usize) -> ArrayRef {
        match &self.value {
            PartitionValue::Int(Some(v)) => Arc::new(Int64Array::from(vec![*v; rows])),
            PartitionValue::Int(None) => new_null_array(&DataType::Int64, rows),
            PartitionValue::Text(Some(v)) => Arc::new(DictionaryArray::<Int32Type>::new(
                Int32Array::from(vec![0; rows]),
                Arc::new(StringArray::from(vec![v.as_str()])),
            )),
            PartitionValue::Text(None) => new_null_array(
                &DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                rows,
            ),
        }
    }
}

/// What reads one file, or part of one: in the order of the files.
#[derive(Debug)]
enum Step {
    /// Parquet rows decoded on a thread of their own.
    Decode(Unit),
    /// A text file, read through the chunker on the query's thread.
    Text(TextFile),
}

/// An NDJSON or CSV file of stored data.
#[derive(Debug)]
struct TextFile {
    path: PathBuf,
    format: RecordFormat,
    compression: Compression,
    columns: Arc<Vec<PartitionColumn>>,
}

impl TextFile {
    /// Reads the file into the query through a chunker of its own, its
    /// partition columns added to every chunk.
    fn feed(
        self,
        feed: &mut Feeder<'_>,
        chunk: &ChunkConfig,
        name: &str,
        threads: usize,
    ) -> Result<()> {
        let input = format!("{name}: {}", self.path.display());
        let fail = |e: std::io::Error| QueryError::Input {
            input: input.clone(),
            reason: e.to_string(),
        };
        let file = std::fs::File::open(&self.path).map_err(fail)?;
        let reader: Box<dyn std::io::Read + Send> = match self.compression {
            Compression::None => Box::new(file),
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(
                std::io::BufReader::new(file),
            )),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(file).map_err(fail)?),
        };
        let chunker = Chunker::new(chunk.clone()).map_err(QueryError::usage)?;
        let rx = super::text::spawn_text(reader, self.format, super::TEXT_BACKLOG, threads);
        feed.out.errors.set_file(Some(&self.path));
        feed.partitions = Some(self.columns);
        let read = feed.text(chunker, &rx, text_items, None, &input);
        feed.partitions = None;
        read
    }
}

/// Whole row groups of one file (or a whole small file), decoded in
/// batches on a thread of its own.
#[derive(Debug)]
struct Unit {
    path: PathBuf,
    groups: Option<Vec<usize>>,
    columns: Arc<Vec<PartitionColumn>>,
    /// The input as the user named it, for errors.
    name: Arc<str>,
}

impl Unit {
    /// Starts decoding; the batches come on the receiver, in order, with
    /// the unit's file.
    fn spawn(self, batch_rows: usize) -> (PathBuf, Receiver<Result<RecordBatch>>) {
        let (tx, rx) = sync_channel(1);
        let path = self.path.clone();
        std::thread::spawn(move || {
            let fail = |e: &dyn std::fmt::Display| QueryError::Input {
                input: self.name.to_string(),
                reason: parquet_error(&self.path, e).to_string(),
            };
            let reader = parquet_reader(&self.path).and_then(|mut b| {
                if let Some(groups) = self.groups.clone() {
                    b = b.with_row_groups(groups);
                }
                b.with_batch_size(batch_rows)
                    .build()
                    .map_err(|e| parquet_error(&self.path, &e))
            });
            let reader = match reader {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.send(Err(QueryError::Input {
                        input: self.name.to_string(),
                        reason: e.to_string(),
                    }));
                    return;
                }
            };
            for batch in reader {
                let batch = batch
                    .map_err(|e| fail(&e))
                    .and_then(|b| with_partitions(b, &self.columns));
                let failed = batch.is_err();
                if tx.send(batch).is_err() || failed {
                    return;
                }
            }
        });
        (path, rx)
    }
}

/// `batch` with the partition columns it lacks.
pub(crate) fn with_partitions(
    batch: RecordBatch,
    columns: &[PartitionColumn],
) -> Result<RecordBatch> {
    let columns: Vec<&PartitionColumn> = columns
        .iter()
        .filter(|c| batch.schema().column_with_name(&c.name).is_none())
        .collect();
    if columns.is_empty() {
        return Ok(batch);
    }
    let schema = batch.schema();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    let mut arrays = batch.columns().to_vec();
    for c in columns {
        let array = c.array(batch.num_rows());
        fields.push(Field::new(&c.name, array.data_type().clone(), true));
        arrays.push(array);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .map_err(|e| QueryError::Usage(format!("cannot add the partition columns: {e}")))
}
