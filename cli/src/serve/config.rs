//! `osprey serve --config osprey.toml`: the server's one configuration
//! file, as typed values.
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
//! go. Queries are `osprey aggregate` runs over a stream, deliveries
//! `osprey deliver` runs: the server runs the CLI's pieces, not copies of
//! them. `cli/examples/osprey.toml` documents every key.
//!
//! (Interface skeleton of issue 15: [`load`] and the checks are filled in
//! by the config work.)

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::analyze::sources_file::SourceEntry;

/// The whole file.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// The store's data directory (created when missing), relative to the
    /// config file's folder.
    pub data_dir: PathBuf,
    /// `[http]`: the listener of the Kinesis API, `/api`, `/metrics` and
    /// the dashboard.
    pub http: HttpConfig,
    /// `backend = "auto" | "gpu" | "cpu"` (default auto): the one device.
    pub backend: osprey_kernels::BackendChoice,
    /// `[[cameras]]`.
    pub cameras: Vec<CameraConfig>,
    /// `[[streams]]`: created when missing.
    pub streams: Vec<StreamConfig>,
    /// `[[queries]]`.
    pub queries: Vec<QueryConfig>,
    /// `[[deliveries]]`.
    pub deliveries: Vec<DeliveryConfig>,
}

/// `[http]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// `HOST:PORT` (default `127.0.0.1:8080`).
    pub listen: String,
    /// A bearer token `/api` and the dashboard require (`token` or
    /// `token_env`, the name of an environment variable holding it).
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
}

/// One `[[cameras]]` table: a source of `osprey analyze --sources` plus
/// where its records go.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraConfig {
    /// The records' `source`; unique among cameras.
    pub name: String,
    /// Everything `[[sources]]` of `osprey analyze --sources` says
    /// (`uri`, `kernels`, zones, masks, fps, detect size, health, RTSP
    /// options, `records`).
    pub source: SourceEntry,
    /// The stream frame and status records go to (default `frames`), the
    /// source as partition key.
    pub frames_stream: String,
    /// The stream event records go to (default `events`).
    pub events_stream: String,
    /// Further outputs of its event records (`http://...` webhooks,
    /// files, `stream:NAME`), as `osprey analyze --output` takes them.
    pub outputs: Vec<String>,
}

/// One `[[streams]]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamConfig {
    /// The stream's name.
    pub name: String,
    /// Shards when created (default 1); an existing stream keeps its own.
    pub shards: Option<u32>,
    /// Retention, as `osprey stream create --retention` (default 24h).
    pub retention: Option<String>,
}

/// One `[[queries]]` table: an `osprey aggregate` run over a stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryConfig {
    /// Unique among queries; also its consumer name (checkpoints).
    pub name: String,
    /// The input stream.
    pub input: String,
    /// A streaming SQL query (as `osprey aggregate --sql`) ...
    pub sql: Option<String>,
    /// ... or `osprey aggregate` flags, one argument an item.
    pub flags: Option<Vec<String>>,
    /// Where rows go, as `osprey aggregate --output` (`stream:NAME`, a
    /// file, `http://...`).
    pub output: String,
}

/// One `[[deliveries]]` table: an `osprey deliver` run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Unique among deliveries; also its consumer name.
    pub name: String,
    /// The stream delivered.
    pub stream: String,
    /// A folder or an `http://` webhook, as `osprey deliver --to`.
    pub to: String,
    /// `ndjson` (default) or `parquet`.
    pub format: Option<String>,
    /// Buffer size before a delivery, in MiB (default 5).
    pub buffer_mib: Option<f64>,
    /// Buffer age before a delivery, in seconds (default 60).
    pub buffer_seconds: Option<f64>,
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

/// Reads and checks `path`.
///
/// # Errors
/// [`ConfigError`] naming the key and line at fault.
pub fn load(path: &Path) -> Result<ServerConfig, ConfigError> {
    Err(ConfigError {
        file: path.to_owned(),
        line: None,
        message: "not yet implemented".into(),
    })
}

/// A camera from the JSON body of `POST /api/sources` (the keys of a
/// `[[cameras]]` table).
///
/// # Errors
/// What is wrong, naming the key.
pub fn camera_from_json(value: serde_json::Value) -> Result<CameraConfig, String> {
    let _ = value;
    Err("not yet implemented".into())
}
