//! Event clips (`--clip-pre`, `--clip-post` with `--record`; a server
//! camera's `clip_pre`, `clip_post` with `record`): each event record of a
//! recorded source names the clip of its recording around it,
//! `clip_start` and `clip_end` (RFC 3339) and `clip` ([`ClipLink`]): for
//! `osprey analyze` the command that writes it (`osprey video clip NAME
//! --start .. --end .. --data-dir .. -o FILE`), for the server the path
//! of its clip endpoint (`/api/videos/NAME/clip.mp4?start=..&end=..`).
//!
//! The clip spans the event (from `ts - duration` for an event that ends a
//! period, else `ts`, to `ts`) widened by the two margins. Only records
//! with a wall-clock `ts` (live sources, files with `--start-time`) can be
//! placed in the recording; the others are left as they are. The fields
//! are appended to the record's text, so everything before them stays
//! byte for byte as without the flags.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use osprey_ingest::duration;
use serde_json::Value;

use crate::args::record::RecordArgs;
use crate::error::UsageError;

/// What an event's `clip` says.
#[derive(Debug, Clone, Copy)]
pub enum ClipLink<'a> {
    /// The `osprey video clip` command over this data directory.
    Command(&'a Path),
    /// The server's clip endpoint, a path of its listener.
    Url,
}

/// The margins around each event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClipWindow {
    /// Before the event's start.
    pub pre: Duration,
    /// After its end.
    pub post: Duration,
}

impl ClipWindow {
    /// The window `--clip-pre`/`--clip-post` ask for; `None` when neither
    /// is given.
    ///
    /// # Errors
    /// [`UsageError`] naming the option for a duration that does not parse.
    pub fn from_args(args: &RecordArgs) -> Result<Option<ClipWindow>> {
        if args.clip_pre.is_none() && args.clip_post.is_none() {
            return Ok(None);
        }
        let parse = |name: &str, text: &Option<String>| -> Result<Duration> {
            text.as_deref().map_or(Ok(Duration::ZERO), |t| {
                duration::parse(t).map_err(|e| UsageError(format!("--{name} {e}")).into())
            })
        };
        Ok(Some(ClipWindow {
            pre: parse("clip-pre", &args.clip_pre)?,
            post: parse("clip-post", &args.clip_post)?,
        }))
    }

    /// `lines` (NDJSON records) with the clip fields added to each event
    /// record that has a `ts`, for the recording in video stream `stream`,
    /// `clip` as `link` says.
    #[must_use]
    pub fn annotate(&self, lines: &[u8], stream: &str, link: ClipLink<'_>) -> Vec<u8> {
        let mut out = Vec::with_capacity(lines.len());
        for line in lines.split_inclusive(|b| *b == b'\n') {
            match self.fields(line, stream, link) {
                Some(fields) => {
                    let body = line.trim_ascii_end();
                    out.extend_from_slice(&body[..body.len() - 1]);
                    out.extend_from_slice(fields.as_bytes());
                    out.extend_from_slice(b"}\n");
                }
                None => out.extend_from_slice(line),
            }
        }
        out
    }

    /// The text to insert before the closing brace of an event record.
    fn fields(&self, line: &[u8], stream: &str, link: ClipLink<'_>) -> Option<String> {
        let body = line.trim_ascii_end();
        if !body.ends_with(b"}") {
            return None;
        }
        let record: Value = serde_json::from_slice(body).ok()?;
        if record.get("kind")?.as_str()? != "event" {
            return None;
        }
        let ts = record.get("ts")?.as_str()?;
        let end = chrono::DateTime::parse_from_rfc3339(ts).ok()?;
        let end = end.timestamp_millis() as f64 / 1000.0;
        let lasted = record
            .get("duration")
            .and_then(Value::as_f64)
            .filter(|d| d.is_finite() && *d >= 0.0)
            .unwrap_or(0.0);
        let start =
            osprey_video::wall_clock::rfc3339_millis(end - lasted - self.pre.as_secs_f64())?;
        let end = osprey_video::wall_clock::rfc3339_millis(end + self.post.as_secs_f64())?;
        let command = match link {
            ClipLink::Command(data_dir) => format!(
                "osprey video clip {} --start {start} --end {end} --data-dir {} -o {}",
                shell_word(stream),
                shell_word(&data_dir.to_string_lossy()),
                shell_word(&format!("{stream}-{}.mp4", start.replace(':', ""))),
            ),
            // Stream names and RFC 3339 times need no escaping in a URL.
            ClipLink::Url => format!("/api/videos/{stream}/clip.mp4?start={start}&end={end}"),
        };
        let text = |s: &str| Value::String(s.to_owned()).to_string();
        Some(format!(
            ",\"clip_start\":{},\"clip_end\":{},\"clip\":{}",
            text(&start),
            text(&end),
            text(&command)
        ))
    }
}

/// `word` quoted for a POSIX shell when it needs to be.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=+,@".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_records_with_a_time_name_their_clip() {
        let w = ClipWindow {
            pre: Duration::from_secs(5),
            post: Duration::from_secs(5),
        };
        let lines = concat!(
            "{\"kind\":\"frame\",\"source\":\"cam\",\"ts\":\"2026-12-06T10:00:10.000Z\"}\n",
            "{\"kind\":\"event\",\"source\":\"cam\",\"type\":\"motion_end\",\"duration\":2.5,\"ts\":\"2026-12-06T10:00:10.000Z\"}\n",
            "{\"kind\":\"event\",\"source\":\"cam\",\"type\":\"scene_cut\",\"pts\":1.0}\n",
        );
        let dir = Path::new("data dir");
        let out =
            String::from_utf8(w.annotate(lines.as_bytes(), "cam", ClipLink::Command(dir))).unwrap();
        let out: Vec<&str> = out.lines().collect();
        let input: Vec<&str> = lines.lines().collect();
        assert_eq!(out[0], input[0], "not an event");
        assert_eq!(out[2], input[2], "no ts");
        assert_eq!(
            out[1],
            concat!(
                "{\"kind\":\"event\",\"source\":\"cam\",\"type\":\"motion_end\",\"duration\":2.5,\"ts\":\"2026-12-06T10:00:10.000Z\"",
                ",\"clip_start\":\"2026-12-06T10:00:02.500Z\",\"clip_end\":\"2026-12-06T10:00:15.000Z\"",
                ",\"clip\":\"osprey video clip cam --start 2026-12-06T10:00:02.500Z --end 2026-12-06T10:00:15.000Z",
                " --data-dir 'data dir' -o cam-2026-12-06T100002.500Z.mp4\"}"
            )
        );
        // The server's: its clip endpoint.
        let out = String::from_utf8(w.annotate(lines.as_bytes(), "cam", ClipLink::Url)).unwrap();
        assert!(
            out.lines().nth(1).unwrap().ends_with(concat!(
                ",\"clip\":\"/api/videos/cam/clip.mp4",
                "?start=2026-12-06T10:00:02.500Z&end=2026-12-06T10:00:15.000Z\"}"
            )),
            "{out}"
        );
    }

    #[test]
    fn margins_parse_as_durations_and_name_their_option() {
        let args = |pre: Option<&str>, post: Option<&str>| RecordArgs {
            record: Some("cam".into()),
            clip_pre: pre.map(str::to_owned),
            clip_post: post.map(str::to_owned),
        };
        assert_eq!(ClipWindow::from_args(&args(None, None)).unwrap(), None);
        assert_eq!(
            ClipWindow::from_args(&args(Some("5s"), None)).unwrap(),
            Some(ClipWindow {
                pre: Duration::from_secs(5),
                post: Duration::ZERO
            })
        );
        let err = ClipWindow::from_args(&args(None, Some("soon")))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("--clip-post "), "{err}");
    }
}
