//! Window aggregation.
//!
//! Tables made through arrow (see [`crate::inputs`]): rows over one hour,
//! string sensor ids drawn with a skew, at 1, 10,000 and 1,000,000 distinct
//! sensors (Parquet), and the 10,000-sensor rows as NDJSON too. Tumbling
//! 1-minute windows grouped by sensor: count, sum, min, max and avg of both
//! values; and with percentiles (count, avg, approx_percentile(temp, 0.5),
//! p99) on the 10,000-sensor table.
//!
//! osprey runs in this process, the query engine on each backend reading
//! the file and writing NDJSON rows to a file, as `osprey aggregate` does
//! (tumbling windows on the CPU on every core); DuckDB runs the same query
//! from the same file into an NDJSON file through python3 (its time includes
//! python3's start and `import duckdb`, about a tenth of a second). On a
//! software GPU adapter the GPU backend runs the 1-sensor table only.

use std::fs::File;
use std::path::Path;
use std::process::Command;

use osprey_ingest::chunk::{ChunkConfig, RecordFormat};
use osprey_kernels::Device;
use osprey_query::{ErrorSink, Outputs, Plan, Query, QueryOptions, ResultSink, Source};

use crate::Ctx;
use crate::args::{BackendKind, Peer, Workload};
use crate::error::{BenchError, Result};
use crate::inputs::{self, Table};
use crate::runner::{Case, Contender, child, in_process};
use crate::workloads::measure;

/// The aggregates of the plain cases, osprey's and DuckDB's spelling.
const BASIC: (&str, &str) = (
    "count(*),sum(temp),min(temp),max(temp),avg(temp),sum(humidity),min(humidity),max(humidity),avg(humidity)",
    "count(*), sum(temp), min(temp), max(temp), avg(temp), sum(humidity), min(humidity), max(humidity), avg(humidity)",
);

/// The aggregates of the percentile case.
const PERCENTILES: (&str, &str) = (
    "count(*),avg(temp),approx_percentile(temp, 0.5),p99(temp)",
    "count(*), avg(temp), approx_quantile(temp, 0.5), approx_quantile(temp, 0.99)",
);

/// A table's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Parquet,
    Ndjson,
}

/// A key count's short name: `1`, `10k`, `1M`.
fn keys_name(keys: u32) -> String {
    match keys {
        k if k >= 1_000_000 && k % 1_000_000 == 0 => format!("{}M", k / 1_000_000),
        k if k >= 1000 && k % 1000 == 0 => format!("{}k", k / 1000),
        k => k.to_string(),
    }
}

/// Runs the aggregation workload.
///
/// # Errors
/// A table that cannot be made, a query that fails, DuckDB failing.
pub fn run(ctx: &mut Ctx<'_>) -> Result<()> {
    let w = Workload::Aggregate;
    let quick = ctx.options.quick;
    let (rows, keys, middle): (u64, &[u32], u32) = if quick {
        (20_000, &[1, 100], 100)
    } else {
        (4_000_000, &[1, 10_000, 1_000_000], 10_000)
    };
    let duckdb = ctx.peer(w, Peer::Duckdb);
    let gpu = ctx.gpu(w);
    let software = ctx.gpu_is_software();
    if gpu.is_some() && software {
        ctx.note(
            w,
            "osprey-gpu",
            "the GPU adapter is a software one (it runs shaders on the CPU): the GPU backend runs the 1-sensor table only",
        );
    }
    let mut cases: Vec<(String, Table, Format, (&str, &str))> = Vec::new();
    for &k in keys {
        let table = inputs::parquet_table(&ctx.inputs, rows, k)?;
        cases.push((
            format!("window/{}-keys/parquet", keys_name(k)),
            table,
            Format::Parquet,
            BASIC,
        ));
    }
    let table = inputs::parquet_table(&ctx.inputs, rows, middle)?;
    cases.push((
        format!("percentiles/{}-keys/parquet", keys_name(middle)),
        table,
        Format::Parquet,
        PERCENTILES,
    ));
    let table = inputs::ndjson_table(&ctx.inputs, rows, middle)?;
    cases.push((
        format!("window/{}-keys/ndjson", keys_name(middle)),
        table,
        Format::Ndjson,
        BASIC,
    ));

    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let backends = ctx.options.backends.clone();
    let scratch = ctx.scratch.clone();
    for (name, table, format, (ours, theirs)) in &cases {
        let case = Case {
            workload: w.name(),
            name: name.clone(),
            input: format!(
                "{} rows over one hour, {} sensors (skewed), {}; tumbling 1-minute windows by sensor",
                table.rows,
                table.keys,
                match format {
                    Format::Parquet => "Parquet (Snappy)",
                    Format::Ndjson => "NDJSON",
                }
            ),
            unit: "rows",
            items: table.rows,
        };
        let mut contenders = Vec::new();
        for &b in &backends {
            let device = match b {
                BackendKind::Cpu => Device::cpu(),
                BackendKind::Gpu => match &gpu {
                    Some(g) if !software || table.keys == 1 => {
                        Device::gpu(std::sync::Arc::clone(g))
                    }
                    _ => continue,
                },
            };
            let out = scratch.join(format!("{}.ndjson", b.subject()));
            let format = *format;
            contenders.push(Contender::new(b.subject(), move || {
                in_process(|| {
                    let written = osprey(&device, table, format, ours, threads, &out)?;
                    if written != table.rows {
                        return Err(BenchError::Table(format!(
                            "osprey aggregated {written} of {} rows of {:?}",
                            table.rows, table.path
                        )));
                    }
                    Ok(None)
                })
            }));
        }
        if duckdb {
            let script = duckdb_script(
                table,
                *format,
                theirs,
                threads,
                &scratch.join("duckdb.ndjson"),
            );
            let log = scratch.join("duckdb.log");
            contenders.push(Contender::new("duckdb", move || {
                child(Command::new("python3").args(["-c", &script]), None, &log)
            }));
        }
        measure(
            &mut ctx.results,
            ctx.options,
            ctx.progress,
            &case,
            &mut contenders,
        )?;
    }
    Ok(())
}

/// Aggregates `table` with `aggs` on `device` into NDJSON at `out`, as
/// `osprey aggregate` does; returns the rows read.
fn osprey(
    device: &Device,
    table: &Table,
    format: Format,
    aggs: &str,
    threads: usize,
    out: &Path,
) -> Result<u64> {
    let plan = Plan::from_flags("ts", "tumbling:1m", Some("sensor"), aggs)?;
    let options = QueryOptions {
        partitions: threads,
        ..QueryOptions::default()
    };
    let mut query = Query::new(plan, options, device.aggregator()?)?;
    let file = File::create(out).map_err(|e| BenchError::io("create", out, e))?;
    let rows = ResultSink::ndjson(Box::new(file), query.names());
    let mut outputs = Outputs {
        rows,
        errors: ErrorSink::new(Box::new(std::io::sink())),
    };
    let name = table.path.display().to_string();
    let mut source = match format {
        Format::Parquet => Source::Parquet {
            path: table.path.clone(),
            name,
        },
        Format::Ndjson => Source::Text {
            reader: Box::new(
                File::open(&table.path).map_err(|e| BenchError::io("open", &table.path, e))?,
            ),
            format: RecordFormat::Ndjson,
            name,
            threads,
        },
    };
    let chunk = ChunkConfig {
        time_field: Some("ts".to_owned()),
        max_rows: 1 << 20,
        infer_rows: 20_480,
        infer_bytes: 8 << 20,
        ..ChunkConfig::default()
    };
    source.feed(&mut query, &mut outputs, chunk)?;
    query.finish(&mut outputs)?;
    let Outputs { rows, mut errors } = outputs;
    errors.flush()?;
    rows.finish()?;
    Ok(query.rows())
}

/// The python3 script that runs the same query in DuckDB.
fn duckdb_script(table: &Table, format: Format, aggs: &str, threads: usize, out: &Path) -> String {
    let path = table.path.display().to_string().replace('\'', "''");
    let from = match format {
        Format::Parquet => format!("read_parquet('{path}')"),
        Format::Ndjson => format!("read_json('{path}', format = 'newline_delimited')"),
    };
    let out = out.display().to_string().replace('\'', "''");
    format!(
        r#"import duckdb
con = duckdb.connect()
con.execute("SET threads = {threads}")
con.execute("SET enable_progress_bar = false")
con.execute("SET TimeZone = 'UTC'")
con.execute("""COPY (SELECT time_bucket(INTERVAL '1 minute', ts::TIMESTAMPTZ) AS window_start,
    time_bucket(INTERVAL '1 minute', ts::TIMESTAMPTZ) + INTERVAL '1 minute' AS window_end, sensor,
    {aggs}
    FROM {from} GROUP BY ALL) TO '{out}' (FORMAT JSON)""")
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_counts_have_short_names() {
        assert_eq!(keys_name(1), "1");
        assert_eq!(keys_name(100), "100");
        assert_eq!(keys_name(10_000), "10k");
        assert_eq!(keys_name(1_000_000), "1M");
    }
}
