//! Where `osprey aggregate`'s outputs go, as `--output` and `--errors` name
//! them: the wiring from a path, `-`, a broker (`mqtt://HOST/PREFIX`: rows
//! on `PREFIX/rows`, [`crate::broker`]) or `stream:NAME` to the sinks of
//! `osprey_query` ([`ResultSink`], [`ErrorSink`]), which encode the rows.
//!
//! Rows into a stream are typed records ([`StreamRecords`]): the rows
//! written since the last flush are put as one batch when the engine hands
//! on a batch of closed windows, the refused ones retried while the store
//! is busy. Each row's partition key is
//! its GROUP BY key values joined with `/` (the window start when there are
//! no keys, [`Plan::partition_fields`](osprey_query::Plan::partition_fields)),
//! so rows spread over the shards as their groups do, and the rows of one
//! group stay in one shard, in order.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use osprey_ingest::broker::{Broker, OutputOptions};
use osprey_ingest::output_spec::OutputSpec;
use osprey_ingest::sink::StreamRecords;
use osprey_ingest::sink::stream::partition_key;
use osprey_ingest::store::Store;
use osprey_query::{ErrorSink, ResultSink, TableFormat};

use super::args::OutputFormat;
use crate::error::UsageError;

/// Where result rows go, as `--output` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination<'a> {
    /// `-`: standard output.
    Stdout,
    /// A file.
    File(&'a Path),
    /// `stream:NAME`: a stream of the store.
    Stream(String),
    /// `mqtt://...`, `nats://...`, `jetstream://...`: a broker.
    Broker(Broker),
}

impl<'a> Destination<'a> {
    /// Reads `--output`.
    ///
    /// # Errors
    /// [`OutputSpecError`](osprey_ingest::output_spec::OutputSpecError)
    /// for `stream:` without a name, or an empty path.
    pub fn parse(path: &'a Path) -> Result<Self> {
        Ok(match OutputSpec::parse(path, "--output")? {
            OutputSpec::Stdout => Destination::Stdout,
            OutputSpec::Stream(name) => Destination::Stream(name),
            OutputSpec::Broker(broker) => Destination::Broker(broker),
            // aggregate has no webhook output: an `http://` output names a
            // file, as it always has.
            OutputSpec::Webhook(_) | OutputSpec::File(_) => Destination::File(path),
        })
    }

    /// The format: `format` when given, else from a file's extension, else NDJSON.
    pub fn format(&self, format: Option<OutputFormat>) -> OutputFormat {
        let by_extension = match self {
            Destination::File(path) => match path.extension().and_then(|e| e.to_str()) {
                Some("parquet") => OutputFormat::Parquet,
                Some("arrow" | "ipc" | "feather") => OutputFormat::Arrow,
                _ => OutputFormat::Ndjson,
            },
            Destination::Stdout | Destination::Stream(_) | Destination::Broker(_) => {
                OutputFormat::Ndjson
            }
        };
        format.unwrap_or(by_extension)
    }
}

/// Where a stream output is and what its records are keyed by.
#[derive(Debug, Clone, Copy)]
pub struct StreamTarget<'a> {
    /// The store's data directory.
    pub data_dir: &'a Path,
    /// The store already open in this process (the server's), used instead
    /// of opening `data_dir`.
    pub store: Option<&'a Arc<Store>>,
    /// The partition key of a record that has none of `key_fields`.
    pub partition_key: &'a str,
    /// The result columns whose values key each record (the GROUP BY keys,
    /// or the window start when there are none).
    pub key_fields: &'a [String],
}

/// Opens the result output.
///
/// # Errors
/// When the file cannot be created, the stream does not exist, or Parquet or
/// Arrow is asked for on stdout or a stream.
pub fn open(
    dest: &Destination<'_>,
    format: Option<OutputFormat>,
    names: &[String],
    target: StreamTarget<'_>,
) -> Result<ResultSink> {
    let format = dest.format(format);
    let create = |path: &Path| {
        File::create(path).with_context(|| format!("cannot create {}", path.display()))
    };
    let out: Box<dyn Write> = match (dest, format) {
        (Destination::File(path), OutputFormat::Parquet) => {
            return Ok(ResultSink::table(
                TableFormat::Parquet,
                create(path)?,
                names,
            ));
        }
        (Destination::File(path), OutputFormat::Arrow) => {
            return Ok(ResultSink::table(TableFormat::Arrow, create(path)?, names));
        }
        (
            Destination::Stdout | Destination::Stream(_) | Destination::Broker(_),
            OutputFormat::Parquet | OutputFormat::Arrow,
        ) => {
            return Err(anyhow::anyhow!(UsageError(
                "parquet and arrow output need --output FILE".into()
            )));
        }
        (Destination::Stdout, OutputFormat::Ndjson) => Box::new(std::io::stdout()),
        (Destination::Broker(broker), OutputFormat::Ndjson) => {
            let mut options = OutputOptions::default();
            options.other_topic = "rows".to_owned();
            crate::broker::output(broker, &options)?
        }
        (Destination::File(path), OutputFormat::Ndjson) => Box::new(create(path)?),
        (Destination::Stream(name), OutputFormat::Ndjson) => {
            let store = match target.store {
                Some(store) => Arc::clone(store),
                None => Arc::new(crate::store::open_store(
                    target.data_dir,
                    Default::default(),
                )?),
            };
            let records = StreamRecords::new(store, name).with_context(|| {
                format!(
                    "cannot write to stream {name:?} (create it with `osprey stream create {name}`)"
                )
            })?;
            let fallback = partition_key(target.partition_key);
            return Ok(ResultSink::stream(
                records,
                names,
                target.key_fields,
                &fallback,
            ));
        }
    };
    Ok(ResultSink::ndjson(out, names))
}

/// Opens the error output: `path`, or stderr for `-`.
///
/// # Errors
/// When the file cannot be created.
pub fn open_errors(path: &Path) -> Result<ErrorSink> {
    let out: Box<dyn Write> = if path == Path::new("-") {
        Box::new(std::io::stderr())
    } else {
        Box::new(File::create(path).with_context(|| format!("cannot create {}", path.display()))?)
    };
    Ok(ErrorSink::new(out))
}
