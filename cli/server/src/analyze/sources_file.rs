//! `--sources FILE`: the sources of one run in a TOML file, one
//! `[[sources]]` table each. Every key but `uri` is optional; a key given
//! here overrides the command line's option for that source only.
//!
//! ```toml
//! [[sources]]
//! name = "front"
//! uri = "rtsp://10.0.0.5/stream1"
//! user = "admin"
//! password_env = "FRONT_PASSWORD"   # or password = "..."
//! kernels = ["stats", "scene", "motion", "black", "freeze", "blur"]  # or "stats,scene,..."
//! zones = ["door:100,50,300,50,300,400,100,400"]
//! rtsp_transport = "tcp"
//! stall_timeout = "5s"
//!
//! [sources.health]
//! blocked_min_duration = 10.0
//! ```
//!
//! Unknown keys are errors naming the key and its line, so a typo never
//! passes silently as a default. `cli/examples/sources.toml` documents
//! every key.

use std::path::{Path, PathBuf};

use osprey_video::analysis::HealthOptions;
use serde::Deserialize;

use crate::args::live::{DecodeArg, TransportArg};
use crate::error::UsageError;

/// The file's layout.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourcesFile {
    #[serde(default)]
    sources: Vec<SourceEntry>,
}

/// One `[[sources]]` table: what it does not say comes from the command line.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceEntry {
    /// The records' `source` [default: as for a SRC without a name].
    pub name: Option<String>,
    /// The file path or URI.
    pub uri: String,
    /// Kernels, as `--kernels`: a comma-separated string or a list of
    /// names (held as the comma-separated string).
    #[serde(default, deserialize_with = "comma_list")]
    pub kernels: Option<String>,
    /// Zones, as `--zone` strings (`NAME:x1,y1,x2,y2,...`).
    pub zones: Option<Vec<String>>,
    /// Masks, as `--mask` strings (`x1,y1,x2,y2,...`).
    pub masks: Option<Vec<String>>,
    /// A zones file (`--zones`), relative to this file's folder.
    pub zones_file: Option<PathBuf>,
    /// scdet's threshold, as `--scene-threshold`.
    pub scene_threshold: Option<f64>,
    /// As `--fps`.
    pub fps: Option<f64>,
    /// As `--detect-size`.
    pub detect_size: Option<String>,
    /// User name, beside `password` or `password_env`.
    pub user: Option<String>,
    /// Password (prefer `password_env`: this file then holds no secret).
    pub password: Option<Secret>,
    /// Name of an environment variable holding the password.
    pub password_env: Option<String>,
    /// As `--rtsp-transport`.
    pub rtsp_transport: Option<TransportArg>,
    /// As `--rtsp-latency`.
    pub rtsp_latency_ms: Option<u64>,
    /// As `--decode`.
    pub decode: Option<DecodeArg>,
    /// As `--stall-timeout`.
    pub stall_timeout: Option<String>,
    /// As `--retry-for`.
    pub retry_for: Option<String>,
    /// As `--max-latency`.
    pub max_latency: Option<String>,
    /// As `--records`.
    pub records: Option<String>,
    /// As `--start-time` (files).
    pub start_time: Option<String>,
    /// As `--loop` (files): played again from the start at each end.
    #[serde(rename = "loop")]
    pub looping: Option<bool>,
    /// The video stream this source is recorded into, as `--record` (for a
    /// server camera: `record = "NAME"`).
    pub record: Option<String>,
    /// Camera health events; keys left out keep their defaults, and a table
    /// without `enabled` leaves it as the command line has it.
    pub health: Option<HealthOptions>,
    /// Whether `[sources.health]` says `enabled` (filled after reading).
    #[serde(skip)]
    pub health_enabled_given: bool,
}

/// A secret read from a file: `Debug` never shows it.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

impl From<&str> for Secret {
    fn from(text: &str) -> Self {
        Secret(text.to_owned())
    }
}

impl SourceEntry {
    /// One table of TOML, as the server's `[[cameras]]` give them; errors
    /// carry the span of the key at fault.
    ///
    /// # Errors
    /// The deserializer's: an unknown key, a wrong type, `uri` missing.
    pub fn from_toml(table: toml::Spanned<toml::de::DeValue<'_>>) -> Result<Self, toml::de::Error> {
        let enabled_given = table
            .get_ref()
            .get("health")
            .is_some_and(|h| h.get_ref().get("enabled").is_some());
        let mut entry = Self::deserialize(toml::de::ValueDeserializer::from(table))?;
        entry.health_enabled_given = enabled_given;
        Ok(entry)
    }

    /// One JSON object with the keys of a table (the body of
    /// `POST /api/sources`).
    ///
    /// # Errors
    /// The deserializer's, naming the key.
    pub fn from_json(object: serde_json::Value) -> Result<Self, serde_json::Error> {
        let enabled_given = object
            .get("health")
            .is_some_and(|h| h.get("enabled").is_some());
        let mut entry: Self = serde_json::from_value(object)?;
        entry.health_enabled_given = enabled_given;
        Ok(entry)
    }
}

/// `kernels`: a comma-separated string, or a list of names joined into one.
fn comma_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct Visitor;
    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = String;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of names or a comma-separated string")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<String, A::Error> {
            let mut names: Vec<String> = Vec::new();
            while let Some(name) = seq.next_element::<String>()? {
                names.push(name);
            }
            Ok(names.join(","))
        }
    }
    d.deserialize_any(Visitor).map(Some)
}

/// Reads and checks the syntax of `path`; values are checked with the
/// command line's.
///
/// # Errors
/// A [`UsageError`] naming the file, and the line and key at fault.
pub fn read(path: &Path) -> Result<Vec<SourceEntry>, UsageError> {
    let fail = |why: String| UsageError(format!("--sources {path:?}: {why}"));
    let text = std::fs::read_to_string(path).map_err(|e| fail(crate::analyze::io_reason(&e)))?;
    let mut entries = parse(&text).map_err(fail)?;
    let folder = path.parent().unwrap_or(Path::new(""));
    for entry in &mut entries {
        if let Some(zones) = &mut entry.zones_file
            && zones.is_relative()
        {
            *zones = folder.join(&*zones);
        }
    }
    Ok(entries)
}

/// Parses the text of a sources file.
fn parse(text: &str) -> Result<Vec<SourceEntry>, String> {
    let file: SourcesFile = toml::from_str(text).map_err(|e| one_line(text, &e))?;
    if file.sources.is_empty() {
        return Err("no [[sources]] table".into());
    }
    // Whether each health table says `enabled` is not in the typed value.
    let raw: toml::Table = toml::from_str(text).map_err(|e| one_line(text, &e))?;
    let tables = raw.get("sources").and_then(toml::Value::as_array);
    let mut entries = file.sources;
    for (i, entry) in entries.iter_mut().enumerate() {
        entry.health_enabled_given = tables
            .and_then(|t| t.get(i))
            .and_then(|s| s.get("health"))
            .and_then(|h| h.get("enabled"))
            .is_some();
    }
    Ok(entries)
}

/// A TOML error in one line: `line N: message`.
fn one_line(text: &str, err: &toml::de::Error) -> String {
    let message = err.message().trim().replace('\n', " ");
    match err.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {message}")
        }
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_entry_reads() {
        let entries = parse(
            r#"
[[sources]]
name = "front"
uri = "rtsp://cam/1"
password_env = "FRONT_PW"
rtsp_transport = "tcp"
decode = "sw"
zones = ["door:0,0,10,0,10,10"]

[sources.health]
blur_margin = 0.8

[[sources]]
uri = "clip.mp4"
[sources.health]
enabled = true
"#,
        )
        .unwrap();
        assert_eq!(entries.len(), 2);
        let f = &entries[0];
        assert_eq!(f.name.as_deref(), Some("front"));
        assert_eq!(f.rtsp_transport, Some(TransportArg::Tcp));
        assert_eq!(f.decode, Some(DecodeArg::Sw));
        assert_eq!(f.health.unwrap().blur_margin, 0.8);
        assert!(!f.health_enabled_given);
        assert!(entries[1].health_enabled_given);
        assert!(entries[1].health.unwrap().enabled);
    }

    #[test]
    fn kernels_are_a_list_or_a_string() {
        let entries =
            parse("[[sources]]\nuri = \"a\"\nkernels = [\"stats\", \"scene\"]\n[[sources]]\nuri = \"b\"\nkernels = \"motion\"\n")
                .unwrap();
        assert_eq!(entries[0].kernels.as_deref(), Some("stats,scene"));
        assert_eq!(entries[1].kernels.as_deref(), Some("motion"));
        let err = parse("[[sources]]\nuri = \"a\"\nkernels = 3\n").unwrap_err();
        assert!(err.starts_with("line 3: invalid type: integer"), "{err}");
    }

    #[test]
    fn the_example_reads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sources.toml");
        let entries = read(&path).unwrap();
        let names: Vec<_> = entries.iter().map(|e| e.name.as_deref()).collect();
        assert_eq!(names, [Some("front"), Some("back")]);
        let front = &entries[0];
        assert_eq!(front.password_env.as_deref(), Some("CAM0_PASSWORD"));
        assert_eq!(front.fps, Some(5.0));
        assert!(front.health.is_some() && !front.health_enabled_given);
    }

    #[test]
    fn unknown_keys_are_named_with_their_line() {
        let err = parse("[[sources]]\nuri = \"a.mp4\"\ncolour = \"red\"\n").unwrap_err();
        assert!(err.starts_with("line 3: unknown field `colour`"), "{err}");
        let err = parse("[[sources]]\nuri = \"a\"\n[sources.health]\nblur = 1\n").unwrap_err();
        assert!(err.starts_with("line 4: unknown field `blur`"), "{err}");
        let err = parse("[[sources]]\nname = \"x\"\n").unwrap_err();
        assert!(err.contains("missing field `uri`"), "{err}");
        let err = parse("[[sources]]\nuri = \"a\"\nrtsp_transport = \"sctp\"\n").unwrap_err();
        assert!(err.starts_with("line 3: "), "{err}");
        assert_eq!(parse("").unwrap_err(), "no [[sources]] table");
        assert!(
            !parse("[[sources]]\nuri = \"a\"\nfps = [\n")
                .unwrap_err()
                .contains('\n')
        );
    }
}
