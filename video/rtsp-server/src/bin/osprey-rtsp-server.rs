//! `osprey-rtsp-server`: serves N live H.264 test streams (test patterns, or
//! a clip in a loop) at /cam0.. on
//! 127.0.0.1 for benchmarks and demos, prints one URL a line, runs until
//! SIGINT or SIGTERM.

use clap::Parser;
use std::io::Write;
use std::process::ExitCode;

use osprey_rtsp_server::{Mount, TestServer};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Serve live H.264 test patterns over RTSP on 127.0.0.1.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The port (0: one the OS picks).
    #[arg(long, default_value_t = 8554)]
    port: u16,
    /// How many streams, served at /cam0 .. /cam{N-1}.
    #[arg(long, default_value_t = 1)]
    streams: usize,
    /// Frame size, WxH.
    #[arg(long, default_value = "1280x720", value_parser = parse_size)]
    size: (u32, u32),
    /// Frames a second.
    #[arg(long, default_value_t = 25)]
    fps: u32,
    /// The videotestsrc pattern.
    #[arg(long, default_value = "ball")]
    pattern: String,
    /// x264's bitrate in kbit/s (default: x264enc's, 2048; a simple pattern
    /// comes out far below it).
    #[arg(long)]
    bitrate: Option<u32>,
    /// Serves this H.264 elementary stream (Annex B, `ffmpeg -f h264`) in a
    /// loop at --fps instead of an encoded test pattern: a camera whose
    /// encoder runs elsewhere (--size, --pattern and --bitrate do not apply).
    #[arg(long)]
    clip: Option<std::path::PathBuf>,
    /// Adds an audio track to every stream.
    #[arg(long)]
    audio: bool,
    /// Requires this user (with --password).
    #[arg(long, requires = "password")]
    user: Option<String>,
    /// The user's password.
    #[arg(long, requires = "user")]
    password: Option<String>,
}

fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let (w, h) = text.split_once('x').ok_or("expected WxH, e.g. 1280x720")?;
    let parse = |v: &str| v.parse::<u32>().ok().filter(|v| *v > 0);
    match (parse(w), parse(h)) {
        (Some(w), Some(h)) => Ok((w, h)),
        _ => Err("expected WxH with positive numbers, e.g. 1280x720".to_owned()),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mounts: Vec<Mount> = (0..args.streams)
        .map(|i| {
            let mut mount = Mount::new(format!("cam{i}"))
                .size(args.size.0, args.size.1)
                .fps(args.fps)
                .pattern(args.pattern.clone())
                .audio(args.audio);
            if let Some(kbit) = args.bitrate {
                mount = mount.bitrate_kbit(kbit);
            }
            if let Some(clip) = &args.clip {
                mount = mount.clip(clip);
            }
            match (&args.user, &args.password) {
                (Some(user), Some(pass)) => mount.credentials(user.clone(), pass.clone()),
                _ => mount,
            }
        })
        .collect();
    let server = match TestServer::start_on(args.port, &mounts) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("osprey-rtsp-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    for mount in &mounts {
        println!("{}", server.url(&mount.path));
    }
    let _ = std::io::stdout().flush();
    let mut signals = match Signals::new([SIGINT, SIGTERM]) {
        Ok(signals) => signals,
        Err(e) => {
            eprintln!("osprey-rtsp-server: cannot wait for signals: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Serve until the first SIGINT or SIGTERM.
    let _ = signals.forever().next();
    drop(server);
    ExitCode::SUCCESS
}
