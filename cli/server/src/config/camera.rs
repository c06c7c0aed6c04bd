//! `[[cameras]]`: a `[[sources]]` table of `osprey analyze --sources` (one
//! schema: [`SourceEntry`]) plus where its records go, checked by the
//! command's own code ([`SourceConfig::build`] over the command line's
//! defaults). The TOML file and the JSON body of `POST /api/sources` go
//! through the same `check`.

use std::path::Path;
use std::sync::OnceLock;

use osprey_ingest::output_spec::OutputSpec;
use osprey_ingest::store::names;
use osprey_video::live::LiveSource;
use osprey_video::source::redact;
use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::doc::{Doc, key_span, str_of};
use super::{CameraConfig, ConfigError};
use crate::analyze::SourceConfig;
use crate::analyze::clips::ClipWindow;
use crate::analyze::sources_file::SourceEntry;
use crate::args::AnalyzeArgs;
use crate::args::record::RecordArgs;

/// The keys a camera has beyond a `[[sources]]` table's.
const SERVER_KEYS: [&str; 5] = [
    "frames_stream",
    "events_stream",
    "outputs",
    "clip_pre",
    "clip_post",
];

/// Longest camera name: a partition key's limit (it is the records'
/// partition key).
const MAX_NAME: usize = 256;

/// The camera's own keys ([`SERVER_KEYS`]).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerKeys {
    frames_stream: Option<String>,
    events_stream: Option<String>,
    #[serde(default)]
    outputs: Vec<String>,
    clip_pre: Option<String>,
    clip_post: Option<String>,
}

/// A value at fault: its key (when one is) and what is wrong, naming it.
#[derive(Debug)]
pub(super) struct KeyError {
    /// The key at fault.
    pub(super) key: Option<String>,
    /// The message.
    pub(super) message: String,
}

impl KeyError {
    fn new(key: &str, message: impl Into<String>) -> Self {
        KeyError {
            key: Some(key.to_owned()),
            message: message.into(),
        }
    }
}

impl CameraConfig {
    /// What the live runner takes to run this camera.
    pub fn live_source(&self) -> LiveSource {
        self.checked.live_source()
    }
}

/// `osprey analyze`'s defaults, as clap makes them: a camera's keys are
/// laid over these, as a sources file's are over the command line.
fn defaults() -> &'static AnalyzeArgs {
    static DEFAULTS: OnceLock<AnalyzeArgs> = OnceLock::new();
    DEFAULTS
        .get_or_init(|| crate::args::parse(["analyze", "-"]).expect("`osprey analyze -` parses"))
}

/// One `[[cameras]]` table of the file, paths relative to `folder`.
pub(super) fn from_toml(
    doc: &Doc<'_>,
    value: Spanned<DeValue<'_>>,
    folder: &Path,
) -> Result<CameraConfig, ConfigError> {
    let span = value.span();
    let what = match str_of(&value, "name") {
        Some(name) => format!("camera {name:?}"),
        None => "camera".to_owned(),
    };
    let original = value.clone();
    let DeValue::Table(mut table) = value.into_inner() else {
        return Err(doc.at(Some(&span), "cameras must be tables ([[cameras]])"));
    };
    let mut server = DeTable::new();
    for key in SERVER_KEYS {
        if let Some((k, v)) = table.remove_entry(key) {
            server.insert(k, v);
        }
    }
    let keys = ServerKeys::deserialize(ValueDeserializer::from(Spanned::new(
        span.clone(),
        DeValue::Table(server),
    )))
    .map_err(|e| doc.toml(&e, &what))?;
    let entry = SourceEntry::from_toml(Spanned::new(span.clone(), DeValue::Table(table)))
        .map_err(|e| doc.toml(&e, &what))?;
    check(entry, keys, folder).map_err(|e| {
        let at = e.key.map_or(span, |k| key_span(&original, &k));
        doc.at(Some(&at), format!("{what}: {}", e.message))
    })
}

/// A camera from the JSON body of `POST /api/sources` (the keys of a
/// `[[cameras]]` table), relative paths relative to `folder`.
///
/// # Errors
/// What is wrong, naming the key.
pub fn from_json(value: serde_json::Value, folder: &Path) -> Result<CameraConfig, String> {
    let serde_json::Value::Object(mut object) = value else {
        return Err("a camera is a JSON object with the keys of a [[cameras]] table".into());
    };
    let mut server = serde_json::Map::new();
    for key in SERVER_KEYS {
        if let Some(v) = object.remove(key) {
            server.insert(key.to_owned(), v);
        }
    }
    let keys: ServerKeys =
        serde_json::from_value(serde_json::Value::Object(server)).map_err(|e| e.to_string())?;
    let entry =
        SourceEntry::from_json(serde_json::Value::Object(object)).map_err(|e| e.to_string())?;
    check(entry, keys, folder).map_err(|e| e.message)
}

/// Checks a camera's values with `osprey analyze`'s code.
fn check(
    mut entry: SourceEntry,
    keys: ServerKeys,
    folder: &Path,
) -> Result<CameraConfig, KeyError> {
    let Some(name) = entry.name.clone() else {
        return Err(KeyError {
            key: None,
            message: "name is required (the records' source)".into(),
        });
    };
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(KeyError::new(
            "name",
            format!("name must be 1 to {MAX_NAME} bytes long"),
        ));
    }
    if redact(&entry.uri) != entry.uri {
        return Err(KeyError::new(
            "uri",
            "uri holds a password: give it as password_env (or password) beside user",
        ));
    }
    if !crate::analyze::is_uri(&entry.uri) && Path::new(&entry.uri).is_relative() {
        entry.uri = folder.join(&entry.uri).to_string_lossy().into_owned();
    }
    if let Some(zones) = &mut entry.zones_file
        && zones.is_relative()
    {
        *zones = folder.join(&*zones);
    }
    let checked = SourceConfig::build(defaults(), &entry.uri, Some(&name), Some(&entry))
        .map_err(|e| from_build(&e))?;
    let stream = |key: &str, value: Option<String>, default: &str| {
        let value = value.unwrap_or_else(|| default.to_owned());
        names::check("stream", &value)
            .map(|()| value)
            .map_err(|e| KeyError::new(key, format!("{key}: {e}")))
    };
    let frames_stream = stream("frames_stream", keys.frames_stream, "frames")?;
    let events_stream = stream("events_stream", keys.events_stream, "events")?;
    let clips = clip_window(&checked, keys.clip_pre, keys.clip_post)?;
    let outputs = keys
        .outputs
        .into_iter()
        .map(|o| {
            output(&o, folder).map_err(|why| KeyError::new("outputs", format!("outputs: {why}")))
        })
        .collect::<Result<_, _>>()?;
    Ok(CameraConfig {
        name,
        source: entry,
        frames_stream,
        events_stream,
        outputs,
        checked,
        clips,
    })
}

/// The margins of the event clips (`clip_pre`, `clip_post`), checked as
/// `osprey analyze --clip-pre/--clip-post`: only with `record`.
fn clip_window(
    checked: &SourceConfig,
    clip_pre: Option<String>,
    clip_post: Option<String>,
) -> Result<Option<ClipWindow>, KeyError> {
    let given = if clip_pre.is_some() {
        "clip_pre"
    } else {
        "clip_post"
    };
    if checked.record.is_none() && (clip_pre.is_some() || clip_post.is_some()) {
        return Err(KeyError::new(
            given,
            format!("{given} needs record (the video stream the clips come from)"),
        ));
    }
    let args = RecordArgs {
        record: checked.record.clone(),
        clip_pre,
        clip_post,
    };
    ClipWindow::from_args(&args).map_err(|e| from_build(&e))
}

/// One output as `osprey analyze --output` takes it, checked; a file
/// relative to `folder`.
fn output(spec: &str, folder: &Path) -> Result<String, String> {
    match OutputSpec::parse(Path::new(spec), "outputs").map_err(|e| e.to_string())? {
        OutputSpec::Webhook(url) => {
            osprey_ingest::WebhookConfig::new(url.clone())
                .check()
                .map_err(|e| e.to_string())?;
            Ok(url)
        }
        OutputSpec::Broker(broker) => {
            osprey_ingest::broker::check(&broker).map_err(|e| e.to_string())?;
            Ok(spec.to_owned())
        }
        OutputSpec::File(path) if path.is_relative() => {
            Ok(folder.join(path).to_string_lossy().into_owned())
        }
        OutputSpec::Stdout | OutputSpec::Stream(_) | OutputSpec::File(_) => Ok(spec.to_owned()),
    }
}

/// The key a [`SourceConfig::build`] error is about, and its message with
/// the key in place of the command line's option.
fn from_build(err: &anyhow::Error) -> KeyError {
    let message = format!("{err:#}");
    let unknown_kernel = err.chain().any(|e| {
        matches!(
            e.downcast_ref::<osprey_kernels::KernelError>(),
            Some(osprey_kernels::KernelError::UnknownKernel(_))
        )
    });
    if unknown_kernel {
        return KeyError::new("kernels", format!("kernels: {message}"));
    }
    if err.chain().any(|e| e.is::<crate::error::InputError>()) {
        return KeyError::new("uri", format!("uri: {message}"));
    }
    if let Some(rest) = message.strip_prefix("--") {
        let (flag, tail) = rest.split_once(' ').unwrap_or((rest, ""));
        let key = match flag {
            "zone" => "zones".to_owned(),
            "mask" => "masks".to_owned(),
            "zones" => "zones_file".to_owned(),
            f => f.replace('-', "_"),
        };
        let message = format!("{key} {tail}");
        return KeyError {
            key: Some(key),
            message,
        };
    }
    if message.starts_with("zone \"") {
        return KeyError::new("zones", format!("zones: {message}"));
    }
    if message.starts_with("give password") {
        return KeyError::new("password", message);
    }
    for key in ["password_env", "health"] {
        if message.starts_with(key) {
            return KeyError::new(key, message);
        }
    }
    KeyError { key: None, message }
}
