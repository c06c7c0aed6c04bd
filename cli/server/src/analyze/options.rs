//! The analysis options, checked: [`from_args`] turns the arguments into
//! the library's one [`AnalysisOptions`] (detector parameters, zones and
//! masks, event hysteresis, thumbnails, and the config the backend gets).
//!
//! Every check fails with one [`UsageError`] line naming the option.

use osprey_kernels::KernelSet;
use osprey_kernels::kernel::{AnalysisConfig, BlurParams};
use osprey_kernels::metrics::black::BlackParams;
use osprey_kernels::metrics::freeze::parse_noise;
use osprey_kernels::metrics::motion::MotionConfig;
use osprey_kernels::metrics::zones::{MIN_AREA, Polygon, Zone};
use osprey_video::analysis::{AnalysisOptions, MotionHysteresis, ThumbnailOptions};

use super::zones_file;
use crate::args::AnalyzeArgs;
use crate::error::UsageError;

/// Largest `--motion-frame-height`.
const MAX_MOTION_FRAME_HEIGHT: u32 = 2160;
/// Smallest `--motion-frame-height`.
const MIN_MOTION_FRAME_HEIGHT: u32 = 8;
/// Range of `--thumbnail-width`.
const THUMBNAIL_WIDTHS: std::ops::RangeInclusive<u32> = 16..=4096;

/// A usage error for option `name`.
fn bad(name: &str, why: impl std::fmt::Display) -> UsageError {
    UsageError(format!("--{name} {why}"))
}

/// Checks that `v` is a number within `lo..=hi`.
fn ratio_in(name: &str, v: f64, lo: f64, hi: f64) -> Result<f64, UsageError> {
    if v.is_finite() && (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(bad(
            name,
            format_args!("must be between {lo} and {hi}, not {v}"),
        ))
    }
}

/// Checks a duration in seconds: finite, not negative.
fn seconds(name: &str, v: f64) -> Result<f64, UsageError> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(bad(
            name,
            format_args!("must be 0 or more seconds, not {v}"),
        ))
    }
}

/// Checks that `v` lies within `range`.
fn count_in(name: &str, v: u32, range: std::ops::RangeInclusive<u32>) -> Result<u32, UsageError> {
    if range.contains(&v) {
        Ok(v)
    } else {
        Err(bad(
            name,
            format_args!(
                "must be between {} and {}, not {v}",
                range.start(),
                range.end()
            ),
        ))
    }
}

/// Checks the analysis options in `args` for `kernels`. The scene
/// threshold and the chunk size are taken as given: `AnalyzeConfig::from_args`
/// checks them first.
///
/// # Errors
/// A [`UsageError`] naming the first option at fault (and, for `--zones`,
/// the file and the zone).
pub fn from_args(args: &AnalyzeArgs, kernels: KernelSet) -> Result<AnalysisOptions, UsageError> {
    let b = &args.black;
    let black = BlackParams {
        min_duration: seconds("black-min-duration", b.black_min_duration)?,
        picture_ratio: ratio_in("black-ratio", b.black_ratio, 0.0, 1.0)?,
        pixel_threshold: ratio_in("black-pixel", b.black_pixel, 0.0, 1.0)?,
        full_range: false,
    };
    let f = &args.freeze;
    let freeze_noise = parse_noise(&f.freeze_noise).map_err(|e| bad("freeze-noise", e))?;
    let freeze_min_duration = seconds("freeze-min-duration", f.freeze_min_duration)?;
    let (motion, motion_hysteresis) = motion_options(args)?;
    let frame_height = count_in(
        "motion-frame-height",
        args.motion.motion_frame_height,
        MIN_MOTION_FRAME_HEIGHT..=MAX_MOTION_FRAME_HEIGHT,
    )?;
    let thumbnails = match &args.thumbnails.thumbnails {
        Some(dir) if dir.as_os_str().is_empty() => {
            return Err(bad("thumbnails", "is empty: give a folder"));
        }
        Some(dir) => Some(ThumbnailOptions {
            dir: dir.clone(),
            width: count_in(
                "thumbnail-width",
                args.thumbnails.thumbnail_width,
                THUMBNAIL_WIDTHS,
            )?,
        }),
        None => None,
    };
    Ok(AnalysisOptions {
        backend: AnalysisConfig {
            kernels,
            motion_frame_height: frame_height,
            freeze_noise,
            blur: blur_params(args)?,
            detect_size: None,
        },
        scene_threshold: args.scene_threshold,
        black,
        freeze_min_duration,
        motion,
        motion_hysteresis,
        thumbnails,
        chunk_frames: args.chunk_frames,
        health: Default::default(),
    })
}

/// Checks the motion options, zones and masks, and the hysteresis of
/// motion events.
fn motion_options(args: &AnalyzeArgs) -> Result<(MotionConfig, MotionHysteresis), UsageError> {
    let m = &args.motion;
    let threshold = count_in("motion-threshold", m.motion_threshold, 1..=255)?;
    let mut zones = Vec::with_capacity(m.zones.len());
    for spec in &m.zones {
        zones.push(Zone::parse(spec).map_err(|e| bad("zone", e))?);
    }
    let mut masks = Vec::with_capacity(m.masks.len());
    for spec in &m.masks {
        masks.push(Polygon::parse(spec).map_err(|e| bad("mask", e))?);
    }
    if let Some(path) = &m.zones_file {
        let file = zones_file::read(path)?;
        zones.extend(file.zones);
        masks.extend(file.masks);
    }
    for (i, z) in zones.iter().enumerate() {
        if zones[..i].iter().any(|o| o.name == z.name) {
            return Err(bad(
                "zone",
                format_args!("\"{}\" is named twice: zone names must differ", z.name),
            ));
        }
    }
    for z in &zones {
        check_zone_area(z)?;
    }
    let alpha = m.motion_alpha;
    if !(alpha.is_finite() && alpha > 0.0 && alpha <= 1.0) {
        return Err(bad(
            "motion-alpha",
            format_args!("must be above 0 and at most 1, not {alpha}"),
        ));
    }
    let motion = MotionConfig {
        threshold: threshold as u8,
        contour_area: m.motion_contour_area,
        frame_alpha: alpha,
        improve_contrast: !m.no_motion_contrast,
        lightning_threshold: ratio_in("lightning-threshold", m.lightning_threshold, 0.0, 1.0)?,
        zones,
        masks,
    };
    let hysteresis = MotionHysteresis {
        min_ratio: ratio_in("motion-min-ratio", m.motion_min_ratio, 0.0, 1.0)?,
        start_frames: count_in("motion-start-frames", m.motion_start_frames, 1..=u32::MAX)?,
        end_frames: count_in("motion-end-frames", m.motion_end_frames, 1..=u32::MAX)?,
    };
    Ok((motion, hysteresis))
}

/// Refuses a zone that covers nothing: no area at all (its points on one
/// line, or a path that doubles back on itself), or none at coordinates a
/// frame can have (x and y from 0 up). Zones past a frame's right or bottom
/// edge wait for the frame's size
/// ([`osprey_video::analysis::check_zones_in_frame`]).
fn check_zone_area(zone: &Zone) -> Result<(), UsageError> {
    let name = &zone.name;
    if zone.polygon.area() < MIN_AREA {
        return Err(UsageError(format!(
            "zone \"{name}\" has no area: its points enclose nothing (all on one line?)"
        )));
    }
    let frame_side = (0.0, f64::INFINITY);
    if zone.polygon.area_within(frame_side, frame_side) < MIN_AREA {
        return Err(UsageError(format!(
            "zone \"{name}\" lies entirely outside the frame (at negative coordinates; \
             x and y count pixels from the top-left corner)"
        )));
    }
    Ok(())
}

/// Checks blurdetect's options.
fn blur_params(args: &AnalyzeArgs) -> Result<BlurParams, UsageError> {
    let b = &args.blur;
    let low = ratio_in("blur-low", b.blur_low, 0.0, 1.0)?;
    let high = ratio_in("blur-high", b.blur_high, 0.0, 1.0)?;
    if low > high {
        return Err(bad(
            "blur-low",
            format_args!("({low}) must not exceed --blur-high ({high})"),
        ));
    }
    let block = |name: &str, v: Option<u32>| match v {
        Some(0) => Err(bad(name, "must be 1 pixel or more")),
        other => Ok(other),
    };
    Ok(BlurParams {
        low,
        high,
        radius: count_in("blur-radius", b.blur_radius, 1..=100)?,
        block_pct: count_in("blur-block-pct", b.blur_block_pct, 1..=100)?,
        block_width: block("blur-block-width", b.blur_block_width)?,
        block_height: block("blur-block-height", b.blur_block_height)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(extra: &[&str]) -> Result<AnalysisOptions, UsageError> {
        let mut argv = vec!["analyze", "rtsp://cam/1"];
        argv.extend_from_slice(extra);
        let a: AnalyzeArgs = crate::args::parse(argv).unwrap();
        from_args(&a, KernelSet::ALL)
    }

    #[test]
    fn defaults_are_the_tools_defaults() {
        let o = parse(&[]).unwrap();
        // The arguments' defaults are the library's, which are the tools'.
        assert_eq!(o, AnalysisOptions::default());
        assert_eq!(o.backend, AnalysisConfig::default());
        assert_eq!(o.black, BlackParams::default());
        assert_eq!(o.motion, MotionConfig::default());
        assert_eq!(o.freeze_min_duration, 2.0);
        assert!((o.backend.freeze_noise - 0.001).abs() < 1e-15);
        assert_eq!(o.motion.threshold, 30);
        assert!(o.motion.improve_contrast);
        assert_eq!(o.motion_hysteresis.start_frames, 2);
        assert_eq!(o.thumbnails, None);
    }

    #[test]
    fn options_reach_the_config() {
        let o = parse(&[
            "--freeze-noise",
            "0.01",
            "--motion-frame-height",
            "180",
            "--blur-block-width",
            "32",
            "--zone",
            "door:0,0,10,0,10,10",
            "--mask",
            "0,0,5,0,5,5",
            "--no-motion-contrast",
            "--thumbnails",
            "thumbs",
        ])
        .unwrap();
        assert_eq!(o.backend.freeze_noise, 0.01);
        assert_eq!(o.backend.motion_frame_height, 180);
        assert_eq!(o.backend.blur.block_width, Some(32));
        assert_eq!(o.motion.zones[0].name, "door");
        assert_eq!(o.motion.masks.len(), 1);
        assert!(!o.motion.improve_contrast);
        assert_eq!(o.thumbnails.unwrap().width, 320);
    }

    #[test]
    fn zones_that_cover_nothing_are_refused() {
        for (zone, why) in [
            ("line:0,0,5,5,10,10", "has no area"),
            ("back:0,0,10,0,10,10,10,0", "has no area"),
            ("left:-30,0,-10,0,-10,10", "entirely outside the frame"),
            ("above:10,-1,20,-1,20,-9", "entirely outside the frame"),
        ] {
            let msg = parse(&["--zone", zone]).unwrap_err().to_string();
            let name = zone.split(':').next().unwrap();
            assert!(msg.starts_with(&format!("zone \"{name}\" ")), "{msg}");
            assert!(msg.contains(why), "{msg}");
        }
        // Partly outside is fine: the part inside counts.
        assert!(parse(&["--zone", "edge:-10,-10,10,-10,10,10,-10,10"]).is_ok());
    }

    #[test]
    fn bad_values_name_their_option() {
        for (args, option) in [
            (&["--black-ratio", "1.5"][..], "--black-ratio"),
            (&["--black-pixel", "NaN"][..], "--black-pixel"),
            (&["--black-min-duration=-1"][..], "--black-min-duration"),
            (&["--freeze-noise", "loud"][..], "--freeze-noise"),
            (
                &["--freeze-min-duration", "inf"][..],
                "--freeze-min-duration",
            ),
            (&["--motion-threshold", "0"][..], "--motion-threshold"),
            (&["--motion-frame-height", "4"][..], "--motion-frame-height"),
            (&["--motion-alpha", "0"][..], "--motion-alpha"),
            (&["--lightning-threshold", "2"][..], "--lightning-threshold"),
            (&["--motion-min-ratio=-0.5"][..], "--motion-min-ratio"),
            (&["--motion-start-frames", "0"][..], "--motion-start-frames"),
            (&["--motion-end-frames", "0"][..], "--motion-end-frames"),
            (&["--zone", "door:1,2,3"][..], "--zone"),
            (
                &["--zone", "a:0,0,1,0,1,1", "--zone", "a:0,0,2,0,2,2"][..],
                "--zone",
            ),
            (&["--mask", "1,2"][..], "--mask"),
            (
                &["--blur-low", "0.5", "--blur-high", "0.2"][..],
                "--blur-low",
            ),
            (&["--blur-radius", "0"][..], "--blur-radius"),
            (&["--blur-block-pct", "101"][..], "--blur-block-pct"),
            (&["--blur-block-height", "0"][..], "--blur-block-height"),
            (
                &["--thumbnails", "t", "--thumbnail-width", "8"][..],
                "--thumbnail-width",
            ),
        ] {
            let msg = parse(args).unwrap_err().to_string();
            assert!(msg.starts_with(option), "{args:?}: {msg}");
            assert!(!msg.contains('\n'), "{msg}");
        }
    }
}
