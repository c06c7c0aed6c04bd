//! Exit codes, and how errors map to them.
//!
//! The code is read from the first error in a chain whose type osprey knows
//! ([`UsageError`], [`InputError`], the library crates' errors), so adding
//! `.context(..)` to an error never changes its exit code.

use std::process::ExitCode;

use osprey_ingest::IngestError;
use osprey_ingest::deliver::DeliverError;
use osprey_ingest::listen::ListenError;
use osprey_ingest::output_spec::OutputSpecError;
use osprey_ingest::video::VideoError as StoreVideoError;
use osprey_kernels::KernelError;
use osprey_query::QueryError;
pub use osprey_server::error::{InputError, UsageError};
use osprey_video::VideoError;
use osprey_video::playback::PlaybackError;

/// The exit codes `osprey` documents (see [`HELP`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything worked, or the reader of stdout closed it early.
    Success = 0,
    /// A runtime failure that is none of the below (output not writable, ...).
    Failure = 1,
    /// Invalid arguments, an unknown kernel among them.
    Usage = 2,
    /// The input cannot be opened, read or decoded, or holds no video.
    Input = 3,
    /// No GPU adapter, or the GPU device failed.
    Device = 4,
    /// Some records of a put were refused, the others stored; or some
    /// records of an aggregate were refused, the others aggregated.
    PartialPut = 5,
    /// `osprey stream verify` or `osprey video verify` found damage.
    Damage = 6,
}

/// The exit-code table printed after `--help` and copied into the README.
pub const HELP: &str = "\
Exit codes:
  0  success (also when the reader of stdout closes it early, as `| head` does)
  1  runtime failure (output cannot be written, GStreamer unusable, internal error)
  2  invalid arguments, an unknown kernel name among them
  3  the input cannot be opened, read or decoded, or holds no video stream; a live source given up when --retry-for ran out; no such stream, video stream, shard or fragment; a damaged stream; no media in the range of osprey video clip or images
  4  no GPU adapter (with --backend gpu), or the GPU device failed
  5  osprey put: some records were refused (each named on stderr); the others were stored
     osprey aggregate: some records were refused (each in the error output); the others were aggregated
  6  osprey stream verify: damaged ranges were found (each a JSON line on stdout)
     osprey video verify: damaged fragments were found (each a JSON line on stdout)";

impl Exit {
    /// The exit code for `err`.
    pub fn for_error(err: &anyhow::Error) -> Exit {
        err.chain().find_map(classify).unwrap_or(Exit::Failure)
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

/// The exit code one error in a chain stands for, when osprey knows its type.
fn classify(err: &(dyn std::error::Error + 'static)) -> Option<Exit> {
    if err.is::<UsageError>() {
        return Some(Exit::Usage);
    }
    if err.is::<InputError>() {
        return Some(Exit::Input);
    }
    if let Some(e) = err.downcast_ref::<QueryError>() {
        // The engine's and the outputs' errors are inside, transparent:
        // their own codes hold.
        return match e {
            QueryError::Usage(_) => Some(Exit::Usage),
            QueryError::Kernel(e) => classify(e),
            QueryError::Output(e) => classify(e),
            _ => Some(Exit::Failure),
        };
    }
    if let Some(e) = err.downcast_ref::<KernelError>() {
        return Some(match e {
            KernelError::UnknownKernel(_) => Exit::Usage,
            KernelError::NoAdapter | KernelError::DeviceRequest { .. } | KernelError::Gpu(_) => {
                Exit::Device
            }
            _ => Exit::Failure,
        });
    }
    if err.is::<crate::video::clip::NoMedia>() {
        return Some(Exit::Input);
    }
    if let Some(e) = err.downcast_ref::<PlaybackError>() {
        return match e {
            PlaybackError::NoMedia => Some(Exit::Input),
            PlaybackError::Invalid(_) => Some(Exit::Usage),
            PlaybackError::Store(e) => classify(e),
            PlaybackError::Media(_) => Some(Exit::Failure),
        };
    }
    if let Some(e) = err.downcast_ref::<VideoError>() {
        return match e {
            VideoError::Open { .. }
            | VideoError::NoVideo { .. }
            | VideoError::Decode { .. }
            | VideoError::GaveUp { .. } => Some(Exit::Input),
            VideoError::Config(_)
            | VideoError::ZoneOutsideFrame { .. }
            | VideoError::ThumbnailFolder { .. } => Some(Exit::Usage),
            // Their cause, next in the chain, decides: a device lost while
            // downscaling is a device error, a closed pipe a success.
            VideoError::Backend { .. }
            | VideoError::Downscale(_)
            | VideoError::DecodeThread(_)
            | VideoError::ThumbnailCreate { .. }
            | VideoError::ThumbnailEncode { .. } => None,
            _ => Some(Exit::Failure),
        };
    }
    if err.is::<crate::stream::RecordsFailed>()
        || err.is::<osprey_server::aggregate::RecordsRefused>()
    {
        return Some(Exit::PartialPut);
    }
    if let Some(e) = err.downcast_ref::<StoreVideoError>() {
        return Some(match e {
            StoreVideoError::NotFound(_)
            | StoreVideoError::NoFragment { .. }
            | StoreVideoError::Damaged { .. } => Exit::Input,
            StoreVideoError::Invalid(_) => Exit::Usage,
            _ => Exit::Failure,
        });
    }
    if err.is::<crate::stream::DamageFound>() || err.is::<crate::video::manage::VideoDamageFound>()
    {
        return Some(Exit::Damage);
    }
    if let Some(DeliverError::Ingest(e)) = err.downcast_ref::<DeliverError>() {
        // Transparent: the chain goes on with the store error's sources.
        return classify(e);
    }
    if err.is::<OutputSpecError>() {
        return Some(Exit::Usage);
    }
    if let Some(e) = err.downcast_ref::<ListenError>() {
        return Some(match e {
            ListenError::InvalidUrl(_) => Exit::Usage,
            _ => Exit::Failure,
        });
    }
    if let Some(e) = err.downcast_ref::<IngestError>() {
        return Some(match e {
            IngestError::BrokenPipe => Exit::Success,
            IngestError::NoSuchStream { .. }
            | IngestError::NoSuchShard { .. }
            | IngestError::Damaged { .. } => Exit::Input,
            IngestError::InvalidArgument(_) => Exit::Usage,
            _ => Exit::Failure,
        });
    }
    if let Some(e) = err.downcast_ref::<std::io::Error>()
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        return Some(Exit::Success);
    }
    None
}

#[cfg(test)]
mod tests {
    use anyhow::Context as _;
    use osprey_server::error::from_video;

    use super::*;

    fn exit_of<E: std::error::Error + Send + Sync + 'static>(e: E) -> Exit {
        let err = anyhow::Error::new(e).context("outer context");
        Exit::for_error(&err)
    }

    #[test]
    fn known_errors_map_to_their_codes() {
        assert_eq!(exit_of(UsageError("bad".into())), Exit::Usage);
        assert_eq!(
            exit_of(KernelError::UnknownKernel("bogus".into())),
            Exit::Usage
        );
        assert_eq!(exit_of(KernelError::NoAdapter), Exit::Device);
        assert_eq!(exit_of(KernelError::Gpu("lost".into())), Exit::Device);
        assert_eq!(exit_of(KernelError::Internal("bug".into())), Exit::Failure);
        assert_eq!(
            exit_of(VideoError::NoVideo { input: "a".into() }),
            Exit::Input
        );
        assert_eq!(
            exit_of(InputError {
                input: "a".into(),
                reason: "no such file".into()
            }),
            Exit::Input
        );
        assert_eq!(exit_of(VideoError::Gstreamer("x".into())), Exit::Failure);
        assert_eq!(
            exit_of(VideoError::GaveUp {
                input: "rtsp://cam/1".into(),
                attempts: 3,
                last: "connection refused".into()
            }),
            Exit::Input
        );
        assert_eq!(exit_of(VideoError::Config("odd".into())), Exit::Usage);
        assert_eq!(
            exit_of(VideoError::ZoneOutsideFrame {
                zone: "far".into(),
                width: 64,
                height: 48
            }),
            Exit::Usage
        );
        assert_eq!(
            exit_of(VideoError::Backend {
                label: "gpu".into(),
                source: KernelError::Gpu("lost".into())
            }),
            Exit::Device
        );
        assert_eq!(exit_of(VideoError::Internal("bug".into())), Exit::Failure);
        assert_eq!(
            exit_of(VideoError::Encode {
                path: "a.mp4".into(),
                reason: "x264enc failed".into()
            }),
            Exit::Failure
        );
        assert_eq!(exit_of(IngestError::BrokenPipe), Exit::Success);
        assert_eq!(
            exit_of(StoreVideoError::NotFound("cam".into())),
            Exit::Input
        );
        assert_eq!(
            exit_of(StoreVideoError::Invalid("bad name".into())),
            Exit::Usage
        );
        assert_eq!(
            exit_of(StoreVideoError::Exists("cam".into())),
            Exit::Failure
        );
        assert_eq!(
            exit_of(crate::video::manage::VideoDamageFound {
                stream: "cam".into(),
                fragments: 1
            }),
            Exit::Damage
        );
        assert_eq!(
            exit_of(crate::video::clip::NoMedia::new("cam", 0, 1)),
            Exit::Input
        );
        assert_eq!(exit_of(PlaybackError::Invalid("long".into())), Exit::Usage);
        assert_eq!(
            exit_of(PlaybackError::Store(StoreVideoError::NotFound(
                "cam".into()
            ))),
            Exit::Input
        );
        assert_eq!(exit_of(PlaybackError::Media("gst".into())), Exit::Failure);
        assert_eq!(exit_of(QueryError::usage("bad query")), Exit::Usage);
        assert_eq!(
            exit_of(QueryError::Kernel(KernelError::NoAdapter)),
            Exit::Device
        );
        assert_eq!(
            exit_of(QueryError::Output(IngestError::BrokenPipe)),
            Exit::Success
        );
        assert_eq!(
            exit_of(DeliverError::Ingest(IngestError::NoSuchStream {
                stream: "s".into()
            })),
            Exit::Input
        );
        assert_eq!(
            exit_of(DeliverError::NotDelivered("x".into())),
            Exit::Failure
        );
        assert_eq!(
            exit_of(ListenError::InvalidUrl("udp://x".into())),
            Exit::Usage
        );
        assert_eq!(
            exit_of(OutputSpecError::Empty {
                what: "--output".into()
            }),
            Exit::Usage
        );
        assert_eq!(
            exit_of(std::io::Error::from(std::io::ErrorKind::BrokenPipe)),
            Exit::Success
        );
        assert_eq!(
            exit_of(std::io::Error::from(std::io::ErrorKind::NotFound)),
            Exit::Failure
        );
    }

    #[test]
    fn thumbnail_folders_are_usage_errors_named_by_their_flag() {
        let err = from_video(VideoError::ThumbnailFolder {
            dir: "/sys".into(),
            problem: "cannot write there",
            source: Some(std::io::Error::from_raw_os_error(13)),
        });
        assert_eq!(Exit::for_error(&err), Exit::Usage);
        assert_eq!(
            format!("{err:#}"),
            "--thumbnails \"/sys\": cannot write there: permission denied"
        );
        let err = from_video(VideoError::ThumbnailFolder {
            dir: "t".into(),
            problem: "not a folder",
            source: None,
        });
        assert_eq!(format!("{err:#}"), "--thumbnails \"t\": not a folder");
    }

    #[test]
    fn context_keeps_the_code() {
        let err: anyhow::Result<()> = Err(KernelError::NoAdapter.into());
        let err = err.context("one").context("two").unwrap_err();
        assert_eq!(Exit::for_error(&err), Exit::Device);
        assert_eq!(Exit::for_error(&anyhow::anyhow!("plain")), Exit::Failure);
    }

    #[test]
    fn codes_are_as_documented() {
        for (exit, code) in [
            (Exit::Success, 0),
            (Exit::Failure, 1),
            (Exit::Usage, 2),
            (Exit::Input, 3),
            (Exit::Device, 4),
            (Exit::PartialPut, 5),
        ] {
            assert_eq!(exit as u8, code);
            assert!(HELP.contains(&format!("  {code}  ")), "{code} undocumented");
        }
    }
}
