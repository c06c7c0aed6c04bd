//! Waking a follower when a stream's files change, instead of sleeping and
//! looking again: on Linux an inotify watch on the stream's folder (its
//! metadata: splits, merges), its `shards` folder (new shards) and each
//! shard's folder (appends to segments), so a follower in another process
//! than the writer (`osprey read --follow` beside `osprey put --listen`)
//! wakes as soon as a record is written. Elsewhere, or when the watch cannot
//! be set up, [`Wake::wait`] sleeps for its timeout, as the poll loops did.
//!
//! A wake means "something changed", not "a record arrived": the caller
//! looks again, and waits again if there is nothing new. Events that arrive
//! between a look and the next wait stay queued, so none is missed.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Wakes a follower of one stream.
#[derive(Debug)]
pub struct Wake {
    #[cfg(target_os = "linux")]
    watch: Option<linux::Watch>,
    /// The stream's folder.
    dir: PathBuf,
}

impl Wake {
    /// Watches the stream whose folder is `stream_dir`; never fails (without
    /// a watch, [`Wake::wait`] sleeps).
    pub fn new(stream_dir: &Path) -> Wake {
        let mut wake = Wake {
            #[cfg(target_os = "linux")]
            watch: linux::Watch::new(),
            dir: stream_dir.to_owned(),
        };
        wake.watch_dirs();
        wake
    }

    /// True when changes wake the follower (else it sleeps).
    pub fn is_live(&self) -> bool {
        #[cfg(target_os = "linux")]
        return self.watch.is_some();
        #[cfg(not(target_os = "linux"))]
        return false;
    }

    /// Waits until the stream's files change or `timeout` passes.
    pub fn wait(&mut self, timeout: Duration) {
        #[cfg(target_os = "linux")]
        if let Some(watch) = &mut self.watch {
            if watch.wait(timeout) {
                self.watch_dirs();
            }
            return;
        }
        std::thread::sleep(timeout);
    }

    /// Adds watches for the stream's folders not yet watched (shards made
    /// by a split or merge).
    fn watch_dirs(&mut self) {
        #[cfg(target_os = "linux")]
        if let Some(watch) = &mut self.watch {
            let shards = self.dir.join("shards");
            watch.add(&self.dir);
            watch.add(&shards);
            if let Ok(entries) = std::fs::read_dir(&shards) {
                for entry in entries.flatten() {
                    watch.add(&entry.path());
                }
            }
        }
    }
}

#[cfg(target_os = "linux")]
mod linux {
    //! The inotify watch behind [`super::Wake`].

    use std::collections::HashSet;
    use std::mem::MaybeUninit;
    use std::os::fd::OwnedFd;
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    use rustix::fs::inotify::{self, CreateFlags, WatchFlags};

    /// An inotify instance and the folders it watches.
    #[derive(Debug)]
    pub(super) struct Watch {
        fd: OwnedFd,
        watched: HashSet<PathBuf>,
        buf: Vec<MaybeUninit<u8>>,
    }

    impl Watch {
        /// A new instance, or `None` when the system refuses one.
        pub(super) fn new() -> Option<Watch> {
            let fd = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK).ok()?;
            Some(Watch {
                fd,
                watched: HashSet::new(),
                buf: vec![MaybeUninit::uninit(); 8192],
            })
        }

        /// Watches `dir` for files written, made, moved in or removed
        /// (once; a folder that is not there yet is tried again later).
        pub(super) fn add(&mut self, dir: &Path) {
            if self.watched.contains(dir) {
                return;
            }
            let flags = WatchFlags::MODIFY
                | WatchFlags::CLOSE_WRITE
                | WatchFlags::CREATE
                | WatchFlags::MOVED_TO
                | WatchFlags::DELETE
                | WatchFlags::ONLYDIR;
            if inotify::add_watch(&self.fd, dir, flags).is_ok() {
                self.watched.insert(dir.to_owned());
            }
        }

        /// Waits for events for at most `timeout` and drains them; true
        /// when there were any.
        pub(super) fn wait(&mut self, timeout: Duration) -> bool {
            let timeout = Timespec {
                tv_sec: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
                tv_nsec: i64::from(timeout.subsec_nanos()),
            };
            let mut fds = [PollFd::new(&self.fd, PollFlags::IN)];
            match poll(&mut fds, Some(&timeout)) {
                Ok(n) if n > 0 => {}
                // A timeout, or an interrupted wait: the caller looks again.
                _ => return false,
            }
            let mut reader = inotify::Reader::new(&self.fd, &mut self.buf);
            let mut any = false;
            // Read until the queue is empty (the descriptor does not block).
            while reader.next().is_ok() {
                any = true;
            }
            any
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[test]
    fn wakes_on_a_write_and_times_out_without() {
        let dir = tempfile::tempdir().unwrap();
        let shard = dir.path().join("shards").join("shardId-000000000000");
        std::fs::create_dir_all(&shard).unwrap();
        let mut wake = Wake::new(dir.path());
        let started = Instant::now();
        wake.wait(Duration::from_millis(50));
        assert!(started.elapsed() >= Duration::from_millis(45));
        if !wake.is_live() {
            return;
        }
        let file = shard.join("seg");
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            std::fs::write(file, b"x").unwrap();
        });
        let started = Instant::now();
        wake.wait(Duration::from_secs(60));
        assert!(started.elapsed() < Duration::from_secs(30));
        writer.join().unwrap();
    }
}
