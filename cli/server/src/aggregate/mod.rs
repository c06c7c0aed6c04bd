//! `osprey aggregate`: window aggregation over telemetry records, from flags
//! or a streaming SQL query.
//!
//! The arguments become an `osprey_query::Query` first (its plan from the
//! flags or from SQL) and an `osprey_query::Source` (the input); the
//! source reads records as Arrow batches (the chunker for NDJSON and CSV,
//! on a reader thread so slow streams flush by latency; the Parquet reader
//! for Parquet files) and pushes them into the query, which runs them on
//! the window engine on the GPU or the CPU. Windows are written as
//! the watermark closes them (to the outputs [`output`] opens); late and
//! refused records go to the error output with their reason and the record
//! as it came in, so they can be replayed; a run that refused records ends
//! with [`RecordsRefused`] (exit code 5) once every other record is done.
//! The checked arguments and the query are made in `prepare()`; a stream
//! input's checkpoints follow the rows the query has written, by the origin
//! the chunker gives each row (`osprey_query::StreamSource`).
//!
//! Inputs ([`input`]): a file, Parquet files (a directory, a glob, a
//! Hive-style tree, decoded in parallel and skipped by the WHERE time range:
//! `osprey_query::source::stored`), stdin, a stream of the store (`stream:NAME`,
//! read as `osprey read` reads it), or NDJSON lines over TCP
//! (`tcp://HOST:PORT`), or a broker's messages (`mqtt://HOST:PORT/TOPIC/#`,
//! each acknowledged once read; [`crate::broker`]). Files, stdin and a
//! stream without `--follow` end, and every window still open closes then.
//! A stream with `--follow`, TCP and a broker run until the process is killed (SIGINT, SIGTERM), or with `--until-idle`
//! until nothing has come for that long, which ends them as a file ends.
//! Killed, the windows still open are not written: rows of closed windows
//! are (NDJSON is flushed as windows close).
//!
//! With `--consumer`, a stream's checkpoint moves only past records whose
//! windows have all been written (`osprey_query::checkpoint`), and to the end once the
//! run ends, so a restarted run re-reads the records of the windows that
//! were still open and writes them whole: no record is lost. A restarted run
//! starts with a fresh watermark, so records it re-reads that were late the
//! first time (and went to the error output) can open their window again,
//! and with Parquet or Arrow output (written only at the end) a killed run
//! re-reads everything since its last completed run: at least once.

pub mod args;
pub mod input;
mod memory;
pub mod output;
mod prepare;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use anyhow::{Context as _, Result, anyhow};
use osprey_ingest::chunk::{ChunkConfig, RecordFormat};
use osprey_ingest::log::LogReader;
use osprey_ingest::store::Store;
use osprey_query::source::LiveCounts;
use osprey_query::source::StoredData;
use osprey_query::{Outputs, QueryError, Source, StreamSource};

use self::args::{AggregateArgs, InputFormat, OutputFormat};
use self::input::Input;
use self::output::{Destination, StreamTarget, open_errors};
use self::prepare::{check_flags, duration_flag, input_format, prepare, usage};
use crate::error::InputError;

/// The persistent session (MQTT client id) or durable consumer a broker
/// input is read as, unless its URL names one (`client_id=`).
const DURABLE: &str = "osprey-aggregate";

/// Records held back from a schema are inferred from at most this many
/// (DuckDB's `sample_size` for JSON) ...
const INFER_ROWS: usize = 20_480;

/// ... or this many bytes of them, whichever comes first.
const INFER_BYTES: usize = 8 << 20;

/// Some records were refused (exit code 5): the run finished, every other
/// record was aggregated, and the refused ones are in the error output.
#[derive(Debug, thiserror::Error)]
#[error(
    "{summary}: {refused} records were refused (see the error output); the others were aggregated"
)]
pub struct RecordsRefused {
    /// The run's summary line.
    pub summary: String,
    /// Records refused.
    pub refused: u64,
}

/// A library error as the binary reports it: an input that cannot be read
/// as [`InputError`] (exit code 3), a stream's read or checkpoint error as
/// the store's error it is (its own code), the rest as they are.
fn from_query(e: QueryError) -> anyhow::Error {
    match e {
        QueryError::Input { input, reason } => anyhow!(InputError { input, reason }),
        QueryError::Read(e) => anyhow!(e),
        QueryError::Checkpoint { consumer, source } => anyhow!(source).context(format!(
            "cannot save the checkpoint of consumer {consumer:?}"
        )),
        e => anyhow!(e),
    }
}

/// What a process that runs queries among other work (the server) hands
/// each: its one store, a stop flag and the counters it watches.
#[derive(Debug, Clone)]
pub struct Attached {
    /// The process's store, for a `stream:NAME` input and output.
    pub store: Arc<Store>,
    /// Set to end a following stream read without finishing it: the
    /// windows still open are neither closed nor checkpointed past, so a
    /// restart re-reads their records and writes them whole.
    pub stop: Arc<AtomicBool>,
    /// Rows, late and refused records and the watermark as the read goes.
    pub counts: Arc<LiveCounts>,
    /// What a `stream:NAME` input reads instead of the store's stream: a
    /// cluster worker's shard of a JetStream stream.
    pub input: Option<LogInput>,
    /// An NDJSON output file is appended to, whole lines at a time (a
    /// cluster's workers share it), instead of made anew.
    pub append: bool,
}

/// A log reader handed to one run, taken once.
#[derive(Clone)]
pub struct LogInput(Arc<Mutex<Option<Box<dyn LogReader>>>>);

impl LogInput {
    /// `reader`, to be taken by the run.
    pub fn new(reader: Box<dyn LogReader>) -> LogInput {
        LogInput(Arc::new(Mutex::new(Some(reader))))
    }

    fn take(&self) -> Option<Box<dyn LogReader>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

impl std::fmt::Debug for LogInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogInput")
    }
}

/// Runs `osprey aggregate`.
///
/// # Errors
/// [`UsageError`](crate::error::UsageError) for arguments that cannot be used, [`InputError`] for an
/// input that cannot be read, the engine's and the output's errors.
pub fn run(args: &AggregateArgs) -> Result<()> {
    run_with(args, None)
}

/// Runs `osprey aggregate` as [`run`], on the store, stop flag and counters
/// of `attached` when given (the server's queries).
///
/// # Errors
/// As [`run`].
pub fn run_with(args: &AggregateArgs, attached: Option<&Attached>) -> Result<()> {
    let started = Instant::now();
    let prepared = prepare(args)?;
    let (input, format, dest, out_format, until_idle) = check_io(args)?;
    if let Input::File(name) = &input {
        let path = Path::new(name);
        if !path.is_file() {
            let reason = if path.exists() {
                "not a file"
            } else {
                "no such file"
            };
            return Err(anyhow!(InputError {
                input: name.clone(),
                reason: reason.into(),
            }));
        }
    }
    // The input opens first: a missing stream or a port in use fails the
    // run before an output file is made.
    let mut opened: Option<Store> = None;
    // A broker's URL without its password, as every name of the input.
    let input_name = osprey_ingest::broker::redact_url(&args.input);
    let live_source = match &input {
        Input::Stream(name) => {
            let from = args.stream.position()?;
            let consumer = args.stream.consumer.as_deref();
            let mut source = match attached.and_then(|a| a.input.as_ref()?.take()) {
                Some(reader) => StreamSource::with_reader(reader, consumer),
                None => {
                    let store = match attached {
                        Some(a) => &*a.store,
                        None => opened.insert(Store::open_read_only(&args.data.data_dir)?),
                    };
                    StreamSource::open(store, name, from, consumer)?
                }
            };
            if args.stream.follow {
                source = source.follow(until_idle);
            }
            if let Some(a) = attached {
                source = source
                    .stop_on(Arc::clone(&a.stop))
                    .count_into(Arc::clone(&a.counts));
            }
            Some(Source::Stream(Box::new(source)))
        }
        Input::Tcp(addr) => Some(Source::Tcp {
            listener: osprey_query::source::listen(addr).map_err(from_query)?,
            until_idle,
            name: args.input.clone(),
        }),
        Input::Broker(broker) => {
            let input = crate::broker::input(broker, DURABLE)?;
            let reader = crate::broker::BrokerReader::new(input, &args.input, until_idle);
            Some(Source::Text {
                reader: Box::new(reader),
                format: RecordFormat::Ndjson,
                name: input_name.clone(),
                threads: args
                    .threads
                    .unwrap_or_else(osprey_query::source::stored::default_threads),
            })
        }
        Input::Stdin | Input::File(_) | Input::Files(_) => None,
    };
    let key_fields = prepared.query.plan().partition_fields();
    let target = StreamTarget {
        data_dir: &args.data.data_dir,
        store: attached.map(|a| &a.store),
        partition_key: &input_name,
        key_fields: &key_fields,
    };
    // A consumer's checkpoint says which windows its output already holds:
    // the NDJSON file it writes to is appended to, so a restart (of the
    // command, of a server's query, a query run again after an error)
    // keeps the rows written before it.
    let append = attached.is_some_and(|a| a.append)
        || (matches!(input, Input::Stream(_)) && args.stream.consumer.is_some());
    let rows = match &dest {
        Destination::File(path) if append && out_format == OutputFormat::Ndjson => {
            let out = crate::cluster::AppendLines::open(path)?;
            osprey_query::ResultSink::ndjson(Box::new(out), prepared.query.names())
        }
        _ => output::open(&dest, args.output_format, prepared.query.names(), target)?,
    };
    let errors = open_errors(&args.errors)?;
    // Parquet and Arrow files are written at the end: only then are their
    // windows written, and only then may a consumer checkpoint.
    let mut query = prepared.query;
    if let Some(Source::Stream(s)) = &live_source
        && s.consumer().is_some()
        && out_format == OutputFormat::Ndjson
    {
        s.track(&mut query);
    }
    let chunk_config = ChunkConfig {
        schema: prepared.schema,
        time_field: Some(query.plan().time_field.clone()),
        time_format: prepared.time_format,
        max_rows: args.batch_rows,
        max_latency: prepared.max_latency,
        infer_rows: INFER_ROWS,
        infer_bytes: INFER_BYTES,
        keep_raw: true,
    };
    let mut out = Outputs { rows, errors };
    let label = query.backend_label();

    let mut source = match live_source {
        Some(source) => source,
        None => file_source(&input, format, args)?,
    };
    if let Source::Tcp { listener, .. } = &source {
        let _ = writeln!(
            std::io::stderr(),
            "osprey: listening on tcp://{} for records to aggregate",
            listener.local
        );
    }
    source
        .feed(&mut query, &mut out, chunk_config)
        .map_err(from_query)?;
    if let (Input::Files(_), Source::Stored(data)) = (&input, &source) {
        let _ = writeln!(std::io::stderr(), "osprey: aggregate: {}", data.counts());
    }
    let stopped = matches!(&source, Source::Stream(s) if s.stopped());
    if stopped {
        // Stopped, not ended: the closed windows are written; the open
        // ones stay open, their records behind the checkpoint.
        let Outputs {
            rows: sink,
            mut errors,
        } = out;
        errors.flush()?;
        sink.finish().context("cannot finish the output")?;
        return Ok(());
    }
    query.finish(&mut out)?;
    let (rows, windows) = (query.rows(), query.windows());
    let Outputs {
        rows: sink,
        mut errors,
    } = out;
    errors.flush()?;
    sink.finish().context("cannot finish the output")?;
    // Every window is written now: the whole read is done.
    if let Source::Stream(s) = &source {
        s.finish().map_err(from_query)?;
    }
    let (late, refused) = (errors.late, errors.refused);
    let secs = started.elapsed().as_secs_f64();
    let summary = format!(
        "aggregate: {rows} rows, {windows} result rows, {late} late, {refused} refused in {secs:.2} s on {label}"
    );
    if refused > 0 {
        // One line, the summary in it: the caller prints `osprey: ...`.
        return Err(RecordsRefused { summary, refused }.into());
    }
    let _ = writeln!(std::io::stderr(), "osprey: {summary}");
    Ok(())
}

/// Checks `args` as [`run`] does before it opens anything: the plan (from
/// SQL or flags), the input, the output and the streaming flags. No device,
/// store, file or port is opened.
///
/// # Errors
/// As [`run`]'s checks: [`UsageError`](crate::error::UsageError)s and the
/// planner's errors.
pub fn check(args: &AggregateArgs) -> Result<()> {
    prepare::check_args(args)?;
    check_io(args).map(drop)
}

/// The input, its format, the output, its format and `--until-idle`,
/// checked together.
fn check_io(
    args: &AggregateArgs,
) -> Result<(
    Input,
    InputFormat,
    Destination<'_>,
    OutputFormat,
    Option<std::time::Duration>,
)> {
    let input = Input::parse(&args.input)?;
    let format = input_format(args, &input);
    let dest = Destination::parse(&args.output)?;
    let out_format = dest.format(args.output_format);
    let until_idle = duration_flag("--until-idle", args.until_idle.as_deref())?;
    check_flags(args, &input, format, out_format, &dest, until_idle)?;
    Ok((input, format, dest, out_format, until_idle))
}

/// The source of a file or stdin: Parquet (a file, a directory, a glob)
/// read by path, NDJSON and CSV read as text.
fn file_source(
    input: &Input,
    format: InputFormat,
    args: &AggregateArgs,
) -> Result<Source<'static>> {
    let name = &args.input;
    let threads = args
        .threads
        .unwrap_or_else(osprey_query::source::stored::default_threads);
    let path = match input {
        Input::File(path) => Some(path),
        Input::Files(_) => {
            let data = StoredData::list(name)
                .map_err(from_query)?
                .threads(threads)
                .skip_by_path(!args.no_path_skip);
            return Ok(Source::Stored(Box::new(data)));
        }
        _ => None,
    };
    if format == InputFormat::Parquet {
        let path = path.ok_or_else(|| usage("parquet input needs a file, not stdin"))?;
        let data = StoredData::file(PathBuf::from(path), name).threads(threads);
        return Ok(Source::Stored(Box::new(data)));
    }
    let reader: Box<dyn std::io::Read + Send> = match path {
        Some(path) => Box::new(std::fs::File::open(path).map_err(|e| {
            anyhow!(InputError {
                input: path.clone(),
                reason: e.to_string(),
            })
        })?),
        None => Box::new(std::io::stdin()),
    };
    let format = if format == InputFormat::Csv {
        RecordFormat::Csv
    } else {
        RecordFormat::Ndjson
    };
    Ok(Source::Text {
        reader,
        format,
        name: name.to_owned(),
        threads,
    })
}
