//! The configuration's pieces as the CLI's checked settings: a camera as
//! the [`LiveSource`] `osprey analyze --sources` would run, a query as the
//! [`AggregateArgs`] of `osprey aggregate stream:INPUT --follow --consumer
//! NAME`, a delivery as the [`DeliverArgs`] of `osprey deliver --follow
//! --consumer NAME`. Each goes through the command's own parser and checks,
//! so the server accepts exactly what the commands accept.

use std::path::Path;

use anyhow::{Context as _, Result, anyhow};
use clap::Parser as _;
use osprey_kernels::BackendChoice;
use osprey_video::live::LiveSource;

use crate::aggregate::args::AggregateArgs;
use crate::analyze::SourceConfig;
use crate::args::stream::DeliverArgs;
use crate::args::{AnalyzeArgs, Cli, Command};
use crate::serve::config::{CameraConfig, DeliveryConfig, QueryConfig};

/// The live source a camera runs, checked as `osprey analyze --sources`
/// checks a `[[sources]]` table.
///
/// # Errors
/// The analyze checks' usage errors, naming the option.
pub fn live_source(camera: &CameraConfig) -> Result<LiveSource> {
    let args = analyze_defaults()?;
    let s = SourceConfig::build(
        &args,
        &camera.source.uri,
        Some(&camera.name),
        Some(&camera.source),
    )
    .with_context(|| format!("camera {:?}", camera.name))?;
    Ok(LiveSource {
        name: s.name,
        spec: s.spec,
        analysis: s.options,
        supervision: s.supervision,
        live: s.live_options,
        volume: s.volume,
    })
}

/// `osprey analyze`'s defaults (every option left out).
fn analyze_defaults() -> Result<AnalyzeArgs> {
    match parse(&["analyze", "-"])? {
        Command::Analyze(a) => Ok(*a),
        _ => Err(anyhow!("analyze arguments did not parse as analyze")),
    }
}

/// The arguments of `osprey aggregate stream:INPUT --follow --consumer NAME
/// --output OUTPUT` with the query's SQL or flags, on `data_dir`.
///
/// # Errors
/// The aggregate command's parse errors, as one line naming the query.
pub fn aggregate_args(
    query: &QueryConfig,
    data_dir: &Path,
    backend: BackendChoice,
) -> Result<AggregateArgs> {
    let backend = match backend {
        BackendChoice::Auto => "auto",
        BackendChoice::Gpu => "gpu",
        BackendChoice::Cpu => "cpu",
    };
    let input = format!("stream:{}", query.input);
    let data_dir = data_dir.to_string_lossy();
    let mut argv: Vec<&str> = vec![
        "aggregate",
        &input,
        "--follow",
        "--consumer",
        &query.name,
        "--output",
        &query.output,
        "--data-dir",
        &data_dir,
        "--backend",
        backend,
    ];
    if let Some(sql) = &query.sql {
        argv.extend(["--sql", sql]);
    }
    argv.extend(query.flags.iter().flatten().map(String::as_str));
    match parse(&argv).with_context(|| format!("query {:?}", query.name))? {
        Command::Aggregate(a) => Ok(*a),
        _ => Err(anyhow!("aggregate arguments did not parse as aggregate")),
    }
}

/// The arguments of `osprey deliver STREAM --to TO --follow --consumer NAME`
/// with the delivery's format and buffer, on `data_dir`.
///
/// # Errors
/// The deliver command's parse errors, as one line naming the delivery.
pub fn deliver_args(delivery: &DeliveryConfig, data_dir: &Path) -> Result<DeliverArgs> {
    let data_dir = data_dir.to_string_lossy();
    let mut argv: Vec<String> = [
        "deliver",
        &delivery.stream,
        "--to",
        &delivery.to,
        "--follow",
        "--consumer",
        &delivery.name,
        "--data-dir",
        &data_dir,
    ]
    .map(str::to_owned)
    .to_vec();
    if let Some(f) = &delivery.format {
        argv.extend(["--format".into(), f.clone()]);
    }
    if let Some(m) = delivery.buffer_mib {
        argv.extend(["--buffer-mib".into(), m.to_string()]);
    }
    if let Some(s) = delivery.buffer_seconds {
        argv.extend(["--buffer-seconds".into(), s.to_string()]);
    }
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    match parse(&argv).with_context(|| format!("delivery {:?}", delivery.name))? {
        Command::Deliver(a) => Ok(a),
        _ => Err(anyhow!("deliver arguments did not parse as deliver")),
    }
}

/// Parses `osprey ARGS...`; an error is clap's message on one line.
fn parse(args: &[&str]) -> Result<Command> {
    let argv = std::iter::once("osprey").chain(args.iter().copied());
    let cli = Cli::try_parse_from(argv).map_err(|e| {
        let text = e.to_string();
        let first = text
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("invalid arguments");
        anyhow!("{}", first.trim_start_matches("error: "))
    })?;
    Ok(cli.command)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_becomes_a_following_aggregate() {
        let q = QueryConfig {
            name: "per_second".into(),
            input: "frames".into(),
            sql: None,
            flags: Some(vec!["--window".into(), "1s".into()]),
            output: "out.ndjson".into(),
        };
        let a = aggregate_args(&q, Path::new("data"), BackendChoice::Cpu).unwrap();
        assert_eq!(a.input, "stream:frames");
        assert!(a.stream.follow);
        assert_eq!(a.stream.consumer.as_deref(), Some("per_second"));
        let bad = QueryConfig {
            flags: Some(vec!["--no-such-flag".into()]),
            ..q
        };
        let err = format!(
            "{:#}",
            aggregate_args(&bad, Path::new("data"), BackendChoice::Cpu).unwrap_err()
        );
        assert!(
            err.contains("per_second") && err.contains("--no-such-flag"),
            "{err}"
        );
    }
}
