//! The checked form of `osprey aggregate`'s arguments: the plan (from
//! flags or SQL) and the query on its engine (`osprey_query`), and the
//! combinations of input, output and streaming flags refused before any
//! work is done.

use std::path::Path;
use std::time::Duration;

use anyhow::{Result, anyhow};
use osprey_ingest::chunk::{RecordSchema, TimeFormat};
use osprey_kernels::Device;
use osprey_kernels::window::parse_duration;
use osprey_query::{Plan, Query, QueryOptions, sql};

use super::args::{AggregateArgs, InputFormat, OutputFormat};
use super::input::Input;
use super::output::Destination;
use crate::error::UsageError;

pub(super) fn usage(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!(UsageError(e.to_string()))
}

/// A lateness: `0` or a duration.
pub(super) fn lateness(s: &str) -> Result<i64> {
    match s.trim() {
        "0" | "0s" | "0ms" | "0us" => Ok(0),
        other => parse_duration(other).map_err(|e| usage(format!("--lateness: {e}"))),
    }
}

/// What the arguments make before any input or output is opened.
pub(super) struct Prepared {
    pub(super) query: Query,
    pub(super) schema: Option<RecordSchema>,
    pub(super) time_format: TimeFormat,
    pub(super) max_latency: Option<Duration>,
}

/// The arguments checked, before any device is opened.
pub(super) struct Checked {
    plan: Plan,
    options: QueryOptions,
    schema: Option<RecordSchema>,
    max_latency: Option<Duration>,
    memory_limit: Option<u64>,
}

/// Checks the arguments and makes the plan (from SQL or flags).
pub(super) fn check_args(args: &AggregateArgs) -> Result<Checked> {
    let references = references(args)?;
    let names: Vec<String> = references.iter().map(|(n, _)| n.clone()).collect();
    let plan = match (&args.sql, &args.anomaly) {
        (Some(query), _) => {
            let mut plan = sql::parse_with(query, &names)?;
            if plan.anomaly.is_some() {
                // SQL names no time field for a query without windows.
                plan.time_field.clone_from(&args.time_field);
            }
            plan
        }
        (None, Some(fields)) => {
            let params = osprey_query::rcf::Params::from_numbers(&args.rcf.numbers())?;
            osprey_query::rcf::plan::flags_plan(
                &args.time_field,
                fields,
                args.group_by.as_deref(),
                params,
            )?
        }
        (None, None) => {
            let window = args
                .window
                .as_deref()
                .ok_or_else(|| usage("--window (or --sql, or --anomaly) is required"))?;
            let aggs = args
                .agg
                .as_deref()
                .ok_or_else(|| usage("--agg (or --sql) is required"))?;
            Plan::from_flags(&args.time_field, window, args.group_by.as_deref(), aggs)?
        }
    };
    if let Some((name, _)) = references
        .iter()
        .find(|(n, _)| plan.join.as_ref().is_none_or(|j| j.table != *n))
    {
        return Err(usage(format!(
            "--reference {name}: the query joins no table {name}"
        )));
    }
    let lateness = lateness(&args.lateness)?;
    let time_format: TimeFormat = args.time_format.parse().map_err(usage)?;
    let schema = args
        .schema
        .as_deref()
        .map(RecordSchema::parse)
        .transpose()
        .map_err(usage)?;
    let max_latency = duration_flag("--max-latency", args.max_latency.as_deref())?;
    if args.batch_rows == 0 {
        return Err(usage("--batch-rows must be at least 1"));
    }
    Ok(Checked {
        plan,
        options: QueryOptions {
            lateness,
            time_format,
            references,
            data_dir: Some(args.data.data_dir.clone()),
            partitions: args
                .threads
                .unwrap_or_else(osprey_query::source::stored::default_threads),
        },
        schema,
        max_latency,
        memory_limit: super::memory::limit(args.memory_limit.as_deref())?,
    })
}

/// `--reference NAME=FILE`s, each name once, used by the SQL's JOIN.
fn references(args: &AggregateArgs) -> Result<Vec<(String, std::path::PathBuf)>> {
    let mut out: Vec<(String, std::path::PathBuf)> = Vec::new();
    for r in &args.reference {
        let (name, file) = r
            .split_once('=')
            .filter(|(n, f)| !n.is_empty() && !f.is_empty())
            .ok_or_else(|| usage(format!("--reference {r}: give NAME=FILE")))?;
        if out.iter().any(|(n, _)| n == name) {
            return Err(usage(format!("--reference {name} is given twice")));
        }
        out.push((name.to_owned(), file.into()));
    }
    if !out.is_empty() && args.sql.is_none() {
        return Err(usage("--reference needs --sql with a JOIN"));
    }
    Ok(out)
}

/// Checks the arguments and makes the plan and the query on its engine.
pub(super) fn prepare(args: &AggregateArgs) -> Result<Prepared> {
    let checked = check_args(args)?;
    // One device a process: a server would open it once and make every
    // query's aggregator from it.
    // An anomaly query runs its forests on the CPU and opens no device.
    let backend = match checked.plan.anomaly {
        Some(_) => Box::new(osprey_kernels::cpu::aggregate::CpuAggregator),
        None => Device::open(args.backend.into())?.aggregator()?,
    };
    tracing::debug!(backend = %backend.label(), "Aggregating.");
    let time_format = checked.options.time_format.clone();
    let mut query = Query::new(checked.plan, checked.options, backend)?;
    query.set_memory_limit(checked.memory_limit);
    Ok(Prepared {
        query,
        schema: checked.schema,
        time_format,
        max_latency: checked.max_latency,
    })
}

/// The input format: `--format`, else a file's extension, else NDJSON.
pub(super) fn input_format(args: &AggregateArgs, input: &Input) -> InputFormat {
    if let Some(f) = args.format {
        return f;
    }
    let path = match input {
        Input::File(path) => path,
        Input::Files(_) => return InputFormat::Parquet,
        _ => return InputFormat::Ndjson,
    };
    match Path::new(path).extension().and_then(|e| e.to_str()) {
        Some("parquet" | "pq") => InputFormat::Parquet,
        Some("csv") => InputFormat::Csv,
        _ => InputFormat::Ndjson,
    }
}

/// A duration flag as a [`Duration`].
pub(super) fn duration_flag(flag: &str, value: Option<&str>) -> Result<Option<Duration>> {
    value
        .map(|d| parse_duration(d).map(|us| Duration::from_micros(us.unsigned_abs())))
        .transpose()
        .map_err(|e| usage(format!("{flag}: {e}")))
}

/// Refuses combinations of input, output and the streaming flags that
/// cannot work, before any work is done.
pub(super) fn check_flags(
    args: &AggregateArgs,
    input: &Input,
    format: InputFormat,
    output: OutputFormat,
    dest: &Destination<'_>,
    until_idle: Option<Duration>,
) -> Result<()> {
    let live = input.is_live(args.stream.follow);
    if !matches!(input, Input::Stream(_)) && args.stream.given() {
        return Err(usage(
            "--from, --follow and --consumer apply to stream:NAME input",
        ));
    }
    if matches!(input, Input::Stream(_) | Input::Tcp(_) | Input::Broker(_))
        && format != InputFormat::Ndjson
    {
        return Err(usage(format!(
            "{} input carries NDJSON records: --format {} does not apply",
            osprey_ingest::broker::redact_url(&args.input),
            format!("{format:?}").to_lowercase()
        )));
    }
    if matches!(input, Input::Files(_)) && args.format.is_some() {
        return Err(usage(format!(
            "{}: the files of a directory or glob are read by their names ({}): --format does not apply",
            args.input,
            osprey_query::source::files::KINDS
        )));
    }
    if args.threads == Some(0) {
        return Err(usage("--threads must be at least 1"));
    }
    if until_idle.is_some() && !live {
        return Err(usage(
            "--until-idle applies to tcp:// and broker input and to stream:NAME input with --follow",
        ));
    }
    if live && until_idle.is_none() && output != OutputFormat::Ndjson {
        return Err(usage(
            "parquet and arrow output are written when the input ends, which live input \
             (tcp://, a broker, --follow) does only with --until-idle",
        ));
    }
    if let (Input::Stream(a), Destination::Stream(b)) = (input, dest)
        && a == b
    {
        return Err(usage(format!(
            "stream {a:?} cannot be both the input and the output"
        )));
    }
    Ok(())
}
