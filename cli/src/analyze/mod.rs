//! `osprey analyze`: decode a video, run the kernels, write NDJSON records.
//!
//! [`AnalyzeConfig::from_args`] checks the arguments before any work; [`run`]
//! then decodes on its own thread ([`decode`]) while this thread runs the
//! backend on each chunk, finishes the integers into the figures and events
//! of the suite ([`events`]), and writes [`record`]s through an
//! [`NdjsonSink`], flushed once a chunk so a reader sees results as they come.
//! The suite's options are checked by [`options`].

pub mod decode;
pub mod detector_records;
pub mod events;
pub mod options;
pub mod progress;
pub mod record;
pub mod thumbnail;
pub mod zones_file;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, Result, anyhow};
use osprey_ingest::NdjsonSink;
use osprey_kernels::metrics::period::Mark;
use osprey_kernels::{BackendChoice, FrameRaw, KernelSet};
use osprey_video::DecodeOptions;
use tracing::{debug, info};

use crate::args::AnalyzeArgs;
use crate::exit::{InputError, UsageError};
use decode::DecodeThread;
use events::{Event, Figures, Finisher};
use options::SuiteOptions;
use progress::{EventCounts, Progress, Summary};
use record::{
    BlackRecord, BlurRecord, EventRecord, FrameRecord, FreezeRecord, MotionRecord, Record,
    SceneRecord, StatsRecord,
};

/// Chunks decoded ahead of the kernels: enough to hide decode jitter, few
/// enough to bound memory. Each chunk holds its frames' decoder buffers, so
/// about `(READ_AHEAD_CHUNKS + 2) * chunk_frames` buffers are out at once.
const READ_AHEAD_CHUNKS: usize = 2;

/// The largest `--chunk-frames` accepted.
const MAX_CHUNK_FRAMES: usize = 256;

/// Where records go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Standard output.
    Stdout,
    /// A file, created or truncated.
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
}

/// Checked settings of one analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyzeConfig {
    /// The file path or URI as the user gave it.
    pub input: String,
    /// The name written as each record's `source`.
    pub source: String,
    /// Which backend to open.
    pub backend: BackendChoice,
    /// Which kernels to run.
    pub kernels: KernelSet,
    /// Where records go.
    pub output: Output,
    /// scdet's threshold, 0 to 100.
    pub scene_threshold: f64,
    /// Frames a chunk.
    pub chunk_frames: usize,
    /// The suite's detectors, zones, events and thumbnails.
    pub suite: SuiteOptions,
}

impl AnalyzeConfig {
    /// Checks `args`: the kernel list, the ranges, and that a local input
    /// exists and is a file.
    ///
    /// # Errors
    /// [`UsageError`] or [`osprey_kernels::KernelError::UnknownKernel`] for
    /// invalid arguments, [`InputError`] for an input that cannot be opened.
    pub fn from_args(args: &AnalyzeArgs) -> Result<Self> {
        if args.input.trim().is_empty() {
            return Err(UsageError("the input is empty: give a file path or URI".into()).into());
        }
        let kernels = KernelSet::parse(&args.kernels)?;
        let t = args.scene_threshold;
        if !(0.0..=100.0).contains(&t) {
            return Err(UsageError(format!(
                "--scene-threshold must be between 0 and 100, not {t}"
            ))
            .into());
        }
        if !(1..=MAX_CHUNK_FRAMES).contains(&args.chunk_frames) {
            return Err(UsageError(format!(
                "--chunk-frames must be between 1 and {MAX_CHUNK_FRAMES}, not {}",
                args.chunk_frames
            ))
            .into());
        }
        let stream = args
            .output
            .to_str()
            .and_then(|o| o.strip_prefix(STREAM_OUTPUT));
        let webhook = args
            .output
            .to_str()
            .filter(|o| osprey_ingest::sink::webhook::is_webhook_url(o));
        let output = if args.output.as_os_str() == "-" {
            Output::Stdout
        } else if let Some(url) = webhook {
            let config = osprey_ingest::WebhookConfig::new(url);
            config.check().map_err(|e| UsageError(e.to_string()))?;
            Output::Webhook(config)
        } else if let Some(name) = stream {
            if name.is_empty() {
                return Err(UsageError(format!(
                    "--output {STREAM_OUTPUT} needs a stream name ({STREAM_OUTPUT}NAME)"
                ))
                .into());
            }
            Output::Stream {
                data_dir: args.data_dir.clone(),
                name: name.to_owned(),
            }
        } else if args.output.as_os_str().is_empty() {
            return Err(
                UsageError("--output is empty: give a path, or - for stdout".into()).into(),
            );
        } else {
            Output::File(args.output.clone())
        };
        if !is_uri(&args.input) {
            check_local_input(&args.input)?;
            if let Output::File(path) = &output
                && same_file(Path::new(&args.input), path)
            {
                return Err(UsageError(format!(
                    "--output {path:?} is the input: writing would destroy it"
                ))
                .into());
            }
        }
        let source = match &args.source {
            Some(name) if name.is_empty() => {
                return Err(UsageError("--source is empty".into()).into());
            }
            Some(name) => name.clone(),
            None => default_source(&args.input),
        };
        let suite = SuiteOptions::from_args(args, kernels)?;
        Ok(AnalyzeConfig {
            input: args.input.clone(),
            source,
            backend: args.backend.into(),
            kernels,
            output,
            scene_threshold: t,
            chunk_frames: args.chunk_frames,
            suite,
        })
    }
}

/// True for `scheme://...` inputs, which only the decoder can check.
fn is_uri(input: &str) -> bool {
    input.split_once("://").is_some_and(|(scheme, _)| {
        scheme.len() > 1
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    })
}

/// Checks that a local input exists and is not a folder, so a typo fails in
/// a clear line before any work starts.
fn check_local_input(input: &str) -> Result<(), InputError> {
    let fail = |reason: String| InputError {
        input: input.to_owned(),
        reason,
    };
    match std::fs::metadata(input) {
        Ok(meta) if meta.is_dir() => Err(fail("it is a folder, not a video file".into())),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(fail("no such file".into())),
        Err(e) => Err(fail(io_reason(&e))),
    }
}

/// True when both paths name one existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The source name when `--source` is not given: a file's stem, or a URI as given.
fn default_source(input: &str) -> String {
    if is_uri(input) {
        return input.to_owned();
    }
    Path::new(input)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| input.to_owned())
}

/// An I/O error as a lowercase reason, without Rust's "(os error N)".
fn io_reason(err: &std::io::Error) -> String {
    let text = err.to_string();
    let text = match text.find(" (os error") {
        Some(at) => &text[..at],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The `--output` prefix that names a stream.
const STREAM_OUTPUT: &str = "stream:";

/// Opens the output, with a clear message when its folder is missing;
/// records to a stream are put under the partition key `source`.
fn open_output(output: &Output, source: &str) -> Result<Box<dyn Write>> {
    match output {
        Output::Stdout => Ok(Box::new(std::io::stdout().lock())),
        Output::Stream { data_dir, name } => {
            let store = crate::stream::open_store(data_dir, Default::default())?;
            let lines = osprey_ingest::StreamLines::new(store, name, source).with_context(|| {
                format!("cannot write to stream {name:?} (create it with `osprey stream create {name}`)")
            })?;
            Ok(Box::new(lines))
        }
        Output::Webhook(config) => {
            let webhook = osprey_ingest::Webhook::new(config.clone())?;
            Ok(Box::new(osprey_ingest::WebhookLines::new(webhook)))
        }
        Output::File(path) => match File::create(path) {
            Ok(f) => Ok(Box::new(f)),
            Err(e) => {
                let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
                let reason = match parent {
                    Some(p) if e.kind() == std::io::ErrorKind::NotFound && !p.exists() => {
                        format!("its folder {p:?} does not exist")
                    }
                    _ => io_reason(&e),
                };
                Err(anyhow!("cannot create output {path:?}: {reason}"))
            }
        },
    }
}

/// Runs one analysis and returns what it did.
///
/// # Errors
/// The decoder's, backend's and sink's errors, with context; a closed stdout
/// surfaces as [`osprey_ingest::IngestError::BrokenPipe`].
pub fn run(cfg: &AnalyzeConfig) -> Result<Summary> {
    let started = Instant::now();
    // A folder that cannot take thumbnails fails before any decoding.
    let mut thumbnails = match &cfg.suite.thumbnails {
        Some(t) => Some(thumbnail::Thumbnails::new(t.dir.clone(), t.width)?),
        None => None,
    };
    let options = DecodeOptions {
        chunk_frames: cfg.chunk_frames,
    };
    let mut decode = DecodeThread::spawn(&cfg.input, options, READ_AHEAD_CHUNKS)?;
    let info = decode.info();
    debug!(input = %cfg.input, frame_rate = ?info.frame_rate, duration = ?info.duration, "Input open.");
    // The decoder has the first frame: zones outside it are refused before
    // any output is made.
    if let Some((width, height)) = info.size {
        options::check_zones_in_frame(&cfg.suite.motion.zones, width, height)?;
    }

    // The decoder fills its read-ahead while the backend starts.
    let mut backend = osprey_kernels::open(cfg.backend, cfg.suite.analysis.clone())?;
    let label = backend.label();
    match (cfg.backend, backend.is_gpu()) {
        (BackendChoice::Auto, true) => info!(backend = %label, "Auto took a GPU adapter."),
        // osprey_kernels::open has said why at info already.
        _ => debug!(backend = %label, "Backend open."),
    }

    let mut sink = NdjsonSink::new(open_output(&cfg.output, &cfg.source)?);
    let progress = Progress::new(info.expected_frames(), &label);
    let mut finisher = Finisher::new(&cfg.suite, cfg.scene_threshold, info.frame_rate);
    let mut raws: Vec<FrameRaw> = Vec::with_capacity(cfg.chunk_frames);
    let mut frames = 0u64;
    let mut counts = EventCounts::default();

    while let Some(chunk) = decode.next_chunk()? {
        let views = chunk.views();
        let metas = chunk.metas();
        // Damage the decoder went past, named before the frames after it;
        // damage after the last frame (a file cut short), after the frames.
        let (before, after): (Vec<_>, Vec<_>) =
            chunk.issues().iter().partition(|i| i.frame.is_some());
        write_issues(&mut sink, &cfg.source, &before)?;
        backend
            .analyze(&views, &mut raws)
            .with_context(|| format!("the {label} backend failed"))?;
        if raws.len() != views.len() || metas.len() != views.len() {
            return Err(anyhow!(
                "internal error: a chunk of {} frames gave {} results and {} timestamps",
                views.len(),
                raws.len(),
                metas.len()
            ));
        }
        for (i, (meta, raw)) in metas.iter().zip(&raws).enumerate() {
            let now = Mark {
                frame: meta.index,
                pts: meta.pts,
            };
            let figures = finisher.push(raw, now)?;
            sink.write(&Record::Frame(frame_record(
                &cfg.source,
                now,
                raw,
                &figures,
            )))?;
            let shot = thumbnails.as_mut().map(|t| Shot {
                thumbnails: t,
                backend: backend.as_mut(),
                frame: &views[i],
                index: meta.index,
            });
            write_events(
                &mut sink,
                &cfg.source,
                &finisher,
                finisher.events(),
                shot,
                &mut counts,
            )?;
        }
        write_issues(&mut sink, &cfg.source, &after)?;
        sink.flush()?;
        frames += views.len() as u64;
        progress.advance(views.len() as u64);
    }
    let closing = finisher.finish().to_vec();
    // The frames are gone by now: events closed at the end carry no thumbnail.
    write_events(
        &mut sink,
        &cfg.source,
        &finisher,
        &closing,
        None,
        &mut counts,
    )?;
    sink.into_inner()?.flush()?;
    progress.finish();
    Ok(Summary {
        source: cfg.source.clone(),
        frames,
        elapsed: started.elapsed(),
        backend: label,
        events: counts,
    })
}

/// Writes one `error` record an issue.
fn write_issues<W: Write>(
    sink: &mut NdjsonSink<W>,
    source: &str,
    issues: &[&osprey_video::DecodeIssue],
) -> Result<()> {
    for issue in issues {
        sink.write(&Record::Error(record::ErrorRecord {
            source,
            frame: issue.frame,
            pts: issue.pts,
            message: &issue.message,
        }))?;
    }
    Ok(())
}

/// The frame record of one frame from its figures.
fn frame_record<'a>(source: &'a str, now: Mark, raw: &FrameRaw, f: &'a Figures) -> FrameRecord<'a> {
    FrameRecord {
        source,
        frame: now.frame,
        pts: now.pts,
        width: raw.width,
        height: raw.height,
        stats: f.stats.as_ref().map(StatsRecord::from),
        scene: f.scene.as_ref().map(SceneRecord::from),
        motion: f.motion.as_ref().map(MotionRecord::from),
        black: f.black.as_ref().map(BlackRecord::from),
        freeze: f.freeze.as_ref().map(FreezeRecord::from),
        blur: f.blur.as_ref().map(BlurRecord::from),
    }
}

/// The frame being written, for the thumbnails of its events.
struct Shot<'a, 'f> {
    thumbnails: &'a mut thumbnail::Thumbnails,
    backend: &'a mut dyn osprey_kernels::Backend,
    frame: &'a osprey_kernels::FrameView<'f>,
    index: u64,
}

/// Writes `events` and counts them; with `shot`, each event gets a thumbnail
/// of the frame at which it is written (for a start, the frame that
/// confirmed the period, which the event's `frame` field may precede).
fn write_events<W: Write>(
    sink: &mut NdjsonSink<W>,
    source: &str,
    finisher: &Finisher,
    events: &[Event],
    mut shot: Option<Shot<'_, '_>>,
    counts: &mut EventCounts,
) -> Result<()> {
    for e in events {
        counts.add(e.kind);
        let zone = e.zone.and_then(|z| finisher.zone_name(z));
        let thumbnail = match shot.as_mut() {
            Some(s) => {
                let what = match zone {
                    Some(z) => format!("{}-{z}", e.kind.name()),
                    None => e.kind.name().to_owned(),
                };
                Some(
                    s.thumbnails
                        .write(s.backend, s.frame, source, s.index, &what)?,
                )
            }
            None => None,
        };
        sink.write(&Record::Event(EventRecord {
            source,
            event: e.kind,
            frame: e.at.frame,
            pts: e.at.pts,
            duration: e.duration,
            score: e.score,
            zone,
            thumbnail: thumbnail.as_deref(),
            eos: e.eos,
        }))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::BackendArg;

    fn args(input: &str) -> AnalyzeArgs {
        use clap::Parser as _;
        let cli = crate::args::Cli::try_parse_from(["osprey", "analyze", input]).unwrap();
        let crate::args::Command::Analyze(a) = cli.command else {
            panic!("not analyze");
        };
        let mut a = *a;
        a.backend = BackendArg::Cpu;
        a.kernels = "stats,scene".into();
        a
    }

    fn exit_of(a: &AnalyzeArgs) -> crate::exit::Exit {
        crate::exit::Exit::for_error(&AnalyzeConfig::from_args(a).unwrap_err())
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
        assert_eq!(default_source("target/demo/demo.mp4"), "demo");
        assert_eq!(default_source("rtsp://cam/1"), "rtsp://cam/1");
        assert_eq!(default_source("noext"), "noext");
    }

    #[test]
    fn checks_before_work() {
        use crate::exit::Exit;
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
        assert_eq!(cfg.source, "cam1");
        assert_eq!(cfg.output, Output::File("out.ndjson".into()));
        assert_eq!(cfg.backend, BackendChoice::Cpu);
        assert!(cfg.kernels.scene && !cfg.kernels.stats);
    }

    #[test]
    fn output_must_not_be_the_input() {
        let dir = tempfile::tempdir().unwrap();
        let clip = dir.path().join("clip.mp4");
        std::fs::write(&clip, b"x").unwrap();
        let mut a = args(clip.to_str().unwrap());
        a.output = dir.path().join(".").join("clip.mp4");
        assert_eq!(exit_of(&a), crate::exit::Exit::Usage);
        a.output = dir.path().join("clip.ndjson");
        assert!(AnalyzeConfig::from_args(&a).is_ok());
    }

    #[test]
    fn io_reasons_read_as_sentences() {
        let e = std::io::Error::from_raw_os_error(2);
        assert_eq!(io_reason(&e), "no such file or directory");
    }

    #[test]
    fn missing_output_folder_is_named() {
        let err = open_output(&Output::File("/no/such/folder/out.ndjson".into()), "s")
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "cannot create output \"/no/such/folder/out.ndjson\": its folder \"/no/such/folder\" does not exist"
        );
    }
}
