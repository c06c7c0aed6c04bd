//! [`VideoStore`]: the video streams of a data directory, their lock, and
//! the checks a fragment passes before it is stored.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use super::format::{MAX_CODEC_DATA, MAX_FRAGMENT_BYTES, MAX_FRAME_BYTES, MAX_FRAMES};
use super::stream::{Settings, VStream, from_ingest, io_err, new_version, now_ns};
use super::{
    Fragment, FragmentIn, FragmentMeta, Retention, TimeRange, VideoDamage, VideoError,
    VideoStreamConfig, VideoStreamInfo, format,
};

/// The folder of the streams, under the video store's.
const STREAMS: &str = "streams";

/// The video streams of one data directory (`<data-dir>/video/`).
#[derive(Debug)]
pub struct VideoStore {
    dir: PathBuf,
    writable: bool,
    _lock: Option<File>,
    streams: RwLock<BTreeMap<String, Arc<VStream>>>,
    /// Streams whose settings cannot be read, with the reason.
    damaged: RwLock<BTreeMap<String, String>>,
}

impl VideoStore {
    /// Opens (creating) the video store of `data_dir` for writing: one
    /// process writes at a time. Temporary files a crash left are removed;
    /// every stream's index is rebuilt from its fragment files' headers.
    ///
    /// # Errors
    /// [`VideoError::Locked`] when another process writes it,
    /// [`VideoError::Io`].
    pub fn open(data_dir: &Path) -> Result<VideoStore, VideoError> {
        let dir = data_dir.join("video");
        let streams = dir.join(STREAMS);
        fs::create_dir_all(&streams).map_err(io_err("cannot create", &streams))?;
        let lock_path = dir.join("LOCK");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err("cannot open", &lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(VideoError::Locked(dir)),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(io_err("cannot lock", &lock_path)(e));
            }
        }
        let store = VideoStore::new(dir, true, Some(lock));
        store.load_all()?;
        Ok(store)
    }

    /// Opens it for reading alongside a writer in another process: every
    /// call looks at the files again, so it sees what the writer added
    /// (fragments, streams) and removed.
    ///
    /// # Errors
    /// [`VideoError::Io`].
    pub fn open_read_only(data_dir: &Path) -> Result<VideoStore, VideoError> {
        let store = VideoStore::new(data_dir.join("video"), false, None);
        store.load_all()?;
        Ok(store)
    }

    fn new(dir: PathBuf, writable: bool, lock: Option<File>) -> VideoStore {
        VideoStore {
            dir,
            writable,
            _lock: lock,
            streams: RwLock::new(BTreeMap::new()),
            damaged: RwLock::new(BTreeMap::new()),
        }
    }

    /// The directory it lives in.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn streams_dir(&self) -> PathBuf {
        self.dir.join(STREAMS)
    }

    /// Loads every stream folder not loaded yet and forgets those gone; a
    /// writable store also finishes what an interrupted create or delete
    /// left (folders named `.NAME.*`).
    fn load_all(&self) -> Result<(), VideoError> {
        let dir = self.streams_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !self.writable => {
                return Ok(());
            }
            Err(e) => return Err(io_err("cannot read", &dir)(e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_err("cannot read", &dir))?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if name.starts_with('.') {
                if self.writable {
                    let path = entry.path();
                    fs::remove_dir_all(&path).map_err(io_err("cannot remove", &path))?;
                }
                continue;
            }
            names.push(name);
        }
        let known: Vec<String> = {
            let streams = self.read_streams();
            let damaged = self.read_damaged();
            names
                .iter()
                .filter(|n| !streams.contains_key(*n) && !damaged.contains_key(*n))
                .cloned()
                .collect()
        };
        let loaded: Vec<(String, Result<VStream, String>)> = known
            .into_iter()
            .map(|n| {
                let s = VStream::open(&n, &dir.join(&n), self.writable);
                (n, s)
            })
            .collect();
        let mut streams = self.streams.write().unwrap_or_else(PoisonError::into_inner);
        let mut damaged = self.damaged.write().unwrap_or_else(PoisonError::into_inner);
        streams.retain(|n, s| {
            let keep = names.contains(n);
            if !keep {
                s.mark_deleted();
            }
            keep
        });
        damaged.retain(|n, _| names.contains(n));
        for (name, s) in loaded {
            match s {
                Ok(s) => {
                    streams.insert(name, Arc::new(s));
                }
                Err(why) => {
                    tracing::warn!(stream = %name, reason = %why, "Damaged video stream skipped.");
                    damaged.insert(name, why);
                }
            }
        }
        Ok(())
    }

    fn read_streams(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<VStream>>> {
        self.streams.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn read_damaged(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, String>> {
        self.damaged.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stream `name`, refreshed from disk in a read-only store.
    fn stream(&self, name: &str) -> Result<Arc<VStream>, VideoError> {
        check_name(name)?;
        let found = self.read_streams().get(name).cloned();
        let s = match found {
            Some(s) => s,
            None if !self.writable => {
                self.load_all()?;
                self.read_streams()
                    .get(name)
                    .cloned()
                    .ok_or_else(|| self.missing(name))?
            }
            None => return Err(self.missing(name)),
        };
        match s.refresh() {
            Ok(()) => Ok(s),
            Err(VideoError::NotFound(_)) if !self.writable => {
                self.read_streams_remove(name);
                Err(self.missing(name))
            }
            Err(e) => Err(e),
        }
    }

    fn read_streams_remove(&self, name: &str) {
        self.streams
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
    }

    /// The error for a stream not open: damaged or missing.
    fn missing(&self, name: &str) -> VideoError {
        match self.read_damaged().get(name) {
            Some(why) => VideoError::Damaged {
                stream: name.to_owned(),
                detail: why.clone(),
            },
            None => VideoError::NotFound(name.to_owned()),
        }
    }

    fn check_writable(&self) -> Result<(), VideoError> {
        if self.writable {
            Ok(())
        } else {
            Err(VideoError::Invalid(format!(
                "the video store in {:?} is open read-only",
                self.dir.display().to_string()
            )))
        }
    }

    /// Creates a video stream.
    ///
    /// # Errors
    /// [`VideoError::Invalid`] (the name, a read-only store),
    /// [`VideoError::Exists`], [`VideoError::Io`].
    pub fn create(
        &self,
        name: &str,
        config: VideoStreamConfig,
    ) -> Result<VideoStreamInfo, VideoError> {
        check_name(name)?;
        self.check_writable()?;
        let mut streams = self.streams.write().unwrap_or_else(PoisonError::into_inner);
        let path = self.streams_dir().join(name);
        if streams.contains_key(name) || self.read_damaged().contains_key(name) || path.exists() {
            return Err(VideoError::Exists(name.to_owned()));
        }
        let settings = Settings {
            created_ms: now_ns() / 1_000_000,
            version: new_version(None),
            retention: config.retention,
            media_type: config.media_type,
            tags: config.tags,
            next_number: 1,
        };
        // Made aside, then renamed into place: a crash leaves a whole stream
        // or a `.NAME.creating` folder the next writer removes.
        let tmp = self.streams_dir().join(format!(".{name}.creating"));
        let _ = fs::remove_dir_all(&tmp);
        VStream::create_files(&tmp, &settings)?;
        fs::rename(&tmp, &path).map_err(io_err("cannot rename", &tmp))?;
        crate::store::fsutil::sync_dir(&self.streams_dir()).map_err(from_ingest)?;
        let s = VStream::open(name, &path, true).map_err(|detail| VideoError::Damaged {
            stream: name.to_owned(),
            detail,
        })?;
        let info = s.info();
        streams.insert(name.to_owned(), Arc::new(s));
        Ok(info)
    }

    /// Every video stream that can be read, by name (see
    /// [`VideoStore::damaged_streams`] for the others).
    ///
    /// # Errors
    /// [`VideoError::Io`].
    pub fn list(&self) -> Result<Vec<VideoStreamInfo>, VideoError> {
        if !self.writable {
            self.load_all()?;
        }
        let streams: Vec<Arc<VStream>> = self.read_streams().values().cloned().collect();
        let mut out = Vec::with_capacity(streams.len());
        for s in streams {
            match s.refresh() {
                Ok(()) => out.push(s.info()),
                Err(VideoError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The video streams whose settings cannot be read, with the reason,
    /// by name. They can be deleted; every other stream works.
    #[must_use]
    pub fn damaged_streams(&self) -> Vec<(String, String)> {
        self.read_damaged()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// One video stream.
    ///
    /// # Errors
    /// [`VideoError::NotFound`], [`VideoError::Damaged`], [`VideoError::Io`].
    pub fn describe(&self, name: &str) -> Result<VideoStreamInfo, VideoError> {
        Ok(self.stream(name)?.info())
    }

    /// Deletes a video stream (also a damaged one) and every fragment it
    /// holds; appends in flight finish first, later ones fail.
    ///
    /// # Errors
    /// [`VideoError::NotFound`], [`VideoError::Invalid`], [`VideoError::Io`].
    pub fn delete(&self, name: &str) -> Result<(), VideoError> {
        check_name(name)?;
        self.check_writable()?;
        let mut streams = self.streams.write().unwrap_or_else(PoisonError::into_inner);
        let removed = streams.remove(name);
        let was_damaged = self
            .damaged
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name)
            .is_some();
        if removed.is_none() && !was_damaged {
            return Err(VideoError::NotFound(name.to_owned()));
        }
        if let Some(s) = &removed {
            s.close_for_delete();
        }
        let path = self.streams_dir().join(name);
        let gone = self.streams_dir().join(format!(".{name}.deleting"));
        let _ = fs::remove_dir_all(&gone);
        fs::rename(&path, &gone).map_err(io_err("cannot rename", &path))?;
        crate::store::fsutil::sync_dir(&self.streams_dir()).map_err(from_ingest)?;
        drop(streams);
        fs::remove_dir_all(&gone).map_err(io_err("cannot remove", &gone))
    }

    /// Changes retention (and applies it at once).
    ///
    /// # Errors
    /// As [`VideoStore::describe`], and [`VideoError::Invalid`] in a
    /// read-only store.
    pub fn set_retention(&self, name: &str, retention: Retention) -> Result<(), VideoError> {
        self.check_writable()?;
        self.stream(name)?
            .update_settings(|s| s.retention = retention)
    }

    /// Adds and replaces tags (`remove` names the keys to drop).
    ///
    /// # Errors
    /// As [`VideoStore::set_retention`].
    pub fn set_tags(
        &self,
        name: &str,
        add: &BTreeMap<String, String>,
        remove: &[String],
    ) -> Result<(), VideoError> {
        self.check_writable()?;
        self.stream(name)?.update_settings(|s| {
            for k in remove {
                s.tags.remove(k);
            }
            s.tags
                .extend(add.iter().map(|(k, v)| (k.clone(), v.clone())));
        })
    }

    /// Appends a fragment; returns once it is durable (its file synced,
    /// renamed into place and its folder synced), with its metadata.
    /// Retention is applied after it. Appends to different streams run in
    /// parallel; appends to one stream are ordered.
    ///
    /// # Errors
    /// [`VideoError::Invalid`] for a fragment the store refuses (no frames,
    /// no key frame first, an empty frame, past [`MAX_FRAME_BYTES`],
    /// [`MAX_FRAGMENT_BYTES`], [`MAX_FRAMES`] or [`MAX_CODEC_DATA`]), or a
    /// read-only store; [`VideoError::NotFound`], [`VideoError::Io`].
    pub fn append(&self, name: &str, fragment: FragmentIn) -> Result<FragmentMeta, VideoError> {
        self.check_writable()?;
        check_fragment(&fragment)?;
        self.stream(name)?.append(&fragment)
    }

    /// The fragments kept that fall in `range` (all when `None`), oldest
    /// first (by number).
    ///
    /// # Errors
    /// As [`VideoStore::describe`].
    pub fn fragments(
        &self,
        name: &str,
        range: Option<TimeRange>,
    ) -> Result<Vec<FragmentMeta>, VideoError> {
        Ok(self.stream(name)?.fragments(range))
    }

    /// Reads one fragment whole, checking every byte.
    ///
    /// # Errors
    /// [`VideoError::NoFragment`] when it is not kept (or retention
    /// removed it meanwhile), [`VideoError::Damaged`] when its file is
    /// damaged, and as [`VideoStore::describe`].
    pub fn read(&self, name: &str, number: u64) -> Result<Fragment, VideoError> {
        let s = self.stream(name)?;
        let no_fragment = || VideoError::NoFragment {
            stream: name.to_owned(),
            number,
        };
        let path = s.kept_path(number).ok_or_else(no_fragment)?;
        format::read(&path).map_err(|detail| {
            if path.exists() {
                VideoError::Damaged {
                    stream: name.to_owned(),
                    detail: format!("fragment {number} ({}): {detail}", path.display()),
                }
            } else {
                no_fragment()
            }
        })
    }

    /// The newest fragment number, watched: changes each time a fragment
    /// is appended (for the async live readers of the KVS API and HLS). In
    /// a read-only store it changes when a call on that stream looks at
    /// the files again (as [`VideoStore::wait_newer`] does).
    ///
    /// # Errors
    /// As [`VideoStore::describe`].
    pub fn subscribe(
        &self,
        name: &str,
    ) -> Result<tokio::sync::watch::Receiver<Option<u64>>, VideoError> {
        Ok(self.stream(name)?.subscribe())
    }

    /// Reads every fragment file and reports each damaged one (what
    /// `osprey video verify` prints); damage costs only the fragments it
    /// touches.
    ///
    /// # Errors
    /// As [`VideoStore::describe`].
    pub fn verify(&self, name: &str) -> Result<Vec<VideoDamage>, VideoError> {
        self.stream(name)?.verify()
    }

    /// Waits until the stream holds a fragment numbered above `after` (any
    /// fragment when `None`) or `timeout` passes; returns the newest number
    /// then, if any. For live readers (GetMedia from NOW, HLS LIVE). Blocks
    /// the thread: call it from `spawn_blocking` in async code.
    ///
    /// # Errors
    /// As [`VideoStore::describe`]; [`VideoError::NotFound`] also when the
    /// stream is deleted while waiting.
    pub fn wait_newer(
        &self,
        name: &str,
        after: Option<u64>,
        timeout: Duration,
    ) -> Result<Option<u64>, VideoError> {
        self.stream(name)?.wait_newer(after, timeout)
    }

    /// Applies every stream's retention now (appends apply it too; the
    /// server calls this now and then so that age retention also runs
    /// while nothing is appended). Returns how many fragments went.
    ///
    /// # Errors
    /// [`VideoError::Invalid`] in a read-only store, [`VideoError::Io`].
    pub fn enforce_retention(&self) -> Result<usize, VideoError> {
        self.check_writable()?;
        let streams: Vec<Arc<VStream>> = self.read_streams().values().cloned().collect();
        let now = now_ns();
        let mut removed = 0;
        for s in streams {
            removed += s.enforce_retention(now)?;
        }
        Ok(removed)
    }
}

/// Checks a stream name as the record store does.
fn check_name(name: &str) -> Result<(), VideoError> {
    crate::store::names::check("video stream", name).map_err(|e| match e {
        crate::IngestError::InvalidArgument(m) => VideoError::Invalid(m),
        other => VideoError::Invalid(other.to_string()),
    })
}

/// Checks a fragment before anything is written.
fn check_fragment(f: &FragmentIn) -> Result<(), VideoError> {
    let invalid = |m: String| Err(VideoError::Invalid(m));
    let Some(first) = f.frames.first() else {
        return invalid("a fragment must hold at least one frame".into());
    };
    if !first.key {
        return invalid("a fragment must start with a key frame".into());
    }
    if f.frames.len() > MAX_FRAMES {
        return invalid(format!(
            "a fragment of {} frames: at most {MAX_FRAMES}",
            f.frames.len()
        ));
    }
    if f.track.codec_data.len() > MAX_CODEC_DATA {
        return invalid(format!(
            "codec data of {} bytes: at most {MAX_CODEC_DATA}",
            f.track.codec_data.len()
        ));
    }
    let mut total = 0u64;
    for (i, frame) in f.frames.iter().enumerate() {
        let len = frame.data.len() as u64;
        if len == 0 {
            return invalid(format!("frame {i} of the fragment is empty"));
        }
        if len > MAX_FRAME_BYTES {
            return invalid(format!(
                "frame {i} of the fragment is {len} bytes: at most {MAX_FRAME_BYTES}"
            ));
        }
        total += len;
    }
    if total > MAX_FRAGMENT_BYTES {
        return invalid(format!(
            "a fragment of {total} bytes of media: at most {MAX_FRAGMENT_BYTES}"
        ));
    }
    Ok(())
}
