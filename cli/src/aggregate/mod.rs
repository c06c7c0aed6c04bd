//! `osprey aggregate`: window aggregation over telemetry records, from flags
//! or a streaming SQL query.
//!
//! The arguments become an `osprey_query::Query` first (its plan from the
//! flags or from SQL); records are read as Arrow batches (the chunker for
//! NDJSON and CSV, on a reader thread so slow streams flush by latency; the
//! Parquet reader for Parquet files) and pushed into the query, which runs
//! them on the window engine on the GPU or the CPU. Windows are written as
//! the watermark closes them (to the outputs [`output`] opens); late and
//! refused records go to the error output with their reason and the record
//! as it came in, so they can be replayed; a run that refused records ends
//! with [`RecordsRefused`] (exit code 5) once every other record is done.
//! The checked arguments and the query are made in [`prepare()`]; a stream
//! input is read in [`stream_source`], whose checkpoints follow the rows the
//! query has written, by the origin the chunker gives each row.
//!
//! Inputs ([`input`]): a file, stdin, a stream of the store (`stream:NAME`,
//! read as `osprey read` reads it), or NDJSON lines over TCP
//! (`tcp://HOST:PORT`). Files, stdin and a stream without `--follow` end,
//! and every window still open closes then. A stream with `--follow` and TCP
//! run until the process is killed (SIGINT, SIGTERM), or with `--until-idle`
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
pub mod output;
mod prepare;
mod stream_source;

use std::io::Write as _;
use std::path::Path;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow};
use osprey_ingest::chunk::{Chunk, ChunkConfig, Chunker, RawRecord, RecordFormat, read_parquet};
use osprey_query::{Outputs, Progress, Query, Shown};

use self::args::{AggregateArgs, InputFormat, OutputFormat};
use self::input::{Input, Listener, Origin, Rejected, TcpLine, TextItem, listen, spawn_text};
use self::output::{Destination, StreamTarget, open_errors};
use self::prepare::{check_flags, duration_flag, input_format, prepare, usage};
use self::stream_source::StreamSource;
use crate::exit::InputError;

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

/// Everything one run needs, checked.
struct Run {
    query: Query,
    out: Outputs,
}

impl Run {
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
    fn push(
        &mut self,
        chunker: &mut Chunker,
        record: RawRecord,
        origin: Option<Origin>,
    ) -> Result<()> {
        let chunk = match record {
            RawRecord::Json(line) => chunker.push_json_from(&line, origin).map_err(usage)?,
            RawRecord::Header(names) => {
                chunker.set_header(names);
                None
            }
            RawRecord::Cells(cells) => {
                let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
                chunker.push_cells_from(&cells, origin).map_err(usage)?
            }
        };
        self.bad_records(chunker)?;
        if let Some(chunk) = chunk {
            self.query.push(chunk, &mut self.out)?;
        }
        Ok(())
    }

    /// Processes every row the chunker holds.
    fn drain(&mut self, chunker: &mut Chunker) -> Result<()> {
        while let Some(chunk) = chunker.flush_chunk().map_err(usage)? {
            self.bad_records(chunker)?;
            self.query.push(chunk, &mut self.out)?;
        }
        self.bad_records(chunker)
    }
}

/// One item of a text input for the chunker.
enum Incoming {
    /// An NDJSON line or CSV row, and its origin when that is more than the
    /// chunker's line number.
    Record(RawRecord, Option<Origin>),
    /// A line that cannot be a record (too long, not UTF-8): where it came
    /// from, why, its first bytes and its length. A line of a file or stdin
    /// is counted by the chunker, so later lines keep their numbers.
    Refused(Origin, Rejected),
}

/// How a TCP input ends without a signal: once no connection has been open
/// and no line has come for `after`.
struct Idle<'a> {
    after: Duration,
    listener: &'a Listener,
}

/// Reads a text input (a file, stdin, TCP) until it ends: records into the
/// chunker, batches into the engine as they fill or as `--max-latency` makes
/// them due, so windows close while a slow input is still open.
fn read_text<T>(
    run: &mut Run,
    mut chunker: Chunker,
    rx: &Receiver<T>,
    item: impl Fn(T) -> std::io::Result<Incoming>,
    idle: Option<Idle<'_>>,
    input: &str,
) -> Result<()> {
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
        match got.map(&item) {
            None => {}
            Some(Err(e)) => {
                return Err(anyhow!(InputError {
                    input: input.to_owned(),
                    reason: e.to_string(),
                }));
            }
            Some(Ok(Incoming::Refused(origin, rejected))) => {
                last = Instant::now();
                if let Origin::Line(_) = origin {
                    chunker.skip_line();
                }
                let shown = Shown::Head {
                    head: &rejected.head,
                    bytes: rejected.bytes,
                };
                run.out
                    .errors
                    .refused(Some(&origin), &rejected.reason, shown)?;
                run.out.errors.flush()?;
            }
            Some(Ok(Incoming::Record(record, origin))) => {
                last = Instant::now();
                run.push(&mut chunker, record, origin)?;
            }
        }
        if chunker.due(Instant::now())
            && let Some(chunk) = chunker.flush_chunk().map_err(usage)?
        {
            run.bad_records(&mut chunker)?;
            run.query.push(chunk, &mut run.out)?;
        }
    }
    run.drain(&mut chunker)
}

/// Runs `osprey aggregate`.
///
/// # Errors
/// [`UsageError`](crate::exit::UsageError) for arguments that cannot be used, [`InputError`] for an
/// input that cannot be read, the engine's and the output's errors.
pub fn run(args: &AggregateArgs) -> Result<()> {
    let started = Instant::now();
    let prepared = prepare(args)?;
    let input = Input::parse(&args.input)?;
    let format = input_format(args, &input);
    let dest = Destination::parse(&args.output)?;
    let out_format = dest.format(args.output_format);
    let until_idle = duration_flag("--until-idle", args.until_idle.as_deref())?;
    check_flags(args, &input, format, out_format, &dest, until_idle)?;
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
    let mut source = match &input {
        Input::Stream(name) => Some(StreamSource::open(args, name)?),
        _ => None,
    };
    let listener = match &input {
        Input::Tcp(addr) => Some(listen(addr)?),
        _ => None,
    };
    let key_fields = prepared.query.plan().partition_fields();
    let target = StreamTarget {
        data_dir: &args.data.data_dir,
        partition_key: &args.input,
        key_fields: &key_fields,
    };
    let rows = output::open(&dest, args.output_format, prepared.query.names(), target)?;
    let errors = open_errors(&args.errors)?;
    // Parquet and Arrow files are written at the end: only then are their
    // windows written, and only then may a consumer checkpoint.
    let mut query = prepared.query;
    if let Some(s) = source
        .as_ref()
        .filter(|s| s.consumer.is_some() && out_format == OutputFormat::Ndjson)
    {
        query.track(Progress::new(
            query.plan().window,
            s.reader.positions().clone(),
        ));
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
    let mut run = Run {
        query,
        out: Outputs { rows, errors },
    };
    let label = run.query.backend_label();

    match (&input, format) {
        (Input::Stream(_), _) => {
            let chunker = Chunker::new(chunk_config).map_err(usage)?;
            if let Some(s) = &mut source {
                s.read(&mut run, chunker, args.stream.follow, until_idle)?;
            }
        }
        (Input::Tcp(_), _) => {
            let chunker = Chunker::new(chunk_config).map_err(usage)?;
            if let Some(l) = &listener {
                let _ = writeln!(
                    std::io::stderr(),
                    "osprey: listening on tcp://{} for records to aggregate",
                    l.local
                );
                let idle = until_idle.map(|after| Idle { after, listener: l });
                let item = |line: TcpLine| {
                    Ok(match line.text {
                        Ok(text) => Incoming::Record(RawRecord::Json(text), Some(line.origin)),
                        Err(reason) => Incoming::Refused(line.origin, reason),
                    })
                };
                read_text(&mut run, chunker, &l.lines, item, idle, &args.input)?;
            }
        }
        (Input::Stdin, InputFormat::Parquet) => {
            return Err(usage("parquet input needs a file, not stdin"));
        }
        (Input::File(path), InputFormat::Parquet) => {
            read_parquet_file(&mut run, path, args.batch_rows)?
        }
        (Input::Stdin | Input::File(_), InputFormat::Ndjson | InputFormat::Csv) => {
            let reader: Box<dyn std::io::Read + Send> = match &input {
                Input::File(path) => Box::new(std::fs::File::open(path).map_err(|e| {
                    anyhow!(InputError {
                        input: path.clone(),
                        reason: e.to_string(),
                    })
                })?),
                _ => Box::new(std::io::stdin()),
            };
            let record_format = if format == InputFormat::Csv {
                RecordFormat::Csv
            } else {
                RecordFormat::Ndjson
            };
            let chunker = Chunker::new(chunk_config).map_err(usage)?;
            let rx = spawn_text(reader, record_format, 4096);
            let item = |r: std::io::Result<TextItem>| {
                r.map(|r| match r {
                    TextItem::Record(r) => Incoming::Record(r, None),
                    TextItem::Refused { line, rejected } => {
                        Incoming::Refused(Origin::Line(line), rejected)
                    }
                })
            };
            read_text(&mut run, chunker, &rx, item, None, &args.input)?;
        }
    }
    run.query.finish(&mut run.out)?;
    let (rows, windows) = (run.query.rows(), run.query.windows());
    let Outputs {
        rows: sink,
        mut errors,
    } = run.out;
    errors.flush()?;
    sink.finish().context("cannot finish the output")?;
    // Every window is written now: the whole read is done.
    if let Some(s) = &source {
        s.save(s.reader.positions())?;
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

/// Reads a Parquet file, decoding on a thread of its own two batches ahead
/// of the engine.
fn read_parquet_file(run: &mut Run, path: &str, batch_rows: usize) -> Result<()> {
    let fail = |e: &dyn std::fmt::Display| {
        anyhow!(InputError {
            input: path.to_owned(),
            reason: format!("{e}"),
        })
    };
    let batches = read_parquet(Path::new(path), batch_rows).map_err(|e| fail(&e))?;
    let (tx, rx) = std::sync::mpsc::sync_channel(2);
    std::thread::spawn(move || {
        for batch in batches {
            if tx.send(batch).is_err() {
                return;
            }
        }
    });
    for batch in rx {
        let batch = batch.map_err(|e| fail(&e))?;
        run.query.push(Chunk::from(batch), &mut run.out)?;
    }
    Ok(())
}
