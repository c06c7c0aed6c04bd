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
    pub frames: Vec<BTreeMap<String, String>>,
    /// ffmpeg's log at `info` level.
    pub log: String,
}

impl FfRun {
    /// The number `key` holds on frame `n`.
    #[track_caller]
    pub fn num(&self, n: usize, key: &str) -> f64 {
        let text = self.frames[n]
            .get(key)
            .unwrap_or_else(|| panic!("ffmpeg printed no {key} for frame {n}"));
        text.parse()
            .unwrap_or_else(|e| panic!("ffmpeg's {key}={text:?} is not a number: {e}"))
    }

    /// The frames that carry `key`.
    pub fn frames_with(&self, key: &str) -> Vec<u64> {
        (0..self.frames.len() as u64)
            .filter(|&n| self.frames[n as usize].contains_key(key))
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
    let text = std::fs::read_to_string(&meta).unwrap();
    let mut frames: Vec<BTreeMap<String, String>> = Vec::new();
    for line in text.lines() {
        if line.starts_with("frame:") {
            frames.push(BTreeMap::new());
        } else if let Some((key, value)) = line.split_once('=') {
            let key = key.strip_prefix("lavfi.").unwrap_or(key);
            let key = key.strip_prefix("signalstats.").unwrap_or(key);
            frames
                .last_mut()
                .unwrap_or_else(|| panic!("metadata before any frame: {line:?}"))
                .insert(key.to_owned(), value.to_owned());
        }
    }
    assert!(!frames.is_empty(), "ffmpeg printed no frames for {clip:?}");
    FfRun { frames, log }
}
