//! Stored data as one input: the data files of a directory (a Hive-style
//! tree such as `osprey deliver` writes, `year=2026/month=12/day=01/hour=17/`,
//! among them) or of a glob (`data/**/*.parquet`), listed in path order, with
//! the `key=value` folders of each file's path as its partition values, and
//! each file's format from its name ([`FileKind`]): Parquet, NDJSON or CSV,
//! the text ones plain or compressed with gzip or zstd.
//!
//! A directory is walked whole for files with one of those names; names that
//! start with `.` or `_` (temporary files, `_SUCCESS` markers) are left out,
//! and so are other files. A glob that matches a file of another name fails.
//! A glob's `*` and `?` match within one path segment and `**` any number of
//! segments; its folders before the first wildcard are where the walk starts.

use std::path::{Path, PathBuf};

use crate::error::{QueryError, Result};

/// Files a listing takes at most: past this the input is refused rather
/// than held in memory.
pub const MAX_FILES: usize = 1_000_000;

/// One file of stored data and its partition values (`key=value` folders
/// of its path, outermost first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    /// The file.
    pub path: PathBuf,
    /// `(key, value)` of each `key=value` folder between the listing's
    /// root and the file.
    pub partitions: Vec<(String, String)>,
}

/// How a data file is written, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `.parquet` (or `.pq`).
    Parquet,
    /// NDJSON or CSV text (`.ndjson`, `.jsonl`, `.json`, `.csv`), plain
    /// or compressed (`.gz`, `.zst` after it).
    Text {
        /// NDJSON or CSV.
        format: osprey_ingest::chunk::RecordFormat,
        /// The compression.
        compression: Compression,
    },
}

/// A text file's compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// None.
    None,
    /// gzip (`.gz`).
    Gzip,
    /// Zstandard (`.zst`).
    Zstd,
}

/// The names a data file may end with, for messages.
pub const KINDS: &str = ".parquet, .ndjson, .jsonl, .json or .csv, the text ones also .gz or .zst";

impl FileKind {
    /// The kind of the file `name`, if it is a data file.
    pub fn of(name: &str) -> Option<FileKind> {
        use osprey_ingest::chunk::RecordFormat;
        let lower = name.to_ascii_lowercase();
        let (stem, compression) = if let Some(s) = lower.strip_suffix(".gz") {
            (s, Compression::Gzip)
        } else if let Some(s) = lower.strip_suffix(".zst") {
            (s, Compression::Zstd)
        } else {
            (lower.as_str(), Compression::None)
        };
        let ext = stem.rsplit_once('.')?.1;
        let format = match ext {
            "parquet" | "pq" if compression == Compression::None => return Some(FileKind::Parquet),
            "ndjson" | "jsonl" | "json" => RecordFormat::Ndjson,
            "csv" => RecordFormat::Csv,
            _ => return None,
        };
        Some(FileKind::Text {
            format,
            compression,
        })
    }
}

impl StoredFile {
    /// The file's kind, by its name.
    pub fn kind(&self) -> Option<FileKind> {
        FileKind::of(&self.path.file_name()?.to_string_lossy())
    }
}

/// True when `input` names many files: a directory, or a path with a glob
/// wildcard (`*`, `?`) in it.
pub fn names_many(input: &str) -> bool {
    input.contains(['*', '?']) || Path::new(input).is_dir()
}

/// The files `input` names (a directory or a glob), sorted by path.
///
/// # Errors
/// [`QueryError::Input`] when a folder cannot be read, when nothing matches,
/// or past [`MAX_FILES`].
pub fn list(input: &str) -> Result<Vec<StoredFile>> {
    let fail = |reason: String| QueryError::Input {
        input: input.to_owned(),
        reason,
    };
    let glob = input.contains(['*', '?']);
    let (root, pattern): (PathBuf, Vec<&str>) = if glob {
        let segments: Vec<&str> = input.split('/').collect();
        let first = segments
            .iter()
            .position(|s| s.contains(['*', '?']))
            .unwrap_or(0);
        let root = segments[..first].join("/");
        let root = match (root.is_empty(), input.starts_with('/')) {
            (true, true) => PathBuf::from("/"),
            (true, false) => PathBuf::from("."),
            _ => PathBuf::from(root),
        };
        (root, segments[first..].to_vec())
    } else {
        (PathBuf::from(input), vec!["**", "*"])
    };
    let mut found = Vec::new();
    let mut folders = vec![(root.clone(), Vec::<String>::new())];
    while let Some((dir, rel)) = folders.pop() {
        let entries =
            std::fs::read_dir(&dir).map_err(|e| fail(format!("{}: {e}", dir.display())))?;
        for entry in entries {
            let entry = entry.map_err(|e| fail(format!("{}: {e}", dir.display())))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(['.', '_']) {
                continue;
            }
            let mut path_rel = rel.clone();
            path_rel.push(name);
            let kind = entry
                .file_type()
                .map_err(|e| fail(format!("{}: {e}", entry.path().display())))?;
            // Links are followed: a tree may be made of them.
            let is_dir = kind.is_dir() || (kind.is_symlink() && entry.path().is_dir());
            let segs: Vec<&str> = path_rel.iter().map(String::as_str).collect();
            if is_dir {
                if prefix_can_match(&pattern, &segs) {
                    folders.push((entry.path(), path_rel));
                }
            } else if matches(&pattern, &segs) {
                if FileKind::of(segs.last().copied().unwrap_or_default()).is_none() {
                    if glob {
                        return Err(fail(format!(
                            "{}: not a data file; give {KINDS}",
                            entry.path().display()
                        )));
                    }
                    continue;
                }
                if found.len() >= MAX_FILES {
                    return Err(fail(format!("more than {MAX_FILES} files")));
                }
                let partitions = segs[..segs.len() - 1]
                    .iter()
                    .filter_map(|s| s.split_once('='))
                    .filter(|(k, _)| !k.is_empty())
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect();
                found.push(StoredFile {
                    path: entry.path(),
                    partitions,
                });
            }
        }
    }
    if found.is_empty() {
        let what = if input.contains(['*', '?']) {
            "no file matches"
        } else {
            "no data file in it (.parquet, .ndjson, .jsonl, .json, .csv)"
        };
        return Err(fail(what.to_owned()));
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(found)
}

/// True when `name` matches one glob segment (`*`, `?`, literals).
fn segment_matches(pattern: &[u8], name: &[u8]) -> bool {
    match (pattern.split_first(), name.split_first()) {
        (None, None) => true,
        (Some((b'*', rest)), _) => {
            segment_matches(rest, name)
                || (!name.is_empty() && segment_matches(pattern, &name[1..]))
        }
        (Some((b'?', rest)), Some((_, name_rest))) => segment_matches(rest, name_rest),
        (Some((p, rest)), Some((n, name_rest))) => p == n && segment_matches(rest, name_rest),
        _ => false,
    }
}

/// True when the path segments `path` match the glob segments `pattern`
/// whole.
fn matches(pattern: &[&str], path: &[&str]) -> bool {
    match (pattern.split_first(), path.split_first()) {
        (None, None) => true,
        (Some((&"**", rest)), _) => {
            matches(rest, path) || (!path.is_empty() && matches(pattern, &path[1..]))
        }
        (Some((p, rest)), Some((n, path_rest))) => {
            segment_matches(p.as_bytes(), n.as_bytes()) && matches(rest, path_rest)
        }
        _ => false,
    }
}

/// True when some path below the folder `path` may match `pattern`.
fn prefix_can_match(pattern: &[&str], path: &[&str]) -> bool {
    match (pattern.split_first(), path.split_first()) {
        (_, None) => true,
        (Some((&"**", _)), _) => true,
        (Some((p, rest)), Some((n, path_rest))) => {
            segment_matches(p.as_bytes(), n.as_bytes()) && prefix_can_match(rest, path_rest)
        }
        (None, Some(_)) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_segments_and_double_stars_any_depth() {
        let m = |p: &str, path: &str| {
            let p: Vec<&str> = p.split('/').collect();
            let path: Vec<&str> = path.split('/').collect();
            matches(&p, &path)
        };
        assert!(m("**/*.parquet", "a.parquet"));
        assert!(m("**/*.parquet", "year=2026/month=12/a.parquet"));
        assert!(!m("**/*.parquet", "year=2026/a.ndjson"));
        assert!(m("year=*/m?nth=1*/*", "year=2026/month=12/x"));
        assert!(!m("year=*/*", "year=2026/month=12/x"));
        assert!(!m("*.parquet", "dir/a.parquet"));
        assert!(prefix_can_match(&["year=2026", "*"], &["year=2026"]));
        assert!(!prefix_can_match(&["year=2026", "*"], &["year=2025"]));
    }

    #[test]
    fn a_tree_lists_its_data_files_in_order_with_their_partitions() {
        let dir = tempfile::tempdir().unwrap();
        for p in [
            "year=2026/month=12/day=01/hour=17/b.parquet",
            "year=2026/month=12/day=01/hour=09/a.parquet",
            "year=2026/month=12/day=01/hour=09/_SUCCESS",
            "year=2026/month=12/day=01/hour=09/.a.parquet.tmp",
            "year=2026/month=12/day=01/hour=09/a.ndjson",
            "year=2026/month=12/day=01/hour=09/notes.txt",
            "year=2026/month=12/day=01/hour=10/c.csv.gz",
        ] {
            let p = dir.path().join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b"").unwrap();
        }
        let root = dir.path().to_str().unwrap();
        let files = list(root).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|f| {
                f.path
                    .strip_prefix(dir.path())
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(
            names,
            [
                "year=2026/month=12/day=01/hour=09/a.ndjson",
                "year=2026/month=12/day=01/hour=09/a.parquet",
                "year=2026/month=12/day=01/hour=10/c.csv.gz",
                "year=2026/month=12/day=01/hour=17/b.parquet"
            ]
        );
        assert_eq!(files[1].kind(), Some(FileKind::Parquet));
        assert_eq!(
            files[2].kind(),
            Some(FileKind::Text {
                format: osprey_ingest::chunk::RecordFormat::Csv,
                compression: Compression::Gzip
            })
        );
        assert_eq!(FileKind::of("x.parquet.gz"), None);
        assert_eq!(FileKind::of("parquet"), None);
        let other = list(&format!("{root}/year=2026/*/*/hour=09/*")).unwrap_err();
        assert!(
            other.to_string().contains("notes.txt: not a data file"),
            "{other}"
        );
        assert_eq!(files[1].partitions[3], ("hour".into(), "09".into()));
        let glob = list(&format!("{root}/year=2026/*/*/hour=1*/*.parquet")).unwrap();
        assert_eq!(glob.len(), 1);
        assert!(names_many(root) && names_many("x/*.parquet") && !names_many("x.parquet"));
        let none = list(&format!("{root}/*/*.csv")).unwrap_err().to_string();
        assert!(none.contains("no file matches"), "{none}");
    }
}
