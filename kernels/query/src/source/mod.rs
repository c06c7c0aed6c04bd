//! Where a query's records come from: NDJSON or CSV text (a file, stdin),
//! Parquet files (one, a directory, a glob, a Hive-style tree), NDJSON
//! lines over TCP, or a stream of the store; and the loop that reads one
//! into a [`Query`] ([`Source::feed`]).
//!
//! ```text
//! Source::Text | Tcp | Stream ─► chunker (+ origins) ─► Query::push ─► Outputs
//! Source::Stored | Parquet ─► row groups decoded in parallel, in order ─► Query::push
//! ```
//!
//! - [`text`]: files and stdin, read on a thread of their own.
//! - [`files`]: the data files of a directory or a glob, their formats and
//!   their partition values.
//! - [`prune`]: the WHERE time range against paths and row-group statistics.
//! - [`stored`]: stored files into a query: Parquet decoded on several
//!   threads, NDJSON and CSV (plain, gzip, zstd) read through the chunker.
//! - [`tcp`]: a listener whose connections feed one bounded channel.
//! - [`stream`]: a stream of the store, read by a consumer that checkpoints
//!   only past written windows.
//!
//! Memory stays bounded: text and TCP lines are kept only up to the store's
//! record limit and wait in bounded channels, so a fast input waits for the
//! engine; Parquet is decoded a few batches ahead ([`stored`]). A refused line or record
//! goes to the error output with where it came from, and the rest goes on.

mod feed;
pub mod files;
pub mod prune;
pub mod stored;
pub mod stream;
pub mod tcp;
pub mod text;

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use osprey_ingest::chunk::{ChunkConfig, Chunker, RawRecord, RecordFormat};

use self::feed::{Feeder, Idle, Incoming, text_items};
pub use self::stored::{ReadCounts, StoredData};
pub use self::stream::{LiveCounts, StreamSource};
pub use self::tcp::{Listener, TcpLine, listen};
pub use self::text::{HEAD_BYTES, Rejected, TextItem, spawn_text};
use crate::error::{QueryError, Result};
use crate::query::{Outputs, Query};

/// Text records read ahead of the engine at most.
pub(crate) const TEXT_BACKLOG: usize = 4096;

/// One input of a query.
pub enum Source<'s> {
    /// NDJSON or CSV text: a file, stdin, any reader.
    Text {
        /// What to read.
        reader: Box<dyn Read + Send>,
        /// How its records are written.
        format: RecordFormat,
        /// The input as the user named it, for errors.
        name: String,
        /// Threads that parse its NDJSON lines (at least 1).
        threads: usize,
    },
    /// Parquet files (one, a directory, a glob, a Hive-style tree), read
    /// in batches of the chunk config's `max_rows`, decoded in parallel.
    Stored(Box<StoredData>),
    /// A Parquet file, read in batches of the chunk config's `max_rows`
    /// (as [`Source::Stored`] of [`StoredData::file`]).
    Parquet {
        /// The file.
        path: PathBuf,
        /// The input as the user named it, for errors.
        name: String,
    },
    /// NDJSON lines over TCP, until the process ends or, with
    /// `until_idle`, until no connection has been open and no line has come
    /// for that long.
    Tcp {
        /// The listener ([`listen`]).
        listener: Listener,
        /// How long an idle listener waits before the input ends.
        until_idle: Option<Duration>,
        /// The input as the user named it, for errors.
        name: String,
    },
    /// A stream of the store.
    Stream(Box<StreamSource<'s>>),
}

impl std::fmt::Debug for Source<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Text { format, name, .. } => f
                .debug_struct("Text")
                .field("format", format)
                .field("name", name)
                .finish_non_exhaustive(),
            Source::Parquet { path, name } => f
                .debug_struct("Parquet")
                .field("path", path)
                .field("name", name)
                .finish(),
            Source::Tcp {
                listener,
                until_idle,
                name,
            } => f
                .debug_struct("Tcp")
                .field("listener", listener)
                .field("until_idle", until_idle)
                .field("name", name)
                .finish(),
            Source::Stream(s) => f.debug_tuple("Stream").field(s).finish(),
            Source::Stored(s) => f.debug_tuple("Stored").field(s).finish(),
        }
    }
}

impl Source<'_> {
    /// Reads the input to its end into `query`, whose rows and refusals go
    /// to `out`; records become batches under `chunk` (Parquet: batches of
    /// `chunk.max_rows`). The caller then finishes the query
    /// ([`Query::finish`]) and, for a stream, saves the consumer's end
    /// ([`StreamSource::finish`]).
    ///
    /// # Errors
    /// [`QueryError::Input`] for an input that cannot be read (a CSV record
    /// over the limit among them), [`QueryError::Read`] and
    /// [`QueryError::Checkpoint`] for a stream, [`QueryError::Usage`] for
    /// records the chunker cannot use, and the query's and outputs' errors.
    pub fn feed(&mut self, query: &mut Query, out: &mut Outputs, chunk: ChunkConfig) -> Result<()> {
        let mut feed = Feeder {
            query,
            out,
            partitions: None,
        };
        match self {
            Source::Parquet { path, name } => {
                StoredData::file(path.clone(), name).feed(&mut feed, &chunk)
            }
            Source::Stored(data) => data.feed(&mut feed, &chunk),
            Source::Stream(source) => {
                let chunker = Chunker::new(chunk).map_err(QueryError::usage)?;
                source.read(&mut feed, chunker)
            }
            Source::Tcp {
                listener,
                until_idle,
                name,
            } => {
                let chunker = Chunker::new(chunk).map_err(QueryError::usage)?;
                let idle = until_idle.map(|after| Idle {
                    after,
                    listener: &*listener,
                });
                let items = |lines: Vec<TcpLine>| {
                    lines.into_iter().map(|line| {
                        Ok(match line.text {
                            Ok(parsed) => {
                                Incoming::Record(RawRecord::Parsed(parsed), Some(line.origin))
                            }
                            Err(reason) => Incoming::Refused(line.origin, reason),
                        })
                    })
                };
                feed.text(chunker, &listener.lines, items, idle, name)
            }
            Source::Text {
                reader,
                format,
                name,
                threads,
            } => {
                let chunker = Chunker::new(chunk).map_err(QueryError::usage)?;
                let reader = std::mem::replace(reader, Box::new(std::io::empty()));
                let rx = spawn_text(reader, *format, TEXT_BACKLOG, *threads);
                feed.text(chunker, &rx, text_items, None, name)
            }
        }
    }
}
