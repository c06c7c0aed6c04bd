//! Newline-delimited JSON over any [`Write`]: one record a line.
//!
//! Records are encoded into a reused scratch buffer first and then written
//! whole, so an encoding error never leaves half a line behind and I/O errors
//! stay apart from encoding errors. Output is buffered; call
//! [`NdjsonSink::flush`] where a reader should see what was written so far (the
//! CLI flushes once a chunk of frames).

use std::io::{BufWriter, Write};

use serde::Serialize;

use crate::error::{IngestError, Result};

/// Writes one JSON value a line to `W`, buffered.
///
/// # Example
/// ```
/// use osprey_ingest::NdjsonSink;
///
/// #[derive(serde::Serialize)]
/// struct Frame {
///     kind: &'static str,
///     frame: u64,
/// }
///
/// let mut sink = NdjsonSink::new(Vec::new());
/// sink.write(&Frame { kind: "frame", frame: 0 })?;
/// sink.write(&Frame { kind: "frame", frame: 1 })?;
/// let bytes = sink.into_inner()?;
/// assert_eq!(
///     bytes,
///     b"{\"kind\":\"frame\",\"frame\":0}\n{\"kind\":\"frame\",\"frame\":1}\n"
/// );
/// # Ok::<(), osprey_ingest::IngestError>(())
/// ```
#[derive(Debug)]
pub struct NdjsonSink<W: Write> {
    out: BufWriter<W>,
    scratch: Vec<u8>,
    records: u64,
}

impl<W: Write> NdjsonSink<W> {
    /// A sink over `out` with a 64 KiB buffer.
    pub fn new(out: W) -> Self {
        NdjsonSink {
            out: BufWriter::with_capacity(64 * 1024, out),
            scratch: Vec::with_capacity(1024),
            records: 0,
        }
    }

    /// Writes `record` as one line.
    ///
    /// # Errors
    /// [`IngestError::Encode`] when the value cannot be encoded (nothing is
    /// written then), [`IngestError::BrokenPipe`] when the reader has gone,
    /// [`IngestError::Io`] for other write failures.
    pub fn write<T: Serialize + ?Sized>(&mut self, record: &T) -> Result<()> {
        self.scratch.clear();
        serde_json::to_writer(&mut self.scratch, record).map_err(IngestError::Encode)?;
        self.scratch.push(b'\n');
        self.out.write_all(&self.scratch)?;
        self.records += 1;
        Ok(())
    }

    /// Pushes buffered lines to the underlying writer and flushes it.
    ///
    /// # Errors
    /// As for [`NdjsonSink::write`].
    pub fn flush(&mut self) -> Result<()> {
        self.out.flush()?;
        Ok(())
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Flushes and returns the underlying writer.
    ///
    /// # Errors
    /// As for [`NdjsonSink::flush`].
    pub fn into_inner(self) -> Result<W> {
        self.out
            .into_inner()
            .map_err(|e| IngestError::from(e.into_error()))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::io;

    use super::*;

    /// A writer that fails every write with `kind`.
    struct Failing(io::ErrorKind);

    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(self.0))
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::Error::from(self.0))
        }
    }

    #[derive(Serialize)]
    struct Rec<'a> {
        kind: &'a str,
        frame: u64,
        avg: f64,
    }

    #[test]
    fn one_value_a_line() {
        let mut sink = NdjsonSink::new(Vec::new());
        sink.write(&Rec {
            kind: "frame",
            frame: 0,
            avg: 115.94,
        })
        .unwrap();
        sink.write(&Rec {
            kind: "frame",
            frame: 1,
            avg: 1.0 / 3.0,
        })
        .unwrap();
        assert_eq!(sink.records(), 2);
        let text = String::from_utf8(sink.into_inner().unwrap()).unwrap();
        assert_eq!(
            text,
            "{\"kind\":\"frame\",\"frame\":0,\"avg\":115.94}\n\
             {\"kind\":\"frame\",\"frame\":1,\"avg\":0.3333333333333333}\n"
        );
    }

    #[test]
    fn floats_keep_full_precision() {
        let x = 98.765_432_101_234_56_f64;
        let mut sink = NdjsonSink::new(Vec::new());
        sink.write(&x).unwrap();
        let text = String::from_utf8(sink.into_inner().unwrap()).unwrap();
        assert_eq!(text.trim_end().parse::<f64>().unwrap(), x);
    }

    #[test]
    fn empty_sink_writes_nothing() {
        let sink = NdjsonSink::new(Vec::new());
        assert_eq!(sink.records(), 0);
        assert!(sink.into_inner().unwrap().is_empty());
    }

    #[test]
    fn broken_pipe_is_its_own_error() {
        let mut sink = NdjsonSink::new(Failing(io::ErrorKind::BrokenPipe));
        // Buffered: the write succeeds, the flush meets the closed pipe.
        sink.write(&1u8).unwrap();
        let err = sink.flush().unwrap_err();
        assert!(err.is_broken_pipe(), "{err:?}");
    }

    #[test]
    fn other_io_errors_are_io() {
        let mut sink = NdjsonSink::new(Failing(io::ErrorKind::PermissionDenied));
        sink.write(&1u8).unwrap();
        assert!(matches!(sink.flush(), Err(IngestError::Io(_))));
        let sink = NdjsonSink::new(Failing(io::ErrorKind::PermissionDenied));
        let mut sink = sink;
        sink.write(&"x").unwrap();
        assert!(matches!(sink.into_inner(), Err(IngestError::Io(_))));
    }

    #[test]
    fn large_records_bypass_the_buffer_and_still_fail_cleanly() {
        let mut sink = NdjsonSink::new(Failing(io::ErrorKind::BrokenPipe));
        let big = "x".repeat(100 * 1024);
        assert!(sink.write(&big).unwrap_err().is_broken_pipe());
        assert_eq!(sink.records(), 0);
    }

    #[test]
    fn encode_errors_write_nothing() {
        // JSON object keys must be strings.
        let mut bad = BTreeMap::new();
        bad.insert(vec![1u8], 2u8);
        let mut sink = NdjsonSink::new(Vec::new());
        assert!(matches!(sink.write(&bad), Err(IngestError::Encode(_))));
        sink.write(&3u8).unwrap();
        assert_eq!(sink.into_inner().unwrap(), b"3\n");
    }
}
