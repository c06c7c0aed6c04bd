//! ffmpeg as an oracle for the input-format and threshold tests: runs a
//! filter graph over a file and returns, frame by frame, the metadata the
//! filters attached (`metadata=mode=print`), with ffmpeg's log for the
//! figures it only logs (blackdetect's periods).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::common::arg;

/// What ffmpeg printed for one run of a filter graph.
#[derive(Debug)]
pub struct FfRun {
    /// Each frame's metadata, keys without their `lavfi.` or
    /// `lavfi.signalstats.` prefix (`YAVG`, `scd.time`,
    /// `freezedetect.freeze_start`).
    pub frames: Vec<FfFrame>,
    /// ffmpeg's log at `info` level.
    pub log: String,
}

impl FfRun {
    /// The number `key` holds on frame `n`.
    #[track_caller]
    pub fn num(&self, n: usize, key: &str) -> f64 {
        self.frames[n].num(key)
    }

    /// The frames that carry `key`.
    pub fn frames_with(&self, key: &str) -> Vec<u64> {
        (0..self.frames.len() as u64)
            .filter(|&n| self.frames[n as usize].meta.contains_key(key))
            .collect()
    }
}

/// Runs `graph` over `clip`, then prints every frame's metadata.
#[track_caller]
pub fn ffmpeg_meta(clip: &Path, graph: &str) -> FfRun {
    let dir = tempfile::tempdir().unwrap();
    let meta = dir.path().join("meta.txt");
    // The temporary path holds neither `:` nor `\`, special in a graph.
    let graph = format!("{graph},metadata=mode=print:file={}", arg(&meta));
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "info", "-i"])
        .arg(clip)
        .args(["-vf", &graph, "-f", "null", "-"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "ffmpeg failed:\n{log}");
    let frames = parse_metadata(&std::fs::read_to_string(&meta).unwrap());
    assert!(!frames.is_empty(), "ffmpeg printed no frames for {clip:?}");
    FfRun { frames, log }
}

/// One frame as ffmpeg printed it.
#[derive(Debug)]
pub struct FfFrame {
    /// The frame's number.
    pub frame: u64,
    /// Its presentation time in seconds.
    pub pts_time: f64,
    /// `lavfi.signalstats.YMIN` as `YMIN`, `lavfi.scd.mafd` as `scd.mafd`, ...
    pub meta: BTreeMap<String, String>,
}

impl FfFrame {
    #[track_caller]
    pub fn get(&self, key: &str) -> &str {
        self.meta
            .get(key)
            .unwrap_or_else(|| panic!("ffmpeg printed no {key} for frame {}", self.frame))
    }

    #[track_caller]
    pub fn num(&self, key: &str) -> f64 {
        let text = self.get(key);
        text.parse()
            .unwrap_or_else(|e| panic!("ffmpeg's {key}={text:?} is not a number: {e}"))
    }
}

/// Parses `metadata=mode=print` output.
pub fn parse_metadata(text: &str) -> Vec<FfFrame> {
    let mut frames: Vec<FfFrame> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("frame:") {
            let mut fields = rest.split_whitespace();
            let frame = fields.next().and_then(|f| f.parse().ok());
            let pts_time = fields
                .find_map(|f| f.strip_prefix("pts_time:"))
                .and_then(|t| t.parse().ok());
            let (Some(frame), Some(pts_time)) = (frame, pts_time) else {
                panic!("cannot read ffmpeg's frame line {line:?}");
            };
            frames.push(FfFrame {
                frame,
                pts_time,
                meta: BTreeMap::new(),
            });
        } else if let Some((key, value)) = line.split_once('=') {
            let key = key
                .strip_prefix("lavfi.signalstats.")
                .map(str::to_owned)
                .or_else(|| key.strip_prefix("lavfi.").map(str::to_owned))
                .unwrap_or_else(|| key.to_owned());
            let last = frames
                .last_mut()
                .unwrap_or_else(|| panic!("metadata before any frame line: {line:?}"));
            last.meta.insert(key, value.to_owned());
        }
    }
    frames
}
