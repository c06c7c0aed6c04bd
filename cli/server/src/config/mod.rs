//! `osprey serve --config osprey.toml`: the server's one configuration
//! file, as typed and checked values.
//!
//! ```toml
//! data_dir = "osprey-data"
//! [http]
//! listen = "127.0.0.1:8080"
//! [[cameras]]
//! name = "cam1"
//! uri = "rtsp://127.0.0.1:8554/cam"
//! kernels = ["motion", "scene"]
//! ```
//!
//! A camera takes every key of a `[[sources]]` table of `osprey analyze
//! --sources` (the same schema: [`SourceEntry`]), plus where its records
//! go ([`camera`]). Queries are `osprey aggregate` runs over a stream,
//! deliveries `osprey deliver` runs ([`query`]): each table becomes the
//! command's own arguments and passes the command's own checks, so the
//! server runs the CLI's pieces, not copies of them. Every value is checked
//! when the file is read ([`load`]), before any work starts; an error names
//! the file, the line and the key ([`ConfigError`]; `doc` keeps the
//! spans). `cli/examples/osprey.toml` documents every key.

pub mod camera;
pub mod cluster;
mod doc;
mod http;
pub mod query;
#[cfg(test)]
mod tests;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::ValueEnum as _;
use osprey_ingest::store::{Durability, StreamOptions};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use crate::analyze::SourceConfig;
use crate::analyze::sources_file::SourceEntry;
use crate::args::BackendArg;
use crate::args::stream::DurabilityArg;
use doc::{Doc, key_span, str_of};

/// The whole file.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// The file it was read from (for reloads).
    pub file: PathBuf,
    /// The store's data directory (created when missing), relative to the
    /// config file's folder.
    pub data_dir: PathBuf,
    /// `[http]`: the listener of the Kinesis API, `/api`, `/metrics` and
    /// the dashboard.
    pub http: HttpConfig,
    /// `backend = "auto" | "gpu" | "cpu"` (default auto): the one device.
    pub backend: osprey_kernels::BackendChoice,
    /// `durability = "fsync" | "os"` (default fsync): when puts count as
    /// stored, as `osprey serve --durability`.
    pub durability: Durability,
    /// `[[cameras]]`.
    pub cameras: Vec<CameraConfig>,
    /// `[[streams]]`: created when missing.
    pub streams: Vec<StreamConfig>,
    /// `[[queries]]`.
    pub queries: Vec<QueryConfig>,
    /// `[[deliveries]]`.
    pub deliveries: Vec<DeliveryConfig>,
    /// `[cluster]`: this server is a worker of a JetStream cluster.
    pub cluster: Option<cluster::ClusterConfig>,
}

/// `[http]`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// `IP:PORT` (default `127.0.0.1:8080`).
    #[serde(default = "http::default_listen")]
    pub listen: String,
    /// A bearer token `/api` and the dashboard require (`token` or
    /// `token_env`, the name of an environment variable holding it); never
    /// serialized or printed.
    #[serde(skip_serializing)]
    pub token: Option<String>,
    /// See `token`.
    pub token_env: Option<String>,
    /// TLS certificate chain (PEM); with `tls_key`, the listener speaks
    /// HTTPS.
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// Most connections served at once (default 64).
    pub max_connections: Option<usize>,
    /// With `secret_access_key_env`: the Kinesis API accepts only requests
    /// signed (SigV4) with this access key id, as `osprey serve --http
    /// --access-key-id`.
    pub access_key_id: Option<String>,
    /// The name of the environment variable holding the secret access key
    /// (read at start and on reload; the secret itself is never in the file
    /// and never printed).
    pub secret_access_key_env: Option<String>,
}

/// One `[[cameras]]` table: a source of `osprey analyze --sources` plus
/// where its records go.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraConfig {
    /// The records' `source`; unique among cameras.
    pub name: String,
    /// Everything `[[sources]]` of `osprey analyze --sources` says
    /// (`uri`, `kernels`, zones, masks, fps, detect size, health, RTSP
    /// options, `records`), relative paths made relative to the file's
    /// folder.
    pub source: SourceEntry,
    /// The stream frame and status records go to (default `frames`), the
    /// source as partition key.
    pub frames_stream: String,
    /// The stream event records go to (default `events`).
    pub events_stream: String,
    /// Further outputs of its event records (`http://...` webhooks,
    /// `mqtt://...` brokers, files, `stream:NAME`), as `osprey analyze --output` takes them,
    /// checked; files relative to the file's folder.
    pub outputs: Vec<String>,
    /// The source checked by `osprey analyze`'s code: what the runner
    /// takes ([`CameraConfig::live_source`]).
    pub checked: SourceConfig,
    /// With `record`, `clip_pre` and `clip_post`: each event record names
    /// its clip (`clip_start`, `clip_end`, and `clip` as the path of the
    /// server's clip endpoint).
    pub clips: Option<crate::analyze::clips::ClipWindow>,
}

/// One `[[streams]]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamConfig {
    /// The stream's name.
    pub name: String,
    /// Shards when created, 1 to 1024 (default 1); an existing stream
    /// keeps its own.
    pub shards: Option<u32>,
    /// Records older than this are removed: whole hours (`24h`, `168h`;
    /// default 24h), as `osprey stream create --retention-hours`.
    pub retention: Option<String>,
    /// Each shard keeps at most about this many MiB, as `osprey stream
    /// create --retention-mib`.
    pub retention_mib: Option<u64>,
}

impl StreamConfig {
    /// A stream with the default shards and retention.
    pub fn named(name: String) -> StreamConfig {
        StreamConfig {
            name,
            shards: None,
            retention: None,
            retention_mib: None,
        }
    }

    /// The options a missing stream is created with.
    pub fn options(&self) -> StreamOptions {
        let defaults = StreamOptions::default();
        StreamOptions {
            shards: self.shards.unwrap_or(defaults.shards),
            retention_hours: self
                .retention
                .as_deref()
                .and_then(|r| retention_hours(r).ok())
                .unwrap_or(defaults.retention_hours),
            retention_bytes: self.retention_mib.map(|m| m.saturating_mul(1 << 20)),
        }
    }
}

/// One `[[queries]]` table: an `osprey aggregate stream:INPUT --follow
/// --consumer NAME` run ([`QueryConfig::aggregate_args`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryConfig {
    /// Unique among queries; also its consumer name (checkpoints).
    pub name: String,
    /// The input stream.
    pub input: String,
    /// A streaming SQL query (as `osprey aggregate --sql`) ...
    pub sql: Option<String>,
    /// ... or `osprey aggregate` flags: a list, one argument an item, or
    /// one string split as a shell splits words.
    #[serde(default, deserialize_with = "words")]
    pub flags: Option<Vec<String>>,
    /// Where rows go, as `osprey aggregate --output` (`stream:NAME`, a
    /// file relative to the file's folder).
    pub output: String,
    /// Where late and refused records go, as `osprey aggregate --errors`
    /// (default `-`, the server's stderr).
    pub errors: Option<String>,
    /// Where shards without a checkpoint start, as `--from` (default
    /// `trim-horizon`).
    pub from: Option<String>,
    /// Most memory the query's state may take, as `osprey aggregate
    /// --memory-limit` (`512M`, `4G`; default a quarter of the machine's).
    pub memory_limit: Option<String>,
}

/// One `[[deliveries]]` table: an `osprey deliver STREAM --follow
/// --consumer NAME` run ([`DeliveryConfig::deliver_args`]).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Unique among deliveries; also its consumer name.
    pub name: String,
    /// The stream delivered.
    pub stream: String,
    /// A folder (relative to the file's folder) or an `http://` webhook,
    /// as `osprey deliver --to`.
    pub to: String,
    /// `ndjson` (default), `parquet` or `arrow`.
    pub format: Option<String>,
    /// `none` (default), `gzip` or `zstd`.
    pub compression: Option<String>,
    /// Buffer size before a delivery, in MiB (default 5).
    pub buffer_mib: Option<f64>,
    /// Buffer age before a delivery, in seconds (default 60).
    pub buffer_seconds: Option<f64>,
    /// Where records that cannot be delivered go, as `--errors-to`.
    pub errors_to: Option<String>,
    /// Webhook request headers, `"NAME: VALUE"` each, as `--header`;
    /// their values (an `Authorization` among them) are never serialized
    /// or printed.
    #[serde(default, skip_serializing)]
    pub headers: Vec<String>,
    /// Webhook: the longest one POST may take, in seconds (default 30).
    pub timeout_seconds: Option<f64>,
    /// Webhook: how long a batch is retried, in seconds (default 300).
    pub retry_seconds: Option<f64>,
    /// Where shards without a checkpoint start, as `--from`.
    pub from: Option<String>,
}

impl std::fmt::Debug for DeliveryConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let header_names: Vec<&str> = self
            .headers
            .iter()
            .map(|h| h.split_once(':').map_or(h.as_str(), |(name, _)| name))
            .collect();
        f.debug_struct("DeliveryConfig")
            .field("name", &self.name)
            .field("stream", &self.stream)
            .field("to", &self.to)
            .field("format", &self.format)
            .field("compression", &self.compression)
            .field("buffer_mib", &self.buffer_mib)
            .field("buffer_seconds", &self.buffer_seconds)
            .field("errors_to", &self.errors_to)
            .field("header_names", &header_names)
            .field("timeout_seconds", &self.timeout_seconds)
            .field("retry_seconds", &self.retry_seconds)
            .field("from", &self.from)
            .finish()
    }
}

/// A configuration that cannot be used: where and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{}{message}", file.display(), line.map(|l| format!(":{l}: ")).unwrap_or_else(|| ": ".into()))]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// The line at fault, when one is.
    pub line: Option<usize>,
    /// What is wrong, naming the key.
    pub message: String,
}

/// The file's top level; the tables are taken out before, to be read one
/// by one with their spans ([`take`]).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Top {
    data_dir: Option<PathBuf>,
    backend: Option<Spanned<String>>,
    durability: Option<Spanned<String>>,
    // Named here so an unknown key's message lists them.
    #[serde(default, rename = "http")]
    _http: Option<IgnoredAny>,
    #[serde(default, rename = "cluster")]
    _cluster: Option<IgnoredAny>,
    #[serde(default, rename = "cameras")]
    _cameras: Option<IgnoredAny>,
    #[serde(default, rename = "streams")]
    _streams: Option<IgnoredAny>,
    #[serde(default, rename = "queries")]
    _queries: Option<IgnoredAny>,
    #[serde(default, rename = "deliveries")]
    _deliveries: Option<IgnoredAny>,
}

/// Reads and checks `path`: every value, with the commands' own checks;
/// no camera, store, device or port is opened.
///
/// # Errors
/// [`ConfigError`] naming the line and key at fault.
pub fn load(path: &Path) -> Result<ServerConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.to_owned(),
        line: None,
        message: format!("cannot read it: {}", crate::analyze::io_reason(&e)),
    })?;
    parse(path, &text)
}

/// A value of the file with its span, as the parser left it.
type Value<'i> = Spanned<DeValue<'i>>;

/// Takes the array of tables `key` out of `root`.
fn take<'i>(doc: &Doc<'_>, root: &mut Value<'i>, key: &str) -> Result<Vec<Value<'i>>, ConfigError> {
    let DeValue::Table(table) = root.get_mut() else {
        return Ok(Vec::new());
    };
    let Some(value) = table.remove(key) else {
        return Ok(Vec::new());
    };
    let span = value.span();
    match value.into_inner() {
        DeValue::Array(items) => Ok(items.into_iter().collect()),
        _ => Err(doc.at(Some(&span), format!("{key} must be tables ([[{key}]])"))),
    }
}

/// One table as `T`, with the table (for its keys' spans).
fn typed<T: DeserializeOwned>(
    doc: &Doc<'_>,
    table: Value<'_>,
    what: &str,
) -> Result<T, ConfigError> {
    T::deserialize(ValueDeserializer::from(table)).map_err(|e| doc.toml(&e, what))
}

/// `KIND "NAME"` for messages about a table.
fn what(kind: &str, table: &Value<'_>) -> String {
    match str_of(table, "name") {
        Some(name) => format!("{kind} {name:?}"),
        None => kind.to_owned(),
    }
}

/// Refuses a second table named as an earlier one.
fn unique(doc: &Doc<'_>, names: &[&str], table: &Value<'_>, kind: &str) -> Result<(), ConfigError> {
    let name = str_of(table, "name").unwrap_or_default();
    if names.contains(&name) {
        return Err(doc.at(
            Some(&key_span(table, "name")),
            format!("{kind} name {name:?} is given twice"),
        ));
    }
    Ok(())
}

/// Checks the text of the file `path`.
fn parse(path: &Path, text: &str) -> Result<ServerConfig, ConfigError> {
    let doc = Doc { file: path, text };
    // A file named without a folder is in ".": an empty folder would make
    // `--data-dir ""`, which the commands refuse.
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let root = DeTable::parse(text).map_err(|e| doc.toml(&e, ""))?;
    let (span, table) = (root.span(), root.into_inner());
    let mut root = Spanned::new(span, DeValue::Table(table));
    let (http_table, cluster_table) = match root.get_mut() {
        DeValue::Table(t) => (t.remove("http"), t.remove("cluster")),
        _ => (None, None),
    };
    let camera_tables = take(&doc, &mut root, "cameras")?;
    let stream_tables = take(&doc, &mut root, "streams")?;
    let query_tables = take(&doc, &mut root, "queries")?;
    let delivery_tables = take(&doc, &mut root, "deliveries")?;
    let top: Top = typed(&doc, root, "")?;

    let mut cameras: Vec<CameraConfig> = Vec::new();
    for table in camera_tables {
        let names: Vec<&str> = cameras.iter().map(|c| c.name.as_str()).collect();
        unique(&doc, &names, &table, "camera")?;
        cameras.push(camera::from_toml(&doc, table, folder)?);
    }
    let mut streams: Vec<StreamConfig> = Vec::new();
    for table in stream_tables {
        let names: Vec<&str> = streams.iter().map(|c| c.name.as_str()).collect();
        unique(&doc, &names, &table, "stream")?;
        let what = what("stream", &table);
        let s: StreamConfig = typed(&doc, table.clone(), &what)?;
        check_stream(&s)
            .map_err(|(key, m)| doc.at(Some(&key_span(&table, key)), format!("{what}: {m}")))?;
        streams.push(s);
    }
    let mut queries: Vec<QueryConfig> = Vec::new();
    for table in query_tables {
        let names: Vec<&str> = queries.iter().map(|c| c.name.as_str()).collect();
        unique(&doc, &names, &table, "query")?;
        let what = what("query", &table);
        let mut q: QueryConfig = typed(&doc, table.clone(), &what)?;
        q.check(folder)
            .map_err(|(key, m)| doc.at(Some(&key_span(&table, key)), format!("{what}: {m}")))?;
        queries.push(q);
    }
    let mut deliveries: Vec<DeliveryConfig> = Vec::new();
    for table in delivery_tables {
        let names: Vec<&str> = deliveries.iter().map(|c| c.name.as_str()).collect();
        unique(&doc, &names, &table, "delivery")?;
        let what = what("delivery", &table);
        let mut d: DeliveryConfig = typed(&doc, table.clone(), &what)?;
        d.check(folder)
            .map_err(|(key, m)| doc.at(Some(&key_span(&table, key)), format!("{what}: {m}")))?;
        deliveries.push(d);
    }
    let http = match http_table {
        Some(table) => {
            let mut h: HttpConfig = typed(&doc, table.clone(), "http")?;
            h.check(folder)
                .map_err(|(key, m)| doc.at(Some(&key_span(&table, key)), format!("http: {m}")))?;
            h
        }
        None => HttpConfig::default(),
    };
    let cluster = match cluster_table {
        Some(table) => {
            let c: cluster::ClusterConfig = typed(&doc, table.clone(), "cluster")?;
            c.check().map_err(|(key, m)| {
                doc.at(Some(&key_span(&table, key)), format!("cluster: {m}"))
            })?;
            Some(c)
        }
        None => None,
    };
    let backend = match top.backend {
        Some(b) => BackendArg::from_str(b.get_ref(), false)
            .map_err(|_| {
                let m = format!("backend must be auto, gpu or cpu, not {:?}", b.get_ref());
                doc.at(Some(&b.span()), m)
            })?
            .into(),
        None => osprey_kernels::BackendChoice::Auto,
    };
    let durability = match top.durability {
        Some(d) => DurabilityArg::from_str(d.get_ref(), false)
            .map_err(|_| {
                let m = format!("durability must be fsync or os, not {:?}", d.get_ref());
                doc.at(Some(&d.span()), m)
            })?
            .into(),
        None => Durability::Fsync,
    };
    let data_dir = top
        .data_dir
        .unwrap_or_else(|| PathBuf::from(osprey_ingest::store::DEFAULT_DATA_DIR));
    Ok(ServerConfig {
        file: path.to_owned(),
        data_dir: folder.join(data_dir),
        http,
        backend,
        durability,
        cameras,
        streams,
        queries,
        deliveries,
        cluster,
    })
}

/// Checks a `[[streams]]` table with the store's rules: the key at fault
/// and the message.
fn check_stream(s: &StreamConfig) -> Result<(), (&'static str, String)> {
    osprey_ingest::store::names::check("stream", &s.name).map_err(|e| ("name", e.to_string()))?;
    if let Some(shards) = s.shards
        && !(1..=1024).contains(&shards)
    {
        return Err(("shards", format!("shards must be 1 to 1024, not {shards}")));
    }
    if let Some(r) = &s.retention {
        retention_hours(r).map_err(|m| ("retention", m))?;
    }
    Ok(())
}

/// A retention as the store keeps it: whole hours, 1 or more.
fn retention_hours(text: &str) -> Result<u32, String> {
    let bad = || format!("retention must be whole hours such as 24h or 168h, not {text:?}");
    let d = osprey_ingest::duration::parse(text).map_err(|_| bad())?;
    let secs = d.as_secs();
    if d.subsec_nanos() != 0 || secs == 0 || secs % 3600 != 0 {
        return Err(bad());
    }
    u32::try_from(secs / 3600).map_err(|_| bad())
}

/// `flags`: a list of arguments, or one string split into words as a
/// shell splits them (quotes kept together).
fn words<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    struct Visitor;
    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of arguments or one string of them")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Vec<String>, E> {
            shlex::split(v).ok_or_else(|| E::custom("flags has an unbalanced quote"))
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Vec<String>, A::Error> {
            let mut args = Vec::new();
            while let Some(arg) = seq.next_element::<String>()? {
                args.push(arg);
            }
            Ok(args)
        }
    }
    d.deserialize_any(Visitor).map(Some)
}

/// A camera from the JSON body of `POST /api/sources` (the keys of a
/// `[[cameras]]` table), relative paths relative to the working folder.
///
/// # Errors
/// What is wrong, naming the key.
pub fn camera_from_json(value: serde_json::Value) -> Result<CameraConfig, String> {
    camera::from_json(value, Path::new(""))
}

/// `osprey serve --check-config FILE`: checks the file and says so on
/// stderr.
///
/// # Errors
/// A [`UsageError`](crate::error::UsageError) (exit code 2), `FILE:LINE:
/// message`.
pub fn check_file(path: &Path) -> anyhow::Result<()> {
    let config = load(path).map_err(|e| crate::error::UsageError(e.to_string()))?;
    let _ = writeln!(
        std::io::stderr(),
        "osprey: {}: ok ({})",
        path.display(),
        config.summary()
    );
    Ok(())
}

impl ServerConfig {
    /// `N cameras, N streams, N queries, N deliveries`.
    pub fn summary(&self) -> String {
        let n = |count: usize, one: &str, many: &str| {
            format!("{count} {}", if count == 1 { one } else { many })
        };
        [
            n(self.cameras.len(), "camera", "cameras"),
            n(self.streams.len(), "stream", "streams"),
            n(self.queries.len(), "query", "queries"),
            n(self.deliveries.len(), "delivery", "deliveries"),
        ]
        .join(", ")
    }
}
