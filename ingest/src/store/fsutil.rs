//! File-system steps the store needs to be crash-safe: a file replaced
//! atomically (write a temporary file, fsync it, rename it, fsync the folder)
//! and a folder fsynced so that a new or removed entry survives a crash;
//! a segment's data fsynced and timed.

use std::fs::{self, File};
use std::io::Write as _;
use std::path::Path;

use crate::error::{IngestError, Result};

/// Wraps an I/O error with what was being done to which path.
pub(super) fn io_err(
    action: &'static str,
    path: &Path,
) -> impl FnOnce(std::io::Error) -> IngestError {
    let path = path.to_path_buf();
    move |source| IngestError::Storage {
        action,
        path,
        source,
    }
}

/// `file.sync_data()`, its time recorded in
/// [`crate::metrics::STORE_FSYNC_SECONDS`].
pub(super) fn timed_sync(file: &File) -> std::io::Result<()> {
    let started = std::time::Instant::now();
    let result = file.sync_data();
    metrics::histogram!(crate::metrics::STORE_FSYNC_SECONDS).record(started.elapsed());
    result
}

/// Makes the entries of folder `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("cannot sync", dir))
}

/// Replaces `path` with `bytes` so that a crash leaves the old or the new
/// content, never a mix.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).map_err(io_err("cannot create", &tmp))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(io_err("cannot write", &tmp))?;
    fs::rename(&tmp, path).map_err(io_err("cannot rename", &tmp))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// Creates `dir` and its parents.
pub(super) fn create_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(io_err("cannot create", dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("meta.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert!(!p.with_extension("tmp").exists());
        let err = write_atomic(&dir.path().join("no/such/file"), b"x").unwrap_err();
        assert!(err.to_string().starts_with("cannot create "), "{err}");
    }
}
