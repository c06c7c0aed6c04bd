//! The loop between an input and a [`Query`]: records into the chunker,
//! refused ones to the error output with where they came from, batches into
//! the query as they fill or as the chunker's latency makes them due, so
//! windows close while a slow input is still open.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use std::sync::Arc;

use osprey_ingest::chunk::{Chunk, Chunker, Origin, RawRecord};

use super::stored::{PartitionColumn, with_partitions};
use super::tcp::Listener;
use super::text::{Rejected, TextItem};
use crate::error::{QueryError, Result};
use crate::query::{Outputs, Query};
use crate::rejects::Shown;

/// A query and its outputs, fed by one input.
pub(crate) struct Feeder<'a> {
    pub(crate) query: &'a mut Query,
    pub(crate) out: &'a mut Outputs,
    /// Columns added to every chunk the chunker makes: a stored text
    /// file's partition values.
    pub(crate) partitions: Option<Arc<Vec<PartitionColumn>>>,
}

/// The items of a batch of a text file or stdin as the chunker takes them.
pub(crate) fn text_items(
    batch: super::text::Batch,
) -> impl Iterator<Item = std::io::Result<Incoming>> {
    batch.into_iter().map(|r| {
        r.map(|r| match r {
            TextItem::Record(r) => Incoming::Record(r, None),
            TextItem::Refused { line, rejected } => Incoming::Refused(Origin::Line(line), rejected),
        })
    })
}

impl Feeder<'_> {
    /// Hands a chunk of the chunker to the query, with the partition
    /// columns when there are some.
    fn take(&mut self, chunk: Chunk) -> Result<()> {
        let chunk = match &self.partitions {
            Some(columns) => Chunk {
                batch: with_partitions(chunk.batch, columns)?,
                ..chunk
            },
            None => chunk,
        };
        self.query.push(chunk, self.out)
    }

    /// Writes the records the chunker refused to the error output, each
    /// with where it came from.
    fn bad_records(&mut self, chunker: &mut Chunker) -> Result<()> {
        let bad = chunker.take_bad();
        for bad in &bad {
            self.out
                .errors
                .refused(Some(&bad.origin), &bad.reason, Shown::Text(&bad.raw))?;
        }
        if !bad.is_empty() {
            // A live input's refusals show as they happen.
            self.out.errors.flush()?;
        }
        Ok(())
    }

    /// Pushes one NDJSON line (or CSV row) into the chunker, from `origin`
    /// when that is more than the chunker's line number, and processes the
    /// chunk it fills, if any.
    pub(crate) fn push(
        &mut self,
        chunker: &mut Chunker,
        record: RawRecord,
        origin: Option<Origin>,
    ) -> Result<()> {
        let chunk = match record {
            RawRecord::Json(line) => chunker
                .push_json_from(&line, origin)
                .map_err(QueryError::usage)?,
            RawRecord::Parsed(parsed) => chunker
                .push_parsed_from(parsed, origin)
                .map_err(QueryError::usage)?,
            RawRecord::Header(names) => {
                chunker.set_header(names);
                None
            }
            RawRecord::Cells(cells) => {
                let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
                chunker
                    .push_cells_from(&cells, origin)
                    .map_err(QueryError::usage)?
            }
        };
        self.bad_records(chunker)?;
        if let Some(chunk) = chunk {
            self.take(chunk)?;
        }
        Ok(())
    }

    /// Processes every row the chunker holds.
    pub(crate) fn drain(&mut self, chunker: &mut Chunker) -> Result<()> {
        while let Some(chunk) = chunker.flush_chunk().map_err(QueryError::usage)? {
            self.bad_records(chunker)?;
            self.take(chunk)?;
        }
        self.bad_records(chunker)
    }

    /// Reads a text input (a file, stdin, TCP) until it ends (or, with
    /// `idle`, until it has been idle that long); `items` turns what comes
    /// on `rx` (one item, or a batch) into the chunker's items.
    pub(crate) fn text<T, I>(
        &mut self,
        mut chunker: Chunker,
        rx: &Receiver<T>,
        items: impl Fn(T) -> I,
        idle: Option<Idle<'_>>,
        input: &str,
    ) -> Result<()>
    where
        I: IntoIterator<Item = std::io::Result<Incoming>>,
    {
        let mut last = Instant::now();
        loop {
            let now = Instant::now();
            let mut wait = chunker.time_left(now).unwrap_or(Duration::from_secs(3600));
            if let Some(idle) = &idle {
                if idle.listener.connections() > 0 {
                    // A connection may stay quiet as long as it likes: look again later.
                    wait = wait.min(Duration::from_millis(200));
                } else if let Some(deadline) = last
                    .max(idle.listener.last_change())
                    .checked_add(idle.after)
                {
                    if now >= deadline {
                        break;
                    }
                    wait = wait.min(deadline - now);
                }
            }
            let got = match rx.recv_timeout(wait) {
                Ok(r) => Some(r),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            // When a record last came: once a batch of items, not a clock
            // read a record.
            let mut came = false;
            for item in got.into_iter().flat_map(&items) {
                came = true;
                match item {
                    Err(e) => {
                        return Err(QueryError::Input {
                            input: input.to_owned(),
                            reason: e.to_string(),
                        });
                    }
                    Ok(Incoming::Refused(origin, rejected)) => {
                        if let Origin::Line(_) = origin {
                            chunker.skip_line();
                        }
                        let shown = Shown::Head {
                            head: &rejected.head,
                            bytes: rejected.bytes,
                        };
                        self.out
                            .errors
                            .refused(Some(&origin), &rejected.reason, shown)?;
                        self.out.errors.flush()?;
                    }
                    Ok(Incoming::Record(record, origin)) => {
                        self.push(&mut chunker, record, origin)?;
                    }
                }
                self.flush_due(&mut chunker)?;
            }
            if came {
                last = Instant::now();
            }
            self.flush_due(&mut chunker)?;
        }
        self.drain(&mut chunker)
    }

    /// Hands on the chunker's rows when its latency or size says so.
    fn flush_due(&mut self, chunker: &mut Chunker) -> Result<()> {
        if chunker.has_deadline()
            && chunker.due(Instant::now())
            && let Some(chunk) = chunker.flush_chunk().map_err(QueryError::usage)?
        {
            self.bad_records(chunker)?;
            self.take(chunk)?;
        }
        Ok(())
    }
}

/// One item of a text input for the chunker.
pub(crate) enum Incoming {
    /// An NDJSON line or CSV row, and its origin when that is more than the
    /// chunker's line number.
    Record(RawRecord, Option<Origin>),
    /// A line that cannot be a record (too long, not UTF-8): where it came
    /// from, why, its first bytes and its length. A line of a file or stdin
    /// is counted by the chunker, so later lines keep their numbers.
    Refused(Origin, Rejected),
}

/// How a TCP input ends: once no connection has been open and no line has
/// come for `after`.
pub(crate) struct Idle<'a> {
    pub(crate) after: Duration,
    pub(crate) listener: &'a Listener,
}
