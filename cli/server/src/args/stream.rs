//! Arguments of the stream consumers the engines run: `osprey deliver`
//! ([`DeliverArgs`]), where a reader of a stream starts
//! ([`StreamInputArgs`]), the store's folder ([`DataDirArg`]) and when
//! records count as stored ([`DurabilityArg`]).

use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// Where the store lives (every stream subcommand takes it).
#[derive(Debug, Clone, Args)]
pub struct DataDirArg {
    /// The store's data directory
    #[arg(long, value_name = "DIR", default_value = osprey_ingest::store::DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
}

/// When `osprey put` acknowledges records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DurabilityArg {
    /// Once fsynced (group commit): survives a machine crash
    Fsync,
    /// Once written to the OS: survives an osprey crash, not a machine crash
    Os,
}

impl From<DurabilityArg> for osprey_ingest::store::Durability {
    fn from(arg: DurabilityArg) -> Self {
        match arg {
            DurabilityArg::Fsync => Self::Fsync,
            DurabilityArg::Os => Self::Os,
        }
    }
}

/// Output formats of `osprey deliver`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeliverFormat {
    /// The records' data, one JSON value a line
    Ndjson,
    /// Parquet, columns inferred from the records' JSON objects
    Parquet,
    /// Arrow IPC file, columns inferred as for Parquet
    Arrow,
}

/// Compression of delivered NDJSON: files, or webhook bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Compression {
    /// Plain text
    None,
    /// gzip (`.ndjson.gz`, `Content-Encoding: gzip`)
    Gzip,
    /// Zstandard (`.ndjson.zst`, `Content-Encoding: zstd`)
    Zstd,
}

/// Arguments of `osprey deliver`.
#[derive(Debug, Args)]
pub struct DeliverArgs {
    /// The stream to deliver
    pub stream: String,
    /// Where batches go: a folder (files under year=/month=/day=/hour=
    /// prefixes), or a webhook, http://HOST[:PORT][/PATH], that gets each
    /// batch as one POST of NDJSON and must answer 2xx (https is not
    /// supported)
    #[arg(long, value_name = "DIR|URL")]
    pub to: PathBuf,
    /// Output format (a webhook takes ndjson)
    #[arg(long, value_enum, default_value_t = DeliverFormat::Ndjson)]
    pub format: DeliverFormat,
    /// Compress NDJSON files (`.ndjson.gz`, `.ndjson.zst`), or webhook
    /// bodies (`Content-Encoding`)
    #[arg(long, value_enum, default_value_t = Compression::None)]
    pub compression: Compression,
    /// Deliver a batch once this many MiB of records are buffered
    #[arg(long, default_value_t = 5.0, value_name = "MIB")]
    pub buffer_mib: f64,
    /// Deliver a batch once its oldest buffered record waited this long
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS")]
    pub buffer_seconds: f64,
    /// Where records that cannot be delivered go, as NDJSON lines with their
    /// reason: records that cannot be converted and, for a webhook, batches
    /// it refuses for their content (400, 413, 415, 422) [default: DIR/errors
    /// for a folder; none for a webhook, where such a record or batch stops
    /// the run instead, the checkpoint before it]
    #[arg(long, value_name = "DIR")]
    pub errors_to: Option<PathBuf>,
    /// Webhook: an extra request header, 'NAME: VALUE' (repeat for more)
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Webhook: the longest one POST may take, connecting to answer
    /// [default: 30]
    #[arg(long, value_name = "SECONDS")]
    pub timeout_seconds: Option<f64>,
    /// Webhook: how long a batch is retried (connection errors, timeouts,
    /// 408, 429, 5xx; with exponential backoff and jitter, honouring
    /// Retry-After) before the run stops with exit 1, the checkpoint before
    /// it [default: 300]
    #[arg(long, value_name = "SECONDS")]
    pub retry_seconds: Option<f64>,
    /// The consumer whose checkpoint says what was delivered already
    #[arg(long, default_value = "deliver", value_name = "NAME")]
    pub consumer: String,
    /// Where shards without a checkpoint start (as `osprey read --from`)
    #[arg(long, default_value = "trim-horizon", value_name = "POSITION")]
    pub from: String,
    /// Keep delivering as records arrive, until killed
    #[arg(long)]
    pub follow: bool,
    /// The store.
    #[command(flatten)]
    pub data: DataDirArg,
}

/// Where a consumer of a stream starts and whether it goes on: the reading
/// arguments that `osprey read` and `osprey aggregate stream:NAME` share.
#[derive(Debug, Clone, Args)]
pub struct StreamInputArgs {
    /// Where each shard starts: trim-horizon, latest, seq:N, after-seq:N, or
    /// time:T (ms since the epoch or RFC 3339 UTC)
    #[arg(long, default_value = "trim-horizon", value_name = "POSITION")]
    pub from: String,
    /// Keep reading as records arrive, until killed (aggregate: or
    /// --until-idle)
    #[arg(long)]
    pub follow: bool,
    /// Read as this named consumer: resume from its checkpoint, and save it
    /// as records are printed (read) or their windows written (aggregate)
    #[arg(long, value_name = "NAME")]
    pub consumer: Option<String>,
}

impl StreamInputArgs {
    /// `--from` as a starting position.
    ///
    /// # Errors
    /// [`UsageError`](crate::error::UsageError) naming what cannot be read.
    pub fn position(
        &self,
    ) -> Result<osprey_ingest::store::StartingPosition, crate::error::UsageError> {
        self.from
            .parse()
            .map_err(|e: osprey_ingest::IngestError| crate::error::UsageError(e.to_string()))
    }

    /// True when any of these was given a value other than its default.
    pub fn given(&self) -> bool {
        self.from != "trim-horizon" || self.follow || self.consumer.is_some()
    }
}
