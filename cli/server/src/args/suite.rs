//! `osprey analyze` options of the analysis suite's detectors, one group a
//! detector, each under its own heading in `--help`.
//!
//! Defaults are those of the tool each detector follows (ffmpeg's
//! blackdetect, freezedetect and blurdetect; Frigate's motion detector).
//! Ranges are checked by `AnalyzeConfig::from_args`, not here.

use std::path::PathBuf;

use clap::Args;

/// blackdetect's options.
#[derive(Debug, Clone, Args, PartialEq)]
#[command(next_help_heading = "Black (ffmpeg's blackdetect)")]
pub struct BlackArgs {
    /// Shortest black period reported, in seconds (blackdetect's d)
    #[arg(long, default_value_t = 2.0, value_name = "SECONDS")]
    pub black_min_duration: f64,

    /// Share of black pixels (0 to 1) at or above which a frame is black (blackdetect's pic_th)
    #[arg(long, default_value_t = 0.98, value_name = "RATIO")]
    pub black_ratio: f64,

    /// Luma at or below which a pixel is black, as a fraction (0 to 1) of the
    /// limited range 16 to 235 (blackdetect's pix_th)
    #[arg(long, default_value_t = 0.10, value_name = "RATIO")]
    pub black_pixel: f64,
}

/// freezedetect's options.
#[derive(Debug, Clone, Args, PartialEq)]
#[command(next_help_heading = "Freeze (ffmpeg's freezedetect)")]
pub struct FreezeArgs {
    /// Noise tolerance: decibels (-60dB) or a ratio 0 to 1 (0.001); a frame
    /// whose mean absolute difference from the reference frame is at or below
    /// it is frozen (freezedetect's n)
    #[arg(
        long,
        default_value = "-60dB",
        value_name = "NOISE",
        allow_hyphen_values = true
    )]
    pub freeze_noise: String,

    /// Shortest freeze reported, in seconds (freezedetect's d)
    #[arg(long, default_value_t = 2.0, value_name = "SECONDS")]
    pub freeze_min_duration: f64,
}

/// Frigate's motion detector options, zones, masks and motion events.
#[derive(Debug, Clone, Args, PartialEq)]
#[command(next_help_heading = "Motion (Frigate's motion detector)")]
pub struct MotionArgs {
    /// Luma difference (1 to 255) from the background at which a pixel changed (Frigate's threshold)
    #[arg(long, default_value_t = 30, value_name = "N")]
    pub motion_threshold: u32,

    /// Smallest changed region reported as a box, in pixels of the small
    /// image (Frigate's contour_area)
    #[arg(long, default_value_t = 10, value_name = "PIXELS")]
    pub motion_contour_area: u32,

    /// Height of the small luma image motion is detected on (Frigate's frame_height; 8 to 2160)
    #[arg(long, default_value_t = 100, value_name = "PIXELS")]
    pub motion_frame_height: u32,

    /// Weight (0 to 1) of each new frame in the running-average background (Frigate's frame_alpha)
    #[arg(long, default_value_t = 0.01, value_name = "ALPHA")]
    pub motion_alpha: f64,

    /// Do not stretch the small image's contrast (Frigate's improve_contrast, on by default)
    #[arg(long)]
    pub no_motion_contrast: bool,

    /// Changed share of the frame (0 to 1) above which a frame is taken for
    /// lightning and the background is reset (Frigate's lightning_threshold)
    #[arg(long, default_value_t = 0.8, value_name = "RATIO")]
    pub lightning_threshold: f64,

    /// A named zone with its own motion ratio and zone_enter/zone_exit events:
    /// name:x1,y1,x2,y2,x3,y3,... in frame pixels (repeatable)
    #[arg(long = "zone", value_name = "NAME:POLYGON")]
    pub zones: Vec<String>,

    /// An area where motion is ignored: x1,y1,x2,y2,x3,y3,... in frame pixels (repeatable)
    #[arg(long = "mask", value_name = "POLYGON", allow_hyphen_values = true)]
    pub masks: Vec<String>,

    /// Zones and masks from a TOML or JSON file (by its extension):
    /// [[zones]] name = "door", points = [[x, y], ...] and [[masks]] points = [[x, y], ...]
    #[arg(long = "zones", value_name = "FILE")]
    pub zones_file: Option<PathBuf>,

    /// Motion share of the frame (0 to 1) above which a frame counts as moving
    /// for events; 0 means any motion box
    #[arg(long, default_value_t = 0.0, value_name = "RATIO")]
    pub motion_min_ratio: f64,

    /// Consecutive moving frames before motion_start (and zone_enter)
    #[arg(long, default_value_t = 2, value_name = "FRAMES")]
    pub motion_start_frames: u32,

    /// Consecutive still frames before motion_end (and zone_exit)
    #[arg(long, default_value_t = 15, value_name = "FRAMES")]
    pub motion_end_frames: u32,
}

/// blurdetect's options.
#[derive(Debug, Clone, Args, PartialEq)]
#[command(next_help_heading = "Blur (ffmpeg's blurdetect)")]
pub struct BlurArgs {
    /// Low threshold of the edge hysteresis, 0 to 1 (blurdetect's low)
    #[arg(long, default_value_t = 15.0 / 255.0, value_name = "RATIO")]
    pub blur_low: f64,

    /// High threshold of the edge hysteresis, 0 to 1 (blurdetect's high)
    #[arg(long, default_value_t = 30.0 / 255.0, value_name = "RATIO")]
    pub blur_high: f64,

    /// Largest edge width searched, 1 to 100 pixels (blurdetect's radius)
    #[arg(long, default_value_t = 50, value_name = "PIXELS")]
    pub blur_radius: u32,

    /// Percentage (1 to 100) of the sharpest blocks pooled (blurdetect's block_pct)
    #[arg(long, default_value_t = 80, value_name = "PERCENT")]
    pub blur_block_pct: u32,

    /// Block width in pixels [default: the whole frame] (blurdetect's block_width)
    #[arg(long, value_name = "PIXELS")]
    pub blur_block_width: Option<u32>,

    /// Block height in pixels [default: the whole frame] (blurdetect's block_height)
    #[arg(long, value_name = "PIXELS")]
    pub blur_block_height: Option<u32>,
}

/// Thumbnail options.
#[derive(Debug, Clone, Args, PartialEq)]
#[command(next_help_heading = "Thumbnails")]
pub struct ThumbnailArgs {
    /// Write a JPEG of the frame at each event into this folder (created if
    /// missing); the event record names the file
    #[arg(long, value_name = "DIR")]
    pub thumbnails: Option<PathBuf>,

    /// Width of the thumbnails in pixels (16 to 4096); the height keeps the aspect ratio
    #[arg(long, default_value_t = 320, value_name = "PIXELS")]
    pub thumbnail_width: u32,
}
