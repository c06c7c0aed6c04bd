//! Arguments of the telemetry-stream subcommands: `osprey stream ...`,
//! `osprey put`, `osprey read` and `osprey serve`. Those that the engines
//! take (`osprey deliver`'s, the store's, a stream consumer's) are the
//! library's ([`osprey_server::args::stream`]).

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
pub use osprey_server::args::stream::{DataDirArg, DeliverArgs, DurabilityArg, StreamInputArgs};

/// Arguments of `osprey stream`.
#[derive(Debug, Args)]
pub struct StreamArgs {
    /// What to do with streams.
    #[command(subcommand)]
    pub command: StreamCommand,
}

/// `osprey stream` subcommands.
#[derive(Debug, Subcommand)]
pub enum StreamCommand {
    /// Create a stream with a number of shards
    Create(CreateArgs),
    /// List the streams, one name a line (a damaged one with its reason)
    List(DataDirArg),
    /// Print a stream's shards (hash-key and sequence-number ranges) as JSON
    Describe(NameArgs),
    /// Delete a stream and all its records
    Delete(NameArgs),
    /// Split an open shard at a hash key into two
    Split(SplitArgs),
    /// Merge two open shards with adjacent hash-key ranges into one
    Merge(MergeArgs),
    /// Read every byte of a stream's segments and report every damaged
    /// range (one JSON line each); exit 6 when there is one
    Verify(NameArgs),
}

/// Arguments of `osprey stream create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The stream's name (1 to 128 of a-z A-Z 0-9 _ . -)
    pub name: String,
    /// Shards, 1 to 1024
    #[arg(long, default_value_t = 1)]
    pub shards: u32,
    /// Records older than this are removed
    #[arg(long, default_value_t = osprey_ingest::store::DEFAULT_RETENTION_HOURS, value_name = "HOURS")]
    pub retention_hours: u32,
    /// Each shard keeps at most about this many MiB (oldest segments go first)
    #[arg(long, value_name = "MIB")]
    pub retention_mib: Option<u64>,
    /// The store.
    #[command(flatten)]
    pub data: DataDirArg,
}

/// A stream's name and the store.
#[derive(Debug, Args)]
pub struct NameArgs {
    /// The stream's name
    pub name: String,
    /// The store.
    #[command(flatten)]
    pub data: DataDirArg,
}

/// Arguments of `osprey stream split`.
#[derive(Debug, Args)]
pub struct SplitArgs {
    /// The stream's name
    pub name: String,
    /// The shard to split (shardId-000000000000)
    pub shard: String,
    /// The first hash key of the second child, in decimal, or `middle`
    pub hash_key: String,
    /// The store.
    #[command(flatten)]
    pub data: DataDirArg,
}

/// Arguments of `osprey stream merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The stream's name
    pub name: String,
    /// One shard
    pub shard: String,
    /// The shard whose hash-key range touches the first's
    pub adjacent: String,
    /// The store.
    #[command(flatten)]
    pub data: DataDirArg,
}

/// Input formats of `osprey put`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    /// One JSON value a line
    Ndjson,
    /// Comma-separated values with a header row; each row becomes a JSON object
    Csv,
}

/// Arguments of `osprey put`.
#[derive(Debug, Args)]
pub struct PutArgs {
    /// The stream to put records into
    pub stream: String,
    /// Files to read records from [default: stdin], or one broker to
    /// subscribe to (mqtt://HOST:PORT/TOPIC/#, nats://, jetstream://)
    #[arg(value_name = "FILE", conflicts_with = "listen")]
    pub files: Vec<PathBuf>,
    /// Input format [default: csv for *.csv files, else ndjson]
    #[arg(long, value_enum)]
    pub format: Option<InputFormat>,
    /// Take each record's partition key from this field (a string or number)
    #[arg(long, value_name = "FIELD", conflicts_with = "partition_key")]
    pub partition_key_field: Option<String>,
    /// Use this partition key for every record [default: the record's line number]
    #[arg(long, value_name = "KEY")]
    pub partition_key: Option<String>,
    /// Take each record's id (for consumers' duplicate dropping) from this field
    #[arg(long, value_name = "FIELD")]
    pub id_field: Option<String>,
    /// Listen for NDJSON lines instead (tcp://127.0.0.1:PORT); each line is
    /// answered with an ack or an error line, in order
    #[arg(long, value_name = "URL")]
    pub listen: Option<String>,
    /// When records count as stored
    #[arg(long, value_enum, default_value_t = DurabilityArg::Fsync)]
    pub durability: DurabilityArg,
    /// Put into the stream of this cluster (nats://HOST:PORT, NATS
    /// JetStream) instead of the store: a record counts as stored once
    /// JetStream acknowledged it
    #[arg(long, value_name = "URL", conflicts_with = "listen")]
    pub cluster: Option<String>,
    /// The store.
    #[command(flatten)]
    pub data: DataDirArg,
}

/// Arguments of `osprey read`.
#[derive(Debug, Args)]
pub struct ReadArgs {
    /// The stream to read
    pub stream: String,
    /// Where to start, whether to follow, as which consumer.
    #[command(flatten)]
    pub start: StreamInputArgs,
    /// Stop after this many records
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Drop records whose id (put with --id-field) was among the last N ids read
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub drop_duplicates: usize,
    /// With --follow, milliseconds between looks for new records
    #[arg(long, default_value_t = 2, value_name = "MS")]
    pub poll_ms: u64,
    /// The store.
    #[command(flatten)]
    pub data: DataDirArg,
}

/// Arguments of `osprey serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Serve the Kinesis Data Streams API (JSON 1.1) on this address
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:4567")]
    pub http: String,
    /// Run the server a TOML file declares: cameras, streams, queries,
    /// deliveries, the Kinesis API, /api, /metrics and the dashboard (see
    /// the README's "Server" section and cli/examples/osprey.toml); the
    /// file replaces --durability, --max-connections, --data-dir, the
    /// timeouts and the credentials, which may not be given with it
    #[arg(long, value_name = "FILE", conflicts_with_all = [
        "http", "check_config", "durability", "max_connections", "data_dir",
        "idle_timeout", "request_timeout", "first_byte_timeout",
        "access_key_id", "secret_access_key_file", "iterator_lifetime",
    ])]
    pub config: Option<PathBuf>,
    /// Run the server of --config as one worker of a cluster on this NATS
    /// JetStream server (nats://HOST:PORT): its [[streams]] are JetStream
    /// streams and its queries a consumer group sharing their shards
    /// (overrides the file's [cluster] url; see docs/cluster.md)
    #[arg(long, value_name = "URL", requires = "config")]
    pub cluster: Option<String>,
    /// This worker's id in the cluster (overrides [cluster] worker)
    #[arg(long, value_name = "ID", requires = "config")]
    pub worker_id: Option<String>,
    /// Check a server configuration file and exit: 0 when it is good, 2
    /// with the file, line and key at fault when not; nothing is started
    /// or opened
    #[arg(long, value_name = "FILE", conflicts_with = "http")]
    pub check_config: Option<PathBuf>,
    /// Accept only requests signed (SigV4) with this access key id (and the
    /// secret in --secret-access-key-file)
    #[arg(long, value_name = "ID", requires = "secret_access_key_file")]
    pub access_key_id: Option<String>,
    /// A file holding the secret access key requests must be signed with
    #[arg(long, value_name = "PATH", requires = "access_key_id")]
    pub secret_access_key_file: Option<PathBuf>,
    /// When records count as stored
    #[arg(long, value_enum, default_value_t = DurabilityArg::Fsync)]
    pub durability: DurabilityArg,
    /// Close a keep-alive connection that sends no request for this long
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS")]
    pub idle_timeout: f64,
    /// Close a connection whose request takes longer than this to arrive,
    /// from its first byte to its body's last (or whose answer is not taken
    /// in this time)
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub request_timeout: f64,
    /// Close a new connection that sends nothing for this long (much shorter
    /// than --idle-timeout, so silent connections cannot hold every slot)
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    pub first_byte_timeout: f64,
    /// Most connections served at once; more are answered 503
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub max_connections: usize,
    /// How long a shard iterator stays valid (Kinesis: 300 s); for tests
    #[arg(long, default_value_t = 300.0, value_name = "SECONDS", hide = true)]
    pub iterator_lifetime: f64,
    /// The store.
    #[command(flatten)]
    pub data: DataDirArg,
}
