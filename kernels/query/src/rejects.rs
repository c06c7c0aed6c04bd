//! The error output: one NDJSON object a late or refused record, with its
//! reason and, when known, where it came from (and, for a directory or
//! glob input, `file`: the stored file it was read from).
//!
//! A line holds the record as it came in ([`Shown`]), so late and refused
//! records can be replayed: a JSON object as `"record":{...}`, byte for
//! byte; other text (a CSV line, malformed JSON) as a string; a record over
//! the 1 MiB limit as its first bytes and its length.

use std::io::{BufWriter, Write};
use std::path::Path;

use osprey_ingest::IngestError;
use osprey_ingest::chunk::Origin;
use serde_json::{Map, Value};

use crate::cells::rfc3339;
use crate::error::Result;

/// A late or refused record as the error output shows it.
#[derive(Debug, Clone, Copy)]
pub enum Shown<'a> {
    /// The record's text as it came in. A JSON object is written as that
    /// object, byte for byte (`"record":{...}`); any other text (a CSV line,
    /// malformed JSON) as a JSON string. Either way the record can be fed
    /// to osprey again: an object as its JSON, a string as its text.
    Text(&'a str),
    /// A record rebuilt from its columns (a Parquet row, which has no text).
    Value(&'a Value),
    /// A record too long (or not text) to show: its first bytes, as
    /// `record_head`, and its length in bytes, as `record_bytes`.
    Head {
        /// Its first bytes, as text.
        head: &'a str,
        /// Its length in bytes.
        bytes: usize,
    },
}

/// True when `text` is one JSON object, which can be written inside
/// another line as it is.
fn is_object(text: &str) -> bool {
    text.starts_with('{')
        && !text.contains('\n')
        && serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}

/// The error output: one NDJSON object a late or refused record.
pub struct ErrorSink {
    out: BufWriter<Box<dyn Write>>,
    line: Vec<u8>,
    /// The stored file the records now come from, named on each line.
    file: Option<String>,
    /// Late records written.
    pub late: u64,
    /// Refused records written.
    pub refused: u64,
}

impl std::fmt::Debug for ErrorSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErrorSink")
            .field("late", &self.late)
            .field("refused", &self.refused)
            .finish_non_exhaustive()
    }
}

impl ErrorSink {
    /// The error output into `out`, through a 64 KiB buffer.
    pub fn new(out: Box<dyn Write>) -> Self {
        ErrorSink {
            out: BufWriter::with_capacity(64 * 1024, out),
            line: Vec::with_capacity(1024),
            file: None,
            late: 0,
            refused: 0,
        }
    }

    /// Names the stored file the next records come from (one file of a
    /// directory, glob or partitioned tree): each line written until the
    /// next call says `"file":PATH` after its kind; `None` stops it.
    pub fn set_file(&mut self, file: Option<&Path>) {
        self.file = file.map(|f| f.display().to_string());
    }

    /// Writes `fields` and then the record as one line.
    fn write(&mut self, fields: Map<String, Value>, record: Shown<'_>) -> Result<()> {
        let mut fields = fields;
        let raw = match record {
            Shown::Text(t) if is_object(t.trim()) => Some(t.trim()),
            Shown::Text(t) => {
                fields.insert("record".into(), t.into());
                None
            }
            Shown::Value(v) => {
                fields.insert("record".into(), v.clone());
                None
            }
            Shown::Head { head, bytes } => {
                fields.insert("record_head".into(), head.into());
                fields.insert("record_bytes".into(), bytes.into());
                None
            }
        };
        self.line.clear();
        serde_json::to_writer(&mut self.line, &Value::Object(fields))
            .map_err(IngestError::Encode)?;
        if let Some(raw) = raw {
            // `{...,"reason":"..."}` becomes `{...,"reason":"...","record":RAW}`.
            self.line.pop();
            self.line.extend_from_slice(b",\"record\":");
            self.line.extend_from_slice(raw.as_bytes());
            self.line.push(b'}');
        }
        self.line.push(b'\n');
        self.out.write_all(&self.line).map_err(IngestError::from)?;
        Ok(())
    }

    /// A record that arrived after its windows closed.
    ///
    /// # Errors
    /// When the output cannot be written.
    pub fn late(&mut self, record: Shown<'_>, watermark: Option<i64>) -> Result<()> {
        self.late += 1;
        let reason = match watermark {
            Some(w) => format!(
                "late: all its windows had closed when it arrived (the watermark reached {} by the end of its batch)",
                rfc3339(w)
            ),
            None => "late: its windows closed before it arrived".to_owned(),
        };
        let mut map = Map::new();
        map.insert("kind".into(), "late".into());
        self.name_file(&mut map);
        map.insert("reason".into(), reason.into());
        self.write(map, record)
    }

    /// A record the reader, the chunker or the converter refused, with
    /// where it came from when that is known: `line` (files, stdin), `peer`
    /// and `line` (TCP), or `shard` and `seq` (streams).
    ///
    /// # Errors
    /// When the output cannot be written.
    pub fn refused(
        &mut self,
        origin: Option<&Origin>,
        reason: &str,
        record: Shown<'_>,
    ) -> Result<()> {
        self.refused += 1;
        let mut map = Map::new();
        map.insert("kind".into(), "error".into());
        self.name_file(&mut map);
        match origin {
            None => {}
            Some(Origin::Line(l)) => {
                map.insert("line".into(), (*l).into());
            }
            Some(Origin::Tcp { peer, line }) => {
                map.insert("peer".into(), peer.to_string().into());
                map.insert("line".into(), (*line).into());
            }
            Some(Origin::Stream { shard, seq }) => {
                map.insert("shard".into(), shard.as_str().into());
                map.insert("seq".into(), (*seq).into());
            }
        }
        map.insert("reason".into(), reason.into());
        self.write(map, record)
    }

    /// Adds `file` to a line's fields when records come from a stored file.
    fn name_file(&self, map: &mut Map<String, Value>) {
        if let Some(file) = &self.file {
            map.insert("file".into(), file.as_str().into());
        }
    }

    /// Flushes.
    ///
    /// # Errors
    /// When the output cannot be written.
    pub fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(IngestError::from)?;
        Ok(())
    }
}
