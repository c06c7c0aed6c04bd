//! Delivery into files under a folder: one file a batch, NDJSON (plain,
//! `.ndjson.gz` or `.ndjson.zst`), Parquet or Arrow IPC, under the batch's
//! time prefix; records that cannot be converted go under the errors folder
//! (`DIR/errors/` unless `--errors-to` says otherwise).

use std::path::{Path, PathBuf};

use anyhow::Result;
use osprey_ingest::chunk::{ChunkConfig, Chunker};
use osprey_ingest::sink::ContentEncoding;

use super::{Batch, BatchName, Destination, Tally, ndjson_lines, set_aside, write_whole};
use crate::args::stream::{DeliverArgs, DeliverFormat};

/// Batches into files.
#[derive(Debug)]
pub struct ToFiles {
    dir: PathBuf,
    errors_dir: PathBuf,
    stream: String,
    format: DeliverFormat,
    encoding: ContentEncoding,
}

impl ToFiles {
    /// The destination `args` name, checked.
    ///
    /// # Errors
    /// A usage error for webhook-only flags or compression of columns.
    pub fn new(args: &DeliverArgs) -> Result<Self> {
        super::check_compression(args)?;
        let webhook_only = "webhook destinations (--to http://...)";
        super::only_for(!args.headers.is_empty(), "--header", webhook_only)?;
        super::only_for(
            args.timeout_seconds.is_some(),
            "--timeout-seconds",
            webhook_only,
        )?;
        super::only_for(
            args.retry_seconds.is_some(),
            "--retry-seconds",
            webhook_only,
        )?;
        Ok(ToFiles {
            dir: args.to.clone(),
            errors_dir: args
                .errors_to
                .clone()
                .unwrap_or_else(|| args.to.join("errors")),
            stream: args.stream.clone(),
            format: args.format,
            encoding: args.compression.encoding(),
        })
    }
}

impl Destination for ToFiles {
    fn deliver(&mut self, batch: &Batch, tally: &mut Tally) -> Result<()> {
        let name = BatchName::of(&self.stream, batch);
        let ext = match self.format {
            DeliverFormat::Ndjson => format!("ndjson{}", self.encoding.file_suffix()),
            DeliverFormat::Parquet => "parquet".into(),
            DeliverFormat::Arrow => "arrow".into(),
        };
        let path = self
            .dir
            .join(&name.prefix)
            .join(format!("{}.{ext}", name.name));
        let mut bad: Vec<(usize, String)> = Vec::new();
        let written = match self.format {
            DeliverFormat::Ndjson => {
                let out = ndjson_lines(batch, &mut bad);
                let n = batch.len() - bad.len();
                if n > 0 {
                    let encoding = self.encoding;
                    write_whole(&path, |f| Ok(encoding.write_to(&out, f)?))?;
                }
                n
            }
            DeliverFormat::Parquet | DeliverFormat::Arrow => {
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
    format: DeliverFormat,
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
            if format == DeliverFormat::Arrow {
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
