//! `osprey analyze`: arguments in, sources analysed, NDJSON records out.
//!
//! [`AnalyzeConfig::from_args`] checks the arguments before any work: each
//! source (a SRC on the command line or a `[[sources]]` table of
//! [`sources_file`]) becomes a [`SourceConfig`], with the analysis options
//! checked by [`options`] and zone files by [`zones_file`]. [`run`] opens
//! the one device, analyses the sources, and writes every record through
//! the one [`Writer`], flushed as each chunk's records are ready, with a
//! [`progress`] bar for a single file on a terminal and a summary line per
//! source; [`signals`] turns SIGINT and SIGTERM into a clean stop.

pub mod clips;
pub mod options;
pub mod progress;
pub mod signals;
pub mod source_config;
pub mod sources_file;
pub mod writer;
pub mod zones_file;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{Context as _, Result};
use osprey_ingest::output_spec::OutputSpec;
use osprey_ingest::video::{VideoError as StoreError, VideoStore, VideoStreamConfig};
use osprey_kernels::{BackendChoice, Device};
use osprey_video::analysis::Thumbnails;
use osprey_video::live::{LiveSource, Runner, RunnerMessage};
use osprey_video::record::{DEFAULT_FRAGMENT, Recorder};
use tracing::info;

use crate::args::AnalyzeArgs;
use crate::error::UsageError;
use progress::{Progress, Summary};
pub use source_config::SourceConfig;
use writer::Writer;

/// The largest `--chunk-frames` accepted.
const MAX_CHUNK_FRAMES: usize = 256;

/// Where records go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Standard output.
    Stdout,
    /// A file, created or truncated (appended to with `--append`).
    File(PathBuf),
    /// A stream of the store in `data_dir`, which must exist.
    Stream {
        /// The store's data directory.
        data_dir: PathBuf,
        /// The stream's name.
        name: String,
    },
    /// An HTTP webhook: each chunk's records one POST of NDJSON, retried
    /// with backoff (the sink's defaults: 30 s a POST, 300 s of retries).
    Webhook(osprey_ingest::WebhookConfig),
    /// A message broker (`mqtt://`, `nats://`, `jetstream://`): each record
    /// published, under the topic layout of `osprey_ingest::broker::mqtt`
    /// for MQTT.
    Broker(osprey_ingest::broker::Broker),
}

/// Checked settings of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyzeConfig {
    /// The sources, command line first, then the sources file's; their
    /// names differ.
    pub sources: Vec<SourceConfig>,
    /// Which backend to open.
    pub backend: BackendChoice,
    /// Where records go.
    pub output: Output,
    /// Append to an output file instead of truncating it.
    pub append: bool,
    /// The store's data directory (recordings go to its video streams).
    pub data_dir: PathBuf,
    /// The clip each event names, with --record.
    pub clips: Option<clips::ClipWindow>,
}

impl AnalyzeConfig {
    /// Checks `args`: the sources (and the sources file), the kernel list,
    /// the ranges, and that local inputs exist and are files.
    ///
    /// # Errors
    /// [`UsageError`] or [`osprey_kernels::KernelError::UnknownKernel`] for
    /// invalid arguments, [`crate::error::InputError`] for an input that
    /// cannot be opened.
    pub fn from_args(args: &AnalyzeArgs) -> Result<Self> {
        source_config::check_scene_threshold(args.scene_threshold)?;
        if !(1..=MAX_CHUNK_FRAMES).contains(&args.chunk_frames) {
            return Err(UsageError(format!(
                "--chunk-frames must be between 1 and {MAX_CHUNK_FRAMES}, not {}",
                args.chunk_frames
            ))
            .into());
        }
        let output = match OutputSpec::parse(&args.output, "--output")? {
            OutputSpec::Stdout => Output::Stdout,
            OutputSpec::Webhook(url) => {
                let config = osprey_ingest::WebhookConfig::new(url);
                config.check().map_err(|e| UsageError(e.to_string()))?;
                Output::Webhook(config)
            }
            OutputSpec::Broker(broker) => {
                osprey_ingest::broker::check(&broker).map_err(|e| UsageError(e.to_string()))?;
                Output::Broker(broker)
            }
            OutputSpec::Stream(name) => Output::Stream {
                data_dir: args.data_dir.clone(),
                name,
            },
            OutputSpec::File(path) => Output::File(path),
        };
        if args.live.append && !matches!(output, Output::File(_)) {
            return Err(UsageError("--append needs --output FILE".into()).into());
        }
        if args.source.is_some() && (args.inputs.len() != 1 || args.live.sources.is_some()) {
            return Err(
                UsageError("--source names a single SRC: name several as NAME=URI".into()).into(),
            );
        }
        let mut sources = Vec::new();
        // Whether each source's recording stream was named for it alone.
        let mut own_record = Vec::new();
        for src in &args.inputs {
            let (name, input) = source_config::split_name(src);
            let name = args.source.as_deref().or(name);
            sources.push(SourceConfig::build(args, input, name, None)?);
            own_record.push(false);
        }
        if let Some(path) = &args.live.sources {
            for entry in sources_file::read(path)? {
                let what = entry
                    .name
                    .clone()
                    .unwrap_or_else(|| osprey_video::source::redact(&entry.uri));
                let source =
                    SourceConfig::build(args, &entry.uri, entry.name.as_deref(), Some(&entry))
                        .with_context(|| format!("--sources {path:?}: source {what:?}"))?;
                sources.push(source);
                own_record.push(entry.record.is_some());
            }
        }
        if sources.len() > 1
            && let Some(record) = &args.recording.record
        {
            for (source, own) in sources.iter_mut().zip(own_record) {
                if !own {
                    source.record = Some(format!("{record}-{}", source.name));
                }
            }
        }
        for (i, s) in sources.iter().enumerate() {
            if sources[..i].iter().any(|o| o.name == s.name) {
                return Err(UsageError(format!(
                    "two sources are named {:?}: name them apart as NAME=URI",
                    s.name
                ))
                .into());
            }
            if let Some(record) = &s.record
                && sources[..i]
                    .iter()
                    .any(|o| o.record.as_ref() == Some(record))
            {
                return Err(UsageError(format!(
                    "two sources record into video stream {record:?}: give each its own"
                ))
                .into());
            }
            if let Output::File(path) = &output
                && !is_uri(&s.spec.uri)
                && same_file(Path::new(&s.spec.uri), path)
            {
                return Err(UsageError(format!(
                    "--output {path:?} is the input: writing would destroy it"
                ))
                .into());
            }
        }
        Ok(AnalyzeConfig {
            sources,
            backend: args.backend.into(),
            output,
            append: args.live.append,
            data_dir: args.data_dir.clone(),
            clips: clips::ClipWindow::from_args(&args.recording)?,
        })
    }
}

/// True for `scheme://...` inputs and `test:` patterns, which only the
/// decoder can check.
pub fn is_uri(input: &str) -> bool {
    input.starts_with("test:")
        || input.split_once("://").is_some_and(|(scheme, _)| {
            scheme.len() > 1
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        })
}

/// True when both paths name one existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

pub use osprey_ingest::error::io_reason;

/// What a run did: a summary of each source that ended well, and the
/// errors of those that did not, in the order they ended.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Summaries, one a source that ended well.
    pub summaries: Vec<Summary>,
    /// Errors, each with its source's name.
    pub failures: Vec<(String, anyhow::Error)>,
}

/// Runs every source through one [`Runner`] on one device, writing each
/// batch of records as it comes.
///
/// # Errors
/// The device's, the runner's (a thumbnail folder that cannot be written)
/// and the output's errors, with context; a closed stdout surfaces as a
/// broken pipe (a success for the exit code). A source's own failure is in
/// the [`Outcome`]: the others run on.
pub fn run(cfg: &AnalyzeConfig, stop: Arc<AtomicBool>) -> Result<Outcome> {
    let started = Instant::now();
    // A folder that cannot take thumbnails fails before the device opens
    // (and says so at info) or anything is decoded.
    for t in cfg
        .sources
        .iter()
        .filter_map(|s| s.options.thumbnails.as_ref())
    {
        Thumbnails::new(t.dir.clone(), t.width).map_err(crate::error::from_video)?;
    }
    // One device a process: every source's backend is made from it.
    let device = Device::open(cfg.backend)?;
    let label = device
        .adapter()
        .map_or_else(|| "cpu".to_owned(), |a| format!("gpu: {}", a.name));
    if cfg.backend == BackendChoice::Auto && device.is_gpu() {
        info!(backend = %label, "Auto took a GPU adapter.");
    }
    let recorders = start_recorders(cfg)?;
    let sources: Vec<LiveSource> = cfg
        .sources
        .iter()
        .zip(&recorders)
        .map(|(s, recorder)| LiveSource {
            record: recorder.as_ref().map(Recorder::tap),
            ..s.live_source()
        })
        .collect();
    let mut runner = Runner::start(sources, &device, stop).map_err(crate::error::from_video)?;
    // A single file gets a progress bar (on a terminal); live sources and
    // several sources get status records instead.
    let single_file = matches!(cfg.sources.as_slice(), [one] if !one.live);
    let mut progress: Option<Progress> = None;
    // The output is made once there is something to write, so an input
    // that cannot be opened leaves no empty output behind.
    let mut writer: Option<Writer> = None;
    let mut outcome = Outcome::default();
    while let Some(message) = runner.next() {
        match message {
            RunnerMessage::Opened { stream, .. } => {
                if single_file {
                    progress = Some(Progress::new(stream.expected_frames(), &label));
                }
            }
            RunnerMessage::Records {
                source,
                lines,
                frames,
            } => {
                let out = match &mut writer {
                    Some(w) => w,
                    None => writer.insert(Writer::open(&cfg.output, cfg.append)?),
                };
                let config = &cfg.sources[source];
                match (&cfg.clips, &config.record) {
                    (Some(clips), Some(stream)) => {
                        let link = clips::ClipLink::Command(&cfg.data_dir);
                        let lines = clips.annotate(&lines, stream, link);
                        out.write(&config.name, &lines)?;
                    }
                    _ => out.write(&config.name, &lines)?,
                }
                if let Some(p) = &progress {
                    p.advance(frames as u64);
                }
            }
            RunnerMessage::Ended { source, result } => {
                let name = cfg.sources[source].name.clone();
                match result {
                    Ok(totals) => outcome.summaries.push(Summary {
                        source: name,
                        frames: totals.frames,
                        elapsed: started.elapsed(),
                        backend: totals.backend,
                        events: totals.events,
                        live: cfg.sources[source].live.then_some(progress::LiveCounts {
                            dropped_frames: totals.dropped_frames,
                            reconnects: totals.reconnects,
                        }),
                    }),
                    Err(e) => outcome.failures.push((name, crate::error::from_video(e))),
                }
            }
        }
    }
    if let Some(p) = &progress {
        p.finish();
    }
    for (config, recorder) in cfg.sources.iter().zip(recorders) {
        if let (Some(recorder), Some(stream)) = (recorder, &config.record) {
            let c = recorder.finish();
            let _ = writeln!(
                std::io::stderr(),
                "osprey: {}: recorded {} fragments, {} frames, {} bytes into video stream {stream:?} ({} access units dropped, {} fragments failed)",
                config.name,
                c.fragments,
                c.frames,
                c.bytes,
                c.dropped,
                c.failed
            );
        }
    }
    match writer {
        Some(w) => w.finish()?,
        // Nothing to write, but a source ran: the output exists, empty, as
        // an analysis that wrote no record leaves it.
        None if !outcome.summaries.is_empty() => {
            Writer::open(&cfg.output, cfg.append)?.finish()?;
        }
        None => {}
    }
    Ok(outcome)
}

/// A [`Recorder`] for each source that records (`None` for the others),
/// its video stream created when missing; the store is opened only when
/// one records.
///
/// # Errors
/// When the video store cannot be opened or a stream made.
fn start_recorders(cfg: &AnalyzeConfig) -> Result<Vec<Option<Recorder>>> {
    if cfg.sources.iter().all(|s| s.record.is_none()) {
        return Ok(cfg.sources.iter().map(|_| None).collect());
    }
    let store = Arc::new(
        VideoStore::open(&cfg.data_dir)
            .with_context(|| format!("cannot open the video store in {:?}", cfg.data_dir))?,
    );
    let mut recorders = Vec::new();
    for source in &cfg.sources {
        let Some(stream) = &source.record else {
            recorders.push(None);
            continue;
        };
        match store.create(stream, VideoStreamConfig::default()) {
            Ok(_) | Err(StoreError::Exists(_)) => {}
            Err(e) => {
                return Err(
                    anyhow::Error::new(e).context(format!("--record for source {:?}", source.name))
                );
            }
        }
        let recorder = Recorder::start(Arc::clone(&store), stream, DEFAULT_FRAGMENT)
            .map_err(crate::error::from_video)?;
        recorders.push(Some(recorder));
    }
    Ok(recorders)
}

/// The run's result from its sources' failures: `Ok` when none failed;
/// else every failure but the first on stderr, each naming its source, and
/// the first as the run's error (its exit code the run's). A run of one
/// source says its error as it is.
///
/// # Errors
/// The first failure.
pub fn first_failure(failures: Vec<(String, anyhow::Error)>, sources: usize) -> Result<()> {
    let mut failures = failures.into_iter();
    let Some((name, first)) = failures.next() else {
        return Ok(());
    };
    for (name, err) in failures {
        let _ = writeln!(std::io::stderr(), "osprey: source {name:?}: {err:#}");
    }
    if sources == 1 {
        Err(first)
    } else {
        Err(first.context(format!("source {name:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::BackendArg;

    fn args(input: &str) -> AnalyzeArgs {
        let mut a: AnalyzeArgs = crate::args::parse(["analyze", input]).unwrap();
        a.backend = BackendArg::Cpu;
        a.kernels = "stats,scene".into();
        a
    }

    /// The kind of error the binary maps to its exit codes.
    #[derive(Debug, PartialEq)]
    enum Exit {
        Input,
        Usage,
        Other,
    }

    fn exit_of(a: &AnalyzeArgs) -> Exit {
        let err = AnalyzeConfig::from_args(a).unwrap_err();
        let usage = |e: &(dyn std::error::Error + 'static)| {
            e.is::<UsageError>()
                || matches!(
                    e.downcast_ref(),
                    Some(osprey_kernels::KernelError::UnknownKernel(_))
                )
        };
        if err.chain().any(|e| e.is::<crate::error::InputError>()) {
            Exit::Input
        } else if err.chain().any(usage) {
            Exit::Usage
        } else {
            Exit::Other
        }
    }

    #[test]
    fn uris_are_told_from_paths() {
        assert!(is_uri("rtsp://cam/1"));
        assert!(is_uri("file:///tmp/a.mp4"));
        assert!(!is_uri("clip.mp4"));
        assert!(!is_uri("c://x"));
        assert!(!is_uri("dir with ://odd/name.mp4"));
    }

    #[test]
    fn source_defaults_to_stem_or_uri() {
        use source_config::default_name;
        assert_eq!(default_name("target/demo/demo.mp4"), "demo");
        assert_eq!(default_name("rtsp://cam/1"), "rtsp://cam/1");
        assert_eq!(default_name("noext"), "noext");
    }

    #[test]
    fn checks_before_work() {
        assert_eq!(exit_of(&args("/definitely/not/here.mp4")), Exit::Input);
        let dir = std::env::temp_dir();
        assert_eq!(exit_of(&args(&dir.to_string_lossy())), Exit::Input);
        let uri = "rtsp://cam/1";
        let mut a = args(uri);
        a.kernels = "stats,bogus".into();
        assert_eq!(exit_of(&a), Exit::Usage);
        let mut a = args(uri);
        a.scene_threshold = 101.0;
        assert_eq!(exit_of(&a), Exit::Usage);
        a.scene_threshold = f64::NAN;
        assert_eq!(exit_of(&a), Exit::Usage);
        let mut a = args(uri);
        a.chunk_frames = 0;
        assert_eq!(exit_of(&a), Exit::Usage);
        let mut a = args(uri);
        a.source = Some(String::new());
        assert_eq!(exit_of(&a), Exit::Usage);
    }

    #[test]
    fn good_args_become_a_config() {
        let mut a = args("rtsp://cam/1");
        a.kernels = "scene".into();
        a.output = "out.ndjson".into();
        a.source = Some("cam1".into());
        let cfg = AnalyzeConfig::from_args(&a).unwrap();
        assert_eq!(cfg.sources[0].name, "cam1");
        assert_eq!(cfg.output, Output::File("out.ndjson".into()));
        assert_eq!(cfg.backend, BackendChoice::Cpu);
        let kernels = cfg.sources[0].options.backend.kernels;
        assert!(kernels.scene && !kernels.stats);
    }

    #[test]
    fn output_must_not_be_the_input() {
        let dir = tempfile::tempdir().unwrap();
        let clip = dir.path().join("clip.mp4");
        std::fs::write(&clip, b"x").unwrap();
        let mut a = args(clip.to_str().unwrap());
        a.output = dir.path().join(".").join("clip.mp4");
        assert_eq!(exit_of(&a), Exit::Usage);
        a.output = dir.path().join("clip.ndjson");
        assert!(AnalyzeConfig::from_args(&a).is_ok());
    }
}
