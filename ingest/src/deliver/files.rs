//! Delivery into files under a folder: one file a batch, NDJSON (plain,
//! `.ndjson.gz` or `.ndjson.zst`), Parquet or Arrow IPC, under the batch's
//! time prefix; records that cannot be converted go under the errors folder
//! (`DIR/errors/` unless told otherwise).

use std::path::{Path, PathBuf};

use super::{Batch, BatchName, Destination, Result, Tally, ndjson_lines, set_aside, write_whole};
use crate::chunk::{ChunkConfig, Chunker};
use crate::sink::ContentEncoding;

/// The format of delivered files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// The records' data, one JSON value a line.
    Ndjson,
    /// Parquet, columns inferred from the records' JSON objects.
    Parquet,
    /// Arrow IPC file, columns inferred as for Parquet.
    Arrow,
}

/// Where and how batches are written as files.
#[derive(Debug, Clone)]
pub struct FilesConfig {
    /// The folder the files go under.
    pub dir: PathBuf,
    /// The folder records that cannot be converted go under.
    pub errors_dir: PathBuf,
    /// The files' format.
    pub format: FileFormat,
    /// Compression of NDJSON files (Parquet compresses itself).
    pub encoding: ContentEncoding,
}

/// Batches into files.
#[derive(Debug)]
pub struct ToFiles {
    dir: PathBuf,
    errors_dir: PathBuf,
    stream: String,
    format: FileFormat,
    encoding: ContentEncoding,
}

impl ToFiles {
    /// Batches of `stream` into files as `config` says.
    pub fn new(stream: &str, config: FilesConfig) -> Self {
        ToFiles {
            dir: config.dir,
            errors_dir: config.errors_dir,
            stream: stream.to_owned(),
            format: config.format,
            encoding: config.encoding,
        }
    }
}

impl Destination for ToFiles {
    fn deliver(&mut self, batch: &Batch, tally: &mut Tally) -> Result<()> {
        let name = BatchName::of(&self.stream, batch);
        let ext = match self.format {
            FileFormat::Ndjson => format!("ndjson{}", self.encoding.file_suffix()),
            FileFormat::Parquet => "parquet".into(),
            FileFormat::Arrow => "arrow".into(),
        };
        let path = self
            .dir
            .join(&name.prefix)
            .join(format!("{}.{ext}", name.name));
        let mut bad: Vec<(usize, String)> = Vec::new();
        let written = match self.format {
            FileFormat::Ndjson => {
                let out = ndjson_lines(batch, &mut bad);
                let n = batch.len() - bad.len();
                if n > 0 {
                    let encoding = self.encoding;
                    write_whole(&path, |f| Ok(encoding.write_to(&out, f)?))?;
                }
                n
            }
            FileFormat::Parquet | FileFormat::Arrow => {
                columns(&path, self.format, batch, &mut bad)?
            }
        };
        if written > 0 {
            tally.batches += 1;
            tally.records += written as u64;
        }
        tally.errors += set_aside(&self.errors_dir, &name, batch, &mut bad)?;
        Ok(())
    }

    fn summary(&self, tally: &Tally) -> String {
        format!(
            "delivered {} records in {} files to {}, {} to {}",
            tally.records,
            tally.batches,
            self.dir.display(),
            tally.errors,
            errors_shown(&self.dir, &self.errors_dir)
        )
    }
}

/// `errors/` when the errors folder is the default one, else its path.
fn errors_shown(dir: &Path, errors_dir: &Path) -> String {
    if errors_dir == dir.join("errors") {
        "errors/".into()
    } else {
        errors_dir.display().to_string()
    }
}

/// Converts the batch through the chunker (columns inferred from the JSON
/// objects) and writes one Parquet or Arrow IPC file; returns the rows written.
fn columns(
    path: &Path,
    format: FileFormat,
    batch: &Batch,
    bad: &mut Vec<(usize, String)>,
) -> Result<usize> {
    let mut chunker = Chunker::new(ChunkConfig {
        max_rows: usize::MAX,
        infer_rows: 1000,
        ..ChunkConfig::default()
    })?;
    let mut batches = Vec::new();
    // The chunker numbers the lines it is given from 1; map them back.
    let mut given = Vec::with_capacity(batch.len());
    for (i, (_, r)) in batch.iter().enumerate() {
        match std::str::from_utf8(&r.data) {
            Ok(text) if !text.trim().is_empty() => {
                given.push(i);
                batches.extend(chunker.push_json(text)?);
            }
            Ok(_) => bad.push((i, "empty data".into())),
            Err(_) => bad.push((i, "data is not UTF-8 JSON".into())),
        }
    }
    batches.extend(chunker.flush()?);
    for b in chunker.take_bad() {
        let i = usize::try_from(b.line)
            .ok()
            .and_then(|l| given.get(l.checked_sub(1)?))
            .copied();
        if let Some(i) = i {
            bad.push((i, b.reason));
        }
    }
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    if rows > 0 {
        write_whole(path, |f| {
            let schema = batches[0].schema();
            if format == FileFormat::Arrow {
                let mut w = arrow::ipc::writer::FileWriter::try_new(f, &schema)?;
                for b in &batches {
                    w.write(b)?;
                }
                w.finish()?;
            } else {
                let mut w = parquet::arrow::ArrowWriter::try_new(f, schema, None)?;
                for b in &batches {
                    w.write(b)?;
                }
                w.close()?;
            }
            Ok(())
        })?;
    }
    Ok(rows)
}
