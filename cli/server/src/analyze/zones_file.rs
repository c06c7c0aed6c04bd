//! `--zones FILE`: named zones and masks from a TOML or JSON file, chosen by
//! the file's extension (`.toml`, `.json`).
//!
//! ```toml
//! [[zones]]
//! name = "door"
//! points = [[100, 50], [300, 50], [300, 400], [100, 400]]
//!
//! [[masks]]
//! points = [[0, 0], [1920, 0], [1920, 60], [0, 60]]
//! ```
//!
//! JSON holds the same: `{"zones":[{"name":"door","points":[[100,50],...]}],"masks":[...]}`.
//! Polygons are checked by the same code as `--zone` and `--mask`.

use std::fmt::Write as _;
use std::path::Path;

use osprey_kernels::metrics::zones::{Polygon, Zone};
use serde::Deserialize;

use crate::error::UsageError;

/// The file's layout.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ZonesFile {
    #[serde(default)]
    zones: Vec<ZoneEntry>,
    #[serde(default)]
    masks: Vec<MaskEntry>,
}

/// One `[[zones]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ZoneEntry {
    name: String,
    points: Vec<[f64; 2]>,
}

/// One `[[masks]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MaskEntry {
    points: Vec<[f64; 2]>,
}

/// Zones and masks read from a file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ZonesAndMasks {
    /// Named zones, in file order.
    pub zones: Vec<Zone>,
    /// Masks, in file order.
    pub masks: Vec<Polygon>,
}

/// Reads and checks `path`.
///
/// # Errors
/// A [`UsageError`] naming the file, and the zone or mask at fault, for a
/// file that cannot be read, an unknown extension, a syntax error or a bad
/// polygon.
pub fn read(path: &Path) -> Result<ZonesAndMasks, UsageError> {
    let fail = |why: String| UsageError(format!("--zones {path:?}: {why}"));
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    let text = std::fs::read_to_string(path).map_err(|e| fail(super::io_reason(&e)))?;
    let file: ZonesFile = match ext.as_deref() {
        Some("toml") => toml::from_str(&text).map_err(|e| fail(one_line(&e.to_string())))?,
        Some("json") => serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?,
        _ => {
            return Err(fail(
                "give a .toml or .json file (the extension tells the format)".into(),
            ));
        }
    };
    parse(file).map_err(fail)
}

/// Checks the polygons of a parsed file.
fn parse(file: ZonesFile) -> Result<ZonesAndMasks, String> {
    let mut out = ZonesAndMasks::default();
    for (i, z) in file.zones.iter().enumerate() {
        let name = z.name.trim();
        if name.is_empty() {
            return Err(format!("zone {} has an empty name", i + 1));
        }
        let polygon = polygon(&z.points).map_err(|e| format!("zone \"{name}\": {e}"))?;
        out.zones.push(Zone {
            name: name.to_owned(),
            polygon,
        });
    }
    for (i, m) in file.masks.iter().enumerate() {
        out.masks
            .push(polygon(&m.points).map_err(|e| format!("mask {}: {e}", i + 1))?);
    }
    Ok(out)
}

/// Checks a list of points with [`Polygon::parse`], the one place polygons
/// are checked.
fn polygon(points: &[[f64; 2]]) -> Result<Polygon, String> {
    let mut list = String::new();
    for (i, [x, y]) in points.iter().enumerate() {
        if i > 0 {
            list.push(',');
        }
        // f64's Display reads back as the same number.
        let _ = write!(list, "{x},{y}");
    }
    Polygon::parse(&list)
}

/// toml's errors span several lines (a source excerpt); keep the first.
fn one_line(text: &str) -> String {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("syntax error").to_owned();
    // The last line carries the reason, the first the position.
    match lines.next_back() {
        Some(reason) if !reason.starts_with('|') && !reason.starts_with('^') => {
            format!("{first} {reason}")
        }
        _ => first,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn reads_toml_and_json_alike() {
        let dir = tempfile::tempdir().unwrap();
        let toml = write(
            dir.path(),
            "z.toml",
            "[[zones]]\nname = \"door\"\npoints = [[0, 0], [10, 0], [10, 10]]\n\
             [[masks]]\npoints = [[1, 1], [2, 1], [2, 2.5]]\n",
        );
        let json = write(
            dir.path(),
            "z.json",
            r#"{"zones":[{"name":"door","points":[[0,0],[10,0],[10,10]]}],
                "masks":[{"points":[[1,1],[2,1],[2,2.5]]}]}"#,
        );
        let a = read(&toml).unwrap();
        assert_eq!(a, read(&json).unwrap());
        assert_eq!(a.zones[0].name, "door");
        assert_eq!(
            a.zones[0].polygon.points,
            vec![(0.0, 0.0), (10.0, 0.0), (10.0, 10.0)]
        );
        assert_eq!(a.masks[0].points[2], (2.0, 2.5));
    }

    #[test]
    fn errors_name_the_file_and_the_zone() {
        let dir = tempfile::tempdir().unwrap();
        let bad = write(
            dir.path(),
            "bad.toml",
            "[[zones]]\nname = \"door\"\npoints = [[0, 0], [10, 0]]\n",
        );
        let msg = read(&bad).unwrap_err().to_string();
        assert!(msg.starts_with("--zones \""), "{msg}");
        assert!(msg.contains("bad.toml"), "{msg}");
        assert!(msg.contains("zone \"door\""), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");

        let typo = write(dir.path(), "typo.json", r#"{"zone":[]}"#);
        let msg = read(&typo).unwrap_err().to_string();
        assert!(msg.contains("unknown field"), "{msg}");

        let syntax = write(dir.path(), "s.toml", "[[zones]\n");
        let msg = read(&syntax).unwrap_err().to_string();
        assert!(!msg.contains('\n'), "{msg}");

        let ext = write(dir.path(), "z.yaml", "zones: []");
        assert!(
            read(&ext)
                .unwrap_err()
                .to_string()
                .contains(".toml or .json")
        );
        assert!(read(&dir.path().join("none.toml")).is_err());
    }
}
