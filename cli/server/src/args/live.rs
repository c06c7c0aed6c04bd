//! `osprey analyze` options of live sources and of many sources in one
//! process: how a source is reached (RTSP transport and latency, decoder),
//! how it is supervised (stall timeout, retries), how much work and output
//! it makes (detect rate and size, latency bound, record volume), wall-clock
//! time for files, and the camera health events.
//!
//! Only syntax is checked here; `analyze::sources` checks values and names
//! the option at fault.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use osprey_video::source::{DecodeChoice, Transport};

/// Live-source options, under their own heading in `--help`.
#[derive(Debug, Clone, Args, PartialEq)]
#[command(next_help_heading = "Live and many sources")]
pub struct LiveArgs {
    /// A TOML file of sources, one [[sources]] table each (name, uri,
    /// kernels, zones, masks, fps, credentials, [sources.health], ...); its
    /// values override the command line's for that source. See the README.
    #[arg(long, value_name = "FILE")]
    pub sources: Option<PathBuf>,

    /// RTSP lower transport: tcp (through firewalls and NAT), udp, or auto
    /// (UDP first, then TCP)
    #[arg(long, value_enum, default_value_t = TransportArg::Auto, value_name = "T")]
    pub rtsp_transport: TransportArg,

    /// RTSP jitter-buffer latency in milliseconds (rtspsrc's latency)
    #[arg(long, default_value_t = 200, value_name = "MS")]
    pub rtsp_latency: u64,

    /// Decoders: auto (hardware when GStreamer has one, else software), hw
    /// (hardware only), sw (software only)
    #[arg(long, value_enum, default_value_t = DecodeArg::Auto, value_name = "D")]
    pub decode: DecodeArg,

    /// A source that delivers no frame for this long is reconnected
    /// (durations: 500ms, 10s, 5m, 1h)
    #[arg(long, default_value = "10s", value_name = "D")]
    pub stall_timeout: String,

    /// How long a failing source is retried before the run gives it up
    /// (a duration, or forever) [default: forever for live sources, no
    /// retries for files]
    #[arg(long, value_name = "D")]
    pub retry_for: Option<String>,

    /// Analyse at most N frames a second of each source, dropping the rest
    /// before the kernels [default: every frame]
    #[arg(long, value_name = "N")]
    pub fps: Option<f64>,

    /// Analyse frames scaled down to WxH (even sides); zones and masks are
    /// then in WxH pixels [default: full size]
    #[arg(long, value_name = "WxH")]
    pub detect_size: Option<String>,

    /// A live source's chunk is cut once its first frame has waited this
    /// long, so records leave promptly
    #[arg(long, default_value = "100ms", value_name = "D")]
    pub max_latency: String,

    /// Which records leave: all, events (events, status and errors only), or
    /// every:N (every Nth frame record plus all events, status and errors)
    #[arg(long, default_value = "all", value_name = "WHICH")]
    pub records: String,

    /// With --output FILE: append to the file instead of truncating it
    #[arg(long)]
    pub append: bool,

    /// For files: the wall-clock time of the first frame (RFC 3339, such as
    /// 2026-12-06T18:00:00Z), so records carry ts = T + pts
    #[arg(long, value_name = "T")]
    pub start_time: Option<String>,

    /// For files: play the file again from its start at each end, at real
    /// time, as a camera would (frames carry the wall-clock time; it runs
    /// until stopped)
    #[arg(long = "loop")]
    pub looping: bool,

    /// Look for the camera health events (camera_blocked, _moved, _blurred,
    /// _frozen) in files too [default: on for live sources, off for files]
    #[arg(long, conflicts_with = "no_health")]
    pub health: bool,

    /// Do not look for the camera health events, not even in live sources
    #[arg(long)]
    pub no_health: bool,
}

/// `--rtsp-transport` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportArg {
    /// UDP first, then TCP
    Auto,
    /// RTP interleaved in the RTSP TCP connection
    Tcp,
    /// RTP over UDP
    Udp,
}

impl From<TransportArg> for Transport {
    fn from(arg: TransportArg) -> Transport {
        match arg {
            TransportArg::Auto => Transport::Auto,
            TransportArg::Tcp => Transport::Tcp,
            TransportArg::Udp => Transport::Udp,
        }
    }
}

/// `--decode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DecodeArg {
    /// Hardware when GStreamer has a decoder for the codec, else software
    Auto,
    /// Hardware only
    Hw,
    /// Software only
    Sw,
}

impl From<DecodeArg> for DecodeChoice {
    fn from(arg: DecodeArg) -> DecodeChoice {
        match arg {
            DecodeArg::Auto => DecodeChoice::Auto,
            DecodeArg::Hw => DecodeChoice::Hw,
            DecodeArg::Sw => DecodeChoice::Sw,
        }
    }
}
