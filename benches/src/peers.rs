//! Which peers this machine has, by running each one's version command. A
//! peer that is missing is skipped with a note in the report.

use std::process::{Command, Stdio};

use crate::args::Peer;

/// The versions of the peers found; `None` for a missing one.
#[derive(Debug, Clone, Default)]
pub struct Peers {
    /// ffmpeg's version.
    pub ffmpeg: Option<String>,
    /// GStreamer's version.
    pub gstreamer: Option<String>,
    /// DuckDB's version.
    pub duckdb: Option<String>,
}

/// The stdout of `program args`, when it runs and exits 0.
fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Peers {
    /// Looks for every peer on `PATH`.
    pub fn probe() -> Peers {
        let ffmpeg = output("ffmpeg", &["-version"]).and_then(|s| {
            // "ffmpeg version 5.1.6-0+deb12u1 Copyright ..."
            let first = s.lines().next()?;
            first
                .strip_prefix("ffmpeg version ")
                .and_then(|r| r.split_whitespace().next())
                .map(str::to_owned)
        });
        let gstreamer = output("gst-launch-1.0", &["--version"]).and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("GStreamer "))
                .map(|v| v.trim().to_owned())
        });
        let duckdb = output(
            "python3",
            &["-c", "import duckdb; print(duckdb.__version__)"],
        )
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
        Peers {
            ffmpeg,
            gstreamer,
            duckdb,
        }
    }

    /// The version of `peer`, when found.
    pub fn version(&self, peer: Peer) -> Option<&str> {
        match peer {
            Peer::Ffmpeg => self.ffmpeg.as_deref(),
            Peer::Gstreamer => self.gstreamer.as_deref(),
            Peer::Duckdb => self.duckdb.as_deref(),
        }
    }
}
