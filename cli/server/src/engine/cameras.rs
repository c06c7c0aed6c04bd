//! One camera of the server: its own [`Runner`] of one source (so it can be
//! added, changed or removed without touching the others) and a thread that
//! writes what it hands on.
//!
//! Frame and status records go to the camera's `frames_stream`, event
//! records to its `events_stream` and to its `outputs` (the analyze
//! [`Writer`]: webhooks, files, `stream:NAME`), each under the camera's
//! name as partition key, one put a chunk; and every event line goes to the
//! server's event broadcast (bounded: a slow subscriber lags, it never
//! holds the camera back). A put the store refuses as overloaded is
//! retried, which holds back this camera's analysis, whose source then
//! drops its oldest frames (counted) rather than queue them: memory stays
//! flat.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use anyhow::{Context as _, Result};
use osprey_ingest::log::Log;
use osprey_ingest::output_spec::OutputSpec;
use osprey_ingest::sink::StreamRecords;
use osprey_ingest::store::Store;
use osprey_ingest::video::{VideoError as StoreError, VideoStore, VideoStreamConfig};
use osprey_kernels::Device;
use osprey_video::live::{LiveSource, Runner, RunnerMessage, SourceStatus};
use osprey_video::record::{DEFAULT_FRAGMENT, Recorder};
use tokio::sync::broadcast;
use tracing::{error, info};

use crate::analyze::Output;
use crate::analyze::clips::{ClipLink, ClipWindow};
use crate::analyze::writer::Writer;
use crate::config::CameraConfig;

/// How event records begin (the record's first key is its kind).
const EVENT_PREFIX: &[u8] = b"{\"kind\":\"event\"";

/// A running camera.
pub struct Camera {
    /// Its settings, as configured (to tell a changed one on reload).
    pub config: CameraConfig,
    /// The kernels' backend label.
    pub backend: String,
    status: Arc<SourceStatus>,
    stop: Arc<AtomicBool>,
    frames: Arc<AtomicU64>,
    failure: Arc<Mutex<Option<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Camera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Camera")
            .field("name", &self.config.name)
            .finish_non_exhaustive()
    }
}

/// What every camera shares: the device its backend is made from, the
/// store its records go into, the event broadcast.
#[derive(Clone)]
pub struct Shared {
    /// The one device.
    pub device: Device,
    /// The one store.
    pub store: Arc<Store>,
    /// Every event line.
    pub events: broadcast::Sender<Arc<str>>,
    /// The video store of the data directory, opened when a camera first
    /// records (`record = "NAME"`).
    pub video: Arc<Mutex<Option<Arc<VideoStore>>>>,
    /// On a cluster worker, the cluster's log: a camera's `frames` and
    /// `events` records go there when the cluster holds the stream.
    pub cluster: Option<Arc<dyn Log>>,
}

impl Shared {
    /// The writer of a camera's own stream `name` (its frames or events):
    /// the cluster's log when the cluster holds it (a record put there is
    /// acknowledged by JetStream), else the store.
    ///
    /// # Errors
    /// A stream that does not exist, a cluster that cannot be reached.
    fn own_stream(&self, name: &str) -> Result<Writer> {
        if let Some(log) = &self.cluster
            && log.has_stream(name)?
        {
            let records = StreamRecords::on_log(Arc::clone(log), name)
                .with_context(|| format!("cannot write to cluster stream {name:?}"))?;
            return Ok(Writer::records(records));
        }
        let output = Output::Stream {
            data_dir: self.store.dir().to_owned(),
            name: name.to_owned(),
        };
        Writer::open_in(&output, false, Some(&self.store))
    }

    /// The video store, opened on first use.
    ///
    /// # Errors
    /// When it cannot be opened (another process writes it).
    pub fn video_store(&self) -> Result<Arc<VideoStore>> {
        let mut slot = self.video.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(video) = &*slot {
            return Ok(Arc::clone(video));
        }
        let dir = self.store.dir();
        let video = Arc::new(
            VideoStore::open(dir)
                .with_context(|| format!("cannot open the video store in {dir:?}"))?,
        );
        *slot = Some(Arc::clone(&video));
        Ok(video)
    }
}

/// Starts recording a camera into video stream `stream` (created when
/// missing).
fn start_recorder(shared: &Shared, camera: &str, stream: &str) -> Result<Recorder> {
    let video = shared.video_store()?;
    match video.create(stream, VideoStreamConfig::default()) {
        Ok(_) | Err(StoreError::Exists(_)) => {}
        Err(e) => return Err(e).with_context(|| format!("camera {camera:?}: record")),
    }
    Recorder::start(video, stream, DEFAULT_FRAGMENT)
        .map_err(crate::error::from_video)
        .with_context(|| format!("camera {camera:?}: record"))
}

impl Camera {
    /// Starts `config` (checked when it was read): its source on its own
    /// threads, and the thread writing its records.
    ///
    /// # Errors
    /// An output that cannot be opened,
    /// a stream that does not exist, a backend or thread that cannot start.
    pub fn start(config: CameraConfig, shared: &Shared) -> Result<Camera> {
        let recorder = match &config.checked.record {
            Some(stream) => Some(start_recorder(shared, &config.name, stream)?),
            None => None,
        };
        let source = LiveSource {
            record: recorder.as_ref().map(Recorder::tap),
            ..config.live_source()
        };
        let stream = |name: &str| Output::Stream {
            data_dir: shared.store.dir().to_owned(),
            name: name.to_owned(),
        };
        let store = Some(&shared.store);
        let frames_out = shared.own_stream(&config.frames_stream)?;
        let events_out = shared.own_stream(&config.events_stream)?;
        let mut outputs = Vec::with_capacity(config.outputs.len());
        for spec in &config.outputs {
            let output = match OutputSpec::parse(std::path::Path::new(spec), "outputs")? {
                OutputSpec::Stdout => Output::Stdout,
                OutputSpec::File(path) => Output::File(path),
                OutputSpec::Stream(name) => stream(&name),
                OutputSpec::Broker(broker) => Output::Broker(broker),
                OutputSpec::Webhook(url) => {
                    let webhook = osprey_ingest::WebhookConfig::new(url);
                    webhook.check()?;
                    Output::Webhook(webhook)
                }
            };
            // Files are appended to: a restarted camera keeps what it wrote.
            outputs.push(Writer::open_in(&output, true, store).with_context(|| {
                let spec = osprey_ingest::broker::redact_url(spec);
                format!("camera {:?}: output {spec:?}", config.name)
            })?);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let runner = Runner::start(vec![source], &shared.device, Arc::clone(&stop))
            .map_err(crate::error::from_video)
            .with_context(|| format!("camera {:?}", config.name))?;
        let status = runner.statuses().first().cloned().unwrap_or_default();
        let backend = shared
            .device
            .adapter()
            .map_or_else(|| "cpu".to_owned(), |a| format!("gpu: {}", a.name));
        let frames = Arc::new(AtomicU64::new(0));
        let failure = Arc::new(Mutex::new(None));
        let clips = config
            .clips
            .zip(config.checked.record.clone())
            .filter(|_| recorder.is_some());
        let writing = Writing {
            name: config.name.clone(),
            clips,
            recorder,
            frames_out,
            events_out,
            outputs,
            events: shared.events.clone(),
            frames: Arc::clone(&frames),
            stop: Arc::clone(&stop),
            failure: Arc::clone(&failure),
        };
        let thread = std::thread::Builder::new()
            .name(format!("osprey-cam-{}", config.name))
            .spawn(move || writing.run(runner))
            .context("cannot start a camera thread")?;
        info!(camera = %config.name, "Camera started.");
        Ok(Camera {
            config,
            backend,
            status,
            stop,
            frames,
            failure,
            thread: Some(thread),
        })
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Its live state.
    pub fn status(&self) -> &Arc<SourceStatus> {
        &self.status
    }

    /// Frames whose records were written.
    pub fn frames_written(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }

    /// Why it ended, if it did (gave up, or its output failed).
    pub fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// True while its threads run.
    pub fn running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Asks it to stop: its source closes its open events (`eos`) and ends
    /// within about a second; its last records are then written.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Waits for it to have stopped (call [`Camera::stop`] first).
    pub fn join(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The camera's writing thread: its outputs and counters.
struct Writing {
    name: String,
    /// The event clips' margins and the video stream they come from.
    clips: Option<(ClipWindow, String)>,
    /// Records the camera's video, when it has `record`.
    recorder: Option<Recorder>,
    frames_out: Writer,
    events_out: Writer,
    outputs: Vec<Writer>,
    events: broadcast::Sender<Arc<str>>,
    frames: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    failure: Arc<Mutex<Option<String>>>,
}

impl Writing {
    /// Writes every message of `runner` until its source ends.
    fn run(mut self, mut runner: Runner) {
        let mut failed = false;
        while let Some(message) = runner.next() {
            match message {
                RunnerMessage::Records { lines, frames, .. } if !failed => {
                    if let Err(e) = self.write(&lines) {
                        // Nothing more can leave: stop the source, say why.
                        error!(camera = %self.name, error = %format!("{e:#}"), "Camera output failed; stopping it.");
                        self.fail(format!("{e:#}"));
                        self.stop.store(true, Ordering::Relaxed);
                        failed = true;
                    } else {
                        self.frames.fetch_add(frames as u64, Ordering::Relaxed);
                    }
                }
                RunnerMessage::Ended { result: Err(e), .. } => {
                    let e = crate::error::from_video(e);
                    error!(camera = %self.name, error = %format!("{e:#}"), "Camera ended.");
                    self.fail(format!("{e:#}"));
                }
                _ => {}
            }
        }
        let name = self.name.clone();
        if let Some(recorder) = self.recorder.take() {
            let c = recorder.finish();
            info!(camera = %name, fragments = c.fragments, frames = c.frames, dropped = c.dropped, failed = c.failed, "Recording stopped.");
        }
        let outs = [self.frames_out, self.events_out];
        for out in outs.into_iter().chain(self.outputs) {
            if let Err(e) = out.finish() {
                error!(camera = %name, error = %format!("{e:#}"), "Camera output failed at close.");
            }
        }
        info!(camera = %name, "Camera stopped.");
    }

    fn fail(&self, why: String) {
        *self.failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(why);
    }

    /// One chunk's records: events apart from frame and status records;
    /// events name their clip when the camera has `clip_pre`/`clip_post`.
    fn write(&mut self, lines: &[u8]) -> Result<()> {
        let annotated;
        let lines = match &self.clips {
            Some((window, stream)) => {
                annotated = window.annotate(lines, stream, ClipLink::Url);
                &annotated[..]
            }
            None => lines,
        };
        let mut others = Vec::with_capacity(lines.len());
        let mut events = Vec::new();
        for line in lines.split_inclusive(|&b| b == b'\n') {
            if line.starts_with(EVENT_PREFIX) {
                events.extend_from_slice(line);
            } else {
                others.extend_from_slice(line);
            }
        }
        self.frames_out.write(&self.name, &others)?;
        if events.is_empty() {
            return Ok(());
        }
        self.events_out.write(&self.name, &events)?;
        for out in &mut self.outputs {
            out.write(&self.name, &events)?;
        }
        for line in events.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            // No subscriber is no error; a slow one lags (bounded).
            let _ = self
                .events
                .send(Arc::from(String::from_utf8_lossy(line).as_ref()));
        }
        Ok(())
    }
}
