//! Arguments of `osprey aggregate`, as clap parses them.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::args::BackendArg;
use crate::args::stream::{DataDirArg, StreamInputArgs};

/// Input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    /// One JSON object a line.
    Ndjson,
    /// Comma-separated values with a header row.
    Csv,
    /// An Apache Parquet file.
    Parquet,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// One JSON object a line.
    Ndjson,
    /// An Apache Parquet file (needs --output).
    Parquet,
    /// An Arrow IPC file (needs --output).
    Arrow,
}

/// The random cut forest's parameters (`--anomaly`); KDA's names and
/// defaults.
#[derive(Debug, Args)]
pub struct RcfArgs {
    /// numberOfTrees, 1 to 1000 [default: 100]
    #[arg(long, value_name = "N", requires = "anomaly")]
    pub rcf_trees: Option<u32>,

    /// subSampleSize: points each tree keeps, 10 to 1000 [default: 256]
    #[arg(long, value_name = "N", requires = "anomaly")]
    pub rcf_sample: Option<u32>,

    /// timeDecay: records after which a record is e times less likely to
    /// stay in a sample than a new one [default: 100000]
    #[arg(long, value_name = "N", requires = "anomaly")]
    pub rcf_decay: Option<u64>,

    /// shingleSize: consecutive records of a group made into one point,
    /// 1 to 30 [default: 1]
    #[arg(long, value_name = "N", requires = "anomaly")]
    pub rcf_shingle: Option<u32>,

    /// The seed of the forest's random numbers: the same seed and input
    /// give the same scores, bit for bit [default: 0]
    #[arg(long, value_name = "N", requires = "anomaly")]
    pub rcf_seed: Option<u64>,
}

impl RcfArgs {
    /// The flags in `RANDOM_CUT_FOREST`'s order, the defaults for those not given.
    pub fn numbers(&self) -> [f64; 5] {
        let d = osprey_query::rcf::Params::default();
        [
            self.rcf_trees.map_or(d.trees as f64, f64::from),
            self.rcf_sample.map_or(d.sample as f64, f64::from),
            self.rcf_decay.map_or(d.decay, |v| v as f64),
            self.rcf_shingle.map_or(d.shingle as f64, f64::from),
            self.rcf_seed.map_or(d.seed as f64, |v| v as f64),
        ]
    }
}

/// Arguments of `osprey aggregate`.
#[derive(Debug, Args)]
pub struct AggregateArgs {
    /// Input: a file (NDJSON, CSV or Parquet), a directory or a glob of
    /// Parquet, NDJSON and CSV files, each read by its name (.gz and .zst
    /// text too) ('data/**/*.parquet', a Hive-style year=/month=/day=/hour=
    /// tree; key=value folders become fields), - for stdin (NDJSON or CSV),
    /// stream:NAME for a stream of the store (NDJSON records), or
    /// tcp://HOST:PORT to listen for NDJSON lines (port 0 picks a free one)
    #[arg(value_name = "INPUT", default_value = "-")]
    pub input: String,

    /// Reading a stream (stream:NAME input).
    #[command(flatten)]
    pub stream: StreamInputArgs,

    /// End once this long has passed with no record and, for tcp:// input,
    /// no connection open (tcp:// input, or stream:NAME with --follow);
    /// then every window closes, as at the end of a file
    #[arg(long, value_name = "DURATION")]
    pub until_idle: Option<String>,

    /// Input format; by default from the file's extension (.csv, .parquet), else NDJSON
    #[arg(long, value_enum)]
    pub format: Option<InputFormat>,

    /// A streaming SQL query instead of the flags below: SELECT keys,
    /// aggregates FROM input [WHERE ...] GROUP BY keys, TUMBLE(ts, INTERVAL
    /// '1' MINUTE) | HOP(ts, slide, size) | SESSION(ts, gap) [HAVING ...];
    /// or anomaly scores, one row a record: SELECT fields,
    /// RANDOM_CUT_FOREST(v [, w ...] [, trees, sample, decay, shingle, seed])
    /// [OVER (PARTITION BY k)] FROM input [WHERE ...]
    #[arg(long, value_name = "QUERY", conflicts_with_all = ["window", "group_by", "agg", "anomaly"])]
    pub sql: Option<String>,

    /// Anomaly scores instead of windows: the numeric fields a record's
    /// point is made of, comma-separated; each record is written with its
    /// time, its --group-by keys (one forest a group), these fields and
    /// ANOMALY_SCORE, a random cut forest's score (as Kinesis Data
    /// Analytics' RANDOM_CUT_FOREST)
    #[arg(long, value_name = "FIELDS", conflicts_with_all = ["window", "agg"])]
    pub anomaly: Option<String>,

    /// The forest of --anomaly.
    #[command(flatten)]
    pub rcf: RcfArgs,

    /// The event-time field
    #[arg(long, default_value = "ts", value_name = "FIELD")]
    pub time_field: String,

    /// How times are written: auto (RFC 3339, or epoch seconds/milliseconds
    /// told apart by size), rfc3339, epoch_s, epoch_ms, epoch_us, or a
    /// strftime pattern such as "%Y/%m/%d %H:%M"
    #[arg(long, default_value = "auto", value_name = "FORMAT")]
    pub time_format: String,

    /// Windows: tumbling:SIZE, hop:SLIDE,SIZE or session:GAP (e.g. tumbling:1m)
    #[arg(long, value_name = "SPEC")]
    pub window: Option<String>,

    /// Key fields to group by, comma-separated
    #[arg(long, value_name = "FIELDS")]
    pub group_by: Option<String>,

    /// Aggregates, comma-separated: count(*), count(x), sum, min, max, avg,
    /// var_samp, var_pop, stddev_samp, stddev_pop, approx_count_distinct,
    /// approx_percentile(x, q), p50/p90/p99(x), first, last; `AS name` renames
    #[arg(long, value_name = "LIST")]
    pub agg: Option<String>,

    /// How long after the largest event time seen a record may still arrive
    /// (the watermark is that time minus this); later records are late
    #[arg(long, default_value = "0s", value_name = "DURATION")]
    pub lateness: String,

    /// The records' schema, name:type,... (types: timestamp, string, f64,
    /// i64, bool); inferred from the first records when absent
    #[arg(long, value_name = "SPEC")]
    pub schema: Option<String>,

    /// Records per Arrow batch (NDJSON/CSV chunking, Parquet reading)
    // 131,072: against 65,536, 10M Parquet rows took 10% less wall time at
    // 10k and 1M keys (fewer batches' fixed costs: threads, key lookups,
    // late checks) for 10 to 80 MB more memory; 262,144 gained nothing
    // more at 1M keys for 350 MB (BENCHMARKS.md, issue 18).
    #[arg(long, default_value_t = 131_072, value_name = "N")]
    pub batch_rows: usize,

    /// Most memory the open windows' state may take (e.g. 512M, 4G); past it
    /// aggregate stops with an error naming the state's size and what to
    /// change. Default: a quarter of the machine's memory (or of the
    /// cgroup's limit when lower)
    #[arg(long, value_name = "SIZE")]
    pub memory_limit: Option<String>,

    /// A reference table the SQL query may join (`JOIN NAME ON input.k =
    /// NAME.k`, or LEFT JOIN): NAME=FILE, a CSV, NDJSON or Parquet file whose
    /// key column has no repeats, read again when the file changes; or
    /// NAME=stream:STREAM, a stream of the store compacted by key (the last
    /// record of each key), read again when it has new records
    #[arg(long, value_name = "NAME=FILE")]
    pub reference: Vec<String>,

    /// Threads (default: the machine's cores): Parquet decoding, and
    /// window engines the groups are split over (tumbling windows on the
    /// CPU), NDJSON parsing (up to 8); the result is the same byte for byte
    /// whatever the number
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,

    /// With a directory or glob input: read a file whose year=/month=/day=/hour=
    /// folders are outside the WHERE time range all the same (by default it is
    /// skipped, its path taken as the hour of its event times; `osprey deliver`
    /// names folders by arrival time, which can be later than the event time)
    #[arg(long)]
    pub no_path_skip: bool,

    /// Flush a partial batch once its first record has waited this long
    /// (for slow input on stdin or TCP; stream:NAME input hands on each read at once)
    #[arg(long, value_name = "DURATION")]
    pub max_latency: Option<String>,

    /// Compute backend: auto takes a GPU adapter when wgpu finds one, else the CPU
    #[arg(long, value_enum, default_value_t = BackendArg::Auto)]
    pub backend: BackendArg,

    /// Where result rows go: a file path, - for stdout, or stream:NAME for a
    /// stream of the store (one NDJSON record a row). An NDJSON file is made
    /// anew, or appended to when a stream is read with --consumer (its
    /// checkpoint says which windows the file already holds)
    #[arg(short, long, default_value = "-", value_name = "PATH")]
    pub output: PathBuf,

    /// Output format; by default from --output's extension (.parquet, .arrow), else NDJSON
    #[arg(long, value_enum)]
    pub output_format: Option<OutputFormat>,

    /// Where late and refused records go, as NDJSON with their reason: a
    /// file path, or - for stderr
    #[arg(long, default_value = "-", value_name = "PATH")]
    pub errors: PathBuf,

    /// The store, for stream:NAME input or output.
    #[command(flatten)]
    pub data: DataDirArg,
}
