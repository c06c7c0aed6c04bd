//! NDJSON and CSV text (a file, stdin) read into records on a thread of
//! its own ([`spawn_text`]), so the chunker can flush by latency while a
//! pipe is quiet.
//!
//! Records go over in batches ([`Batch`]) of up to [`BATCH_ITEMS`]: one
//! channel message a line woke the other thread a line, and that cost as
//! much system time as the parsing cost user time. A batch is sent before
//! every read of the input, so what has been read never waits on a quiet
//! pipe.
//!
//! NDJSON lines are parsed ([`ParsedJson`]) on a pool of threads (the
//! caller says how many, at most [`PARSE_THREADS`]), batch by batch, and
//! put back in order:
//!
//! ```text
//! reading thread ─► batches of lines ─► parsing threads ─► in order ─► receiver
//! ```
//!
//! Every form keeps at most the store's record limit ([`MAX_DATA_BYTES`],
//! 1 MiB, as `osprey put` and TCP do) of one record in memory: a longer
//! NDJSON line is read to its end without being kept and refused with its
//! length and first bytes ([`HEAD_BYTES`]); a longer CSV record ends the
//! input with an error naming its line, since CSV quoting gives no safe
//! place to resume.

use std::cell::RefCell;
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use osprey_ingest::chunk::{ParsedJson, RawRecord, RecordFormat};
use osprey_ingest::codec::lines::{Line, read_line};
use osprey_ingest::store::MAX_DATA_BYTES;
use osprey_ingest::store::record::too_large;

/// Bytes of an over-long record kept for the error output.
pub const HEAD_BYTES: usize = 256;

/// One item of a file or stdin.
#[derive(Debug)]
pub enum TextItem {
    /// A record (an NDJSON line, the CSV header or a CSV record).
    Record(RawRecord),
    /// An NDJSON line that cannot be a record: longer than
    /// [`MAX_DATA_BYTES`] (not kept), or not UTF-8.
    Refused {
        /// Its 1-based line number.
        line: u64,
        /// Why, and what of it can be shown.
        rejected: Rejected,
    },
}

/// Items of the input in order, as the reading thread sends them.
pub type Batch = Vec<io::Result<TextItem>>;

/// Items a batch holds at most.
pub const BATCH_ITEMS: usize = 1024;

/// Threads that parse NDJSON lines at most.
pub const PARSE_THREADS: usize = 8;

/// Reads `input` on a new thread and sends its records in batches, at most
/// `backlog` records ahead of the receiver, NDJSON lines parsed on
/// `threads` threads; the channel closes at the end of the input, after an
/// error if reading failed (a CSV record over the limit among them).
pub fn spawn_text(
    input: Box<dyn Read + Send>,
    format: RecordFormat,
    backlog: usize,
    threads: usize,
) -> Receiver<Batch> {
    let (tx, rx) = sync_channel((backlog / BATCH_ITEMS).max(1));
    let lines = parse_in_order(tx, threads.clamp(1, PARSE_THREADS));
    std::thread::spawn(move || {
        let mut next = 0u64;
        let out = Rc::new(RefCell::new(Batcher::new(move |batch| {
            next += 1;
            lines.send((next - 1, batch)).is_ok()
        })));
        let input = SendFirst {
            inner: input,
            out: Rc::clone(&out),
        };
        match format {
            RecordFormat::Ndjson => ndjson_lines(input, &out),
            RecordFormat::Csv => csv_records(input, &out),
        }
        out.borrow_mut().flush();
    });
    rx
}

/// Parses the NDJSON lines of the batches sent on the channel returned, on
/// `threads` threads, and sends them on to `out` in the order of their
/// numbers (0, 1, 2...).
fn parse_in_order(out: SyncSender<Batch>, threads: usize) -> SyncSender<(u64, Batch)> {
    let (tx, jobs) = sync_channel::<(u64, Batch)>(threads);
    let jobs = std::sync::Arc::new(std::sync::Mutex::new(jobs));
    let (done, parsed) = sync_channel::<(u64, Batch)>(threads);
    for _ in 0..threads.max(1) {
        let (jobs, done) = (std::sync::Arc::clone(&jobs), done.clone());
        std::thread::spawn(move || {
            loop {
                // The lock is held while waiting: one thread waits, the
                // others queue behind it, each taking the next job.
                let job = match jobs.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                let Ok((n, batch)) = job else {
                    return;
                };
                if done.send((n, parse_batch(batch))).is_err() {
                    return;
                }
            }
        });
    }
    drop(done);
    std::thread::spawn(move || {
        let mut waiting = std::collections::BTreeMap::new();
        let mut next = 0u64;
        for (n, batch) in parsed {
            waiting.insert(n, batch);
            while let Some(batch) = waiting.remove(&next) {
                if out.send(batch).is_err() {
                    return;
                }
                next += 1;
            }
        }
    });
    tx
}

/// `batch` with its NDJSON lines parsed.
fn parse_batch(batch: Batch) -> Batch {
    batch
        .into_iter()
        .map(|item| {
            item.map(|item| match item {
                TextItem::Record(RawRecord::Json(text)) => {
                    TextItem::Record(RawRecord::Parsed(ParsedJson::parse(text)))
                }
                other => other,
            })
        })
        .collect()
}

/// Items read and not yet sent, sent [`BATCH_ITEMS`] at a time (and by
/// [`SendFirst`] before each read of the input).
pub(crate) struct Batcher<T> {
    send: Box<dyn FnMut(Vec<T>) -> bool>,
    items: Vec<T>,
    /// The receiver is gone.
    closed: bool,
}

impl<T> Batcher<T> {
    /// Items sent by `send`, which says false once the receiver is gone.
    pub(crate) fn new(send: impl FnMut(Vec<T>) -> bool + 'static) -> Self {
        Batcher {
            send: Box::new(send),
            items: Vec::new(),
            closed: false,
        }
    }

    /// Adds an item, sending the batch when it is full; false once the
    /// receiver is gone.
    pub(crate) fn push(&mut self, item: T) -> bool {
        self.items.push(item);
        if self.items.len() >= BATCH_ITEMS {
            self.flush();
        }
        !self.closed
    }

    /// Sends what was read.
    pub(crate) fn flush(&mut self) {
        if !self.items.is_empty() && !self.closed {
            let batch = std::mem::take(&mut self.items);
            self.closed = !(self.send)(batch);
        }
    }
}

/// The input, sending the items read so far before each read from it (a
/// read of a quiet pipe or socket may wait for long).
pub(crate) struct SendFirst<R, T> {
    pub(crate) inner: R,
    pub(crate) out: Rc<RefCell<Batcher<T>>>,
}

impl<R: Read, T> Read for SendFirst<R, T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.out.borrow_mut().flush();
        self.inner.read(buf)
    }
}

/// Keeps the first [`HEAD_BYTES`] bytes of each line that passes through
/// [`read_line`], so an over-long line, which it does not keep, can be
/// shown.
struct Head<R> {
    inner: R,
    head: Vec<u8>,
    /// True while a line's bytes have gone by but not its newline.
    in_line: bool,
}

impl<R: BufRead> Read for Head<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.fill_buf()?.read(buf)?;
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Head<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        // The bytes about to be consumed are still in the buffer: with data
        // buffered, `fill_buf` returns them again without reading. The one
        // consumer, `read_line`, consumes a line's bytes up to and
        // including its newline, so only the last byte can be one; a line
        // consumed whole at once is short, and nothing of it is copied.
        if let Ok(buf) = self.inner.fill_buf() {
            let data = &buf[..amt.min(buf.len())];
            if !data.is_empty() {
                let (part, ends) = match data.split_last() {
                    Some((b'\n', rest)) => (rest, true),
                    _ => (data, false),
                };
                if !self.in_line {
                    self.head.clear();
                }
                if self.in_line || !ends {
                    let room = HEAD_BYTES.saturating_sub(self.head.len());
                    self.head.extend_from_slice(&part[..part.len().min(room)]);
                }
                self.in_line = !ends;
            }
        }
        self.inner.consume(amt);
    }
}

/// A line that cannot be a record: why, its first bytes and its length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Why, one lowercase line.
    pub reason: String,
    /// Its first [`HEAD_BYTES`] bytes, as text (invalid UTF-8 replaced).
    pub head: String,
    /// Its length in bytes.
    pub bytes: usize,
}

/// NDJSON lines, each kept only up to the record limit.
pub(crate) struct Lines<R> {
    reader: Head<BufReader<R>>,
    buf: Vec<u8>,
}

impl<R: Read> Lines<R> {
    pub(crate) fn new(input: R) -> Self {
        Lines {
            reader: Head {
                inner: BufReader::with_capacity(1 << 16, input),
                head: Vec::with_capacity(HEAD_BYTES),
                in_line: false,
            },
            buf: Vec::new(),
        }
    }

    /// The next line's text (without `\r\n`), or why it cannot be a
    /// record; `None` at the end.
    pub(crate) fn next(&mut self) -> io::Result<Option<Result<String, Rejected>>> {
        Ok(Some(
            match read_line(&mut self.reader, &mut self.buf, MAX_DATA_BYTES)? {
                Line::Eof => return Ok(None),
                Line::TooLong(bytes) => Err(Rejected {
                    reason: too_large(bytes).to_string(),
                    head: String::from_utf8_lossy(&self.reader.head).into_owned(),
                    bytes,
                }),
                Line::Data => {
                    let bytes = self.buf.strip_suffix(b"\r").unwrap_or(&self.buf);
                    match std::str::from_utf8(bytes) {
                        Ok(t) => Ok(t.to_owned()),
                        Err(e) => Err(Rejected {
                            reason: format!("not UTF-8 text: {e}"),
                            head: String::from_utf8_lossy(&bytes[..bytes.len().min(HEAD_BYTES)])
                                .into_owned(),
                            bytes: bytes.len(),
                        }),
                    }
                }
            },
        ))
    }
}

fn ndjson_lines(input: impl Read, out: &RefCell<Batcher<io::Result<TextItem>>>) {
    let mut lines = Lines::new(input);
    let mut line = 0u64;
    loop {
        let item = match lines.next() {
            Ok(None) => return,
            // Parsed by `parse_in_order`'s threads.
            Ok(Some(Ok(text))) => Ok(TextItem::Record(RawRecord::Json(text))),
            Ok(Some(Err(rejected))) => Ok(TextItem::Refused {
                line: line + 1,
                rejected,
            }),
            Err(e) => Err(e),
        };
        line += 1;
        // An error ends the input: sent at once, then nothing more.
        let failed = item.is_err();
        if !out.borrow_mut().push(item) || failed {
            out.borrow_mut().flush();
            return;
        }
    }
}

/// Counts the bytes a CSV reader takes, failing once one record (from the
/// `start` the caller sets after each) grows past the limit.
struct Bounded<R> {
    inner: R,
    read: u64,
    start: std::rc::Rc<std::cell::Cell<u64>>,
}

/// Slack over the limit for the CSV reader's own buffer.
const CSV_SLACK: u64 = 1 << 16;

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.read.saturating_sub(self.start.get()) > MAX_DATA_BYTES as u64 + CSV_SLACK {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "a CSV record of more than {MAX_DATA_BYTES} bytes, the limit of a record (1 MiB)"
                ),
            ));
        }
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

fn csv_records(input: impl Read, out: &RefCell<Batcher<io::Result<TextItem>>>) {
    let start = std::rc::Rc::new(std::cell::Cell::new(0));
    let bounded = Bounded {
        inner: input,
        read: 0,
        start: std::rc::Rc::clone(&start),
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bounded);
    let mut first = true;
    let mut record = csv::StringRecord::new();
    loop {
        let at = reader.position().line();
        let item = match reader.read_record(&mut record) {
            Ok(false) => return,
            Ok(true) => {
                start.set(reader.position().byte());
                let cells: Vec<String> = record.iter().map(str::to_owned).collect();
                Ok(TextItem::Record(if std::mem::take(&mut first) {
                    RawRecord::Header(cells)
                } else {
                    RawRecord::Cells(cells)
                }))
            }
            Err(e) => Err(match e.kind() {
                csv::ErrorKind::Io(io) => io::Error::new(io.kind(), format!("line {at}: {io}")),
                _ => io::Error::other(format!("line {at}: {e}")),
            }),
        };
        let failed = item.is_err();
        if !out.borrow_mut().push(item) || failed {
            out.borrow_mut().flush();
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(input: &'static [u8], format: RecordFormat) -> Vec<io::Result<TextItem>> {
        spawn_text(Box::new(input), format, 4, 2)
            .iter()
            .flatten()
            .collect()
    }
    #[test]
    fn csv_reader_sends_the_header_first() {
        let got = items(b"ts,sensor\n1,\"a,b\"\n2,c\n", RecordFormat::Csv);
        let got: Vec<TextItem> = got.into_iter().map(Result::unwrap).collect();
        assert!(
            matches!(&got[0], TextItem::Record(RawRecord::Header(h)) if h == &["ts", "sensor"]),
            "{got:?}"
        );
        assert!(
            matches!(&got[1], TextItem::Record(RawRecord::Cells(c)) if c == &["1", "a,b"]),
            "{got:?}"
        );
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn long_lines_keep_their_head_and_length_only() {
        let mut input = b"{\"a\":1}\r\n".to_vec();
        input.extend(std::iter::repeat_n(b'y', MAX_DATA_BYTES + 10));
        input.extend(b"\n\nlast");
        let input: &'static [u8] = input.leak();
        let got: Vec<TextItem> = items(input, RecordFormat::Ndjson)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert!(
            matches!(&got[0], TextItem::Record(RawRecord::Parsed(p)) if p.line() == "{\"a\":1}"),
            "{got:?}"
        );
        match &got[1] {
            TextItem::Refused { line, rejected } => {
                assert_eq!((*line, rejected.bytes), (2, MAX_DATA_BYTES + 10));
                assert_eq!(rejected.head, "y".repeat(HEAD_BYTES));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&got[3], TextItem::Record(RawRecord::Parsed(p)) if p.line() == "last"));
    }

    #[test]
    fn a_csv_record_over_the_limit_fails_the_input() {
        let mut input = b"ts,v\n1,\"".to_vec();
        input.extend(std::iter::repeat_n(b'z', 3 * MAX_DATA_BYTES));
        let input: &'static [u8] = input.leak();
        let got = items(input, RecordFormat::Csv);
        let err = got.last().unwrap().as_ref().unwrap_err().to_string();
        assert!(err.contains("1 MiB"), "{err}");
    }
}
