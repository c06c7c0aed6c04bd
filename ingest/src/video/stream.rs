//! One video stream on disk: its settings (`stream.json`), the index of
//! its fragments rebuilt from their headers, appends, retention, and the
//! refresh a read-only store does to see another process's writes.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{
    FragmentIn, FragmentMeta, Retention, TimeBase, TimeRange, VideoDamage, VideoError,
    VideoStreamInfo, format,
};
use crate::metrics as metric_names;

/// The settings file of a stream.
pub(super) const SETTINGS: &str = "stream.json";
/// The folder of its fragment files.
const FRAGMENTS: &str = "fragments";
/// The file name ending of a fragment file.
const FRAG_EXT: &str = "frag";
/// The file name ending of a fragment being written.
const TMP_EXT: &str = "tmp";

/// `stream.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Settings {
    pub created_ms: u64,
    pub version: String,
    pub retention: Retention,
    pub media_type: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// No fragment numbered below this will ever be written again: saved
    /// before retention removes the newest fragment, so numbers are never
    /// reused (otherwise the fragment files' own numbers say it).
    pub next_number: u64,
}

/// What a stream knows in memory.
#[derive(Debug)]
struct State {
    settings: Settings,
    /// Kept fragments by number.
    index: BTreeMap<u64, FragmentMeta>,
    /// Fragment files that cannot be read, by number, with the reason.
    damaged: BTreeMap<u64, String>,
    /// Media bytes in `index`.
    bytes: u64,
    /// The number the next append gets.
    next: u64,
    /// The stream was deleted (or vanished, for a read-only store).
    deleted: bool,
}

/// One open video stream.
#[derive(Debug)]
pub(super) struct VStream {
    pub name: String,
    pub dir: PathBuf,
    writable: bool,
    /// Held by an append (and a settings change) from its number to its
    /// retention: appends to one stream are ordered.
    append: Mutex<()>,
    state: Mutex<State>,
    /// Signalled when a fragment is added or the stream goes.
    changed: Condvar,
    newest: tokio::sync::watch::Sender<Option<u64>>,
}

/// The current time, Unix ns.
pub(super) fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Wraps an I/O error with what was being done to which path.
pub(super) fn io_err(action: &str, path: &Path) -> impl FnOnce(std::io::Error) -> VideoError {
    let context = format!("{action} {:?}", path.display().to_string());
    move |source| VideoError::Io { context, source }
}

/// The store's file helpers answer with [`crate::IngestError`]: as a
/// video error.
pub(super) fn from_ingest(e: crate::IngestError) -> VideoError {
    match e {
        crate::IngestError::Storage {
            action,
            path,
            source,
        } => io_err(action, &path)(source),
        other => VideoError::Io {
            context: other.to_string(),
            source: std::io::Error::other("store"),
        },
    }
}

/// Reads a stream's settings file.
fn load_settings(dir: &Path) -> Result<Settings, String> {
    let path = dir.join(SETTINGS);
    let bytes = fs::read(&path).map_err(|e| format!("cannot read {SETTINGS}: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{SETTINGS} is damaged: {e}"))
}

/// Writes a stream's settings file, atomically and durably.
pub(super) fn save_settings(dir: &Path, settings: &Settings) -> Result<(), VideoError> {
    let bytes = serde_json::to_vec_pretty(settings).map_err(|e| VideoError::Io {
        context: format!("cannot encode {SETTINGS}"),
        source: std::io::Error::other(e),
    })?;
    crate::store::fsutil::write_atomic(&dir.join(SETTINGS), &bytes).map_err(from_ingest)
}

/// The fragment number a file name stands for, with whether it is a
/// temporary file.
fn parse_name(name: &str) -> Option<(u64, bool)> {
    let (stem, ext) = name.rsplit_once('.')?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = stem.parse().ok()?;
    match ext {
        FRAG_EXT => Some((n, false)),
        TMP_EXT => Some((n, true)),
        _ => None,
    }
}

/// A fragment's file name.
fn file_name(number: u64, ext: &str) -> String {
    format!("{number:020}.{ext}")
}

/// A new version string, different from `old`.
pub(super) fn new_version(old: Option<&str>) -> String {
    let mut v = now_ns();
    if old.and_then(|o| u64::from_str_radix(o, 16).ok()) == Some(v) {
        v += 1;
    }
    format!("{v:016x}")
}

impl VStream {
    /// Opens the stream in folder `dir`: its settings, and every fragment
    /// file's header (a writable store first removes the temporary files a
    /// crash left). `Err` is the reason it is damaged.
    pub(super) fn open(name: &str, dir: &Path, writable: bool) -> Result<VStream, String> {
        let settings = load_settings(dir)?;
        let next = settings.next_number;
        let s = VStream {
            name: name.to_owned(),
            dir: dir.to_path_buf(),
            writable,
            append: Mutex::new(()),
            state: Mutex::new(State {
                settings,
                index: BTreeMap::new(),
                damaged: BTreeMap::new(),
                bytes: 0,
                next,
                deleted: false,
            }),
            changed: Condvar::new(),
            newest: tokio::sync::watch::Sender::new(None),
        };
        s.scan().map_err(|e| e.to_string())?;
        Ok(s)
    }

    /// Creates the files of a new stream in `dir` (which must not exist).
    pub(super) fn create_files(dir: &Path, settings: &Settings) -> Result<(), VideoError> {
        let frags = dir.join(FRAGMENTS);
        fs::create_dir_all(&frags).map_err(io_err("cannot create", &frags))?;
        save_settings(dir, settings)?;
        crate::store::fsutil::sync_dir(dir).map_err(from_ingest)
    }

    fn frag_dir(&self) -> PathBuf {
        self.dir.join(FRAGMENTS)
    }

    fn frag_path(&self, number: u64) -> PathBuf {
        self.frag_dir().join(file_name(number, FRAG_EXT))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_append(&self) -> MutexGuard<'_, ()> {
        self.append.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads the fragments folder and brings the index in line with it:
    /// new files' headers read (damaged ones noted and warned about),
    /// vanished ones dropped; a writable store removes temporary files.
    fn scan(&self) -> Result<(), VideoError> {
        let dir = self.frag_dir();
        let entries = fs::read_dir(&dir).map_err(io_err("cannot read", &dir))?;
        let mut on_disk = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_err("cannot read", &dir))?;
            let name = entry.file_name();
            let Some((number, tmp)) = name.to_str().and_then(parse_name) else {
                continue;
            };
            if tmp {
                if self.writable {
                    // Never acknowledged: a crash tore it.
                    let path = entry.path();
                    tracing::info!(path = %path.display(), "Removing a fragment a crash left unfinished.");
                    fs::remove_file(&path).map_err(io_err("cannot remove", &path))?;
                }
                continue;
            }
            on_disk.push(number);
        }
        on_disk.sort_unstable();
        let known: Vec<u64> = {
            let st = self.lock();
            on_disk
                .iter()
                .copied()
                .filter(|n| !st.index.contains_key(n) && !st.damaged.contains_key(n))
                .collect()
        };
        let mut found = Vec::with_capacity(known.len());
        for number in known {
            let path = self.frag_path(number);
            let result = format::read_header(&path).and_then(|(_, h)| {
                if h.meta.number == number {
                    Ok(h.meta)
                } else {
                    Err(format!("holds fragment number {}", h.meta.number))
                }
            });
            if let Err(why) = &result {
                if path.exists() {
                    tracing::warn!(stream = %self.name, number, path = %path.display(), reason = %why, "Damaged video fragment skipped.");
                } else {
                    // Removed by the writer since the folder was read.
                    continue;
                }
            }
            found.push((number, result));
        }
        let mut st = self.lock();
        let disk: std::collections::BTreeSet<u64> = on_disk.iter().copied().collect();
        st.index.retain(|n, _| disk.contains(n));
        st.damaged.retain(|n, _| disk.contains(n));
        for (number, result) in found {
            match result {
                Ok(meta) => {
                    st.index.insert(number, meta);
                }
                Err(why) => {
                    st.damaged.insert(number, why);
                }
            }
        }
        st.bytes = st.index.values().map(|m| m.size).sum();
        if let Some(&max) = on_disk.last() {
            st.next = st.next.max(max + 1);
        }
        let newest = st.index.keys().next_back().copied();
        drop(st);
        self.publish(newest);
        Ok(())
    }

    /// Tells watchers and waiters the newest number.
    fn publish(&self, newest: Option<u64>) {
        self.newest.send_if_modified(|v| {
            let changed = *v != newest;
            *v = newest;
            changed
        });
        self.changed.notify_all();
    }

    /// In a read-only store, takes in what the writer changed since;
    /// [`VideoError::NotFound`] once the stream is gone.
    pub(super) fn refresh(&self) -> Result<(), VideoError> {
        if self.writable {
            return self.check_alive();
        }
        match load_settings(&self.dir) {
            Ok(settings) => {
                let mut st = self.lock();
                st.next = st.next.max(settings.next_number);
                st.settings = settings;
            }
            Err(_) if !self.dir.exists() => {
                self.mark_deleted();
                return Err(VideoError::NotFound(self.name.clone()));
            }
            // Mid-replace or damaged since: keep what was read before.
            Err(_) => {}
        }
        self.scan()
    }

    fn check_alive(&self) -> Result<(), VideoError> {
        if self.lock().deleted {
            return Err(VideoError::NotFound(self.name.clone()));
        }
        Ok(())
    }

    /// Marks the stream gone, waking its waiters.
    pub(super) fn mark_deleted(&self) {
        self.lock().deleted = true;
        self.changed.notify_all();
    }

    /// Waits for appends in flight, then marks the stream gone: the caller
    /// removes its folder.
    pub(super) fn close_for_delete(&self) {
        let _append = self.lock_append();
        self.mark_deleted();
    }

    /// What `describe` shows.
    pub(super) fn info(&self) -> VideoStreamInfo {
        let st = self.lock();
        VideoStreamInfo {
            name: self.name.clone(),
            created_ms: st.settings.created_ms,
            version: st.settings.version.clone(),
            retention: st.settings.retention,
            media_type: st.settings.media_type.clone(),
            tags: st.settings.tags.clone(),
            fragments: st.index.len() as u64,
            bytes: st.bytes,
            first: st.index.values().next().cloned(),
            last: st.index.values().next_back().cloned(),
        }
    }

    /// Changes the settings with `change` (a new version), saves them and
    /// applies retention.
    pub(super) fn update_settings(
        &self,
        change: impl FnOnce(&mut Settings),
    ) -> Result<(), VideoError> {
        let _append = self.lock_append();
        self.check_alive()?;
        let mut settings = self.lock().settings.clone();
        change(&mut settings);
        settings.version = new_version(Some(&settings.version));
        save_settings(&self.dir, &settings)?;
        self.lock().settings = settings;
        self.retain(now_ns())?;
        Ok(())
    }

    /// Appends a checked fragment durably; see [`super::VideoStore::append`].
    pub(super) fn append(&self, fragment: &FragmentIn) -> Result<FragmentMeta, VideoError> {
        let started = Instant::now();
        let _append = self.lock_append();
        let (number, server_ns) = {
            let mut st = self.lock();
            if st.deleted {
                return Err(VideoError::NotFound(self.name.clone()));
            }
            let number = st.next;
            // Numbers are taken before the file exists, so a failed write
            // never leaves a number to be used twice.
            st.next += 1;
            let last = st.index.values().next_back().map_or(0, |m| m.server_ns);
            (number, now_ns().max(last))
        };
        let meta = meta_of(fragment, number, server_ns);
        self.write_file(&meta, fragment)?;
        {
            let mut st = self.lock();
            st.bytes += meta.size;
            st.index.insert(number, meta.clone());
        }
        self.publish(Some(number));
        let labels = [("stream", self.name.clone())];
        metrics::counter!(metric_names::VIDEO_FRAGMENTS, &labels).increment(1);
        metrics::counter!(metric_names::VIDEO_BYTES, &labels).increment(meta.size);
        metrics::histogram!(metric_names::VIDEO_APPEND_SECONDS).record(started.elapsed());
        self.retain(now_ns())?;
        Ok(meta)
    }

    /// Writes a fragment's file under a temporary name, syncs it, renames
    /// it into place and syncs the folder.
    fn write_file(&self, meta: &FragmentMeta, fragment: &FragmentIn) -> Result<(), VideoError> {
        let dir = self.frag_dir();
        let tmp = dir.join(file_name(meta.number, TMP_EXT));
        let path = self.frag_path(meta.number);
        let written = fs::File::create(&tmp)
            .and_then(|mut f| {
                format::write(&mut f, meta, &fragment.track, &fragment.frames)?;
                f.sync_data()
            })
            .map_err(io_err("cannot write", &tmp))
            .and_then(|()| fs::rename(&tmp, &path).map_err(io_err("cannot rename", &tmp)));
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        crate::store::fsutil::sync_dir(&dir).map_err(from_ingest)
    }

    /// Applies retention at `now_ns`; returns how many fragments went.
    pub(super) fn retain(&self, now_ns: u64) -> Result<usize, VideoError> {
        let victims = {
            let st = self.lock();
            victims(&st, now_ns)
        };
        if victims.is_empty() {
            return Ok(0);
        }
        let last_victim = victims[victims.len() - 1];
        let mut st = self.lock();
        if st.index.keys().next_back() == Some(&last_victim) {
            // The newest goes: save the next number first, so it is never
            // used again even though no file says so any more.
            let mut settings = st.settings.clone();
            settings.next_number = st.next;
            drop(st);
            save_settings(&self.dir, &settings)?;
            st = self.lock();
            st.settings = settings;
        }
        for n in &victims {
            if let Some(m) = st.index.remove(n) {
                st.bytes -= m.size;
            }
        }
        // Damaged files older than what retention keeps go with it.
        let damaged: Vec<u64> = st.damaged.range(..last_victim).map(|(n, _)| *n).collect();
        for n in &damaged {
            st.damaged.remove(n);
        }
        let newest = st.index.keys().next_back().copied();
        drop(st);
        for n in victims.iter().chain(&damaged) {
            let path = self.frag_path(*n);
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("cannot remove", &path)(e)),
            }
        }
        self.publish(newest);
        metrics::counter!(
            metric_names::VIDEO_FRAGMENTS_EXPIRED,
            "stream" => self.name.clone()
        )
        .increment(victims.len() as u64);
        Ok(victims.len())
    }

    /// Retention applied by the server now and then.
    pub(super) fn enforce_retention(&self, now_ns: u64) -> Result<usize, VideoError> {
        let _append = self.lock_append();
        if self.lock().deleted {
            return Ok(0);
        }
        self.retain(now_ns)
    }

    /// The kept fragments in `range`, by number.
    pub(super) fn fragments(&self, range: Option<TimeRange>) -> Vec<FragmentMeta> {
        let st = self.lock();
        st.index
            .values()
            .filter(|m| range.is_none_or(|r| in_range(m, &r)))
            .cloned()
            .collect()
    }

    /// Whether fragment `number` is kept; its path.
    pub(super) fn kept_path(&self, number: u64) -> Option<PathBuf> {
        self.lock()
            .index
            .contains_key(&number)
            .then(|| self.frag_path(number))
    }

    /// Reads every fragment file, reporting the damaged ones.
    pub(super) fn verify(&self) -> Result<Vec<VideoDamage>, VideoError> {
        let dir = self.frag_dir();
        let mut numbers = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io_err("cannot read", &dir))? {
            let entry = entry.map_err(io_err("cannot read", &dir))?;
            if let Some((n, false)) = entry.file_name().to_str().and_then(parse_name) {
                numbers.push(n);
            }
        }
        numbers.sort_unstable();
        let mut out = Vec::new();
        for number in numbers {
            let path = self.frag_path(number);
            let problem = match format::read(&path) {
                Ok(f) if f.meta.number != number => {
                    Some(format!("holds fragment number {}", f.meta.number))
                }
                Ok(_) => None,
                // Removed by retention meanwhile.
                Err(_) if !path.exists() => None,
                Err(why) => Some(why),
            };
            if let Some(detail) = problem {
                out.push(VideoDamage {
                    number: Some(number),
                    path,
                    detail,
                });
            }
        }
        Ok(out)
    }

    /// A receiver of the newest number.
    pub(super) fn subscribe(&self) -> tokio::sync::watch::Receiver<Option<u64>> {
        self.newest.subscribe()
    }

    /// Waits (a writer's appends signal; a read-only store polls) until a
    /// fragment numbered above `after` is kept or `timeout` passes.
    pub(super) fn wait_newer(
        &self,
        after: Option<u64>,
        timeout: Duration,
    ) -> Result<Option<u64>, VideoError> {
        let deadline = Instant::now() + timeout;
        let newer = |st: &State| {
            let newest = st.index.keys().next_back().copied();
            (newest.is_some() && newest > after).then_some(newest)
        };
        loop {
            if !self.writable {
                self.refresh()?;
            }
            let mut st = self.lock();
            if st.deleted {
                return Err(VideoError::NotFound(self.name.clone()));
            }
            if let Some(n) = newer(&st) {
                return Ok(n);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(st.index.keys().next_back().copied());
            }
            if self.writable {
                st = self
                    .changed
                    .wait_timeout(st, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
                drop(st);
            } else {
                drop(st);
                std::thread::sleep(left.min(Duration::from_millis(50)));
            }
        }
    }
}

/// The fragments retention removes at `now_ns`, oldest first.
fn victims(st: &State, now_ns: u64) -> Vec<u64> {
    let Retention { max_age, max_bytes } = st.settings.retention;
    let mut out = std::collections::BTreeSet::new();
    if let (Some(age), Some(newest)) = (max_age, st.index.values().next_back()) {
        let reference = now_ns.max(end_of(newest));
        let cutoff = reference.saturating_sub(u64::try_from(age.as_nanos()).unwrap_or(u64::MAX));
        out.extend(
            st.index
                .values()
                .filter(|m| end_of(m) <= cutoff)
                .map(|m| m.number),
        );
    }
    if let Some(max) = max_bytes {
        let mut bytes = st.bytes - out.iter().map(|n| st.index[n].size).sum::<u64>();
        let left = st.index.len() - out.len();
        // Oldest first, but never the newest: a live reader always has it.
        let mut by_size = Vec::new();
        for m in st
            .index
            .values()
            .filter(|m| !out.contains(&m.number))
            .take(left.saturating_sub(1))
        {
            if bytes <= max {
                break;
            }
            bytes -= m.size;
            by_size.push(m.number);
        }
        out.extend(by_size);
    }
    out.into_iter().collect()
}

/// The end of a fragment on the producer clock.
fn end_of(m: &FragmentMeta) -> u64 {
    m.producer_ns.saturating_add(m.duration_ns)
}

/// Whether fragment `m` falls in `r`.
fn in_range(m: &FragmentMeta, r: &TimeRange) -> bool {
    match r.base {
        TimeBase::Producer => {
            m.producer_ns < r.end_ns && end_of(m).max(m.producer_ns + 1) > r.start_ns
        }
        TimeBase::Server => m.server_ns >= r.start_ns && m.server_ns < r.end_ns,
    }
}

/// The metadata of a checked fragment about to be numbered `number`.
fn meta_of(f: &FragmentIn, number: u64, server_ns: u64) -> FragmentMeta {
    let producer_ns = f.frames.iter().map(|x| x.pts_ns).min().unwrap_or(0);
    let end = f
        .frames
        .iter()
        .map(|x| x.pts_ns.saturating_add(x.duration_ns))
        .max()
        .unwrap_or(producer_ns);
    FragmentMeta {
        number,
        producer_ns,
        server_ns,
        duration_ns: end.saturating_sub(producer_ns),
        size: f.frames.iter().map(|x| x.data.len() as u64).sum(),
        frames: u32::try_from(f.frames.len()).unwrap_or(u32::MAX),
        codec: f.track.codec,
        width: f.track.width,
        height: f.track.height,
    }
}
