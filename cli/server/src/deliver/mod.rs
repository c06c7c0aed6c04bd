//! `osprey deliver <stream> --to DIR|URL`: Firehose-style delivery
//! ([`osprey_ingest::deliver`]) of a stream into files, to an HTTP
//! webhook or to a message broker. This module checks the arguments into
//! the library's configs, opens the store, runs the delivery and prints its
//! closing line.

use std::io::Write as _;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Result;
use osprey_ingest::deliver::{
    self, DeliverConfig, Destination, FileFormat, FilesConfig, ToBroker, ToFiles, ToWebhook,
};
use osprey_ingest::output_spec::OutputSpec;
use osprey_ingest::sink::webhook::parse_header;
use osprey_ingest::sink::{ContentEncoding, Webhook, WebhookConfig};
use osprey_ingest::store::{StartingPosition, Store};

use crate::args::stream::{Compression, DeliverArgs, DeliverFormat};
use crate::error::UsageError;

/// Runs `osprey deliver`.
pub fn run(args: &DeliverArgs) -> Result<()> {
    let (config, mut destination) = prepare(args)?;
    let store = Store::open_read_only(&args.data.data_dir)?;
    let tally = deliver::run(&store, &config, destination.as_mut())?;
    let _ = writeln!(std::io::stderr(), "osprey: {}", destination.summary(&tally));
    Ok(())
}

/// Runs `osprey deliver` on `store` (the server's, shared) until the end
/// of the stream or, following, until `stop` is set; then what was read is
/// delivered and checkpointed. Returns the closing line.
///
/// # Errors
/// As [`run`].
pub fn run_on(args: &DeliverArgs, store: &Store, stop: &AtomicBool) -> Result<String> {
    let (config, mut destination) = prepare(args)?;
    let tally = deliver::run_until(store, &config, destination.as_mut(), stop)?;
    Ok(destination.summary(&tally))
}

/// Checks `args` into the delivery's config and its destination; nothing
/// is opened or sent yet.
///
/// # Errors
/// [`UsageError`]s naming the flag at fault.
pub fn prepare(args: &DeliverArgs) -> Result<(DeliverConfig, Box<dyn Destination>)> {
    let from: StartingPosition = args
        .from
        .parse()
        .map_err(|e: osprey_ingest::IngestError| UsageError(e.to_string()))?;
    let ok = |v: f64| v.is_finite() && v > 0.0;
    if !ok(args.buffer_mib) || !ok(args.buffer_seconds) {
        return Err(UsageError("--buffer-mib and --buffer-seconds must be above 0".into()).into());
    }
    let destination: Box<dyn Destination> = match OutputSpec::parse(&args.to, "--to") {
        Ok(OutputSpec::Webhook(url)) => Box::new(to_webhook(args, &url)?),
        Ok(OutputSpec::Broker(target)) => Box::new(to_broker(args, &target)?),
        // Anything else is a folder: `-` and `stream:NAME` are folder names
        // here, as they always were.
        _ => Box::new(to_files(args)?),
    };
    let config = DeliverConfig {
        stream: args.stream.clone(),
        from,
        consumer: args.consumer.clone(),
        follow: args.follow,
        max_bytes: (args.buffer_mib * f64::from(1 << 20)) as usize,
        max_age: Duration::from_secs_f64(args.buffer_seconds),
    };
    Ok((config, destination))
}

/// The files destination `args` name, checked.
///
/// # Errors
/// A usage error for webhook-only flags or compression of columns.
fn to_files(args: &DeliverArgs) -> Result<ToFiles> {
    check_compression(args)?;
    no_webhook_flags(args)?;
    let config = FilesConfig {
        dir: args.to.clone(),
        errors_dir: args
            .errors_to
            .clone()
            .unwrap_or_else(|| args.to.join("errors")),
        format: match args.format {
            DeliverFormat::Ndjson => FileFormat::Ndjson,
            DeliverFormat::Parquet => FileFormat::Parquet,
            DeliverFormat::Arrow => FileFormat::Arrow,
        },
        encoding: encoding(args.compression),
    };
    Ok(ToFiles::new(&args.stream, config))
}

/// The broker `target`, checked: NDJSON only, no webhook or compression
/// flags; nothing is sent yet.
///
/// # Errors
/// A usage error for a flag that does not apply or a bad URL.
fn to_broker(args: &DeliverArgs, target: &osprey_ingest::broker::Broker) -> Result<ToBroker> {
    if args.format != DeliverFormat::Ndjson || args.compression != Compression::None {
        return Err(UsageError(
            "a broker takes --format ndjson, uncompressed (one message a record)".into(),
        )
        .into());
    }
    no_webhook_flags(args)?;
    ToBroker::new(&args.stream, target, args.errors_to.clone())
        .map_err(|e| UsageError(e.to_string()).into())
}

/// Refuses the flags only a webhook takes.
fn no_webhook_flags(args: &DeliverArgs) -> Result<()> {
    let webhook_only = "webhook destinations (--to http://...)";
    only_for(!args.headers.is_empty(), "--header", webhook_only)?;
    only_for(
        args.timeout_seconds.is_some(),
        "--timeout-seconds",
        webhook_only,
    )?;
    only_for(
        args.retry_seconds.is_some(),
        "--retry-seconds",
        webhook_only,
    )?;
    Ok(())
}

/// The webhook at `url` with `args`'s headers, compression and times,
/// checked; nothing is sent yet.
///
/// # Errors
/// A usage error for a bad URL (https among them), header, time or format.
fn to_webhook(args: &DeliverArgs, url: &str) -> Result<ToWebhook> {
    if args.format != DeliverFormat::Ndjson {
        return Err(UsageError(
            "a webhook takes --format ndjson only (one POST of NDJSON a batch)".into(),
        )
        .into());
    }
    let mut config = WebhookConfig::new(url);
    config.encoding = encoding(args.compression);
    for header in &args.headers {
        config
            .headers
            .push(parse_header(header).map_err(|e| UsageError(e.to_string()))?);
    }
    if let Some(t) = args.timeout_seconds {
        config.timeout = seconds(t, "--timeout-seconds", false)?;
    }
    if let Some(t) = args.retry_seconds {
        config.retry_for = seconds(t, "--retry-seconds", true)?;
    }
    let sink = Webhook::new(config).map_err(|e| UsageError(e.to_string()))?;
    Ok(ToWebhook::new(&args.stream, sink, args.errors_to.clone()))
}

/// `value` seconds as a duration: finite, above 0 (or 0 too with `zero_ok`).
fn seconds(value: f64, flag: &str, zero_ok: bool) -> Result<Duration> {
    let fine = value.is_finite() && (value > 0.0 || (zero_ok && value == 0.0));
    match Duration::try_from_secs_f64(value) {
        Ok(d) if fine => Ok(d),
        _ => {
            let range = if zero_ok { "0 or more" } else { "above 0" };
            Err(UsageError(format!("{flag} must be {range} seconds, not {value}")).into())
        }
    }
}

/// Checks the arguments that only one kind of destination takes.
fn only_for(given: bool, flag: &str, kind: &str) -> Result<()> {
    if given {
        return Err(UsageError(format!("{flag} applies to {kind} only")).into());
    }
    Ok(())
}

/// The sink's encoding for a `--compression` choice.
fn encoding(compression: Compression) -> ContentEncoding {
    match compression {
        Compression::None => ContentEncoding::Identity,
        Compression::Gzip => ContentEncoding::Gzip,
        Compression::Zstd => ContentEncoding::Zstd,
    }
}

/// `--format` other than NDJSON with `--compression`: refused.
fn check_compression(args: &DeliverArgs) -> Result<()> {
    if args.compression != Compression::None && args.format != DeliverFormat::Ndjson {
        return Err(UsageError(
            "--compression applies to --format ndjson only (Parquet compresses itself)".into(),
        )
        .into());
    }
    Ok(())
}
