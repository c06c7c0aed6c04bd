//! One source of a run, checked: [`SourceConfig::build`] turns the command
//! line's arguments (with a sources-file entry laid over them) into the
//! library's settings of one source (its [`SourceSpec`], analysis options,
//! supervision, live bounds and record volume). The command line and the
//! sources file go through the same checks: an entry's values are written
//! into a copy of the arguments first, so every value is checked by one
//! piece of code and its error names the option.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use osprey_ingest::duration;
use osprey_kernels::KernelSet;
use osprey_video::analysis::AnalysisOptions;
use osprey_video::live::{LiveOptions, LiveSource, RecordVolume, Supervision};
use osprey_video::source::{Credentials, RtspOptions, SourceSpec, redact};

use super::options;
use super::sources_file::SourceEntry;
use crate::args::AnalyzeArgs;
use crate::error::{InputError, UsageError};

/// Range of `--fps`.
const MAX_FPS: f64 = 1000.0;

/// Range of each side of `--detect-size`.
const DETECT_SIDES: std::ops::RangeInclusive<u32> = 16..=8192;

/// The settings of one source.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceConfig {
    /// The records' `source`, never holding a password.
    pub name: String,
    /// What to open and how.
    pub spec: SourceSpec,
    /// A live source (RTSP, camera, test pattern, a looping file):
    /// reconnected, stamped with the capture time, health events on by
    /// default.
    pub live: bool,
    /// The analysis: kernels, detectors, zones, events, thumbnails, health.
    pub options: AnalysisOptions,
    /// How it is retried.
    pub supervision: Supervision,
    /// Bounds between decode and kernels.
    pub live_options: LiveOptions,
    /// Which records leave.
    pub volume: RecordVolume,
    /// The video stream its encoded stream is recorded into, if any.
    pub record: Option<String>,
}

impl SourceConfig {
    /// Checks one source: `input` (a path or URI, named `name` when given)
    /// under `args`, with `entry`'s values (a sources-file table) laid over
    /// them.
    ///
    /// # Errors
    /// [`UsageError`] or [`osprey_kernels::KernelError::UnknownKernel`] for
    /// invalid values, [`InputError`] for a local input that cannot be
    /// opened.
    pub fn build(
        args: &AnalyzeArgs,
        input: &str,
        name: Option<&str>,
        entry: Option<&SourceEntry>,
    ) -> Result<Self> {
        let laid;
        let args = match entry {
            Some(e) => {
                laid = lay_over(args, e);
                &laid
            }
            None => args,
        };
        if input.trim().is_empty() {
            return Err(UsageError("the input is empty: give a file path or URI".into()).into());
        }
        // A sources-file entry's threshold comes after the command line's check.
        check_scene_threshold(args.scene_threshold)?;
        let looping = args.live.looping;
        if looping && is_live(input) {
            return Err(bad("loop", "is for files: a live source never ends").into());
        }
        // A looping file is run as a camera: supervised, paced at real time,
        // stamped with the wall clock.
        let live = is_live(input) || looping;
        if !super::is_uri(input) {
            check_local_input(input)?;
        }
        let name = match name {
            Some("") => return Err(UsageError("a source name is empty".into()).into()),
            Some(n) => redact(n),
            None => default_name(input),
        };
        let kernels = KernelSet::parse(&args.kernels)?;
        let mut options = options::from_args(args, kernels)?;
        let l = &args.live;
        options.health.enabled = if l.no_health { false } else { l.health || live };
        if let Some(health) = entry.and_then(|e| e.health) {
            let enabled = options.health.enabled;
            options.health = health;
            if !entry.is_some_and(|e| e.health_enabled_given) {
                options.health.enabled = enabled;
            }
        }
        options.health.check().map_err(|e| match e {
            osprey_video::VideoError::Config(why) => UsageError(why),
            other => UsageError(other.to_string()),
        })?;
        let fps = match l.fps {
            Some(f) if f.is_finite() && f > 0.0 && f <= MAX_FPS => Some(f),
            Some(f) => {
                return Err(bad(
                    "fps",
                    format_args!("must be above 0 and at most {MAX_FPS}, not {f}"),
                )
                .into());
            }
            None => None,
        };
        if let Some(text) = &l.detect_size {
            let size = parse_size(text).map_err(|e| bad("detect-size", e))?;
            osprey_kernels::detect_size::check_size(size).map_err(|e| bad("detect-size", e))?;
            options.backend.detect_size = Some(size);
        }
        let stall_timeout =
            duration::parse(&l.stall_timeout).map_err(|e| bad("stall-timeout", e))?;
        if stall_timeout < Duration::from_millis(100) {
            return Err(bad("stall-timeout", "must be 100ms or more").into());
        }
        let mut supervision = if live {
            Supervision::live()
        } else {
            Supervision::file()
        };
        supervision.stall_timeout = stall_timeout;
        if let Some(text) = &l.retry_for {
            supervision.retry_for =
                duration::parse_or_forever(text).map_err(|e| bad("retry-for", e))?;
        }
        let max_latency = duration::parse(&l.max_latency).map_err(|e| bad("max-latency", e))?;
        if max_latency < Duration::from_millis(1) {
            return Err(bad("max-latency", "must be 1ms or more").into());
        }
        let volume = RecordVolume::parse(&l.records).map_err(|e| bad("records", e))?;
        let start_time = match &l.start_time {
            Some(_) if looping => {
                return Err(bad(
                    "start-time",
                    "does not go with --loop: a looping file carries the wall-clock time",
                )
                .into());
            }
            Some(_) if live => {
                return Err(bad(
                    "start-time",
                    "is for files: live sources carry their capture time",
                )
                .into());
            }
            Some(text) => Some(parse_start_time(text).map_err(|e| bad("start-time", e))?),
            None => None,
        };
        let spec = SourceSpec {
            uri: input.to_owned(),
            rtsp: RtspOptions {
                transport: l.rtsp_transport.into(),
                latency: Duration::from_millis(l.rtsp_latency),
            },
            credentials: entry.map(credentials).transpose()?.flatten(),
            decode: l.decode.into(),
            start_time,
            looping,
        };
        Ok(SourceConfig {
            name,
            spec,
            live,
            options,
            supervision,
            live_options: LiveOptions {
                fps,
                max_latency,
                ..LiveOptions::default()
            },
            volume,
            record: match args.recording.record.as_deref() {
                Some("") => return Err(bad("record", "needs a video stream's name").into()),
                other => other.map(str::to_owned),
            },
        })
    }
}

/// Checks `--scene-threshold`: 0 to 100.
///
/// # Errors
/// A [`UsageError`] naming the option.
pub fn check_scene_threshold(t: f64) -> Result<(), UsageError> {
    if (0.0..=100.0).contains(&t) {
        Ok(())
    } else {
        Err(UsageError(format!(
            "--scene-threshold must be between 0 and 100, not {t}"
        )))
    }
}

impl SourceConfig {
    /// What the live runner takes to run this source.
    pub fn live_source(&self) -> LiveSource {
        LiveSource {
            name: self.name.clone(),
            spec: self.spec.clone(),
            analysis: self.options.clone(),
            supervision: self.supervision,
            live: self.live_options,
            volume: self.volume,
            record: None,
        }
    }
}

/// A usage error for option `name`.
fn bad(name: &str, why: impl std::fmt::Display) -> UsageError {
    UsageError(format!("--{name} {why}"))
}

/// The arguments with a sources-file entry's values written over them.
fn lay_over(args: &AnalyzeArgs, e: &SourceEntry) -> AnalyzeArgs {
    let mut a = args.clone();
    let l = &mut a.live;
    if let Some(v) = &e.kernels {
        a.kernels = v.clone();
    }
    if let Some(v) = e.scene_threshold {
        a.scene_threshold = v;
    }
    // Zones and masks given here replace the command line's together, so a
    // camera never inherits another camera's geometry.
    if e.zones.is_some() || e.masks.is_some() || e.zones_file.is_some() {
        a.motion.zones = e.zones.clone().unwrap_or_default();
        a.motion.masks = e.masks.clone().unwrap_or_default();
        a.motion.zones_file = e.zones_file.clone();
    }
    let set = |to: &mut Option<String>, from: &Option<String>| {
        if from.is_some() {
            to.clone_from(from);
        }
    };
    if e.fps.is_some() {
        l.fps = e.fps;
    }
    set(&mut l.detect_size, &e.detect_size);
    set(&mut l.retry_for, &e.retry_for);
    set(&mut l.start_time, &e.start_time);
    set(&mut a.recording.record, &e.record);
    if let Some(v) = e.looping {
        l.looping = v;
    }
    if let Some(v) = e.rtsp_transport {
        l.rtsp_transport = v;
    }
    if let Some(v) = e.rtsp_latency_ms {
        l.rtsp_latency = v;
    }
    if let Some(v) = e.decode {
        l.decode = v;
    }
    if let Some(v) = &e.stall_timeout {
        l.stall_timeout.clone_from(v);
    }
    if let Some(v) = &e.max_latency {
        l.max_latency.clone_from(v);
    }
    if let Some(v) = &e.records {
        l.records.clone_from(v);
    }
    a
}

/// The credentials of a sources-file entry: `user` with `password` or the
/// value of the environment variable `password_env`.
fn credentials(e: &SourceEntry) -> Result<Option<Credentials>, UsageError> {
    let password = match (&e.password, &e.password_env) {
        (Some(_), Some(_)) => {
            return Err(UsageError("give password or password_env, not both".into()));
        }
        (Some(p), None) => Some(p.0.clone()),
        (None, Some(var)) => match std::env::var(var) {
            Ok(p) => Some(p),
            Err(_) => {
                return Err(UsageError(format!(
                    "password_env: the environment variable {var:?} is not set (or not UTF-8)"
                )));
            }
        },
        (None, None) => None,
    };
    Ok(match (&e.user, password) {
        (None, None) => None,
        (user, password) => Some(Credentials {
            user: user.clone().unwrap_or_default(),
            password: password.unwrap_or_default(),
        }),
    })
}

/// True for sources that never end by themselves: cameras, RTSP and other
/// network streams, test patterns.
pub fn is_live(input: &str) -> bool {
    if input.starts_with("test:") {
        return true;
    }
    input.split_once("://").is_some_and(|(scheme, _)| {
        matches!(
            scheme.to_ascii_lowercase().as_str(),
            "rtsp" | "rtsps" | "rtspt" | "rtspu" | "v4l2" | "udp" | "srt" | "rtmp"
        )
    })
}

/// Splits `NAME=URI`; a path that exists, or text whose part before the
/// first `=` could not be a name (holding `/` or `:`), is all input.
pub fn split_name(src: &str) -> (Option<&str>, &str) {
    if Path::new(src).exists() {
        return (None, src);
    }
    match src.split_once('=') {
        Some((name, input)) if !name.contains(['/', ':']) && !input.is_empty() => {
            (Some(name), input)
        }
        _ => (None, src),
    }
}

/// The name of a source given without one: a file's stem, or the URI with
/// its password removed.
pub fn default_name(input: &str) -> String {
    if super::is_uri(input) {
        return redact(input);
    }
    Path::new(input)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| input.to_owned())
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
        Err(e) => Err(fail(super::io_reason(&e))),
    }
}

/// Parses `WxH`, each side within [`DETECT_SIDES`] and even (4:2:0).
fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let bad = || format!("{text:?} is not WIDTHxHEIGHT such as 640x360");
    let (w, h) = text.split_once(['x', 'X']).ok_or_else(bad)?;
    let (w, h): (u32, u32) = (w.parse().map_err(|_| bad())?, h.parse().map_err(|_| bad())?);
    for side in [w, h] {
        if !DETECT_SIDES.contains(&side) || side % 2 == 1 {
            return Err(format!(
                "{text:?}: each side must be even and between {} and {}",
                DETECT_SIDES.start(),
                DETECT_SIDES.end()
            ));
        }
    }
    Ok((w, h))
}

/// Parses an RFC 3339 time as Unix seconds.
fn parse_start_time(text: &str) -> Result<f64, String> {
    let t = chrono::DateTime::parse_from_rfc3339(text.trim()).map_err(|e| {
        format!("{text:?} is not an RFC 3339 time such as 2026-12-06T18:00:00Z ({e})")
    })?;
    Ok(t.timestamp_millis() as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_from_uris() {
        assert_eq!(split_name("cam1=rtsp://h/1"), (Some("cam1"), "rtsp://h/1"));
        assert_eq!(split_name("rtsp://h/x?a=b"), (None, "rtsp://h/x?a=b"));
        assert_eq!(split_name("dir/a=b.mp4"), (None, "dir/a=b.mp4"));
        assert_eq!(split_name("test:ball"), (None, "test:ball"));
        assert_eq!(split_name("x="), (None, "x="));
    }

    #[test]
    fn live_sources_are_told_from_files() {
        for live in [
            "rtsp://h/1",
            "RTSP://h/1",
            "v4l2:///dev/video0",
            "test:ball",
        ] {
            assert!(is_live(live), "{live}");
        }
        for file in ["clip.mp4", "file:///a.mp4", "http://h/a.mp4", "test.mp4"] {
            assert!(!is_live(file), "{file}");
        }
    }

    #[test]
    fn default_names_hide_passwords() {
        assert_eq!(default_name("rtsp://u:pw@h/1"), "rtsp://u:***@h/1");
        assert_eq!(default_name("a/b/clip.mp4"), "clip");
    }

    #[test]
    fn sizes_and_times_parse() {
        assert_eq!(parse_size("640x360"), Ok((640, 360)));
        for bad in ["640", "641x360", "8x8", "x", "640x-2", "99999x2"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_start_time("1970-01-01T00:00:01.5Z"), Ok(1.5));
        assert_eq!(
            parse_start_time("2026-12-06T19:00:00+01:00"),
            Ok(1_796_580_000.0)
        );
        assert!(parse_start_time("yesterday").is_err());
    }

    fn args(extra: &[&str]) -> AnalyzeArgs {
        let mut argv = vec!["analyze", "x"];
        argv.extend_from_slice(extra);
        crate::args::parse(argv).unwrap()
    }

    #[test]
    fn live_sources_get_live_defaults_and_options_override_them() {
        let dir = tempfile::tempdir().unwrap();
        let clip = dir.path().join("clip.mp4");
        std::fs::write(&clip, b"x").unwrap();
        let clip = clip.to_str().unwrap();
        let cam = "rtsp://u:pw@cam/1";
        let build = |extra: &[&str], input: &str, entry: Option<&SourceEntry>| {
            SourceConfig::build(&args(extra), input, None, entry).unwrap()
        };
        let live = build(&[], cam, None);
        assert!(live.live && live.options.health.enabled);
        assert_eq!(live.name, "rtsp://u:***@cam/1");
        assert_eq!(live.supervision.retry_for, None);
        assert_eq!(live.supervision.stall_timeout, Duration::from_secs(10));
        assert_eq!(live.live_options.max_latency, Duration::from_millis(100));
        assert_eq!(live.volume, RecordVolume::All);
        let file = build(&[], clip, None);
        assert!(!file.live && !file.options.health.enabled);
        assert_eq!(file.supervision.retry_for, Some(Duration::ZERO));
        assert!(build(&["--health"], clip, None).options.health.enabled);
        assert!(!build(&["--no-health"], cam, None).options.health.enabled);
        let tuned = build(
            &[
                "--retry-for",
                "2s",
                "--stall-timeout",
                "1.5s",
                "--fps",
                "5",
                "--records",
                "every:4",
            ],
            cam,
            None,
        );
        assert_eq!(tuned.supervision.retry_for, Some(Duration::from_secs(2)));
        assert_eq!(tuned.supervision.stall_timeout, Duration::from_millis(1500));
        assert_eq!(tuned.live_options.fps, Some(5.0));
        assert_eq!(tuned.volume, RecordVolume::EveryNth(4));
        // A looping file runs as a camera; a live source cannot loop.
        let looped = build(&["--loop"], clip, None);
        assert!(looped.live && looped.spec.looping && looped.options.health.enabled);
        assert_eq!(looped.supervision.retry_for, None);
        let refused = |extra: &[&str], input: &str| {
            SourceConfig::build(&args(extra), input, None, None)
                .unwrap_err()
                .to_string()
        };
        assert!(refused(&["--loop"], cam).starts_with("--loop is for files"));
        let both = refused(&["--loop", "--start-time", "2026-12-06T18:00:00Z"], clip);
        assert!(both.contains("does not go with --loop"), "{both}");
        let entry = SourceEntry {
            uri: clip.into(),
            looping: Some(true),
            ..SourceEntry::default()
        };
        assert!(build(&[], clip, Some(&entry)).spec.looping);
        assert_eq!(
            build(&["--retry-for", "forever"], clip, None)
                .supervision
                .retry_for,
            None
        );

        // A sources-file entry wins over the command line; a health table
        // without `enabled` leaves it to the command line.
        let mut entry = SourceEntry {
            uri: cam.into(),
            kernels: Some("stats".into()),
            retry_for: Some("1m".into()),
            health: Some(osprey_video::analysis::HealthOptions {
                blur_margin: 0.9,
                ..Default::default()
            }),
            ..SourceEntry::default()
        };
        let e = build(
            &["--retry-for", "2s", "--kernels", "all"],
            cam,
            Some(&entry),
        );
        assert_eq!(e.supervision.retry_for, Some(Duration::from_secs(60)));
        assert!(e.options.backend.kernels.stats && !e.options.backend.kernels.scene);
        assert!(e.options.health.enabled);
        assert_eq!(e.options.health.blur_margin, 0.9);
        entry.health_enabled_given = true;
        assert!(!build(&[], cam, Some(&entry)).options.health.enabled);
    }

    #[test]
    fn credentials_come_from_the_entry_or_the_environment() {
        let mut e = SourceEntry {
            user: Some("admin".into()),
            password: Some("pw".into()),
            ..SourceEntry::default()
        };
        assert_eq!(credentials(&e).unwrap().unwrap().password, "pw");
        e.password_env = Some("OSPREY_TEST_SURELY_UNSET_VAR".into());
        assert!(credentials(&e).is_err());
        e.password = None;
        let err = credentials(&e).unwrap_err().to_string();
        assert!(err.contains("OSPREY_TEST_SURELY_UNSET_VAR"), "{err}");
        e.password_env = Some("PATH".into());
        assert_eq!(
            credentials(&e).unwrap().unwrap().password,
            std::env::var("PATH").unwrap()
        );
        assert_eq!(credentials(&SourceEntry::default()).unwrap(), None);
    }
}
