//! `osprey put <stream>`: records from files or stdin (NDJSON lines, or CSV
//! rows under a header) into a stream, or, with `--listen`, from NDJSON over
//! TCP ([`osprey_ingest::tcp`]), or the messages of a broker
//! (`osprey put STREAM mqtt://HOST:PORT/TOPIC/#`; [`crate::broker`]): each
//! message one record (a JSON object with its topic as a field), acknowledged
//! to the broker once its batch is durable, so a message is stored at least
//! once across a crash of osprey or a reconnect; it runs until killed.
//! With `--cluster nats://...` the records go to the cluster's stream on
//! NATS JetStream instead of the store ([`osprey_ingest::log::Log`], the
//! same routing by hash key), each counted as stored once JetStream
//! acknowledged it.
//!
//! A record that cannot be stored (malformed JSON, a CSV row with the wrong
//! number of columns, more than 1 MiB, no partition key) gets one line on
//! stderr, `osprey: FILE:LINE: why`, and the rest goes on; the run then ends
//! with exit code 5 ([`RecordsFailed`]). Every record counted as stored is
//! durable.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write as _};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use osprey_ingest::cluster::Cluster;
use osprey_ingest::log::Log;
use osprey_ingest::store::record::too_large;
use osprey_ingest::store::{MAX_DATA_BYTES, PutRecord, Store};

use crate::args::stream::{InputFormat, PutArgs};
use crate::exit::{InputError, UsageError};
use osprey_ingest::broker::Broker;
use osprey_ingest::codec::csv_cell;
use osprey_ingest::codec::lines::{CsvInput, Line, LineCodec, read_line};
use osprey_ingest::tcp::{self, LineServer};

use crate::stream::{RecordsFailed, open_store};

/// Records sent to the store in one put.
const BATCH: usize = 1000;

/// Runs `osprey put`.
pub fn run(args: &PutArgs) -> Result<()> {
    let codec = LineCodec {
        key_field: args.partition_key_field.clone(),
        key: args.partition_key.clone(),
        id_field: args.id_field.clone(),
    };
    if let Some(url) = &args.listen {
        tcp::parse_url(url)?;
    }
    let broker = broker_input(&args.files)?;
    let log: Box<dyn Log> = match &args.cluster {
        Some(url) => {
            let cluster = Cluster::connect(url)?;
            cluster.shards(&args.stream)?;
            Box::new(cluster)
        }
        None => {
            let store = open_store(&args.data.data_dir, args.durability.into())?;
            store.stream_meta(&args.stream)?;
            if let Some(url) = &args.listen {
                return listen(store, &args.stream, codec, url);
            }
            Box::new(store)
        }
    };
    let mut put = Putter {
        log: &*log,
        stream: &args.stream,
        records: Vec::with_capacity(BATCH),
        origins: Vec::with_capacity(BATCH),
        stored: 0,
        failed: 0,
    };
    if let Some((broker, url)) = broker {
        return put.broker(&broker, url, &codec);
    }
    if args.files.is_empty() {
        let format = args.format.unwrap_or(InputFormat::Ndjson);
        put.input(io::stdin().lock(), "stdin", format, &codec)?;
    }
    for path in &args.files {
        let format = args.format.unwrap_or_else(|| format_of(path));
        let name = path.display().to_string();
        let file = File::open(path).map_err(|e| InputError {
            input: name.clone(),
            reason: e.to_string().to_lowercase(),
        })?;
        put.input(
            BufReader::with_capacity(1 << 20, file),
            &name,
            format,
            &codec,
        )?;
    }
    put.flush()?;
    let (stored, failed) = (put.stored, put.failed);
    let _ = writeln!(
        io::stderr(),
        "osprey: put {stored} records into {:?}{}",
        args.stream,
        if failed > 0 {
            format!(", {failed} refused")
        } else {
            String::new()
        }
    );
    if failed > 0 {
        return Err(RecordsFailed {
            failed,
            total: stored + failed,
        }
        .into());
    }
    Ok(())
}

/// Serves `osprey put --listen URL`: NDJSON lines over TCP into `stream`
/// of `store`, until killed.
fn listen(store: Store, stream: &str, codec: LineCodec, url: &str) -> Result<()> {
    let server = LineServer::bind(Arc::new(store), stream, codec, url)?;
    let _ = writeln!(
        io::stderr(),
        "osprey: listening on tcp://{} for stream {:?}",
        server.local_addr(),
        stream
    );
    server.run();
    Ok(())
}

/// The broker `files` name (one URL and nothing else), if any.
///
/// # Errors
/// A usage error for a broker named among other inputs.
fn broker_input(files: &[std::path::PathBuf]) -> Result<Option<(Broker, &str)>> {
    let brokers: Vec<(Broker, &str)> = files
        .iter()
        .filter_map(|f| f.to_str())
        .filter_map(|url| Broker::parse(url).map(|b| (b, url)))
        .collect();
    match (brokers.len(), files.len()) {
        (0, _) => Ok(None),
        (1, 1) => Ok(brokers.into_iter().next()),
        _ => Err(UsageError("a broker is put from alone: name one URL and no files".into()).into()),
    }
}

/// CSV for `*.csv`, else NDJSON.
fn format_of(path: &Path) -> InputFormat {
    match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("csv") => InputFormat::Csv,
        _ => InputFormat::Ndjson,
    }
}

/// Batches records into puts and reports the ones refused.
struct Putter<'a> {
    log: &'a dyn Log,
    stream: &'a str,
    records: Vec<PutRecord>,
    origins: Vec<(Arc<str>, u64)>,
    stored: u64,
    failed: u64,
}

impl Putter<'_> {
    /// Puts every record of one input.
    fn input(
        &mut self,
        reader: impl BufRead,
        name: &str,
        format: InputFormat,
        codec: &LineCodec,
    ) -> Result<()> {
        let name: Arc<str> = Arc::from(name);
        match format {
            InputFormat::Ndjson => self.ndjson(reader, &name, codec),
            InputFormat::Csv => self.csv(reader, &name, codec),
        }
    }

    fn ndjson(
        &mut self,
        mut reader: impl BufRead,
        name: &Arc<str>,
        codec: &LineCodec,
    ) -> Result<()> {
        let mut buf = Vec::new();
        let mut line_no = 0;
        loop {
            let line =
                read_line(&mut reader, &mut buf, MAX_DATA_BYTES).map_err(|e| InputError {
                    input: name.to_string(),
                    reason: e.to_string().to_lowercase(),
                })?;
            line_no += 1;
            let record = match line {
                Line::Eof => return Ok(()),
                Line::Data if buf.iter().all(u8::is_ascii_whitespace) => continue,
                Line::Data => codec.ndjson(&buf, line_no),
                Line::TooLong(n) => Err(too_large(n).to_string()),
            };
            self.push(record, name, line_no)?;
        }
    }

    fn csv(&mut self, reader: impl BufRead, name: &Arc<str>, codec: &LineCodec) -> Result<()> {
        let input_error = |reason: String| InputError {
            input: name.to_string(),
            reason,
        };
        let mut csv = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(CsvInput::new(reader));
        let header = csv_cell::header_names(
            csv.headers()
                .map_err(|e| input_error(format!("cannot read the CSV header: {e}")))?,
        );
        if let Some(line) = csv.get_ref().open_quote(csv.position().byte()) {
            return Err(input_error(format!(
                "the CSV header has a quote opened at line {line} and never closed"
            ))
            .into());
        }
        let mut row = csv::ByteRecord::new();
        loop {
            let line_no = csv.position().line() + 1;
            let record = match csv.read_byte_record(&mut row) {
                Ok(false) => return Ok(()),
                Ok(true) => {
                    let at = row.position().map_or(line_no, |p| p.line());
                    match csv.get_ref().open_quote(csv.position().byte()) {
                        Some(line) => Err(format!(
                            "unterminated quote: the quoted value that opens at line {line} \
                             runs to the end of the input"
                        )),
                        None => codec.csv_row(&header, &row, at),
                    }
                }
                Err(e) if e.is_io_error() => return Err(input_error(e.to_string()).into()),
                Err(e) => Err(format!("malformed CSV: {e}")),
            };
            let at = row.position().map_or(line_no, |p| p.line());
            self.push(record, name, at)?;
        }
    }

    /// Puts the messages of `broker` (named by `url`) until killed, each
    /// batch acknowledged once it is durable.
    fn broker(&mut self, broker: &Broker, url: &str, codec: &LineCodec) -> Result<()> {
        let mut input = crate::broker::input(broker, &format!("osprey-put-{}", self.stream))?;
        let topic_field = osprey_ingest::broker::topic_field(url);
        let name: Arc<str> = Arc::from(broker.redacted());
        let _ = writeln!(
            io::stderr(),
            "osprey: subscribed to {name} for stream {:?}",
            self.stream
        );
        let mut line = Vec::new();
        let mut n = 0;
        loop {
            for message in input.next(BATCH, crate::broker::POLL)? {
                n += 1;
                line.clear();
                message.line(topic_field.as_deref(), &mut line);
                let record = if line.len() > MAX_DATA_BYTES {
                    Err(too_large(line.len()).to_string())
                } else {
                    codec.ndjson(&line, n)
                };
                self.push(record, &name, n)?;
            }
            self.flush()?;
            input.ack()?;
        }
    }

    fn push(
        &mut self,
        record: Result<PutRecord, String>,
        name: &Arc<str>,
        line: u64,
    ) -> Result<()> {
        match record {
            Ok(r) => {
                self.records.push(r);
                self.origins.push((Arc::clone(name), line));
                if self.records.len() >= BATCH {
                    self.flush()?;
                }
            }
            Err(e) => self.refuse(name, line, &e),
        }
        Ok(())
    }

    fn refuse(&mut self, name: &str, line: u64, why: &str) {
        self.failed += 1;
        let _ = writeln!(io::stderr(), "osprey: {name}:{line}: {why}");
    }

    /// Puts the batch, retrying while the store is overloaded.
    fn flush(&mut self) -> Result<()> {
        if self.records.is_empty() {
            return Ok(());
        }
        let mut wait = Duration::from_millis(5);
        let outcomes = loop {
            match self.log.put_records(self.stream, &self.records) {
                Err(e) if e.is_retryable() && wait < Duration::from_secs(10) => {
                    tracing::debug!(error = %e, "Store busy; retrying.");
                    std::thread::sleep(wait);
                    wait *= 2;
                }
                other => {
                    break other
                        .with_context(|| format!("cannot put records into {:?}", self.stream))?;
                }
            }
        };
        let origins = std::mem::take(&mut self.origins);
        for (outcome, (name, line)) in outcomes.into_iter().zip(origins) {
            match outcome {
                Ok(_) => self.stored += 1,
                Err(e) => self.refuse(&name, line, &osprey_ingest::error::chain(&e)),
            }
        }
        self.records.clear();
        Ok(())
    }
}
