//! `osprey deliver <stream> --to DIR`: Firehose-style delivery of a stream
//! into files, NDJSON, Parquet or Arrow IPC.
//!
//! Records are buffered until `--buffer-mib` of data or `--buffer-seconds`
//! since the oldest one (or, without `--follow`, the end of the stream), then
//! written as one file under a prefix from the oldest record's arrival time,
//! `DIR/year=2026/month=12/day=01/hour=17/<stream>-<time>-<shard>-<seq>.parquet`.
//! A record that cannot be converted (data that is not JSON, for NDJSON; not
//! a JSON object or not fitting the inferred columns, for Parquet) goes to
//! the same path under `DIR/errors/` as an NDJSON line with its shard,
//! sequence number, reason and data. Files appear whole (written aside,
//! fsynced, renamed), and the named consumer's checkpoint (`--consumer`,
//! `deliver` by default) moves only after them, so a crash delivers a batch
//! again rather than losing it.

use std::fs::{self, File};
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use osprey_ingest::chunk::{ChunkConfig, Chunker};
use osprey_ingest::store::time::format_ms;
use osprey_ingest::store::{Record, StartingPosition, Store, StreamReader};
use serde::de::IgnoredAny;

use crate::args::stream::{Compression, DeliverArgs, DeliverFormat};
use crate::exit::UsageError;

/// Runs `osprey deliver`.
pub fn run(args: &DeliverArgs) -> Result<()> {
    let from: StartingPosition = args
        .from
        .parse()
        .map_err(|e: osprey_ingest::IngestError| UsageError(e.to_string()))?;
    let ok = |v: f64| v.is_finite() && v > 0.0;
    if args.compression != Compression::None && args.format != DeliverFormat::Ndjson {
        return Err(UsageError(
            "--compression applies to --format ndjson only (Parquet compresses itself)".into(),
        )
        .into());
    }
    if !ok(args.buffer_mib) || !ok(args.buffer_seconds) {
        return Err(UsageError("--buffer-mib and --buffer-seconds must be above 0".into()).into());
    }
    let max_bytes = (args.buffer_mib * f64::from(1 << 20)) as usize;
    let max_age = Duration::from_secs_f64(args.buffer_seconds);
    let store = Store::open_read_only(&args.data.data_dir)?;
    let mut reader = StreamReader::new(&store, &args.stream, from, Some(&args.consumer))?;
    let mut buffer: Vec<(String, Record)> = Vec::new();
    let (mut bytes, mut since) = (0, None::<Instant>);
    let mut tally = Tally::default();
    loop {
        let batch = reader.poll(&store, 1000, 4 << 20)?;
        let caught_up = batch.is_empty();
        let mut wrote = false;
        for (shard, record) in batch {
            bytes += record.data.len();
            since.get_or_insert_with(Instant::now);
            buffer.push((shard, record));
            if bytes >= max_bytes {
                deliver_buffer(args, &mut buffer, &mut tally)?;
                (bytes, since) = (0, None);
                wrote = true;
            }
        }
        let due = since.is_some_and(|t| t.elapsed() >= max_age) || (caught_up && !args.follow);
        if due && !buffer.is_empty() {
            deliver_buffer(args, &mut buffer, &mut tally)?;
            (bytes, since) = (0, None);
            wrote = true;
        }
        // The positions are past every record polled: they are a checkpoint
        // only once all of those are in files.
        if wrote && buffer.is_empty() {
            reader.checkpoint(&store)?;
        }
        if caught_up {
            if !args.follow {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let _ = writeln!(
        std::io::stderr(),
        "osprey: delivered {} records in {} files to {}, {} to errors/",
        tally.records,
        tally.files,
        args.to.display(),
        tally.errors
    );
    Ok(())
}

/// What a run delivered.
#[derive(Debug, Default)]
struct Tally {
    records: u64,
    files: u64,
    errors: u64,
}

/// Writes the buffered records as one file of `args`'s format and empties
/// the buffer.
fn deliver_buffer(
    args: &DeliverArgs,
    buffer: &mut Vec<(String, Record)>,
    tally: &mut Tally,
) -> Result<()> {
    deliver(
        &args.to,
        &args.stream,
        args.format,
        args.compression,
        buffer,
        tally,
    )?;
    buffer.clear();
    Ok(())
}

/// Writes one buffer as one file (and its refused records to errors/).
fn deliver(
    dir: &Path,
    stream: &str,
    format: DeliverFormat,
    compression: Compression,
    buffer: &[(String, Record)],
    tally: &mut Tally,
) -> Result<()> {
    let (shard, first) = &buffer[0];
    let stamp = format_ms(first.timestamp_ms);
    // 2026-12-01T17:43:30.250Z: the prefix and a name that sorts by time.
    let prefix = format!(
        "year={}/month={}/day={}/hour={}",
        &stamp[0..4],
        &stamp[5..7],
        &stamp[8..10],
        &stamp[11..13]
    );
    let shard_no = shard.rsplit('-').next().unwrap_or(shard);
    let name = format!(
        "{stream}-{}-{shard_no}-{}",
        stamp.replace([':', '.'], "-"),
        first.seq
    );
    let mut bad: Vec<(usize, String)> = Vec::new();
    let ext = match format {
        DeliverFormat::Ndjson if compression == Compression::Gzip => "ndjson.gz",
        DeliverFormat::Ndjson => "ndjson",
        DeliverFormat::Parquet => "parquet",
        DeliverFormat::Arrow => "arrow",
    };
    let path = dir.join(&prefix).join(format!("{name}.{ext}"));
    let written = match format {
        DeliverFormat::Ndjson => {
            let mut out = Vec::new();
            for (i, (_, r)) in buffer.iter().enumerate() {
                if serde_json::from_slice::<IgnoredAny>(&r.data).is_err() {
                    bad.push((i, "data is not JSON".into()));
                } else if r.data.contains(&b'\n') {
                    bad.push((i, "data spans more than one line".into()));
                } else {
                    out.extend_from_slice(&r.data);
                    out.push(b'\n');
                }
            }
            let n = buffer.len() - bad.len();
            if n > 0 {
                write_whole(&path, |f| {
                    if compression == Compression::Gzip {
                        let mut gz =
                            flate2::write::GzEncoder::new(f, flate2::Compression::default());
                        gz.write_all(&out)?;
                        gz.finish()?;
                    } else {
                        f.write_all(&out)?;
                    }
                    Ok(())
                })?;
            }
            n
        }
        DeliverFormat::Parquet | DeliverFormat::Arrow => columns(&path, format, buffer, &mut bad)?,
    };
    if written > 0 {
        tally.files += 1;
        tally.records += written as u64;
    }
    if !bad.is_empty() {
        let mut out = Vec::new();
        for (i, reason) in &bad {
            let (shard, r) = &buffer[*i];
            let data = String::from_utf8_lossy(&r.data);
            let line =
                serde_json::json!({"shard": shard, "seq": r.seq, "reason": reason, "data": data});
            serde_json::to_writer(&mut out, &line)?;
            out.push(b'\n');
        }
        let path = dir
            .join("errors")
            .join(&prefix)
            .join(format!("{name}.ndjson"));
        write_whole(&path, |f| Ok(f.write_all(&out)?))?;
        tally.errors += bad.len() as u64;
    }
    Ok(())
}

/// Converts the buffer through the chunker (columns inferred from the JSON
/// objects) and writes one Parquet or Arrow IPC file; returns the rows written.
fn columns(
    path: &Path,
    format: DeliverFormat,
    buffer: &[(String, Record)],
    bad: &mut Vec<(usize, String)>,
) -> Result<usize> {
    let mut chunker = Chunker::new(ChunkConfig {
        max_rows: usize::MAX,
        infer_rows: 1000,
        ..ChunkConfig::default()
    })?;
    let mut batches = Vec::new();
    // The chunker numbers the lines it is given from 1; map them back.
    let mut given = Vec::with_capacity(buffer.len());
    for (i, (_, r)) in buffer.iter().enumerate() {
        match std::str::from_utf8(&r.data) {
            Ok(text) if !text.trim().is_empty() => {
                given.push(i);
                batches.extend(chunker.push_json(text)?);
            }
            Ok(_) => bad.push((i, "empty data".into())),
            Err(_) => bad.push((i, "data is not UTF-8 JSON".into())),
        }
    }
    batches.extend(chunker.flush()?);
    for b in chunker.take_bad() {
        let i = usize::try_from(b.line)
            .ok()
            .and_then(|l| given.get(l.checked_sub(1)?))
            .copied();
        if let Some(i) = i {
            bad.push((i, b.reason));
        }
    }
    bad.sort_unstable_by_key(|(i, _)| *i);
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    if rows > 0 {
        write_whole(path, |f| {
            let schema = batches[0].schema();
            if format == DeliverFormat::Arrow {
                let mut w = arrow::ipc::writer::FileWriter::try_new(f, &schema)?;
                for b in &batches {
                    w.write(b)?;
                }
                w.finish()?;
            } else {
                let mut w = parquet::arrow::ArrowWriter::try_new(f, schema, None)?;
                for b in &batches {
                    w.write(b)?;
                }
                w.close()?;
            }
            Ok(())
        })?;
    }
    Ok(rows)
}

/// Writes `path` aside, fsyncs it and renames it into place, so a reader
/// (or a crash) never sees half a file.
fn write_whole(path: &Path, write: impl FnOnce(&mut BufWriter<File>) -> Result<()>) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)
        .with_context(|| format!("cannot create {:?}", dir.display().to_string()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp: PathBuf = dir.join(format!(".{name}.tmp"));
    let context = || format!("cannot write {:?}", path.display().to_string());
    let file = File::create(&tmp).with_context(context)?;
    let mut out = BufWriter::new(file);
    write(&mut out).with_context(context)?;
    let file = out
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(context)?;
    file.sync_all().with_context(context)?;
    fs::rename(&tmp, path).with_context(context)?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(context)?;
    Ok(())
}
