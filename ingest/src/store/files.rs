//! What every shard of a store shares: a bounded cache of open segment files,
//! and whether the store was closed cleanly before and is being now.
//!
//! A store with thousands of shards (or a long retention in small segments)
//! has far more segment files than a process may hold open under a default
//! `ulimit -n` of 1024. Segments therefore keep only their path; a read or a
//! write borrows the open file from this cache, which closes the least
//! recently used one when it is full. An fsync through any descriptor of a
//! file makes all of its written data durable, so a file closed between its
//! write and its group commit loses nothing.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Open files by path, at most `capacity` of them; and what else every shard
/// of one store shares.
#[derive(Debug)]
pub struct StoreFiles {
    capacity: usize,
    writable: bool,
    inner: Mutex<Inner>,
    /// True when the writer before this one closed the store cleanly, so
    /// each shard's recorded end (`hwm.json`'s `clean_end`) is exact.
    pub clean_before: bool,
    /// Writable shard logs open now; the store is marked clean at close only
    /// once every one of them has closed, and none of them failed to close
    /// cleanly.
    pub open_writers: std::sync::atomic::AtomicUsize,
    /// Set by a shard log that could not close cleanly.
    pub unclean: std::sync::atomic::AtomicBool,
}

#[derive(Debug, Default)]
struct Inner {
    tick: u64,
    open: HashMap<PathBuf, (Arc<File>, u64)>,
}

impl StoreFiles {
    /// A cache that opens files for reading (and writing, when `writable`)
    /// and keeps at most `capacity` open.
    pub fn new(capacity: usize, writable: bool) -> StoreFiles {
        StoreFiles {
            capacity: capacity.max(1),
            writable,
            inner: Mutex::new(Inner::default()),
            clean_before: false,
            open_writers: std::sync::atomic::AtomicUsize::new(0),
            unclean: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// A cache sized to a quarter of this process's limit on open files
    /// (read from `/proc/self/limits`), between 16 and 4096; the rest is
    /// left to sockets and other files.
    pub fn sized_to_limit(writable: bool) -> StoreFiles {
        let limit = std::fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find(|l| l.starts_with("Max open files"))
                    .and_then(|l| l.split_whitespace().nth(3)?.parse::<usize>().ok())
            })
            .unwrap_or(1024);
        StoreFiles::new((limit / 4).clamp(16, 4096), writable)
    }

    /// The open file at `path`, opened now when it is not open.
    ///
    /// # Errors
    /// The error of opening it.
    pub fn get(&self, path: &Path) -> io::Result<Arc<File>> {
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        inner.tick += 1;
        let tick = inner.tick;
        if let Some((file, used)) = inner.open.get_mut(path) {
            *used = tick;
            return Ok(Arc::clone(file));
        }
        let file = Arc::new(
            OpenOptions::new()
                .read(true)
                .write(self.writable)
                .open(path)?,
        );
        if inner.open.len() >= self.capacity
            && let Some(oldest) = inner
                .open
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(p, _)| p.clone())
        {
            inner.open.remove(&oldest);
        }
        inner
            .open
            .insert(path.to_path_buf(), (Arc::clone(&file), tick));
        Ok(file)
    }

    /// Closes the file at `path` if it is open (it is being removed).
    pub fn forget(&self, path: &Path) {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .open
            .remove(path);
    }

    /// Files open now.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .open
            .len()
    }

    /// True when no file is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_at_most_capacity_open() {
        let dir = tempfile::tempdir().unwrap();
        let cache = StoreFiles::new(3, false);
        for i in 0..10 {
            let p = dir.path().join(format!("{i}"));
            std::fs::write(&p, [i as u8]).unwrap();
            cache.get(&p).unwrap();
            assert!(cache.len() <= 3);
        }
        // The most recent ones stay open.
        let p9 = dir.path().join("9");
        cache.get(&p9).unwrap();
        assert_eq!(cache.len(), 3);
        cache.forget(&p9);
        assert_eq!(cache.len(), 2);
        assert!(cache.get(&dir.path().join("missing")).is_err());
    }
}
