//! A stand-in for [`crate::serve::config::load`] until the config work
//! fills it: the smallest reading of the file the engine needs (every
//! section, cameras as `[[sources]]` tables with `kernels` as a list or a
//! string), without the config work's line numbers for every check.
//! Removed when that lands.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::analyze::sources_file::SourceEntry;
use crate::serve::config::{
    CameraConfig, ConfigError, DeliveryConfig, HttpConfig, QueryConfig, ServerConfig, StreamConfig,
};

/// The file's layout.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    data_dir: PathBuf,
    #[serde(default)]
    backend: Option<String>,
    #[serde(default)]
    http: Option<Http>,
    #[serde(default)]
    cameras: Vec<toml::Table>,
    #[serde(default)]
    streams: Vec<StreamConfig>,
    #[serde(default)]
    queries: Vec<QueryConfig>,
    #[serde(default)]
    deliveries: Vec<DeliveryConfig>,
}

/// `[http]`, every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Http {
    listen: Option<String>,
    token: Option<String>,
    token_env: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    max_connections: Option<usize>,
}

/// Reads `path`.
///
/// # Errors
/// A [`ConfigError`] naming the file (and the line, for TOML errors).
pub fn load(path: &Path) -> Result<ServerConfig, ConfigError> {
    let fail = |line: Option<usize>, message: String| ConfigError {
        file: path.to_owned(),
        line,
        message,
    };
    let text =
        std::fs::read_to_string(path).map_err(|e| fail(None, crate::analyze::io_reason(&e)))?;
    let file: File = toml::from_str(&text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        fail(line, e.message().trim().replace('\n', " "))
    })?;
    let folder = path.parent().unwrap_or(Path::new(""));
    let backend = match file.backend.as_deref() {
        None => osprey_kernels::BackendChoice::Auto,
        Some(b) => b.parse().map_err(|e| fail(None, format!("backend: {e}")))?,
    };
    let http = file.http.unwrap_or_default();
    let mut cameras = Vec::with_capacity(file.cameras.len());
    for table in file.cameras {
        cameras.push(camera(table).map_err(|e| fail(None, e))?);
    }
    Ok(ServerConfig {
        data_dir: folder.join(file.data_dir),
        http: HttpConfig {
            listen: http.listen.unwrap_or_else(|| "127.0.0.1:8080".into()),
            token: http.token,
            token_env: http.token_env,
            tls_cert: http.tls_cert,
            tls_key: http.tls_key,
            max_connections: http.max_connections,
        },
        backend,
        cameras,
        streams: file.streams,
        queries: file.queries,
        deliveries: file.deliveries,
    })
}

/// One `[[cameras]]` table.
fn camera(mut t: toml::Table) -> Result<CameraConfig, String> {
    let text = |t: &mut toml::Table, key: &str| -> Result<Option<String>, String> {
        match t.remove(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(format!("cameras: `{key}` must be a string")),
        }
    };
    let name = text(&mut t, "name")?.ok_or("cameras: missing field `name`")?;
    let frames_stream = text(&mut t, "frames_stream")?.unwrap_or_else(|| "frames".into());
    let events_stream = text(&mut t, "events_stream")?.unwrap_or_else(|| "events".into());
    let outputs = match t.remove("outputs") {
        None => Vec::new(),
        Some(v) => v
            .try_into()
            .map_err(|e| format!("camera {name:?}: outputs: {e}"))?,
    };
    if let Some(toml::Value::Array(list)) = t.get("kernels") {
        let names: Vec<&str> = list.iter().filter_map(toml::Value::as_str).collect();
        let joined = names.join(",");
        t.insert("kernels".into(), toml::Value::String(joined));
    }
    t.insert("name".into(), toml::Value::String(name.clone()));
    let source: SourceEntry = toml::Value::Table(t)
        .try_into()
        .map_err(|e: toml::de::Error| format!("camera {name:?}: {}", e.message().trim()))?;
    Ok(CameraConfig {
        name,
        source,
        frames_stream,
        events_stream,
        outputs,
    })
}
