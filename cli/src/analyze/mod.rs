//! `osprey analyze`: arguments in, an [`Analysis`] run, NDJSON records out.
//!
//! [`AnalyzeConfig::from_args`] checks the arguments before any work
//! (the analysis options by [`options`], zone files by [`zones_file`]);
//! [`run`] opens the input with the library, opens the backend while the
//! decoder reads ahead, then writes each chunk's records through an
//! [`NdjsonSink`], flushed once a chunk so a reader sees results as they
//! come, with a [`progress`] bar and a summary line.

pub mod options;
pub mod progress;
pub mod zones_file;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, Result, anyhow};
use osprey_ingest::NdjsonSink;
use osprey_ingest::output_spec::OutputSpec;
use osprey_kernels::{BackendChoice, Device, KernelSet};
use osprey_video::analysis::record::Record;
use osprey_video::analysis::{Analysis, AnalysisOptions};
use tracing::{debug, info};

use crate::args::AnalyzeArgs;
use crate::exit::{InputError, UsageError};
use progress::{Progress, Summary};

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
    /// Where records go.
    pub output: Output,
    /// The analysis: kernels, detectors, zones, events, thumbnails.
    pub options: AnalysisOptions,
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
        let output = match OutputSpec::parse(&args.output, "--output")? {
            OutputSpec::Stdout => Output::Stdout,
            OutputSpec::Webhook(url) => {
                let config = osprey_ingest::WebhookConfig::new(url);
                config.check().map_err(|e| UsageError(e.to_string()))?;
                Output::Webhook(config)
            }
            OutputSpec::Stream(name) => Output::Stream {
                data_dir: args.data_dir.clone(),
                name,
            },
            OutputSpec::File(path) => Output::File(path),
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
        let options = options::from_args(args, kernels)?;
        Ok(AnalyzeConfig {
            input: args.input.clone(),
            source,
            backend: args.backend.into(),
            output,
            options,
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
pub fn io_reason(err: &std::io::Error) -> String {
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
    // A folder that cannot take thumbnails fails before any decoding; zones
    // outside the first frame are refused before any output is made.
    let opened = Analysis::open(&cfg.input, &cfg.source, cfg.options.clone())
        .map_err(crate::exit::from_video)?;
    let expected_frames = opened.stream().expected_frames();

    // The decoder fills its read-ahead while the device and backend start.
    // One device a process: a server would open it once and make every
    // camera's backend from it.
    let device = Device::open(cfg.backend)?;
    let backend = device.frame_backend(cfg.options.backend.clone())?;
    let is_gpu = backend.is_gpu();
    let mut analysis = opened.start(backend);
    let label = analysis.backend_label().to_owned();
    match (cfg.backend, is_gpu) {
        (BackendChoice::Auto, true) => info!(backend = %label, "Auto took a GPU adapter."),
        // Device::open has said why at info already.
        _ => debug!(backend = %label, "Backend open."),
    }

    let mut sink = NdjsonSink::new(open_output(&cfg.output, &cfg.source)?);
    let progress = Progress::new(expected_frames, &label);
    while let Some(frames) = analysis.next_chunk(&mut |r| write(&mut sink, r))? {
        sink.flush()?;
        progress.advance(frames as u64);
    }
    let totals = analysis.finish(&mut |r| write(&mut sink, r))?;
    sink.into_inner()?.flush()?;
    progress.finish();
    Ok(Summary {
        source: cfg.source.clone(),
        frames: totals.frames,
        elapsed: started.elapsed(),
        backend: label,
        events: totals.events,
    })
}

/// Writes one record to the sink.
fn write<W: Write>(sink: &mut NdjsonSink<W>, record: &Record<'_>) -> Result<()> {
    sink.write(record)?;
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
        let kernels = cfg.options.backend.kernels;
        assert!(kernels.scene && !kernels.stats);
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
