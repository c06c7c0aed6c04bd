//! Where records come from: the forms text records take before the chunker
//! types them (NDJSON lines, CSV rows, read by the caller with its own
//! bounds on a record's size), and Parquet files read straight into batches.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::file::metadata::ParquetMetaData;

use crate::error::{IngestError, Result};

/// The text formats the chunker reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordFormat {
    /// One JSON object a line.
    Ndjson,
    /// Comma-separated values with a header row (RFC 4180 quoting).
    Csv,
}

/// One record as read, before the chunker types it.
#[derive(Debug, Clone, PartialEq)]
pub enum RawRecord {
    /// An NDJSON line.
    Json(String),
    /// An NDJSON line parsed by the thread that read it.
    Parsed(super::chunker::ParsedJson),
    /// The CSV header.
    Header(Vec<String>),
    /// A CSV record.
    Cells(Vec<String>),
}

/// The record batches of a Parquet file, `batch_rows` rows at a time.
///
/// # Errors
/// [`IngestError::Parquet`] when the file cannot be opened or is not Parquet;
/// each batch can fail the same way while it is decoded.
pub fn read_parquet(
    path: &Path,
    batch_rows: usize,
) -> Result<impl Iterator<Item = Result<RecordBatch>> + use<>> {
    let reader = parquet_reader(path)?
        .with_batch_size(batch_rows.max(1))
        .build()
        .map_err(|e| parquet_error(path, &e))?;
    let shown = path.display().to_string();
    Ok(reader.map(move |b| b.map_err(|e| IngestError::Parquet(format!("{shown}: {e}")))))
}

/// A reader of a Parquet file as [`read_parquet`] reads it (text columns
/// stored with a dictionary come back dictionary-encoded), for a caller
/// that picks row groups or rows first.
///
/// # Errors
/// [`IngestError::Parquet`] when the file cannot be opened or is not Parquet.
pub fn parquet_reader(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>> {
    let fail = |e: &dyn std::fmt::Display| parquet_error(path, e);
    let open = || File::open(path).map_err(|e| fail(&e));
    let plain = ParquetRecordBatchReaderBuilder::try_new(open()?).map_err(|e| fail(&e))?;
    let metadata = plain.metadata().clone();
    // A text column whose every chunk has a dictionary comes back
    // dictionary-encoded, as it is stored: a key column's distinct values
    // are then looked up once a batch, not once a row. One stored plain
    // (a writer gives up on dictionaries past some size) comes back plain:
    // as a dictionary array it would be one entry a row, built for nothing.
    let fields: Vec<Field> = plain
        .schema()
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 if has_dictionaries(&metadata, f.name()) => {
                f.as_ref().clone().with_data_type(DataType::Dictionary(
                    Box::new(DataType::Int32),
                    Box::new(DataType::Utf8),
                ))
            }
            _ => f.as_ref().clone(),
        })
        .collect();
    let options = ArrowReaderOptions::new().with_schema(Arc::new(Schema::new(fields)));
    let metadata = ArrowReaderMetadata::try_new(metadata, options).map_err(|e| fail(&e))?;
    Ok(ParquetRecordBatchReaderBuilder::new_with_metadata(
        open()?,
        metadata,
    ))
}

/// Whether the top-level column `name` has a dictionary page in every row
/// group (and the file has a row group).
fn has_dictionaries(metadata: &ParquetMetaData, name: &str) -> bool {
    let columns = metadata.file_metadata().schema_descr().columns();
    let Some(index) = columns
        .iter()
        .position(|c| c.path().parts() == [name.to_owned()])
    else {
        return false;
    };
    !metadata.row_groups().is_empty()
        && metadata
            .row_groups()
            .iter()
            .all(|g| g.column(index).dictionary_page_offset().is_some())
}

/// A Parquet error about `path`, as [`read_parquet`] words it.
pub fn parquet_error(path: &Path, e: &dyn std::fmt::Display) -> IngestError {
    IngestError::Parquet(format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parquet_round_trips_a_chunked_batch() {
        use crate::chunk::{ChunkConfig, Chunker, RecordSchema};
        let mut c = Chunker::new(ChunkConfig {
            schema: Some(RecordSchema::parse("ts:timestamp,sensor:string,temp:f64").unwrap()),
            ..ChunkConfig::default()
        })
        .unwrap();
        for i in 0..10 {
            c.push_json(&format!(
                r#"{{"ts":{i},"sensor":"s{}","temp":{i}.5}}"#,
                i % 3
            ))
            .unwrap();
        }
        let batch = c.flush().unwrap().unwrap();
        let dir = tempfile::tempdir().unwrap();
        // Text stored with a dictionary comes back dictionary-encoded, text
        // stored plain comes back plain; the values are the same.
        for (dictionary, text) in [
            (
                true,
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            ),
            (false, DataType::Utf8),
        ] {
            let path = dir.path().join(format!("t{dictionary}.parquet"));
            let file = File::create(&path).unwrap();
            let props = parquet::file::properties::WriterProperties::builder()
                .set_dictionary_enabled(dictionary)
                .build();
            let mut w =
                parquet::arrow::ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
            w.write(&batch).unwrap();
            w.close().unwrap();
            let back: Vec<_> = read_parquet(&path, 4)
                .unwrap()
                .map(Result::unwrap)
                .collect();
            assert_eq!(
                back.iter().map(RecordBatch::num_rows).collect::<Vec<_>>(),
                [4, 4, 2]
            );
            let all = arrow::compute::concat_batches(&back[0].schema(), &back).unwrap();
            assert_eq!(all.column(1).data_type(), &text);
            let sensor = arrow::compute::cast(all.column(1), &DataType::Utf8).unwrap();
            assert_eq!(&sensor, batch.column(1));
            assert_eq!(all.column(0), batch.column(0));
            assert_eq!(all.column(2), batch.column(2));
        }
    }

    #[test]
    fn parquet_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.parquet");
        std::fs::write(&path, b"not parquet").unwrap();
        let err = read_parquet(&path, 10).err().unwrap().to_string();
        assert!(err.contains("x.parquet"), "{err}");
    }
}
