//! `osprey generate`: write a synthetic H.264 clip with hard cuts, so that
//! the demo and tests run offline.

use anyhow::Result;
use osprey_video::{ClipSpec, generate_clip};
use tracing::info;

use crate::args::GenerateArgs;
use crate::exit::UsageError;

/// The largest width or height accepted.
const MAX_SIDE: u32 = 8192;

/// Checks `args` into the clip to write.
///
/// # Errors
/// [`UsageError`] for sizes that H.264 4:2:0 cannot hold, zero rates or
/// counts, and an output whose folder does not exist.
pub fn spec_from_args(args: &GenerateArgs) -> Result<ClipSpec, UsageError> {
    for (name, side) in [("--width", args.width), ("--height", args.height)] {
        if side == 0 || side % 2 != 0 || side > MAX_SIDE {
            return Err(UsageError(format!(
                "{name} must be even and between 2 and {MAX_SIDE} (H.264 4:2:0), not {side}"
            )));
        }
    }
    if args.fps == 0 || args.fps > 1000 {
        return Err(UsageError(format!(
            "--fps must be between 1 and 1000, not {}",
            args.fps
        )));
    }
    if args.frames == 0 {
        return Err(UsageError("--frames must be at least 1".into()));
    }
    if let Some(parent) = args.output.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.is_dir()
    {
        return Err(UsageError(format!(
            "cannot write {:?}: its folder {parent:?} does not exist",
            args.output
        )));
    }
    Ok(ClipSpec {
        width: args.width,
        height: args.height,
        fps: args.fps,
        frames: args.frames,
        cut_every: args.cut_every,
    })
}

/// Writes the clip and says so on stderr.
///
/// # Errors
/// Invalid arguments; GStreamer's failure to encode.
pub fn run(args: &GenerateArgs) -> Result<()> {
    let spec = spec_from_args(args)?;
    generate_clip(&args.output, &spec)?;
    info!(
        path = %args.output.display(),
        frames = spec.frames,
        width = spec.width,
        height = spec.height,
        fps = spec.fps,
        cut_every = spec.cut_every,
        "Clip written."
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> GenerateArgs {
        GenerateArgs {
            output: "clip.mp4".into(),
            width: 640,
            height: 360,
            fps: 25,
            frames: 150,
            cut_every: 50,
        }
    }

    #[test]
    fn defaults_are_valid() {
        let spec = spec_from_args(&args()).unwrap();
        assert_eq!((spec.width, spec.height, spec.frames), (640, 360, 150));
    }

    #[test]
    fn bad_values_are_refused() {
        let mut a = args();
        a.width = 321;
        assert!(spec_from_args(&a).unwrap_err().0.contains("--width"));
        let mut a = args();
        a.height = 0;
        assert!(spec_from_args(&a).is_err());
        let mut a = args();
        a.fps = 0;
        assert!(spec_from_args(&a).is_err());
        let mut a = args();
        a.frames = 0;
        assert!(spec_from_args(&a).is_err());
        let mut a = args();
        a.output = "/no/such/folder/clip.mp4".into();
        assert!(spec_from_args(&a).unwrap_err().0.contains("does not exist"));
    }
}
