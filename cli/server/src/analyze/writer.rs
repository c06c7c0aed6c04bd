//! The one output of `osprey analyze`: every source's records, whole NDJSON
//! lines, go through one [`Writer`] to stdout, a file (truncated, or
//! appended to with `--append`), a stream of the store (each record under
//! its own source as partition key) or a webhook. Each batch is flushed as
//! it is written, so records leave as soon as their chunk is analysed.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::sync::Arc;

use anyhow::{Context as _, Result, anyhow};
use osprey_ingest::sink::StreamRecords;
use osprey_ingest::sink::stream::partition_key as stream_partition_key;
use osprey_ingest::store::Store;

use super::{Output, io_reason};

/// Where the records go.
enum Target {
    /// Bytes: stdout, a file, a webhook (a POST at each flush).
    Lines(BufWriter<Box<dyn Write + Send>>),
    /// A stream, each record under its source's partition key.
    Stream(Box<StreamRecords>),
}

/// The output, open.
pub struct Writer {
    target: Target,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.target {
            Target::Lines(_) => "lines",
            Target::Stream(_) => "stream",
        };
        f.debug_struct("Writer").field("target", &kind).finish()
    }
}

impl Writer {
    /// Opens `output`; a file is appended to when `append`, else created or
    /// truncated.
    ///
    /// # Errors
    /// A file that cannot be created (its folder missing is named), a
    /// stream that does not exist, a webhook that cannot be set up.
    pub fn open(output: &Output, append: bool) -> Result<Self> {
        Writer::open_in(output, append, None)
    }

    /// Records put into a stream through `records` (the store's, or a
    /// cluster's), each under its source's partition key.
    pub fn records(records: StreamRecords) -> Self {
        Writer {
            target: Target::Stream(Box::new(records)),
        }
    }

    /// As [`Writer::open`], a stream output put through `store` when given
    /// (the server's, shared by everything in the process) instead of
    /// opening the store of its data directory.
    ///
    /// # Errors
    /// As [`Writer::open`].
    pub fn open_in(output: &Output, append: bool, store: Option<&Arc<Store>>) -> Result<Self> {
        let lines =
            |w: Box<dyn Write + Send>| Target::Lines(BufWriter::with_capacity(64 * 1024, w));
        let target = match output {
            Output::Stdout => lines(Box::new(std::io::stdout())),
            Output::Stream { data_dir, name } => {
                let store = match store {
                    Some(store) => Arc::clone(store),
                    None => Arc::new(crate::store::open_store(data_dir, Default::default())?),
                };
                let records = StreamRecords::new(store, name).with_context(|| {
                    format!("cannot write to stream {name:?} (create it with `osprey stream create {name}`)")
                })?;
                Target::Stream(Box::new(records))
            }
            Output::Webhook(config) => {
                let webhook = osprey_ingest::Webhook::new(config.clone())?;
                lines(Box::new(osprey_ingest::WebhookLines::new(webhook)))
            }
            Output::Broker(broker) => lines(crate::broker::output(
                broker,
                &osprey_ingest::broker::OutputOptions::default(),
            )?),
            Output::File(path) => {
                let opened = if append {
                    OpenOptions::new().append(true).create(true).open(path)
                } else {
                    File::create(path)
                };
                match opened {
                    Ok(f) => lines(Box::new(f)),
                    Err(e) => {
                        let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
                        let reason = match parent {
                            Some(p) if e.kind() == std::io::ErrorKind::NotFound && !p.exists() => {
                                format!("its folder {p:?} does not exist")
                            }
                            _ => io_reason(&e),
                        };
                        return Err(anyhow!("cannot create output {path:?}: {reason}"));
                    }
                }
            }
        };
        Ok(Writer { target })
    }

    /// Writes `lines` (whole NDJSON lines) of `source`, and flushes them.
    ///
    /// # Errors
    /// The output's: a closed stdout is an [`std::io::ErrorKind::BrokenPipe`]
    /// error (a success for the exit code).
    pub fn write(&mut self, source: &str, lines: &[u8]) -> Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        match &mut self.target {
            Target::Lines(out) => {
                out.write_all(lines)?;
                out.flush()?;
            }
            Target::Stream(records) => {
                let key = stream_partition_key(source);
                for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                    records.push(key.clone(), line.to_vec());
                }
                records.flush()?;
            }
        }
        Ok(())
    }

    /// Flushes what is left and closes the output.
    ///
    /// # Errors
    /// As [`Writer::write`].
    pub fn finish(self) -> Result<()> {
        match self.target {
            Target::Lines(out) => {
                let mut inner = out.into_inner().map_err(|e| e.into_error())?;
                inner.flush()?;
            }
            Target::Stream(mut records) => records.flush()?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_truncated_or_appended_to() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.ndjson");
        let output = Output::File(path.clone());
        for append in [false, true] {
            let mut w = Writer::open(&output, append).unwrap();
            w.write("a", b"{\"n\":1}\n").unwrap();
            w.finish().unwrap();
        }
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"n\":1}\n{\"n\":1}\n");
        Writer::open(&output, false).unwrap().finish().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"");
    }

    #[test]
    fn missing_output_folder_is_named() {
        let err = Writer::open(&Output::File("/no/such/folder/out.ndjson".into()), false)
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "cannot create output \"/no/such/folder/out.ndjson\": its folder \"/no/such/folder\" does not exist"
        );
    }
}
